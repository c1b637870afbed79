//! `arc.assert_routing_controls`: reads the routing controls and checks their states.

use super::controls::{observation, observe_states, state_str, wanted};
use crate::actions::{Action, ActionError, Finding, Observation, Outcome, StepContext};
use crate::catalog::{self, ActionSpec};

pub(crate) struct AssertRoutingControls;

#[async_trait::async_trait]
impl Action for AssertRoutingControls {
    fn spec(&self) -> &'static ActionSpec {
        catalog::lookup("arc.assert_routing_controls")
            .expect("arc.assert_routing_controls is in the catalogue")
    }

    async fn observe(&self, ctx: &StepContext) -> Result<Observation, ActionError> {
        let want = wanted(ctx)?;
        let (eps, source, ep, read, passed) = observe_states(ctx, &want, None).await?;
        let mut obs = observation(&eps, source, &ep, &read, &passed);
        for c in read.to_change() {
            obs.findings.push(Finding {
                message: format!(
                    "routing control `{}` is {}, not {}",
                    c.key,
                    state_str(&c.current),
                    state_str(&c.want)
                ),
                hint: "set it with `arc.set_routing_controls`".into(),
            });
        }
        Ok(obs)
    }

    async fn verify(&self, _: &StepContext, _: &Outcome) -> Result<(), ActionError> {
        Ok(())
    }
}
