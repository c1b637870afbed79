//! Runbooks: the YAML model, its loader and validator.

pub mod duration;
pub mod model;
pub mod template;

pub use model::{Objectives, OnFailure, RetryPolicy, Runbook, Step};
pub mod load;

pub use load::{Diagnostics, Loaded, load_file, load_str};
