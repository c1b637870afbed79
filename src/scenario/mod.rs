//! Game-day scenarios: a runbook, its variables, the Regions to impair, the objectives and the
//! expectations checked after the run.

#[cfg(feature = "engine")]
mod check;
#[cfg(feature = "engine")]
mod fis;
#[cfg(feature = "engine")]
mod inject;
mod load;
mod model;

#[cfg(feature = "engine")]
pub use check::{
    ExpectationVerdict, ObjectiveVerdict, Verdicts, check_expectations, judge_objectives,
    measured_rpo,
};
#[cfg(feature = "engine")]
pub use fis::{describe_template, start_experiment, stop_experiment, wait_running};
#[cfg(feature = "engine")]
pub use inject::{Injected, inject};
pub use load::{
    is_scenario_text, load_runbook, load_runbook_at, load_runbook_for, load_scenario,
    load_scenario_in, load_scenario_str, load_scenario_str_in,
};
pub use model::{Expectation, Fault, INJECTED_AT, Injection, Scenario};
