//! What the commands that execute share, on the command line's side: variables, the
//! confirmation before a change, and the rendering of what the application's lifecycle tells
//! ([`crate::app::Note`]) and ends with ([`crate::app::Ending`]).

use std::fmt::Write as _;
use std::io::{BufRead, Write};
use std::sync::Arc;

use super::Report as _;
use super::{ExitCode, MessageFormat};
use crate::app::finish::Reported;
use crate::app::{
    Ending, Failure, Narrator, Note, Preflight, RunResult, Settings, SinkFor, shell_quote,
};
use crate::duration::human;
use crate::event::{Mode, RunStatus};
use crate::report::sanitize::one_line;

pub(super) fn mode_name(m: Mode) -> &'static str {
    match m {
        Mode::DryRun => "dry-run",
        Mode::Execute => "execute",
    }
}

/// Splits `--var k=v` arguments. Errors name the bad argument.
pub(super) fn parse_vars(vars: &[String]) -> Result<Vec<(String, String)>, Failure> {
    vars.iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
            _ => Err(
                Failure::invalid(format!("invalid --var `{kv}`: expected KEY=VALUE"))
                    .help("write it like `--var secondary=eu-west-1`"),
            ),
        })
        .collect()
}

/// The console as the engine's event sink, once the runbook's approval signer is known.
pub(super) fn console(format: MessageFormat, settings: &Settings) -> SinkFor<'static> {
    let state_dir = settings.state.dir.clone();
    Box::new(move |sign_with: &str| {
        Arc::new(
            crate::report::Console::detect(format)
                .state_dir(&state_dir)
                .approval_signer(sign_with),
        ) as Arc<dyn crate::event::EventSink>
    })
}

/// Shows the lifecycle's [`Note`]s on stderr (the progress notes for people only; warnings
/// and errors whatever the format).
pub(super) struct Shown(pub MessageFormat);

impl Narrator for Shown {
    fn note(&self, note: Note<'_>) {
        let human_output = self.0 == MessageFormat::Human;
        match note {
            Note::LockTakenOver { runbook, holder } => errln!(
                "warning: took over the lock of `{}` from {} (host {}, pid {}, lease \
                 expired {})",
                one_line(runbook),
                one_line(&holder.identity),
                one_line(&holder.host),
                holder.pid,
                holder.lease_expires_at.format("%H:%M:%S UTC")
            ),
            Note::LockNotReleased(e) => errln!(
                "warning: cannot release the runbook lock: {}\nhelp: it expires with its lease",
                one_line(&e)
            ),
            Note::ResumingDrill { scenario, impaired } if human_output => {
                errln!("resuming drill `{}`", one_line(scenario));
                for i in impaired {
                    errln!("impaired again: {}", impairment(i));
                }
            }
            Note::Injected {
                injections,
                executed,
            } if human_output => {
                let verb = if executed { "injected" } else { "would inject" };
                for j in injections {
                    errln!("{verb} `{}`: {}", j.id, one_line(&j.summary));
                    for c in &j.changes {
                        errln!("  - {}", one_line(c));
                    }
                }
            }
            Note::WouldStartFis {
                template,
                region,
                actions,
            } if human_output => errln!(
                "would start FIS experiment template {template} in {region}: {}",
                actions.join(", ")
            ),
            Note::FisKept(e) if human_output => errln!(
                "FIS experiment {} in {} keeps running while the drill awaits its approval \
                 (`drillbook resume` stops it at the drill's end; FIS ends it after its duration)",
                e.id,
                e.region
            ),
            Note::Problem(f) => {
                f.report();
            }
            _ => {}
        }
    }
}

/// `REGION` or `REGION (SERVICE)`.
pub(super) fn impairment(i: &crate::app::Impairment) -> String {
    format!(
        "{}{}",
        i.region,
        i.service
            .as_deref()
            .map(|s| format!(" ({s})"))
            .unwrap_or_default()
    )
}

