//! The scenario file format (version 1).
//!
//! ```yaml
//! version: 1
//! name: ca-central-1-outage
//! description: The primary Region is lost; fail over to eu-west-1.
//! runbook: ../runbooks/region-failover.yaml   # relative to this file
//! vars: { secondary: eu-west-1 }               # passed to the runbook as --var
//! impair: [{ region: ca-central-1 }]           # optionally { region, service: kms }
//! objectives: { rto: 15m, rpo: 5m }            # overrides the runbook's
//! expect:
//!   - id: dns-on-eu
//!     description: The API name answers from eu-west-1
//!     action: route53.assert_records           # any read-only action; its findings fail it
//!     with: { hosted_zone: "{{ vars.zone }}", record_name: "{{ vars.record }}", expect: eu-west-1 }
//!     outputs: { answer: "~eu-west-1" }        # `=v` / `v` equals, `~v` contains, `>=N` at least
//!   - id: promotion-result
//!     step: promote-key                        # a runbook step's final status
//!     status: succeeded
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::actions::aws::Impairment;
use crate::actions::catalog;
use crate::runbook::Objectives;
use crate::runbook::duration::parse_duration;

/// A validated scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub description: Option<String>,
    pub path: PathBuf,
    /// Hex SHA-256 of the scenario file.
    pub sha256: String,
    pub runbook: PathBuf,
    pub vars: BTreeMap<String, String>,
    pub impair: Vec<Impairment>,
    /// Overrides of the runbook's objectives (`None` keeps the runbook's).
    pub objectives: Objectives,
    pub expect: Vec<Expectation>,
}

/// One check made after the run.
#[derive(Debug, Clone, PartialEq)]
pub enum Expectation {
    /// A read-only action's observation holds (no findings) and its outputs match.
    Observe {
        id: String,
        description: Option<String>,
        action: String,
        region: Option<String>,
        with: BTreeMap<String, serde_json::Value>,
        outputs: BTreeMap<String, String>,
    },
    /// A runbook step ended with this status (`succeeded`, `failed`, `skipped`, `deferred`).
    StepStatus {
        id: String,
        description: Option<String>,
        step: String,
        status: String,
    },
}

