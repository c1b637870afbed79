//! ECS service actions: `ecs.assert_stable`, `ecs.redeploy`, `ecs.scale`.
//!
//! A service is stable when its runningCount equals its desiredCount and its PRIMARY
//! deployment's rolloutState is COMPLETED (ECS API reference, "Deployment": rolloutState
//! COMPLETED "when the service reaches a steady state"). rolloutState is returned only for
//! rolling-update services not behind a Classic Load Balancer (same page); without it, the
//! criterion of the SDK's `services-stable` waiter holds instead: one deployment left and
//! running equals desired.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::aws::aws_error;
use super::{Action, ActionError, ActionSpec, Finding, Observation, Outcome, StepContext};
use crate::catalog;

/// This service's actions, for the registry.
pub(super) fn all() -> Vec<Arc<dyn Action>> {
    vec![Arc::new(AssertStable), Arc::new(Redeploy), Arc::new(Scale)]
}

/// Longest pause between two looks at a service while waiting for it to be stable.
const STABLE_POLL_MAX: Duration = Duration::from_secs(15);

/// One deployment of a service, as DescribeServices shows it.
#[derive(Debug, Clone, PartialEq)]
struct Deployment {
    id: String,
    /// PRIMARY, ACTIVE or INACTIVE.
    status: String,
    /// COMPLETED, IN_PROGRESS or FAILED; `None` when ECS does not report it.
    rollout: Option<String>,
}

/// What DescribeServices says about a service.
#[derive(Debug, Clone, PartialEq)]
struct ServiceInfo {
    status: String,
    desired: i32,
    running: i32,
    deployments: Vec<Deployment>,
}

impl ServiceInfo {
    fn primary(&self) -> Option<&Deployment> {
        self.deployments.iter().find(|d| d.status == "PRIMARY")
    }

    /// Running equals desired, and the PRIMARY rollout is COMPLETED (or, without a
    /// rolloutState, the PRIMARY is the only deployment left).
    fn stable(&self) -> bool {
        let Some(p) = self.primary() else {
            return false;
        };
        let rolled_out = match p.rollout.as_deref() {
            Some(r) => r == "COMPLETED",
            None => self.deployments.len() == 1,
        };
        self.running == self.desired && rolled_out
    }

    fn describe(&self) -> String {
        let p = self.primary();
        format!(
            "{} of {} running, PRIMARY deployment {} {}",
            self.running,
            self.desired,
            p.map(|d| d.id.as_str()).unwrap_or("(none)"),
            p.and_then(|d| d.rollout.as_deref()).unwrap_or("")
        )
        .trim_end()
        .to_string()
    }

    fn facts(&self) -> BTreeMap<String, serde_json::Value> {
        let mut f = BTreeMap::new();
        f.insert("status".into(), self.status.clone().into());
        f.insert("desired".into(), self.desired.into());
        f.insert("running".into(), self.running.into());
        if let Some(p) = self.primary() {
            f.insert("primary_deployment".into(), p.id.clone().into());
            if let Some(r) = &p.rollout {
                f.insert("rollout_state".into(), r.clone().into());
            }
        }
        f.insert("deployments".into(), self.deployments.len().into());
        f
    }
}

/// DescribeServices; `None` when the service does not exist (or is INACTIVE: deleted).
async fn describe(
    ctx: &StepContext,
    region: &str,
    cluster: &str,
    service: &str,
) -> Result<Option<ServiceInfo>, ActionError> {
    let out = ctx
        .aws
        .ecs(region)
        .describe_services()
        .cluster(cluster)
        .services(service)
        .send()
        .await
        .map_err(|e| aws_error("ecs", "DescribeServices", region, e))?;
    let Some(s) = out.services().first() else {
        return Ok(None);
    };
    let status = s.status().unwrap_or_default().to_string();
    if status == "INACTIVE" {
        return Ok(None);
    }
    Ok(Some(ServiceInfo {
        status,
        desired: s.desired_count(),
        running: s.running_count(),
        deployments: s
            .deployments()
            .iter()
            .map(|d| Deployment {
                id: d.id().unwrap_or_default().to_string(),
                status: d.status().unwrap_or_default().to_string(),
                rollout: d.rollout_state().map(|r| r.as_str().to_string()),
            })
            .collect(),
    }))
}

fn missing(cluster: &str, service: &str, region: &str) -> Finding {
    Finding {
        message: format!("service `{service}` not found in cluster `{cluster}` in {region}"),
        hint: "check the cluster and service names and the step's Region".into(),
    }
}

