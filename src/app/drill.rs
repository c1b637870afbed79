//! A game-day drill around its run: the start (the damage done, the runbook loaded against
//! it, the event that opens the journal), the scenario of a stored drill found again for its
//! resume, and the end of each process: a paused drill keeps the calls its impairment refused,
//! for the verdict to come; a drill that ran to its end is judged (expectations checked
//! against AWS, objectives against the recovery time) and its verdicts are recorded. The AWS
//! FIS experiments of its `faults:` are started just before the runbook's first step and
//! stopped when the drill ends, fails or is interrupted (a pause for an approval keeps them).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::{Failure, Settings};
use crate::actions::aws::{Aws, ImpairedCall, Impairment};
use crate::checkpoint::StoredRun;
use crate::engine::{Engine, RunResult};
use crate::event::{Event, FisExperiment, Injected, Mode, RunStatus};
use crate::runbook::Loaded;
use crate::scenario::{
    Fault, Scenario, Verdicts, check_expectations, describe_template, inject, judge_objectives,
    load_runbook_for, load_scenario_in, start_experiment, stop_experiment, wait_running,
};

/// A drill ready to run.
pub struct Started {
    /// The runbook, its `{{ drill.injected_at }}` the moment before the first injection.
    pub loaded: Loaded,
    /// What the injections did (in a dry run: would do).
    pub injected: Vec<Injected>,
    /// `drill_started`, the journal's first event after the run's own.
    pub event: Event,
}

/// Starts a drill whose runbook `loaded` was loaded and confirmed: the damage comes first
/// (executed only in execute mode), then the runbook is loaded again with the moment before
/// it as `{{ drill.injected_at }}`.
pub async fn start(
    scenario: &Scenario,
    root: Option<&Path>,
    cli_vars: &[(String, String)],
    loaded: Loaded,
    aws: Arc<Aws>,
    mode: Mode,
    target: Option<&crate::runbook::TargetValues>,
) -> Result<Started, Failure> {
    let injected_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let (loaded, injected) = if scenario.inject.is_empty() {
        (loaded, vec![])
    } else {
        let injected = inject(
            &scenario.inject,
            aws,
            &loaded.runbook.vars,
            mode == Mode::Execute,
        )
        .await
        .map_err(|e| {
            Failure::failed(e).help(
                "nothing of the runbook ran; fix the scenario's `inject:` and run the drill again",
            )
        })?;
        (
            load_runbook_for(scenario, cli_vars, &injected_at, target)?,
            injected,
        )
    };
    let absolute = |p: &Path| {
        std::fs::canonicalize(p)
            .unwrap_or_else(|_| p.to_path_buf())
            .display()
            .to_string()
    };
    let event = Event::DrillStarted {
        scenario: scenario.name.clone(),
        scenario_path: absolute(&scenario.path),
        scenario_sha256: scenario.sha256.clone(),
        root: root.map(absolute),
        impaired: scenario.impair.clone(),
        injected_at: (!injected.is_empty()).then_some(injected_at),
        injections: injected.clone(),
    };
    Ok(Started {
        loaded,
        injected,
        event,
    })
}

/// The drill a stored run belongs to, if it is one: its scenario, loaded again from the file
/// recorded at its start and checked against the SHA-256 recorded then, with the impairment
/// as recorded.
pub fn drill_of(stored: &StoredRun) -> Result<Option<(Scenario, Vec<Impairment>)>, Failure> {
    let Some((path, sha, root, impaired)) = stored.records.iter().find_map(|r| match &r.event {
        Event::DrillStarted {
            scenario_path,
            scenario_sha256,
            root,
            impaired,
            ..
        } => Some((scenario_path, scenario_sha256, root, impaired)),
        _ => None,
    }) else {
        return Ok(None);
    };
    let scenario = load_scenario_in(Path::new(path), root.as_deref().map(Path::new)).map_err(|d| {
        Failure::in_input(
            d,
            format!(
                "run {} is a drill of {path}, which cannot be loaded again",
                stored.run_id
            ),
        )
        .help(format!(
            "restore the scenario file as it was when the drill started (SHA-256 {sha}), then resume"
        ))
    })?;
    if &scenario.sha256 != sha {
        return Err(Failure::invalid(format!(
            "the scenario {path} changed since drill {} started (SHA-256 {sha}, now {})",
            stored.run_id, scenario.sha256
        ))
        .help(
            "a drill is judged against the scenario it started with; restore that version of the \
             file, then resume",
        ));
    }
    Ok(Some((scenario, impaired.clone())))
}

