//! The read model of a run: one typed fold of its journal, built once, that every reader uses
//! (the console's closing lines, the timing report, the run document and its HTML, Markdown,
//! JSON and JUnit renderings, `runs`, `history`, `status`, `report`, the evidence index), so
//! that no two views of a run disagree.
//!
//! It holds the run's mode and status, each step's status (a deferred step is `deferred`, not
//! `succeeded`), its offsets, attempts, slack and place on the critical path, the run's times,
//! its approvals, the drill's faults and judgement, its objectives and its verdict.
//!
//! The times, defined once (and in `docs/report-json.md`):
//! - **total**: wall clock from the journal's first record to its last.
//! - **active**: time in which a drillbook process was running the run: from each
//!   `run_started`/`run_resumed` to that process's `run_paused`, or to the last record it wrote.
//!   Records another command writes while the run is paused (`drillbook approve`) do not make
//!   it active.
//! - **waiting**: time in which no process ran because the run waited for a person (paused for
//!   an approval, until the resume).
//! - **interrupted**: time in which no process ran for any other reason (Ctrl-C, a crash,
//!   expired credentials). `total = active + waiting + interrupted`.
//! - **recovery** (what the RTO is judged on, [`RTO_MEASURE`]): wall clock from the run's start
//!   to the end of its last recovery (non-`finally`) step, waits and pauses included. It exists
//!   only for an executed run that reached the end of its recovery (every recovery step
//!   succeeded or was deferred); a dry run, a failed, paused or unfinished run has none.
//!
//! One verdict rule ([`Verdict`]): a dry run is never `passed`; a failed or unfinished run's
//! objectives are `not assessed` or `missed`, never `met`.
//!
//! Cost: one pass over the records, one topological sort of the runbook and one backward pass,
//! O(records + steps + edges), plus an O(steps log steps) sort of the rows.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::StoredRun;
use crate::event::Event;
use crate::event::{
    ActionError, ExpectationVerdict, FisExperiment, Identity, ImpairedCall, Mode, RunStatus,
    SignerInfo, StepStatus,
};
use crate::runbook::Runbook;
pub use crate::runbook::model::RTO_MEASURE;

/// The one-word answer every view of a run leads with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    /// Executed, every step succeeded (or was deferred), every objective and expectation held.
    #[serde(rename = "passed")]
    Passed,
    /// The run or a step failed, an objective was missed or an expectation did not hold.
    #[serde(rename = "failed")]
    Failed,
    /// Waiting for an approval, interrupted, or still running: resumable.
    #[serde(rename = "paused")]
    Paused,
    /// A dry run that found nothing wrong: nothing was changed, nothing was proven.
    #[serde(rename = "dry-run")]
    DryRun,
}

impl Verdict {
    /// `PASSED`, `FAILED`, `PAUSED`, `DRY RUN`.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Passed => "PASSED",
            Verdict::Failed => "FAILED",
            Verdict::Paused => "PAUSED",
            Verdict::DryRun => "DRY RUN",
        }
    }
    /// `passed`, `failed`, `paused`, `dry-run`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Passed => "passed",
            Verdict::Failed => "failed",
            Verdict::Paused => "paused",
            Verdict::DryRun => "dry-run",
        }
    }
}

/// Whether an objective held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectiveState {
    Met,
    Missed,
    /// Dry run, a run that did not reach the end of its recovery, or nothing to measure it with.
    NotAssessed,
}

impl ObjectiveState {
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectiveState::Met => "met",
            ObjectiveState::Missed => "missed",
            ObjectiveState::NotAssessed => "not assessed",
        }
    }
}

/// One recovery objective against what was measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectiveRow {
    /// `rto` or `rpo`.
    pub objective: String,
    pub target_ms: u64,
    /// What was measured; `None` when nothing could be (for the RTO: unless the run is an
    /// executed one that reached the end of its recovery).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured_ms: Option<u64>,
    pub verdict: ObjectiveState,
    /// How it was measured, or why it was not assessed.
    pub how: String,
}

/// An AWS FIS experiment the drill ran (scenario `faults:`), with its last known state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultRow {
    /// FIS experiment id.
    pub id: String,
    /// The experiment template it was started from.
    pub template: String,
    pub region: String,
    /// FIS's status when last seen: `running` until the drill's end stops it, then `stopped`
    /// (or `completed`, `failed`, ... when FIS ended it first).
    pub state: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<String>,
    /// FIS's startTime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    /// When the drill saw it running (its `fault_injected` record).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running_at: Option<DateTime<Utc>>,
    /// FIS's endTime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
}

/// How many steps ended how.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StepCounts {
    pub total: usize,
    pub succeeded: usize,
    /// Optional steps that could not act (counted apart from `succeeded`).
    pub deferred: usize,
    pub failed: usize,
    pub skipped: usize,
    /// Awaiting approval, in doubt or not started.
    pub other: usize,
}

impl StepCounts {
    /// `10 succeeded, 1 deferred, 0 failed, 2 skipped` (deferred only when there is one).
    pub fn sentence(&self) -> String {
        let mut s = format!("{} succeeded", self.succeeded);
        if self.deferred > 0 {
            s.push_str(&format!(", {} deferred", self.deferred));
        }
        s.push_str(&format!(
            ", {} failed, {} skipped",
            self.failed, self.skipped
        ));
        s
    }
}

/// A stretch of wall-clock time in which no drillbook process ran the run: from a process's
/// end (its `run_paused`, else its last record) to the next resume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gap {
    pub from_ms: u64,
    pub to_ms: u64,
    pub duration_ms: u64,
    /// The run waited for a person (an approval); else it was interrupted or crashed.
    pub waiting: bool,
}

/// The run's times, in milliseconds (see the module's definitions).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Times {
    pub total_ms: u64,
    pub active_ms: u64,
    pub waiting_ms: u64,
    pub interrupted_ms: u64,
    /// The recovery time the RTO is judged on; `None` unless the run executed to the end of
    /// its recovery.
    pub recovery_ms: Option<u64>,
    /// Active time to the end of the last recovery step (the same span without the time no
    /// process ran); `None` with `recovery_ms`.
    pub recovery_active_ms: Option<u64>,
    /// Wall clock from the start to the end of the last recovery step that ended (the total
    /// while none has): how far a run that has not recovered already is, for an RTO it can
    /// only miss.
    pub recovery_span_ms: u64,
}

/// One step as the journal tells it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepView {
    pub id: String,
    /// The step's action; empty for a step only the journal names and that recorded none.
    pub action: String,
    /// A `finally:` (cleanup) step.
    pub cleanup: bool,
    pub status: StepStatus,
    /// Wall-clock offset of its first start (or, without a start, of its first record).
    pub start_ms: Option<u64>,
    /// When its outcome was recorded (for a skipped step: when it was skipped).
    pub finish_ms: Option<u64>,
    /// Active duration: finish minus start, without the time no process ran.
    pub duration_ms: Option<u64>,
    /// Attempts over the whole run, resumes included.
    pub attempts: u32,
    pub aws_wait_ms: u64,
    /// How much later it could have finished without delaying the run (active time); zero on
    /// the critical path, `None` for a step that did not run to an outcome.
    pub slack_ms: Option<u64>,
    pub critical: bool,
    /// The outcome's summary, for a step that succeeded or was deferred.
    pub result: Option<String>,
    /// Its outputs: the outcome's, else (a read-only or already-done step) the observation's.
    pub outputs: BTreeMap<String, String>,
    pub error: Option<String>,
    pub hint: Option<String>,
    /// Why it was skipped.
    pub reason: Option<String>,
}

