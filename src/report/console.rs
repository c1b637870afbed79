//! The console reporter: what a person (or a CI log, or a program) sees while a run goes on.
//!
//! Three shapes, one [`EventSink`]:
//! - on a terminal: indicatif progress on stderr (a spinner line per running step with its
//!   action, elapsed time and attempt, an overall bar) with finished steps printed above;
//! - otherwise: plain lines on stderr, no ANSI, one fact per line, each prefixed with the time
//!   since the run started (`[00:01.2] ✓ restore-vault  dynamodb.restore_pitr  12.3s`);
//! - `--message-format json`: every event as one JSON line on stdout (see `docs/events.md`)
//!   and nothing else anywhere.
//!
//! `NO_COLOR` (set and not empty) turns colours off; plain lines never have any.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::sanitize::one_line;
use crate::duration::{format_duration, human};
use crate::event::{Event, EventSink, Mode, Outcome, RunStatus};

/// How events are shown (`--message-format`).
#[derive(Debug, Clone, Copy, Default, clap::ValueEnum, PartialEq, Eq)]
pub enum MessageFormat {
    /// Progress on a terminal, plain lines otherwise.
    #[default]
    Human,
    /// JSON lines on stdout, one event per line.
    Json,
}

/// Version of the JSON lines written with `--message-format json` (the `v` field). Version 2:
/// the journal's events (`type`), where version 1 had a vocabulary of its own (`event`).
pub(crate) const EVENTS_FORMAT_VERSION: u32 = 2;

/// Reports events to a person or a program. See the module docs.
pub struct Console {
    state: Mutex<State>,
}

enum Shape {
    Json,
    Plain,
    Progress(Bars),
}

struct Bars {
    multi: MultiProgress,
    overall: Option<ProgressBar>,
}

struct StepInfo {
    action: String,
    /// Unmet preconditions were already printed (from the observation).
    findings_shown: bool,
    bar: Option<ProgressBar>,
}

struct State {
    shape: Shape,
    color: bool,
    out: Box<dyn Write + Send>,
    err: Box<dyn Write + Send>,
    /// ` --state-dir DIR` when the state directory is not the default, for printed commands.
    state_dir_arg: String,
    /// ` --sign-with ...` when the runbook counts only signed approvals, for printed commands.
    sign_with_arg: String,
    run_id: String,
    run_start: Option<DateTime<Utc>>,
    mode: Mode,
    succeeded: usize,
    deferred: usize,
    failed: usize,
    skipped: usize,
    /// This process resumed the run: its counts and time are of this process only.
    resumed: bool,
    steps: HashMap<String, StepInfo>,
    /// Approval steps whose request this process printed.
    approvals_shown: HashSet<String>,
}

/// What a line is about; decides its colour on a terminal.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Info,
    Start,
    Ok,
    Fail,
    Warn,
    Detail,
}

impl Console {
    /// A console on the process's stdout and stderr. `terminal`: whether stderr is a terminal
    /// (progress bars) — see [`Console::detect`].
    pub fn new(format: MessageFormat, terminal: bool) -> Console {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
        let shape = match format {
            MessageFormat::Json => Shape::Json,
            MessageFormat::Human if terminal && !dumb => Shape::Progress(Bars {
                multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
                overall: None,
            }),
            MessageFormat::Human => Shape::Plain,
        };
        let color = matches!(shape, Shape::Progress(_)) && !no_color;
        Console::build(
            shape,
            color,
            Box::new(std::io::stdout()),
            Box::new(std::io::stderr()),
        )
    }

    /// [`Console::new`], deciding from whether stderr is a terminal.
    pub fn detect(format: MessageFormat) -> Console {
        Console::new(format, std::io::stderr().is_terminal())
    }

    /// A console writing to the given streams, never as a terminal (plain lines or JSON).
    /// For tests and for embedding.
    pub fn with_writers(
        format: MessageFormat,
        out: Box<dyn Write + Send>,
        err: Box<dyn Write + Send>,
    ) -> Console {
        let shape = match format {
            MessageFormat::Json => Shape::Json,
            MessageFormat::Human => Shape::Plain,
        };
        Console::build(shape, false, out, err)
    }

    /// The state directory of the run, added to the printed `approve`/`resume` commands when it
    /// is not the default `.drillbook`.
    pub fn state_dir(self, dir: &Path) -> Console {
        {
            let mut st = self.lock();
            st.state_dir_arg = if dir == Path::new(".drillbook") {
                String::new()
            } else {
                format!(" --state-dir {}", shell_word(&dir.display().to_string()))
            };
        }
        self
    }

