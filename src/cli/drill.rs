//! `drillbook drill` (a game-day scenario) and `drillbook iam-policy`.

use std::io::IsTerminal;
use std::sync::Arc;

use super::Report as _;
use super::runtime;
use super::setup::{conclude, show_reported};
use super::setup::{confirm, engine_with, parse_vars, prepare, release};
use super::{DrillArgs, ExitCode, IamPolicyArgs, MessageFormat};
use crate::actions::aws::{Aws, AwsOptions};
use crate::app::Failure;
use crate::app::Settings;
use crate::app::finish::finish;
use crate::duration::human;
use crate::engine::Engine;
use crate::engine::RunResult;
use crate::event::{Mode, RunStatus};
use crate::report::document::{ObjectiveState, Verdict};
use crate::report::sanitize::{self, one_line};
use crate::scenario::{Scenario, Verdicts, load_runbook, load_scenario_in};

pub(super) fn drill(args: DrillArgs) -> Result<ExitCode, Failure> {
    let scenario = load_scenario_in(&args.scenario, args.root.as_deref())?;
    let cli_vars = parse_vars(&args.vars)?;
    let loaded = load_runbook(&scenario, &cli_vars)?;
    let mut settings = args.exec.settings()?;
    let format = args.exec.message_format;
    let mode = if args.execute {
        Mode::Execute
    } else {
        Mode::DryRun
    };
    let human_output = args.exec.message_format == MessageFormat::Human;
    let rt = runtime()?;
    rt.block_on(async {
        let aws = Arc::new(
            Aws::load(AwsOptions {
                profile: args.exec.profile.clone(),
                impaired: scenario.impair.clone(),
                ..Default::default()
            })
            .await,
        );
        if human_output {
            errln!(
                "drill `{}`: {}",
                one_line(&scenario.name),
                one_line(scenario.description.as_deref().unwrap_or(""))
            );
            for i in &scenario.impair {
                errln!(
                    "impaired: {}{} (every call to it fails as if unreachable)",
                    i.region,
                    i.service
                        .as_deref()
                        .map(|s| format!(" ({s})"))
                        .unwrap_or_default()
                );
            }
        }
        if human_output {
            let lost = crate::app::drill::lost_regions(&scenario);
            for n in crate::plan::regions::needs(&loaded.runbook, &lost)
                .iter()
                .filter(|n| n.finding)
            {
                errln!(
                    "warning: required step `{}` ({}) needs {}, which this scenario takes away: on AWS the recovery would stop there",
                    n.step,
                    n.action,
                    n.lost.join(", ")
                );
            }
        }
        let forecast = if mode == Mode::Execute {
            super::status::forecast(&args.exec, &loaded.runbook).await
        } else {
            None
        };
        if mode == Mode::Execute
            && !args.yes
            && std::io::stdin().is_terminal()
            && !confirm(&loaded.runbook, None, forecast)
        {
            errln!("not confirmed: nothing was run");
            return Ok(ExitCode::Invalid);
        }
        if mode == Mode::Execute {
            super::setup::say_credentials_left(&aws, &loaded.runbook, forecast).await;
        }
        crate::app::drill::check_state_region(&settings, &scenario)?;
        // The seal key is checked (and recorded) before anything is damaged.
        let sealed_by = crate::app::finish::seal_key(&mut settings, None, "", &aws).await?;
        let started = crate::app::drill::start(
            &scenario,
            args.root.as_deref(),
            &cli_vars,
            loaded,
            aws.clone(),
            mode,
        )
        .await?;
        if human_output {
            let verb = if mode == Mode::Execute {
                "injected"
            } else {
                "would inject"
            };
            for j in &started.injected {
                errln!("{verb} `{}`: {}", j.id, one_line(&j.summary));
                for c in &j.changes {
                    errln!("  - {}", one_line(c));
                }
            }
        }
        let loaded = started.loaded;
        let prepared = prepare(&settings, &loaded.runbook.name, "").await?;
        // The faults AWS injects start last, just before the runbook's first step.
        let faults = match crate::app::drill::start_faults(&scenario, &loaded, &aws, mode).await {
            Ok(f) => f,
            Err(e) => {
                release(prepared).await;
                return Err(e);
            }
        };
        if human_output {
            for (template, region, actions) in &faults.would_start {
                errln!(
                    "would start FIS experiment template {template} in {region}: {}",
                    actions.join(", ")
                );
            }
        }
        let engine = engine_with(
            format,
            &settings,
            aws.clone(),
            prepared.store.clone(),
            Some(&loaded.runbook),
        )
            .sealed_by(sealed_by);
        let mut preamble = vec![started.event];
        preamble.extend(faults.events());
        let result = engine.run_with(&loaded, mode, preamble).await;
        if let Ok(res) = &result
            && res.store_lost.is_some()
        {
            // The experiments keep running (the journal that names them cannot be read):
            // the resume that ends the drill stops them, or FIS after their duration.
            return Ok(super::setup::store_lost(res, &settings, prepared).await);
        }
        let code = match result {
            Ok(res) => {
                let mut rerun = super::setup::rerun_command(
                    "drill",
                    &args.scenario,
                    &args.vars,
                    &settings,
                );
                if let Some(root) = &args.root {
                    rerun.push_str(&format!(
                        " --root {}",
                        crate::app::shell_quote(&root.display().to_string())
                    ));
                }
                let next = super::setup::Next::new(Some(rerun), Some(&loaded.runbook));
                Ok(conclude_drill(format, &settings, &aws, &scenario, &res, &engine, &next).await)
            }
            Err(e) => {
                // No run to record them in: the experiments stop with the drill.
                crate::app::drill::stop_started(&aws, &faults.running).await;
                Err(e.into())
            }
        };
        release(prepared).await;
        code
    })
}

