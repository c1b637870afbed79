//! `drillbook run`, `resume` and `approve`.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;

use super::setup::{
    after_run, aws_for, aws_with, confirm, engine_error, engine_with, parse_vars,
    say_credentials_left, signer_or_exit, state_dir_flag,
};
use super::{ApproveArgs, ExitCode, ResumeArgs, RunArgs, runtime};
use crate::actions::aws::{Aws, AwsOptions};
use crate::engine::{EngineError, caller_identity, needs_aws};
use crate::event::Mode;

// ---- commands --------------------------------------------------------------------------------

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
        let mode = match &stored.records[0].event {
            crate::event::Event::RunStarted { mode, .. } => *mode,
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
                super::drill::conclude_drill(&args.exec, &aws, &signer, scenario, &res, &engine)
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