    /// The ` --sign-with ...` argument the printed `approve` commands carry (see
    /// [`crate::engine::sign_with_hint`]).
    pub fn approval_signer(self, arg: &str) -> Console {
        self.lock().sign_with_arg = arg.to_string();
        self
    }

    fn build(
        shape: Shape,
        color: bool,
        out: Box<dyn Write + Send>,
        err: Box<dyn Write + Send>,
    ) -> Console {
        Console {
            state: Mutex::new(State {
                shape,
                color,
                out,
                err,
                state_dir_arg: String::new(),
                sign_with_arg: String::new(),
                run_id: String::new(),
                run_start: None,
                mode: Mode::DryRun,
                succeeded: 0,
                deferred: 0,
                failed: 0,
                skipped: 0,
                resumed: false,
                steps: HashMap::new(),
                approvals_shown: HashSet::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while printing must not silence the rest of the run.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl EventSink for Console {
    fn emit(&self, at: DateTime<Utc>, event: &Event) {
        let mut st = self.lock();
        if let Shape::Json = st.shape {
            if let Some(line) = json_line(at, event) {
                let _ = writeln!(st.out, "{line}");
                let _ = st.out.flush();
            }
            return;
        }
        st.track(at, event);
        // Runbook text and AWS answers can hold escape sequences and line breaks: every line
        // leaves through the sanitizer, one line each (an approval message cannot print a
        // line of its own).
        let lines: Vec<(Kind, String)> = st
            .lines(at, event)
            .into_iter()
            .map(|(k, l)| match one_line(&l) {
                Cow::Borrowed(_) => (k, l),
                Cow::Owned(safe) => (k, safe),
            })
            .collect();
        st.show(at, event, &lines);
    }
}

/// One event as a JSON line: the format version, the time, then the event as the journal
/// records it.
pub(crate) fn json_line(at: DateTime<Utc>, event: &Event) -> Option<String> {
    #[derive(serde::Serialize)]
    struct Line<'a> {
        v: u32,
        at: DateTime<Utc>,
        #[serde(flatten)]
        event: &'a Event,
    }
    let line = Line {
        v: EVENTS_FORMAT_VERSION,
        at,
        event,
    };
    let s = serde_json::to_string(&line).ok()?;
    Some(super::sanitize::json(&s).into_owned())
}

impl State {
    /// Updates what the lines need to know (before rendering).
    fn track(&mut self, at: DateTime<Utc>, event: &Event) {
        match event {
            Event::RunStarted { run_id, mode, .. } => {
                self.run_start = Some(at);
                self.run_id = run_id.clone();
                self.mode = *mode;
            }
            Event::RunResumed { run_id, mode, .. } => {
                self.run_start = Some(at);
                self.resumed = true;
                self.run_id = run_id.clone();
                self.mode = mode.unwrap_or(self.mode);
            }
            Event::StepStarted { step, action, .. } => {
                self.steps.entry(step.clone()).or_insert_with(|| StepInfo {
                    action: action.clone(),
                    findings_shown: false,
                    bar: None,
                });
            }
            Event::StepObserved {
                step, observation, ..
            } if !observation.findings.is_empty() => {
                if let Some(info) = self.steps.get_mut(step) {
                    info.findings_shown = true;
                }
            }
            Event::ApprovalRequested { step, .. } => {
                self.approvals_shown.insert(step.clone());
            }
            Event::StepSucceeded { outcome, .. } if outcome.is_deferred() => self.deferred += 1,
            Event::StepSucceeded { .. } => self.succeeded += 1,
            Event::StepFailed { .. } => self.failed += 1,
            Event::StepSkipped { .. } => self.skipped += 1,
            _ => {}
        }
    }

    fn action_of(&self, step: &str) -> &str {
        self.steps
            .get(step)
            .map(|s| s.action.as_str())
            .unwrap_or("")
    }

    /// The lines that ask for an approval.
    fn approval_lines(&self, step: &str, message: &str) -> [(Kind, String); 2] {
        [
            (Kind::Warn, format!("⏸ {step}  approval needed: {message}")),
            (
                Kind::Detail,
                format!(
                    "  {step}: approve with: drillbook approve {} {}{}{}",
                    shell_word(&self.run_id),
                    shell_word(step),
                    self.sign_with_arg,
                    self.state_dir_arg
                ),
            ),
        ]
    }

    /// The lines an event prints (without time prefix or colour).
    fn lines(&self, at: DateTime<Utc>, event: &Event) -> Vec<(Kind, String)> {
        let dry = self.mode == Mode::DryRun;
        let mut v = Vec::new();
        let with_action = |step: &str| {
            let a = self.action_of(step);
            if a.is_empty() {
                step.to_string()
            } else {
                format!("{step}  {a}")
            }
        };
        match event {
            Event::RunStarted {
                run_id,
                runbook,
                steps,
                ..
            }
            | Event::RunResumed {
                run_id,
                runbook,
                steps,
                ..
            } => {
                let mode = match self.mode {
                    Mode::DryRun => "dry-run",
                    Mode::Execute => "execute",
                };
                let verb = if matches!(event, Event::RunResumed { .. }) {
                    "resumed"
                } else {
                    "started"
                };
                v.push((
                    Kind::Info,
                    format!(
                        "run {run_id} {verb}: {runbook} ({mode}, {} steps)",
                        steps.len()
                    ),
                ));
                if mode == "dry-run" {
                    v.push((
                        Kind::Detail,
                        "dry-run: observing only, nothing will be changed".into(),
                    ));
                }
            }
            Event::StepStarted { step, attempt, .. } => {
                let mut s = format!("▶ {}", with_action(step));
                if *attempt > 1 {
                    s.push_str(&format!("  attempt {attempt}"));
                }
                v.push((Kind::Start, s));
            }
            Event::StepObserved {
                step, observation, ..
            } => {
                if dry {
                    if !observation.summary.is_empty() {
                        v.push((
                            Kind::Detail,
                            format!("  {step}: observed: {}", observation.summary),
                        ));
                    }
                    for c in &observation.changes {
                        v.push((Kind::Detail, format!("  {step}: would change: {c}")));
                    }
                    if observation.changes.is_empty() && observation.findings.is_empty() {
                        v.push((Kind::Detail, format!("  {step}: would change: nothing")));
                    }
                }
                for f in &observation.findings {
                    v.push((
                        Kind::Warn,
                        format!("  {step}: precondition not met: {}", f.message),
                    ));
                    if !f.hint.is_empty() {
                        v.push((Kind::Detail, format!("  {step}: help: {}", f.hint)));
                    }
                }
            }
            Event::StepRetrying {
                step,
                attempt,
                error,
                delay_ms,
            } => {
                v.push((
                    Kind::Warn,
                    format!(
                        "↻ {}  attempt {} failed: {error}; retrying in {}",
                        with_action(step),
                        attempt.saturating_sub(1).max(1),
                        format_duration(Duration::from_millis(*delay_ms))
                    ),
                ));
            }
            Event::StepSucceeded {
                step,
                outcome,
                attempts,
                duration_ms,
                ..
            } => {
                let n = *attempts;
                let took = human(Duration::from_millis(*duration_ms));
                // Deferred is its own status: the step could not act (see `Outcome::DEFERRED`).
                let deferred = outcome.is_deferred();
                let mut s = if deferred {
                    format!("⤼ {}  deferred after {took}", with_action(step))
                } else {
                    format!("✓ {}  {took}", with_action(step))
                };
                if n > 1 {
                    s.push_str(&format!(" ({n} attempts)"));
                }
                if deferred {
                    s.push_str(&format!(
                        ": {}",
                        outcome
                            .summary
                            .strip_prefix(Outcome::DEFERRED)
                            .unwrap_or(&outcome.summary)
                            .trim()
                    ));
                }
                v.push((if deferred { Kind::Warn } else { Kind::Ok }, s));
                if !dry {
                    for c in &outcome.changes {
                        v.push((Kind::Detail, format!("  {step}: changed: {c}")));
                    }
                }
            }
            Event::StepFailed {
                step,
                error,
                attempts,
                duration_ms,
            } => {
                let n = *attempts;
                let mut s = format!("✗ {}  failed", with_action(step));
                if self.steps.contains_key(step) {
                    s.push_str(&format!(
                        " after {}",
                        human(Duration::from_millis(*duration_ms))
                    ));
                }
                if n > 1 {
                    s.push_str(&format!(" ({n} attempts)"));
                }
                s.push_str(&format!(": {error}"));
                v.push((Kind::Fail, s));
                let shown = matches!(error, crate::actions::ActionError::Precondition { .. })
                    && self.steps.get(step).is_some_and(|i| i.findings_shown);
                if let Some(h) = error.hint().filter(|_| !shown) {
                    v.push((Kind::Detail, format!("  {step}: help: {h}")));
                }
            }
            Event::StepSkipped { step, reason, .. } => {
                v.push((Kind::Warn, format!("↷ {step}  skipped: {reason}")));
            }
            Event::ApprovalRequested { step, message, .. } => {
                v.extend(self.approval_lines(step, message));
            }
            Event::RunFinished { .. } | Event::RunPaused { .. } => {
                let status = match event {
                    Event::RunFinished { status } => *status,
                    _ => RunStatus::Paused,
                };
                if let Event::RunPaused { awaiting, .. } = event {
                    // Approvals requested by an earlier process, still awaited.
                    for a in awaiting {
                        if !self.approvals_shown.contains(&a.step) {
                            v.extend(self.approval_lines(&a.step, &a.message));
                        }
                    }
                }
                let duration = self
                    .run_start
                    .map(|s| (at - s).to_std().unwrap_or_default())
                    .unwrap_or_default();
                let (kind, word) = match status {
                    RunStatus::Succeeded => (Kind::Ok, "succeeded"),
                    RunStatus::Failed => (Kind::Fail, "failed"),
                    RunStatus::Paused | RunStatus::Running => (Kind::Warn, "paused"),
                };
                let line = if self.resumed {
                    // This process's part only: the run's own counts and times (its whole
                    // life) close the command, from its reports.
                    let n = self.succeeded + self.deferred + self.failed;
                    format!(
                        "run {} {word}: this process ended {n} step{} in {}",
                        self.run_id,
                        if n == 1 { "" } else { "s" },
                        human(duration)
                    )
                } else {
                    let deferred = if self.deferred > 0 {
                        format!(", {} deferred", self.deferred)
                    } else {
                        String::new()
                    };
                    format!(
                        "run {} {word} after {}: {} succeeded{deferred}, {} failed, {} skipped",
                        self.run_id,
                        human(duration),
                        self.succeeded,
                        self.failed,
                        self.skipped,
                    )
                };
                v.push((kind, line));
                match status {
                    RunStatus::Paused => v.push((
                        Kind::Detail,
                        format!(
                            "resume with: drillbook resume {}{}",
                            shell_word(&self.run_id),
                            self.state_dir_arg
                        ),
                    )),
                    // A dry run changed nothing: it is run again, not resumed.
                    RunStatus::Failed if self.failed > 0 && dry => v.push((
                        Kind::Detail,
                        "after fixing the cause, run the dry run again (a dry run is not resumed)"
                            .to_string(),
                    )),
                    RunStatus::Failed if self.failed > 0 => v.push((
                        Kind::Detail,
                        format!(
                            "after fixing the cause, continue with: drillbook resume {}{}",
                            shell_word(&self.run_id),
                            self.state_dir_arg
                        ),
                    )),
                    _ => {}
                }
            }
            Event::FaultInjected { experiment: e } => v.push((
                Kind::Warn,
                format!(
                    "fault: FIS experiment {} {} in {} (template {}{})",
                    one_line(&e.id),
                    one_line(&e.state),
                    one_line(&e.region),
                    one_line(&e.template),
                    if e.actions.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", one_line(&e.actions.join(", ")))
                    }
                ),
            )),
            Event::FaultStopped { experiment: e } => v.push((
                Kind::Info,
                format!(
                    "fault: FIS experiment {} {} in {}{}",
                    one_line(&e.id),
                    one_line(&e.state),
                    one_line(&e.region),
                    e.ended_at
                        .map(|t| format!(" at {}", t.format("%H:%M:%S UTC")))
                        .unwrap_or_default()
                ),
            )),
            // What the journal keeps for reports and evidence; nothing to show as it happens.
            Event::AwsCalls { .. }
            | Event::ApprovalGranted { .. }
            | Event::DrillStarted { .. }
            | Event::FleetTarget { .. }
            | Event::DrillRefusedCalls { .. }
            | Event::DrillJudged { .. }
            | Event::Note { .. } => {}
        }
        v
    }

    /// Prints the lines (and moves the bars on a terminal).
    fn show(&mut self, at: DateTime<Utc>, event: &Event, lines: &[(Kind, String)]) {
        let color = self.color;
        let prefix = match &self.shape {
            Shape::Plain => Some(clock(self.run_start, at)),
            _ => None,
        };
        match &mut self.shape {
            Shape::Json => {}
            Shape::Plain => {
                let prefix = prefix.unwrap_or_default();
                for (_, l) in lines {
                    let _ = writeln!(self.err, "{prefix} {l}");
                }
                let _ = self.err.flush();
            }
            Shape::Progress(bars) => {
                match event {
                    Event::RunStarted { steps, .. } | Event::RunResumed { steps, .. } => {
                        let overall = bars.multi.add(ProgressBar::new(steps.len() as u64));
                        overall.set_style(
                            ProgressStyle::with_template(if color {
                                "{bar:30.cyan/blue} {pos}/{len} steps  {elapsed_precise}"
                            } else {
                                "{bar:30} {pos}/{len} steps  {elapsed_precise}"
                            })
                            .unwrap_or_else(|_| ProgressStyle::default_bar())
                            .progress_chars("=> "),
                        );
                        bars.overall = Some(overall);
                    }
                    Event::StepStarted {
                        step,
                        action,
                        attempt,
                        ..
                    } => {
                        let info = self.steps.get_mut(step);
                        let msg = one_line(&if *attempt > 1 {
                            format!("{step}  {action}  attempt {attempt}")
                        } else {
                            format!("{step}  {action}")
                        })
                        .into_owned();
                        match info {
                            Some(StepInfo { bar: Some(b), .. }) => b.set_message(msg),
                            Some(info) => {
                                let pb = ProgressBar::new_spinner();
                                let pb = match &bars.overall {
                                    Some(o) => bars.multi.insert_before(o, pb),
                                    None => bars.multi.add(pb),
                                };
                                pb.set_style(
                                    ProgressStyle::with_template(if color {
                                        "{spinner:.green} {msg}  {elapsed}"
                                    } else {
                                        "{spinner} {msg}  {elapsed}"
                                    })
                                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                                );
                                pb.set_message(msg);
                                pb.enable_steady_tick(Duration::from_millis(120));
                                info.bar = Some(pb);
                            }
                            None => {}
                        }
                        // The spinner line says it; no scrolling line for a start.
                        return;
                    }
                    Event::StepSucceeded { step, .. }
                    | Event::StepFailed { step, .. }
                    | Event::StepSkipped { step, .. }
                    | Event::ApprovalRequested { step, .. } => {
                        if let Some(b) = self.steps.get_mut(step).and_then(|i| i.bar.take()) {
                            b.finish_and_clear();
                            bars.multi.remove(&b);
                        }
                        if !matches!(event, Event::ApprovalRequested { .. })
                            && let Some(o) = &bars.overall
                        {
                            o.inc(1);
                        }
                    }
                    Event::RunFinished { .. } | Event::RunPaused { .. } => {
                        for info in self.steps.values_mut() {
                            if let Some(b) = info.bar.take() {
                                b.finish_and_clear();
                                bars.multi.remove(&b);
                            }
                        }
                        if let Some(o) = bars.overall.take() {
                            o.finish_and_clear();
                            bars.multi.remove(&o);
                        }
                    }
                    _ => {}
                }
                for (kind, l) in lines {
                    let text = if color { paint(*kind, l) } else { l.clone() };
                    if bars.multi.println(&text).is_err() {
                        let _ = writeln!(self.err, "{text}");
                    }
                }
            }
        }
    }
}

/// `[MM:SS.t]` since the run started.
fn clock(start: Option<DateTime<Utc>>, at: DateTime<Utc>) -> String {
    let ms = start
        .map(|s| (at - s).num_milliseconds().max(0) as u64)
        .unwrap_or(0);
    let tenths = ms / 100;
    format!(
        "[{:02}:{:02}.{}]",
        tenths / 600,
        (tenths / 10) % 60,
        tenths % 10
    )
}

/// Colours the leading symbol (or the whole line for details) with ANSI codes.
fn paint(kind: Kind, line: &str) -> String {
    let code = match kind {
        Kind::Info => "1",
        Kind::Start => "36",
        Kind::Ok => "32",
        Kind::Fail => "31",
        Kind::Warn => "33",
        Kind::Detail => "2",
    };
    match kind {
        Kind::Info | Kind::Detail => format!("\x1b[{code}m{line}\x1b[0m"),
        _ => {
            let mut chars = line.chars();
            let sym: String = chars.next().into_iter().collect();
            format!("\x1b[{code}m{sym}\x1b[0m{}", chars.as_str())
        }
    }
}

/// Quotes a word for a copy-pasted shell command when it needs it.
fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@+,".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_shape_tracks_one_spinner_per_running_step() {
        let t = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let console = Console::build(
            Shape::Progress(Bars {
                multi: MultiProgress::with_draw_target(ProgressDrawTarget::hidden()),
                overall: None,
            }),
            true,
            Box::new(std::io::sink()),
            Box::new(std::io::sink()),
        );
        let start = |step: &str, attempt| Event::StepStarted {
            step: step.into(),
            action: "wait".into(),
            attempt,
        };
        console.emit(
            t,
            &Event::RunStarted {
                format_version: crate::checkpoint::FORMAT_VERSION,
                run_id: "r".into(),
                runbook: "rb".into(),
                runbook_sha256: String::new(),
                mode: Mode::Execute,
                identity: None,
                host: String::new(),
                user: String::new(),
                drillbook_version: String::new(),
                steps: vec!["a".into(), "b".into()],
                vars_sha256: None,
                sealed_by: None,
            },
        );
        console.emit(t, &start("a", 1));
        console.emit(t, &start("b", 1));
        console.emit(t, &start("a", 2));
        let running = |c: &Console| {
            let st = c.lock();
            let mut v: Vec<String> = st
                .steps
                .iter()
                .filter(|(_, i)| i.bar.is_some())
                .map(|(k, _)| k.clone())
                .collect();
            v.sort();
            v
        };
        assert_eq!(running(&console), ["a", "b"]);
        console.emit(
            t,
            &Event::StepSucceeded {
                step: "a".into(),
                outcome: Default::default(),
                attempts: 2,
                duration_ms: 1000,
                aws_wait_ms: 0,
                dry_run: false,
            },
        );
        assert_eq!(running(&console), ["b"]);
        {
            let st = console.lock();
            let Shape::Progress(bars) = &st.shape else {
                panic!("progress shape expected")
            };
            assert_eq!(bars.overall.as_ref().map(|o| o.position()), Some(1));
        }
        console.emit(
            t,
            &Event::RunPaused {
                reason: "interrupted".into(),
                awaiting: vec![],
            },
        );
        assert!(running(&console).is_empty());
        let st = console.lock();
        let Shape::Progress(bars) = &st.shape else {
            panic!("progress shape expected")
        };
        assert!(bars.overall.is_none());
    }

    #[derive(Clone, Default)]
    struct Buf(std::sync::Arc<Mutex<Vec<u8>>>);

    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn an_event_cannot_print_a_line_of_its_own_nor_a_control_character() {
        let t = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let err = Buf::default();
        let console = Console::with_writers(
            MessageFormat::Human,
            Box::new(std::io::sink()),
            Box::new(err.clone()),
        );
        console.emit(
            t,
            &Event::ApprovalRequested {
                step: "gate".into(),
                message: "check dashboards\n[00:00.0] run r succeeded\r\u{1b}[32mAPPROVED\u{9b}0m"
                    .into(),
                nonce: String::new(),
            },
        );
        let text = String::from_utf8(err.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(
            lines[0],
            "[00:00.0] ⏸ gate  approval needed: check dashboards\\n[00:00.0] run r succeeded\\r\\x1b[32mAPPROVED\\u{9b}0m"
        );
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n'),
            "{text:?}"
        );
    }

    #[test]
    fn clock_formats_minutes_seconds_tenths() {
        let t0 = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(clock(Some(t0), t0), "[00:00.0]");
        assert_eq!(
            clock(Some(t0), t0 + chrono::Duration::milliseconds(61_250)),
            "[01:01.2]"
        );
        assert_eq!(clock(None, t0), "[00:00.0]");
        assert_eq!(
            clock(Some(t0), t0 - chrono::Duration::seconds(3)),
            "[00:00.0]"
        );
    }

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(shell_word("20261123-184501-ab12"), "20261123-184501-ab12");
        assert_eq!(shell_word("my dir"), "'my dir'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
    }

    #[test]
    fn json_lines_carry_the_version_and_round_trip() {
        let at = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let e = Event::StepSkipped {
            step: "a".into(),
            reason: "r".into(),
        };
        let line = json_line(at, &e).unwrap();
        assert!(
            line.starts_with("{\"v\":2,\"at\":\"2026-01-01T00:00:00Z\",\"type\":\"step_skipped\""),
            "{line}"
        );
        let back: Event = serde_json::from_str(&line).unwrap();
        assert_eq!(back, e);
    }
}