/// Waits until the service is stable (see the module's comment) and, when `deployment` is
/// given, that deployment is its PRIMARY. A FAILED rollout ends the wait.
async fn wait_stable(
    ctx: &StepContext,
    region: &str,
    cluster: &str,
    service: &str,
    deployment: Option<&str>,
) -> Result<ServiceInfo, ActionError> {
    super::poll::until(&ctx.waits, STABLE_POLL_MAX, || async {
        let Some(s) = describe(ctx, region, cluster, service).await? else {
            return Err(ActionError::Verification {
                message: format!("service `{service}` disappeared while waiting for it"),
                hint: "check the service in the ECS console".into(),
            });
        };
        let primary = s.primary();
        if let (Some(want), Some(p)) = (deployment, primary)
            && p.id == want
            && p.rollout.as_deref() == Some("FAILED")
        {
            return Err(ActionError::Verification {
                message: format!("deployment {want} of `{service}` FAILED"),
                hint: "see the service's events (deployment circuit breaker, task failures)".into(),
            });
        }
        let ours = deployment.is_none_or(|want| primary.is_some_and(|p| p.id == want));
        Ok((ours && s.stable()).then_some(s))
    })
    .await
}

fn outputs(pairs: &[(&str, String)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

struct Target {
    region: String,
    cluster: String,
    service: String,
}

fn target(ctx: &StepContext) -> Result<Target, ActionError> {
    Ok(Target {
        region: ctx.region()?.to_string(),
        cluster: ctx.params.str("cluster")?,
        service: ctx.params.str("service")?,
    })
}

async fn update_service(
    ctx: &StepContext,
    t: &Target,
    force: bool,
    desired: Option<i32>,
) -> Result<Option<String>, ActionError> {
    let mut req = ctx
        .aws
        .ecs(&t.region)
        .update_service()
        .cluster(&t.cluster)
        .service(&t.service);
    if force {
        req = req.force_new_deployment(true);
    }
    if let Some(n) = desired {
        req = req.desired_count(n);
    }
    let out = req
        .send()
        .await
        .map_err(|e| aws_error("ecs", "UpdateService", &t.region, e))?;
    Ok(out
        .service()
        .and_then(|s| {
            s.deployments()
                .iter()
                .find(|d| d.status() == Some("PRIMARY"))
        })
        .and_then(|d| d.id())
        .map(str::to_string))
}

fn not_stable(t: &Target, s: &ServiceInfo) -> ActionError {
    ActionError::Verification {
        message: format!("service `{}` is not stable: {}", t.service, s.describe()),
        hint: "see the service's events and deployments in the ECS console".into(),
    }
}

// ------------------------------------------------------------------------------ ecs.assert_stable

pub(crate) struct AssertStable;

#[async_trait::async_trait]
impl Action for AssertStable {
    fn spec(&self) -> &'static ActionSpec {
        catalog::lookup("ecs.assert_stable").expect("ecs.assert_stable is in the catalogue")
    }

    async fn observe(&self, ctx: &StepContext) -> Result<Observation, ActionError> {
        let t = target(ctx)?;
        let Some(s) = describe(ctx, &t.region, &t.cluster, &t.service).await? else {
            return Ok(Observation {
                summary: format!("service `{}` not found", t.service),
                findings: vec![missing(&t.cluster, &t.service, &t.region)],
                ..Default::default()
            });
        };
        let mut findings = vec![];
        if !s.stable() {
            findings.push(Finding {
                message: format!("service `{}` is not stable: {}", t.service, s.describe()),
                hint: "wait for the deployment to finish, or see the service's events".into(),
            });
        }
        Ok(Observation {
            summary: format!("service `{}`: {}", t.service, s.describe()),
            facts: s.facts(),
            findings,
            changes: vec![],
            outputs: outputs(&[
                (
                    "deployment_id",
                    s.primary().map(|d| d.id.clone()).unwrap_or_default(),
                ),
                ("running", s.running.to_string()),
                ("desired", s.desired.to_string()),
            ]),
        })
    }

    async fn verify(&self, _ctx: &StepContext, _outcome: &Outcome) -> Result<(), ActionError> {
        Ok(())
    }
}

// ------------------------------------------------------------------------------ ecs.redeploy

pub(crate) struct Redeploy;

/// The fact in which `ecs.redeploy` records the deployment that was PRIMARY before it started
/// one. The engine journals each observation before `apply` runs, and gives a retried or
/// resumed step its last one ([`StepContext::earlier`]), so the step recognises its own
/// deployment: a PRIMARY other than the one recorded there. UpdateService takes no client
/// token (ECS API reference, UpdateService), so this record is the only way to know.
const BEFORE: &str = "deployment_before";

/// The PRIMARY deployment before this step started one: as recorded by an earlier attempt of
/// the step in this run, else the current one.
fn deployment_before(ctx: &StepContext, s: &ServiceInfo) -> String {
    ctx.earlier
        .as_ref()
        .and_then(|o| o.facts.get(BEFORE))
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| s.primary().map(|d| d.id.clone()).unwrap_or_default())
}

