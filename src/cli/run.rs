//! `drillbook run`, `resume` and `approve`.

use std::io::IsTerminal;

use super::setup::{Shown, console, go_ahead, parse_vars, rerun_command, show_ending};
use super::{ApproveArgs, ExitCode, ResumeArgs, RunArgs, runtime};
use crate::app::{Failure, Session};
use crate::event::Mode;

// ---- commands --------------------------------------------------------------------------------

pub(super) fn run(args: RunArgs) -> Result<ExitCode, Failure> {
    let overrides = parse_vars(&args.vars)?;
    // `targets:` in the file, or `--accounts`/`--ou`: a fleet (each flag over its field).
    let file_targets = crate::app::targets::file_targets(&args.file)?;
    if let Some(t) = crate::app::targets::merged(file_targets, args.targets.targets())? {
        return super::fleet::run(&args, &overrides, &t);
    }
    let loaded = crate::app::load_runbook(&args.file, &overrides)?;
    let mode = if args.execute {
        Mode::Execute
    } else {
        Mode::DryRun
    };
    let format = args.exec.message_format;
    let mut session = Session::new(args.exec.settings()?);
    runtime()?.block_on(async {
        let ask = mode == Mode::Execute && !args.yes && std::io::stdin().is_terminal();
        let pre = session.preflight(&loaded.runbook, None, mode, ask).await;
        if !go_ahead(&pre, mode, args.yes) {
            return Ok(ExitCode::Invalid);
        }
        let sink = console(format, &session.settings);
        let ending = session.run(&loaded, mode, sink, &Shown(format)).await?;
        let rerun = rerun_command("run", &args.file, &args.vars, &session.settings);
        Ok(show_ending(&ending, format, &session.settings, Some(rerun)))
    })
}

pub(super) fn resume(args: ResumeArgs) -> Result<ExitCode, Failure> {
    if crate::app::fleet::is_fleet_id(&args.run_id) {
        return super::fleet::resume(&args);
    }
    let with = crate::app::ResumeWith {
        runbook: args.runbook.clone(),
        vars: parse_vars(&args.vars)?,
        force: args.force,
    };
    let format = args.exec.message_format;
    let mut session = Session::new(args.exec.settings()?);
    runtime()?.block_on(async {
        let sink = console(format, &session.settings);
        let ending = session
            .resume(&args.run_id, &with, sink, &Shown(format))
            .await?;
        // A dry run that fails again is run again from its file (as started), not resumed.
        let rerun = match &ending.drill {
            Some(d) => rerun_command("drill", &d.scenario.path, &[], &session.settings),
            None => rerun_command(
                "run",
                std::path::Path::new(&ending.runbook_path),
                &[],
                &session.settings,
            ),
        };
        let rerun = format!("{rerun}   # with the --var values it was started with, if any");
        Ok(show_ending(&ending, format, &session.settings, Some(rerun)))
    })
}

pub(super) fn approve(args: ApproveArgs) -> Result<ExitCode, Failure> {
    let signer = crate::app::signer(args.sign_with.as_deref())?;
    let mut session = Session::new(args.store.settings());
    runtime()?.block_on(async {
        let approver = session
            .approve(&args.run_id, &args.step, &args.comment, &signer)
            .await?;
        let how = match &signer {
            crate::app::Signer::None => "unsigned".to_string(),
            s => format!("signed with {s}"),
        };
        errln!(
            "approved `{}` of run {} as {} ({how})\ncontinue the run with:\n  drillbook resume {}{}",
            args.step,
            args.run_id,
            approver.arn,
            args.run_id,
            session.settings.location_flag(),
        );
        Ok(ExitCode::Success)
    })
}
