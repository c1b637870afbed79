//! Route 53 Application Recovery Controller (ARC) routing control: a DNS switch on a data
//! plane that no single Region hosts.
//!
//! - `arc.set_routing_controls` sets routing controls to the states the step names (never
//!   toggles), every one in a single `UpdateRoutingControlStates` transaction, and reads them
//!   back with `GetRoutingControlState`.
//! - `arc.assert_routing_controls` reads them (a check for scenarios and runbooks).
//!
//! AWS facts they rely on:
//!
//! - "A cluster provides a set of five redundant Regional endpoints against which you can run
//!   API calls to get or update the state of routing controls. To implement failover, you set
//!   one routing control to ON and another one to OFF" (Routing Control API reference, Welcome,
//!   <https://docs.aws.amazon.com/routing-control/latest/APIReference/Welcome.html>).
//! - "You can use any of the Regional cluster endpoints. We recommend that your systems rotate
//!   through the regional endpoints, and be prepared to retry with each of the available
//!   endpoints" (ARC developer guide, "List and update routing controls and states with the
//!   AWS CLI",
//!   <https://docs.aws.amazon.com/r53recovery/latest/dg/getting-started-cli-routing.control-state.html>);
//!   "ARC ensures that at least three out of the five Regional cluster endpoints are always
//!   accessible ... If the endpoint is unavailable, you can try connecting to another one of
//!   your cluster endpoints" (ARC developer guide, "Getting and updating routing control states
//!   using the ARC API",
//!   <https://docs.aws.amazon.com/r53recovery/latest/dg/routing-control.update.api.html>).
//! - The endpoints come from `DescribeCluster`, a Recovery Control Config (control-plane) call
//!   made in us-west-2; AWS recommends keeping a local copy: "save a local copy of the ARC
//!   Regional cluster endpoints, in bookmarks or hardcoded in automation code that you use to
//!   retry your endpoints" (the "List and update ..." page above). So `endpoints:` in the step
//!   takes the list, and the dry run prints it when the step has none.
//! - The data plane lists routing controls too (`ListRoutingControls`: "List routing control
//!   names and Amazon Resource Names (ARNs), as well as the routing control state for each
//!   routing control", Routing Control API reference), so names resolve without the control
//!   plane. "Routing control names must be unique within each control panel", not across a
//!   cluster: a name found in two panels is ambiguous.
//! - Safety rules refuse an update that would break them (`ConflictException`); the step names
//!   the rule and does not retry. `SafetyRulesToOverride` is the documented "break glass"
//!   (UpdateRoutingControlStates, Routing Control API reference,
//!   <https://docs.aws.amazon.com/routing-control/latest/APIReference/API_UpdateRoutingControlStates.html>).
//! - Quotas: "Number of routing controls per UpdateRoutingControlStates operation call: 10";
//!   "Number of mutating API calls to a cluster endpoint, per second: 3" (ARC developer guide,
//!   "Quotas for routing control",
//!   <https://docs.aws.amazon.com/r53recovery/latest/dg/routing-control.quotas.html>; the rate
//!   is kept by [`super::limits::RateLimits`]).
//!
//! The code, by concern: [`endpoints`] (the cluster's Regional endpoints, from the step or
//! DescribeCluster, and trying each in turn), [`controls`] (the wanted states, and reading
//! routing controls and their states), [`safety`] (a safety rule's refusal), [`set`] and
//! [`assert`] (the two actions).

use std::sync::Arc;

use super::Action;

mod assert;
mod controls;
mod endpoints;
mod safety;
mod set;

pub(crate) use assert::AssertRoutingControls;
pub(crate) use set::SetRoutingControls;

pub(super) fn all() -> Vec<Arc<dyn Action>> {
    vec![
        Arc::new(SetRoutingControls),
        Arc::new(AssertRoutingControls),
    ]
}
