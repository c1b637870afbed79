//! A fleet's progress on stderr, while its targets run: on a terminal, one spinner line per
//! running target (its account, Region and latest step) under a totals line (done, running,
//! failed, queued); otherwise plain lines, one per target event that matters
//! (`[111111111111 eu-west-1] ok      ready (12 ms)`), and nothing drawn.

use std::collections::HashMap;
use std::io::{IsTerminal, Write as _};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::sanitize::one_line;
use crate::event::{Event, RunStatus};

/// See the module documentation. Shared by every target's sink.
pub struct FleetProgress {
    state: Mutex<State>,
}

struct State {
    /// The bars, on a terminal: the targets' lines and the totals line under them.
    bars: Option<(MultiProgress, ProgressBar)>,
    running: HashMap<String, ProgressBar>,
    /// Every target seen (a target's events after its run ended do not start it again).
    seen: std::collections::HashSet<String>,
    counts: Counts,
}

/// How many targets are where.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Targets this process will run.
    pub total: usize,
    pub started: usize,
    /// Ended succeeded (or paused, waiting for a person).
    pub done: usize,
    pub paused: usize,
    pub failed: usize,
}

impl Counts {
    /// `done 3, running 2, failed 1, queued 14` (`done 3 (1 paused)` when some paused).
    pub fn line(&self) -> String {
        let ended = self.done + self.failed;
        let paused = if self.paused > 0 {
            format!(" ({} paused)", self.paused)
        } else {
            String::new()
        };
        format!(
            "done {}{paused}, running {}, failed {}, queued {}",
            self.done,
            self.started.saturating_sub(ended),
            self.failed,
            self.total.saturating_sub(self.started)
        )
    }
}

/// The plain line's text for an event of a target (`None`: not shown).
pub fn line(event: &Event) -> Option<String> {
    Some(match event {
        Event::StepSucceeded {
            step, duration_ms, ..
        } => format!("ok      {step} ({duration_ms} ms)"),
        Event::StepFailed { step, error, .. } => {
            format!("FAILED  {step}: {}", one_line(&error.to_string()))
        }
        Event::StepSkipped { step, reason } => format!("skipped {step}: {}", one_line(reason)),
        Event::RunPaused { reason, .. } => format!("paused: {}", one_line(reason)),
        Event::RunFinished { status } => format!("run {}", status.as_str()),
        _ => return None,
    })
}

impl FleetProgress {
    /// Progress for `total` targets: drawn when `terminal` (and `TERM` is not `dumb`).
    pub fn new(total: usize, terminal: bool) -> FleetProgress {
        let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
        let bars = (terminal && !dumb).then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let totals = multi.add(ProgressBar::new(total as u64));
            totals.set_style(
                ProgressStyle::with_template("{bar:24} {pos}/{len} targets ended · {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            (multi, totals)
        });
        let p = FleetProgress {
            state: Mutex::new(State {
                bars,
                running: HashMap::new(),
                seen: Default::default(),
                counts: Counts {
                    total,
                    ..Counts::default()
                },
            }),
        };
        p.lock().redraw_totals();
        p
    }

    /// [`FleetProgress::new`], drawn when stderr is a terminal.
    pub fn detect(total: usize) -> FleetProgress {
        FleetProgress::new(total, std::io::stderr().is_terminal())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An event of the target `account`/`region`.
    pub fn event(&self, account: &str, region: &str, event: &Event) {
        let key = format!("{account} {region}");
        let mut s = self.lock();
        if s.seen.insert(key.clone()) {
            s.counts.started += 1;
            let bar = match &s.bars {
                Some((multi, totals)) => {
                    let bar = multi.insert_before(totals, ProgressBar::new_spinner());
                    bar.set_style(
                        ProgressStyle::with_template("{spinner} [{prefix}] {msg} {elapsed}")
                            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                    );
                    bar.set_prefix(key.clone());
                    bar.enable_steady_tick(Duration::from_millis(120));
                    bar
                }
                None => ProgressBar::hidden(),
            };
            s.running.insert(key.clone(), bar);
        }
        if let Event::StepStarted { step, .. } = event
            && let Some(bar) = s.running.get(&key)
        {
            bar.set_message(one_line(step).into_owned());
        }
        let ended = match event {
            Event::RunFinished { status } => Some(*status),
            Event::RunPaused { .. } => Some(RunStatus::Paused),
            _ => None,
        };
        if let Some(text) = line(event) {
            // Read on a terminal: through the terminal sanitizer, as every console line.
            let text = super::sanitize::terminal(&format!("[{key}] {text}")).into_owned();
            match &s.bars {
                Some((multi, _)) => {
                    let _ = multi.println(text);
                }
                None => {
                    let _ = writeln!(std::io::stderr(), "{text}");
                }
            }
        }
        if let Some(status) = ended
            && let Some(bar) = s.running.remove(&key)
        {
            bar.finish_and_clear();
            match status {
                RunStatus::Failed => s.counts.failed += 1,
                RunStatus::Paused => {
                    s.counts.done += 1;
                    s.counts.paused += 1;
                }
                _ => s.counts.done += 1,
            }
            s.redraw_totals();
        }
    }

    /// The counts so far.
    pub fn counts(&self) -> Counts {
        self.lock().counts
    }

    /// Clears what is drawn (the fleet report follows).
    pub fn finish(&self) {
        let mut s = self.lock();
        for (_, bar) in s.running.drain() {
            bar.finish_and_clear();
        }
        if let Some((_, totals)) = &s.bars {
            totals.finish_and_clear();
        }
    }
}

impl State {
    fn redraw_totals(&self) {
        if let Some((_, totals)) = &self.bars {
            totals.set_position((self.counts.done + self.counts.failed) as u64);
            totals.set_message(self.counts.line());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_totals_follow_targets_as_they_start_and_end() {
        let p = FleetProgress::new(4, false);
        assert_eq!(p.counts().line(), "done 0, running 0, failed 0, queued 4");
        let started = Event::StepStarted {
            step: "ready".into(),
            action: "wait".into(),
            attempt: 1,
        };
        p.event("111111111111", "eu-west-1", &started);
        p.event("222222222222", "eu-west-1", &started);
        p.event("111111111111", "eu-west-1", &started);
        assert_eq!(p.counts().line(), "done 0, running 2, failed 0, queued 2");
        p.event(
            "111111111111",
            "eu-west-1",
            &Event::RunFinished {
                status: RunStatus::Succeeded,
            },
        );
        p.event(
            "222222222222",
            "eu-west-1",
            &Event::RunFinished {
                status: RunStatus::Failed,
            },
        );
        p.event(
            "333333333333",
            "eu-west-1",
            &Event::RunPaused {
                reason: "approval".into(),
                awaiting: vec![],
            },
        );
        assert_eq!(
            p.counts().line(),
            "done 2 (1 paused), running 0, failed 1, queued 1"
        );
    }
}
