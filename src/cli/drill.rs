//! `drillbook drill` (a game-day scenario) and `drillbook iam-policy`.

use std::io::IsTerminal;
use std::sync::Arc;

use super::finish::{finish, read_run, step_results};
use super::run::{confirm, engine_error, engine_for, parse_vars, runtime};
use super::{DrillArgs, ExitCode, IamPolicyArgs, MessageFormat};
use crate::actions::aws::{Aws, AwsOptions};
use crate::checkpoint::file::FileStore;
use crate::checkpoint::{CheckpointStore, Entry};
use crate::event::{Mode, RunStatus};
use crate::runbook::duration::human;
use crate::scenario::{
    Verdicts, check_expectations, inject, judge_objectives, load_runbook, load_runbook_at,
    load_scenario_in,
};

pub(super) fn drill(args: DrillArgs) -> ExitCode {
    let color = super::validate::stderr_color();
    let scenario = match load_scenario_in(&args.scenario, args.root.as_deref()) {
        Ok(s) => s,
        Err(d) => {
            eprint!("{}", d.render(color));
            return ExitCode::Invalid;
        }
    };
    let cli_vars = match parse_vars(&args.vars) {
        Ok(v) => v,
        Err(c) => return c,
    };
    let loaded = match load_runbook(&scenario, &cli_vars) {
        Ok(l) => l,
        Err(d) => {
            eprint!("{}", d.render(color));
            return ExitCode::Invalid;
        }
    };
    let signer = match super::run::signer_or_exit(&args.exec) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let mode = if args.execute {
        Mode::Execute
    } else {
        Mode::DryRun
    };
    let human_output = args.exec.message_format == MessageFormat::Human;
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(c) => return c,
    };
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
            eprintln!("drill `{}`: {}", scenario.name, scenario.description.as_deref().unwrap_or(""));
            for i in &scenario.impair {
                eprintln!(
                    "impaired: {}{} (every call to it fails as if unreachable)",
                    i.region,
                    i.service.as_deref().map(|s| format!(" ({s})")).unwrap_or_default()
                );
            }
        }
        if mode == Mode::Execute && !args.yes && std::io::stdin().is_terminal() && !confirm(&loaded.runbook, None) {
            eprintln!("not confirmed: nothing was run");
            return ExitCode::Invalid;
        }
        // The damage comes first; `{{ drill.injected_at }}` is the moment before it.
        let injected_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut loaded = loaded;
        let mut injected = vec![];
        if !scenario.inject.is_empty() {
            injected = match inject(&scenario.inject, aws.clone(), &loaded.runbook.vars, mode == Mode::Execute).await {
                Ok(done) => done,
                Err(e) => {
                    eprintln!("error: {e}");
                    eprintln!("help: nothing of the runbook ran; fix the scenario's `inject:` and run the drill again");
                    return ExitCode::Failed;
                }
            };
            if human_output {
                let verb = if mode == Mode::Execute { "injected" } else { "would inject" };
                for j in &injected {
                    eprintln!("{verb} `{}`: {}", j.id, j.summary);
                    for c in &j.changes {
                        eprintln!("  - {c}");
                    }
                }
            }
            loaded = match load_runbook_at(&scenario, &cli_vars, &injected_at) {
                Ok(l) => l,
                Err(d) => {
                    eprint!("{}", d.render(color));
                    return ExitCode::Invalid;
                }
            };
        }
        let engine = engine_for(&args.exec, aws.clone());
        let res = match engine.run(&loaded, mode).await {
            Ok(res) => res,
            Err(e) => return engine_error(e),
        };
        if res.status == RunStatus::Paused {
            // Approvals or Ctrl-C: the verdicts come when the run is resumed to its end.
            if let Err(e) = finish(&args.exec, &aws, &signer, &res.run_id, None).await {
                eprintln!("error: {e}");
            }
            return super::run::conclude(&res, &args.exec);
        }
        let run = match read_run(&args.exec, &res.run_id).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::Failed;
            }
        };
        let (outputs, statuses) = step_results(&run.stored);
        let verdicts = if mode == Mode::Execute {
            Verdicts {
                expectations: check_expectations(
                    &scenario.expect,
                    aws.clone(),
                    &res.run_id,
                    &loaded.runbook.vars,
                    &outputs,
                    &statuses,
                )
                .await,
                objectives: judge_objectives(
                    &loaded.runbook.objectives,
                    std::time::Duration::from_millis(run.timing.active_ms),
                    &outputs,
                ),
            }
        } else {
            Verdicts::default()
        };
        let refused_calls = aws.refused_calls();
        let judged = Entry::DrillJudged {
            scenario: scenario.name.clone(),
            scenario_sha256: scenario.sha256.clone(),
            impaired: scenario.impair.clone(),
            refused_calls: refused_calls.clone(),
            verdicts: verdicts.clone(),
        };
        let mut records = vec![];
        if !injected.is_empty() {
            records.push(Entry::Note {
                message: format!("the scenario's injections, made before the runbook ran, from {injected_at}"),
                data: std::collections::BTreeMap::from([
                    ("injected_at".to_string(), serde_json::json!(injected_at)),
                    ("injections".to_string(), serde_json::json!(injected)),
                ]),
            });
        }
        records.push(judged);
        let store = FileStore::new(&args.exec.state_dir);
        if let Err(e) = store.append(&res.run_id, records).await {
            eprintln!("error: cannot record the drill's verdicts: {e}");
            return ExitCode::Failed;
        }
        let passed = res.status == RunStatus::Succeeded && verdicts.all_passed();
        let finished = finish(&args.exec, &aws, &signer, &res.run_id, (mode == Mode::Execute).then_some(passed)).await;
        if human_output {
            print_verdicts(&verdicts, &refused_calls, mode);
        }
        let code = super::run::conclude(&res, &args.exec);
        if let Err(e) = finished {
            eprintln!("error: {e}");
            return ExitCode::Failed;
        }
        match code {
            ExitCode::Success if !verdicts.all_passed() => {
                eprintln!("drill `{}` FAILED: see the verdicts above", scenario.name);
                ExitCode::Failed
            }
            ExitCode::Success => {
                if mode == Mode::Execute {
                    eprintln!("drill `{}` PASSED", scenario.name);
                } else {
                    eprintln!("drill `{}`: dry run done; expectations and objectives are checked with --execute", scenario.name);
                }
                ExitCode::Success
            }
            other => other,
        }
    })
}

