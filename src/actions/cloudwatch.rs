//! CloudWatch actions: `wait_alarm` (a health gate), `set_alarm_state` (drills) and
//! `put_signal` (a failover signal a Route 53 health check follows), plus
//! [`publish_run_metrics`], which the CLI calls at the end of a run with `--publish-metrics`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::types::{
    AlarmType, ComparisonOperator, Dimension, MetricAlarm, MetricDatum, StandardUnit, StateValue,
};
use serde_json::json;

use super::aws::{Aws, aws_error};
use super::{Action, ActionError, ActionSpec, Finding, Observation, Outcome, StepContext, poll};
use crate::catalog;
use crate::duration::human;

pub(super) fn all() -> Vec<Arc<dyn Action>> {
    vec![
        Arc::new(WaitAlarm),
        Arc::new(SetAlarmState),
        Arc::new(PutSignal),
    ]
}

const SVC: &str = "cloudwatch";
const STATES: &[&str] = &["OK", "ALARM", "INSUFFICIENT_DATA"];

fn spec(name: &str) -> &'static ActionSpec {
    catalog::lookup(name).expect("cloudwatch actions are in the catalogue")
}

fn client(ctx: &StepContext) -> Result<(Client, String), ActionError> {
    let region = ctx.region()?.to_string();
    Ok((ctx.aws.cloudwatch(&region), region))
}

fn state_param(
    ctx: &StepContext,
    name: &str,
    default: Option<&str>,
) -> Result<String, ActionError> {
    let s = match default {
        Some(d) => ctx.params.str_or(name, d)?,
        None => ctx.params.str(name)?,
    };
    let up = s.trim().to_ascii_uppercase();
    if STATES.contains(&up.as_str()) {
        Ok(up)
    } else {
        Err(ActionError::Invalid {
            message: format!(
                "parameter `{name}` must be one of OK, ALARM, INSUFFICIENT_DATA, not `{s}`"
            ),
            hint: "check the step's `with:` block".into(),
        })
    }
}

/// Current state of each named alarm that exists (metric and composite alarms).
async fn alarm_states(
    c: &Client,
    region: &str,
    names: &[String],
) -> Result<BTreeMap<String, String>, ActionError> {
    let mut states = BTreeMap::new();
    for chunk in names.chunks(100) {
        let mut token = None;
        loop {
            let out = c
                .describe_alarms()
                .set_alarm_names(Some(chunk.to_vec()))
                .alarm_types(AlarmType::MetricAlarm)
                .alarm_types(AlarmType::CompositeAlarm)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| aws_error(SVC, "DescribeAlarms", region, e))?;
            let metric = out
                .metric_alarms()
                .iter()
                .map(|a| (a.alarm_name(), a.state_value()));
            let composite = out
                .composite_alarms()
                .iter()
                .map(|a| (a.alarm_name(), a.state_value()));
            for (name, state) in metric.chain(composite) {
                if let Some(name) = name.filter(|n| chunk.iter().any(|c| c == n)) {
                    let state = state.map(StateValue::as_str).unwrap_or("INSUFFICIENT_DATA");
                    states.insert(name.to_string(), state.to_string());
                }
            }
            match out.next_token {
                Some(t) if !t.is_empty() => token = Some(t),
                _ => break,
            }
        }
    }
    Ok(states)
}

/// The state of alarm `name` in `region` (`OK`, `ALARM`, `INSUFFICIENT_DATA`), `None` when
/// there is no such alarm.
pub async fn alarm_state(
    aws: &crate::actions::aws::Aws,
    region: &str,
    name: &str,
) -> Result<Option<String>, ActionError> {
    let c = aws.cloudwatch(region);
    Ok(alarm_states(&c, region, &[name.to_string()])
        .await?
        .remove(name))
}

/// One cheap call (alarms sharing the first characters) to suggest a close alarm name.
async fn did_you_mean(
    c: &Client,
    region: &str,
    missing: &str,
) -> Result<Option<String>, ActionError> {
    let prefix: String = missing.chars().take(3).collect();
    if prefix.is_empty() {
        return Ok(None);
    }
    let out = c
        .describe_alarms()
        .alarm_name_prefix(prefix)
        .alarm_types(AlarmType::MetricAlarm)
        .alarm_types(AlarmType::CompositeAlarm)
        .max_records(100)
        .send()
        .await
        .map_err(|e| aws_error(SVC, "DescribeAlarms", region, e))?;
    let names = out
        .metric_alarms()
        .iter()
        .filter_map(|a| a.alarm_name())
        .chain(out.composite_alarms().iter().filter_map(|a| a.alarm_name()));
    Ok(closest(missing, names))
}

