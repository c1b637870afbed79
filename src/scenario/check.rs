//! Verdicts after a drill: each expectation, and each objective (RTO, RPO).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::model::Expectation;
use crate::actions::aws::Aws;
use crate::actions::{Params, Registry, StepContext, WaitMeter};
use crate::runbook::Objectives;
use crate::template;

pub use crate::event::{ExpectationVerdict, ObjectiveVerdict, Verdicts};

/// Compares an output with an expected value: `~x` contains, `>=N` at least, `=x` or `x` equals.
fn matches(actual: &str, expected: &str) -> bool {
    if let Some(s) = expected.strip_prefix('~') {
        actual.contains(s)
    } else if let Some(n) = expected.strip_prefix(">=") {
        match (actual.trim().parse::<f64>(), n.trim().parse::<f64>()) {
            (Ok(a), Ok(n)) => a >= n,
            _ => false,
        }
    } else {
        actual == expected.strip_prefix('=').unwrap_or(expected)
    }
}

/// Checks every expectation after a run.
///
/// `vars` are the runbook's variables as run; `outputs` the steps' outputs; `statuses` each
/// step's final status (`succeeded`, `failed`, `skipped`, `deferred`).
pub async fn check_expectations(
    expectations: &[Expectation],
    aws: Arc<Aws>,
    run_id: &str,
    vars: &BTreeMap<String, String>,
    outputs: &BTreeMap<String, BTreeMap<String, String>>,
    statuses: &BTreeMap<String, String>,
) -> Vec<ExpectationVerdict> {
    let registry = Registry::builtin();
    let ctx = template::Context {
        vars: Some(vars),
        run_id: Some(run_id),
        outputs: Some(outputs),
    };
    let mut verdicts = vec![];
    for e in expectations {
        let verdict = match e {
            Expectation::StepStatus { step, status, .. } => {
                let actual = statuses
                    .get(step)
                    .cloned()
                    .unwrap_or_else(|| "not run".into());
                let passed = &actual == status;
                ExpectationVerdict {
                    id: e.id().to_string(),
                    description: e.description(),
                    passed,
                    observed: format!("step `{step}` {actual}"),
                    reason: (!passed)
                        .then(|| format!("expected `{step}` to be {status}, it is {actual}")),
                }
            }
            Expectation::Observe {
                action,
                region,
                with,
                outputs: expected,
                ..
            } => {
                let fail = |observed: String, reason: String| ExpectationVerdict {
                    id: e.id().to_string(),
                    description: e.description(),
                    passed: false,
                    observed,
                    reason: Some(reason),
                };
                let rendered = (|| -> Result<_, template::TemplateError> {
                    let region = region
                        .as_deref()
                        .map(|r| template::render(r, &ctx))
                        .transpose()?;
                    let with: BTreeMap<String, serde_json::Value> = with
                        .iter()
                        .map(|(k, v)| Ok((k.clone(), template::render_value(v, &ctx)?)))
                        .collect::<Result<_, template::TemplateError>>()?;
                    Ok((region, with))
                })();
                let (region, with) = match rendered {
                    Ok(r) => r,
                    Err(err) => {
                        verdicts.push(fail(
                            String::new(),
                            format!("cannot render the expectation: {err}"),
                        ));
                        continue;
                    }
                };
                let Some(impl_) = registry.get(action) else {
                    verdicts.push(fail(
                        String::new(),
                        format!("action `{action}` is not available"),
                    ));
                    continue;
                };
                let step_ctx = StepContext {
                    run_id: run_id.to_string(),
                    step_id: format!("expect:{}", e.id()),
                    region,
                    params: Params(with),
                    objectives: Objectives::default(),
                    role_arn: None,
                    aws: aws.clone(),
                    waits: WaitMeter::default(),
                    earlier: None,
                };
                match crate::actions::aws::in_step(
                    &step_ctx.step_id.clone(),
                    impl_.observe(&step_ctx),
                )
                .await
                {
                    Err(err) => fail(String::new(), err.to_string()),
                    Ok(obs) if !obs.findings.is_empty() => fail(
                        obs.summary.clone(),
                        obs.findings
                            .iter()
                            .map(|f| f.message.clone())
                            .collect::<Vec<_>>()
                            .join("; "),
                    ),
                    Ok(obs) => {
                        let mismatches: Vec<String> = expected
                            .iter()
                            .filter_map(|(k, want)| {
                                // `~{{ vars.secondary }}`: expected values may use variables.
                                let want =
                                    &template::render(want, &ctx).unwrap_or_else(|_| want.clone());
                                let got = obs.outputs.get(k).map(String::as_str).unwrap_or("");
                                (!matches(got, want))
                                    .then(|| format!("{k} is `{got}`, expected `{want}`"))
                            })
                            .collect();
                        if mismatches.is_empty() {
                            ExpectationVerdict {
                                id: e.id().to_string(),
                                description: e.description(),
                                passed: true,
                                observed: obs.summary,
                                reason: None,
                            }
                        } else {
                            fail(obs.summary, mismatches.join("; "))
                        }
                    }
                }
            }
        };
        verdicts.push(verdict);
    }
    verdicts
}

