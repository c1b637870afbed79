//! `drillbook run`, `resume` and `approve`.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;

use super::{ApproveArgs, ExecOptions, ExitCode, ResumeArgs, RunArgs};
use crate::actions::Registry;
use crate::actions::aws::{Aws, AwsOptions};
use crate::engine::{Engine, EngineError, IDENTITY_ENV, RunResult, caller_identity, needs_aws};
use crate::event::{Mode, RunStatus};
use crate::runbook::Runbook;
use crate::runbook::duration::human;

// ---- commands --------------------------------------------------------------------------------

fn mode_name(m: Mode) -> &'static str {
    match m {
        Mode::DryRun => "dry-run",
        Mode::Execute => "execute",
    }
}

pub(super) fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("error: cannot start the async runtime: {e}");
            ExitCode::Failed
        })
}

pub(super) fn parse_vars(vars: &[String]) -> Result<Vec<(String, String)>, ExitCode> {
    vars.iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
            _ => {
                eprintln!(
                    "error: invalid `--var {kv}`\nhelp: write variables as `--var name=value`"
                );
                Err(ExitCode::Invalid)
            }
        })
        .collect()
}

/// The AWS handle: the real configuration chain when the runbook needs AWS (and the identity
/// does not come from the testing override), otherwise an offline one that makes no call.
async fn aws_for(runbook: Option<&Runbook>, mode: Mode, profile: &Option<String>) -> Arc<Aws> {
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

async fn aws_with(runbook: Option<&Runbook>, mode: Mode, options: AwsOptions) -> Arc<Aws> {
    let aws_steps = runbook.is_some_and(|r| {
        r.steps.iter().chain(&r.finally).any(|s| {
            crate::actions::catalog::lookup(&s.action)
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

fn state_dir_flag(exec_dir: &Path) -> String {
    if exec_dir == Path::new(".drillbook") {
        String::new()
    } else {
        format!(
            " --state-dir {}",
            shell_quote(&exec_dir.display().to_string())
        )
    }
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:@".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

pub(super) fn engine_error(e: EngineError) -> ExitCode {
    eprintln!("error: {}", crate::secret::redact(&e.to_string()));
    if e.is_invalid_input() {
        ExitCode::Invalid
    } else {
        ExitCode::Failed
    }
}

/// The `--sign-with` signer, or exit 2 with a hint.
pub(super) fn signer_or_exit(exec: &ExecOptions) -> Result<crate::evidence::Signer, ExitCode> {
    super::finish::signer(exec).map_err(|e| {
        eprintln!(
            "error: {e}\nhelp: use `--sign-with ed25519:KEYFILE` or `--sign-with kms:alias/NAME`"
        );
        ExitCode::Invalid
    })
}

/// Reports, evidence and metrics for a run that stopped, then its exit code.
async fn after_run(
    res: &RunResult,
    exec: &ExecOptions,
    aws: &Aws,
    signer: &crate::evidence::Signer,
) -> ExitCode {
    let finished = super::finish::finish(exec, aws, signer, &res.run_id, None).await;
    let code = conclude(res, exec);
    match finished {
        Ok(_) => code,
        Err(e) => {
            eprintln!("error: {e}");
            if code == ExitCode::Success {
                ExitCode::Failed
            } else {
                code
            }
        }
    }
}

/// Prints what the run ended with and maps it to an exit code.
pub(super) fn conclude(res: &RunResult, exec: &ExecOptions) -> ExitCode {
    let dir = super::state::location_flag(exec).unwrap_or_else(|| state_dir_flag(&exec.state_dir));
    use crate::report::console::terminal_safe as safe;
    for (step, err) in &res.failed {
        eprintln!("error: step `{step}` failed: {}", safe(&err.to_string()));
        if let Some(h) = err.hint() {
            eprintln!("help: {}", safe(h));
        }
    }
    match res.status {
        RunStatus::Succeeded => {
            eprintln!(
                "run {} succeeded ({}) in {}",
                res.run_id,
                mode_name(res.mode),
                human(res.duration)
            );
            ExitCode::Success
        }
        RunStatus::Failed => {
            eprintln!(
                "run {} failed; after fixing the cause, continue it with:\n  drillbook resume {}{dir}",
                res.run_id, res.run_id
            );
            ExitCode::Failed
        }
        RunStatus::Paused => {
            if let Some(err) = &res.credentials {
                let profile = exec
                    .profile
                    .clone()
                    .or_else(|| std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty()));
                let login = match &profile {
                    Some(p) => format!("aws sso login --profile {}", shell_quote(p)),
                    None => "aws sso login (or refresh the credentials you use)".to_string(),
                };
                eprintln!(
                    "run {} paused: the AWS credentials {} are expired, missing or not valid: {}",
                    res.run_id,
                    profile
                        .as_deref()
                        .map(|p| format!("of profile `{p}`"))
                        .unwrap_or_else(|| "in use".into()),
                    safe(err),
                );
                eprintln!(
                    "nothing was marked failed; steps caught mid-call ({}) are observed again on resume",
                    res.in_doubt.join(", ")
                );
                eprintln!("help: renew them with `{login}`, then resume the run");
            } else if res.interrupted {
                eprintln!("run {} interrupted", res.run_id);
                if !res.in_doubt.is_empty() {
                    eprintln!(
                        "steps left in doubt (observed again on resume): {}",
                        res.in_doubt.join(", ")
                    );
                }
            }
            for (step, msg) in &res.awaiting_approval {
                eprintln!(
                    "run {} awaits approval of `{step}`: {}",
                    res.run_id,
                    safe(msg)
                );
                eprintln!(
                    "  approve (as another identity): drillbook approve {} {step}{dir}",
                    res.run_id
                );
            }
            eprintln!("resume with:\n  drillbook resume {}{dir}", res.run_id);
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
        eprintln!("{note}");
    }
}

/// What to say before an execute run about the credentials' remaining life: how long they have
/// left when they say, and a warning when that is shorter than the plan's estimate (the run
/// would then pause at the expiry, and resume after a new login).
fn credentials_note(
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
        .filter(|s| crate::actions::catalog::lookup(&s.action).is_some_and(|a| a.mutates))
        .collect();
    let mut regions: Vec<&str> = mutating
        .iter()
        .filter_map(|s| s.region.as_deref())
        .collect();
    regions.sort();
    regions.dedup();
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "about to EXECUTE `{}`: {} step(s) change AWS resources",
        runbook.name,
        mutating.len()
    );
    for s in &mutating {
        let _ = writeln!(
            err,
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
        err,
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
            err,
            "expected duration: {} (p50), {} (p90), from past runs where a step has {} samples",
            d(p50),
            d(p90),
            crate::history::MIN_SAMPLES
        );
    }
    let _ = write!(err, "type `yes` to continue: ");
    let _ = err.flush();
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).is_err() {
        return false;
    }
    matches!(line.trim(), "yes" | "y")
}

pub(super) fn run(args: RunArgs) -> ExitCode {
    let overrides = match parse_vars(&args.vars) {
        Ok(v) => v,
        Err(c) => return c,
    };
    let loaded = match crate::runbook::load_file(&args.file, &overrides) {
        Ok(l) => l,
        Err(d) => {
            eprintln!("error: {d}");
            return ExitCode::Invalid;
        }
    };
    let mode = if args.execute {
        Mode::Execute
    } else {
        Mode::DryRun
    };
    let signer = match signer_or_exit(&args.exec) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(c) => return c,
    };
    rt.block_on(async {
        let aws = aws_for(Some(&loaded.runbook), mode, &args.exec.profile).await;
        let forecast = if mode == Mode::Execute {
            super::status::forecast(&args.exec, &loaded.runbook).await
        } else {
            None
        };
        if mode == Mode::Execute && !args.yes && std::io::stdin().is_terminal() {
            let account = if needs_aws(&loaded.runbook, mode) {
                caller_identity(&aws, &crate::engine::identity_region(&loaded.runbook))
                    .await
                    .ok()
                    .map(|i| i.account)
            } else {
                None
            };
            if !confirm(&loaded.runbook, account.as_deref(), forecast) {
                eprintln!("not confirmed: nothing was run");
                return ExitCode::Invalid;
            }
        }
        if mode == Mode::Execute {
            say_credentials_left(&aws, &loaded.runbook, forecast).await;
        }
        let (store, lock) = match super::state::prepare(&args.exec, &loaded.runbook.name, "").await
        {
            Ok(s) => s,
            Err(c) => return c,
        };
        let engine = engine_with(&args.exec, aws.clone(), store);
        let result = engine.run(&loaded, mode).await;
        super::state::release(lock).await;
        match result {
            Ok(res) => after_run(&res, &args.exec, &aws, &signer).await,
            Err(e) => engine_error(e),
        }
    })
}

/// An engine writing to `store` (the file store, or the DynamoDB store under its lock).
pub(super) fn engine_with(
    exec: &ExecOptions,
    aws: Arc<Aws>,
    store: Arc<dyn crate::checkpoint::CheckpointStore>,
) -> Engine {
    Engine::new(
        store,
        Registry::builtin(),
        aws,
        Arc::new(crate::report::Console::detect(exec.message_format).state_dir(&exec.state_dir)),
    )
    .max_parallel(exec.max_parallel)
    .interrupt(async {
        // If the handler cannot be installed, never interrupt.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    })
}

pub(super) fn resume(args: ResumeArgs) -> ExitCode {
    let signer = match signer_or_exit(&args.exec) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(c) => return c,
    };
    rt.block_on(async {
        // Which AWS access the run needs is known only once its runbook is loaded; the
        // engine loads it, so decide from the stored copy here.
        let store = match super::state::open_exec(&args.exec).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::Invalid;
            }
        };
        let stored = match store.load(&args.run_id).await {
            Ok(s) => s,
            Err(e) => return engine_error(e.into()),
        };
        let mode = match &stored.records[0].entry {
            crate::checkpoint::Entry::RunStarted { mode, .. } => *mode,
            _ => Mode::DryRun,
        };
        let overrides: Vec<(String, String)> = stored.vars.clone().into_iter().collect();
        let runbook = crate::runbook::load_str(
            Path::new(&stored.runbook_path),
            &stored.runbook_text,
            &overrides,
        )
        .ok()
        .map(|l| l.runbook);
        // A drill resumes as a drill: the same scenario (unchanged), the same impairment,
        // and its verdicts at the end.
        let drill = match super::drill::drill_of(&stored) {
            Ok(d) => d,
            Err(c) => return c,
        };
        let options = AwsOptions {
            profile: args.exec.profile.clone(),
            impaired: drill.as_ref().map(|(_, i)| i.clone()).unwrap_or_default(),
            ..Default::default()
        };
        let aws = aws_with(runbook.as_ref(), mode, options).await;
        if let Some((scenario, impaired)) = &drill
            && args.exec.message_format == super::MessageFormat::Human
        {
            eprintln!("resuming drill `{}`", scenario.name);
            for i in impaired {
                eprintln!(
                    "impaired again: {}{}",
                    i.region,
                    i.service
                        .as_deref()
                        .map(|s| format!(" ({s})"))
                        .unwrap_or_default()
                );
            }
        }
        let name = runbook
            .as_ref()
            .map(|r| r.name.clone())
            .unwrap_or_else(|| stored.runbook_path.clone());
        let (store, lock) = match super::state::prepare(&args.exec, &name, &args.run_id).await {
            Ok(s) => s,
            Err(c) => return c,
        };
        let engine = engine_with(&args.exec, aws.clone(), store.clone());
        let result = engine.resume(&args.run_id, args.force).await;
        let code = match (result, &drill) {
            (Ok(res), Some((scenario, _))) => {
                super::drill::conclude_drill(
                    &args.exec,
                    &aws,
                    &signer,
                    scenario,
                    &res,
                    store.as_ref(),
                )
                .await
            }
            (Ok(res), None) => after_run(&res, &args.exec, &aws, &signer).await,
            (Err(e), _) => engine_error(e),
        };
        super::state::release(lock).await;
        code
    })
}

pub(super) fn approve(args: ApproveArgs) -> ExitCode {
    let signer = match args
        .sign_with
        .as_deref()
        .map(crate::evidence::Signer::parse)
    {
        None => crate::evidence::Signer::None,
        Some(Ok(s)) => s,
        Some(Err(e)) => {
            eprintln!(
                "error: {e}\nhelp: use `--sign-with ed25519:KEY_FILE` or `--sign-with kms:alias/NAME`"
            );
            return ExitCode::Invalid;
        }
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(c) => return c,
    };
    rt.block_on(async {
        // A KMS signature is made through the approver's own credentials.
        let aws = match signer {
            crate::evidence::Signer::Kms { .. } => Arc::new(
                Aws::load(AwsOptions {
                    profile: args.profile.clone(),
                    ..Default::default()
                })
                .await,
            ),
            _ => aws_for(None, Mode::Execute, &args.profile).await,
        };
        let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into());
        let approver = match caller_identity(&aws, &region).await {
            Ok(i) => i,
            Err(e) => return engine_error(EngineError::Identity(e)),
        };
        let store = match super::state::open(&args.state, &args.state_dir, &args.profile).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::Invalid;
            }
        };
        match crate::engine::approve(
            store.as_ref(),
            &aws,
            &args.run_id,
            &args.step,
            &args.comment,
            approver.clone(),
            &signer,
        )
        .await
        {
            Ok(()) => {
                let location = match &args.state {
                    Some(u) => format!(" --state '{u}'"),
                    None => state_dir_flag(&args.state_dir),
                };
                let how = match &signer {
                    crate::evidence::Signer::None => "unsigned".to_string(),
                    s => format!("signed with {s}"),
                };
                eprintln!(
                    "approved `{}` of run {} as {} ({how})\ncontinue the run with:\n  drillbook resume {}{location}",
                    args.step,
                    args.run_id,
                    approver.arn,
                    args.run_id,
                );
                ExitCode::Success
            }
            Err(e) => engine_error(e),
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