/// Before an `--execute` run: the confirmation on a terminal (unless `--yes`), then the
/// credentials note. False when the person did not confirm.
pub(super) fn go_ahead(pre: &Preflight, mode: Mode, yes: bool) -> bool {
    use std::io::IsTerminal;
    if mode != Mode::Execute {
        return true;
    }
    if !yes && std::io::stdin().is_terminal() && !confirm(pre) {
        errln!("not confirmed: nothing was run");
        return false;
    }
    if let Some(note) = &pre.credentials {
        errln!("{note}");
    }
    true
}

/// For a person: the timing report, and where the reports and evidence are.
pub(super) fn show_reported(r: &Result<Reported, Failure>, format: MessageFormat) {
    if let (Ok(r), MessageFormat::Human) = (r, format) {
        outln!("{}", crate::report::TimingReport(&r.view).render_text());
        errln!(
            "reports and sealed evidence: {} (open {})",
            r.dir.display(),
            r.dir.join("report.html").display()
        );
    }
}

/// The command that runs a dry run again: `drillbook COMMAND FILE --var K=V ...` with the
/// state location (a failed dry run changed nothing, so it is run again rather than resumed).
pub(super) fn rerun_command(
    command: &str,
    file: &std::path::Path,
    vars: &[String],
    settings: &Settings,
) -> String {
    let mut s = format!(
        "drillbook {command} {}",
        shell_quote(&file.display().to_string())
    );
    for v in vars {
        let _ = write!(s, " --var {}", shell_quote(v));
    }
    s.push_str(&settings.location_flag());
    s
}

/// What the commands printed at a run's end need beyond the run's result.
#[derive(Debug, Default)]
struct Next {
    /// The command that runs the same dry run again (`None` when not known, as on `resume`).
    pub rerun: Option<String>,
    /// ` --sign-with ...` for `approve` when the runbook counts only signed approvals.
    pub sign_with: String,
}

/// Renders what a run, resume or drill ended with and returns its exit code.
pub(super) fn show_ending(
    ending: &Ending,
    format: MessageFormat,
    settings: &Settings,
    rerun: Option<String>,
) -> ExitCode {
    let next = Next {
        rerun,
        sign_with: ending.sign_with.clone(),
    };
    if let Some(lost) = &ending.store_lost {
        show_store_lost(&ending.res, lost, settings);
        return ending.code;
    }
    let reported = ending.reported.as_ref();
    if let Some(r) = reported {
        show_reported(r, format);
    }
    let view = ending.view();
    let human_output = format == MessageFormat::Human;
    let report_error = || {
        if let Some(Err(e)) = reported {
            e.report();
        }
    };
    match &ending.drill {
        None => {
            conclude(&ending.res, settings, &next, view);
            report_error();
        }
        Some(d) if d.outcome == crate::app::DrillOutcome::Paused => {
            report_error();
            if human_output {
                errln!(
                    "drill `{}` paused: its verdicts come when it is resumed to its end",
                    one_line(&d.scenario.name)
                );
            }
            conclude(&ending.res, settings, &next, view);
        }
        Some(d) => {
            if let (Some(j), true) = (&d.judged, human_output) {
                print_verdicts(&j.verdicts, view, &j.refused_calls, ending.res.mode);
            }
            conclude(&ending.res, settings, &next, view);
            report_error();
            match d.outcome {
                crate::app::DrillOutcome::Failed if ending.res.status == RunStatus::Failed => {
                    errln!(
                        "drill `{}` FAILED: the recovery did not run to its end",
                        one_line(&d.scenario.name)
                    )
                }
                crate::app::DrillOutcome::Failed => errln!(
                    "drill `{}` FAILED: see the verdicts above",
                    one_line(&d.scenario.name)
                ),
                crate::app::DrillOutcome::Passed => {
                    errln!("drill `{}` PASSED", one_line(&d.scenario.name))
                }
                crate::app::DrillOutcome::DryRunDone => errln!(
                    "drill `{}`: dry run done; expectations and objectives are checked with --execute",
                    one_line(&d.scenario.name)
                ),
                _ => {}
            }
        }
    }
    ending.code
}

