//! Why the engine refused to run or resume.

use crate::actions::ActionError;
use crate::checkpoint::CheckpointError;
use crate::runbook::Diagnostics;

/// Engine-level failures (a failed *step* is not an error: it is in the run's result).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{0}")]
    Checkpoint(#[from] CheckpointError),
    #[error("{0}")]
    Runbook(Diagnostics),
    /// The runbook's graph does not plan (a validated runbook always does).
    #[error("{0}")]
    Plan(#[from] crate::plan::PlanError),
    #[error(
        "{what} given to resume run `{run_id}` differ from the ones it goes on with\nhelp: \
         resume without them to go on with the run's own copy, or add `--force` to go on with \
         the new ones (recorded in the journal; every approval is asked again)"
    )]
    RunbookChanged { run_id: String, what: String },
    #[error("cannot read the runbook `{path}` given to resume run `{run_id}`: {reason}")]
    RunbookMissing {
        run_id: String,
        path: String,
        reason: String,
    },
    #[error(
        "`--force` given without a change to resume run `{run_id}` with\nhelp: pass the changed \
         runbook with `--runbook FILE` and/or changed variables with `--var NAME=VALUE`"
    )]
    NothingToForce { run_id: String },
    #[error(
        "run `{run_id}` began signed by {signer}, and would end unsigned\nhelp: resume with \
         `--sign-with {hint}` (or set DRILLBOOK_SIGN_WITH): a run that began signed is sealed \
         with the same key; nothing was run"
    )]
    SignerRequired {
        run_id: String,
        signer: String,
        hint: String,
    },
    #[error("cannot determine the caller identity: {0}\nhelp: check your AWS credentials")]
    Identity(ActionError),
    #[error(
        "wrong AWS account: the credentials are for account {actual}, the runbook is for {}\n\
         help: switch to a profile of the right account (`--profile`) or check the runbook's \
         `accounts:`",
        expected.join(", ")
    )]
    WrongAccount {
        actual: String,
        expected: Vec<String>,
    },
    #[error(
        "step `{step}` assumes {role}, in account {account}, which is not one of the runbook's \
         accounts ({})\nhelp: fix the step's (or `defaults`') `role_arn`, or add the account to \
         `accounts:`",
        expected.join(", ")
    )]
    RoleOutsideAccounts {
        step: String,
        role: String,
        account: String,
        expected: Vec<String>,
    },
    #[error(
        "run `{run_id}` has no pending approval for step `{step}`{detail}\nhelp: `drillbook \
         runs` and the run's output show which approvals are awaited"
    )]
    NoPendingApproval {
        run_id: String,
        step: String,
        detail: String,
    },
    #[error(
        "self-approval refused: `{arn}` {how} run `{run_id}` and cannot also approve it\n\
         help: ask another person to run `drillbook approve`, or set `allow_self_approval: \
         true` in the runbook"
    )]
    SelfApproval {
        run_id: String,
        arn: String,
        /// `started` or `resumed`.
        how: &'static str,
    },

    #[error(
        "run `{run_id}` is still in progress (its journal has no pause or end)\nhelp: wait for \
         it to pause at the approval; if its process died, `drillbook resume {run_id}` first"
    )]
    RunInProgress { run_id: String },
    #[error(
        "the approval of step `{step}` in run `{run_id}` does not count: {reason}\nhelp: {help}"
    )]
    ApprovalNotTrusted {
        run_id: String,
        step: String,
        reason: String,
        help: String,
    },
    #[error(
        "secret variable `{name}` has no value: `{env}` is not set\nhelp: `export {env}=...` \
         (from your secret store) and run again; a secret is never stored, so `resume` needs it \
         too"
    )]
    SecretMissing { name: String, env: String },
    #[error(
        "secret variable `{name}` from `{env}` is shorter than {min} characters\nhelp: a value \
         that short would also redact ordinary text; put the real credential in `{env}`",
        min = crate::secret::MIN_LEN
    )]
    SecretTooShort { name: String, env: String },
    #[error("cannot sign the approval: {0}")]
    Signing(crate::evidence::EvidenceError),
    #[error("step `{step}` of the runbook uses action `{action}`, which has no implementation")]
    NoImplementation { step: String, action: String },
}

impl EngineError {
    /// Whether the error is about the input (runbook, journal, arguments): exit code 2.
    pub fn is_invalid_input(&self) -> bool {
        !matches!(
            self,
            EngineError::Checkpoint(CheckpointError::Io { .. })
                | EngineError::Checkpoint(CheckpointError::Store(_))
                | EngineError::Checkpoint(CheckpointError::Unavailable { .. })
                | EngineError::Identity(_)
                | EngineError::Signing(_)
        )
    }
}
