//! Core actions that need no AWS: `wait` and `approval`.
//!
//! `approval` is driven by the engine (it pauses the run); its implementation here only
//! describes itself, so dry-run can say what would be awaited.

use std::sync::Arc;

use super::{Action, ActionError, ActionSpec, Observation, Outcome, StepContext};
use crate::catalog;

pub(super) fn all() -> Vec<Arc<dyn Action>> {
    vec![Arc::new(Wait), Arc::new(Approval)]
}

struct Wait;

#[async_trait::async_trait]
impl Action for Wait {
    fn spec(&self) -> &'static ActionSpec {
        catalog::lookup("wait").expect("wait is in the catalogue")
    }

    async fn observe(&self, ctx: &StepContext) -> Result<Observation, ActionError> {
        let d = ctx.params.opt_duration("duration")?.unwrap_or_default();
        Ok(Observation {
            summary: format!("would wait {}", crate::duration::format_duration(d)),
            changes: vec![format!("wait {}", crate::duration::format_duration(d))],
            ..Default::default()
        })
    }

    async fn apply(&self, ctx: &StepContext, _: &Observation) -> Result<Outcome, ActionError> {
        let d = ctx.params.opt_duration("duration")?.unwrap_or_default();
        if !d.is_zero() {
            tokio::time::sleep(d).await;
        }
        Ok(Outcome {
            summary: format!("waited {}", crate::duration::format_duration(d)),
            ..Default::default()
        })
    }

    async fn verify(&self, _: &StepContext, _: &Outcome) -> Result<(), ActionError> {
        Ok(())
    }
}

struct Approval;

#[async_trait::async_trait]
impl Action for Approval {
    fn spec(&self) -> &'static ActionSpec {
        catalog::lookup("approval").expect("approval is in the catalogue")
    }

    async fn observe(&self, ctx: &StepContext) -> Result<Observation, ActionError> {
        let msg = ctx.params.opt_str("message")?.unwrap_or_default();
        Ok(Observation {
            summary: format!("would wait for approval: {msg}"),
            changes: vec!["wait for a human approval".into()],
            ..Default::default()
        })
    }

    async fn apply(&self, _: &StepContext, _: &Observation) -> Result<Outcome, ActionError> {
        // The engine handles approvals itself; reaching this is a bug in the caller.
        Err(ActionError::Invalid {
            message: "approval steps are handled by the engine".into(),
            hint: String::new(),
        })
    }

    async fn verify(&self, _: &StepContext, _: &Outcome) -> Result<(), ActionError> {
        Ok(())
    }
}
