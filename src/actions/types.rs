//! Values that flow between the engine and the actions.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::runbook::model::Objectives;

/// What a step works with when it runs: rendered parameters and the AWS handle.
#[derive(Clone)]
pub struct StepContext {
    pub run_id: String,
    pub step_id: String,
    /// The step's Region, rendered. `None` for core actions.
    pub region: Option<String>,
    /// The step's `with:`, every template rendered.
    pub params: Params,
    pub objectives: Objectives,
    pub role_arn: Option<String>,
    pub aws: Arc<super::aws::Aws>,
    /// Where the action reports time spent waiting on AWS (polling).
    pub waits: WaitMeter,
}

impl StepContext {
    /// The step's Region, or an error when the step has none.
    pub fn region(&self) -> Result<&str, ActionError> {
        self.region.as_deref().ok_or_else(|| ActionError::Invalid {
            message: format!("step `{}` has no region", self.step_id),
            hint: "set `region:` on the step or in `defaults:`".into(),
        })
    }
}

/// Accumulates time an action spends waiting on AWS (polling for a state).
#[derive(Clone, Default, Debug)]
pub struct WaitMeter(Arc<std::sync::atomic::AtomicU64>);

impl WaitMeter {
    pub fn add(&self, d: Duration) {
        self.0
            .fetch_add(d.as_millis() as u64, std::sync::atomic::Ordering::Relaxed);
    }
    pub fn total(&self) -> Duration {
        Duration::from_millis(self.0.load(std::sync::atomic::Ordering::Relaxed))
    }
}

/// A step's rendered parameters with typed accessors. Types were checked by the validator,
/// so accessor errors only arise from `{{ }}` renderings that produced a bad value.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Params(pub BTreeMap<String, serde_json::Value>);

impl Params {
    fn invalid(name: &str, what: &str) -> ActionError {
        ActionError::Invalid {
            message: format!("parameter `{name}` must be {what}"),
            hint: "check the step's `with:` block".into(),
        }
    }

    pub fn opt_str(&self, name: &str) -> Result<Option<String>, ActionError> {
        match self.0.get(name) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
            Some(serde_json::Value::Number(n)) => Ok(Some(n.to_string())),
            Some(serde_json::Value::Bool(b)) => Ok(Some(b.to_string())),
            Some(_) => Err(Self::invalid(name, "a string")),
        }
    }

    pub fn str(&self, name: &str) -> Result<String, ActionError> {
        self.opt_str(name)?
            .ok_or_else(|| Self::invalid(name, "set (it is required)"))
    }

    pub fn str_or(&self, name: &str, default: &str) -> Result<String, ActionError> {
        Ok(self.opt_str(name)?.unwrap_or_else(|| default.to_string()))
    }

    pub fn bool_or(&self, name: &str, default: bool) -> Result<bool, ActionError> {
        match self.0.get(name) {
            None | Some(serde_json::Value::Null) => Ok(default),
            Some(serde_json::Value::Bool(b)) => Ok(*b),
            Some(serde_json::Value::String(s)) if s == "true" => Ok(true),
            Some(serde_json::Value::String(s)) if s == "false" => Ok(false),
            Some(_) => Err(Self::invalid(name, "true or false")),
        }
    }

    pub fn opt_u64(&self, name: &str) -> Result<Option<u64>, ActionError> {
        match self.0.get(name) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::Number(n)) => n
                .as_u64()
                .map(Some)
                .ok_or_else(|| Self::invalid(name, "a whole number")),
            Some(serde_json::Value::String(s)) => s
                .parse()
                .map(Some)
                .map_err(|_| Self::invalid(name, "a whole number")),
            Some(_) => Err(Self::invalid(name, "a whole number")),
        }
    }

    pub fn opt_duration(&self, name: &str) -> Result<Option<Duration>, ActionError> {
        self.opt_str(name)?
            .map(|s| {
                crate::duration::parse_duration(&s)
                    .map_err(|_| Self::invalid(name, "a duration such as `30s`"))
            })
            .transpose()
    }

    pub fn str_list(&self, name: &str) -> Result<Vec<String>, ActionError> {
        match self.0.get(name) {
            None | Some(serde_json::Value::Null) => Ok(vec![]),
            Some(serde_json::Value::String(s)) => Ok(vec![s.clone()]),
            Some(serde_json::Value::Array(a)) => a
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| Self::invalid(name, "a list of strings"))
                })
                .collect(),
            Some(_) => Err(Self::invalid(name, "a list of strings")),
        }
    }

    pub fn str_map(&self, name: &str) -> Result<BTreeMap<String, String>, ActionError> {
        match self.0.get(name) {
            None | Some(serde_json::Value::Null) => Ok(BTreeMap::new()),
            Some(serde_json::Value::Object(o)) => o
                .iter()
                .map(|(k, v)| match v {
                    serde_json::Value::String(s) => Ok((k.clone(), s.clone())),
                    serde_json::Value::Number(n) => Ok((k.clone(), n.to_string())),
                    serde_json::Value::Bool(b) => Ok((k.clone(), b.to_string())),
                    _ => Err(Self::invalid(name, "a map of strings")),
                })
                .collect(),
            Some(_) => Err(Self::invalid(name, "a map of strings")),
        }
    }
}

/// A problem `observe` found with the preconditions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub message: String,
    /// What to do about it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hint: String,
}

