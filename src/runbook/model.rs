//! The validated runbook: what the rest of drillbook consumes.
//!
//! The loader and validator (`load.rs`, `validate.rs`) turn YAML into these types; everything
//! downstream (plan, engine, reports) can rely on the invariants documented here: step ids are
//! unique and well formed, every `needs` entry names an existing step, the graph is acyclic,
//! every action exists in the catalogue and every parameter was checked against its spec,
//! `{{ vars.* }}` references are already substituted.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::duration;

/// A runbook after validation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Runbook {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub objectives: Objectives,
    /// Variables after `--var` overrides.
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    /// Account guard: label -> AWS account id. Empty means no guard.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub accounts: BTreeMap<String, String>,
    /// When false (the default), an `approval` step must be approved by another identity.
    #[serde(default)]
    pub allow_self_approval: bool,
    pub steps: Vec<Step>,
    /// Cleanup steps, run after the graph whatever its outcome.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finally: Vec<Step>,
}

/// Recovery objectives.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Objectives {
    #[serde(
        default,
        with = "duration::serde_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub rto: Option<Duration>,
    #[serde(
        default,
        with = "duration::serde_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub rpo: Option<Duration>,
}

/// One validated step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub id: String,
    /// Catalogue name, for example `dynamodb.restore_pitr` or `wait`.
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub needs: Vec<String>,
    /// AWS Region the step runs against (vars substituted). `None` for core actions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Parameters. `{{ vars.* }}` are substituted; `{{ run.id }}` and `{{ steps.X.Y }}` are
    /// left in place and rendered by the engine when the step starts.
    #[serde(default)]
    pub with: BTreeMap<String, serde_json::Value>,
    #[serde(with = "duration::serde_str")]
    pub timeout: Duration,
    /// The step's `estimate`, or the action's default estimate.
    #[serde(with = "duration::serde_str")]
    pub estimate: Duration,
    pub retry: RetryPolicy,
    pub on_failure: OnFailure,
    /// IAM role to assume for this step (STS AssumeRole; the session name carries the run id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// Timeouts of each AWS call the step makes (`None`: drillbook's defaults, 3 s to connect
    /// and 20 s per attempt).
    #[serde(default, skip_serializing_if = "CallTimeouts::is_default")]
    pub call_timeouts: CallTimeouts,
}

/// The role a step assumes: `role_arn`, with `external_id` and `role_duration` (the session's
/// DurationSeconds) where given, on the step or in `defaults`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Role {
    pub arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "duration::serde_opt"
    )]
    pub duration: Option<Duration>,
}

impl Role {
    /// The role's account (the ARN's fifth field).
    pub fn account(&self) -> &str {
        self.arn.split(':').nth(4).unwrap_or_default()
    }
}

/// `connect_timeout` and `call_timeout` of a step (or `defaults`): how long one AWS call may
/// take to connect, and one attempt of it to answer, before it counts as a Region not answering.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallTimeouts {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "duration::serde_opt"
    )]
    pub connect: Option<Duration>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "duration::serde_opt"
    )]
    pub attempt: Option<Duration>,
}

impl CallTimeouts {
    pub fn is_default(&self) -> bool {
        *self == CallTimeouts::default()
    }
}

/// Retry policy of a step. `attempts` counts the first try (1 = no retry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryPolicy {
    pub attempts: u32,
    #[serde(with = "duration::serde_str")]
    pub backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 3,
            backoff: Duration::from_secs(2),
        }
    }
}

/// What happens to the run when a step fails.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    /// Start nothing new; running steps finish; the rest is skipped.
    #[default]
    Abort,
    /// Keep going with every step that does not depend on the failed one.
    Continue,
}

/// Default step timeout when neither the step nor `defaults` sets one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

impl Runbook {
    /// Looks a step up by id, in `steps` then `finally`.
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().chain(&self.finally).find(|s| s.id == id)
    }

    /// Every step id, `steps` then `finally`.
    pub fn step_ids(&self) -> Vec<&str> {
        self.steps
            .iter()
            .chain(&self.finally)
            .map(|s| s.id.as_str())
            .collect()
    }
}
