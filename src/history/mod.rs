//! Readiness over time: what every past run of a runbook says, read incrementally.
//!
//! A [`RunDigest`] is the little that `status`, `history` and learned estimates need from one
//! run (its runbook's name and SHA-256, mode, status, drill verdict, achieved RTO and RPO, and
//! each step's measured duration). Digests are computed once from the journal and kept in an
//! index beside the runs (`index.rs`), so that reading ten thousand runs does not mean parsing
//! ten thousand journals.

mod estimates;
mod forecast;
mod index;
pub(crate) mod page;

pub use estimates::{Estimate, EstimateSource, Estimates, MIN_SAMPLES, learn, with_estimates};
pub use forecast::Forecast;
pub use index::{DIGEST_VERSION, INDEX_FILE, digests, digests_dynamodb};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::checkpoint::StoredRun;
use crate::checkpoint::view::{RunView, Verdict};
use crate::event::Event;
use crate::event::Mode;

/// One run, as history reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunDigest {
    pub run_id: String,
    /// The runbook's `name`.
    pub runbook: String,
    /// SHA-256 of the runbook text the run went on with (a forced resume's, else the start's).
    pub runbook_sha256: String,
    pub started_at: DateTime<Utc>,
    /// The last record's time.
    pub ended_at: DateTime<Utc>,
    pub mode: Mode,
    pub status: crate::event::RunStatus,
    /// The run's verdict, as every report gives it (a dry run's is `dry-run`).
    pub verdict: Verdict,
    /// For a drill: its scenario, the scenario file's SHA-256, and its verdict (`passed`,
    /// `failed`, `dry-run`; `pending` until it is judged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drill: Option<DrillDigest>,
    /// `objectives.rto` (the scenario's for a drill), milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rto_ms: Option<u64>,
    /// The recovery time the RTO is judged on (`checkpoint::view::RTO_MEASURE`); `None` unless
    /// the run executed to the end of its recovery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpo_ms: Option<u64>,
    /// The RPO a step measured, when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpo_measured_ms: Option<u64>,
    /// Steps that succeeded, with their active duration (execute mode only: a dry run only
    /// observes, so its durations say nothing about a real run).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepSample>,
    /// For one target of a fleet: the fleet, the account and the Region (its runbook is the
    /// file with `{{ target.* }}` written out, so its SHA-256 is not the file's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<TargetDigest>,
}

/// The fleet target a run was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetDigest {
    pub fleet_id: String,
    pub account: String,
    pub region: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrillDigest {
    pub scenario: String,
    pub scenario_sha256: String,
    pub verdict: String,
}

/// A measured step duration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepSample {
    pub id: String,
    pub action: String,
    pub duration_ms: u64,
}

impl RunDigest {
    /// The digest of a stored run, from its read model. `None` when its journal has no
    /// `run_started`, or its runbook no longer loads.
    pub fn of(stored: &StoredRun) -> Option<RunDigest> {
        let first = stored.records.first()?;
        let Event::RunStarted { .. } = &first.event else {
            return None;
        };
        let runbook = stored.runbook_in_effect().ok()?.runbook;
        let view = RunView::build(stored, &runbook);
        Some(RunDigest::from_view(stored, &view))
    }

    /// The digest of a run whose read model is built.
    pub fn from_view(stored: &StoredRun, view: &RunView) -> RunDigest {
        let drill = view.drill.as_ref().map(|d| DrillDigest {
            scenario: d.scenario.clone(),
            scenario_sha256: d.scenario_sha256.clone(),
            verdict: if d.judged {
                view.verdict.as_str().to_string()
            } else {
                "pending".into()
            },
        });
        let rto = view.objective("rto");
        let rpo = view.objective("rpo");
        let steps = if view.mode == Mode::Execute {
            view.steps
                .iter()
                .filter(|s| s.status == crate::event::StepStatus::Succeeded)
                .filter_map(|s| {
                    Some(StepSample {
                        id: s.id.clone(),
                        action: s.action.clone(),
                        duration_ms: s.duration_ms?,
                    })
                })
                .collect()
        } else {
            vec![]
        };
        let started_at = view.started_at.unwrap_or_default();
        let target = stored.records.iter().find_map(|r| match &r.event {
            Event::FleetTarget {
                fleet_id,
                account,
                region,
                ..
            } => Some(TargetDigest {
                fleet_id: fleet_id.clone(),
                account: account.clone(),
                region: region.clone(),
            }),
            _ => None,
        });
        RunDigest {
            target,
            run_id: stored.run_id.clone(),
            runbook: view.runbook.clone(),
            runbook_sha256: stored.in_effect().runbook_sha256,
            started_at,
            ended_at: view.ended_at.unwrap_or(started_at),
            mode: view.mode,
            status: view.status,
            verdict: view.verdict,
            drill,
            rto_ms: rto.map(|o| o.target_ms),
            recovery_ms: view.times.recovery_ms,
            rpo_ms: rpo.map(|o| o.target_ms),
            rpo_measured_ms: rpo.and_then(|o| o.measured_ms),
            steps,
        }
    }

    /// Whether the run can change no more: it succeeded and, for a drill, was judged.
    pub fn is_final(&self) -> bool {
        self.status == crate::event::RunStatus::Succeeded
            && self.drill.as_ref().is_none_or(|d| d.verdict != "pending")
    }

    /// A drill that passed.
    pub fn passed_drill(&self) -> bool {
        self.drill.as_ref().is_some_and(|d| d.verdict == "passed")
    }

    /// Whether the achieved RTO met the objective (`None`: no objective, or not assessed: no
    /// recovery time, see [`RunView`]).
    pub fn rto_met(&self) -> Option<bool> {
        Some(self.recovery_ms? <= self.rto_ms?)
    }

    /// The `n` slowest measured steps, slowest first.
    pub fn slowest(&self, n: usize) -> Vec<&StepSample> {
        let mut s: Vec<&StepSample> = self.steps.iter().collect();
        s.sort_by(|a, b| b.duration_ms.cmp(&a.duration_ms).then(a.id.cmp(&b.id)));
        s.truncate(n);
        s
    }
}