fn closest<'a>(wanted: &str, candidates: impl Iterator<Item = &'a str>) -> Option<String> {
    candidates
        .map(|c| (strsim::jaro_winkler(wanted, c), c))
        .filter(|(score, c)| *score >= 0.85 && *c != wanted)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c.to_string())
}

async fn missing_alarm(c: &Client, region: &str, name: &str) -> Result<Finding, ActionError> {
    let hint = match did_you_mean(c, region, name).await? {
        Some(s) => format!("did you mean `{s}`?"),
        None => "check the alarm name and the step's region".to_string(),
    };
    Ok(Finding {
        message: format!("alarm `{name}` not found in {region}"),
        hint,
    })
}

/// `a=OK,b=ALARM` in the order the alarms were listed.
fn states_line(names: &[String], states: &BTreeMap<String, String>) -> String {
    names
        .iter()
        .map(|n| {
            format!(
                "{n}={}",
                states.get(n).map(String::as_str).unwrap_or("MISSING")
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn alarm_names(ctx: &StepContext) -> Result<Vec<String>, ActionError> {
    let names = ctx.params.str_list("alarms")?;
    if names.is_empty() {
        return Err(ActionError::Invalid {
            message: "parameter `alarms` must list at least one alarm".into(),
            hint: "add alarm names under `alarms:`".into(),
        });
    }
    Ok(names)
}

// ------------------------------------------------------------------------- wait_alarm

struct WaitAlarm;

#[async_trait::async_trait]
impl Action for WaitAlarm {
    fn spec(&self) -> &'static ActionSpec {
        spec("cloudwatch.wait_alarm")
    }

    async fn observe(&self, ctx: &StepContext) -> Result<Observation, ActionError> {
        let names = alarm_names(ctx)?;
        let want = state_param(ctx, "state", Some("OK"))?;
        let (c, region) = client(ctx)?;
        let states = alarm_states(&c, &region, &names).await?;
        let mut obs = Observation::default();
        for n in names.iter().filter(|n| !states.contains_key(*n)) {
            obs.findings.push(missing_alarm(&c, &region, n).await?);
        }
        for n in &names {
            if let Some(s) = states.get(n).filter(|s| **s != want) {
                obs.changes
                    .push(format!("wait until `{n}` is {want} (now {s})"));
            }
        }
        obs.facts.insert("states".into(), json!(states));
        obs.facts.insert("wanted_state".into(), json!(want));
        let line = states_line(&names, &states);
        obs.summary = if obs.changes.is_empty() && obs.findings.is_empty() {
            format!("every alarm is {want}: {line}")
        } else {
            format!("alarms: {line} (waiting for {want})")
        };
        obs.outputs.insert("states".into(), line);
        Ok(obs)
    }

    async fn apply(&self, ctx: &StepContext, _: &Observation) -> Result<Outcome, ActionError> {
        let names = alarm_names(ctx)?;
        let want = state_param(ctx, "state", Some("OK"))?;
        let (c, region) = client(ctx)?;
        let waited_before = ctx.waits.total();
        // The states first seen, to report which alarms were waited for.
        let first: std::sync::Mutex<Option<BTreeMap<String, String>>> = Default::default();
        let states = poll::until(&ctx.waits, poll::ALARM_MAX_INTERVAL, || {
            let (c, region, names, want, first) = (&c, &region, &names, &want, &first);
            async move {
                let states = alarm_states(c, region, names).await?;
                if let Some(n) = names.iter().find(|n| !states.contains_key(*n)) {
                    return Err(ActionError::Precondition {
                        findings: vec![missing_alarm(c, region, n).await?],
                    });
                }
                if let Ok(mut f) = first.lock() {
                    f.get_or_insert_with(|| states.clone());
                }
                Ok(states.values().all(|s| s == want).then_some(states))
            }
        })
        .await?;
        let waited = ctx.waits.total().saturating_sub(waited_before);
        let first = first.into_inner().ok().flatten().unwrap_or_default();
        let changes = names
            .iter()
            .filter(|n| first.get(*n).is_some_and(|s| *s != want))
            .map(|n| format!("waited for `{n}` to be {want}"))
            .collect();
        let line = states_line(&names, &states);
        Ok(Outcome {
            summary: format!("every alarm is {want} after {}: {line}", human(waited)),
            changes,
            outputs: BTreeMap::from([("states".to_string(), line)]),
        })
    }

    async fn verify(&self, ctx: &StepContext, _: &Outcome) -> Result<(), ActionError> {
        let names = alarm_names(ctx)?;
        let want = state_param(ctx, "state", Some("OK"))?;
        let (c, region) = client(ctx)?;
        let states = alarm_states(&c, &region, &names).await?;
        let off: Vec<String> = names
            .iter()
            .filter(|n| states.get(*n) != Some(&want))
            .map(|n| {
                format!(
                    "{n}={}",
                    states.get(n).map(String::as_str).unwrap_or("MISSING")
                )
            })
            .collect();
        if off.is_empty() {
            Ok(())
        } else {
            Err(ActionError::Verification {
                message: format!("alarms not {want}: {}", off.join(", ")),
                hint: "the alarm changed again after the wait; check the service behind it".into(),
            })
        }
    }
}

// ------------------------------------------------------------------------- set_alarm_state

struct SetAlarmState;

#[async_trait::async_trait]
impl Action for SetAlarmState {
    fn spec(&self) -> &'static ActionSpec {
        spec("cloudwatch.set_alarm_state")
    }

    async fn observe(&self, ctx: &StepContext) -> Result<Observation, ActionError> {
        let name = ctx.params.str("alarm")?;
        let want = state_param(ctx, "state", None)?;
        let (c, region) = client(ctx)?;
        let states = alarm_states(&c, &region, std::slice::from_ref(&name)).await?;
        let mut obs = Observation::default();
        match states.get(&name) {
            None => {
                obs.summary = format!("alarm `{name}` not found in {region}");
                obs.findings.push(missing_alarm(&c, &region, &name).await?);
            }
            Some(s) if *s == want => {
                obs.facts.insert("state".into(), json!(s));
                obs.summary = format!("`{name}` is already {want}");
            }
            Some(s) => {
                obs.facts.insert("state".into(), json!(s));
                obs.summary = format!("`{name}` is {s}");
                obs.changes
                    .push(format!("set alarm `{name}` to {want} (now {s})"));
            }
        }
        Ok(obs)
    }

    async fn apply(
        &self,
        ctx: &StepContext,
        observed: &Observation,
    ) -> Result<Outcome, ActionError> {
        let name = ctx.params.str("alarm")?;
        let want = state_param(ctx, "state", None)?;
        if observed.changes.is_empty() {
            return Ok(Outcome {
                summary: format!("`{name}` is already {want}"),
                ..Default::default()
            });
        }
        let reason = ctx.params.str_or("reason", "set by drillbook")?;
        let (c, region) = client(ctx)?;
        c.set_alarm_state()
            .alarm_name(&name)
            .state_value(StateValue::from(want.as_str()))
            .state_reason(reason)
            .send()
            .await
            .map_err(|e| aws_error(SVC, "SetAlarmState", &region, e))?;
        Ok(Outcome {
            summary: format!("set `{name}` to {want}"),
            changes: vec![format!("set alarm `{name}` to {want}")],
            outputs: BTreeMap::new(),
        })
    }

    async fn verify(&self, ctx: &StepContext, _: &Outcome) -> Result<(), ActionError> {
        let name = ctx.params.str("alarm")?;
        let want = state_param(ctx, "state", None)?;
        let (c, region) = client(ctx)?;
        let states = alarm_states(&c, &region, std::slice::from_ref(&name)).await?;
        match states.get(&name) {
            Some(s) if *s == want => Ok(()),
            other => Err(ActionError::Verification {
                message: format!(
                    "alarm `{name}` is {}, not {want}",
                    other.map(String::as_str).unwrap_or("missing")
                ),
                hint: "CloudWatch re-evaluates the alarm at its next period; a metric alarm can flip back at once".into(),
            }),
        }
    }
}

// ------------------------------------------------------------------------- put_signal

/// A failover signal: an alarm on a metric only the runbook writes, which a Route 53 health
/// check follows (a `CLOUDWATCH_METRIC` check, alone or inside a `CALCULATED` one on the
/// primary record). Publishing one data point moves traffic with two data-plane calls in the
/// Region the step runs in: PutMetricData, and the alarm's evaluation that Route 53 reads.
/// Route 53 "monitors the data stream for the corresponding alarm instead of monitoring the
/// alarm state", so SetAlarmState could not do this (Route 53 developer guide, "How Amazon
/// Route 53 determines whether a health check is healthy").
struct PutSignal;

/// What the signal alarm watches, read with DescribeAlarms.
struct SignalAlarm {
    namespace: String,
    metric: String,
    dimensions: Vec<Dimension>,
    threshold: f64,
    operator: ComparisonOperator,
    treat_missing_data: String,
    state: String,
}

impl SignalAlarm {
    fn from(name: &str, a: &MetricAlarm) -> Result<SignalAlarm, Finding> {
        let (Some(namespace), Some(metric)) = (a.namespace(), a.metric_name()) else {
            return Err(Finding {
                message: format!("alarm `{name}` does not watch a single metric"),
                hint: "a signal alarm watches one metric that only the runbook publishes (no metric math)".into(),
            });
        };
        Ok(SignalAlarm {
            namespace: namespace.to_string(),
            metric: metric.to_string(),
            dimensions: a.dimensions().to_vec(),
            threshold: a.threshold().unwrap_or(1.0),
            operator: a
                .comparison_operator()
                .cloned()
                .unwrap_or(ComparisonOperator::GreaterThanOrEqualToThreshold),
            treat_missing_data: a.treat_missing_data().unwrap_or("missing").to_string(),
            state: a
                .state_value()
                .map(StateValue::as_str)
                .unwrap_or("INSUFFICIENT_DATA")
                .to_string(),
        })
    }

    /// A value that puts the alarm in `want` (ALARM: breaching; OK: within the threshold).
    fn value_for(&self, want: &str) -> f64 {
        let breach = want == "ALARM";
        let t = self.threshold;
        match (&self.operator, breach) {
            (ComparisonOperator::GreaterThanOrEqualToThreshold, true) => t,
            (ComparisonOperator::GreaterThanThreshold, true) => t + 1.0,
            (ComparisonOperator::LessThanThreshold, true) => t - 1.0,
            (ComparisonOperator::LessThanOrEqualToThreshold, true) => t,
            (
                ComparisonOperator::LessThanThreshold
                | ComparisonOperator::LessThanOrEqualToThreshold,
                false,
            ) => t + 1.0,
            (_, false) => t - 1.0,
            (_, true) => t + 1.0,
        }
    }

    fn metric_line(&self) -> String {
        let dims: Vec<String> = self
            .dimensions
            .iter()
            .map(|d| format!("{}={}", d.name().unwrap_or(""), d.value().unwrap_or("")))
            .collect();
        format!("{}/{} [{}]", self.namespace, self.metric, dims.join(","))
    }
}

/// The step's outputs, the same whether it published now or found the signal set.
fn signal_outputs(alarm: &SignalAlarm, want: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("metric".to_string(), alarm.metric_line()),
        ("state".to_string(), want.to_string()),
        ("value".to_string(), alarm.value_for(want).to_string()),
    ])
}