/// The data a recovery loses, from the steps' outputs, and how it was measured. The
/// replication lag between Regions (`dynamodb.assert_replication`) is what a regional failover
/// loses and is preferred; without it, the PITR lag (`dynamodb.assert_pitr`, `rds.assert_pitr`)
/// is what a restore to the latest restorable time loses. The largest measurement of the kind
/// wins.
pub fn measured_rpo<'a>(
    outputs: impl Iterator<Item = &'a BTreeMap<String, String>> + Clone,
) -> Option<(Duration, String)> {
    let largest = |names: &[&str]| {
        outputs
            .clone()
            .flat_map(|o| names.iter().filter_map(|n| o.get(*n)))
            .filter_map(|s| s.parse::<f64>().ok())
            .filter(|v| v.is_finite())
            .fold(None::<f64>, |m, x| Some(m.map_or(x, |m| m.max(x))))
            .map(|secs| Duration::from_secs_f64(secs.max(0.0)))
    };
    if let Some(d) = largest(&["replication_lag_seconds"]) {
        return Some((
            d,
            "replication lag between Regions (dynamodb.assert_replication): what a failover loses"
                .into(),
        ));
    }
    // `exposure_seconds`: the name of the PITR lag in journals written before it was renamed.
    // `lag_seconds`: rds.assert_pitr's (a DB instance's or cluster's LatestRestorableTime).
    largest(&["pitr_lag_seconds", "exposure_seconds", "lag_seconds"]).map(|d| {
        (
            d,
            "PITR lag (dynamodb.assert_pitr, rds.assert_pitr): what a restore to the latest \
             restorable time loses; replication between Regions was not measured"
                .into(),
        )
    })
}

/// Judges RTO (the run's recovery time, [`crate::runbook::model::RTO_MEASURE`], as every
/// report does) and RPO ([`measured_rpo`]). `recovery_time` is `None` for a run that did not
/// reach the end of its recovery: its RTO is not met, and has no measure.
pub fn judge_objectives(
    objectives: &Objectives,
    recovery_time: Option<Duration>,
    outputs: &BTreeMap<String, BTreeMap<String, String>>,
) -> Vec<ObjectiveVerdict> {
    let mut out = vec![];
    if let Some(rto) = objectives.rto {
        out.push(match recovery_time {
            Some(t) => ObjectiveVerdict {
                objective: "rto".into(),
                target: rto,
                measured: Some(t),
                met: t <= rto,
                how: crate::runbook::model::RTO_MEASURE.into(),
            },
            None => ObjectiveVerdict {
                objective: "rto".into(),
                target: rto,
                measured: None,
                met: false,
                how: "not assessed: the run did not reach the end of its recovery".into(),
            },
        });
    }
    if let Some(rpo) = objectives.rpo {
        out.push(match measured_rpo(outputs.values()) {
            Some((measured, how)) => ObjectiveVerdict {
                objective: "rpo".into(),
                target: rpo,
                measured: Some(measured),
                met: measured <= rpo,
                how,
            },
            None => ObjectiveVerdict {
                objective: "rpo".into(),
                target: rpo,
                measured: None,
                met: false,
                how: "not measured: the runbook has no dynamodb.assert_replication, dynamodb.assert_pitr or rds.assert_pitr step that ran"
                    .into(),
            },
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_round_trip_through_json() {
        let v = Verdicts {
            expectations: vec![],
            objectives: judge_objectives(
                &Objectives {
                    rto: None,
                    rpo: Some(Duration::from_secs(60)),
                },
                Some(Duration::ZERO),
                &BTreeMap::new(),
            ),
        };
        let back: Verdicts = serde_json::from_str(&serde_json::to_string(&v).unwrap()).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn output_matching() {
        assert!(matches(
            "d-1.execute-api.eu-west-1.amazonaws.com",
            "~eu-west-1"
        ));
        assert!(!matches(
            "d-1.execute-api.ca-central-1.amazonaws.com",
            "~eu-west-1"
        ));
        assert!(matches("50", ">=40"));
        assert!(!matches("39", ">=40"));
        assert!(!matches("abc", ">=40"));
        assert!(matches("eu-west-1", "eu-west-1"));
        assert!(matches("eu-west-1", "=eu-west-1"));
    }

    #[test]
    fn objectives_are_judged_from_time_and_exposure() {
        let objectives = Objectives {
            rto: Some(Duration::from_secs(60)),
            rpo: Some(Duration::from_secs(300)),
        };
        let outputs = BTreeMap::from([(
            "pitr".to_string(),
            BTreeMap::from([("pitr_lag_seconds".to_string(), "42".to_string())]),
        )]);
        let v = judge_objectives(&objectives, Some(Duration::from_secs(61)), &outputs);
        assert!(!v[0].met);
        assert!(v[1].met);
        assert_eq!(v[1].measured, Some(Duration::from_secs(42)));
        let v = judge_objectives(&objectives, Some(Duration::from_secs(5)), &BTreeMap::new());
        assert!(v[0].met);
        assert!(!v[1].met, "an RPO that cannot be measured is not met");
    }

    #[test]
    fn a_db_instance_pitr_lag_measures_the_rpo() {
        let objectives = Objectives {
            rto: None,
            rpo: Some(Duration::from_secs(300)),
        };
        let outputs = BTreeMap::from([(
            "check-pitr".to_string(),
            BTreeMap::from([("lag_seconds".to_string(), "301".to_string())]),
        )]);
        let v = judge_objectives(&objectives, None, &outputs);
        assert!(!v[0].met);
        assert_eq!(v[0].measured, Some(Duration::from_secs(301)));
        assert!(v[0].how.contains("rds.assert_pitr"), "{}", v[0].how);
    }
}
