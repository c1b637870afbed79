//! Dispatch from parsed arguments to each command's implementation.

use super::{Cli, Command, ExitCode};

pub(super) fn dispatch(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Plan(args) => super::plan::run(args),
        Command::Validate(_)
        | Command::Schema
        | Command::Run(_)
        | Command::Resume(_)
        | Command::Approve(_)
        | Command::Runs(_)
        | Command::Report(_) => {
            eprintln!("error: not implemented yet");
            ExitCode::Failed
        }
    }
}
