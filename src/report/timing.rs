//! The timing report of a run, rebuilt from its journal: per-step offsets, durations, attempts and
//! time waiting on AWS, the actual critical path, slack, total time against the RTO, and a text
//! Gantt chart.
//!
//! Everything is computed from the wall-clock `at` of the journal records, so a run that was
//! paused and resumed (or crashed and resumed) shows its gaps; "active" times leave them out.
//! Critical path and slack are computed on active time, so a pause does not look like slack.
//!
//! Cost: one pass over the records, one topological sort of the runbook and one backward pass,
//! O(records + steps + edges), plus an O(steps log steps) sort of the rows.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::sanitize::one_line;
use crate::checkpoint::StoredRun;
use crate::duration::{format_duration, human};
use crate::event::Event;
use crate::event::{Mode, RunStatus, StepStatus};
use crate::runbook::Runbook;

/// Version of the JSON shape of [`TimingReport`].
pub(crate) const REPORT_FORMAT_VERSION: u32 = 1;

/// Columns of the Gantt chart's time axis.
const GANTT_WIDTH: usize = 60;
/// Step ids longer than this are shortened in the text tables.
const MAX_ID_WIDTH: usize = 32;

/// Timings of one step. Offsets are milliseconds of wall-clock time since the run started.
#[derive(Debug, Clone, Serialize)]
pub struct StepTiming {
    pub id: String,
    pub action: String,
    /// True for a `finally:` (cleanup) step.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cleanup: bool,
    pub status: StepStatus,
    /// First start (wall clock, since the run started).
    pub start_ms: Option<u64>,
    /// When its outcome was recorded (for a skipped step: when it was skipped).
    pub finish_ms: Option<u64>,
    /// Active duration: finish minus start, without paused gaps.
    pub duration_ms: Option<u64>,
    /// Attempts over the whole run, resumes included.
    pub attempts: u32,
    /// Time spent polling AWS for a state, as the action measured it.
    pub aws_wait_ms: u64,
    /// How much later the step could have finished without delaying the run (active time).
    /// `None` for steps that did not run to an outcome.
    pub slack_ms: Option<u64>,
    /// On the actual critical path.
    pub critical: bool,
    /// Failure message, for a failed step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What to do about the failure, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// Why it was skipped, for a skipped step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A stretch of wall-clock time in which no drillbook process worked on the run (paused for an
/// approval, interrupted, crashed) — from the last record before a resume to the resume.
#[derive(Debug, Clone, Serialize)]
pub struct Gap {
    pub from_ms: u64,
    pub to_ms: u64,
    pub duration_ms: u64,
}

/// Whether the run met its recovery time objective.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RtoVerdict {
    Met,
    Missed,
    /// Dry-run, or the run did not finish successfully yet.
    NotAssessed,
}
pub(crate) use crate::runbook::model::RTO_MEASURE;

/// Recovery time against `objectives.rto`.
#[derive(Debug, Clone, Serialize)]
pub struct RtoCheck {
    pub rto_ms: u64,
    /// The recovery time compared with the RTO ([`RTO_MEASURE`]; the report's `recovery_ms`).
    pub total_ms: u64,
    pub verdict: RtoVerdict,
    /// Why it was not assessed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The timing report of one run.
#[derive(Debug, Clone, Serialize)]
pub struct TimingReport {
    pub format_version: u32,
    pub run_id: String,
    /// The runbook's name.
    pub runbook: String,
    pub mode: Mode,
    /// `running` when the journal has no end after its last start.
    pub status: RunStatus,
    pub started_at: Option<DateTime<Utc>>,
    /// The last record's time.
    pub ended_at: Option<DateTime<Utc>>,
    /// Wall clock, first record to last.
    pub total_ms: u64,
    /// Wall clock minus paused gaps.
    pub active_ms: u64,
    /// Recovery time, as the RTO is judged ([`RTO_MEASURE`]): from the run's start to the end
    /// of its last recovery (non-`finally`) step; the total while none has finished.
    pub recovery_ms: u64,
    /// The same span without the paused gaps: how long drillbook itself took.
    pub recovery_active_ms: u64,
    pub gaps: Vec<Gap>,
    /// Number of resumes.
    pub resumes: u32,
    pub rto: Option<RtoCheck>,
    /// Step ids, first to last.
    pub critical_path: Vec<String>,
    /// Active time from the start of the first critical step to the end of the last.
    pub critical_path_ms: u64,
    /// Rows ordered by start (steps that never started last, in runbook order).
    pub steps: Vec<StepTiming>,
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
    error: Option<String>,
    hint: Option<String>,
    reason: Option<String>,
}

fn ms_between(from: DateTime<Utc>, to: DateTime<Utc>) -> u64 {
    (to - from).num_milliseconds().max(0) as u64
}

/// The pass over the records: every step indexed (runbook steps, then cleanup steps, then
/// steps only the journal names) with what its records say, and the run's mode, status,
/// pauses and length.
struct Scan<'r> {
    ids: Vec<&'r str>,
    actions: Vec<&'r str>,
    cleanup: Vec<bool>,
    index: HashMap<&'r str, usize>,
    acc: Vec<Acc>,
    mode: Mode,
    status: RunStatus,
    gaps: Vec<Gap>,
    resumes: u32,
    started_at: Option<DateTime<Utc>>,
    ended_at: Option<DateTime<Utc>>,
    total_ms: u64,
    active_ms: u64,
}