/// The end of a run whose state store stopped answering: what was not recorded, and what to
/// run once it answers.
fn show_store_lost(res: &RunResult, lost: &crate::app::StoreLost, settings: &Settings) {
    let err = res.store_lost.as_deref().unwrap_or_default();
    errln!(
        "error: run {} paused: the state store stopped answering; nothing more was recorded: {}",
        res.run_id,
        one_line(err)
    );
    for (step, what) in &res.unrecorded {
        errln!(
            "  step `{step}` {}, but that could not be recorded: it is observed again on resume",
            one_line(what)
        );
    }
    if !res.in_doubt.is_empty() {
        errln!(
            "  steps abandoned while running (observed again on resume): {}",
            res.in_doubt.join(", ")
        );
    }
    let mut command = format!(
        "drillbook resume {}{}",
        res.run_id,
        settings.location_flag()
    );
    if let (true, Some(end)) = (lost.lock_kept, lost.lease_end) {
        errln!(
            "the runbook lock could not be released: it holds until its lease ends, at {} at the latest; until then a resume exits 4",
            end.format("%H:%M:%S UTC")
        );
        command.push_str(" --steal-lock");
    }
    errln!(
        "help: once the store answers again, continue the run (actions observe first and apply only what is missing) with:\n  {command}"
    );
}

/// Prints what the run ended with (`next`: the commands to print; `view`: the run as its
/// reports tell it, when they were written).
fn conclude(
    res: &RunResult,
    settings: &Settings,
    next: &Next,
    view: Option<&crate::report::document::RunView>,
) {
    let dir = settings.location_flag();
    let safe = one_line;
    // The run as its reports tell it (its whole life, resumes included), when they were
    // written.
    if let Some(v) = view {
        errln!(
            "run {}: {}",
            res.run_id,
            crate::report::TimingReport(v).summary_line()
        );
    }
    for (step, err) in &res.failed {
        errln!("error: step `{step}` failed: {}", safe(&err.to_string()));
        if let Some(h) = err.hint() {
            errln!("help: {}", safe(h));
        }
    }
    match res.status {
        RunStatus::Succeeded => {
            if view.is_none() {
                errln!(
                    "run {} succeeded ({}) in {}",
                    res.run_id,
                    mode_name(res.mode),
                    human(res.duration)
                );
            }
        }
        RunStatus::Failed if res.mode == Mode::DryRun => {
            errln!(
                "dry run {} failed; a dry run changes nothing, so there is nothing to resume: after fixing \
                 the cause, run it again:\n  {}",
                res.run_id,
                next.rerun
                    .as_deref()
                    .unwrap_or("drillbook run RUNBOOK (with the same --var values)")
            );
        }
        RunStatus::Failed => {
            errln!(
                "run {} failed; after fixing the cause, continue it with:\n  drillbook resume {}{dir}",
                res.run_id,
                res.run_id
            );
        }
        // The engine ends a process paused, never running; a journal without an end is resumable.
        RunStatus::Paused | RunStatus::Running => {
            if let Some(err) = &res.credentials {
                let profile = settings
                    .profile
                    .clone()
                    .or_else(|| std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty()));
                let login = match &profile {
                    Some(p) => format!("aws sso login --profile {}", shell_quote(p)),
                    None => "aws sso login (or refresh the credentials you use)".to_string(),
                };
                errln!(
                    "run {} paused: the AWS credentials {} are expired, missing or not valid: {}",
                    res.run_id,
                    profile
                        .as_deref()
                        .map(|p| format!("of profile `{p}`"))
                        .unwrap_or_else(|| "in use".into()),
                    safe(err),
                );
                errln!(
                    "nothing was marked failed; steps caught mid-call ({}) are observed again on resume",
                    res.in_doubt.join(", ")
                );
                errln!("help: renew them with `{login}`, then resume the run");
            } else if res.interrupted {
                errln!("run {} interrupted", res.run_id);
                if !res.in_doubt.is_empty() {
                    errln!(
                        "steps left in doubt (observed again on resume): {}",
                        res.in_doubt.join(", ")
                    );
                }
            }
            for (step, msg) in &res.awaiting_approval {
                errln!(
                    "run {} awaits approval of `{step}`: {}",
                    res.run_id,
                    safe(msg)
                );
                errln!(
                    "  approve (as another identity): drillbook approve {} {step}{}{dir}",
                    res.run_id,
                    next.sign_with
                );
            }
            errln!("resume with:\n  drillbook resume {}{dir}", res.run_id);
        }
    }
}

