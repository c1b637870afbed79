//! The typed event stream from the engine to the reporters.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::actions::{ActionError, Observation, Outcome};

/// Dry-run or execute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    DryRun,
    Execute,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Succeeded,
    Failed,
    /// Awaiting approval or interrupted: resumable (exit 3).
    Paused,
}

/// One thing that happened during a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    RunStarted {
        at: DateTime<Utc>,
        run_id: String,
        runbook: String,
        mode: Mode,
        steps: usize,
        /// True when this is a resume of an earlier run.
        resumed: bool,
    },
    StepStarted {
        at: DateTime<Utc>,
        step: String,
        action: String,
        attempt: u32,
    },
    StepObserved {
        at: DateTime<Utc>,
        step: String,
        observation: Observation,
    },
    StepRetrying {
        at: DateTime<Utc>,
        step: String,
        attempt: u32,
        error: ActionError,
        #[serde(with = "crate::duration::serde_str")]
        delay: Duration,
    },
    StepSucceeded {
        at: DateTime<Utc>,
        step: String,
        outcome: Outcome,
        #[serde(with = "crate::duration::serde_str")]
        duration: Duration,
    },
    StepFailed {
        at: DateTime<Utc>,
        step: String,
        error: ActionError,
    },
    StepSkipped {
        at: DateTime<Utc>,
        step: String,
        reason: String,
    },
    ApprovalNeeded {
        at: DateTime<Utc>,
        step: String,
        message: String,
    },
    RunFinished {
        at: DateTime<Utc>,
        status: RunStatus,
        #[serde(with = "crate::duration::serde_str")]
        duration: Duration,
    },
}

/// Something that receives events (reporters). Called from the engine's task, in order;
/// implementations must not block for long.
pub trait EventSink: Send + Sync {
    fn emit(&self, event: &Event);
}

/// Collects events in memory (tests, report building).
#[derive(Default)]
pub struct Collect(pub std::sync::Mutex<Vec<Event>>);

impl EventSink for Collect {
    fn emit(&self, event: &Event) {
        self.0
            .lock()
            .expect("event collector poisoned")
            .push(event.clone());
    }
}