fn scan<'r>(run: &'r StoredRun, runbook: &'r Runbook) -> Scan<'r> {
    // Index of every step: runbook steps, then cleanup steps, then journal-only steps.
    let mut ids: Vec<&str> = Vec::with_capacity(runbook.steps.len() + runbook.finally.len());
    let mut actions: Vec<&str> = Vec::new();
    let mut cleanup: Vec<bool> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (s, is_cleanup) in runbook
        .steps
        .iter()
        .map(|s| (s, false))
        .chain(runbook.finally.iter().map(|s| (s, true)))
    {
        if index.contains_key(s.id.as_str()) {
            continue;
        }
        index.insert(&s.id, ids.len());
        ids.push(&s.id);
        actions.push(&s.action);
        cleanup.push(is_cleanup);
    }
    let n_runbook = ids.len();

    let mut acc: Vec<Acc> = vec![Acc::default(); n_runbook];
    let mut pending: Vec<usize> = Vec::new();
    let mut mode = Mode::DryRun;
    let mut status = RunStatus::Running;
    let mut gaps: Vec<Gap> = Vec::new();
    let mut gap_total: u64 = 0;
    let mut resumes = 0u32;
    let started_at = run.records.first().map(|r| r.at);
    let ended_at = run.records.last().map(|r| r.at);
    let mut prev_wall: u64 = 0;

    for rec in &run.records {
        let start = started_at.unwrap_or(rec.at);
        // Offsets never go backwards, even with clock skew between hosts.
        let wall = ms_between(start, rec.at).max(prev_wall);
        if let Event::RunResumed { .. } = rec.event {
            resumes += 1;
            let d = wall - prev_wall;
            if d > 0 {
                gaps.push(Gap {
                    from_ms: prev_wall,
                    to_ms: wall,
                    duration_ms: d,
                });
                gap_total += d;
            }
            // Attempts of steps that were in flight when the process stopped.
            for i in pending.drain(..) {
                acc[i].attempts += std::mem::take(&mut acc[i].pending_attempt);
            }
            status = RunStatus::Running;
        }
        prev_wall = wall;
        let active = wall - gap_total;
        // The step the record is about, indexed (journal-only steps are added: the runbook
        // changed under `resume --force`, or is partial).
        let si = match entry_step(&rec.event) {
            Some(step) => match index.get(step) {
                Some(&i) => i,
                None => {
                    let i = ids.len();
                    ids.push(step);
                    actions.push("");
                    cleanup.push(false);
                    acc.push(Acc::default());
                    index.insert(step, i);
                    i
                }
            },
            None => usize::MAX,
        };
        match &rec.event {
            Event::RunStarted { mode: m, .. } => mode = *m,
            Event::RunResumed { .. }
            | Event::Note { .. }
            | Event::StepObserved { .. }
            | Event::DrillStarted { .. }
            | Event::FaultInjected { .. }
            | Event::FaultStopped { .. }
            | Event::DrillRefusedCalls { .. }
            | Event::AwsCalls { .. }
            | Event::DrillJudged { .. } => {}
            Event::StepStarted { attempt, .. } => {
                let i = si;
                let a = &mut acc[i];
                a.start.get_or_insert((wall, active));
                if a.pending_attempt == 0 {
                    pending.push(i);
                }
                a.pending_attempt = a.pending_attempt.max((*attempt).max(1));
                if a.finish.is_none() || a.status == Some(StepStatus::Failed) {
                    a.status = Some(StepStatus::InDoubt);
                }
            }
            Event::StepRetrying { attempt, .. } => {
                let i = si;
                let a = &mut acc[i];
                if a.pending_attempt == 0 {
                    pending.push(i);
                }
                a.pending_attempt = a.pending_attempt.max(*attempt);
            }
            Event::StepSucceeded {
                attempts,
                aws_wait_ms,
                outcome,
                ..
            } => {
                let i = si;
                let a = &mut acc[i];
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
                a.error = None;
                a.hint = None;
            }
            Event::StepFailed {
                error, attempts, ..
            } => {
                let i = si;
                let a = &mut acc[i];
                a.start.get_or_insert((wall, active));
                a.finish = Some((wall, active));
                a.status = Some(StepStatus::Failed);
                a.attempts += (*attempts).max(a.pending_attempt).max(1);
                a.pending_attempt = 0;
                a.error = Some(error.to_string());
                a.hint = error.hint().map(str::to_string);
            }
            Event::StepSkipped { reason, .. } => {
                let i = si;
                let a = &mut acc[i];
                if !matches!(a.status, Some(StepStatus::Succeeded | StepStatus::Deferred)) {
                    a.finish = Some((wall, active));
                    a.status = Some(StepStatus::Skipped);
                    a.reason = Some(reason.clone());
                }
            }
            Event::ApprovalRequested { .. } => {
                let i = si;
                let a = &mut acc[i];
                a.start.get_or_insert((wall, active));
                if a.finish.is_none() {
                    a.status = Some(StepStatus::AwaitingApproval);
                }
            }
            Event::ApprovalGranted { .. } => {}
            Event::RunPaused { .. } => status = RunStatus::Paused,
            Event::RunFinished { status: s } => status = *s,
        }
    }
    for i in pending {
        acc[i].attempts += acc[i].pending_attempt;
    }
    let total_ms = prev_wall;
    let active_ms = total_ms - gap_total;
    Scan {
        ids,
        actions,
        cleanup,
        index,
        acc,
        mode,
        status,
        gaps,
        resumes,
        started_at,
        ended_at,
        total_ms,
        active_ms,
    }
}

