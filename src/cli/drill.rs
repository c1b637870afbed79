//! `drillbook drill` (a game-day scenario) and `drillbook iam-policy`.

use super::runtime;
use super::setup::{Shown, console, go_ahead, impairment, parse_vars, rerun_command, show_ending};
use super::{DrillArgs, ExitCode, IamPolicyArgs, MessageFormat};
use crate::app::{DrillStart, Failure, Session};
use crate::event::Mode;
use crate::report::sanitize::{self, one_line};

pub(super) fn drill(args: DrillArgs) -> Result<ExitCode, Failure> {
    let scenario = crate::app::load_scenario(&args.scenario, args.root.as_deref())?;
    let cli_vars = parse_vars(&args.vars)?;
    // `targets:` in the scenario, or `--accounts`/`--ou`: a drill in every target.
    if let Some(t) = crate::app::targets::merged(scenario.targets.clone(), args.targets.targets())?
    {
        return super::fleet::drill(&args, &scenario, &cli_vars, &t);
    }
    let loaded = crate::app::drill_runbook(&scenario, &cli_vars)?;
    let format = args.exec.message_format;
    let mode = if args.execute {
        Mode::Execute
    } else {
        Mode::DryRun
    };
    let human_output = format == MessageFormat::Human;
    if human_output {
        errln!(
            "drill `{}`: {}",
            one_line(&scenario.name),
            one_line(scenario.description.as_deref().unwrap_or(""))
        );
        for i in &scenario.impair {
            errln!(
                "impaired: {} (every call to it fails as if unreachable)",
                impairment(i)
            );
        }
        for n in crate::app::lost_region_needs(&scenario, &loaded.runbook) {
            errln!(
                "warning: required step `{}` ({}) needs {}, which this scenario takes away: on AWS the recovery would stop there",
                n.step,
                n.action,
                n.lost.join(", ")
            );
        }
    }
    let mut session = Session::new(args.exec.settings()?);
    runtime()?.block_on(async {
        let pre = session
            .preflight(&loaded.runbook, Some(&scenario), mode, false)
            .await;
        if !go_ahead(&pre, mode, args.yes) {
            return Ok(ExitCode::Invalid);
        }
        let start = DrillStart {
            scenario: &scenario,
            root: args.root.as_deref(),
            cli_vars: &cli_vars,
            target: None,
        };
        let sink = console(format, &session.settings);
        let ending = session
            .drill(start, loaded, mode, sink, &Shown(format))
            .await?;
        let mut rerun = rerun_command("drill", &args.scenario, &args.vars, &session.settings);
        if let Some(root) = &args.root {
            rerun.push_str(&format!(
                " --root {}",
                crate::app::shell_quote(&root.display().to_string())
            ));
        }
        Ok(show_ending(&ending, format, &session.settings, Some(rerun)))
    })
}

pub(super) fn iam_policy(args: IamPolicyArgs) -> Result<ExitCode, Failure> {
    let overrides = parse_vars(&args.vars)?;
    let (policy, notes) = crate::app::iam_policy(&args.file, &overrides)?;
    for n in &notes {
        errln!("note: {n}");
    }
    // A resource can be named by a secret variable: its value is redacted.
    let text = serde_json::to_string_pretty(&policy).unwrap_or_default();
    println!("{}", sanitize::json(&text));
    Ok(ExitCode::Success)
}
