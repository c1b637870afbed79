//! The application layer: what `run`, `resume`, `drill`, `approve`, `report` and the end of
//! every run do, given resolved [`Settings`]. It prints nothing: it returns what happened, or a
//! [`Failure`] that carries its exit code and `help:` text. `cli/` parses the arguments,
//! resolves the settings, calls this layer and renders what it returns.
//!
//! Store selection happens here, in one place ([`store`]): the files of `--state-dir`, or the
//! DynamoDB table of `--state` under the runbook's lock.

pub mod check;
pub mod drill;
mod error;
pub mod evidence;
pub mod finish;
pub mod fleet;
pub mod lifecycle;
pub mod plan;
pub mod readiness;
pub mod resume;
pub mod runs;
mod session;
mod settings;
pub mod state;
pub mod store;
pub mod targets;

pub use error::{ExitCode, Failure};
pub use lifecycle::{
    DrillEnding, DrillOutcome, DrillStart, Ending, MutatingStep, Narrator, Note, Preflight,
    SinkFor, StoreLost,
};
pub use session::Session;

pub use crate::actions::aws::{Aws, ImpairedCall, Impairment};
pub use crate::checkpoint::RunSummary;
pub use crate::engine::{ResumeWith, RunResult, ignored_test_hooks};
pub use crate::evidence::Signer;
pub use crate::history::Estimates;
pub use crate::runbook::Diagnostics;
pub use crate::scenario::{Scenario, Verdicts};

/// Loads a runbook file with `--var` overrides (exit 2 with its problems when it does not load).
pub fn load_runbook(
    path: &std::path::Path,
    vars: &[(String, String)],
) -> Result<crate::runbook::Loaded, Failure> {
    Ok(crate::runbook::load_file(path, vars)?)
}

/// A scenario file (`--root`: the directory its runbook must resolve inside).
pub fn load_scenario(
    path: &std::path::Path,
    root: Option<&std::path::Path>,
) -> Result<crate::scenario::Scenario, Failure> {
    Ok(crate::scenario::load_scenario_in(path, root)?)
}

/// A drill's runbook, loaded with the scenario's variables and the command line's.
pub fn drill_runbook(
    scenario: &crate::scenario::Scenario,
    vars: &[(String, String)],
) -> Result<crate::runbook::Loaded, Failure> {
    Ok(crate::scenario::load_runbook(scenario, vars)?)
}

/// The required steps of `runbook` that need a Region the scenario takes away (on AWS the
/// recovery would stop there).
pub fn lost_region_needs(
    scenario: &crate::scenario::Scenario,
    runbook: &crate::runbook::Runbook,
) -> Vec<crate::plan::regions::StepNeeds> {
    let lost = drill::lost_regions(scenario);
    crate::plan::regions::needs(runbook, &lost)
        .into_iter()
        .filter(|n| n.finding)
        .collect()
}

/// The IAM policy a runbook needs, with notes on what it could not scope.
pub fn iam_policy(
    path: &std::path::Path,
    vars: &[(String, String)],
) -> Result<(serde_json::Value, Vec<String>), Failure> {
    let loaded = load_runbook(path, vars)?;
    Ok(crate::actions::iam::policy_with_notes(&loaded.runbook))
}

/// The evidence signer of `--sign-with SPEC` (none without it).
pub fn signer(spec: Option<&str>) -> Result<Signer, Failure> {
    match spec {
        None => Ok(Signer::None),
        Some(spec) => Signer::parse(spec).map_err(|e| {
            Failure::invalid(e.to_string()).help(
                "use `--sign-with ed25519:KEY_FILE` (from `drillbook evidence keygen`) or \
                 `--sign-with kms:alias/NAME`",
            )
        }),
    }
}
pub use settings::{Settings, State, shell_quote, state_dir_flag};