impl TimingReport {
    /// Builds the report from a stored run and its runbook (parsed from the stored text).
    /// Steps found in the journal but not in the runbook are reported too.
    pub fn from_journal(run: &StoredRun, runbook: &Runbook) -> TimingReport {
        let Scan {
            ids,
            actions,
            cleanup,
            index,
            acc,
            mode,
            status,
            gaps,
            resumes,
            started_at,
            ended_at,
            total_ms,
            active_ms,
        } = scan(run, runbook);

        let graph = RunGraph::new(runbook, &index, &acc, &cleanup);
        let last_main = graph.last_finished(&mut (0..ids.len()).filter(|&i| !cleanup[i]));
        let (recovery_ms, recovery_active_ms) = last_main
            .and_then(|i| acc[i].finish)
            .unwrap_or((total_ms, active_ms));
        let (critical_path, on_path) = graph.critical_path(last_main);
        let critical_path_ms = match (critical_path.first(), critical_path.last()) {
            (Some(&a), Some(&b)) => graph
                .fin(b)
                .saturating_sub(acc[a].start.map(|s| s.1).unwrap_or(0)),
            _ => 0,
        };
        let slack = graph.slack();
        let steps: Vec<StepTiming> = graph
            .rows()
            .into_iter()
            .map(|i| {
                let a = &acc[i];
                let status = a.status.unwrap_or(StepStatus::NotStarted);
                StepTiming {
                    id: ids[i].to_string(),
                    action: actions[i].to_string(),
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
                    slack_ms: slack[i],
                    critical: on_path[i],
                    error: a.error.clone(),
                    hint: a.hint.clone(),
                    reason: a.reason.clone(),
                }
            })
            .collect();
        let rto = runbook
            .objectives
            .rto
            .map(|rto| rto_check(rto, mode, status, recovery_ms));

        TimingReport {
            format_version: REPORT_FORMAT_VERSION,
            run_id: run.run_id.clone(),
            runbook: runbook.name.clone(),
            mode,
            status,
            started_at,
            ended_at,
            total_ms,
            active_ms,
            recovery_ms,
            recovery_active_ms,
            gaps,
            resumes,
            rto,
            critical_path: critical_path.iter().map(|&i| ids[i].to_string()).collect(),
            critical_path_ms,
            steps,
        }
    }

