//! Documented exit codes, and the failure a command ends with.

/// Exit codes of drillbook (see `--help`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitCode {
    Success = 0,
    /// A step failed or an objective was missed.
    Failed = 1,
    /// Invalid input: runbook, scenario, arguments.
    Invalid = 2,
    /// Paused (awaiting approval, interrupted) and resumable.
    Paused = 3,
    /// Another run holds the lock.
    Locked = 4,
}

impl std::fmt::Display for Failure {
    /// The message alone (without `help:`), for errors that become part of another message.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Why a command stopped before doing its job: what it prints (`error: ...`, and `help: ...`
/// saying what to do) and the exit code it ends with. Commands return it with `?`; the
/// dispatcher prints it once.
#[derive(Debug)]
pub struct Failure {
    pub code: ExitCode,
    message: String,
    help: Option<String>,
    /// Problems found in an input file, printed with their file, line and column before the
    /// message.
    problems: Option<crate::runbook::Diagnostics>,
}

impl Failure {
    /// Invalid input (exit 2): arguments, a runbook, a state URL.
    pub fn invalid(message: impl Into<String>) -> Failure {
        Failure::new(ExitCode::Invalid, message)
    }

    /// Something outside the input failed (exit 1): the runtime, a store, AWS.
    pub fn failed(message: impl Into<String>) -> Failure {
        Failure::new(ExitCode::Failed, message)
    }

    pub fn new(code: ExitCode, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
            help: None,
            problems: None,
        }
    }

    /// What to do about it, printed as `help: ...`.
    pub fn help(mut self, help: impl Into<String>) -> Failure {
        self.help = Some(help.into());
        self
    }

    /// What to do about it, if the failure says.
    pub fn hint(&self) -> Option<&str> {
        self.help.as_deref()
    }

    /// The same failure, its message said as part of `what` (`what: message`).
    pub fn context(self, what: &str) -> Failure {
        Failure {
            message: format!("{what}: {}", self.message),
            ..self
        }
    }

    /// The input problems behind it (with file, line and column), if any.
    pub fn problems(&self) -> Option<&crate::runbook::Diagnostics> {
        self.problems.as_ref()
    }

    /// An input file's problems (exit 2), with what they mean for the command; an empty
    /// message prints the problems alone.
    pub fn in_input(problems: crate::runbook::Diagnostics, message: impl Into<String>) -> Failure {
        Failure {
            problems: Some(problems),
            ..Failure::invalid(message)
        }
    }
}

impl From<crate::runbook::Diagnostics> for Failure {
    fn from(problems: crate::runbook::Diagnostics) -> Failure {
        Failure::in_input(problems, "")
    }
}

impl From<crate::engine::EngineError> for Failure {
    fn from(e: crate::engine::EngineError) -> Failure {
        let help = match &e {
            crate::engine::EngineError::Checkpoint(c) => c.help(),
            _ => None,
        };
        let code = if matches!(e, crate::engine::EngineError::SignerRequired { .. }) {
            // Nothing ran and nothing is lost: the same resume with the key goes on.
            ExitCode::Paused
        } else if e.is_invalid_input() {
            ExitCode::Invalid
        } else {
            ExitCode::Failed
        };
        let failure = Failure::new(code, e.to_string());
        match help {
            Some(h) => failure.help(h),
            None => failure,
        }
    }
}

impl From<crate::checkpoint::CheckpointError> for Failure {
    fn from(e: crate::checkpoint::CheckpointError) -> Failure {
        crate::engine::EngineError::from(e).into()
    }
}

impl From<crate::evidence::EvidenceError> for Failure {
    /// KMS and I/O failures are outside the input (exit 1); the rest is the input (exit 2).
    fn from(e: crate::evidence::EvidenceError) -> Failure {
        use crate::evidence::EvidenceError;
        let code = match e {
            EvidenceError::Kms { .. } | EvidenceError::Io { .. } => ExitCode::Failed,
            _ => ExitCode::Invalid,
        };
        Failure::new(code, e.to_string())
    }
}