fn signal_change(alarm: &SignalAlarm, name: &str, want: &str) -> String {
    format!(
        "publish {} to {} so `{name}` goes {want}",
        alarm.value_for(want),
        alarm.metric_line()
    )
}

fn signal_state(ctx: &StepContext) -> Result<String, ActionError> {
    let want = state_param(ctx, "state", Some("ALARM"))?;
    if want == "INSUFFICIENT_DATA" {
        return Err(ActionError::Invalid {
            message: "parameter `state` of cloudwatch.put_signal must be ALARM (fail over) or OK (fail back)".into(),
            hint: "check the step's `with:` block".into(),
        });
    }
    Ok(want)
}

async fn signal_alarm(
    c: &Client,
    region: &str,
    name: &str,
) -> Result<Result<SignalAlarm, Finding>, ActionError> {
    let out = c
        .describe_alarms()
        .alarm_names(name)
        .alarm_types(AlarmType::MetricAlarm)
        .send()
        .await
        .map_err(|e| aws_error(SVC, "DescribeAlarms", region, e))?;
    match out
        .metric_alarms()
        .iter()
        .find(|a| a.alarm_name() == Some(name))
    {
        Some(a) => Ok(SignalAlarm::from(name, a)),
        None => Ok(Err(missing_alarm(c, region, name).await?)),
    }
}