/// The deployment this step started, if the service's PRIMARY is one (not the one recorded
/// before it started).
fn started_by_step<'a>(before: &str, s: &'a ServiceInfo) -> Option<&'a Deployment> {
    s.primary().filter(|p| p.id != before)
}

#[async_trait::async_trait]
impl Action for Redeploy {
    fn spec(&self) -> &'static ActionSpec {
        catalog::lookup("ecs.redeploy").expect("ecs.redeploy is in the catalogue")
    }

    async fn observe(&self, ctx: &StepContext) -> Result<Observation, ActionError> {
        let t = target(ctx)?;
        let Some(s) = describe(ctx, &t.region, &t.cluster, &t.service).await? else {
            return Ok(Observation {
                summary: format!("service `{}` not found", t.service),
                findings: vec![missing(&t.cluster, &t.service, &t.region)],
                ..Default::default()
            });
        };
        let before = deployment_before(ctx, &s);
        let mut facts = s.facts();
        facts.insert(BEFORE.into(), before.clone().into());
        if let Some(d) = started_by_step(&before, &s) {
            // This run's deployment: done when stable, else wait for it (no second one).
            if s.stable() {
                return Ok(Observation {
                    summary: format!(
                        "service `{}` runs deployment {} this step started: {}",
                        t.service,
                        d.id,
                        s.describe()
                    ),
                    facts,
                    outputs: outputs(&[("deployment_id", d.id.clone())]),
                    ..Default::default()
                });
            }
            return Ok(Observation {
                summary: format!(
                    "service `{}` is rolling out deployment {} this step started: {}",
                    t.service,
                    d.id,
                    s.describe()
                ),
                facts,
                changes: vec![format!("wait for deployment {} to be stable", d.id)],
                ..Default::default()
            });
        }
        Ok(Observation {
            summary: format!("service `{}`: {}", t.service, s.describe()),
            facts,
            changes: vec![format!(
                "UpdateService forceNewDeployment on `{}` in cluster `{}`, then wait until stable",
                t.service, t.cluster
            )],
            ..Default::default()
        })
    }

    async fn apply(
        &self,
        ctx: &StepContext,
        observed: &Observation,
    ) -> Result<Outcome, ActionError> {
        let t = target(ctx)?;
        // Observe again: a step that finds the deployment it started waits for it.
        let Some(s) = describe(ctx, &t.region, &t.cluster, &t.service).await? else {
            return Err(ActionError::Precondition {
                findings: vec![missing(&t.cluster, &t.service, &t.region)],
            });
        };
        let before = observed
            .facts
            .get(BEFORE)
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .unwrap_or_else(|| deployment_before(ctx, &s));
        let (id, change) = match started_by_step(&before, &s) {
            Some(d) => (d.id.clone(), format!("waited for deployment {}", d.id)),
            None => {
                let id = update_service(ctx, &t, true, None).await?.ok_or_else(|| {
                    ActionError::Verification {
                        message: format!(
                            "UpdateService on `{}` returned no PRIMARY deployment",
                            t.service
                        ),
                        hint: "check the service in the ECS console".into(),
                    }
                })?;
                (id.clone(), format!("started deployment {id}"))
            }
        };
        let s = wait_stable(ctx, &t.region, &t.cluster, &t.service, Some(&id)).await?;
        Ok(Outcome {
            summary: format!("service `{}` redeployed: {}", t.service, s.describe()),
            changes: vec![change],
            outputs: outputs(&[("deployment_id", id)]),
        })
    }

    async fn verify(&self, ctx: &StepContext, outcome: &Outcome) -> Result<(), ActionError> {
        let t = target(ctx)?;
        let want = outcome.outputs.get("deployment_id").cloned();
        match describe(ctx, &t.region, &t.cluster, &t.service).await? {
            Some(s)
                if s.stable() && want.is_some() && s.primary().map(|p| &p.id) == want.as_ref() =>
            {
                Ok(())
            }
            Some(s) => Err(not_stable(&t, &s)),
            None => Err(ActionError::Precondition {
                findings: vec![missing(&t.cluster, &t.service, &t.region)],
            }),
        }
    }
}

// ------------------------------------------------------------------------------ ecs.scale

pub(crate) struct Scale;

impl Scale {
    fn desired(ctx: &StepContext) -> Result<i32, ActionError> {
        let n = ctx.params.opt_u64("desired")?.unwrap_or_default();
        i32::try_from(n).map_err(|_| ActionError::Invalid {
            message: format!("`desired` is too large: {n}"),
            hint: "ECS takes a desired count up to 2147483647".into(),
        })
    }
}

