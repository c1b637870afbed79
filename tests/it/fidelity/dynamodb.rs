//! Fidelity: see mod.rs.
