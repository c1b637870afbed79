//! The end of a game-day drill's process: a paused drill keeps the calls its impairment
//! refused, for the verdict to come; a drill that ran to its end is judged (expectations
//! checked against AWS, objectives against the recovery time) and its verdicts are recorded.

use std::sync::Arc;
use std::time::Duration;

use super::{Failure, Settings};
use crate::actions::aws::{Aws, ImpairedCall};
use crate::engine::{Engine, RunResult};
use crate::event::{Event, Mode};
use crate::scenario::{Scenario, Verdicts, check_expectations, judge_objectives};

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

/// A judged drill.
pub struct Judged {
    pub verdicts: Verdicts,
    /// Every call the impairment refused, in all of the drill's processes.
    pub refused_calls: Vec<ImpairedCall>,
}

/// Judges a drill whose run ended: its expectations (in execute mode; a dry run only observed)
/// and objectives, recorded in the journal as `drill_judged`.
pub async fn judge(
    settings: &Settings,
    engine: &Engine,
    aws: &Arc<Aws>,
    scenario: &Scenario,
    res: &RunResult,
) -> Result<Judged, Failure> {
    let run = super::finish::read_run(settings, &res.run_id).await?;
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
    let (outputs, statuses) = super::finish::step_results(&run.stored);
    let objectives = scenario.objectives_over(&run.runbook.objectives);
    let verdicts = if res.mode == Mode::Execute {
        Verdicts {
            expectations: check_expectations(
                &scenario.expect,
                aws.clone(),
                &res.run_id,
                &run.runbook.vars,
                &outputs,
                &statuses,
            )
            .await,
            objectives: judge_objectives(
                &objectives,
                Duration::from_millis(run.timing.recovery_ms),
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
