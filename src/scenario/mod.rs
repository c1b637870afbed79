//! Game-day scenarios: a runbook, its variables, the Regions to impair, the objectives and the
//! expectations checked after the run.

mod check;
mod model;

pub use check::{
    ExpectationVerdict, ObjectiveVerdict, Verdicts, check_expectations, judge_objectives,
};
pub use model::{Expectation, Scenario, load_scenario};
