//! Dispatch from parsed arguments to each command's implementation.

use super::{Cli, Command, ExitCode};

pub(super) fn dispatch(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Plan(args) => super::plan::run(args),
        Command::Runs(args) => super::report::runs(args),
        Command::Report(args) => super::report::report(args),
        Command::Run(args) => super::run::run(args),
        Command::Resume(args) => super::run::resume(args),
        Command::Approve(args) => super::run::approve(args),
        Command::Drill(args) => super::drill::drill(args),
        Command::IamPolicy(args) => super::drill::iam_policy(args),
        Command::VerifyEvidence(args) => super::evidence::verify_evidence(args),
        Command::Evidence(args) => super::evidence::evidence(args),
        Command::Validate(args) => super::validate::validate(&args),
        Command::Schema => super::validate::schema(),
        Command::State(args) => super::state::state(args),
        Command::Status(args) => super::status::status(args),
        Command::History(args) => super::status::history(args),
    }
}
