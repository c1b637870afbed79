//! What the commands that execute share: variables, the AWS handle, the engine, the signer, the
//! confirmation before a change, the credentials note, and the exit code a run ends with.

use std::fmt::Write as _;
use std::io::{BufRead, Write};
use std::sync::Arc;

use super::Report as _;
use super::{ExitCode, MessageFormat};
use crate::actions::Registry;
use crate::actions::aws::{Aws, AwsOptions};
use crate::app::Failure;
use crate::app::Settings;
use crate::app::finish::Reported;
use crate::app::shell_quote;
use crate::duration::human;
use crate::engine::{Engine, IDENTITY_ENV, RunResult, needs_aws};
use crate::event::{Mode, RunStatus};
use crate::runbook::Runbook;

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

/// The AWS handle: the real configuration chain when the runbook needs AWS (and the identity
/// does not come from the testing override), otherwise an offline one that makes no call.
pub(super) async fn aws_for(
    runbook: Option<&Runbook>,
    mode: Mode,
    profile: &Option<String>,
) -> Arc<Aws> {
    aws_with(
        runbook,
        mode,
        AwsOptions {
            profile: profile.clone(),
            ..Default::default()
        },
    )
    .await
}

pub(super) async fn aws_with(
    runbook: Option<&Runbook>,
    mode: Mode,
    options: AwsOptions,
) -> Arc<Aws> {
    let aws_steps = runbook.is_some_and(|r| {
        r.steps.iter().chain(&r.finally).any(|s| {
            crate::catalog::lookup(&s.action)
                .is_some_and(|a| a.service != crate::actions::Service::Core)
        })
    });
    let identity_overridden = crate::engine::test_hook(IDENTITY_ENV).is_some();
    let needed = match runbook {
        Some(r) => aws_steps || (needs_aws(r, mode) && !identity_overridden),
        None => !identity_overridden,
    };
    if needed {
        Arc::new(Aws::load(options).await)
    } else {
        let conf = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        Arc::new(Aws::from_config(conf, options))
    }
}

/// Reports, evidence and metrics for a run that stopped, then its exit code.
pub(super) async fn after_run(
    res: &RunResult,
    format: MessageFormat,
    settings: &Settings,
    aws: &Aws,
    next: &Next,
) -> ExitCode {
    let finished = crate::app::finish::finish(settings, aws, &res.run_id, None).await;
    show_reported(&finished, format);
    let code = conclude(res, settings, next, finished.as_ref().ok().map(|r| &r.view));
    match finished {
        Ok(_) => code,
        Err(e) => {
            e.report();
            if code == ExitCode::Success {
                ExitCode::Failed
            } else {
                code
            }
        }
    }
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
pub(super) struct Next {
    /// The command that runs the same dry run again (`None` when not known, as on `resume`).
    pub rerun: Option<String>,
    /// ` --sign-with ...` for `approve` when the runbook counts only signed approvals.
    pub sign_with: String,
}

impl Next {
    pub(super) fn new(rerun: Option<String>, runbook: Option<&Runbook>) -> Next {
        Next {
            rerun,
            sign_with: runbook.map_or(String::new(), |r| {
                crate::engine::sign_with_hint(&r.approvers)
            }),
        }
    }
}

/// Prints what the run ended with and maps it to an exit code (`next`: the commands to print;
/// `view`: the run as its reports tell it, when they were written).
pub(super) fn conclude(
    res: &RunResult,
    settings: &Settings,
    next: &Next,
    view: Option<&crate::report::document::RunView>,
) -> ExitCode {
    let dir = settings.location_flag();
    use crate::report::sanitize::one_line as safe;
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
            ExitCode::Success
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
            ExitCode::Failed
        }
        RunStatus::Failed => {
            errln!(
                "run {} failed; after fixing the cause, continue it with:\n  drillbook resume {}{dir}",
                res.run_id,
                res.run_id
            );
            ExitCode::Failed
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
            ExitCode::Paused
        }
    }
}

/// Before an execute run: how long the credentials have left, when they say (see
/// [`credentials_note`]).
pub(super) async fn say_credentials_left(
    aws: &Aws,
    runbook: &Runbook,
    forecast: Option<(std::time::Duration, std::time::Duration)>,
) {
    if !needs_aws(runbook, Mode::Execute) {
        return;
    }
    // The p90 forecast: the run should not outlive the credentials nine times out of ten.
    let estimate = forecast.map(|(_, p90)| p90);
    if let Some(note) = credentials_note(
        aws.credentials_expiry().await,
        std::time::SystemTime::now(),
        estimate,
    ) {
        errln!("{note}");
    }
}

/// What to say before an execute run about the credentials' remaining life: how long they have
/// left when they say, and a warning when that is shorter than the plan's estimate (the run
/// would then pause at the expiry, and resume after a new login).
pub(super) fn credentials_note(
    expiry: Option<std::time::SystemTime>,
    now: std::time::SystemTime,
    estimate: Option<std::time::Duration>,
) -> Option<String> {
    let left = expiry?.duration_since(now).unwrap_or_default();
    let left_text = human(std::time::Duration::from_secs(left.as_secs()));
    Some(match estimate {
        Some(e) if e > left => format!(
            "warning: the AWS credentials expire in {left_text}, before the plan's estimate of {}; \
             the run pauses when they do (renew them, e.g. `aws sso login`, then `drillbook \
             resume RUN_ID`), or renew them now",
            human(e)
        ),
        _ => format!("AWS credentials expire in {left_text}"),
    })
}