/// Asks for confirmation of an `--execute` run on a terminal.
fn confirm(pre: &Preflight) -> bool {
    let mutating = &pre.mutating;
    let regions = &pre.regions;
    // What is asked passes the terminal sanitizer like everything else printed.
    let mut text = String::new();
    let _ = writeln!(
        text,
        "about to EXECUTE `{}`: {} step(s) change AWS resources",
        crate::report::sanitize::one_line(&pre.runbook),
        mutating.len()
    );
    for s in mutating {
        let _ = writeln!(
            text,
            "  {} ({}{})",
            s.id,
            s.action,
            s.region
                .as_deref()
                .map(|r| format!(" in {r}"))
                .unwrap_or_default()
        );
    }
    let _ = writeln!(
        text,
        "account: {}\nregions: {}",
        pre.account
            .as_deref()
            .unwrap_or("(the account of the current credentials)"),
        if regions.is_empty() {
            "none".to_string()
        } else {
            regions.join(", ")
        }
    );
    if let Some((p50, p90)) = pre.forecast {
        let d = crate::plan::render::short_duration;
        let _ = writeln!(
            text,
            "expected duration: {} (p50), {} (p90), from past runs where a step has {} samples",
            d(p50),
            d(p90),
            crate::app::lifecycle::FORECAST_MIN_SAMPLES
        );
    }
    let _ = write!(text, "type `yes` to continue: ");
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(crate::report::sanitize::terminal(&text).as_bytes());
    let _ = err.flush();
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).is_err() {
        return false;
    }
    matches!(line.trim(), "yes" | "y")
}

/// The drill's expectations and objectives. The objectives are the run's read model's (one
/// rule for every view: a run that did not reach the end of its recovery meets none) when the
/// reports were written, else the drill's record.
fn print_verdicts(
    verdicts: &crate::app::Verdicts,
    view: Option<&crate::report::document::RunView>,
    refused: &[crate::app::ImpairedCall],
    mode: Mode,
) {
    if mode == Mode::Execute {
        outln!("expectations:");
        for e in &verdicts.expectations {
            let mark = if e.passed { "PASS" } else { "FAIL" };
            outln!("  {mark}  {}  {}", e.id, one_line(&e.description));
            if let Some(r) = &e.reason {
                outln!("        {}", one_line(r));
            }
        }
        outln!("objectives:");
        match view {
            Some(v) => {
                for o in &v.objectives {
                    let mark = match o.verdict {
                        crate::report::document::ObjectiveState::Met => "MET         ",
                        crate::report::document::ObjectiveState::Missed => "MISSED      ",
                        crate::report::document::ObjectiveState::NotAssessed => "NOT ASSESSED",
                    };
                    let measured = o
                        .measured_ms
                        .map(|m| human(std::time::Duration::from_millis(m)))
                        .unwrap_or_else(|| "not measured".into());
                    outln!(
                        "  {mark}  {} {} (target {}): {}",
                        o.objective.to_uppercase(),
                        measured,
                        human(std::time::Duration::from_millis(o.target_ms)),
                        one_line(&o.how)
                    );
                }
            }
            None => {
                for o in &verdicts.objectives {
                    let mark = if o.met { "MET   " } else { "MISSED" };
                    let measured = o
                        .measured
                        .map(human)
                        .unwrap_or_else(|| "not measured".into());
                    outln!(
                        "  {mark}  {} {} (target {}): {}",
                        o.objective.to_uppercase(),
                        measured,
                        human(o.target),
                        one_line(&o.how)
                    );
                }
            }
        }
    }
    if !refused.is_empty() {
        let mut by_step: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
        for c in refused {
            by_step
                .entry(c.step.as_deref().unwrap_or("(outside a step)"))
                .or_default()
                .push(format!("{} {} in {}", c.service, c.operation, c.region));
        }
        outln!("steps that needed an impaired Region:");
        for (step, calls) in by_step {
            let mut calls = calls;
            calls.dedup();
            outln!("  {step}: {}", one_line(&calls.join(", ")));
        }
    }
}
