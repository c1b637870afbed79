//! Route 53 actions: `route53.failover` and `route53.assert_records`.
//!
//! Route 53's control plane is in us-east-1 and throttles per account (10 requests/s after a
//! burst of 50, and smaller buckets for some operations); a run keeps to half of each, per
//! account (`actions::limits`), its requests paced by the HTTP client. Every request of this file goes through [`send`], which maps its error.
//! What a name answers is observed with TestDNSAnswer (failover routing and health applied).
//!
//! Sides of a failover record set: in `health_check` mode the PRIMARY record's value is the
//! primary side. In `records` mode the failover is done by swapping the values of the PRIMARY
//! and SECONDARY records *together with their health checks* (so a failing endpoint keeps its
//! failing health check), and the primary ("home") side is the record that carries the primary
//! health check (`health_check_id`, or the only health check of the pair). That keeps a second
//! run, or the switch back, well defined after a swap.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ChangeStatus, ResourceRecordSet, ResourceRecordSetFailover,
    RrType,
};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::aws::aws_error;
use super::{Action, ActionError, ActionSpec, Finding, Observation, Outcome, StepContext};
use crate::catalog;

/// This service's actions, for the registry.
pub(super) fn all() -> Vec<Arc<dyn Action>> {
    vec![Arc::new(Failover), Arc::new(AssertRecords)]
}

/// Longest pause between two GetChange / TestDNSAnswer looks.
const CHANGE_POLL_MAX: Duration = Duration::from_secs(5);

/// Sends one Route 53 request (us-east-1) and maps its error. Every Route 53 call of this file
/// passes here.
async fn send<T, E>(
    operation: &str,
    request: impl Future<Output = Result<T, SdkError<E, HttpResponse>>>,
) -> Result<T, ActionError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    request
        .await
        .map_err(|e| aws_error("route53", operation, "us-east-1", e))
}

fn build_error(e: impl std::fmt::Display) -> ActionError {
    ActionError::Invalid {
        message: format!("could not build the Route 53 change: {e}"),
        hint: "check `record_name` and the records of the zone".into(),
    }
}

/// `name.` in lowercase (Route 53 returns names with a final dot).
fn fqdn(name: &str) -> String {
    let n = name.trim().trim_end_matches('.').to_ascii_lowercase();
    format!("{n}.")
}