/// An approval step: who was asked, who approved, when.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApprovalView {
    pub step: String,
    pub message: String,
    pub requested_at: Option<DateTime<Utc>>,
    /// `None` while it is pending.
    pub granted_at: Option<DateTime<Utc>>,
    pub approver: Option<Identity>,
    pub comment: String,
    /// The key its statement was signed with; `None` for an unsigned approval.
    pub signer: Option<SignerInfo>,
}

/// A game-day drill: its scenario and, once judged, what it found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DrillView {
    pub scenario: String,
    pub scenario_sha256: String,
    /// A `drill_judged` record exists (the drill ran to its end).
    pub judged: bool,
    pub impaired: Vec<crate::catalog::Impairment>,
    pub refused_calls: Vec<ImpairedCall>,
    pub expectations: Vec<ExpectationVerdict>,
}

/// A run, read once from its journal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunView {
    pub run_id: String,
    /// The runbook's name (the runbook in effect).
    pub runbook: String,
    pub mode: Mode,
    /// `running` when the journal has no end after its last start.
    pub status: RunStatus,
    pub started_at: Option<DateTime<Utc>>,
    /// The last record's time.
    pub ended_at: Option<DateTime<Utc>>,
    pub times: Times,
    pub gaps: Vec<Gap>,
    pub resumes: u32,
    /// Ordered by start (else finish), then topological order; steps that never started last.
    pub steps: Vec<StepView>,
    pub counts: StepCounts,
    /// Step ids, first to last.
    pub critical_path: Vec<String>,
    /// Active time from the start of the first critical step to the end of the last.
    pub critical_path_ms: u64,
    pub approvals: Vec<ApprovalView>,
    pub faults: Vec<FaultRow>,
    pub drill: Option<DrillView>,
    pub objectives: Vec<ObjectiveRow>,
    /// Where the recovery time leaves out resolver caching (see [`DnsCaching`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_caching: Vec<DnsCaching>,
    pub verdict: Verdict,
}

/// A `dns.resolve` step whose answer resolvers may keep longer than the runbook waited: its
/// TTL (Route 53 DG, "Values that you specify when you create or edit Amazon Route 53 records",
/// TTL: "The amount of time, in seconds, that you want DNS recursive resolvers to cache
/// information about this record") against the `wait` steps it needs. Clients whose resolver
/// cached the old answer keep reaching the old endpoint that much longer than the recovery
/// time says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DnsCaching {
    pub step: String,
    pub ttl_s: u64,
    pub waited_ms: u64,
}

impl DnsCaching {
    /// What the recovery time leaves out, in milliseconds.
    pub fn left_out_ms(&self) -> u64 {
        (self.ttl_s * 1000).saturating_sub(self.waited_ms)
    }

    /// One sentence for the reports.
    pub fn sentence(&self) -> String {
        format!(
            "resolver caching is not in the recovery time: `{}` answered with a TTL of {}s and the runbook waited {} before it, so resolvers may keep the old answer up to {} longer",
            self.step,
            self.ttl_s,
            crate::duration::human(std::time::Duration::from_millis(self.waited_ms)),
            crate::duration::human(std::time::Duration::from_millis(self.left_out_ms())),
        )
    }
}

/// The `dns.resolve` steps that succeeded with a TTL longer than the `wait` steps among
/// their transitive `needs` (the wait given to resolvers after the switch).
fn dns_caching(runbook: &Runbook, steps: &[StepView]) -> Vec<DnsCaching> {
    let by_id: HashMap<&str, &crate::runbook::Step> =
        runbook.steps.iter().map(|s| (s.id.as_str(), s)).collect();
    let mut out = Vec::new();
    for s in steps
        .iter()
        .filter(|s| s.action == "dns.resolve" && matches!(s.status, StepStatus::Succeeded))
    {
        let Some(ttl_s) = s.outputs.get("ttl").and_then(|t| t.parse::<u64>().ok()) else {
            continue;
        };
        let mut waited_ms = 0u64;
        let mut seen: std::collections::HashSet<&str> = Default::default();
        let mut stack: Vec<&str> = by_id
            .get(s.id.as_str())
            .map(|st| st.needs.iter().map(String::as_str).collect())
            .unwrap_or_default();
        while let Some(id) = stack.pop() {
            if !seen.insert(id) {
                continue;
            }
            let Some(st) = by_id.get(id) else { continue };
            if st.action == "wait"
                && let Some(d) = st
                    .with
                    .get("duration")
                    .and_then(|v| v.as_str())
                    .and_then(|d| crate::duration::parse_duration(d).ok())
            {
                waited_ms += ms(d);
            }
            stack.extend(st.needs.iter().map(String::as_str));
        }
        if ttl_s * 1000 > waited_ms {
            out.push(DnsCaching {
                step: s.id.clone(),
                ttl_s,
                waited_ms,
            });
        }
    }
    out
}

/// Per-step accumulation during the pass over the records.
#[derive(Default, Clone)]
struct Acc {
    start: Option<(u64, u64)>, // (wall, active) ms
    finish: Option<(u64, u64)>,
    status: Option<StepStatus>,
    attempts: u32,
    pending_attempt: u32,
    aws_wait_ms: u64,
    result: Option<String>,
    outputs: BTreeMap<String, String>,
    observed_outputs: BTreeMap<String, String>,
    error: Option<String>,
    hint: Option<String>,
    reason: Option<String>,
}

fn ms_between(from: DateTime<Utc>, to: DateTime<Utc>) -> u64 {
    (to - from).num_milliseconds().max(0) as u64
}

