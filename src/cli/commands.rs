//! Dispatch from parsed arguments to each command's implementation.

use super::{Cli, Command, ExitCode};

pub(super) fn dispatch(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Validate(args) => super::validate::validate(&args),
        Command::Schema => super::validate::schema(),
        Command::Plan(_)
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