/// Records the calls the impairment refused in this process of a drill that paused, so that
/// the verdict of the resumed drill lists them all.
pub async fn keep_refused_calls(engine: &Engine, aws: &Aws, run_id: &str) -> Result<(), Failure> {
    let refused_calls = aws.refused_calls();
    if refused_calls.is_empty() {
        return Ok(());
    }
    engine
        .record(run_id, vec![Event::DrillRefusedCalls { refused_calls }])
        .await
        .map_err(|e| {
            Failure::failed(format!(
                "cannot record the calls the impairment refused: {e}"
            ))
        })
}

/// The Regions a scenario takes away: those it impairs whole (an `impair:` without a service).
/// A fault scoped to one service or an AZ tests recovery inside the Region and takes nothing
/// away.
pub fn lost_regions(scenario: &Scenario) -> Vec<String> {
    let mut lost: Vec<String> = scenario
        .impair
        .iter()
        .filter(|i| i.service.is_none())
        .map(|i| i.region.clone())
        .collect();
    lost.sort();
    lost.dedup();
    lost
}

/// The Region of the team state table, when runs are kept in one.
fn state_region(settings: &Settings) -> Option<String> {
    settings
        .state
        .url
        .as_deref()
        .and_then(|u| crate::checkpoint::dynamodb::StateUrl::parse(u).ok())
        .map(|u| u.region)
}

/// Refuses a drill whose team state lives in a Region the scenario takes away: the run would
/// stop before its first step, or pass only because the impairment spares drillbook's own
/// store. The state must live where the outage cannot reach it.
pub fn check_state_region(settings: &Settings, scenario: &Scenario) -> Result<(), Failure> {
    let lost = lost_regions(scenario);
    match state_region(settings) {
        Some(r) if lost.contains(&r) => Err(Failure::invalid(format!(
            "the team state table is in {r}, which scenario `{}` takes away: the recovery would depend on the Region it recovers from",
            scenario.name
        ))
        .help(
            "keep the state table in a Region the outage cannot reach (a third Region, or a global table with a replica outside the failed Region; see docs/team-state.md), or drill with `--state-dir`",
        )),
        _ => Ok(()),
    }
}

/// The drill's verdict on its static check: no required recovery step (and not the team state
/// store) needs a Region the scenario takes away, even where the emulator happened to answer.
fn lost_region_verdict(
    settings: &Settings,
    scenario: &Scenario,
    runbook: &crate::runbook::Runbook,
    records: &[crate::checkpoint::Record],
) -> Option<crate::event::ExpectationVerdict> {
    let mut lost = lost_regions(scenario);
    // An FIS experiment that disrupts the network of a Region's subnets takes the Region's
    // endpoints away too (the seeded templates target all of them; faults scoped to an AZ,
    // API errors and paused replication take nothing away).
    for r in records {
        if let Event::FaultInjected { experiment } = &r.event
            && experiment.zones.is_empty()
            && experiment
                .actions
                .iter()
                .any(|a| a == "aws:network:disrupt-connectivity")
            && !lost.contains(&experiment.region)
        {
            lost.push(experiment.region.clone());
        }
    }
    lost.sort();
    if lost.is_empty() {
        return None;
    }
    let mut needing: Vec<String> = crate::plan::regions::needs(runbook, &lost)
        .into_iter()
        .filter(|n| n.finding)
        .map(|n| format!("`{}` needs {}", n.step, n.lost.join(", ")))
        .collect();
    if let Some(r) = state_region(settings).filter(|r| lost.contains(r)) {
        needing.push(format!("the team state table needs {r}"));
    }
    let passed = needing.is_empty();
    Some(crate::event::ExpectationVerdict {
        id: "no-lost-region-dependency".into(),
        description: format!(
            "no required recovery step needs a Region the scenario takes away ({})",
            lost.join(", ")
        ),
        passed,
        observed: if passed {
            "every required step calls a Region that stays".into()
        } else {
            needing.join("; ")
        },
        reason: (!passed).then(|| {
            "on AWS this recovery would stop at those steps; `drillbook plan RUNBOOK --lost-region R` lists them".into()
        }),
    })
}