fn ms(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl RunView {
    /// The read model of a stored run, with the runbook in effect
    /// ([`StoredRun::runbook_in_effect`]; an empty one when it no longer loads: the steps then
    /// come from the journal alone). Steps the journal names and the runbook does not are kept.
    pub fn build(run: &StoredRun, runbook: &Runbook) -> RunView {
        // Index of every step: runbook steps, then cleanup steps, then journal-only steps.
        let mut ids: Vec<String> = Vec::new();
        let mut actions: Vec<String> = Vec::new();
        let mut cleanup: Vec<bool> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        for (s, is_cleanup) in runbook
            .steps
            .iter()
            .map(|s| (s, false))
            .chain(runbook.finally.iter().map(|s| (s, true)))
        {
            if index.contains_key(&s.id) {
                continue;
            }
            index.insert(s.id.clone(), ids.len());
            ids.push(s.id.clone());
            actions.push(s.action.clone());
            cleanup.push(is_cleanup);
        }
        let mut acc: Vec<Acc> = vec![Acc::default(); ids.len()];
        let mut pending: Vec<usize> = Vec::new();
        let mut mode = Mode::DryRun;
        let mut status = RunStatus::Running;
        let mut gaps: Vec<Gap> = Vec::new();
        let mut gap_total: u64 = 0;
        let mut resumes = 0u32;
        let started_at = run.records.first().map(|r| r.at);
        let ended_at = run.records.last().map(|r| r.at);
        let mut prev_wall: u64 = 0;
        // The last record a running process wrote, and where the last process paused.
        let mut process_wall: u64 = 0;
        let mut paused: Option<(u64, bool)> = None;
        let mut approvals: Vec<ApprovalView> = Vec::new();
        let mut faults: Vec<FaultRow> = Vec::new();
        let mut drill: Option<DrillView> = None;
        let mut judged_objectives: Option<Vec<crate::event::ObjectiveVerdict>> = None;

        for rec in &run.records {
            let start = started_at.unwrap_or(rec.at);
            // Offsets never go backwards, even with clock skew between hosts.
            let wall = ms_between(start, rec.at).max(prev_wall);
            prev_wall = wall;
            if let Event::RunResumed { .. } = rec.event {
                resumes += 1;
                let (from, waiting) = paused.take().unwrap_or((process_wall, false));
                let d = wall.saturating_sub(from);
                if d > 0 {
                    gaps.push(Gap {
                        from_ms: from,
                        to_ms: wall,
                        duration_ms: d,
                        waiting,
                    });
                    gap_total += d;
                }
                // Attempts of steps that were in flight when the process stopped.
                for i in pending.drain(..) {
                    acc[i].attempts += std::mem::take(&mut acc[i].pending_attempt);
                }
                status = RunStatus::Running;
            }
            let idle_now = paused.map_or(0, |(p, _)| wall.saturating_sub(p));
            let active = wall.saturating_sub(gap_total + idle_now);
            if paused.is_none() {
                process_wall = wall;
            }
            let si = match step_of(&rec.event) {
                Some(step) => match index.get(step) {
                    Some(&i) => i,
                    None => {
                        let i = ids.len();
                        ids.push(step.to_string());
                        actions.push(String::new());
                        cleanup.push(false);
                        acc.push(Acc::default());
                        index.insert(step.to_string(), i);
                        i
                    }
                },
                None => usize::MAX,
            };
            match &rec.event {
                Event::RunStarted { mode: m, .. } => mode = *m,
                Event::StepStarted {
                    attempt, action, ..
                } => {
                    if actions[si].is_empty() {
                        actions[si] = action.clone();
                    }
                    let a = &mut acc[si];
                    a.start.get_or_insert((wall, active));
                    if a.pending_attempt == 0 {
                        pending.push(si);
                    }
                    a.pending_attempt = a.pending_attempt.max((*attempt).max(1));
                    if a.finish.is_none() || a.status == Some(StepStatus::Failed) {
                        a.status = Some(StepStatus::InDoubt);
                    }
                }
                Event::StepObserved { observation, .. } => {
                    acc[si].observed_outputs = observation.outputs.clone();
                }
                Event::StepRetrying { attempt, .. } => {
                    let a = &mut acc[si];
                    if a.pending_attempt == 0 {
                        pending.push(si);
                    }
                    a.pending_attempt = a.pending_attempt.max(*attempt);
                }
                Event::StepSucceeded {
                    attempts,
                    aws_wait_ms,
                    outcome,
                    ..
                } => {
                    let a = &mut acc[si];
                    a.start.get_or_insert((wall, active));
                    a.finish = Some((wall, active));
                    a.status = Some(if outcome.is_deferred() {
                        StepStatus::Deferred
                    } else {
                        StepStatus::Succeeded
                    });
                    a.attempts += (*attempts).max(a.pending_attempt).max(1);
                    a.pending_attempt = 0;
                    a.aws_wait_ms += aws_wait_ms;
                    a.result = (!outcome.summary.is_empty()).then(|| outcome.summary.clone());
                    a.outputs = outcome.outputs.clone();
                    a.error = None;
                    a.hint = None;
                }
                Event::StepFailed {
                    error, attempts, ..
                } => {
                    let a = &mut acc[si];
                    a.start.get_or_insert((wall, active));
                    a.finish = Some((wall, active));
                    a.status = Some(StepStatus::Failed);
                    a.attempts += (*attempts).max(a.pending_attempt).max(1);
                    a.pending_attempt = 0;
                    a.error = Some(error.to_string());
                    a.hint = ActionError::hint(error).map(str::to_string);
                }
                Event::StepSkipped { reason, .. } => {
                    let a = &mut acc[si];
                    if !matches!(a.status, Some(StepStatus::Succeeded | StepStatus::Deferred)) {
                        a.finish = Some((wall, active));
                        a.status = Some(StepStatus::Skipped);
                        a.reason = Some(reason.clone());
                    }
                }
                Event::ApprovalRequested { step, message, .. } => {
                    let a = &mut acc[si];
                    a.start.get_or_insert((wall, active));
                    if a.finish.is_none() {
                        a.status = Some(StepStatus::AwaitingApproval);
                    }
                    approvals.push(ApprovalView {
                        step: step.clone(),
                        message: message.clone(),
                        requested_at: Some(rec.at),
                        granted_at: None,
                        approver: None,
                        comment: String::new(),
                        signer: None,
                    });
                }
                Event::ApprovalGranted {
                    step,
                    approver,
                    comment,
                    signed,
                } => {
                    let k = match approvals
                        .iter()
                        .rposition(|a| &a.step == step && a.granted_at.is_none())
                    {
                        Some(k) => k,
                        None => {
                            approvals.push(ApprovalView {
                                step: step.clone(),
                                message: String::new(),
                                requested_at: None,
                                granted_at: None,
                                approver: None,
                                comment: String::new(),
                                signer: None,
                            });
                            approvals.len() - 1
                        }
                    };
                    let row = &mut approvals[k];
                    row.granted_at = Some(rec.at);
                    row.approver = Some(approver.clone());
                    row.comment = comment.clone();
                    row.signer = signed.as_ref().map(|s| s.signer.clone());
                }
                Event::RunPaused { awaiting, .. } => {
                    status = RunStatus::Paused;
                    paused = Some((wall, !awaiting.is_empty()));
                }
                Event::RunFinished { status: s } => status = *s,
                Event::DrillStarted {
                    scenario,
                    scenario_sha256,
                    impaired,
                    ..
                } => {
                    drill = Some(DrillView {
                        scenario: scenario.clone(),
                        scenario_sha256: scenario_sha256.clone(),
                        judged: false,
                        impaired: impaired.clone(),
                        refused_calls: Vec::new(),
                        expectations: Vec::new(),
                    })
                }
                Event::DrillJudged {
                    scenario,
                    scenario_sha256,
                    impaired,
                    refused_calls,
                    verdicts,
                } => {
                    drill = Some(DrillView {
                        scenario: scenario.clone(),
                        scenario_sha256: scenario_sha256.clone(),
                        judged: true,
                        impaired: impaired.clone(),
                        refused_calls: refused_calls.clone(),
                        expectations: verdicts.expectations.clone(),
                    });
                    judged_objectives = Some(verdicts.objectives.clone());
                }
                Event::FaultInjected { experiment: e } => faults.push(fault_row(e, Some(rec.at))),
                Event::FaultStopped { experiment: e } => {
                    match faults
                        .iter_mut()
                        .find(|f| f.id == e.id && f.region == e.region)
                    {
                        Some(row) => {
                            row.state = e.state.clone();
                            row.reason = e.reason.clone();
                            row.ended_at = e.ended_at;
                            row.started_at = row.started_at.or(e.started_at);
                        }
                        None => faults.push(fault_row(e, None)),
                    }
                }
                Event::RunResumed { .. }
                | Event::FleetTarget { .. }
                | Event::Note { .. }
                | Event::DrillRefusedCalls { .. }
                | Event::AwsCalls { .. } => {}
            }
        }
        for i in pending {
            acc[i].attempts += acc[i].pending_attempt;
        }
        let total_ms = prev_wall;
        let (trailing, trailing_waits) = paused.map_or((0, false), |(p, w)| (total_ms - p, w));
        let waiting_ms = gaps
            .iter()
            .filter(|g| g.waiting)
            .map(|g| g.duration_ms)
            .sum::<u64>()
            + if trailing_waits { trailing } else { 0 };
        let interrupted_ms = gaps
            .iter()
            .filter(|g| !g.waiting)
            .map(|g| g.duration_ms)
            .sum::<u64>()
            + if trailing_waits { 0 } else { trailing };
        let active_ms = total_ms.saturating_sub(waiting_ms + interrupted_ms);

        let graph = RunGraph::new(runbook, &index, &acc, &cleanup);
        let n = acc.len();
        let last_main = graph.last_finished(&mut (0..n).filter(|&i| !cleanup[i]));
        let (recovery_span_ms, recovery_span_active) = last_main
            .and_then(|i| acc[i].finish)
            .unwrap_or((total_ms, active_ms));
        let (path, on_path) = graph.critical_path(last_main);
        let critical_path_ms = match (path.first(), path.last()) {
            (Some(&a), Some(&b)) => graph
                .fin(b)
                .saturating_sub(acc[a].start.map(|s| s.1).unwrap_or(0)),
            _ => 0,
        };
        let slack = graph.slack();
        let status_of = |i: usize| acc[i].status.unwrap_or(StepStatus::NotStarted);
        // Recovery reached its end: an executed run that succeeded, or that failed only in its
        // cleanup (every recovery step succeeded or was deferred).
        let recovered = mode == Mode::Execute
            && (status == RunStatus::Succeeded
                || (status == RunStatus::Failed
                    && (0..n).filter(|&i| !cleanup[i]).all(|i| {
                        matches!(status_of(i), StepStatus::Succeeded | StepStatus::Deferred)
                    })));
        let times = Times {
            total_ms,
            active_ms,
            waiting_ms,
            interrupted_ms,
            recovery_ms: recovered.then_some(recovery_span_ms),
            recovery_active_ms: recovered.then_some(recovery_span_active),
            recovery_span_ms,
        };

        let mut counts = StepCounts::default();
        let steps: Vec<StepView> = graph
            .rows()
            .into_iter()
            .map(|i| {
                let a = &acc[i];
                let status = status_of(i);
                counts.total += 1;
                match status {
                    StepStatus::Succeeded => counts.succeeded += 1,
                    StepStatus::Deferred => counts.deferred += 1,
                    StepStatus::Failed => counts.failed += 1,
                    StepStatus::Skipped => counts.skipped += 1,
                    _ => counts.other += 1,
                }
                StepView {
                    id: ids[i].clone(),
                    action: actions[i].clone(),
                    cleanup: cleanup[i],
                    status,
                    start_ms: a.start.map(|s| s.0),
                    finish_ms: a.finish.map(|f| f.0),
                    duration_ms: match (a.start, a.finish) {
                        (Some(s), Some(f)) if status != StepStatus::Skipped => {
                            Some(f.1.saturating_sub(s.1))
                        }
                        _ => None,
                    },
                    attempts: a.attempts,
                    aws_wait_ms: a.aws_wait_ms,
                    // The critical path has no slack: its steps' own scheduling delays (the
                    // moment between a dependency's end and the next start) are not slack.
                    slack_ms: if on_path[i] { Some(0) } else { slack[i] },
                    critical: on_path[i],
                    result: a.result.clone(),
                    outputs: if a.outputs.is_empty() {
                        a.observed_outputs.clone()
                    } else {
                        a.outputs.clone()
                    },
                    error: a.error.clone(),
                    hint: a.hint.clone(),
                    reason: a.reason.clone(),
                }
            })
            .collect();

        let judge = Judge {
            mode,
            status,
            recovered,
            recovery_span_ms,
            recovery_ms: times.recovery_ms,
        };
        let objectives = match &judged_objectives {
            // The drill's own objectives (its scenario's), judged again by the one rule: a
            // journal written before the rule may say `met` for a run that failed.
            Some(judged) => judged
                .iter()
                .map(|o| {
                    let mut row = judge.objective(
                        &o.objective,
                        ms(o.target),
                        if o.objective == "rto" {
                            times.recovery_ms
                        } else {
                            o.measured.map(ms)
                        },
                        &o.how,
                    );
                    // The rule never raises what the drill itself judged.
                    if row.verdict == ObjectiveState::Met && !o.met {
                        row.verdict = ObjectiveState::Missed;
                    }
                    row
                })
                .collect(),
            None => {
                let mut rows = Vec::new();
                if let Some(rto) = runbook.objectives.rto {
                    rows.push(judge.objective("rto", ms(rto), times.recovery_ms, RTO_MEASURE));
                }
                if let Some(rpo) = runbook.objectives.rpo {
                    let measured = crate::scenario::measured_rpo(steps.iter().map(|s| &s.outputs));
                    let (m, how) = match measured {
                        Some((d, how)) => (Some(ms(d)), how),
                        None => (
                            None,
                            "not measured: no step reported a replication or PITR lag".into(),
                        ),
                    };
                    rows.push(judge.objective("rpo", ms(rpo), m, &how));
                }
                rows
            }
        };

        let judged = drill.as_ref().is_some_and(|d| d.judged);
        let failed_expectations = drill
            .as_ref()
            .is_some_and(|d| d.expectations.iter().any(|e| !e.passed));
        let missed = objectives.iter().any(|o| {
            o.verdict == ObjectiveState::Missed
                || (judged
                    && mode == Mode::Execute
                    && status == RunStatus::Succeeded
                    && o.verdict == ObjectiveState::NotAssessed)
        });
        let verdict =
            if status == RunStatus::Failed || counts.failed > 0 || failed_expectations || missed {
                Verdict::Failed
            } else if status != RunStatus::Succeeded {
                Verdict::Paused
            } else if mode == Mode::DryRun {
                Verdict::DryRun
            } else {
                Verdict::Passed
            };

        let dns_caching = dns_caching(runbook, &steps);
        RunView {
            run_id: run.run_id.clone(),
            runbook: runbook.name.clone(),
            mode,
            status,
            started_at,
            ended_at,
            times,
            gaps,
            resumes,
            steps,
            counts,
            critical_path: path.iter().map(|&i| ids[i].clone()).collect(),
            critical_path_ms,
            approvals,
            faults,
            drill,
            dns_caching,
            objectives,
            verdict,
        }
    }

    /// The view of a stored run with the runbook in effect (the journal alone when it no
    /// longer loads).
    pub fn of(run: &StoredRun) -> RunView {
        match run.runbook_in_effect() {
            Ok(l) => RunView::build(run, &l.runbook),
            Err(_) => RunView::build(run, &journal_only(run)),
        }
    }

    /// The step `id`.
    pub fn step(&self, id: &str) -> Option<&StepView> {
        self.steps.iter().find(|s| s.id == id)
    }

    /// The objective `rto` or `rpo`.
    pub fn objective(&self, name: &str) -> Option<&ObjectiveRow> {
        self.objectives.iter().find(|o| o.objective == name)
    }

    /// Each step's outputs and its final status, by step id (what a drill's expectations are
    /// checked against).
    pub fn step_results(
        &self,
    ) -> (
        BTreeMap<String, BTreeMap<String, String>>,
        BTreeMap<String, String>,
    ) {
        let mut outputs = BTreeMap::new();
        let mut statuses = BTreeMap::new();
        for s in &self.steps {
            if matches!(s.status, StepStatus::Succeeded | StepStatus::Deferred) {
                outputs.insert(s.id.clone(), s.outputs.clone());
            }
            if matches!(
                s.status,
                StepStatus::Succeeded
                    | StepStatus::Deferred
                    | StepStatus::Failed
                    | StepStatus::Skipped
            ) {
                statuses.insert(s.id.clone(), s.status.as_str().to_string());
            }
        }
        (outputs, statuses)
    }
}

/// A runbook with no steps, named after the run's file: what a view is built with when the
/// stored runbook no longer loads (an older drillbook wrote it).
pub fn journal_only(run: &StoredRun) -> Runbook {
    Runbook {
        name: run.runbook_path.clone(),
        description: None,
        objectives: Default::default(),
        vars: run.vars.clone(),
        accounts: Default::default(),
        allow_self_approval: false,
        approvers: Default::default(),
        secrets: Default::default(),
        steps: vec![],
        finally: vec![],
    }
}

fn fault_row(e: &FisExperiment, running_at: Option<DateTime<Utc>>) -> FaultRow {
    FaultRow {
        id: e.id.clone(),
        template: e.template.clone(),
        region: e.region.clone(),
        state: e.state.clone(),
        reason: e.reason.clone(),
        actions: e.actions.clone(),
        started_at: e.started_at,
        running_at,
        ended_at: e.ended_at,
    }
}

/// What the objectives are judged with: the one rule.
struct Judge {
    mode: Mode,
    status: RunStatus,
    recovered: bool,
    recovery_span_ms: u64,
    recovery_ms: Option<u64>,
}

impl Judge {
    /// A dry run assesses nothing; a run that did not reach the end of its recovery can only
    /// miss an objective (already past it), never meet one; otherwise the measurement decides.
    fn objective(
        &self,
        name: &str,
        target_ms: u64,
        measured: Option<u64>,
        how: &str,
    ) -> ObjectiveRow {
        let row = |measured_ms, verdict, how: String| ObjectiveRow {
            objective: name.to_string(),
            target_ms,
            measured_ms,
            verdict,
            how,
        };
        if self.mode == Mode::DryRun {
            return row(
                None,
                ObjectiveState::NotAssessed,
                "dry run: only observation was timed".into(),
            );
        }
        if !self.recovered {
            let what = match self.status {
                RunStatus::Failed => "the run failed",
                RunStatus::Paused => "the run is paused",
                RunStatus::Succeeded | RunStatus::Running => "the run has not finished",
            };
            // Already past the objective: missed whatever comes.
            let past = if name == "rto" {
                self.recovery_span_ms > target_ms
            } else {
                measured.is_some_and(|m| m > target_ms)
            };
            return if past {
                row(
                    (name != "rto").then_some(measured).flatten(),
                    ObjectiveState::Missed,
                    format!("{what}, already past the objective"),
                )
            } else {
                row(None, ObjectiveState::NotAssessed, what.to_string())
            };
        }
        let measured = if name == "rto" {
            self.recovery_ms
        } else {
            measured
        };
        match measured {
            Some(m) => row(
                Some(m),
                if m <= target_ms {
                    ObjectiveState::Met
                } else {
                    ObjectiveState::Missed
                },
                how.to_string(),
            ),
            None => row(None, ObjectiveState::NotAssessed, how.to_string()),
        }
    }
}

/// The step a record is about.
fn step_of(e: &Event) -> Option<&str> {
    match e {
        Event::StepStarted { step, .. }
        | Event::StepObserved { step, .. }
        | Event::StepRetrying { step, .. }
        | Event::StepSucceeded { step, .. }
        | Event::StepFailed { step, .. }
        | Event::StepSkipped { step, .. }
        | Event::ApprovalRequested { step, .. }
        | Event::ApprovalGranted { step, .. } => Some(step),
        _ => None,
    }
}

/// A run's steps as a graph (by index), with what each did: what the critical path, the slack
/// and the rows' order are computed on. Cleanup steps without `needs` follow the whole main
/// graph.
struct RunGraph<'a> {
    acc: &'a [Acc],
    cleanup: &'a [bool],
    needs: Vec<Vec<usize>>,
    /// Cleanup steps without `needs`.
    cleanup_root: Vec<bool>,
    order: Vec<usize>,
    /// Each step's place in `order`.
    pos: Vec<usize>,
}

