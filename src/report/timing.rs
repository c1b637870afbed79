//! The timing report of a run, for a terminal: per-step offsets, durations, attempts and time
//! waiting on AWS, the actual critical path, slack, the run's times against the RTO, and a text
//! Gantt chart. Everything it shows comes from the run's read model
//! ([`crate::checkpoint::view::RunView`]), so it says what every other view says.

use std::fmt::Write as _;
use std::time::Duration;

use super::sanitize::one_line;
use crate::checkpoint::view::{ObjectiveState, RunView};
use crate::duration::{format_duration, human};
use crate::event::{Mode, StepStatus};

/// Columns of the Gantt chart's time axis.
const GANTT_WIDTH: usize = 60;
/// Step ids longer than this are shortened in the text tables.
const MAX_ID_WIDTH: usize = 32;

/// The timing report of one run: a rendering of its read model.
pub struct TimingReport<'v>(pub &'v RunView);

impl TimingReport<'_> {
    /// One line for the end of a command: the verdict, the step counts and the run's times,
    /// as every report of the run gives them.
    pub fn summary_line(&self) -> String {
        let v = self.0;
        let t = &v.times;
        let ms = |m: u64| human(Duration::from_millis(m));
        let mut times = match t.recovery_ms {
            Some(r) => format!("recovery time {}", ms(r)),
            None => "no recovery time".to_string(),
        };
        times.push_str(&format!(", {} active", ms(t.active_ms)));
        if t.waiting_ms > 0 {
            times.push_str(&format!(", {} waiting for approval", ms(t.waiting_ms)));
        }
        if t.interrupted_ms > 0 {
            times.push_str(&format!(", {} interrupted", ms(t.interrupted_ms)));
        }
        format!(
            "verdict: {}; steps: {}; {times}",
            v.verdict.as_str(),
            v.counts.sentence()
        )
    }

    /// The report for humans: summary, step table, critical path and Gantt chart.
    ///
    /// The text is for a terminal wherever it is read (the console, `drillbook report`,
    /// `timing.txt`): what the journal holds (names, errors, reasons) is shown on one line
    /// with its control characters escaped.
    pub fn render_text(&self) -> String {
        let v = self.0;
        let mut o = String::new();
        let ms = |m: u64| human(Duration::from_millis(m));
        let _ = writeln!(
            o,
            "timing report: run {} ({})",
            one_line(&v.run_id),
            if v.runbook.is_empty() {
                "unnamed runbook".into()
            } else {
                one_line(&v.runbook)
            }
        );
        let mode = match v.mode {
            Mode::DryRun => "dry-run",
            Mode::Execute => "execute",
        };
        let started = v
            .started_at
            .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
            .unwrap_or_else(|| "-".into());
        let _ = writeln!(
            o,
            "mode: {mode}   status: {}   verdict: {}   started: {started}",
            v.status,
            v.verdict.as_str()
        );
        if v.mode == Mode::DryRun {
            let _ = writeln!(
                o,
                "dry-run: nothing was changed; timings are of observation only"
            );
        }
        let t = &v.times;
        let _ = writeln!(o, "steps: {}", v.counts.sentence());
        if t.waiting_ms == 0 && t.interrupted_ms == 0 {
            let _ = writeln!(o, "total: {}", ms(t.total_ms));
        } else {
            let _ = writeln!(
                o,
                "total: {} wall clock: {} active, {} waiting for approval, {} interrupted ({} resume{})",
                ms(t.total_ms),
                ms(t.active_ms),
                ms(t.waiting_ms),
                ms(t.interrupted_ms),
                v.resumes,
                if v.resumes == 1 { "" } else { "s" },
            );
            for g in &v.gaps {
                let _ = writeln!(
                    o,
                    "  paused from +{} to +{} ({}{})",
                    ms(g.from_ms),
                    ms(g.to_ms),
                    ms(g.duration_ms),
                    if g.waiting {
                        ", waiting for approval"
                    } else {
                        ""
                    }
                );
            }
        }
        match t.recovery_ms {
            Some(r) => {
                let _ = writeln!(o, "recovery time: {}", ms(r));
            }
            None => {
                let why = if v.mode == Mode::DryRun {
                    "a dry run recovers nothing"
                } else {
                    "the run did not reach the end of its recovery"
                };
                let _ = writeln!(o, "recovery time: none ({why})");
            }
        }
        match v.objective("rto") {
            Some(r) => {
                let rto = format_duration(Duration::from_millis(r.target_ms));
                let line = match (r.verdict, r.measured_ms) {
                    (ObjectiveState::Met, Some(m)) => format!(
                        "RTO {rto}: met ({} recovery time, {} to spare)",
                        ms(m),
                        ms(r.target_ms.saturating_sub(m))
                    ),
                    (ObjectiveState::Missed, Some(m)) => format!(
                        "RTO {rto}: missed by {} ({} recovery time)",
                        ms(m.saturating_sub(r.target_ms)),
                        ms(m),
                    ),
                    (ObjectiveState::Missed, None) => {
                        format!("RTO {rto}: missed ({})", one_line(&r.how))
                    }
                    (_, _) => format!("RTO {rto}: not assessed ({})", one_line(&r.how)),
                };
                let _ = writeln!(o, "{line}");
            }
            None => {
                let _ = writeln!(o, "RTO: none set (objectives.rto)");
            }
        }
        for c in &v.dns_caching {
            let _ = writeln!(o, "{}", one_line(&c.sentence()));
        }
        o.push('\n');

        // Step table.
        let idw = self
            .0
            .steps
            .iter()
            .map(|s| s.id.chars().count().min(MAX_ID_WIDTH))
            .max()
            .unwrap_or(4)
            .max(4);
        let aw = self
            .0
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
        for s in &self.0.steps {
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
        if self.0.critical_path.is_empty() {
            let _ = writeln!(o, "critical path: none (no step ran)");
        } else {
            let _ = writeln!(
                o,
                "critical path ({} active): {}",
                ms(self.0.critical_path_ms),
                self.0.critical_path.join(" -> ")
            );
        }
        o.push('\n');
        self.render_gantt(&mut o, idw);
        o
    }

    fn render_gantt(&self, o: &mut String, idw: usize) {
        let w = GANTT_WIDTH;
        let total = self.0.times.total_ms.max(1);
        let col = |t: u64| ((t as u128 * w as u128) / total as u128).min(w as u128 - 1) as usize;
        let col_end = |t: u64| {
            (t as u128 * w as u128)
                .div_ceil(total as u128)
                .min(w as u128) as usize
        };
        let mut paused = vec![false; w];
        for g in &self.0.gaps {
            let (a, b) = (col(g.from_ms), col_end(g.to_ms).max(col(g.from_ms) + 1));
            for p in &mut paused[a..b.min(w)] {
                *p = true;
            }
        }
        let per_col = Duration::from_millis(self.0.times.total_ms.div_ceil(w as u64));
        let _ = writeln!(
            o,
            "gantt (one column = {}; # critical path, = other steps, x failed, ! in doubt, ~ skipped, : paused)",
            human(per_col)
        );
        for s in &self.0.steps {
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
        let end = format!("+{}", human(Duration::from_millis(self.0.times.total_ms)));
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