impl Expectation {
    pub fn id(&self) -> &str {
        match self {
            Expectation::Observe { id, .. } | Expectation::StepStatus { id, .. } => id,
        }
    }
    pub fn description(&self) -> String {
        match self {
            Expectation::Observe {
                description,
                action,
                ..
            } => description
                .clone()
                .unwrap_or_else(|| format!("{action} holds")),
            Expectation::StepStatus {
                description,
                step,
                status,
                ..
            } => description
                .clone()
                .unwrap_or_else(|| format!("step `{step}` is {status}")),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    version: u32,
    name: String,
    #[serde(default)]
    description: Option<String>,
    runbook: String,
    #[serde(default)]
    vars: BTreeMap<String, String>,
    #[serde(default)]
    impair: Vec<Impairment>,
    #[serde(default)]
    objectives: RawObjectives,
    #[serde(default)]
    expect: Vec<RawExpectation>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawObjectives {
    #[serde(default)]
    rto: Option<String>,
    #[serde(default)]
    rpo: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpectation {
    id: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    with: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    outputs: BTreeMap<String, String>,
    #[serde(default)]
    step: Option<String>,
    #[serde(default)]
    status: Option<String>,
}

/// Why a scenario was rejected (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}\nhelp: {help}")]
pub struct ScenarioError {
    pub path: String,
    pub message: String,
    pub help: String,
}

const STATUSES: &[&str] = &["succeeded", "failed", "skipped", "deferred"];

/// Reads and validates a scenario file.
pub fn load_scenario(path: &Path) -> Result<Scenario, ScenarioError> {
    let err = |message: String, help: &str| ScenarioError {
        path: path.display().to_string(),
        message,
        help: help.to_string(),
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| err(format!("cannot read: {e}"), "check the path"))?;
    let raw: RawScenario =
        crate::runbook::load::parse_document(path, &text).map_err(|d| ScenarioError {
            path: path.display().to_string(),
            message: d.to_string(),
            help: "see docs/scenarios.md for the format".into(),
        })?;
    if raw.version != 1 {
        return Err(err(
            format!("unsupported scenario version {}", raw.version),
            "this drillbook reads `version: 1`",
        ));
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let runbook = base.join(&raw.runbook);
    if !runbook.exists() {
        return Err(err(
            format!(
                "runbook `{}` not found (resolved to {})",
                raw.runbook,
                runbook.display()
            ),
            "`runbook:` is relative to the scenario file",
        ));
    }
    let dur = |s: &Option<String>, what: &str| -> Result<_, ScenarioError> {
        s.as_deref().map(parse_duration).transpose().map_err(|e| {
            err(
                format!("objectives.{what}: {e}"),
                "durations look like `15m`",
            )
        })
    };
    let objectives = Objectives {
        rto: dur(&raw.objectives.rto, "rto")?,
        rpo: dur(&raw.objectives.rpo, "rpo")?,
    };
    let mut seen = std::collections::BTreeSet::new();
    let mut expect = vec![];
    for e in raw.expect {
        if !seen.insert(e.id.clone()) {
            return Err(err(
                format!("duplicate expectation id `{}`", e.id),
                "give each expectation its own id",
            ));
        }
        match (e.action, e.step) {
            (Some(action), None) => {
                let Some(spec) = catalog::lookup(&action) else {
                    return Err(err(
                        format!("expectation `{}`: unknown action `{action}`", e.id),
                        "use a read-only action such as route53.assert_records or kms.assert_replica",
                    ));
                };
                if spec.mutates {
                    return Err(err(
                        format!("expectation `{}`: `{action}` changes things", e.id),
                        "expectations only observe; use a read-only action",
                    ));
                }
                for k in e.with.keys() {
                    if spec.param(k).is_none() {
                        return Err(err(
                            format!("expectation `{}`: `{action}` has no parameter `{k}`", e.id),
                            &format!(
                                "its parameters are: {}",
                                spec.params
                                    .iter()
                                    .map(|p| p.name)
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        ));
                    }
                }
                for k in e.outputs.keys() {
                    if spec.output(k).is_none() {
                        return Err(err(
                            format!("expectation `{}`: `{action}` has no output `{k}`", e.id),
                            &format!(
                                "its outputs are: {}",
                                spec.outputs
                                    .iter()
                                    .map(|o| o.name)
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        ));
                    }
                }
                if spec.needs_region && e.region.is_none() {
                    return Err(err(
                        format!("expectation `{}`: `{action}` needs a `region`", e.id),
                        "add `region: eu-west-1` (or a `{{ vars.x }}`)",
                    ));
                }
                expect.push(Expectation::Observe {
                    id: e.id,
                    description: e.description,
                    action,
                    region: e.region,
                    with: e.with,
                    outputs: e.outputs,
                });
            }
            (None, Some(step)) => {
                let status = e.status.unwrap_or_else(|| "succeeded".into());
                if !STATUSES.contains(&status.as_str()) {
                    return Err(err(
                        format!("expectation `{}`: unknown status `{status}`", e.id),
                        "use succeeded, failed, skipped or deferred",
                    ));
                }
                expect.push(Expectation::StepStatus {
                    id: e.id,
                    description: e.description,
                    step,
                    status,
                });
            }
            _ => {
                return Err(err(
                    format!(
                        "expectation `{}` needs exactly one of `action` or `step`",
                        e.id
                    ),
                    "`action:` observes the system; `step:` checks a runbook step's status",
                ));
            }
        }
    }
    Ok(Scenario {
        name: raw.name,
        description: raw.description,
        path: path.to_path_buf(),
        sha256: crate::runbook::load::sha256_hex(text.as_bytes()),
        runbook,
        vars: raw.vars,
        impair: raw.impair,
        objectives,
        expect,
    })
}