impl<'a> RunGraph<'a> {
    fn new(
        runbook: &Runbook,
        index: &HashMap<String, usize>,
        acc: &'a [Acc],
        cleanup: &'a [bool],
    ) -> RunGraph<'a> {
        let n = acc.len();
        let mut needs: Vec<Vec<usize>> = vec![Vec::new(); n];
        for s in runbook.steps.iter().chain(&runbook.finally) {
            let i = index[s.id.as_str()];
            if needs[i].is_empty() {
                needs[i] = s
                    .needs
                    .iter()
                    .filter_map(|d| index.get(d.as_str()).copied())
                    .filter(|&d| d != i)
                    .collect();
            }
        }
        let cleanup_root = (0..n).map(|i| cleanup[i] && needs[i].is_empty()).collect();
        let order = topo_order(&needs, cleanup);
        let mut pos = vec![0; n];
        for (k, &i) in order.iter().enumerate() {
            pos[i] = k;
        }
        RunGraph {
            acc,
            cleanup,
            needs,
            cleanup_root,
            order,
            pos,
        }
    }

    /// Whether step `i` ran to an end (succeeded, deferred or failed).
    fn ran(&self, i: usize) -> bool {
        let a = &self.acc[i];
        a.start.is_some()
            && a.finish.is_some()
            && matches!(
                a.status,
                Some(StepStatus::Succeeded | StepStatus::Deferred | StepStatus::Failed)
            )
    }

    /// When step `i` finished, in active time.
    fn fin(&self, i: usize) -> u64 {
        self.acc[i].finish.map(|f| f.1).unwrap_or(0)
    }

    /// The step of `steps` that ran and finished last (ties: the later in topological order).
    fn last_finished(&self, steps: &mut dyn Iterator<Item = usize>) -> Option<usize> {
        let later = |a: usize, b: usize| (self.fin(a), self.pos[a]) > (self.fin(b), self.pos[b]);
        steps
            .filter(|&i| self.ran(i))
            .fold(None, |best: Option<usize>, i| match best {
                Some(b) if !later(i, b) => Some(b),
                _ => Some(i),
            })
    }

    /// The actual critical path, first step first, and each step's membership: from the step
    /// that finished last, follow the dependency that finished last.
    fn critical_path(&self, last_main: Option<usize>) -> (Vec<usize>, Vec<bool>) {
        let mut path: Vec<usize> = Vec::new();
        let mut on_path = vec![false; self.acc.len()];
        let mut cur = self.last_finished(&mut (0..self.acc.len()));
        while let Some(c) = cur {
            if on_path[c] {
                break; // a cycle in a hand-edited journal; never loop
            }
            on_path[c] = true;
            path.push(c);
            cur = if self.cleanup_root[c] {
                last_main
            } else {
                self.last_finished(&mut self.needs[c].iter().copied())
            };
        }
        path.reverse();
        (path, on_path)
    }

    /// Each step's slack: a backward pass in reverse topological order on active time. A step
    /// may finish as late as the latest start of every step that needs it allows; steps
    /// nothing needs may finish as late as the run's last finish.
    fn slack(&self) -> Vec<Option<u64>> {
        let n = self.acc.len();
        let run_end = (0..n)
            .filter(|&i| self.ran(i))
            .map(|i| self.fin(i))
            .max()
            .unwrap_or(0) as i64;
        let mut cap: Vec<i64> = vec![run_end; n];
        let mut cleanup_cap = run_end;
        let mut slack: Vec<Option<u64>> = vec![None; n];
        for &i in self.order.iter().rev() {
            if !self.ran(i) {
                continue;
            }
            let (_, s) = self.acc[i].start.unwrap_or_default();
            let f = self.fin(i);
            let mut lf = cap[i];
            if !self.cleanup[i] {
                lf = lf.min(cleanup_cap);
            }
            slack[i] = Some((lf - f as i64).max(0) as u64);
            let ls = lf - (f.saturating_sub(s)) as i64;
            if self.cleanup_root[i] {
                cleanup_cap = cleanup_cap.min(ls);
            }
            for &d in &self.needs[i] {
                cap[d] = cap[d].min(ls);
            }
        }
        slack
    }

    /// The rows' order: by start (else finish) time, then topological order; steps that
    /// never started last.
    fn rows(&self) -> Vec<usize> {
        let mut rows: Vec<usize> = (0..self.acc.len()).collect();
        rows.sort_by_key(|&i| {
            let a = &self.acc[i];
            let t = a.start.or(a.finish).map(|t| t.0).unwrap_or(u64::MAX);
            (t, self.pos[i])
        });
        rows
    }
}

