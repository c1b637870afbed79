//! Runbooks: the YAML model, its loader and validator.

pub(crate) mod diag;
pub mod load;
pub mod model;
pub(crate) mod regions;
pub(crate) mod spec;
mod validate;
pub(crate) mod yaml;

pub use diag::Problem;
pub use load::{
    Diagnostics, Loaded, TargetValues, for_target, load_file, load_str, parse_var_overrides,
    targets_of,
};
pub use model::{
    ApproverKey, Approvers, CallTimeouts, Objectives, OnFailure, RetryPolicy, Runbook, Step,
    TrustedKeyRef,
};
pub use validate::did_you_mean;
pub(crate) use validate::targets::read as read_targets;
pub use validate::targets::{Targets, is_account_id, is_ou_id, split_alarm};