fn print_verdicts(verdicts: &Verdicts, refused: &[crate::actions::aws::ImpairedCall], mode: Mode) {
    if mode == Mode::Execute {
        println!("expectations:");
        for e in &verdicts.expectations {
            let mark = if e.passed { "PASS" } else { "FAIL" };
            println!("  {mark}  {}  {}", e.id, e.description);
            if let Some(r) = &e.reason {
                println!("        {r}");
            }
        }
        println!("objectives:");
        for o in &verdicts.objectives {
            let mark = if o.met { "MET   " } else { "MISSED" };
            let measured = o
                .measured
                .map(human)
                .unwrap_or_else(|| "not measured".into());
            println!(
                "  {mark}  {} {} (target {}): {}",
                o.objective.to_uppercase(),
                measured,
                human(o.target),
                o.how
            );
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
        println!("steps that needed an impaired Region:");
        for (step, calls) in by_step {
            let mut calls = calls;
            calls.dedup();
            println!("  {step}: {}", calls.join(", "));
        }
    }
}

pub(super) fn iam_policy(args: IamPolicyArgs) -> ExitCode {
    let overrides = match parse_vars(&args.vars) {
        Ok(v) => v,
        Err(c) => return c,
    };
    match crate::runbook::load_file(&args.file, &overrides) {
        Ok(l) => {
            let policy = crate::actions::iam::policy_for(&l.runbook);
            println!(
                "{}",
                serde_json::to_string_pretty(&policy).unwrap_or_default()
            );
            ExitCode::Success
        }
        Err(d) => {
            eprintln!("error: {d}");
            ExitCode::Invalid
        }
    }
}
