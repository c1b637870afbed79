//! Actions: what a step does. Each implements [`Action`] with three faces.
//!
//! - `observe`: read-only. Current state, unmet preconditions, the change `apply` would make.
//!   Dry-run calls only this. Resume of an in-doubt step calls this first.
//! - `apply`: mutate, idempotently. The engine calls it only when `observe` listed changes.
//! - `verify`: the post-condition, checked after `apply`.
//!
//! [`once::attempt`] makes one attempt in that order, for the engine and for tests alike.

#[cfg(feature = "engine")]
mod action;
#[cfg(feature = "engine")]
mod apigateway;
#[cfg(feature = "engine")]
mod arc;
#[cfg(feature = "engine")]
pub mod aws;
#[cfg(feature = "engine")]
pub mod cloudwatch;
#[cfg(feature = "engine")]
mod core_actions;
#[cfg(feature = "engine")]
pub mod dns;
#[cfg(feature = "engine")]
mod dynamodb;
#[cfg(feature = "engine")]
mod ecs;
#[cfg(feature = "engine")]
pub mod http;
#[cfg(feature = "engine")]
pub(crate) mod iam;
#[cfg(feature = "engine")]
mod iam_access;
#[cfg(feature = "engine")]
mod kms;
#[cfg(feature = "engine")]
pub(crate) mod limits;
#[cfg(feature = "engine")]
pub mod once;
#[cfg(feature = "engine")]
pub mod organizations;
#[cfg(feature = "engine")]
pub(crate) mod poll;
#[cfg(feature = "engine")]
mod rds;
#[cfg(feature = "engine")]
mod restore_point;
#[cfg(feature = "engine")]
mod route53;
#[cfg(feature = "engine")]
mod s3;
#[cfg(feature = "engine")]
mod ssm;
#[cfg(feature = "engine")]
mod types;

pub use crate::catalog::{ActionSpec, CATALOG, ControlPlane, ParamKind, ParamSpec, Service};
#[cfg(feature = "engine")]
pub use action::{Action, Registry};
#[cfg(feature = "engine")]
pub use types::*;
