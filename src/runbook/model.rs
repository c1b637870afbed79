//! The validated runbook: what the rest of drillbook consumes.
//!
//! The loader and validator (`load.rs`, `validate/`) turn YAML into these types; everything
//! downstream (plan, engine, reports) can rely on the invariants documented here: step ids are
//! unique and well formed, every `needs` entry names an existing step, the graph is acyclic,
//! every action exists in the catalogue and every parameter was checked against its spec,
//! `{{ vars.* }}` references are already substituted.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::duration;

/// A runbook after validation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Runbook {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub objectives: Objectives,
    /// Variables after `--var` overrides. A secret's entry holds its value when its
    /// environment variable holds one long enough to redact, else `crate::secret::marker`.
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    /// Secret variables: read from the environment, written nowhere (see `crate::secret`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, SecretVar>,
    /// Account guard: label -> AWS account id. Empty means no guard.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub accounts: BTreeMap<String, String>,
    /// When false (the default), an `approval` step must be approved by another identity.
    #[serde(default)]
    pub allow_self_approval: bool,
    /// Who may approve `approval` steps, and which keys prove it.
    #[serde(default, skip_serializing_if = "Approvers::is_empty")]
    pub approvers: Approvers,
    pub steps: Vec<Step>,
    /// Cleanup steps, run after the graph whatever its outcome.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finally: Vec<Step>,
}

/// A variable declared `{ secret: true, env: ENV_VAR }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretVar {
    /// The environment variable its value is read from.
    pub env: String,
    /// Whether that variable was set when the runbook loaded.
    pub set: bool,
    /// Whether its value was shorter than `crate::secret::MIN_LEN` (too short to redact): it
    /// is not used, and running refuses to start. Validation does not say so: what it says
    /// never depends on an environment variable's value.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub too_short: bool,
}

impl Runbook {
    /// The variables as they may be stored and shown: every secret's value replaced by its
    /// marker.
    pub fn shown_vars(&self) -> BTreeMap<String, String> {
        let mut vars = self.vars.clone();
        for name in self.secrets.keys() {
            vars.insert(name.clone(), crate::secret::marker(name));
        }
        vars
    }

    /// Secrets whose environment variable holds a value too short to redact: (name, env).
    pub fn short_secrets(&self) -> Vec<(&str, &str)> {
        self.secrets
            .iter()
            .filter(|(_, s)| s.too_short)
            .map(|(n, s)| (n.as_str(), s.env.as_str()))
            .collect()
    }

    /// Secrets whose environment variable is unset: (name, env).
    pub fn missing_secrets(&self) -> Vec<(&str, &str)> {
        self.secrets
            .iter()
            .filter(|(_, s)| !s.set)
            .map(|(n, s)| (n.as_str(), s.env.as_str()))
            .collect()
    }
}

/// The runbook's `approvers:`: whom it trusts to pass its `approval` steps.
///
/// An approval counts when the approver's ARN matches `principals` (when any are listed) and
/// the approval is signed by one of `keys` (whose own `principal`, when given, the approver's
/// ARN must also match). Unsigned approvals count only with `allow_unsigned: true`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approvers {
    /// ARN patterns (`*` any run of characters, `?` one character).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub principals: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<ApproverKey>,
    #[serde(default)]
    pub allow_unsigned: bool,
}

impl Approvers {
    pub fn is_empty(&self) -> bool {
        *self == Approvers::default()
    }

    /// Whether `arn` matches `principals` (always, when none are listed).
    pub fn admits(&self, arn: &str) -> bool {
        self.principals.is_empty() || self.principals.iter().any(|p| arn_matches(p, arn))
    }
}

/// One trusted approval key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApproverKey {
    pub key: TrustedKeyRef,
    /// The ARN pattern of the person the key belongs to; an approval signed with it must name
    /// a matching approver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// For a `kms:` key: the SHA-256 (hex) of its public key (the DER that KMS GetPublicKey
    /// returns), printed by `drillbook evidence pin kms:KEY_ARN`. Approvals are checked against
    /// this pin, never against a key fetched from an endpoint at check time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// A key written as `ed25519:HEX` (the 64 hex digits of a `KEY.pub`) or `kms:KEY_ARN`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum TrustedKeyRef {
    /// Lowercase hex of the 32-byte public key.
    Ed25519 { public_key: String },
    /// ARN of an AWS KMS asymmetric signing key (not an alias: an alias can be re-pointed).
    Kms { key_arn: String },
}