/// A DNS value for comparisons: lowercase, no final dot.
fn norm(v: &str) -> String {
    v.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// The hosted zone id for a name or id; `Ok(Err(finding))` when no zone matches.
async fn zone_id(ctx: &StepContext, zone: &str) -> Result<Result<String, Finding>, ActionError> {
    let zone = zone.trim();
    if !zone.contains('.') {
        return Ok(Ok(zone.trim_start_matches("/hostedzone/").to_string()));
    }
    let wanted = fqdn(zone);
    // A zone's id does not change during a run: looked up once per run and role.
    let memo = format!("route53 hosted zone {wanted}");
    if let Some(id) = ctx.aws.remembered(&memo) {
        return Ok(Ok(id));
    }
    let client = ctx.aws.route53();
    let out = send(
        "ListHostedZonesByName",
        client
            .list_hosted_zones_by_name()
            .dns_name(&wanted)
            .max_items(100)
            .send(),
    )
    .await?;
    let matches: Vec<_> = out
        .hosted_zones()
        .iter()
        .filter(|z| fqdn(z.name()) == wanted)
        .collect();
    let public: Vec<_> = matches
        .iter()
        .filter(|z| !z.config().is_some_and(|c| c.private_zone()))
        .collect();
    let id = |z: &aws_sdk_route53::types::HostedZone| {
        z.id().trim_start_matches("/hostedzone/").to_string()
    };
    let found = match (matches.len(), public.len()) {
        (0, _) => {
            return Ok(Err(Finding {
                message: format!("no hosted zone named `{zone}`"),
                hint: "check `hosted_zone` (aws route53 list-hosted-zones-by-name)".into(),
            }));
        }
        (1, _) => id(matches[0]),
        (_, 1) => id(public[0]),
        (n, _) => {
            return Ok(Err(Finding {
                message: format!("{n} hosted zones are named `{zone}`"),
                hint: format!(
                    "give the zone id instead: one of {}",
                    matches.iter().map(|z| id(z)).collect::<Vec<_>>().join(", ")
                ),
            }));
        }
    };
    ctx.aws.remember(&memo, &found);
    Ok(Ok(found))
}

/// Every record set named `name` in the zone.
async fn record_sets(
    ctx: &StepContext,
    zone_id: &str,
    name: &str,
) -> Result<Vec<ResourceRecordSet>, ActionError> {
    let client = ctx.aws.route53();
    let wanted = fqdn(name);
    let mut out = vec![];
    let mut start: Option<(String, Option<RrType>, Option<String>)> = None;
    loop {
        let (start_name, start_type, start_id) =
            start.clone().unwrap_or((wanted.clone(), None, None));
        let page = send(
            "ListResourceRecordSets",
            client
                .list_resource_record_sets()
                .hosted_zone_id(zone_id)
                .start_record_name(start_name)
                .set_start_record_type(start_type)
                .set_start_record_identifier(start_id)
                .send(),
        )
        .await?;
        let mut past = false;
        for rrs in page.resource_record_sets() {
            if fqdn(rrs.name()) == wanted {
                out.push(rrs.clone());
            } else if !out.is_empty() {
                past = true;
            }
        }
        if past || !page.is_truncated() {
            break;
        }
        let next = (
            page.next_record_name().unwrap_or_default().to_string(),
            page.next_record_type().cloned(),
            page.next_record_identifier().map(str::to_string),
        );
        if next.0.is_empty() || fqdn(&next.0) != wanted || Some(&next) == start.as_ref() {
            break;
        }
        start = Some(next);
    }
    Ok(out)
}

/// The value a record set answers with (first record, or the alias target).
fn value_of(rrs: &ResourceRecordSet) -> String {
    rrs.resource_records()
        .first()
        .map(|r| r.value().to_string())
        .or_else(|| rrs.alias_target().map(|a| a.dns_name().to_string()))
        .unwrap_or_default()
}

/// What the name answers now (TestDNSAnswer).
#[derive(Debug, Clone, PartialEq)]
struct Answer {
    code: String,
    data: Vec<String>,
    /// For an alias A/AAAA record: the alias target whose addresses these are. Route 53
    /// answers an alias record "like dig", with the target's addresses (TestDNSAnswer API
    /// reference), so which record set answers is found by resolving each alias target.
    via: Option<String>,
    /// Why no alias target could be named (the addresses matched several targets or none).
    note: Option<String>,
}

impl Answer {
    fn text(&self) -> String {
        let data = if self.data.is_empty() {
            self.code.clone()
        } else {
            self.data.join(", ")
        };
        match (&self.via, &self.note) {
            (Some(target), _) => format!("{} ({data})", target.trim_end_matches('.')),
            (None, Some(note)) => format!("{data} ({note})"),
            (None, None) => data,
        }
    }
    fn is(&self, value: &str) -> bool {
        !value.is_empty()
            && (self.data.iter().any(|d| norm(d) == norm(value))
                || self.via.as_deref().is_some_and(|v| norm(v) == norm(value)))
    }

    /// Finds which alias record set of `sets` answers, by resolving each alias target over DNS
    /// (the run's DNS server, else the system's resolvers): the answer belongs to the target
    /// whose addresses it shares, and no other's ([`super::dns::owner`]); equal sets are not
    /// required, since TestDNSAnswer's resolver (us-east-1) and this one are different
    /// resolvers and an API Gateway Regional name answers a rotating set of addresses. A target
    /// that does not resolve stays unknown; an answer that shares addresses with several
    /// targets, or with none, matches no alias record and says so (`note`).
    async fn resolve_alias(
        mut self,
        ctx: &StepContext,
        sets: &[ResourceRecordSet],
        rtype: &RrType,
    ) -> Answer {
        if self.data.is_empty() || !matches!(rtype, RrType::A | RrType::Aaaa) {
            return self;
        }
        let mut targets: Vec<(String, Vec<String>)> = vec![];
        for target in sets
            .iter()
            .filter_map(|s| s.alias_target())
            .map(|a| a.dns_name())
        {
            if targets.iter().any(|(t, _)| norm(t) == norm(target)) {
                continue;
            }
            let server = ctx.aws.options.dns_server.as_deref();
            let Ok(resolved) = super::dns::resolve(target, rtype.as_str(), server).await else {
                continue;
            };
            targets.push((target.to_string(), resolved.data));
        }
        if targets.is_empty() {
            return self;
        }
        let addresses: Vec<&[String]> = targets.iter().map(|(_, a)| a.as_slice()).collect();
        let name = |i: usize| targets[i].0.trim_end_matches('.').to_string();
        match super::dns::owner(&self.data, &addresses) {
            super::dns::Owner::One(i) => self.via = Some(targets[i].0.clone()),
            super::dns::Owner::Several(hits) => {
                self.note = Some(format!(
                    "ambiguous: shares addresses with {}",
                    hits.into_iter().map(name).collect::<Vec<_>>().join(" and ")
                ));
            }
            super::dns::Owner::None => {
                self.note = Some(format!(
                    "ambiguous: shares no address with {}",
                    (0..targets.len())
                        .map(name)
                        .collect::<Vec<_>>()
                        .join(" nor ")
                ));
            }
        }
        self
    }
}

async fn test_dns_answer(
    ctx: &StepContext,
    zone_id: &str,
    name: &str,
    rtype: &RrType,
) -> Result<Answer, ActionError> {
    let client = ctx.aws.route53();
    let out = send(
        "TestDNSAnswer",
        client
            .test_dns_answer()
            .hosted_zone_id(zone_id)
            .record_name(name.trim_end_matches('.'))
            .record_type(rtype.clone())
            .send(),
    )
    .await?;
    Ok(Answer {
        code: out.response_code().to_string(),
        data: out.record_data().to_vec(),
        via: None,
        note: None,
    })
}

/// The record type to ask TestDNSAnswer about: CNAME, A or AAAA first.
fn answer_type(sets: &[ResourceRecordSet]) -> Option<RrType> {
    for t in [RrType::Cname, RrType::A, RrType::Aaaa] {
        if sets.iter().any(|s| s.r#type() == &t) {
            return Some(t);
        }
    }
    sets.first().map(|s| s.r#type().clone())
}

// ------------------------------------------------------------------------------ failover

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Primary,
    Secondary,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    HealthCheck,
    Records,
}

/// What `route53.failover` would do.
#[derive(Debug, Clone, PartialEq)]
enum Move {
    /// The target side already answers.
    Nothing,
    /// UpdateHealthCheck with Disabled and Inverted set to `pinned` together: `true` pins the
    /// PRIMARY unhealthy whatever its endpoint does, `false` lets the check measure again.
    Pin {
        health_check_id: String,
        pinned: bool,
    },
    /// Swap the PRIMARY and SECONDARY values (with their health checks) in one UPSERT batch.
    Swap,
}

/// Everything observed about the failover record set.
struct FailoverState {
    zone_id: String,
    record_name: String,
    rtype: RrType,
    primary: ResourceRecordSet,
    secondary: ResourceRecordSet,
    answer: Answer,
    /// The health check set in `health_check` mode, and its (Disabled, Inverted) flags.
    health_check: Option<(String, (bool, bool))>,
    /// The value that must answer afterwards.
    target: String,
    step: Move,
}

fn params(ctx: &StepContext) -> Result<(String, String, Side, Mode, Option<String>), ActionError> {
    let side = match ctx.params.str_or("to", "secondary")?.as_str() {
        "secondary" => Side::Secondary,
        "primary" => Side::Primary,
        other => {
            return Err(ActionError::Invalid {
                message: format!("`to` must be `secondary` or `primary`, not `{other}`"),
                hint: "check the step's `with:` block".into(),
            });
        }
    };
    let mode = match ctx.params.str_or("mode", "health_check")?.as_str() {
        "health_check" => Mode::HealthCheck,
        "records" => Mode::Records,
        other => {
            return Err(ActionError::Invalid {
                message: format!("`mode` must be `health_check` or `records`, not `{other}`"),
                hint: "check the step's `with:` block".into(),
            });
        }
    };
    Ok((
        ctx.params.str("hosted_zone")?,
        ctx.params.str("record_name")?,
        side,
        mode,
        ctx.params.opt_str("health_check_id")?,
    ))
}

/// A health check's (Disabled, Inverted) flags.
///
/// Route 53 (UpdateHealthCheck, `Disabled`): "After you disable a health check, Route 53
/// considers the status of the health check to always be healthy"; and (developer guide,
/// "Inverting health checks") an inverted check is "unhealthy when the status is healthy and
/// vice versa". So a check that is disabled *and* inverted is always unhealthy, whatever its
/// endpoint does: the failover holds even when the primary endpoint fails or recovers. Inverting
/// alone would be the trap: once the endpoint really fails, the inverted check reports healthy
/// and traffic returns to the failed Region.
async fn health_check_flags(ctx: &StepContext, hc: &str) -> Result<(bool, bool), ActionError> {
    let client = ctx.aws.route53();
    let out = send(
        "GetHealthCheck",
        client.get_health_check().health_check_id(hc).send(),
    )
    .await?;
    let config = out.health_check().and_then(|h| h.health_check_config());
    Ok((
        config.and_then(|c| c.disabled()).unwrap_or(false),
        config.and_then(|c| c.inverted()).unwrap_or(false),
    ))
}

/// Looks at the zone, the record set, the health check and the answer; decides the move.
/// `Ok(Err(findings))` when the failover cannot be done.
async fn failover_state(
    ctx: &StepContext,
) -> Result<Result<FailoverState, Vec<Finding>>, ActionError> {
    let (zone, name, side, mode, hc_param) = params(ctx)?;
    let zone_id = match zone_id(ctx, &zone).await? {
        Ok(z) => z,
        Err(f) => return Ok(Err(vec![f])),
    };
    let sets = record_sets(ctx, &zone_id, &name).await?;
    let role =
        |r: ResourceRecordSetFailover| sets.iter().find(|s| s.failover() == Some(&r)).cloned();
    let (Some(primary), Some(secondary)) = (
        role(ResourceRecordSetFailover::Primary),
        role(ResourceRecordSetFailover::Secondary),
    ) else {
        return Ok(Err(vec![Finding {
            message: format!(
                "`{name}` in zone {zone_id} has no PRIMARY and SECONDARY failover records"
            ),
            hint: "create failover records (Failover PRIMARY with a health check, and SECONDARY) for the name".into(),
        }]));
    };
    let rtype = primary.r#type().clone();
    let answer = test_dns_answer(ctx, &zone_id, &name, &rtype)
        .await?
        .resolve_alias(ctx, &sets, &rtype)
        .await;
    let (pv, sv) = (value_of(&primary), value_of(&secondary));
    let mut findings = vec![];
    let (target, step, health_check) = match mode {
        Mode::HealthCheck => {
            let target = match side {
                Side::Secondary => sv.clone(),
                Side::Primary => pv.clone(),
            };
            let Some(hc) = hc_param
                .clone()
                .or(primary.health_check_id().map(str::to_string))
            else {
                return Ok(Err(vec![Finding {
                    message: format!("the PRIMARY record of `{name}` has no health check"),
                    hint: "set `health_check_id`, or use `mode: records`".into(),
                }]));
            };
            let flags = health_check_flags(ctx, &hc).await?;
            // The wanted configuration, never a toggle of the current one: pinned unhealthy
            // (disabled and inverted) to fail over, measuring (neither) to fail back. A retry,
            // a resume or a second run before DNS has moved then finds the configuration
            // already set and only waits for the answer.
            let want = side == Side::Secondary;
            let step = if flags != (want, want) {
                Move::Pin {
                    health_check_id: hc.clone(),
                    pinned: want,
                }
            } else if answer.is(&target) || want {
                Move::Nothing
            } else {
                findings.push(Finding {
                    message: format!(
                        "`{name}` answers {} although health check {hc} measures again: the primary endpoint itself reports unhealthy",
                        answer.text()
                    ),
                    hint: "drillbook does not force traffic to an unhealthy primary; fix the primary endpoint, or switch with `mode: records`".into(),
                });
                Move::Nothing
            };
            (target, step, Some((hc, flags)))
        }
        Mode::Records => {
            let home_is_primary = match hc_param.as_deref() {
                Some(hc) if primary.health_check_id() == Some(hc) => Some(true),
                Some(hc) if secondary.health_check_id() == Some(hc) => Some(false),
                Some(hc) => {
                    findings.push(Finding {
                        message: format!(
                            "health check {hc} is on neither failover record of `{name}`"
                        ),
                        hint: "set `health_check_id` to the health check of the primary endpoint"
                            .into(),
                    });
                    None
                }
                None => match (primary.health_check_id(), secondary.health_check_id()) {
                    (Some(_), None) => Some(true),
                    (None, Some(_)) => Some(false),
                    _ => {
                        findings.push(Finding {
                            message: format!(
                                "cannot tell the primary side of `{name}`: {} of its failover records carry a health check",
                                if primary.health_check_id().is_some() { "both" } else { "neither" }
                            ),
                            hint: "set `health_check_id` to the health check of the primary endpoint".into(),
                        });
                        None
                    }
                },
            };
            let Some(home_is_primary) = home_is_primary else {
                return Ok(Err(findings));
            };
            let (home, away) = if home_is_primary {
                (pv.clone(), sv.clone())
            } else {
                (sv.clone(), pv.clone())
            };
            let target = match side {
                Side::Secondary => away,
                Side::Primary => home,
            };
            let swapped = !home_is_primary;
            // Decided by the records, not by what the name answers now: when health checks
            // already moved the answer, the swap still makes it stick (the target then holds
            // the PRIMARY record, so the old primary recovering does not take traffic back).
            let step = if swapped != (side == Side::Secondary) {
                Move::Swap
            } else if answer.is(&target) {
                Move::Nothing
            } else {
                findings.push(Finding {
                    message: format!(
                        "the PRIMARY record of `{name}` already holds {target} but the name answers {}: its health check reports unhealthy",
                        answer.text()
                    ),
                    hint: "check the health check of that endpoint (aws route53 get-health-check-status)".into(),
                });
                Move::Nothing
            };
            (target, step, None)
        }
    };
    if !findings.is_empty() {
        return Ok(Err(findings));
    }
    Ok(Ok(FailoverState {
        zone_id,
        record_name: fqdn(&name),
        rtype,
        primary,
        secondary,
        answer,
        health_check,
        target,
        step,
    }))
}

impl FailoverState {
    fn change_line(&self) -> Option<String> {
        match &self.step {
            Move::Nothing => None,
            Move::Pin {
                health_check_id,
                pinned,
            } => Some(format!(
                "set Disabled={pinned} and Inverted={pinned} on health check {health_check_id} (UpdateHealthCheck: {}) so `{}` answers {}",
                if *pinned {
                    "the PRIMARY is pinned unhealthy whatever its endpoint does"
                } else {
                    "the check measures the endpoint again"
                },
                self.record_name,
                self.target
            )),
            Move::Swap => Some(format!(
                "swap the failover values of `{}` (one UPSERT batch): PRIMARY -> {}, SECONDARY -> {}",
                self.record_name,
                value_of(&self.secondary),
                value_of(&self.primary)
            )),
        }
    }

    fn facts(&self) -> BTreeMap<String, serde_json::Value> {
        let mut f = BTreeMap::new();
        f.insert("hosted_zone_id".into(), self.zone_id.clone().into());
        f.insert("record_type".into(), self.rtype.as_str().into());
        f.insert("primary_value".into(), value_of(&self.primary).into());
        f.insert("secondary_value".into(), value_of(&self.secondary).into());
        f.insert("answer".into(), self.answer.text().into());
        f.insert("target".into(), self.target.clone().into());
        if let Some((hc, (disabled, inverted))) = &self.health_check {
            f.insert("health_check_id".into(), hc.clone().into());
            f.insert("health_check_disabled".into(), (*disabled).into());
            f.insert("health_check_inverted".into(), (*inverted).into());
        }
        f
    }

    /// The PRIMARY and SECONDARY records with their values and health checks exchanged.
    fn swapped_records(&self) -> Result<Vec<Change>, ActionError> {
        let mut p = self.primary.clone();
        let mut s = self.secondary.clone();
        std::mem::swap(&mut p.resource_records, &mut s.resource_records);
        std::mem::swap(&mut p.alias_target, &mut s.alias_target);
        std::mem::swap(&mut p.health_check_id, &mut s.health_check_id);
        [p, s]
            .into_iter()
            .map(|r| {
                Change::builder()
                    .action(ChangeAction::Upsert)
                    .resource_record_set(r)
                    .build()
                    .map_err(build_error)
            })
            .collect()
    }
}

fn failover_outputs(change_id: &str, answer: &str) -> BTreeMap<String, String> {
    [("change_id", change_id), ("answer", answer)]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub(crate) struct Failover;

#[async_trait::async_trait]
impl Action for Failover {
    fn spec(&self) -> &'static ActionSpec {
        catalog::lookup("route53.failover").expect("route53.failover is in the catalogue")
    }

    async fn observe(&self, ctx: &StepContext) -> Result<Observation, ActionError> {
        let name = ctx.params.str("record_name")?;
        let st = match failover_state(ctx).await? {
            Ok(st) => st,
            Err(findings) => {
                return Ok(Observation {
                    summary: format!("cannot fail `{name}` over"),
                    findings,
                    ..Default::default()
                });
            }
        };
        let change = st.change_line();
        Ok(Observation {
            summary: match &change {
                None if !st.answer.is(&st.target) => format!(
                    "`{name}` is configured to answer {} and still answers {}: waiting for DNS",
                    st.target,
                    st.answer.text()
                ),
                None => format!("`{name}` already answers {}", st.target),
                Some(_) => format!(
                    "`{name}` answers {}; it must answer {}",
                    st.answer.text(),
                    st.target
                ),
            },
            facts: st.facts(),
            findings: vec![],
            outputs: if change.is_none() {
                failover_outputs("", &st.answer.text())
            } else {
                BTreeMap::new()
            },
            changes: change.into_iter().collect(),
        })
    }

    async fn apply(&self, ctx: &StepContext, _: &Observation) -> Result<Outcome, ActionError> {
        let name = ctx.params.str("record_name")?;
        // Observe again, so a resumed step does only what is still missing.
        let st = failover_state(ctx)
            .await?
            .map_err(|findings| ActionError::Precondition { findings })?;
        let client = ctx.aws.route53();
        let mut change_id = String::new();
        let changes: Vec<String> = st.change_line().into_iter().collect();
        match &st.step {
            Move::Nothing => {}
            Move::Pin {
                health_check_id,
                pinned,
            } => {
                // Exactly once: the SDK's retries are off for this call; after a retryable
                // error the health check is read again and the update sent again only if it
                // did not take effect (a response lost after the change, up to 3 sends).
                let mut sends = 0u32;
                loop {
                    sends += 1;
                    let sent = send(
                        "UpdateHealthCheck",
                        client
                            .update_health_check()
                            .health_check_id(health_check_id)
                            .disabled(*pinned)
                            .inverted(*pinned)
                            .customize()
                            .config_override(
                                aws_sdk_route53::config::Builder::default()
                                    .retry_config(aws_config::retry::RetryConfig::disabled()),
                            )
                            .send(),
                    )
                    .await;
                    let Err(e) = sent else { break };
                    if !e.retryable() {
                        return Err(e);
                    }
                    if health_check_flags(ctx, health_check_id).await.ok()
                        == Some((*pinned, *pinned))
                    {
                        break;
                    }
                    if sends >= 3 {
                        return Err(e);
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(100 << sends)).await;
                }
            }
            Move::Swap => {
                let batch = ChangeBatch::builder()
                    .comment(format!(
                        "drillbook failover of {} ({})",
                        st.record_name, ctx.run_id
                    ))
                    .set_changes(Some(st.swapped_records()?))
                    .build()
                    .map_err(build_error)?;
                let out = send(
                    "ChangeResourceRecordSets",
                    client
                        .change_resource_record_sets()
                        .hosted_zone_id(&st.zone_id)
                        .change_batch(batch)
                        .send(),
                )
                .await?;
                change_id = out
                    .change_info()
                    .map(|c| c.id().trim_start_matches("/change/").to_string())
                    .unwrap_or_default();
                let id = change_id.clone();
                super::poll::until(&ctx.waits, CHANGE_POLL_MAX, || async {
                    let c = send("GetChange", client.get_change().id(&id).send()).await?;
                    Ok(c.change_info()
                        .filter(|i| i.status() == &ChangeStatus::Insync)
                        .map(|_| ()))
                })
                .await?;
            }
        }
        let answer = super::poll::until(&ctx.waits, CHANGE_POLL_MAX, || async {
            let a = test_dns_answer(ctx, &st.zone_id, &st.record_name, &st.rtype)
                .await?
                .resolve_alias(ctx, &[st.primary.clone(), st.secondary.clone()], &st.rtype)
                .await;
            Ok(a.is(&st.target).then_some(a))
        })
        .await?;
        Ok(Outcome {
            summary: format!("`{name}` answers {}", answer.text()),
            changes,
            outputs: failover_outputs(&change_id, &answer.text()),
        })
    }

    async fn verify(&self, ctx: &StepContext, _: &Outcome) -> Result<(), ActionError> {
        let name = ctx.params.str("record_name")?;
        match failover_state(ctx).await? {
            // The configuration is the wanted one (no move left) and the name answers with it.
            Ok(st) if st.step == Move::Nothing && st.answer.is(&st.target) => Ok(()),
            Ok(st) => Err(ActionError::Verification {
                message: format!("`{name}` answers {}, not {}", st.answer.text(), st.target),
                hint:
                    "check the health checks and the failover records (aws route53 test-dns-answer)"
                        .into(),
            }),
            Err(findings) => Err(ActionError::Verification {
                message: findings
                    .iter()
                    .map(|f| f.message.as_str())
                    .collect::<Vec<_>>()
                    .join("; "),
                hint: findings
                    .into_iter()
                    .map(|f| f.hint)
                    .find(|h| !h.is_empty())
                    .unwrap_or_default(),
            }),
        }
    }
}

// ------------------------------------------------------------------------------ assert_records

pub(crate) struct AssertRecords;

#[async_trait::async_trait]
impl Action for AssertRecords {
    fn spec(&self) -> &'static ActionSpec {
        catalog::lookup("route53.assert_records")
            .expect("route53.assert_records is in the catalogue")
    }

    async fn observe(&self, ctx: &StepContext) -> Result<Observation, ActionError> {
        let zone = ctx.params.str("hosted_zone")?;
        let name = ctx.params.str("record_name")?;
        let expect = ctx.params.opt_str("expect")?;
        let zone_id = match zone_id(ctx, &zone).await? {
            Ok(z) => z,
            Err(f) => {
                return Ok(Observation {
                    summary: format!("hosted zone `{zone}` not found"),
                    findings: vec![f],
                    ..Default::default()
                });
            }
        };
        let sets = record_sets(ctx, &zone_id, &name).await?;
        let Some(rtype) = answer_type(&sets) else {
            return Ok(Observation {
                summary: format!("no records named `{name}` in zone {zone_id}"),
                findings: vec![Finding {
                    message: format!("no records named `{name}` in zone {zone_id}"),
                    hint: "check `record_name` and `hosted_zone`".into(),
                }],
                ..Default::default()
            });
        };
        let answer = test_dns_answer(ctx, &zone_id, &name, &rtype)
            .await?
            .resolve_alias(ctx, &sets, &rtype)
            .await;
        let mut findings = vec![];
        if answer.data.is_empty() {
            findings.push(Finding {
                message: format!("`{name}` answers {}", answer.code),
                hint: "check the records and their health checks".into(),
            });
        } else if let Some(e) = &expect
            && !answer.text().to_lowercase().contains(&e.to_lowercase())
        {
            findings.push(Finding {
                message: format!(
                    "`{name}` answers {}, which does not contain `{e}`",
                    answer.text()
                ),
                hint: "fail over with a `route53.failover` step, or check the health checks".into(),
            });
        }
        let mut facts = BTreeMap::new();
        facts.insert("hosted_zone_id".into(), zone_id.into());
        facts.insert("record_type".into(), rtype.as_str().into());
        facts.insert("response_code".into(), answer.code.clone().into());
        Ok(Observation {
            summary: format!("`{name}` answers {}", answer.text()),
            facts,
            findings,
            changes: vec![],
            outputs: [("answer".to_string(), answer.text())].into(),
        })
    }

    async fn verify(&self, ctx: &StepContext, outcome: &Outcome) -> Result<(), ActionError> {
        let answer = outcome.outputs.get("answer").cloned().unwrap_or_default();
        if let Some(e) = ctx.params.opt_str("expect")?
            && !answer.to_lowercase().contains(&e.to_lowercase())
        {
            return Err(ActionError::Verification {
                message: format!("the answer {answer:?} does not contain `{e}`"),
                hint: "check the failover records and health checks".into(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_values_compare_without_case_or_final_dot() {
        assert_eq!(fqdn("API.Example.com"), "api.example.com.");
        assert_eq!(fqdn("api.example.com."), "api.example.com.");
        let a = Answer {
            code: "NOERROR".into(),
            data: vec!["d-1.execute-api.eu-west-1.amazonaws.com".into()],
            via: None,
            note: None,
        };
        assert!(a.is("D-1.execute-api.eu-west-1.amazonaws.com."));
        assert!(!a.is(""));
        assert_eq!(
            Answer {
                code: "NXDOMAIN".into(),
                data: vec![],
                via: None,
                note: None,
            }
            .text(),
            "NXDOMAIN"
        );
    }

    #[test]
    fn swap_exchanges_values_and_health_checks() {
        let rec = |id: &str, f: ResourceRecordSetFailover, v: &str, hc: Option<&str>| {
            ResourceRecordSet::builder()
                .name("api.example.com.")
                .r#type(RrType::Cname)
                .set_identifier(id)
                .failover(f)
                .ttl(60)
                .set_health_check_id(hc.map(str::to_string))
                .resource_records(
                    aws_sdk_route53::types::ResourceRecord::builder()
                        .value(v)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap()
        };
        let st = FailoverState {
            zone_id: "Z1".into(),
            record_name: "api.example.com.".into(),
            rtype: RrType::Cname,
            primary: rec("p", ResourceRecordSetFailover::Primary, "ca", Some("hc1")),
            secondary: rec("s", ResourceRecordSetFailover::Secondary, "eu", None),
            answer: Answer {
                code: "NOERROR".into(),
                data: vec!["ca".into()],
                via: None,
                note: None,
            },
            health_check: None,
            target: "eu".into(),
            step: Move::Swap,
        };
        let changes = st.swapped_records().unwrap();
        let p = changes[0].resource_record_set().unwrap();
        let s = changes[1].resource_record_set().unwrap();
        assert_eq!(p.set_identifier(), Some("p"));
        assert_eq!(p.failover(), Some(&ResourceRecordSetFailover::Primary));
        assert_eq!(value_of(p), "eu");
        assert_eq!(p.health_check_id(), None);
        assert_eq!(value_of(s), "ca");
        assert_eq!(s.health_check_id(), Some("hc1"));
        assert!(st.change_line().unwrap().contains("PRIMARY -> eu"));
    }
}
