//! Renderings of a plan: text for people, JSON for tools, DOT and Mermaid for diagrams.

mod common;
mod diagram;
mod json;
mod text;

pub use common::short_duration;
pub use diagram::{dot, mermaid};
pub use json::{FORMAT_VERSION, json, json_value, json_with};
pub use text::text;

#[cfg(test)]
mod tests;
