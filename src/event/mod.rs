//! The typed event stream from the engine to the reporters.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

mod facts;

pub use facts::*;

/// Dry-run or execute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    DryRun,
    Execute,
}

/// Where a run stands: how a process's part of it ended (`run_finished`, [`Event::RunPaused`])
/// or, read from a journal, `Running` while no end is recorded after its last start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Succeeded,
    Failed,
    /// Awaiting approval or interrupted: resumable (exit 3).
    Paused,
    /// Started or resumed, no end recorded (in progress, or its process stopped).
    Running,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Paused => "paused",
            RunStatus::Running => "running",
        }
    }

    /// The status of a run as its records tell it.
    pub fn of<'a>(events: impl IntoIterator<Item = &'a Event>) -> RunStatus {
        let mut status = RunStatus::Running;
        for e in events {
            match e {
                Event::RunStarted { .. } | Event::RunResumed { .. } => status = RunStatus::Running,
                Event::RunPaused { .. } => status = RunStatus::Paused,
                Event::RunFinished { status: s } => status = *s,
                _ => {}
            }
        }
        status
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What became of a step, as far as the events tell: in the engine while it runs, in every
/// report after.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Succeeded,
    /// An optional step that could not act (its outcome says `deferred ...`).
    Deferred,
    Failed,
    Skipped,
    /// Waiting for `drillbook approve`.
    AwaitingApproval,
    /// Started, no outcome recorded: running, or the process stopped while it ran.
    InDoubt,
    NotStarted,
}

impl StepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Succeeded => "succeeded",
            StepStatus::Deferred => "deferred",
            StepStatus::Failed => "failed",
            StepStatus::Skipped => "skipped",
            StepStatus::AwaitingApproval => "awaiting approval",
            StepStatus::InDoubt => "in doubt",
            StepStatus::NotStarted => "not started",
        }
    }
}

/// One thing that happened to a run: what the engine reports as it happens (console, JSON
/// lines) and what the journal keeps, inside its envelope ([`crate::checkpoint::Record`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
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
        /// SHA-256 of the run's variables as stored (`vars.json`; a secret by name only, see
        /// [`crate::checkpoint::vars_sha256`]): both stores refuse a copy that does not match,
        /// and every approval statement binds it. `None` in older journals.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        vars_sha256: Option<String>,
        /// The key the run's evidence is sealed with, chosen at the start: a resume seals with
        /// the same key (or refuses to seal), so a signed run never ends unsigned.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sealed_by: Option<SignerInfo>,
    },
    /// A resume began (by whom, from where).
    RunResumed {
        /// The run, its runbook, mode and start order (as in `run_started`, for whoever reads
        /// this process's events without the journal's first record); empty in older journals.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        run_id: String,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        runbook: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mode: Option<Mode>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        steps: Vec<String>,
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
        /// With `forced`: the variables the run goes on with (`resume --force --var`) and their
        /// SHA-256; `None` when they did not change.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        vars: Option<std::collections::BTreeMap<String, String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        vars_sha256: Option<String>,
    },
    /// The step is about to do something. Without a later outcome it is in doubt.
    StepStarted {
        step: String,
        /// The step's action (`dynamodb.restore_pitr`); empty in older journals.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        action: String,
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
        calls: Vec<AwsCall>,
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
        /// A random value drawn for this request: an approval statement names it, so a
        /// statement made for an earlier request (before a forced resume) matches no later one.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        nonce: String,
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
        /// The approval steps the run waits for, with their messages.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        awaiting: Vec<Awaited>,
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
        impaired: Vec<crate::catalog::Impairment>,
        /// `{{ drill.injected_at }}`: the moment just before the first injection.
        #[serde(default)]
        injected_at: Option<String>,
        #[serde(default)]
        injections: Vec<Injected>,
    },
    /// This run is one target of a fleet (`--accounts`, `--regions`): the account and Region
    /// it covers, written with `run_started`. A resume keeps the target's lock (runbook,
    /// account and Region) and the fleet record finds its run by it.
    FleetTarget {
        fleet_id: String,
        account: String,
        region: String,
        /// The account's name, when Organizations gave one (else the account id).
        name: String,
    },
    /// An AWS FIS experiment of the drill's `faults:` is running (written with `drill_started`,
    /// before the first step): a resumed drill finds it here, and stops it at its end.
    FaultInjected {
        experiment: FisExperiment,
    },
    /// The drill's end found the experiment ended, or stopped it (StopExperiment): its last
    /// state, reason and times as FIS gave them.
    FaultStopped {
        experiment: FisExperiment,
    },
    /// Calls the impairment refused in one process of a drill that then paused, so the verdict
    /// of the resumed drill lists them all.
    DrillRefusedCalls {
        refused_calls: Vec<ImpairedCall>,
    },
    /// A game-day drill's verdicts, written after the run's steps (see `drillbook drill`).
    DrillJudged {
        scenario: String,
        scenario_sha256: String,
        /// Regions (or services in them) the scenario made unreachable.
        #[serde(default)]
        impaired: Vec<crate::catalog::Impairment>,
        /// Calls refused by the impairment, with the step that made them.
        #[serde(default)]
        refused_calls: Vec<ImpairedCall>,
        verdicts: Verdicts,
    },
    /// Free-form, for additions that older readers can skip.
    Note {
        message: String,
        #[serde(default)]
        data: BTreeMap<String, serde_json::Value>,
    },
}

/// An approval step a paused run waits for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Awaited {
    pub step: String,
    pub message: String,
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

/// Something that receives events as they happen (the console, JSON lines), each with the
/// time it happened. Called from the engine's tasks, in order; implementations must not block
/// for long. The journal keeps the same events, each with the time it was written.
pub trait EventSink: Send + Sync {
    fn emit(&self, at: DateTime<Utc>, event: &Event);
}

/// Collects events in memory (tests, report building).
#[derive(Default)]
pub struct Collect(pub std::sync::Mutex<Vec<Event>>);

impl EventSink for Collect {
    fn emit(&self, _at: DateTime<Utc>, event: &Event) {
        self.0
            .lock()
            .expect("event collector poisoned")
            .push(event.clone());
    }
}
