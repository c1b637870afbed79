//! One attempt of an action, as the engine makes it and as tests call it: observe, fail on
//! findings, then (execute) apply the listed changes and verify, or (dry run) report what would
//! change. The engine adds what happens around it (the journal, crash points) through
//! [`AttemptHooks`]; a test passes [`NoHooks`].

use super::{Action, ActionError, Observation, Outcome, StepContext};
use crate::event::Mode;

/// What the caller does at the points of an attempt.
#[async_trait::async_trait]
pub trait AttemptHooks: Send + Sync {
    /// The observation, as soon as it is made (before findings fail the attempt).
    fn observed(&self, _obs: &Observation) {}
    /// Just before `apply` is called with changes to make: an error stops the attempt with
    /// nothing changed (the engine makes a mutating step's start durable here).
    async fn before_apply(&self, _mutates: bool) -> Result<(), ActionError> {
        Ok(())
    }
    /// Just after `apply` returned.
    fn after_apply(&self) {}
}

/// No hooks: a test's attempt.
pub struct NoHooks;

impl AttemptHooks for NoHooks {}

/// One attempt of `action` in `ctx`. In a dry run, `upstream_change` names the earlier step
/// whose changes (not made in a dry run) this step comes after: its findings cannot hold yet
/// and are reported in the summary instead of failing the step.
pub async fn attempt(
    action: &dyn Action,
    ctx: &StepContext,
    mode: Mode,
    upstream_change: Option<&str>,
    hooks: &dyn AttemptHooks,
) -> Result<Outcome, ActionError> {
    let mut obs = action.observe(ctx).await?;
    hooks.observed(&obs);
    if !obs.findings.is_empty() {
        match (mode, upstream_change) {
            // A check downstream of a change that a dry run does not make cannot hold yet:
            // report it, do not fail on it.
            (Mode::DryRun, Some(upstream)) => {
                obs.summary = format!(
                    "not checkable before `{upstream}` makes its changes (a dry run makes none): {}",
                    obs.findings
                        .iter()
                        .map(|f| f.message.as_str())
                        .collect::<Vec<_>>()
                        .join("; ")
                );
                obs.findings.clear();
            }
            _ => {
                return Err(ActionError::Precondition {
                    findings: obs.findings,
                });
            }
        }
    }
    match mode {
        Mode::DryRun => {
            let mut outputs = obs.outputs;
            // Outputs only `apply` would know are shown as visible placeholders so later
            // steps' templates render and their observes still run.
            for o in action.spec().outputs {
                outputs
                    .entry(o.name.to_string())
                    .or_insert_with(|| format!("<steps.{}.{}>", ctx.step_id, o.name));
            }
            Ok(Outcome {
                summary: obs.summary,
                changes: obs.changes,
                outputs,
            })
        }
        Mode::Execute => {
            let outcome = if obs.changes.is_empty() {
                Outcome {
                    summary: obs.summary,
                    changes: vec![],
                    outputs: obs.outputs,
                }
            } else {
                hooks.before_apply(action.spec().mutates).await?;
                let outcome = action.apply(ctx, &obs).await?;
                hooks.after_apply();
                outcome
            };
            action.verify(ctx, &outcome).await?;
            Ok(outcome)
        }
    }
}
