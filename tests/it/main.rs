//! The integration test binary: one module per area.
#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "tests say what they skip and why"
)]

mod actions_data;
mod actions_net;
mod agree;
mod arc_action;
mod crash;
mod docustack;
mod drill;
mod drill_pause;
mod ecs;
mod emulator;
mod engine;
mod evidence;
mod fidelity;
mod file_lock;
mod fis;
mod fleet;
mod fleet_drill;
mod fleet_ou;
mod http_probe;
mod iam_access;
mod injection;
mod insider;
mod layers;
mod localstack_drillbook;
mod newcomer;
mod organization;
mod plan;
mod proof;
mod rds;
mod readiness;
mod recovery;
mod report;
mod reports;
mod roles;
mod s3;
mod secrets;
mod security;
mod signal;
mod store_outage;
mod support;
mod team;
mod validate;