/// The end of a drill's process, for `drill` and for `resume` of a drill: a paused drill keeps
/// the calls its impairment refused for the verdict to come; a drill that ran to its end is
/// judged (expectations, objectives), its verdicts are recorded and sealed with the evidence,
/// printed, and decide the exit code.
pub(super) async fn conclude_drill(
    format: MessageFormat,
    settings: &Settings,
    aws: &Arc<Aws>,
    scenario: &Scenario,
    res: &RunResult,
    engine: &Engine,
    next: &super::setup::Next,
) -> ExitCode {
    let human_output = format == MessageFormat::Human;
    if res.status == RunStatus::Paused {
        if let Err(e) = crate::app::drill::keep_refused_calls(engine, aws, &res.run_id).await {
            e.report();
        }
        // A paused run stays resumable (exit 3) even when an experiment could not be stopped:
        // that failure is reported with the command that stops it.
        end_faults(format, settings, engine, aws, scenario, res).await;
        // Approvals, Ctrl-C, expired credentials: the verdicts come when the drill is resumed
        // to its end (`drillbook resume` continues it as a drill).
        let reported = finish(settings, aws, &res.run_id, None).await;
        show_reported(&reported, format);
        if let Err(e) = &reported {
            e.report();
        }
        if human_output {
            errln!(
                "drill `{}` paused: its verdicts come when it is resumed to its end",
                one_line(&scenario.name)
            );
        }
        return conclude(res, settings, next, reported.as_ref().ok().map(|r| &r.view));
    }
    // Judged while the faults still act (the expectations hold during the outage), then the
    // experiments stop, before the reports are written.
    let judged = crate::app::drill::judge(settings, engine, aws, scenario, res).await;
    let faults_ok = end_faults(format, settings, engine, aws, scenario, res).await;
    let judged = match judged {
        Ok(j) => j,
        Err(e) => {
            e.report();
            return ExitCode::Failed;
        }
    };
    let verdicts = &judged.verdicts;
    let passed = res.status == RunStatus::Succeeded && verdicts.all_passed();
    let reported = finish(
        settings,
        aws,
        &res.run_id,
        (res.mode == Mode::Execute).then_some(passed),
    )
    .await;
    show_reported(&reported, format);
    let view = reported.as_ref().ok().map(|r| &r.view);
    if human_output {
        print_verdicts(verdicts, view, &judged.refused_calls, res.mode);
    }
    let code = conclude(res, settings, next, view);
    if let Err(e) = reported {
        e.report();
        return ExitCode::Failed;
    }
    match code {
        ExitCode::Success if !faults_ok => ExitCode::Failed,
        ExitCode::Success
            if !verdicts.all_passed() || view.is_some_and(|v| v.verdict == Verdict::Failed) =>
        {
            errln!(
                "drill `{}` FAILED: see the verdicts above",
                one_line(&scenario.name)
            );
            ExitCode::Failed
        }
        ExitCode::Success => {
            if res.mode == Mode::Execute {
                errln!("drill `{}` PASSED", one_line(&scenario.name));
            } else {
                errln!(
                    "drill `{}`: dry run done; expectations and objectives are checked with --execute",
                    one_line(&scenario.name)
                );
            }
            ExitCode::Success
        }
        other => other,
    }
}

