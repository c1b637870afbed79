//! The validated DAG: start order, critical path, makespan, renderings.

mod graph;
pub mod render;

pub use graph::{Graph, Plan, PlanError, RtoCheck, StepIdx};