/// The store a run writes to, prepared (with DynamoDB state: locked), saying so when an expired
/// lock was taken over.
pub(super) async fn prepare(
    settings: &Settings,
    runbook_name: &str,
    run_id: &str,
) -> Result<crate::app::store::Prepared, Failure> {
    let prepared = crate::app::store::prepare(settings, runbook_name, run_id).await?;
    if let Some(prev) = &prepared.stolen_from {
        // The previous holder is whatever the lock item says: on one line.
        let safe = crate::report::sanitize::one_line;
        errln!(
            "warning: took over the lock of `{}` from {} (host {}, pid {}, lease \
             expired {})",
            safe(runbook_name),
            safe(&prev.identity),
            safe(&prev.host),
            prev.pid,
            prev.lease_expires_at.format("%H:%M:%S UTC")
        );
    }
    Ok(prepared)
}

/// The end of a run whose state store stopped answering: no report or evidence (both read
/// the store), the lock released if the store lets it go, and what to run once it answers.
/// Exit 3: the run is paused and resumable.
pub(super) async fn store_lost(
    res: &RunResult,
    settings: &Settings,
    prepared: crate::app::store::Prepared,
) -> ExitCode {
    use crate::report::sanitize::one_line as safe;
    let lease_end = prepared.lease_end();
    let lock_kept = prepared.release().await.is_err();
    let err = res.store_lost.as_deref().unwrap_or_default();
    errln!(
        "error: run {} paused: the state store stopped answering; nothing more was recorded: {}",
        res.run_id,
        safe(err)
    );
    for (step, what) in &res.unrecorded {
        errln!(
            "  step `{step}` {}, but that could not be recorded: it is observed again on resume",
            safe(what)
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
    if let (true, Some(end)) = (lock_kept, lease_end) {
        errln!(
            "the runbook lock could not be released: it holds until its lease ends, at {} at the latest; until then a resume exits 4",
            end.format("%H:%M:%S UTC")
        );
        command.push_str(" --steal-lock");
    }
    errln!(
        "help: once the store answers again, continue the run (actions observe first and apply only what is missing) with:\n  {command}"
    );
    ExitCode::Paused
}

/// Releases the runbook lock of a run that stopped; a failure only warns.
pub(super) async fn release(prepared: crate::app::store::Prepared) {
    if let Err(e) = prepared.release().await {
        errln!("warning: cannot release the runbook lock: {e}\nhelp: it expires with its lease");
    }
}

/// Asks for confirmation of an `--execute` run on a terminal.
pub(super) fn confirm(
    runbook: &Runbook,
    account: Option<&str>,
    forecast: Option<(std::time::Duration, std::time::Duration)>,
) -> bool {
    let mutating: Vec<&crate::runbook::Step> = runbook
        .steps
        .iter()
        .chain(&runbook.finally)
        .filter(|s| crate::catalog::lookup(&s.action).is_some_and(|a| a.mutates))
        .collect();
    let mut regions: Vec<&str> = mutating
        .iter()
        .filter_map(|s| s.region.as_deref())
        .collect();
    regions.sort();
    regions.dedup();
    // What is asked passes the terminal sanitizer like everything else printed.
    let mut text = String::new();
    let _ = writeln!(
        text,
        "about to EXECUTE `{}`: {} step(s) change AWS resources",
        crate::report::sanitize::one_line(&runbook.name),
        mutating.len()
    );
    for s in &mutating {
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
        account.unwrap_or("(the account of the current credentials)"),
        if regions.is_empty() {
            "none".to_string()
        } else {
            regions.join(", ")
        }
    );
    if let Some((p50, p90)) = forecast {
        let d = crate::plan::render::short_duration;
        let _ = writeln!(
            text,
            "expected duration: {} (p50), {} (p90), from past runs where a step has {} samples",
            d(p50),
            d(p90),
            crate::history::MIN_SAMPLES
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

/// An engine writing to `store` (the file store, or the DynamoDB store under its lock), with
/// the console for `format` as its event sink.
pub(super) fn engine_with(
    format: MessageFormat,
    settings: &Settings,
    aws: Arc<Aws>,
    store: Arc<dyn crate::checkpoint::CheckpointStore>,
    runbook: Option<&Runbook>,
) -> Engine {
    let sign_with = runbook.map_or(String::new(), |r| {
        crate::engine::sign_with_hint(&r.approvers)
    });
    Engine::new(
        store,
        Registry::builtin(),
        aws,
        Arc::new(
            crate::report::Console::detect(format)
                .state_dir(&settings.state.dir)
                .approval_signer(&sign_with),
        ),
    )
    .max_parallel(settings.max_parallel)
    .interrupt(async {
        // If the handler cannot be installed, never interrupt.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::credentials_note;
    use std::time::{Duration, SystemTime};

    #[test]
    fn credentials_left_are_shown_and_warned_about_when_shorter_than_the_plan() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let in_20m = Some(now + Duration::from_secs(1200));
        assert_eq!(
            credentials_note(None, now, Some(Duration::from_secs(60))),
            None
        );
        assert_eq!(
            credentials_note(in_20m, now, Some(Duration::from_secs(600))).unwrap(),
            "AWS credentials expire in 20m00s"
        );
        let warn = credentials_note(in_20m, now, Some(Duration::from_secs(3600))).unwrap();
        assert!(
            warn.starts_with(
                "warning: the AWS credentials expire in 20m00s, before the plan's estimate of 1h"
            ),
            "{warn}"
        );
    }
}