/// A judged drill.
pub struct Judged {
    pub verdicts: Verdicts,
    /// Every call the impairment refused, in all of the drill's processes.
    pub refused_calls: Vec<ImpairedCall>,
}

/// Judges a drill whose run ended: its expectations (in execute mode; a dry run only observed)
/// and objectives, recorded in the journal as `drill_judged`.
pub async fn judge(
    session: &super::Session,
    engine: &Engine,
    aws: &Arc<Aws>,
    scenario: &Scenario,
    res: &RunResult,
) -> Result<Judged, Failure> {
    let settings = &session.settings;
    let run = super::finish::read_run(session, &res.run_id).await?;
    let mut refused_calls: Vec<ImpairedCall> = run
        .stored
        .records
        .iter()
        .filter_map(|r| match &r.event {
            Event::DrillRefusedCalls { refused_calls } => Some(refused_calls.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    refused_calls.extend(aws.refused_calls());
    let (outputs, statuses) = run.view.step_results();
    let objectives = scenario.objectives_over(&run.runbook.objectives);
    let verdicts = if res.mode == Mode::Execute {
        let mut expectations = check_expectations(
            &scenario.expect,
            aws.clone(),
            &res.run_id,
            &run.runbook.vars,
            &outputs,
            &statuses,
        )
        .await;
        expectations.extend(lost_region_verdict(
            settings,
            scenario,
            &run.runbook,
            &run.stored.records,
        ));
        Verdicts {
            expectations,
            objectives: judge_objectives(
                &objectives,
                run.view.times.recovery_ms.map(Duration::from_millis),
                &outputs,
            ),
        }
    } else {
        Verdicts::default()
    };
    let judged = Event::DrillJudged {
        scenario: scenario.name.clone(),
        scenario_sha256: scenario.sha256.clone(),
        impaired: scenario.impair.clone(),
        refused_calls: refused_calls.clone(),
        verdicts: verdicts.clone(),
    };
    engine
        .record(&res.run_id, vec![judged])
        .await
        .map_err(|e| Failure::failed(format!("cannot record the drill's verdicts: {e}")))?;
    Ok(Judged {
        verdicts,
        refused_calls,
    })
}

/// How long an FIS experiment may take to be `running` after StartExperiment, and to end after
/// StopExperiment. AWS gives no figure for either (the FIS user guide, "Experiment states",
/// names the states only); actions that roll back (network ACLs restored) take seconds.
const FIS_WAIT: Duration = Duration::from_secs(300);

/// A drill's faults, once started.
#[derive(Debug, Default)]
pub struct Faults {
    /// Experiments FIS runs (execute mode), in the scenario's order.
    pub running: Vec<FisExperiment>,
    /// A dry run's: each template with its Region and the action ids it would run.
    pub would_start: Vec<(String, String, Vec<String>)>,
}

impl Faults {
    /// `fault_injected` for each running experiment, recorded with `drill_started`.
    pub fn events(&self) -> Vec<Event> {
        self.running
            .iter()
            .map(|e| Event::FaultInjected {
                experiment: e.clone(),
            })
            .collect()
    }
}

/// Starts the scenario's AWS FIS experiments (execute mode), just before the runbook's first
/// step, and waits until FIS runs each. A dry run reads each template instead (it must exist;
/// its actions are what would run). When one cannot be started or does not run, the ones
/// started are stopped and the drill stops before its runbook.
pub async fn start_faults(
    scenario: &Scenario,
    loaded: &Loaded,
    aws: &Aws,
    mode: Mode,
) -> Result<Faults, Failure> {
    let ctx = crate::template::Context {
        vars: Some(&loaded.runbook.vars),
        run_id: None,
        outputs: None,
    };
    let mut faults = Faults::default();
    for (i, fault) in scenario.faults.iter().enumerate() {
        let Fault::Fis { template, region } = fault;
        let render = |what: &str, v: &str| {
            crate::template::render(v, &ctx)
                .map_err(|e| Failure::invalid(format!("faults[{i}].fis.{what}: {e}")))
        };
        let (template, region) = (render("template", template)?, render("region", region)?);
        if template.trim().is_empty() {
            let failure = Failure::invalid(format!(
                "faults[{i}]: no FIS experiment template id (`{}` is empty)",
                match fault {
                    Fault::Fis { template, .. } => template,
                }
            ))
            .help(
                "set the variable it names to the template's id, e.g. `--var fis_template=EXT...` \
                 (`aws fis list-experiment-templates`; the emulator's seed prints it as \
                 `fis.experiment_template_id`)",
            );
            stop_started(aws, &faults.running).await;
            return Err(failure);
        }
        if mode == Mode::DryRun {
            let actions = describe_template(aws, &template, &region)
                .await
                .map_err(|e| {
                    Failure::failed(format!(
                        "faults[{i}]: FIS template {template} in {region}: {e}"
                    ))
                    .help("check the template id and Region (`aws fis get-experiment-template`)")
                })?;
            faults.would_start.push((template, region, actions));
            continue;
        }
        let started = match start_experiment(aws, &template, &region, &scenario.name).await {
            Ok(e) => e,
            Err(e) => {
                stop_started(aws, &faults.running).await;
                return Err(Failure::failed(format!(
                    "faults[{i}]: cannot start FIS template {template} in {region}: {e}"
                ))
                .help(
                    "nothing of the runbook ran; check the template id, its Region and the \
                       permission fis:StartExperiment, then run the drill again",
                ));
            }
        };
        faults.running.push(started);
    }
    for k in 0..faults.running.len() {
        match wait_running(aws, &faults.running[k], FIS_WAIT).await {
            Ok(now) => faults.running[k] = now,
            Err((message, _)) => {
                stop_started(aws, &faults.running).await;
                return Err(Failure::failed(format!(
                    "{message}; the drill's experiments were stopped"
                ))
                .help(
                    "nothing of the runbook ran; see why in `aws fis get-experiment`, fix the \
                       template, then run the drill again",
                ));
            }
        }
    }
    Ok(faults)
}

/// Stops experiments that never made it into a journal (the drill stopped before its run).
pub async fn stop_started(aws: &Aws, running: &[FisExperiment]) {
    for e in running {
        // Best effort: the drill fails anyway, and says so; FIS ends each at its duration.
        let _ = stop_experiment(aws, e, FIS_WAIT).await;
    }
}

/// What the drill's end did with its experiments.
#[derive(Debug, Default)]
pub struct FaultsEnded {
    /// Experiments left running: the drill paused for an approval, so the outage goes on until
    /// it is resumed (each action's `duration` bounds it).
    pub kept: Vec<FisExperiment>,
    /// Experiments stopped now (or found ended), recorded as `fault_stopped`.
    pub stopped: Vec<FisExperiment>,
    /// Experiments that could not be stopped, with why.
    pub failed: Vec<(FisExperiment, String)>,
}

/// The end of a drill's process: the experiments its journal records running (`fault_injected`
/// without `fault_stopped`, by this process or an earlier one of a resumed drill) are stopped
/// and their last state is recorded (`fault_stopped`), unless the drill paused for an approval,
/// which keeps them running for the resume to find.
pub async fn stop_faults(
    session: &super::Session,
    engine: &Engine,
    aws: &Aws,
    res: &RunResult,
) -> Result<FaultsEnded, Failure> {
    let stored = session.store().await?.load(&res.run_id).await?;
    let mut open: Vec<FisExperiment> = vec![];
    for r in &stored.records {
        match &r.event {
            Event::FaultInjected { experiment } => open.push(experiment.clone()),
            Event::FaultStopped { experiment } => {
                open.retain(|e| !(e.id == experiment.id && e.region == experiment.region))
            }
            _ => {}
        }
    }
    let mut ended = FaultsEnded::default();
    let awaiting_approval = res.status == RunStatus::Paused
        && !res.interrupted
        && res.credentials.is_none()
        && !res.awaiting_approval.is_empty();
    if awaiting_approval {
        ended.kept = open;
        return Ok(ended);
    }
    for e in open {
        match stop_experiment(aws, &e, FIS_WAIT).await {
            Ok(now) => ended.stopped.push(now),
            Err(why) => ended.failed.push((e, why)),
        }
    }
    let events: Vec<Event> = ended
        .stopped
        .iter()
        .map(|e| Event::FaultStopped {
            experiment: e.clone(),
        })
        .collect();
    if !events.is_empty() {
        engine.record(&res.run_id, events).await.map_err(|e| {
            Failure::failed(format!(
                "cannot record the drill's stopped experiments: {e}"
            ))
        })?;
    }
    Ok(ended)
}
