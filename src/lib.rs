//! drillbook: a disaster-recovery drill orchestrator.
//!
//! Data flows one way (see DESIGN.md):
//! runbook (load, validate) -> plan (DAG) -> engine (tokio) -> actions (AWS SDK),
//! with checkpoints written to a journal and events sent to reporters.
//! Nothing below `report/` and `cli/` prints.

pub mod actions;
pub mod checkpoint;
pub mod cli;
pub mod engine;
pub mod event;
pub mod evidence;
pub mod plan;
pub mod report;
pub mod runbook;
pub mod scenario;
