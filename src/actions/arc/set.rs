//! `arc.set_routing_controls`: sets the routing controls to the states the step names, all in
//! one `UpdateRoutingControlStates` transaction (at most ten), and reads them back.

use std::collections::BTreeMap;

use aws_sdk_route53recoverycluster::types::UpdateRoutingControlStateEntry;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::controls::{change_line, observation, observe_states, read_states, state_str, wanted};
use super::endpoints::{CLUSTER_SERVICE, endpoints, on_first_answering, passed_over_note};
use super::safety::{CONFLICT_RETRY, Conflict, refusal};
use crate::actions::aws::aws_error;
use crate::actions::{Action, ActionError, Observation, Outcome, StepContext};
use crate::catalog::{self, ActionSpec};

pub(crate) struct SetRoutingControls;

#[async_trait::async_trait]
impl Action for SetRoutingControls {
    fn spec(&self) -> &'static ActionSpec {
        catalog::lookup("arc.set_routing_controls")
            .expect("arc.set_routing_controls is in the catalogue")
    }

    async fn observe(&self, ctx: &StepContext) -> Result<Observation, ActionError> {
        let want = wanted(ctx)?;
        let (eps, source, ep, read, passed) = observe_states(ctx, &want, None).await?;
        let mut obs = observation(&eps, source, &ep, &read, &passed);
        if obs.findings.is_empty() && !read.to_change().is_empty() {
            obs.changes.push(change_line(&read));
            // `endpoint` is known only once a cluster endpoint has taken the update.
            obs.outputs.clear();
        }
        Ok(obs)
    }

    /// At the first endpoint that answers: read the states again, and when any differs, set
    /// every wanted state in one UpdateRoutingControlStates transaction. A state already set
    /// means no call (a resumed or repeated step changes nothing twice).
    async fn apply(&self, ctx: &StepContext, _: &Observation) -> Result<Outcome, ActionError> {
        let want = wanted(ctx)?;
        let overrides = ctx.params.str_list("safety_rules_to_override")?;
        let (eps, _) = endpoints(ctx).await?;
        let want = &want;
        let overrides = &overrides;
        // ConflictException means "try again" (Routing Control API reference, errors): a
        // safety rule's WaitPeriodMs ("an evaluation period ... during which any request
        // against the target routing controls will fail", 5000 ms by default) refuses updates
        // for a while after a change. So a refusal is retried with backoff for up to
        // `conflict_retry` (default 15 s: three default wait periods), and only one that
        // persists names the rule and fails the step.
        let retry_for = ctx
            .params
            .opt_str("conflict_retry")?
            .map(|d| {
                crate::duration::parse_duration(&d).map_err(|e| ActionError::Invalid {
                    message: format!("`conflict_retry: {d}`: {e}"),
                    hint: "write a duration such as `15s`".into(),
                })
            })
            .transpose()?
            .unwrap_or(CONFLICT_RETRY);
        let deadline = tokio::time::Instant::now() + retry_for;
        let mut delay = std::time::Duration::from_millis(250);
        let mut conflicts = 0u32;
        let (ep, (read, changed), passed) = loop {
            let (ep, outcome, passed) = on_first_answering(
                ctx,
                &eps,
                None,
                "UpdateRoutingControlStates",
                |c, ep| async move {
                    let read = read_states(&c, &ep, want).await?;
                    if !read.findings.is_empty() {
                        return Err(ActionError::Precondition {
                            findings: read.findings.clone(),
                        });
                    }
                    if read.to_change().is_empty() {
                        return Ok(Ok((read, false)));
                    }
                    let mut req = c.update_routing_control_states();
                    for ctl in &read.controls {
                        req = req.update_routing_control_state_entries(
                            UpdateRoutingControlStateEntry::builder()
                                .routing_control_arn(&ctl.arn)
                                .routing_control_state(ctl.want.clone())
                                .build()
                                .map_err(|e| ActionError::Invalid {
                                    message: format!("routing control `{}`: {e}", ctl.key),
                                    hint: "check the step's `states:`".into(),
                                })?,
                        );
                    }
                    for o in overrides {
                        req = req.safety_rules_to_override(o);
                    }
                    match req.send().await {
                        Ok(_) => Ok(Ok((read, true))),
                        Err(e) => {
                            // Read by the error's code and its `resourceId` (the service
                            // model's ConflictException shape), never by its message text.
                            let conflict = e.as_service_error().and_then(|se| match se {
                                aws_sdk_route53recoverycluster::operation::update_routing_control_states::UpdateRoutingControlStatesError::ConflictException(c) => Some(Conflict {
                                    resource_id: c.resource_id().to_string(),
                                    message: c.message().to_string(),
                                }),
                                _ if se.code() == Some("ConflictException") => Some(Conflict {
                                    resource_id: String::new(),
                                    message: se.message().unwrap_or_default().to_string(),
                                }),
                                _ => None,
                            });
                            match conflict {
                                Some(c) => Ok(Err((c, read))),
                                None => Err(aws_error(
                                    CLUSTER_SERVICE,
                                    "UpdateRoutingControlStates",
                                    &ep.region,
                                    e,
                                )),
                            }
                        }
                    }
                },
            )
            .await?;
            match outcome {
                Ok(done) => break (ep, done, passed),
                Err((conflict, read)) => {
                    conflicts += 1;
                    // At least one retry, however slow the first attempt was.
                    if conflicts > 1 && tokio::time::Instant::now() + delay > deadline {
                        return Err(refusal(ctx, &conflict, &read, conflicts).await);
                    }
                    tokio::time::sleep(delay).await;
                    ctx.waits.add(delay);
                    delay = (delay * 2).min(std::time::Duration::from_secs(2));
                }
            }
        };
        let mut summary = if changed {
            format!(
                "routing controls set at the {} cluster endpoint: {}",
                ep.region,
                read.listing(|c| &c.want)
            )
        } else {
            format!(
                "routing controls already {} (read at the {} cluster endpoint)",
                read.listing(|c| &c.want),
                ep.region
            )
        };
        summary.push_str(&passed_over_note(&passed));
        let mut outputs = BTreeMap::new();
        outputs.insert("endpoint".to_string(), ep.url.clone());
        outputs.insert("endpoint_region".to_string(), ep.region.clone());
        outputs.insert(
            "states".to_string(),
            read.controls
                .iter()
                .map(|c| format!("{}={}", c.key, state_str(&c.want)))
                .collect::<Vec<_>>()
                .join(","),
        );
        Ok(Outcome {
            summary,
            changes: if changed {
                vec![change_line(&read)]
            } else {
                vec![]
            },
            outputs,
        })
    }

    /// Reads every state back (GetRoutingControlState), first at the endpoint that took the
    /// update, and fails unless each is the wanted one.
    async fn verify(&self, ctx: &StepContext, outcome: &Outcome) -> Result<(), ActionError> {
        let want = wanted(ctx)?;
        let first = outcome.outputs.get("endpoint").map(String::as_str);
        let (_, _, ep, read, _) = observe_states(ctx, &want, first).await?;
        if !read.findings.is_empty() {
            return Err(ActionError::Precondition {
                findings: read.findings,
            });
        }
        let wrong = read.to_change();
        if wrong.is_empty() {
            return Ok(());
        }
        Err(ActionError::Verification {
            message: format!(
                "read back at the {} cluster endpoint: {}",
                ep.region,
                wrong
                    .iter()
                    .map(|c| format!(
                        "`{}` is {}, not {}",
                        c.key,
                        state_str(&c.current),
                        state_str(&c.want)
                    ))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            hint: "another client may have changed them; run the step again (it sets the wanted \
                   states, it never toggles)"
                .into(),
        })
    }
}
