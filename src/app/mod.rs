//! The application layer: what `run`, `resume`, `drill`, `approve`, `report` and the end of
//! every run do, given resolved [`Settings`]. It prints nothing: it returns what happened, or a
//! [`Failure`] that carries its exit code and `help:` text. `cli/` parses the arguments,
//! resolves the settings, calls this layer and renders what it returns.
//!
//! Store selection happens here, in one place ([`store`]): the files of `--state-dir`, or the
//! DynamoDB table of `--state` under the runbook's lock.

pub mod drill;
mod error;
pub mod finish;
pub mod resume;
mod settings;
pub mod store;

pub use error::{ExitCode, Failure};
pub use settings::{Settings, State, shell_quote, state_dir_flag};
