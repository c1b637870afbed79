//! `validate` and `schema`: a file checked as what it is (a runbook, or a scenario with the
//! runbook it drives), and the runbook format's JSON Schema.

use std::path::Path;

use crate::runbook::{self, Diagnostics};
use crate::scenario;

/// `--var K=V` arguments as overrides (problems as diagnostics, like a file's).
pub fn var_overrides(vars: &[String]) -> Result<Vec<(String, String)>, Diagnostics> {
    runbook::parse_var_overrides(vars)
}

/// Checks `file`: a scenario (a file with `runbook:` at the top) with the runbook it drives,
/// else a runbook. Says what it found: `12 steps`, or the scenario's expectations and runbook.
pub fn check_file(
    file: &Path,
    overrides: &[(String, String)],
    root: Option<&Path>,
) -> Result<String, Diagnostics> {
    let text = runbook::load::read_text(file)?;
    if scenario::is_scenario_text(&text) {
        let s = scenario::load_scenario_str_in(file, &text, root)?;
        scenario::load_runbook(&s, overrides)?;
        return Ok(format!(
            "scenario: {} expectation{}, runbook {}",
            s.expect.len(),
            if s.expect.len() == 1 { "" } else { "s" },
            s.runbook.display()
        ));
    }
    let loaded = runbook::load_str(file, &text, overrides)?;
    let n = loaded.runbook.steps.len() + loaded.runbook.finally.len();
    Ok(format!("{n} step{}", if n == 1 { "" } else { "s" }))
}

/// The JSON Schema of the runbook format, with every action's parameters.
pub fn schema() -> serde_json::Value {
    runbook::spec::json_schema()
}
