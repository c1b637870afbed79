//! Dispatch from parsed arguments to each command's implementation.

use super::finish;
use super::{Cli, Command, ExitCode};

pub(super) fn dispatch(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Plan(args) => finish(super::plan::run(args)),
        Command::Runs(args) => finish(super::report::runs(args)),
        Command::Report(args) => finish(super::report::report(args)),
        Command::Run(args) => finish(super::run::run(args)),
        Command::Resume(args) => finish(super::run::resume(args)),
        Command::Approve(args) => finish(super::run::approve(args)),
        Command::Drill(args) => finish(super::drill::drill(args)),
        Command::IamPolicy(args) => finish(super::drill::iam_policy(args)),
        Command::VerifyEvidence(args) => finish(super::evidence::verify_evidence(args)),
        Command::Evidence(args) => finish(super::evidence::evidence(args)),
        Command::Validate(args) => super::validate::validate(&args),
        Command::Schema => super::validate::schema(),
        Command::State(args) => finish(super::state::state(args)),
        Command::Status(args) => finish(super::status::status(args)),
        Command::History(args) => finish(super::status::history(args)),
    }
}
