//! What events carry: observations, outcomes and errors of steps, identities, AWS calls, a
//! drill's injections and verdicts. Plain data, below the actions and the scenarios that
//! produce them.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

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
        matches!(self, ActionError::Aws(f) if is_scp_denial(&f.code, &f.message))
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

/// The caller identity (STS GetCallerIdentity).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Identity {
    pub account: String,
    pub arn: String,
}

/// A call that the impairment refused: which step tried to reach the lost Region.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ImpairedCall {
    pub step: Option<String>,
    pub region: String,
    pub service: String,
    pub operation: String,
}

/// An AWS call that changed something (or was meant to): what an auditor looks up in
/// CloudTrail (the request id, with the operation, Region, role and time).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AwsCall {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    pub service: String,
    pub operation: String,
    pub region: String,
    /// The AWS request id (`x-amzn-RequestId`), CloudTrail's `requestID`.
    #[serde(default)]
    pub request_id: Option<String>,
    pub at: chrono::DateTime<chrono::Utc>,
    /// HTTP status of the answer.
    pub status: u16,
    /// The role the call was signed with (none: the caller's credentials).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// The account it acted in (the role's, else the caller's), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
}

/// Whether an error is AWS Organizations' service control policy denying the call.
pub fn is_scp_denial(code: &str, message: &str) -> bool {
    code.contains("AccessDenied")
        && message
            .to_lowercase()
            .contains("explicit deny in a service control policy")
}

/// The verdict on one expectation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ExpectationVerdict {
    pub id: String,
    pub description: String,
    pub passed: bool,
    /// What was found (the observation's summary, or the step's status).
    pub observed: String,
    /// Why it failed, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The verdict on one objective.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ObjectiveVerdict {
    /// `rto` or `rpo`.
    pub objective: String,
    #[serde(with = "crate::duration::serde_str")]
    pub target: Duration,
    /// `None` when the run gave nothing to measure it with.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::duration::serde_opt"
    )]
    pub measured: Option<Duration>,
    pub met: bool,
    pub how: String,
}

/// All verdicts of a drill.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Verdicts {
    pub expectations: Vec<ExpectationVerdict>,
    pub objectives: Vec<ObjectiveVerdict>,
}

impl Verdicts {
    pub fn all_passed(&self) -> bool {
        self.expectations.iter().all(|e| e.passed) && self.objectives.iter().all(|o| o.met)
    }
}

/// An AWS Fault Injection Service experiment a drill started (a scenario's `faults:`), as FIS
/// last described it (GetExperiment).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FisExperiment {
    /// The experiment's id (`EXP...`), what `aws fis get-experiment --id` takes.
    pub id: String,
    /// The experiment template it was started from (`EXT...`).
    pub template: String,
    /// The Region its FIS API was called in, where its actions act.
    pub region: String,
    /// FIS's status: `initiating`, `running`, `completed`, `stopping`, `stopped`, `failed`,
    /// `cancelled`.
    pub state: String,
    /// FIS's reason for the status.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// FIS's `startTime`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    /// FIS's `endTime` (set once the experiment has ended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
    /// Its actions' ids, e.g. `aws:network:disrupt-connectivity`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<String>,
    /// The Availability Zones its network disruption is confined to: every
    /// `aws:network:disrupt-connectivity` action targets subnets filtered by
    /// `AvailabilityZone` (FIS user guide, "Targets for AWS FIS", resource filters). Empty: not
    /// confined to zones (a Region's subnets).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub zones: Vec<String>,
}

impl FisExperiment {
    /// Whether FIS has ended it (it injects nothing any more).
    pub fn has_ended(&self) -> bool {
        matches!(
            self.state.as_str(),
            "completed" | "stopped" | "failed" | "cancelled"
        )
    }
}

/// What one injection did (or, in a dry run, would do).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Injected {
    pub id: String,
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub summary: String,
    pub changes: Vec<String>,
}
