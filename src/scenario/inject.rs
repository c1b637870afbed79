//! A drill's injections: the damage a scenario does before its runbook runs. Each is an action
//! run like a step (observe; apply when something must change; verify), in order; the first
//! that fails stops the drill before the runbook starts. A dry run only observes.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::model::Injection;
use crate::actions::aws::{Aws, in_step};
use crate::actions::{Params, Registry, StepContext, WaitMeter};
use crate::runbook::Objectives;
use crate::template;

pub use crate::event::Injected;

/// Runs (`execute`) or observes the injections in order. `Err` names the injection that failed.
pub async fn inject(
    injections: &[Injection],
    aws: Arc<Aws>,
    vars: &BTreeMap<String, String>,
    execute: bool,
) -> Result<Vec<Injected>, String> {
    let registry = Registry::builtin();
    let ctx = template::Context {
        vars: Some(vars),
        run_id: None,
        outputs: None,
    };
    let mut done = vec![];
    for j in injections {
        let fail = |what: String| format!("injection `{}` ({}): {what}", j.id, j.action);
        let region = j
            .region
            .as_deref()
            .map(|r| template::render(r, &ctx))
            .transpose()
            .map_err(|e| fail(e.to_string()))?;
        let with = j
            .with
            .iter()
            .map(|(k, v)| Ok((k.clone(), template::render_value(v, &ctx)?)))
            .collect::<Result<BTreeMap<_, _>, template::TemplateError>>()
            .map_err(|e| fail(e.to_string()))?;
        let action = registry
            .get(&j.action)
            .ok_or_else(|| fail("no such action".into()))?;
        let step = StepContext {
            run_id: "drill".into(),
            step_id: format!("inject:{}", j.id),
            region: region.clone(),
            params: Params(with),
            objectives: Objectives::default(),
            role_arn: None,
            aws: aws.clone(),
            waits: WaitMeter::default(),
            earlier: None,
        };
        let id = step.step_id.clone();
        let obs = in_step(&id, action.observe(&step))
            .await
            .map_err(|e| fail(e.to_string()))?;
        if let Some(f) = obs.findings.first() {
            return Err(fail(format!("{} (help: {})", f.message, f.hint)));
        }
        let (summary, changes) = if execute && !obs.changes.is_empty() {
            let outcome = in_step(&id, action.apply(&step, &obs))
                .await
                .map_err(|e| fail(e.to_string()))?;
            in_step(&id, action.verify(&step, &outcome))
                .await
                .map_err(|e| fail(e.to_string()))?;
            (outcome.summary, outcome.changes)
        } else {
            (obs.summary, obs.changes)
        };
        done.push(Injected {
            id: j.id.clone(),
            action: j.action.clone(),
            region,
            summary,
            changes,
        });
    }
    Ok(done)
}
