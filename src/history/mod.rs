//! Readiness over time: what every past run of a runbook says, read incrementally.
//!
//! A [`RunDigest`] is the little that `status`, `history` and learned estimates need from one
//! run (its runbook's name and SHA-256, mode, status, drill verdict, achieved RTO and RPO, and
//! each step's measured duration). Digests are computed once from the journal and kept in an
//! index beside the runs (`index.rs`), so that reading ten thousand runs does not mean parsing
//! ten thousand journals.

mod estimates;
mod index;
pub(crate) mod page;

pub use estimates::{Estimate, EstimateSource, Estimates, MIN_SAMPLES, learn, with_estimates};
pub use index::{DIGEST_VERSION, INDEX_FILE, digests, digests_dynamodb};

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::checkpoint::{StoredRun, status_of};
use crate::event::Event;
use crate::event::Mode;
use crate::report::TimingReport;

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
    /// For a drill: its scenario, the scenario file's SHA-256, and `passed`/`failed`/`pending`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drill: Option<DrillDigest>,
    /// `objectives.rto` (the scenario's for a drill), milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rto_ms: Option<u64>,
    /// The recovery time the RTO is judged on (`report::timing::RTO_MEASURE`).
    pub recovery_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpo_ms: Option<u64>,
    /// The RPO a step measured, when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpo_measured_ms: Option<u64>,
    /// Steps that succeeded, with their active duration (execute mode only: a dry run only
    /// observes, so its durations say nothing about a real run).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepSample>,
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
    /// The digest of a stored run. `None` when its journal has no `run_started`.
    pub fn of(stored: &StoredRun) -> Option<RunDigest> {
        let first = stored.records.first()?;
        let Event::RunStarted { mode, .. } = &first.event else {
            return None;
        };
        let mode = *mode;
        let status = status_of(&stored.records);
        let runbook = stored.runbook_in_effect().ok()?.runbook;
        let timing = TimingReport::from_journal(stored, &runbook);
        let mut drill = None;
        let mut rto_ms = runbook.objectives.rto.map(ms);
        let mut rpo_ms = runbook.objectives.rpo.map(ms);
        let mut rpo_measured_ms = None;
        for r in &stored.records {
            match &r.event {
                Event::DrillStarted {
                    scenario,
                    scenario_sha256,
                    ..
                } => {
                    drill = Some(DrillDigest {
                        scenario: scenario.clone(),
                        scenario_sha256: scenario_sha256.clone(),
                        verdict: "pending".into(),
                    })
                }
                Event::DrillJudged { verdicts, .. } => {
                    if let Some(d) = &mut drill {
                        let passed =
                            status == crate::event::RunStatus::Succeeded && verdicts.all_passed();
                        d.verdict = if passed { "passed" } else { "failed" }.into();
                    }
                    for o in &verdicts.objectives {
                        match o.objective.as_str() {
                            "rto" => rto_ms = Some(ms(o.target)),
                            "rpo" => {
                                rpo_ms = Some(ms(o.target));
                                rpo_measured_ms = o.measured.map(ms);
                            }
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        if rpo_measured_ms.is_none() && mode == Mode::Execute {
            let outputs: BTreeMap<String, BTreeMap<String, String>> = stored
                .records
                .iter()
                .filter_map(|r| match &r.event {
                    Event::StepSucceeded { step, outcome, .. } => {
                        Some((step.clone(), outcome.outputs.clone()))
                    }
                    _ => None,
                })
                .collect();
            rpo_measured_ms = crate::scenario::measured_rpo(outputs.values()).map(|(d, _)| ms(d));
        }
        let steps = if mode == Mode::Execute {
            timing
                .steps
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
        Some(RunDigest {
            run_id: stored.run_id.clone(),
            runbook: runbook.name.clone(),
            runbook_sha256: stored.in_effect().runbook_sha256,
            started_at: first.at,
            ended_at: stored.records.last().map(|r| r.at).unwrap_or(first.at),
            mode,
            status,
            drill,
            rto_ms,
            recovery_ms: timing.recovery_ms,
            rpo_ms,
            rpo_measured_ms,
            steps,
        })
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

    /// Whether the achieved RTO met the objective (`None`: no objective, or not assessed).
    pub fn rto_met(&self) -> Option<bool> {
        (self.mode == Mode::Execute && self.status == crate::event::RunStatus::Succeeded)
            .then_some(())
            .and(self.rto_ms)
            .map(|rto| self.recovery_ms <= rto)
    }

    /// The `n` slowest measured steps, slowest first.
    pub fn slowest(&self, n: usize) -> Vec<&StepSample> {
        let mut s: Vec<&StepSample> = self.steps.iter().collect();
        s.sort_by(|a, b| b.duration_ms.cmp(&a.duration_ms).then(a.id.cmp(&b.id)));
        s.truncate(n);
        s
    }
}

fn ms(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
