//! `drillbook validate` and `drillbook schema`.

use std::io::{IsTerminal, Write};

use super::{ExitCode, ValidateArgs};
use crate::app::Diagnostics;
use crate::app::check::{check_file, var_overrides};

/// Extra `--help` text for `drillbook validate`.
pub(super) const VALIDATE_HELP: &str = "\
Every problem in every file is reported at once, each with file:line:column, the source line
with a caret under the spot, and a `help:` line saying what to do.

A scenario file (one with `runbook:` at the top) is checked with the runbook it drives.

Examples:
  drillbook validate runbooks/region-failover.yaml
  drillbook validate runbooks/*.yaml scenarios/*.yaml
  drillbook validate runbooks/region-failover.yaml --var secondary=eu-central-1 --var table=vault-test

Exit codes: 0 every file is valid, 2 at least one is not.
Colour is used only when stderr is a terminal and NO_COLOR is not set.";

/// Extra `--help` text for `drillbook schema`.
pub(super) const SCHEMA_HELP: &str = "\
Prints the JSON Schema of the runbook format, with every action's parameters, so editors can
complete and check runbooks.

Examples:
  drillbook schema > drillbook.schema.json
  # VS Code (YAML extension), first line of a runbook:
  # yaml-language-server: $schema=./drillbook.schema.json";

/// Whether diagnostics on stderr get colour.
pub(super) fn stderr_color() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

fn print_diagnostics(d: &Diagnostics, color: bool) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(super::diagnostics(d, color).as_bytes());
}

pub(super) fn validate(args: &ValidateArgs) -> ExitCode {
    let color = stderr_color();
    let overrides = match var_overrides(&args.vars) {
        Ok(o) => o,
        Err(d) => {
            print_diagnostics(&d, color);
            return ExitCode::Invalid;
        }
    };
    let mut code = ExitCode::Success;
    let mut out = std::io::stdout().lock();
    for file in &args.files {
        let checked = check_file(file, &overrides, args.root.as_deref());
        match checked {
            Ok(what) => {
                let line = format!("ok: {} ({what})", file.display());
                let _ = writeln!(out, "{}", crate::report::sanitize::one_line(&line));
            }
            Err(d) => {
                let _ = out.flush();
                print_diagnostics(&d, color);
                let n = d.len();
                errln!(
                    "error: {}: {n} problem{} found",
                    crate::report::sanitize::one_line(&file.display().to_string()),
                    if n == 1 { "" } else { "s" }
                );
                code = ExitCode::Invalid;
            }
        }
    }
    code
}

pub(super) fn schema() -> ExitCode {
    let schema = crate::app::check::schema();
    match serde_json::to_string_pretty(&schema) {
        Ok(s) => {
            outln!("{s}");
            ExitCode::Success
        }
        Err(e) => {
            errln!("error: cannot render the schema: {e}");
            ExitCode::Failed
        }
    }
}