#[async_trait::async_trait]
impl Action for Scale {
    fn spec(&self) -> &'static ActionSpec {
        catalog::lookup("ecs.scale").expect("ecs.scale is in the catalogue")
    }

    async fn observe(&self, ctx: &StepContext) -> Result<Observation, ActionError> {
        let t = target(ctx)?;
        let want = Self::desired(ctx)?;
        let Some(s) = describe(ctx, &t.region, &t.cluster, &t.service).await? else {
            return Ok(Observation {
                summary: format!("service `{}` not found", t.service),
                findings: vec![missing(&t.cluster, &t.service, &t.region)],
                ..Default::default()
            });
        };
        let mut changes = vec![];
        if s.desired != want {
            changes.push(format!(
                "UpdateService desiredCount {} -> {want} on `{}`, then wait until stable",
                s.desired, t.service
            ));
        } else if !s.stable() {
            changes.push(format!("wait for `{}` to be stable", t.service));
        }
        let out = if changes.is_empty() {
            outputs(&[
                ("desired", s.desired.to_string()),
                (
                    "deployment_id",
                    s.primary().map(|d| d.id.clone()).unwrap_or_default(),
                ),
            ])
        } else {
            BTreeMap::new()
        };
        Ok(Observation {
            summary: format!("service `{}`: {}", t.service, s.describe()),
            facts: s.facts(),
            findings: vec![],
            changes,
            outputs: out,
        })
    }

    async fn apply(
        &self,
        ctx: &StepContext,
        _observed: &Observation,
    ) -> Result<Outcome, ActionError> {
        let t = target(ctx)?;
        let want = Self::desired(ctx)?;
        // Observe again: set to the wanted state, never relative to what was seen earlier.
        let Some(s) = describe(ctx, &t.region, &t.cluster, &t.service).await? else {
            return Err(ActionError::Precondition {
                findings: vec![missing(&t.cluster, &t.service, &t.region)],
            });
        };
        let mut changes = vec![];
        if s.desired != want {
            update_service(ctx, &t, false, Some(want)).await?;
            changes.push(format!("desiredCount {} -> {want}", s.desired));
        }
        let s = wait_stable(ctx, &t.region, &t.cluster, &t.service, None).await?;
        Ok(Outcome {
            summary: format!("service `{}`: {}", t.service, s.describe()),
            changes,
            outputs: outputs(&[
                ("desired", s.desired.to_string()),
                (
                    "deployment_id",
                    s.primary().map(|d| d.id.clone()).unwrap_or_default(),
                ),
            ]),
        })
    }

    async fn verify(&self, ctx: &StepContext, _outcome: &Outcome) -> Result<(), ActionError> {
        let t = target(ctx)?;
        let want = Self::desired(ctx)?;
        match describe(ctx, &t.region, &t.cluster, &t.service).await? {
            Some(s) if s.stable() && s.desired == want => Ok(()),
            Some(s) => Err(not_stable(&t, &s)),
            None => Err(ActionError::Precondition {
                findings: vec![missing(&t.cluster, &t.service, &t.region)],
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dep(id: &str, status: &str, rollout: Option<&str>) -> Deployment {
        Deployment {
            id: id.into(),
            status: status.into(),
            rollout: rollout.map(str::to_string),
        }
    }

    #[test]
    fn stable_needs_running_equal_desired_and_a_completed_primary() {
        let mut s = ServiceInfo {
            status: "ACTIVE".into(),
            desired: 2,
            running: 2,
            deployments: vec![dep("ecs-svc/1", "PRIMARY", Some("COMPLETED"))],
        };
        assert!(s.stable());
        s.running = 1;
        assert!(!s.stable());
        s.running = 2;
        s.deployments = vec![
            dep("ecs-svc/2", "PRIMARY", Some("IN_PROGRESS")),
            dep("ecs-svc/1", "ACTIVE", Some("COMPLETED")),
        ];
        assert!(!s.stable());
        // Without a rolloutState: the services-stable waiter's criterion.
        s.deployments = vec![dep("ecs-svc/2", "PRIMARY", None), dep("x", "ACTIVE", None)];
        assert!(!s.stable());
        s.deployments.truncate(1);
        assert!(s.stable());
    }

    #[test]
    fn a_deployment_is_the_steps_own_when_it_replaced_the_recorded_one() {
        let s = ServiceInfo {
            status: "ACTIVE".into(),
            desired: 1,
            running: 1,
            deployments: vec![
                dep("ecs-svc/2", "PRIMARY", Some("IN_PROGRESS")),
                dep("ecs-svc/1", "ACTIVE", Some("COMPLETED")),
            ],
        };
        assert_eq!(
            started_by_step("ecs-svc/1", &s).map(|d| d.id.as_str()),
            Some("ecs-svc/2")
        );
        assert!(started_by_step("ecs-svc/2", &s).is_none());
    }
}
