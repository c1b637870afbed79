//! Reporters: progress on a terminal, plain lines, JSON lines, timing and drill reports.
//! The only module (with `cli/`) that prints.

pub mod console;
pub mod timing;

pub use console::Console;
pub use timing::TimingReport;
