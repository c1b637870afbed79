//! Runbooks: the YAML model, its loader and validator.

pub mod duration;
pub mod model;
pub mod template;

pub use model::{Objectives, OnFailure, RetryPolicy, Runbook, Step};
