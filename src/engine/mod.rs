//! The execution engine: a ready-set scheduler over the runbook's DAG.
//!
//! A step starts the moment its last dependency succeeded and its outcome is durable in the
//! journal (no levels, no batches), bounded by `max_parallel`. Per-step timeout, retries with
//! exponential backoff and jitter for retryable errors, `on_failure` policies, `finally` steps,
//! approvals, resume and Ctrl-C handling live here. Nothing here prints: every transition is an
//! [`Event`](crate::event::Event) sent to an [`EventSink`](crate::event::EventSink).

mod approve;
mod crash;
mod error;
mod hooks;
mod identity;

mod driver;
mod resume;
mod run;
mod step;
mod walk;

pub use approve::{approve, sign_with_hint};
pub use error::EngineError;
pub use hooks::{CRASH_ENV, IDENTITY_ENV, TEST_HOOKS, ignored_test_hooks, test_hook};
pub use identity::{caller_identity, identity_region};
pub use resume::ResumeWith;
pub use run::{Engine, RunResult, needs_aws};
pub use step::backoff_delay;

#[cfg(test)]
mod tests;
