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
pub mod fleet;
pub mod lock;
mod record;
pub mod view;

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

/// What a run goes on with: the runbook and variables it started with, or the ones the last
/// forced resume recorded (`resume --force --runbook FILE --var ...`).
#[derive(Debug, Clone)]
pub struct InEffect<'a> {
    pub runbook_text: &'a str,
    pub runbook_sha256: String,
    pub vars: BTreeMap<String, String>,
    pub vars_sha256: String,
    /// Index of the record from which they hold (0, or the forced `run_resumed`): an approval
    /// request or grant before it was made for something else.
    pub since: usize,
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

    /// The checks every reader of a stored run relies on, made by both stores when they load
    /// it: the runbook copy and the variables are the ones `run_started` hashed, what a forced
    /// resume recorded matches its own hashes, and the run is a dry run or an execution as a
    /// whole (a record of the other mode is corruption: it cannot pass a step).
    pub fn check_integrity(&self) -> Result<(), CheckpointError> {
        let corrupt = |at: usize, reason: String| CheckpointError::Corrupt {
            run_id: self.run_id.clone(),
            seq: self.records.get(at).map_or(1, |r| r.seq),
            line: at + 1,
            reason,
        };
        let Some(Event::RunStarted {
            mode, vars_sha256, ..
        }) = self.records.first().map(|r| &r.event)
        else {
            return Err(corrupt(0, "the first record is not `run_started`".into()));
        };
        if !self.copy_matches_start() {
            return Err(corrupt(
                0,
                "the stored runbook is not the one `run_started` hashed".into(),
            ));
        }
        if let Some(expected) = vars_sha256
            && vars_sha256_of(&self.vars) != *expected
        {
            return Err(corrupt(
                0,
                "the stored variables are not the ones `run_started` hashed (they change only \
                 through `resume --force --var`)"
                    .into(),
            ));
        }
        let dry = *mode == crate::event::Mode::DryRun;
        for (i, r) in self.records.iter().enumerate().skip(1) {
            match &r.event {
                Event::RunStarted { .. } => {
                    return Err(corrupt(i, "a second `run_started`".into()));
                }
                Event::StepSucceeded { step, dry_run, .. } if *dry_run != dry => {
                    return Err(corrupt(
                        i,
                        format!(
                            "a {} record of step `{step}` in {} run",
                            if *dry_run { "dry-run" } else { "executed" },
                            if dry { "a dry" } else { "an executed" }
                        ),
                    ));
                }
                Event::RunResumed { mode: Some(m), .. } if m != mode => {
                    return Err(corrupt(i, format!("a resume in another mode ({m:?})")));
                }
                Event::RunResumed {
                    forced,
                    runbook_sha256,
                    runbook_text,
                    vars,
                    vars_sha256,
                    ..
                } => {
                    let changes = runbook_text.is_some() || vars.is_some();
                    if changes && !forced {
                        return Err(corrupt(
                            i,
                            "a resume that changes the runbook or variables without `--force`"
                                .into(),
                        ));
                    }
                    let text_ok = match (runbook_text, runbook_sha256) {
                        (Some(t), Some(s)) => crate::runbook::load::sha256_hex(t.as_bytes()) == *s,
                        (None, None) => true,
                        _ => false,
                    };
                    let vars_ok = match (vars, vars_sha256) {
                        (Some(v), Some(s)) => vars_sha256_of(v) == *s,
                        (None, None) => true,
                        _ => false,
                    };
                    if !text_ok || !vars_ok {
                        return Err(corrupt(
                            i,
                            "a forced resume whose runbook or variables do not match their hash"
                                .into(),
                        ));
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The runbook and variables the run goes on with.
    pub fn in_effect(&self) -> InEffect<'_> {
        let mut out = InEffect {
            runbook_text: &self.runbook_text,
            runbook_sha256: crate::runbook::load::sha256_hex(self.runbook_text.as_bytes()),
            vars: self.vars.clone(),
            vars_sha256: vars_sha256_of(&self.vars),
            since: 0,
        };
        for (i, r) in self.records.iter().enumerate() {
            if let Event::RunResumed {
                runbook_text, vars, ..
            } = &r.event
                && (runbook_text.is_some() || vars.is_some())
            {
                if let Some(t) = runbook_text {
                    out.runbook_text = t;
                    out.runbook_sha256 = crate::runbook::load::sha256_hex(t.as_bytes());
                }
                if let Some(v) = vars {
                    out.vars = v.clone();
                    out.vars_sha256 = vars_sha256_of(v);
                }
                out.since = i;
            }
        }
        out
    }

    /// The runbook text the run goes on with: the last one a forced resume recorded, else the
    /// run's copy.
    pub fn current_runbook_text(&self) -> &str {
        self.in_effect().runbook_text
    }

    /// The runbook the run goes on with, loaded with the variables in effect (a forced
    /// resume's, else the run's own): what every reader of a stored run judges it by.
    pub fn runbook_in_effect(&self) -> Result<crate::runbook::Loaded, crate::runbook::Diagnostics> {
        let in_effect = self.in_effect();
        let overrides: Vec<(String, String)> = in_effect.vars.into_iter().collect();
        crate::runbook::load_str(
            std::path::Path::new(&self.runbook_path),
            in_effect.runbook_text,
            &overrides,
        )
    }
}

/// SHA-256 of a run's variables as stored: the compact JSON of the sorted map (a secret's
/// entry is its marker, so the hash binds its name, never its value).
pub fn vars_sha256_of(vars: &BTreeMap<String, String>) -> String {
    let json = serde_json::to_string(vars).expect("a map of strings serializes");
    crate::runbook::load::sha256_hex(json.as_bytes())
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
    /// The run's verdict, as every report gives it; `None` when the journal cannot be read.
    pub verdict: Option<view::Verdict>,
    /// For a game-day drill: its scenario and verdict.
    pub drill: Option<DrillSummary>,
    /// For a paused run: the approval steps it waits for (not yet approved).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub awaiting: Vec<String>,
}

/// A drill's scenario and verdict, as `drillbook runs` lists them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DrillSummary {
    pub scenario: String,
    /// The run's verdict (`passed`, `failed`, `dry-run`), or `pending` until the drill is
    /// judged.
    pub verdict: String,
}

impl RunSummary {
    /// The summary of a stored run (journal verified), from its read model
    /// ([`view::RunView`]); `None` when the journal does not start with `run_started`.
    pub fn of(run: &StoredRun) -> Option<RunSummary> {
        let first = run.records.first()?;
        let Event::RunStarted { runbook, .. } = &first.event else {
            return None;
        };
        let view = view::RunView::of(run);
        // The steps a pause awaits approval of, until they are granted or the run goes on.
        let mut awaiting: Vec<String> = vec![];
        for r in &run.records {
            match &r.event {
                Event::RunPaused { awaiting: a, .. } => {
                    awaiting = a.iter().map(|a| a.step.clone()).collect();
                }
                Event::RunResumed { .. } | Event::RunFinished { .. } => awaiting.clear(),
                Event::ApprovalGranted { step, .. } => awaiting.retain(|s| s != step),
                _ => {}
            }
        }
        Some(RunSummary {
            run_id: run.run_id.clone(),
            runbook: runbook.clone(),
            started_at: first.at,
            mode: view.mode,
            status: Some(view.status),
            verdict: Some(view.verdict),
            drill: view.drill.map(|d| DrillSummary {
                scenario: d.scenario,
                verdict: if d.judged {
                    view.verdict.as_str().to_string()
                } else {
                    "pending".into()
                },
            }),
            awaiting,
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
            verdict: None,
            drill: None,
            awaiting: vec![],
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
    /// The store did not answer: a connection refused or reset, a timeout, a 5xx, or
    /// throttling that outlasted the SDK's retries (what a failing Region shows). Whether the
    /// write it was asked for landed is not known.
    #[error("checkpoint store error: {store} is not answering: {message}")]
    Unavailable {
        /// The store, as `--state` names it.
        store: String,
        message: String,
    },
}

impl CheckpointError {
    /// What to do about it, when the error says more than its message.
    pub fn help(&self) -> Option<String> {
        match self {
            CheckpointError::Unavailable { .. } => Some(
                "the team state is on the path to recovery: its table must live where the \
                 outage cannot reach it, never in a Region a runbook fails over from (see \
                 docs/team-state.md, \"Where the table lives\"); once the store answers again, \
                 run the command again"
                    .into(),
            ),
            _ => None,
        }
    }
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
