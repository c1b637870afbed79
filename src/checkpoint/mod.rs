//! Durable checkpoints: an append-only journal per run, hash-chained.
//!
//! Format (version 1), one JSON object per line in `journal.jsonl`:
//! `{"seq":N,"at":"RFC3339","prev":"<hex sha256 of the previous line's bytes>", "type": ..., ...}`.
//! The first record's `prev` is 64 zeros. Everything before a change to AWS, a failure, or the
//! run's end is durable (fsync'd) before that goes on; the outcomes of read-only steps may be
//! batched. See `docs/journal.md` for the format and the durability rules.

pub mod dynamodb;
pub mod file;
pub mod file_lock;
pub mod lock;
mod record;

pub use file::{encode_line, line_hash, verify_journal};
pub use record::*;

use std::collections::BTreeMap;

use chrono::Utc;

use crate::event::{Event, RunStatus};

use crate::actions::aws::Identity;

/// Everything needed to start a run directory.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub run_id: String,
    /// The runbook file's bytes, as run.
    pub runbook_text: String,
    pub runbook_path: String,
    pub vars: BTreeMap<String, String>,
    pub identity: Option<Identity>,
}

/// Where journals live: a directory (`--state-dir`) or, for teams, a DynamoDB table.
#[async_trait::async_trait]
pub trait CheckpointStore: Send + Sync {
    /// Creates the run (runbook copy, its SHA-256, variables) and writes its first record.
    async fn create(&self, run: &NewRun, first: Event) -> Result<(), CheckpointError>;

    /// Appends records; they are durable when this returns.
    async fn append(&self, run_id: &str, entries: Vec<Event>) -> Result<(), CheckpointError>;

    /// Reads a run back, verifying the hash chain.
    async fn load(&self, run_id: &str) -> Result<StoredRun, CheckpointError>;

    /// Every run, newest first.
    async fn list(&self) -> Result<Vec<RunSummary>, CheckpointError>;
}

/// A run as stored.
#[derive(Debug, Clone)]
pub struct StoredRun {
    pub run_id: String,
    pub runbook_text: String,
    pub runbook_path: String,
    pub runbook_sha256: String,
    pub vars: BTreeMap<String, String>,
    pub records: Vec<Record>,
    /// Hex SHA-256 of the journal's last line: the `prev` the next record carries.
    pub head_sha256: String,
}

impl StoredRun {
    /// Whether the run's copy of the runbook is the one `run_started` hashed (a swapped copy,
    /// with its `runbook.sha256` recomputed, is not).
    pub fn copy_matches_start(&self) -> bool {
        match self.records.first().map(|r| &r.event) {
            Some(Event::RunStarted { runbook_sha256, .. }) => {
                crate::runbook::load::sha256_hex(self.runbook_text.as_bytes()) == *runbook_sha256
            }
            _ => false,
        }
    }

    /// The runbook text the run goes on with: the last one a forced resume recorded, else the
    /// run's copy.
    pub fn current_runbook_text(&self) -> &str {
        self.records
            .iter()
            .rev()
            .find_map(|r| match &r.event {
                Event::RunResumed {
                    runbook_text: Some(t),
                    ..
                } => Some(t.as_str()),
                _ => None,
            })
            .unwrap_or(&self.runbook_text)
    }
}

/// One line of `drillbook runs`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunSummary {
    pub run_id: String,
    pub runbook: String,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub mode: crate::event::Mode,
    /// `running` when the journal has no end after its last start; `None` when the journal
    /// cannot be read (listed as `corrupt`).
    pub status: Option<RunStatus>,
    /// For a game-day drill: its scenario and verdict.
    pub drill: Option<DrillSummary>,
}

/// A drill's scenario and verdict, as `drillbook runs` lists them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DrillSummary {
    pub scenario: String,
    /// `passed`, `failed`, or `pending` until the drill is judged.
    pub verdict: String,
}

impl RunSummary {
    /// The summary of a verified journal; `None` when it does not start with `run_started`.
    pub fn of(run_id: &str, records: &[Record]) -> Option<RunSummary> {
        let Event::RunStarted { runbook, mode, .. } = &records.first()?.event else {
            return None;
        };
        let status = status_of(records);
        let mut drill = None;
        for r in records {
            match &r.event {
                Event::DrillStarted { scenario, .. } => {
                    drill = Some(DrillSummary {
                        scenario: scenario.clone(),
                        verdict: "pending".into(),
                    })
                }
                Event::DrillJudged {
                    scenario, verdicts, ..
                } => {
                    let passed = status == RunStatus::Succeeded && verdicts.all_passed();
                    drill = Some(DrillSummary {
                        scenario: scenario.clone(),
                        verdict: if passed { "passed" } else { "failed" }.into(),
                    })
                }
                _ => {}
            }
        }
        Some(RunSummary {
            run_id: run_id.to_string(),
            runbook: runbook.clone(),
            started_at: records[0].at,
            mode: *mode,
            status: Some(status),
            drill,
        })
    }

    /// The summary of a run whose journal does not verify.
    pub fn corrupt(run_id: &str) -> RunSummary {
        RunSummary {
            run_id: run_id.to_string(),
            runbook: String::new(),
            started_at: chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
            mode: crate::event::Mode::DryRun,
            status: None,
            drill: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("run `{0}` not found")]
    NotFound(String),
    #[error("journal of run `{run_id}` is corrupt at record {seq} (line {line}): {reason}")]
    Corrupt {
        run_id: String,
        seq: u64,
        line: usize,
        reason: String,
    },
    #[error("i/o error on {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("checkpoint store error: {0}")]
    Store(String),
}

/// A new run id: `YYYYMMDD-HHMMSS-xxxx` (UTC time and 4 random hex digits).
pub fn new_run_id() -> String {
    format!(
        "{}-{:04x}",
        Utc::now().format("%Y%m%d-%H%M%S"),
        fastrand::u16(..)
    )
}

/// The status of a run as its records tell it.
pub fn status_of(records: &[Record]) -> RunStatus {
    RunStatus::of(records.iter().map(|r| &r.event))
}
