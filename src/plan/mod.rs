//! The validated DAG: start order, critical path, makespan, renderings.

#[cfg(test)]
pub(crate) mod fixtures;
mod graph;
pub mod regions;
pub mod render;

pub use graph::{Graph, Plan, PlanError, RtoCheck, StepIdx};