#[async_trait::async_trait]
impl Action for PutSignal {
    fn spec(&self) -> &'static ActionSpec {
        spec("cloudwatch.put_signal")
    }

    async fn observe(&self, ctx: &StepContext) -> Result<Observation, ActionError> {
        let name = ctx.params.str("alarm")?;
        let want = signal_state(ctx)?;
        let (c, region) = client(ctx)?;
        let mut obs = Observation::default();
        let alarm = match signal_alarm(&c, &region, &name).await? {
            Ok(a) => a,
            Err(f) => {
                obs.summary = f.message.clone();
                obs.findings.push(f);
                return Ok(obs);
            }
        };
        // With any other TreatMissingData the signal lapses once its data point ages out of
        // the evaluation periods, and traffic returns with no decision: "ignore — The current
        // alarm state is maintained" (CloudWatch user guide, "Configuring how CloudWatch
        // alarms treat missing data").
        if alarm.treat_missing_data != "ignore" {
            obs.findings.push(Finding {
                message: format!(
                    "alarm `{name}` treats missing data as `{}`: the signal would lapse when its data point ages out, and traffic would return on its own",
                    alarm.treat_missing_data
                ),
                hint: "set the signal alarm's TreatMissingData to `ignore` (PutMetricAlarm), so it keeps its state until the runbook publishes again".into(),
            });
        }
        obs.facts.insert("state".into(), json!(alarm.state));
        obs.outputs = signal_outputs(&alarm, &want);
        if alarm.state == want {
            obs.summary = format!("`{name}` is already {want}");
        } else {
            obs.summary = format!("`{name}` is {}", alarm.state);
            obs.changes.push(signal_change(&alarm, &name, &want));
        }
        Ok(obs)
    }

    async fn apply(
        &self,
        ctx: &StepContext,
        observed: &Observation,
    ) -> Result<Outcome, ActionError> {
        let name = ctx.params.str("alarm")?;
        let want = signal_state(ctx)?;
        let (c, region) = client(ctx)?;
        let alarm = signal_alarm(&c, &region, &name)
            .await?
            .map_err(|f| ActionError::Precondition { findings: vec![f] })?;
        let outputs = signal_outputs(&alarm, &want);
        if alarm.state == want && observed.changes.is_empty() {
            return Ok(Outcome {
                summary: format!("`{name}` is already {want}"),
                changes: vec![],
                outputs,
            });
        }
        // The change as observed, so a resumed step that finds it made reports the same.
        let change = signal_change(&alarm, &name, &want);
        let value = alarm.value_for(&want);
        // Sent with the SDK's retries off: after a failure that may have taken effect (a lost
        // response), the alarm is read again before sending once more. A second data point of
        // the same value would change nothing, but the signal is sent once when that can be
        // known.
        let mut sends = 0;
        loop {
            sends += 1;
            let sent = c
                .put_metric_data()
                .namespace(&alarm.namespace)
                .metric_data(
                    MetricDatum::builder()
                        .metric_name(&alarm.metric)
                        .set_dimensions(Some(alarm.dimensions.clone()))
                        .value(value)
                        .unit(StandardUnit::Count)
                        .timestamp(aws_smithy_types::DateTime::from(
                            std::time::SystemTime::now(),
                        ))
                        .build(),
                )
                .customize()
                .config_override(
                    aws_sdk_cloudwatch::config::Builder::default()
                        .retry_config(aws_config::retry::RetryConfig::disabled()),
                )
                .send()
                .await
                .map_err(|e| aws_error(SVC, "PutMetricData", &region, e));
            let Err(e) = sent else { break };
            if !e.retryable() {
                return Err(e);
            }
            let states = alarm_states(&c, &region, std::slice::from_ref(&name)).await;
            if states.ok().and_then(|s| s.get(&name).cloned()).as_deref() == Some(want.as_str()) {
                break;
            }
            if sends >= 3 {
                return Err(e);
            }
            tokio::time::sleep(Duration::from_millis(100 << sends)).await;
        }
        // CloudWatch evaluates the alarm at its period; wait for it (the step's timeout bounds
        // the wait). A retried or resumed step publishes again: a second data point of the same
        // value changes nothing.
        let waited_before = ctx.waits.total();
        poll::until(&ctx.waits, poll::ALARM_MAX_INTERVAL, || {
            let (c, region, name, want) = (&c, &region, &name, &want);
            async move {
                let states = alarm_states(c, region, std::slice::from_ref(name)).await?;
                Ok((states.get(name) == Some(want)).then_some(()))
            }
        })
        .await?;
        let waited = ctx.waits.total().saturating_sub(waited_before);
        Ok(Outcome {
            summary: format!(
                "published {value} to {}; `{name}` is {want} after {}",
                alarm.metric_line(),
                human(waited)
            ),
            changes: vec![change],
            outputs,
        })
    }

    async fn verify(&self, ctx: &StepContext, _: &Outcome) -> Result<(), ActionError> {
        let name = ctx.params.str("alarm")?;
        let want = signal_state(ctx)?;
        let (c, region) = client(ctx)?;
        let states = alarm_states(&c, &region, std::slice::from_ref(&name)).await?;
        match states.get(&name) {
            Some(s) if *s == want => Ok(()),
            other => Err(ActionError::Verification {
                message: format!(
                    "signal alarm `{name}` is {}, not {want}",
                    other.map(String::as_str).unwrap_or("missing")
                ),
                hint: "check that nothing else publishes the signal's metric".into(),
            }),
        }
    }
}

