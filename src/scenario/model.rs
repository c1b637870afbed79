//! The scenario model (format version 1; reference: docs/scenarios.md).
//!
//! ```yaml
//! version: 1
//! name: ca-central-1-outage
//! description: The primary Region is lost; fail over to eu-west-1.
//! runbook: ../runbooks/region-failover.yaml   # relative to this file
//! vars: { secondary: eu-west-1 }               # passed to the runbook as --var
//! impair: [{ region: ca-central-1 }]           # optionally { region, service: kms }
//! faults:                                      # AWS FIS experiments, started before step 1
//!   - fis: { template: "{{ vars.fis_template }}", region: ca-central-1 }
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
use std::path::PathBuf;

use crate::catalog::Impairment;
use crate::runbook::Objectives;

/// A validated scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub description: Option<String>,
    pub path: PathBuf,
    /// Hex SHA-256 of the scenario file.
    pub sha256: String,
    /// The file's text, as read (its problems are located in it).
    pub text: String,
    pub runbook: PathBuf,
    pub vars: BTreeMap<String, String>,
    pub impair: Vec<Impairment>,
    /// Overrides of the runbook's objectives (`None` keeps the runbook's).
    pub objectives: Objectives,
    pub expect: Vec<Expectation>,
    /// Damage done before the runbook runs (execute only), in order.
    pub inject: Vec<Injection>,
    /// Faults AWS injects while the runbook runs (execute only), in order.
    pub faults: Vec<Fault>,
    /// Where the drill runs across accounts and Regions (`targets:`, as a runbook's).
    pub targets: Option<crate::runbook::Targets>,
}

/// A fault a drill has AWS inject for as long as it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// An AWS Fault Injection Service experiment: StartExperiment on `template` with the FIS
    /// API of `region` just before the runbook's first step, StopExperiment when the drill
    /// ends. Both may hold `{{ vars.NAME }}`, rendered with the run's variables.
    Fis { template: String, region: String },
}

/// One action a drill runs before the runbook, to do the damage the runbook must recover from
/// (for example `dynamodb.put_item` writing bad data).
#[derive(Debug, Clone, PartialEq)]
pub struct Injection {
    pub id: String,
    pub description: Option<String>,
    pub action: String,
    pub region: Option<String>,
    pub with: BTreeMap<String, serde_json::Value>,
}

/// The reference a scenario variable may hold for the time just before the first injection.
pub const INJECTED_AT: &str = "drill.injected_at";

impl Scenario {
    /// The objectives a drill is judged by: the scenario's, where it sets them, over the
    /// runbook's.
    pub fn objectives_over(&self, runbook: &Objectives) -> Objectives {
        let mut o = runbook.clone();
        o.rto = self.objectives.rto.or(o.rto);
        o.rpo = self.objectives.rpo.or(o.rpo);
        o
    }

    /// The scenario's variables with `{{ drill.injected_at }}` replaced by `at` (RFC 3339).
    pub fn vars_at(&self, at: &str) -> BTreeMap<String, String> {
        self.vars
            .iter()
            .map(|(k, v)| (k.clone(), replace_injected_at(v, at)))
            .collect()
    }
}

/// `text` with every `{{ drill.injected_at }}` (any inner spacing) replaced by `at`.
pub(super) fn replace_injected_at(text: &str, at: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let Some(close) = rest[open..].find("}}") else {
            break;
        };
        let inner = rest[open + 2..open + close].trim();
        out.push_str(&rest[..open]);
        if inner == INJECTED_AT {
            out.push_str(at);
        } else {
            out.push_str(&rest[open..open + close + 2]);
        }
        rest = &rest[open + close + 2..];
    }
    out.push_str(rest);
    out
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
