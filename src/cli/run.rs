//! `drillbook run`, `resume` and `approve`.

use std::io::IsTerminal;
use std::sync::Arc;

use super::setup::{
    after_run, aws_for, aws_with, confirm, engine_with, parse_vars, prepare, release,
    say_credentials_left, store_lost,
};
use super::{ApproveArgs, ExitCode, ResumeArgs, RunArgs, runtime};
use crate::actions::aws::{Aws, AwsOptions};
use crate::app::Failure;
use crate::engine::{EngineError, caller_identity, needs_aws};
use crate::event::Mode;

// ---- commands --------------------------------------------------------------------------------

pub(super) fn run(args: RunArgs) -> Result<ExitCode, Failure> {
    let overrides = parse_vars(&args.vars)?;
    let loaded = crate::runbook::load_file(&args.file, &overrides)?;
    let mode = if args.execute {
        Mode::Execute
    } else {
        Mode::DryRun
    };
    let settings = args.exec.settings()?;
    let format = args.exec.message_format;
    let rt = runtime()?;
    rt.block_on(async {
        let aws = aws_for(Some(&loaded.runbook), mode, &settings.profile).await;
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
                errln!("not confirmed: nothing was run");
                return Ok(ExitCode::Invalid);
            }
        }
        if mode == Mode::Execute {
            say_credentials_left(&aws, &loaded.runbook, forecast).await;
        }
        let mut settings = settings;
        let sealed_by = crate::app::finish::seal_key(&mut settings, None, "", &aws).await?;
        let prepared = prepare(&settings, &loaded.runbook.name, "").await?;
        let engine = engine_with(
            format,
            &settings,
            aws.clone(),
            prepared.store.clone(),
            Some(&loaded.runbook),
        )
        .sealed_by(sealed_by);
        let result = engine.run(&loaded, mode).await;
        if let Ok(res) = &result
            && res.store_lost.is_some()
        {
            return Ok(store_lost(res, &settings, prepared).await);
        }
        release(prepared).await;
        match result {
            Ok(res) => {
                let rerun = super::setup::rerun_command("run", &args.file, &args.vars, &settings);
                let next = super::setup::Next::new(Some(rerun), Some(&loaded.runbook));
                Ok(after_run(&res, format, &settings, &aws, &next).await)
            }
            Err(e) => Err(e.into()),
        }
    })
}

pub(super) fn resume(args: ResumeArgs) -> Result<ExitCode, Failure> {
    let mut settings = args.exec.settings()?;
    let with = crate::engine::ResumeWith {
        runbook: args.runbook.clone(),
        vars: parse_vars(&args.vars)?,
        force: args.force,
    };
    let format = args.exec.message_format;
    let rt = runtime()?;
    rt.block_on(async {
        // Which AWS access the run needs is known only once its runbook is loaded; the
        // engine loads it, so decide from the stored copy here.
        let crate::app::resume::Resumable {
            mode,
            runbook,
            name,
            runbook_path,
            drill,
            sealed_by,
        } = crate::app::resume::resumable(&settings, &args.run_id).await?;
        let options = AwsOptions {
            profile: settings.profile.clone(),
            impaired: drill.as_ref().map(|(_, i)| i.clone()).unwrap_or_default(),
            ..Default::default()
        };
        let aws = aws_with(runbook.as_ref(), mode, options).await;
        if let Some((scenario, impaired)) = &drill
            && args.exec.message_format == super::MessageFormat::Human
        {
            errln!("resuming drill `{}`", scenario.name);
            for i in impaired {
                errln!(
                    "impaired again: {}{}",
                    i.region,
                    i.service
                        .as_deref()
                        .map(|s| format!(" ({s})"))
                        .unwrap_or_default()
                );
            }
        }
        crate::app::finish::seal_key(&mut settings, sealed_by.as_ref(), &args.run_id, &aws).await?;
        let prepared = prepare(&settings, &name, &args.run_id).await?;
        let engine = engine_with(
            format,
            &settings,
            aws.clone(),
            prepared.store.clone(),
            runbook.as_ref(),
        );
        // A dry run that fails again is run again from its file (as started), not resumed.
        let rerun = match &drill {
            Some((scenario, _)) => {
                super::setup::rerun_command("drill", &scenario.path, &[], &settings)
            }
            None => super::setup::rerun_command(
                "run",
                std::path::Path::new(&runbook_path),
                &[],
                &settings,
            ),
        };
        let rerun = format!("{rerun}   # with the --var values it was started with, if any");
        let next = super::setup::Next::new(Some(rerun), runbook.as_ref());
        let result = engine.resume(&args.run_id, &with).await;
        if let Ok(res) = &result
            && res.store_lost.is_some()
        {
            // A drill's experiments are found in its journal and stopped by the resume that
            // ends it.
            return Ok(store_lost(res, &settings, prepared).await);
        }
        let code = match (result, &drill) {
            (Ok(res), Some((scenario, _))) => Ok(super::drill::conclude_drill(
                format, &settings, &aws, scenario, &res, &engine, &next,
            )
            .await),
            (Ok(res), None) => Ok(after_run(&res, format, &settings, &aws, &next).await),
            (Err(e), _) => Err(e.into()),
        };
        release(prepared).await;
        code
    })
}

pub(super) fn approve(args: ApproveArgs) -> Result<ExitCode, Failure> {
    let signer = match args
        .sign_with
        .as_deref()
        .map(crate::evidence::Signer::parse)
    {
        None => crate::evidence::Signer::None,
        Some(Ok(s)) => s,
        Some(Err(e)) => {
            return Err(Failure::invalid(e.to_string())
                .help("use `--sign-with ed25519:KEY_FILE` or `--sign-with kms:alias/NAME`"));
        }
    };
    let rt = runtime()?;
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
            Err(e) => return Err(Failure::from(EngineError::Identity(e))),
        };
        let store = crate::app::store::open(&args.state, &args.state_dir, &args.profile).await?;
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
                    None => crate::app::state_dir_flag(&args.state_dir),
                };
                let how = match &signer {
                    crate::evidence::Signer::None => "unsigned".to_string(),
                    s => format!("signed with {s}"),
                };
                errln!(
                    "approved `{}` of run {} as {} ({how})\ncontinue the run with:\n  drillbook resume {}{location}",
                    args.step,
                    args.run_id,
                    approver.arn,
                    args.run_id,
                );
                Ok(ExitCode::Success)
            }
            Err(e) => Err(e.into()),
        }
    })
}
