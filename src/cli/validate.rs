//! `drillbook validate` and `drillbook schema`.

use std::io::{IsTerminal, Write};
use std::path::Path;

use super::{ExitCode, ValidateArgs};
use crate::runbook::{self, Diagnostics};
use crate::scenario;

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
    let overrides = match runbook::parse_var_overrides(&args.vars) {
        Ok(o) => o,
        Err(d) => {
            print_diagnostics(&d, color);
            return ExitCode::Invalid;
        }
    };
    let mut code = ExitCode::Success;
    let mut out = std::io::stdout().lock();
    for file in &args.files {
        let checked = runbook::load::read_text(file).and_then(|text| {
            if scenario::is_scenario_text(&text) {
                validate_scenario(file, &text, &overrides, args.root.as_deref())
            } else {
                runbook::load_str(file, &text, &overrides).map(|loaded| {
                    let n = loaded.runbook.steps.len() + loaded.runbook.finally.len();
                    format!("{n} step{}", if n == 1 { "" } else { "s" })
                })
            }
        });
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

/// A scenario, and the runbook it drives with the scenario's variables (then `--var`s).
fn validate_scenario(
    file: &Path,
    text: &str,
    overrides: &[(String, String)],
    root: Option<&Path>,
) -> Result<String, Diagnostics> {
    let s = scenario::load_scenario_str_in(file, text, root)?;
    scenario::load_runbook(&s, overrides)?;
    Ok(format!(
        "scenario: {} expectation{}, runbook {}",
        s.expect.len(),
        if s.expect.len() == 1 { "" } else { "s" },
        s.runbook.display()
    ))
}

pub(super) fn schema() -> ExitCode {
    let schema = runbook::spec::json_schema();
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
