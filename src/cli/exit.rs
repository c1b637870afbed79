//! Documented exit codes.

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