    /// The report for humans: summary, step table, critical path and Gantt chart.
    ///
    /// The text is for a terminal wherever it is read (the console, `drillbook report`,
    /// `timing.txt`): what the journal holds (names, errors, reasons) is shown on one line
    /// with its control characters escaped.
    pub fn render_text(&self) -> String {
        let mut o = String::new();
        let ms = |m: u64| human(Duration::from_millis(m));
        let _ = writeln!(
            o,
            "timing report: run {} ({})",
            one_line(&self.run_id),
            if self.runbook.is_empty() {
                "unnamed runbook".into()
            } else {
                one_line(&self.runbook)
            }
        );
        let mode = match self.mode {
            Mode::DryRun => "dry-run",
            Mode::Execute => "execute",
        };
        let started = self
            .started_at
            .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
            .unwrap_or_else(|| "-".into());
        let _ = writeln!(
            o,
            "mode: {mode}   status: {}   started: {started}",
            self.status
        );
        if self.mode == Mode::DryRun {
            let _ = writeln!(
                o,
                "dry-run: nothing was changed; timings are of observation only"
            );
        }
        if self.gaps.is_empty() {
            let _ = writeln!(o, "total: {}", ms(self.total_ms));
        } else {
            let gap_sum: u64 = self.gaps.iter().map(|g| g.duration_ms).sum();
            let _ = writeln!(
                o,
                "total: {} wall clock, {} active ({} resume{}, {} paused)",
                ms(self.total_ms),
                ms(self.active_ms),
                self.resumes,
                if self.resumes == 1 { "" } else { "s" },
                ms(gap_sum)
            );
            for g in &self.gaps {
                let _ = writeln!(
                    o,
                    "  paused from +{} to +{} ({})",
                    ms(g.from_ms),
                    ms(g.to_ms),
                    ms(g.duration_ms)
                );
            }
        }
        if let Some(r) = &self.rto {
            let rto = format_duration(Duration::from_millis(r.rto_ms));
            let line = match r.verdict {
                RtoVerdict::Met => format!(
                    "RTO {rto}: met ({} recovery time, {} to spare)",
                    ms(r.total_ms),
                    ms(r.rto_ms.saturating_sub(r.total_ms))
                ),
                RtoVerdict::Missed => format!(
                    "RTO {rto}: missed by {} ({} recovery time{})",
                    ms(r.total_ms.saturating_sub(r.rto_ms)),
                    ms(r.total_ms),
                    r.note
                        .as_ref()
                        .map(|n| format!("; {}", one_line(n)))
                        .unwrap_or_default()
                ),
                RtoVerdict::NotAssessed => format!(
                    "RTO {rto}: not assessed ({})",
                    one_line(r.note.as_deref().unwrap_or("no result"))
                ),
            };
            let _ = writeln!(o, "{line}");
        } else {
            let _ = writeln!(o, "RTO: none set (objectives.rto)");
        }
        o.push('\n');

        // Step table.
        let idw = self
            .steps
            .iter()
            .map(|s| s.id.chars().count().min(MAX_ID_WIDTH))
            .max()
            .unwrap_or(4)
            .max(4);
        let aw = self
            .steps
            .iter()
            .map(|s| s.action.len())
            .max()
            .unwrap_or(6)
            .max(6);
        let opt = |v: Option<u64>| v.map(ms).unwrap_or_else(|| "-".into());
        let _ = writeln!(
            o,
            "  {:idw$}  {:aw$}  {:>8}  {:>8}  {:>8}  {:>8}  {:>8}  status",
            "step", "action", "start", "duration", "attempts", "aws wait", "slack"
        );
        for s in &self.steps {
            let mut status = s.status.as_str().to_string();
            if let Some(e) = &s.error {
                let _ = write!(status, ": {}", one_line(e));
            }
            if let Some(r) = &s.reason {
                let _ = write!(status, ": {}", one_line(r));
            }
            if s.cleanup {
                status.push_str(" (cleanup)");
            }
            let _ = writeln!(
                o,
                "{} {:idw$}  {:aw$}  {:>8}  {:>8}  {:>8}  {:>8}  {:>8}  {status}",
                if s.critical { '*' } else { ' ' },
                short_id(&s.id),
                s.action,
                s.start_ms
                    .map(|m| format!("+{}", ms(m)))
                    .unwrap_or_else(|| "-".into()),
                opt(s.duration_ms),
                if s.attempts == 0 {
                    "-".to_string()
                } else {
                    s.attempts.to_string()
                },
                if s.start_ms.is_some() && s.status != StepStatus::Skipped {
                    ms(s.aws_wait_ms)
                } else {
                    "-".into()
                },
                opt(s.slack_ms),
            );
            if let Some(h) = &s.hint {
                let _ = writeln!(o, "  {:idw$}  help: {}", "", one_line(h));
            }
        }
        o.push('\n');
        if self.critical_path.is_empty() {
            let _ = writeln!(o, "critical path: none (no step ran)");
        } else {
            let _ = writeln!(
                o,
                "critical path ({} active): {}",
                ms(self.critical_path_ms),
                self.critical_path.join(" -> ")
            );
        }
        o.push('\n');
        self.render_gantt(&mut o, idw);
        o
    }