/// Kahn's algorithm: main steps first, then cleanup steps; ties keep runbook order. Steps left
/// over by a cycle (impossible after validation) are appended in runbook order.
fn topo_order(needs: &[Vec<usize>], cleanup: &[bool]) -> Vec<usize> {
    // Within its own group only: a cleanup step's need on a main step is only an ordering.
    let local: Vec<Vec<usize>> = needs
        .iter()
        .enumerate()
        .map(|(i, ds)| {
            ds.iter()
                .copied()
                .filter(|&d| cleanup[d] == cleanup[i])
                .collect()
        })
        .collect();
    let (mut order, left) = crate::dag::topo_order(&local);
    // Steps of a cycle in a hand-edited journal go last, never lost.
    order.extend(left);
    order.sort_by_key(|&i| cleanup[i]);
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::{FORMAT_VERSION, GENESIS, Record};
    use crate::event::Outcome;

    const RUNBOOK: &str = r#"
version: 1
name: failover
objectives: { rto: 2m }
defaults: { region: eu-west-1 }
steps:
  - { id: check-pitr, action: dynamodb.assert_pitr, with: { table: vault } }
  - { id: check-key, action: kms.assert_replica, with: { key: alias/k } }
  - id: restore-vault
    action: dynamodb.restore_pitr
    needs: [check-pitr]
    with: { source_table: vault, target_table: vault-copy }
  - { id: promote-key, action: kms.promote, needs: [check-key], with: { key: alias/k } }
  - id: update-stage
    action: apigateway.update_stage
    needs: [promote-key, restore-vault]
    with: { rest_api: api, variables: { table: vault-copy } }
  - id: switch-dns
    action: route53.failover
    needs: [update-stage]
    with: { hosted_zone: example.com., record_name: api.example.com }
  - id: verify-alarm
    action: cloudwatch.wait_alarm
    needs: [switch-dns]
    with: { alarms: [api-5xx] }
finally:
  - { id: delete-restored, action: dynamodb.delete_table, with: { table: vault-copy } }
"#;

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-23T18:45:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn run_of(entries: Vec<(f64, Event)>) -> StoredRun {
        let records = entries
            .into_iter()
            .enumerate()
            .map(|(i, (secs, event))| Record {
                seq: i as u64,
                at: t0() + chrono::Duration::milliseconds((secs * 1000.0) as i64),
                prev: GENESIS.into(),
                event,
            })
            .collect();
        StoredRun {
            head_sha256: String::new(),
            run_id: "r1".into(),
            runbook_text: RUNBOOK.into(),
            runbook_path: "failover.yaml".into(),
            runbook_sha256: String::new(),
            vars: Default::default(),
            records,
        }
    }

    fn runbook() -> Runbook {
        crate::runbook::load_str(std::path::Path::new("failover.yaml"), RUNBOOK, &[])
            .unwrap()
            .runbook
    }

    fn started(mode: Mode) -> Event {
        Event::RunStarted {
            format_version: FORMAT_VERSION,
            run_id: "r1".into(),
            runbook: "failover.yaml".into(),
            runbook_sha256: String::new(),
            mode,
            identity: None,
            host: String::new(),
            user: String::new(),
            drillbook_version: "0.1.0".into(),
            steps: vec![],
            vars_sha256: None,
            sealed_by: None,
        }
    }
    fn start(step: &str, attempt: u32) -> Event {
        Event::StepStarted {
            action: String::new(),
            step: step.into(),
            attempt,
        }
    }
    fn ok(step: &str, attempts: u32, wait: u64) -> Event {
        Event::StepSucceeded {
            step: step.into(),
            outcome: Outcome::default(),
            attempts,
            duration_ms: 0,
            aws_wait_ms: wait,
            dry_run: false,
        }
    }

    fn scripted() -> StoredRun {
        run_of(vec![
            (0.0, started(Mode::Execute)),
            (0.0, start("check-pitr", 1)),
            (0.0, start("check-key", 1)),
            (1.0, ok("check-key", 1, 0)),
            (1.0, start("promote-key", 1)),
            (2.0, ok("check-pitr", 1, 0)),
            (2.0, start("restore-vault", 1)),
            (11.0, ok("promote-key", 1, 8000)),
            (62.0, ok("restore-vault", 2, 50_000)),
            (62.0, start("update-stage", 1)),
            (70.0, ok("update-stage", 1, 0)),
            (70.0, start("switch-dns", 1)),
            (
                75.0,
                Event::StepFailed {
                    step: "switch-dns".into(),
                    error: ActionError::Invalid {
                        message: "bad".into(),
                        hint: "fix it".into(),
                    },
                    attempts: 1,
                    duration_ms: 5000,
                },
            ),
            (
                75.0,
                Event::StepSkipped {
                    step: "verify-alarm".into(),
                    reason: "switch-dns failed".into(),
                },
            ),
            (75.0, start("delete-restored", 1)),
            (80.0, ok("delete-restored", 1, 0)),
            (
                80.0,
                Event::RunFinished {
                    status: RunStatus::Failed,
                },
            ),
        ])
    }

    fn step<'a>(r: &'a RunView, id: &str) -> &'a StepView {
        r.steps.iter().find(|s| s.id == id).unwrap()
    }

    #[test]
    fn critical_path_follows_the_dependency_that_finished_last() {
        let r = RunView::build(&scripted(), &runbook());
        assert_eq!(
            r.critical_path,
            [
                "check-pitr",
                "restore-vault",
                "update-stage",
                "switch-dns",
                "delete-restored"
            ]
        );
        assert_eq!(r.critical_path_ms, 80_000);
        assert_eq!(r.times.total_ms, 80_000);
        assert_eq!(r.status, RunStatus::Failed);
        for id in &r.critical_path {
            assert_eq!(step(&r, id).slack_ms, Some(0), "{id}");
            assert!(step(&r, id).critical);
        }
        // promote-key finished at 11s; update-stage could have started as late as 62s.
        assert_eq!(step(&r, "promote-key").slack_ms, Some(51_000));
        // check-key: promote-key (10s) could start at 52s at the latest.
        assert_eq!(step(&r, "check-key").slack_ms, Some(51_000));
        assert!(!step(&r, "promote-key").critical);
        let v = step(&r, "verify-alarm");
        assert_eq!(v.status, StepStatus::Skipped);
        assert_eq!((v.slack_ms, v.duration_ms), (None, None));
        let rv = step(&r, "restore-vault");
        assert_eq!(
            (rv.start_ms, rv.duration_ms, rv.attempts, rv.aws_wait_ms),
            (Some(2000), Some(60_000), 2, 50_000)
        );
        let sd = step(&r, "switch-dns");
        assert_eq!(sd.status, StepStatus::Failed);
        assert_eq!(sd.hint.as_deref(), Some("fix it"));
        // A failed run is not assessed against the RTO while it is still within it.
        assert_eq!(r.objectives[0].verdict, ObjectiveState::NotAssessed);
        assert_eq!(r.objectives[0].measured_ms, None, "no RTO for a failed run");
        assert_eq!(r.times.recovery_ms, None);
        assert_eq!(r.verdict, Verdict::Failed);
        assert_eq!(
            (r.counts.succeeded, r.counts.failed, r.counts.skipped),
            (6, 1, 1)
        );
    }

    #[test]
    fn paused_gaps_are_not_active_time_nor_slack() {
        let rb = runbook();
        let run = run_of(vec![
            (0.0, started(Mode::Execute)),
            (0.0, start("check-pitr", 1)),
            (10.0, ok("check-pitr", 1, 0)),
            (10.0, start("restore-vault", 1)),
            // the process dies here; restore-vault is in doubt
            (
                100.0,
                Event::RunResumed {
                    run_id: String::new(),
                    runbook: String::new(),
                    mode: None,
                    steps: vec![],
                    identity: None,
                    host: String::new(),
                    in_doubt: vec!["restore-vault".into()],
                    forced: false,
                    runbook_sha256: None,
                    runbook_text: None,
                    reapprove: vec![],
                    vars: None,
                    vars_sha256: None,
                },
            ),
            (100.0, start("restore-vault", 1)),
            (130.0, ok("restore-vault", 1, 0)),
            (
                130.0,
                Event::RunFinished {
                    status: RunStatus::Succeeded,
                },
            ),
        ]);
        let r = RunView::build(&run, &rb);
        assert_eq!(r.times.total_ms, 130_000);
        assert_eq!(r.times.active_ms, 40_000);
        assert_eq!(r.resumes, 1);
        assert_eq!(r.gaps.len(), 1);
        assert_eq!((r.gaps[0].from_ms, r.gaps[0].to_ms), (10_000, 100_000));
        assert_eq!(r.critical_path, ["check-pitr", "restore-vault"]);
        let rv = step(&r, "restore-vault");
        assert_eq!(rv.start_ms, Some(10_000));
        assert_eq!(rv.duration_ms, Some(30_000));
        assert_eq!(rv.attempts, 2, "the in-doubt attempt counts");
        assert_eq!(step(&r, "check-pitr").slack_ms, Some(0));
        // Succeeded run, 130s wall clock against a 2m RTO: the pause is downtime too.
        assert_eq!(
            (r.times.recovery_ms, r.times.recovery_active_ms),
            (Some(130_000), Some(40_000))
        );
        assert_eq!((r.times.waiting_ms, r.times.interrupted_ms), (0, 90_000));
        assert!(!r.gaps[0].waiting);
        assert_eq!(r.objectives[0].measured_ms, Some(130_000));
        assert_eq!(r.objectives[0].verdict, ObjectiveState::Missed);
        assert_eq!(r.verdict, Verdict::Failed);
    }

    /// The RTO is met or missed on recovery time: cleanup after the last recovery step is not
    /// downtime, an approval wait is.
    #[test]
    fn the_rto_is_judged_on_recovery_time_not_on_cleanup() {
        let rb = runbook();
        let run = run_of(vec![
            (0.0, started(Mode::Execute)),
            (0.0, start("check-pitr", 1)),
            (100.0, ok("check-pitr", 1, 0)),
            // cleanup: 5 minutes
            (100.0, start("delete-restored", 1)),
            (400.0, ok("delete-restored", 1, 0)),
            (
                400.0,
                Event::RunFinished {
                    status: RunStatus::Succeeded,
                },
            ),
        ]);
        let r = RunView::build(&run, &rb);
        assert_eq!(r.times.total_ms, 400_000);
        assert_eq!(
            r.times.recovery_ms,
            Some(100_000),
            "to the end of the last recovery step"
        );
        let rto = &r.objectives[0];
        assert_eq!(
            (rto.measured_ms, rto.verdict),
            (Some(100_000), ObjectiveState::Met)
        );
        assert_eq!(r.verdict, Verdict::Passed);
    }

    #[test]
    fn empty_and_odd_journals_do_not_panic() {
        let rb = runbook();
        let r = RunView::build(&run_of(vec![]), &rb);
        assert!(r.critical_path.is_empty());
        assert_eq!(r.status, RunStatus::Running);
        assert_eq!(r.verdict, Verdict::Paused);
        // A step the runbook does not know, and an outcome without a start.
        let r = RunView::build(
            &run_of(vec![
                (0.0, started(Mode::DryRun)),
                (1.0, ok("ghost", 1, 0)),
                (2.0, ok("check-key", 0, 0)),
            ]),
            &rb,
        );
        assert_eq!(step(&r, "ghost").status, StepStatus::Succeeded);
        assert_eq!(step(&r, "check-key").attempts, 1);
        assert_eq!(r.objectives[0].verdict, ObjectiveState::NotAssessed);
        assert_eq!(r.times.recovery_ms, None);
    }

    fn resumed() -> Event {
        Event::RunResumed {
            run_id: String::new(),
            runbook: String::new(),
            mode: None,
            steps: vec![],
            identity: None,
            host: String::new(),
            in_doubt: vec![],
            forced: false,
            runbook_sha256: None,
            runbook_text: None,
            reapprove: vec![],
            vars: None,
            vars_sha256: None,
        }
    }

    fn finished(status: RunStatus) -> Event {
        Event::RunFinished { status }
    }

    #[test]
    fn a_dry_run_is_never_passed_and_has_no_recovery_time() {
        let r = RunView::build(
            &run_of(vec![
                (0.0, started(Mode::DryRun)),
                (0.0, start("check-pitr", 1)),
                (1.0, ok("check-pitr", 1, 0)),
                (1.0, finished(RunStatus::Succeeded)),
            ]),
            &runbook(),
        );
        assert_eq!(r.verdict, Verdict::DryRun);
        assert_eq!(r.times.recovery_ms, None);
        assert_eq!(r.objectives[0].verdict, ObjectiveState::NotAssessed);
        assert_eq!(r.objectives[0].measured_ms, None);
    }

    #[test]
    fn a_deferred_step_is_its_own_status_and_count() {
        let deferred = Event::StepSucceeded {
            step: "promote-key".into(),
            outcome: Outcome {
                summary: "deferred: ca-central-1 cannot be reached".into(),
                ..Default::default()
            },
            attempts: 1,
            duration_ms: 45,
            aws_wait_ms: 0,
            dry_run: false,
        };
        let r = RunView::build(
            &run_of(vec![
                (0.0, started(Mode::Execute)),
                (0.0, start("check-key", 1)),
                (1.0, ok("check-key", 1, 0)),
                (1.0, start("promote-key", 1)),
                (2.0, deferred),
                (2.0, finished(RunStatus::Succeeded)),
            ]),
            &runbook(),
        );
        assert_eq!(step(&r, "promote-key").status, StepStatus::Deferred);
        assert_eq!((r.counts.succeeded, r.counts.deferred), (1, 1));
        assert_eq!(
            r.counts.sentence(),
            "1 succeeded, 1 deferred, 0 failed, 0 skipped"
        );
        assert_eq!(r.step_results().1["promote-key"], "deferred");
        assert_eq!(r.verdict, Verdict::Passed);
    }

    /// `drillbook approve` writes its record while no process runs the run: the wait for the
    /// approver is waiting time, from the pause to the resume, never active time.
    #[test]
    fn the_wait_for_an_approval_is_waiting_not_active() {
        let r = RunView::build(
            &run_of(vec![
                (0.0, started(Mode::Execute)),
                (0.0, start("check-pitr", 1)),
                (2.0, ok("check-pitr", 1, 0)),
                (
                    2.0,
                    Event::RunPaused {
                        reason: "approval".into(),
                        awaiting: vec![crate::event::Awaited {
                            step: "gate".into(),
                            message: "go?".into(),
                        }],
                    },
                ),
                (
                    7.0,
                    Event::ApprovalGranted {
                        step: "gate".into(),
                        approver: crate::event::Identity {
                            arn: "arn:aws:iam::1:user/b".into(),
                            account: "1".into(),
                        },
                        comment: String::new(),
                        signed: None,
                    },
                ),
                (9.0, resumed()),
                (9.0, start("restore-vault", 1)),
                (12.0, ok("restore-vault", 1, 0)),
                (12.0, finished(RunStatus::Succeeded)),
            ]),
            &runbook(),
        );
        let t = &r.times;
        assert_eq!(
            (t.total_ms, t.active_ms, t.waiting_ms),
            (12_000, 5_000, 7_000)
        );
        assert_eq!(t.interrupted_ms, 0);
        assert_eq!(t.recovery_ms, Some(12_000), "the wait is downtime");
        assert_eq!(r.gaps.len(), 1);
        assert!(r.gaps[0].waiting);
        assert_eq!((r.gaps[0].from_ms, r.gaps[0].to_ms), (2_000, 9_000));
        assert_eq!(step(&r, "restore-vault").duration_ms, Some(3_000));
        assert_eq!(r.approvals.len(), 1);
        assert!(r.approvals[0].granted_at.is_some());
    }

    #[test]
    fn the_critical_path_has_no_slack_even_with_scheduling_delays() {
        let r = RunView::build(
            &run_of(vec![
                (0.0, started(Mode::Execute)),
                (0.0, start("check-pitr", 1)),
                (1.0, ok("check-pitr", 1, 0)),
                // restore-vault starts 24 ms after its dependency ended
                (1.024, start("restore-vault", 1)),
                (3.0, ok("restore-vault", 1, 0)),
                (3.0, finished(RunStatus::Succeeded)),
            ]),
            &runbook(),
        );
        assert_eq!(r.critical_path, ["check-pitr", "restore-vault"]);
        for id in &r.critical_path {
            assert_eq!(step(&r, id).slack_ms, Some(0), "{id}");
        }
    }

    /// A journal whose drill verdict says the RTO was met for a run that failed (as drillbook
    /// wrote before the one rule): the view says not assessed, and the run failed.
    #[test]
    fn a_failed_drill_meets_no_objective_whatever_its_record_says() {
        let judged = Event::DrillJudged {
            scenario: "outage".into(),
            scenario_sha256: String::new(),
            impaired: vec![],
            refused_calls: vec![],
            verdicts: crate::event::Verdicts {
                expectations: vec![],
                objectives: vec![crate::event::ObjectiveVerdict {
                    objective: "rto".into(),
                    target: std::time::Duration::from_secs(900),
                    measured: Some(std::time::Duration::from_millis(224)),
                    met: true,
                    how: RTO_MEASURE.into(),
                }],
            },
        };
        let r = RunView::build(
            &run_of(vec![
                (0.0, started(Mode::Execute)),
                (0.0, start("check-pitr", 1)),
                (
                    0.2,
                    Event::StepFailed {
                        step: "check-pitr".into(),
                        error: crate::event::ActionError::Invalid {
                            message: "bad".into(),
                            hint: String::new(),
                        },
                        attempts: 1,
                        duration_ms: 200,
                    },
                ),
                (0.2, finished(RunStatus::Failed)),
                (0.3, judged),
            ]),
            &runbook(),
        );
        assert_eq!(r.verdict, Verdict::Failed);
        let rto = r.objective("rto").unwrap();
        assert_eq!(
            (rto.verdict, rto.measured_ms),
            (ObjectiveState::NotAssessed, None)
        );
        assert!(r.drill.as_ref().unwrap().judged);
    }
}