// ------------------------------------------------------------------------- run metrics

/// Metric names [`publish_run_metrics`] writes.
pub const METRIC_RUN_DURATION: &str = "RunDuration";
pub const METRIC_STEP_DURATION: &str = "StepDuration";
pub const METRIC_OBJECTIVES_MET: &str = "ObjectivesMet";

/// Publishes a run's timings to CloudWatch (`--publish-metrics NAMESPACE`), so drills can be
/// graphed over time: `RunDuration` (seconds, dimension `Runbook`), `StepDuration` (seconds,
/// dimensions `Runbook` and `Step`, one per step) and, when objectives were checked,
/// `ObjectivesMet` (1 or 0, dimension `Runbook`).
pub async fn publish_run_metrics(
    aws: &Aws,
    region: &str,
    namespace: &str,
    runbook: &str,
    run_duration: Duration,
    steps: &[(String, Duration)],
    objectives_met: Option<bool>,
) -> Result<(), ActionError> {
    let now = aws_smithy_types::DateTime::from(std::time::SystemTime::now());
    let dim = |name: &str, value: &str| Dimension::builder().name(name).value(value).build();
    let datum = |metric: &str, value: f64, unit: StandardUnit, dims: Vec<Dimension>| {
        MetricDatum::builder()
            .metric_name(metric)
            .set_dimensions(Some(dims))
            .value(value)
            .unit(unit)
            .timestamp(now)
            .build()
    };
    let mut data = vec![datum(
        METRIC_RUN_DURATION,
        run_duration.as_secs_f64(),
        StandardUnit::Seconds,
        vec![dim("Runbook", runbook)],
    )];
    for (step, d) in steps {
        data.push(datum(
            METRIC_STEP_DURATION,
            d.as_secs_f64(),
            StandardUnit::Seconds,
            vec![dim("Runbook", runbook), dim("Step", step)],
        ));
    }
    if let Some(met) = objectives_met {
        data.push(datum(
            METRIC_OBJECTIVES_MET,
            if met { 1.0 } else { 0.0 },
            StandardUnit::Count,
            vec![dim("Runbook", runbook)],
        ));
    }
    let c = aws.cloudwatch(region);
    // PutMetricData takes up to 1000 data points per call; stay well below.
    for chunk in data.chunks(500) {
        c.put_metric_data()
            .namespace(namespace)
            .set_metric_data(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| aws_error(SVC, "PutMetricData", region, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_suggests_near_names_only() {
        let names = ["app-api-5xx", "app-api-latency", "other"];
        assert_eq!(
            closest("app-api-5xxx", names.iter().copied()).as_deref(),
            Some("app-api-5xx")
        );
        assert_eq!(closest("zzz", names.iter().copied()), None);
    }

    #[test]
    fn states_line_keeps_the_listed_order() {
        let names = vec!["b".to_string(), "a".to_string(), "c".to_string()];
        let states = BTreeMap::from([
            ("a".to_string(), "OK".to_string()),
            ("b".to_string(), "ALARM".to_string()),
        ]);
        assert_eq!(states_line(&names, &states), "b=ALARM,a=OK,c=MISSING");
    }
}