    fn render_gantt(&self, o: &mut String, idw: usize) {
        let w = GANTT_WIDTH;
        let total = self.total_ms.max(1);
        let col = |t: u64| ((t as u128 * w as u128) / total as u128).min(w as u128 - 1) as usize;
        let col_end = |t: u64| {
            (t as u128 * w as u128)
                .div_ceil(total as u128)
                .min(w as u128) as usize
        };
        let mut paused = vec![false; w];
        for g in &self.gaps {
            let (a, b) = (col(g.from_ms), col_end(g.to_ms).max(col(g.from_ms) + 1));
            for p in &mut paused[a..b.min(w)] {
                *p = true;
            }
        }
        let per_col = Duration::from_millis(self.total_ms.div_ceil(w as u64));
        let _ = writeln!(
            o,
            "gantt (one column = {}; # critical path, = other steps, x failed, ! in doubt, ~ skipped, : paused)",
            human(per_col)
        );
        for s in &self.steps {
            let mut cells: Vec<char> = paused.iter().map(|&p| if p { ':' } else { ' ' }).collect();
            let fill = match s.status {
                StepStatus::Failed => 'x',
                StepStatus::InDoubt => '!',
                StepStatus::AwaitingApproval => '?',
                _ if s.critical => '#',
                _ => '=',
            };
            match (s.start_ms, s.finish_ms, s.status) {
                (_, Some(f), StepStatus::Skipped) => cells[col(f)] = '~',
                (Some(st), f, _) => {
                    let a = col(st);
                    let b = match (f, s.status) {
                        (
                            Some(f),
                            StepStatus::Succeeded | StepStatus::Deferred | StepStatus::Failed,
                        ) => col_end(f).max(a + 1),
                        _ => w, // still open: up to the end of the journal
                    };
                    for (k, c) in cells.iter_mut().enumerate().take(b).skip(a) {
                        if !paused[k] || k == a {
                            *c = fill;
                        }
                    }
                }
                _ => {}
            }
            let row: String = cells.into_iter().collect();
            let _ = writeln!(
                o,
                "{} {:idw$} |{row}|",
                if s.critical { '*' } else { ' ' },
                short_id(&s.id),
            );
        }
        let _ = writeln!(o, "  {:idw$} +{}+", "", "-".repeat(w));
        let end = format!("+{}", human(Duration::from_millis(self.total_ms)));
        let _ = writeln!(
            o,
            "  {:idw$}  0{}{end}",
            "",
            " ".repeat(w.saturating_sub(end.len()))
        );
    }
}