/// Stops the drill's FIS experiments at the end of its process (see
/// [`crate::app::drill::stop_faults`]) and says what became of them; false when one could not be
/// stopped (the drill then fails: an outage would go on unattended).
async fn end_faults(
    format: MessageFormat,
    settings: &Settings,
    engine: &Engine,
    aws: &Arc<Aws>,
    scenario: &Scenario,
    res: &RunResult,
) -> bool {
    if scenario.faults.is_empty() {
        return true;
    }
    // A resumed drill whose runbook needs no AWS was given no credentials (`aws_with`); its
    // experiments need them.
    let loaded;
    let aws: &Aws = if aws.config("us-east-1").credentials_provider().is_some() {
        aws
    } else {
        loaded = Aws::load(aws.options.clone()).await;
        &loaded
    };
    let ended = match crate::app::drill::stop_faults(settings, engine, aws, res).await {
        Ok(ended) => ended,
        Err(e) => {
            e.report();
            return false;
        }
    };
    if format == MessageFormat::Human {
        for e in &ended.kept {
            errln!(
                "FIS experiment {} in {} keeps running while the drill awaits its approval \
                 (`drillbook resume` stops it at the drill's end; FIS ends it after its duration)",
                e.id,
                e.region
            );
        }
    }
    for (e, why) in &ended.failed {
        Failure::failed(format!(
            "could not stop FIS experiment {} in {}: {why}",
            e.id, e.region
        ))
        .help(format!(
            "stop it now: aws fis stop-experiment --id {} --region {}",
            e.id, e.region
        ))
        .report();
    }
    ended.failed.is_empty()
}

/// The drill's expectations and objectives. The objectives are the run's read model's (one
/// rule for every view: a run that did not reach the end of its recovery meets none) when the
/// reports were written, else the drill's record.
fn print_verdicts(
    verdicts: &Verdicts,
    view: Option<&crate::report::document::RunView>,
    refused: &[crate::actions::aws::ImpairedCall],
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
                        ObjectiveState::Met => "MET         ",
                        ObjectiveState::Missed => "MISSED      ",
                        ObjectiveState::NotAssessed => "NOT ASSESSED",
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

pub(super) fn iam_policy(args: IamPolicyArgs) -> Result<ExitCode, Failure> {
    let overrides = parse_vars(&args.vars)?;
    match crate::runbook::load_file(&args.file, &overrides) {
        Ok(l) => {
            let (policy, notes) = crate::actions::iam::policy_with_notes(&l.runbook);
            for n in &notes {
                errln!("note: {n}");
            }
            // A resource can be named by a secret variable: its value is redacted.
            let text = serde_json::to_string_pretty(&policy).unwrap_or_default();
            println!("{}", sanitize::json(&text));
            Ok(ExitCode::Success)
        }
        Err(d) => Err(d.into()),
    }
}
