//! Calling action faces directly: an `Aws` pointed at the emulator and a hand-built
//! `StepContext` (what the engine would pass).

use std::sync::Arc;

use drillbook::actions::aws::{Aws, AwsOptions};
use drillbook::actions::{Action, Params, Registry, StepContext, WaitMeter};
use drillbook::runbook::model::Objectives;

/// AWS access through the shared emulator, without impairment.
pub(crate) async fn aws() -> Arc<Aws> {
    let conf = super::emulator().sdk_config(super::PRIMARY_REGION).await;
    // Alias records resolve through the emulator's DNS server.
    let options = AwsOptions {
        dns_server: super::emulator().dns_server(),
        ..Default::default()
    };
    Arc::new(Aws::from_config(conf, options))
}

/// A step context for `region` with `params` (a JSON object: the step's rendered `with:`).
pub(crate) fn ctx(aws: &Arc<Aws>, region: &str, params: serde_json::Value) -> StepContext {
    let params = match params {
        serde_json::Value::Object(m) => m.into_iter().collect(),
        other => panic!("params must be a JSON object, got {other}"),
    };
    StepContext {
        run_id: "it-run".into(),
        step_id: "it-step".into(),
        region: Some(region.to_string()),
        params: Params(params),
        objectives: Objectives::default(),
        role_arn: None,
        aws: aws.clone(),
        waits: WaitMeter::default(),
        earlier: None,
    }
}

/// A built-in action by catalogue name.
pub(crate) fn action(name: &str) -> Arc<dyn Action> {
    Registry::builtin()
        .get(name)
        .unwrap_or_else(|| panic!("no built-in action `{name}`"))
}

/// An observation's findings, one `message [hint]` per line, for assertion messages.
pub(crate) fn findings_text(obs: &drillbook::actions::Observation) -> String {
    obs.findings
        .iter()
        .map(|f| format!("{} [{}]", f.message, f.hint))
        .collect::<Vec<_>>()
        .join("\n")
}

/// One attempt of the built-in action `name` as the engine makes it in an execution (observe,
/// fail on findings, apply what it lists, verify): the library's own
/// `drillbook::actions::once::attempt`, without the journal around it.
pub(crate) async fn execute(
    name: &str,
    c: &StepContext,
) -> Result<drillbook::actions::Outcome, drillbook::actions::ActionError> {
    use drillbook::actions::once::{NoHooks, attempt};
    attempt(
        &*action(name),
        c,
        drillbook::event::Mode::Execute,
        None,
        &NoHooks,
    )
    .await
}

/// The same attempt in a dry run: observe only, the changes it would make in the outcome.
pub(crate) async fn dry_run(
    name: &str,
    c: &StepContext,
) -> Result<drillbook::actions::Outcome, drillbook::actions::ActionError> {
    use drillbook::actions::once::{NoHooks, attempt};
    attempt(
        &*action(name),
        c,
        drillbook::event::Mode::DryRun,
        None,
        &NoHooks,
    )
    .await
}