fn short_id(id: &str) -> String {
    if id.chars().count() <= MAX_ID_WIDTH {
        id.to_string()
    } else {
        let mut s: String = id.chars().take(MAX_ID_WIDTH - 1).collect();
        s.push('~');
        s
    }
}

/// The step a record is about.
fn entry_step(e: &Event) -> Option<&str> {
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
        index: &HashMap<&str, usize>,
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

    /// The report's rows: by start (else finish) time, then topological order; steps that
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

/// The RTO against the recovery time (the last main step's finish, wall clock since the start).
fn rto_check(rto: Duration, mode: Mode, status: RunStatus, recovery_ms: u64) -> RtoCheck {
    let rto_ms = rto.as_millis() as u64;
    let (verdict, note) = if mode == Mode::DryRun {
        (
            RtoVerdict::NotAssessed,
            Some("dry-run: only observation was timed".to_string()),
        )
    } else if status == RunStatus::Succeeded {
        if recovery_ms <= rto_ms {
            (RtoVerdict::Met, None)
        } else {
            (RtoVerdict::Missed, None)
        }
    } else {
        let what = match status {
            RunStatus::Failed => "the run failed",
            RunStatus::Paused => "the run is paused",
            RunStatus::Succeeded | RunStatus::Running => "the run has not finished",
        };
        if recovery_ms > rto_ms {
            (
                RtoVerdict::Missed,
                Some(format!("{what}, already past the RTO")),
            )
        } else {
            (RtoVerdict::NotAssessed, Some(what.to_string()))
        }
    };
    RtoCheck {
        rto_ms,
        total_ms: recovery_ms,
        verdict,
        note,
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
    use crate::actions::{ActionError, Outcome};
    use crate::checkpoint::{FORMAT_VERSION, GENESIS, Record};

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

    fn step<'a>(r: &'a TimingReport, id: &str) -> &'a StepTiming {
        r.steps.iter().find(|s| s.id == id).unwrap()
    }

    #[test]
    fn critical_path_follows_the_dependency_that_finished_last() {
        let r = TimingReport::from_journal(&scripted(), &runbook());
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
        assert_eq!(r.total_ms, 80_000);
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
        assert_eq!(r.rto.as_ref().unwrap().verdict, RtoVerdict::NotAssessed);
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
        let r = TimingReport::from_journal(&run, &rb);
        assert_eq!(r.total_ms, 130_000);
        assert_eq!(r.active_ms, 40_000);
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
        assert_eq!((r.recovery_ms, r.recovery_active_ms), (130_000, 40_000));
        assert_eq!(r.rto.as_ref().unwrap().total_ms, 130_000);
        assert_eq!(r.rto.as_ref().unwrap().verdict, RtoVerdict::Missed);
        let text = r.render_text();
        assert!(text.contains("paused from +10.0s to +1m40s"), "{text}");
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
        let r = TimingReport::from_journal(&run, &rb);
        assert_eq!(r.total_ms, 400_000);
        assert_eq!(
            r.recovery_ms, 100_000,
            "to the end of the last recovery step"
        );
        let rto = r.rto.as_ref().unwrap();
        assert_eq!((rto.total_ms, rto.verdict), (100_000, RtoVerdict::Met));
        assert!(
            r.render_text().contains("RTO 2m: met (1m40s recovery time"),
            "{}",
            r.render_text()
        );
    }

    #[test]
    fn empty_and_odd_journals_do_not_panic() {
        let rb = runbook();
        let r = TimingReport::from_journal(&run_of(vec![]), &rb);
        assert!(r.critical_path.is_empty());
        assert_eq!(r.status, RunStatus::Running);
        assert!(r.render_text().contains("critical path: none"));
        // A step the runbook does not know, and an outcome without a start.
        let r = TimingReport::from_journal(
            &run_of(vec![
                (0.0, started(Mode::DryRun)),
                (1.0, ok("ghost", 1, 0)),
                (2.0, ok("check-key", 0, 0)),
            ]),
            &rb,
        );
        assert_eq!(step(&r, "ghost").status, StepStatus::Succeeded);
        assert_eq!(step(&r, "check-key").attempts, 1);
        assert!(r.render_text().contains("dry-run"));
        assert_eq!(r.rto.unwrap().verdict, RtoVerdict::NotAssessed);
    }
}
