//! Journal records (format version 1).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::actions::aws::Identity;
use crate::actions::{ActionError, Observation, Outcome};
use crate::event::{Mode, RunStatus};

/// Version of the journal format written by this build.
pub const FORMAT_VERSION: u32 = 1;

/// `prev` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One journal line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub seq: u64,
    pub at: DateTime<Utc>,
    /// Hex SHA-256 of the previous line's bytes (without the newline).
    pub prev: String,
    #[serde(flatten)]
    pub entry: Entry,
}

/// An approval signed by the approver's own key (`drillbook approve --sign-with`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedApproval {
    /// The exact JSON text that was signed (an `evidence::approval::Statement`).
    pub statement: String,
    pub signer: SignerInfo,
    /// Base64 of the signature over the bytes of `statement`.
    pub signature: String,
}

/// What a record says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Entry {
    RunStarted {
        format_version: u32,
        run_id: String,
        runbook: String,
        runbook_sha256: String,
        mode: Mode,
        #[serde(default)]
        identity: Option<Identity>,
        #[serde(default)]
        host: String,
        #[serde(default)]
        user: String,
        drillbook_version: String,
        /// Steps in the plan, in a valid start order.
        steps: Vec<String>,
    },
    /// A resume began (by whom, from where).
    RunResumed {
        #[serde(default)]
        identity: Option<Identity>,
        #[serde(default)]
        host: String,
        /// Steps that were running when the previous process stopped.
        in_doubt: Vec<String>,
        /// True when `--force` accepted a changed runbook.
        #[serde(default)]
        forced: bool,
        /// With `forced`: the runbook text the run goes on with, and its SHA-256 (the run's
        /// own copy stays the one `run_started` hashed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        runbook_sha256: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        runbook_text: Option<String>,
        /// Approval steps whose definition, or a dependency's, the forced runbook changed:
        /// their earlier approvals no longer count.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        reapprove: Vec<String>,
    },
    /// The step is about to do something. Without a later outcome it is in doubt.
    StepStarted {
        step: String,
        attempt: u32,
    },
    StepObserved {
        step: String,
        observation: Observation,
    },
    StepRetrying {
        step: String,
        attempt: u32,
        error: ActionError,
        delay_ms: u64,
    },
    /// The AWS calls of one step that changed something, with their request ids (what an
    /// auditor finds in CloudTrail), written with the step's outcome.
    AwsCalls {
        step: String,
        calls: Vec<crate::actions::aws::AwsCall>,
    },
    StepSucceeded {
        step: String,
        outcome: Outcome,
        attempts: u32,
        /// Wall time of the step across attempts.
        duration_ms: u64,
        /// Time spent polling AWS for a state.
        aws_wait_ms: u64,
        /// Dry-run: observed only.
        #[serde(default)]
        dry_run: bool,
    },
    StepFailed {
        step: String,
        error: ActionError,
        attempts: u32,
        duration_ms: u64,
    },
    StepSkipped {
        step: String,
        reason: String,
    },
    ApprovalRequested {
        step: String,
        message: String,
    },
    ApprovalGranted {
        step: String,
        approver: Identity,
        #[serde(default)]
        comment: String,
        /// The approver's signed statement; `None` for an unsigned approval (accepted only
        /// when the runbook sets `approvers: { allow_unsigned: true }`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signed: Option<SignedApproval>,
    },
    /// The run stopped but can be resumed (approval pending, Ctrl-C).
    RunPaused {
        reason: String,
    },
    RunFinished {
        status: RunStatus,
    },
    /// A game-day drill began (written right after `run_started`): the scenario it runs, its
    /// file and SHA-256 (checked again by `drillbook resume`), what it impairs and the damage
    /// it injected before the first step. A run with this record is a drill until it ends,
    /// whichever of an approval, Ctrl-C, a crash or expired credentials pauses it.
    DrillStarted {
        scenario: String,
        scenario_path: String,
        scenario_sha256: String,
        /// The `--root` the scenario's runbook was allowed under, if one was given.
        #[serde(default)]
        root: Option<String>,
        #[serde(default)]
        impaired: Vec<crate::actions::aws::Impairment>,
        /// `{{ drill.injected_at }}`: the moment just before the first injection.
        #[serde(default)]
        injected_at: Option<String>,
        #[serde(default)]
        injections: Vec<crate::scenario::Injected>,
    },
    /// Calls the impairment refused in one process of a drill that then paused, so the verdict
    /// of the resumed drill lists them all.
    DrillRefusedCalls {
        refused_calls: Vec<crate::actions::aws::ImpairedCall>,
    },
    /// A game-day drill's verdicts, written after the run's steps (see `drillbook drill`).
    DrillJudged {
        scenario: String,
        scenario_sha256: String,
        /// Regions (or services in them) the scenario made unreachable.
        #[serde(default)]
        impaired: Vec<crate::actions::aws::Impairment>,
        /// Calls refused by the impairment, with the step that made them.
        #[serde(default)]
        refused_calls: Vec<crate::actions::aws::ImpairedCall>,
        verdicts: crate::scenario::Verdicts,
    },
    /// Free-form, for additions that older readers can skip.
    Note {
        message: String,
        #[serde(default)]
        data: BTreeMap<String, serde_json::Value>,
    },
}

/// A signer, as recorded in an evidence manifest and in a signed approval record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "algorithm", deny_unknown_fields)]
pub enum SignerInfo {
    /// Hashes only: anyone can rewrite such a manifest.
    #[serde(rename = "none")]
    None,
    /// Ed25519 (RFC 8032) over the signing message.
    #[serde(rename = "ed25519")]
    Ed25519 {
        /// Lowercase hex of the 32-byte public key.
        public_key: String,
    },
    /// AWS KMS asymmetric key, key spec `ECC_NIST_P256`, signing algorithm `ECDSA_SHA_256`,
    /// message type `RAW`. The signature is DER (as KMS returns it).
    #[serde(rename = "kms-ecdsa-p256-sha256")]
    KmsEcdsaP256 {
        /// ARN of the KMS key.
        key_arn: String,
        /// Base64 of the DER SubjectPublicKeyInfo (as `kms get-public-key` returns it).
        public_key: String,
    },
}

impl SignerInfo {
    /// `none`, `ed25519` or `kms-ecdsa-p256-sha256`.
    pub fn algorithm(&self) -> &'static str {
        match self {
            SignerInfo::None => "none",
            SignerInfo::Ed25519 { .. } => "ed25519",
            SignerInfo::KmsEcdsaP256 { .. } => "kms-ecdsa-p256-sha256",
        }
    }
}