impl TrustedKeyRef {
    /// Parses `ed25519:HEX` or `kms:arn:PARTITION:kms:REGION:ACCOUNT:key/ID`.
    pub fn parse(s: &str) -> Result<TrustedKeyRef, String> {
        let s = s.trim();
        if let Some(hex) = s.strip_prefix("ed25519:") {
            let hex = hex.trim().to_ascii_lowercase();
            if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Ok(TrustedKeyRef::Ed25519 { public_key: hex });
            }
            return Err("an Ed25519 key is the 64 hex digits of the `KEY.pub` file".into());
        }
        if let Some(arn) = s.strip_prefix("kms:") {
            let parts: Vec<&str> = arn.splitn(6, ':').collect();
            let ok = parts.len() == 6
                && parts[0] == "arn"
                && parts[2] == "kms"
                && !parts[3].is_empty()
                && parts[4].len() == 12
                && parts[5]
                    .strip_prefix("key/")
                    .is_some_and(|id| !id.is_empty());
            if ok {
                return Ok(TrustedKeyRef::Kms {
                    key_arn: arn.to_string(),
                });
            }
            return Err(
                "a KMS key is named by its key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID), not an alias"
                    .into(),
            );
        }
        Err("expected `ed25519:HEX` or `kms:KEY_ARN`".into())
    }
}

impl std::fmt::Display for TrustedKeyRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TrustedKeyRef::Ed25519 { public_key } => write!(f, "ed25519:{public_key}"),
            TrustedKeyRef::Kms { key_arn } => write!(f, "kms:{key_arn}"),
        }
    }
}

/// Whether `arn` matches the pattern `pattern`: `*` stands for any run of characters (also
/// none), `?` for one; everything else matches itself.
pub fn arn_matches(pattern: &str, arn: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), arn.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
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

/// What every report and verdict calls the achieved RTO. Recovery time is downtime: an approval
/// someone waited for, or a pause before a resume, is part of it (NIST SP 800-34 defines the RTO
/// as the overall time the system can be in the recovery phase). Cleanup (`finally`) is not.
pub const RTO_MEASURE: &str = "wall clock from the run's start to the end of its last recovery step, approvals and pauses included, cleanup excluded";

#[cfg(test)]
mod approver_tests {
    use super::*;

    #[test]
    fn arn_patterns() {
        let role = "arn:aws:sts::222233334444:assumed-role/DrApprover/bob";
        assert!(arn_matches(
            "arn:aws:sts::222233334444:assumed-role/DrApprover/*",
            role
        ));
        assert!(arn_matches("*", role));
        assert!(arn_matches(
            "arn:aws:sts::????????????:assumed-role/*/bob",
            role
        ));
        assert!(!arn_matches(
            "arn:aws:sts::222233334444:assumed-role/DrApprover",
            role
        ));
        assert!(!arn_matches("arn:aws:sts::111122223333:*", role));
        assert!(!arn_matches("", role));
        assert!(arn_matches("a*b*c", "aXbYc"));
        assert!(!arn_matches("a*b*c", "aXbY"));
    }

    #[test]
    fn key_refs() {
        let hex = "ab".repeat(32);
        assert_eq!(
            TrustedKeyRef::parse(&format!("ed25519:{}", hex.to_uppercase())),
            Ok(TrustedKeyRef::Ed25519 { public_key: hex })
        );
        let arn = "arn:aws:kms:us-east-1:222233334444:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        assert_eq!(
            TrustedKeyRef::parse(&format!("kms:{arn}"))
                .unwrap()
                .to_string(),
            format!("kms:{arn}")
        );
        assert!(TrustedKeyRef::parse("kms:arn:aws:kms:us-east-1:222233334444:alias/x").is_err());
        assert!(TrustedKeyRef::parse("ed25519:abcd").is_err());
        assert!(TrustedKeyRef::parse("rsa:xyz").is_err());
    }
}