/// What `observe` saw.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// One line for humans: the state seen.
    pub summary: String,
    /// Observed state, machine-readable (shown in reports).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub facts: BTreeMap<String, serde_json::Value>,
    /// Unmet preconditions. Any finding fails the step (in dry-run as in execute).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<Finding>,
    /// Changes `apply` would make. Empty: nothing to do (already done, or read-only action).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<String>,
    /// Outputs already known (when there is nothing to do, or for read-only actions).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub outputs: BTreeMap<String, String>,
}

/// What `apply` did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub summary: String,
    /// Changes actually made.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub outputs: BTreeMap<String, String>,
}

impl Outcome {
    /// What a read-only action's `apply` reports: its observation, unchanged.
    pub fn observed(observed: &Observation) -> Outcome {
        Outcome {
            summary: observed.summary.clone(),
            changes: vec![],
            outputs: observed.outputs.clone(),
        }
    }

    /// How the summary of an optional step that could not act begins (a KMS promotion whose
    /// primary Region is unreachable): the step is *deferred*, not failed.
    pub const DEFERRED: &'static str = "deferred:";

    pub fn is_deferred(&self) -> bool {
        self.summary.starts_with(Self::DEFERRED)
    }
}

/// Why an action failed. Lowercase message fragments; `hint` says what to do.
#[derive(Debug, Clone, thiserror::Error, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ActionError {
    /// Observe found unmet preconditions.
    #[error("precondition not met: {}", findings.iter().map(|f| f.message.as_str()).collect::<Vec<_>>().join("; "))]
    Precondition { findings: Vec<Finding> },
    /// An AWS call failed.
    #[error("{0}")]
    Aws(Box<AwsFailure>),
    /// The post-condition does not hold.
    #[error("verification failed: {message}")]
    Verification { message: String, hint: String },
    /// A bad parameter value (after rendering).
    #[error("{message}")]
    Invalid { message: String, hint: String },
    /// The endpoint does not support an operation (for example UpdatePrimaryRegion on LocalStack).
    #[error("this endpoint does not support {operation}")]
    Unsupported { operation: String, hint: String },
    /// The Region is impaired by a game-day scenario.
    #[error("{region} is impaired by the scenario ({service} {operation} refused)")]
    Impaired {
        region: String,
        service: String,
        operation: String,
    },
    /// Waiting for a state took longer than allowed.
    #[error("timed out: {message}")]
    Timeout { message: String },
}

/// Error codes meaning the caller's credentials are expired, missing or not valid (AWS Common
/// Errors: ExpiredTokenException, UnrecognizedClientException; STS and other Query APIs:
/// ExpiredToken, InvalidClientTokenId), plus drillbook's own `NoCredentials`.
pub const CREDENTIAL_ERRORS: &[&str] = &[
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "NoCredentials",
];

impl ActionError {
    /// Whether the credentials are expired, missing or invalid: nothing is wrong with the step,
    /// so the run pauses (the step stays in doubt) until new credentials and a resume.
    pub fn is_credentials(&self) -> bool {
        matches!(self, ActionError::Aws(f) if CREDENTIAL_ERRORS.contains(&f.code.as_str()))
    }

    /// Whether an organization's service control policy denied the call.
    pub fn is_scp_denial(&self) -> bool {
        matches!(self, ActionError::Aws(f) if super::aws::is_scp_denial(&f.code, &f.message))
    }

    /// Whether the engine may retry the step: throttling, 5xx and timeouts only.
    pub fn retryable(&self) -> bool {
        match self {
            ActionError::Aws(f) => f.retryable,
            ActionError::Timeout { .. } => true,
            _ => false,
        }
    }

    /// Whether the error means "that Region is not answering": the scenario refused the call,
    /// the connection failed or was reset, the call timed out, the service answered 5xx, or it
    /// kept throttling past the SDK's retries. An optional step is deferred on any of these
    /// (a lost or impaired Region shows each of them: DESIGN.md, domain facts).
    pub fn region_unreachable(&self) -> bool {
        match self {
            ActionError::Impaired { .. } => true,
            ActionError::Aws(f) => {
                f.retryable
                    || matches!(
                        f.code.as_str(),
                        "ConnectionFailed" | "Timeout" | "BadResponse" | "RegionUnreachable"
                    )
            }
            _ => false,
        }
    }

    /// What to do about it, when known.
    pub fn hint(&self) -> Option<&str> {
        let h = match self {
            ActionError::Precondition { findings } => {
                return findings
                    .iter()
                    .map(|f| f.hint.as_str())
                    .find(|h| !h.is_empty());
            }
            ActionError::Aws(f) => f.hint.as_str(),
            ActionError::Verification { hint, .. }
            | ActionError::Invalid { hint, .. }
            | ActionError::Unsupported { hint, .. } => hint.as_str(),
            ActionError::Impaired { .. } => {
                "this step depends on the impaired Region; a real outage would block it"
            }
            ActionError::Timeout { .. } => "raise the step's `timeout:` or check the service",
        };
        (!h.is_empty()).then_some(h)
    }
}

/// The details of a failed AWS call: the service's own error code and message.
#[derive(Debug, Clone, thiserror::Error, Serialize, Deserialize, PartialEq)]
#[error("{service} {operation} in {region}: {code}: {message}")]
pub struct AwsFailure {
    pub service: String,
    pub operation: String,
    pub region: String,
    pub code: String,
    pub message: String,
    pub retryable: bool,
    #[serde(default)]
    pub request_id: Option<String>,
    #[serde(default)]
    pub hint: String,
}
