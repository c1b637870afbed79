//! drillbook: a disaster-recovery drill orchestrator.
//!
//! Data flows one way (see DESIGN.md):
//! runbook (load, validate) -> plan (DAG) -> engine (tokio) -> actions (AWS SDK),
//! with checkpoints written to a journal and events sent to reporters.
//! Nothing below `report/` and `cli/` prints.
//!
//! Floors, lowest first (the integration test `layers` keeps them): `duration`, `dag`,
//! `template`, `secret`, then `catalog`; `event`; `runbook`; `actions` and `plan`; `scenario`;
//! `checkpoint`; `evidence`; `engine` and `report`; `history`; `app`; `cli`. A module uses
//! only modules on lower floors.
//!
//! The application layer ([`app`]) is what the commands do, given resolved settings: store
//! selection, a drill's start (the damage, the runbook loaded against it), what a stored run
//! needs for its resume, the end of a run (reports, evidence, metrics), a drill's verdicts; it
//! prints nothing and fails with a typed [`app::Failure`] (exit code, message, `help:`, and
//! the input problems with their file, line and column). `cli/` parses, resolves, calls it
//! and renders.
//!
//! One event stream: the engine reports each [`event::Event`] once, to its sink (the console,
//! JSON lines) and to the journal, which keeps it inside its envelope
//! ([`checkpoint::Record`]: sequence number, time, hash of the record before). Reports are
//! rebuilt from the journal's events, through one read model: [`checkpoint::view::RunView`],
//! the one fold of a run's journal (mode, status, step statuses with deferral, times,
//! approvals, faults, objectives, verdict) that every view of a run reads.
//!
//! Feature `engine` (default) is everything after loading: plan, engine, the AWS actions,
//! checkpoints, reports, the CLI. Without it the crate is the runbook and scenario loaders and
//! the action catalogue they validate against, which is what the fuzz target links.

// Without `engine` (the fuzz target's build) the loaders keep what only the engine reads.
#![cfg_attr(
    not(feature = "engine"),
    expect(
        dead_code,
        reason = "the loader-only build leaves the engine's helpers unused"
    )
)]

pub mod actions;
#[cfg(feature = "engine")]
pub mod app;
pub mod catalog;
#[cfg(feature = "engine")]
pub mod checkpoint;
#[cfg(feature = "engine")]
pub mod cli;
pub(crate) mod dag;
pub(crate) mod duration;
#[cfg(feature = "engine")]
pub mod engine;
#[cfg(feature = "engine")]
pub mod event;
#[cfg(feature = "engine")]
pub mod evidence;
#[cfg(feature = "engine")]
pub mod history;
#[cfg(feature = "engine")]
pub mod plan;
#[cfg(feature = "engine")]
pub mod report;
pub mod runbook;
pub mod scenario;
pub(crate) mod secret;
pub(crate) mod template;
