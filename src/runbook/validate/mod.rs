//! From a YAML tree to a validated [`Runbook`](super::Runbook), reporting every problem in one
//! pass: [`read`] walks the tree (the pass's state and its typed readers), [`document`] checks
//! the runbook as a whole and builds it, [`step`] checks each step, [`graph`] checks ids,
//! dependencies, cycles (through [`crate::dag`]) and step-output references.

mod document;
mod graph;
mod read;
mod secrets;
mod step;
pub(crate) mod targets;

pub(crate) use document::build;
pub(crate) use read::Values;
pub use read::did_you_mean;

#[cfg(test)]
mod tests;
