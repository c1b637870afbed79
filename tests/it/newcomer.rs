//! What a newcomer meets first, through the built binary: a file of the wrong kind, a bad
//! `--var`, a failed dry run, a misspelled approval, `status`, and the help of every argument.

use std::path::{Path, PathBuf};

use crate::support::Ran;
use crate::support::cli::bin;

fn repo(path: &str) -> PathBuf {
    crate::support::repo_root().join(path)
}

/// `file:line:col` of `file` in `stderr` (the miette location header).
fn located(stderr: &str, file: &Path, line: usize) -> bool {
    stderr.contains(&format!("{}:{line}:", file.display()))
}

#[test]
fn drill_given_a_runbook_names_the_kind_and_the_command() {
    let runbook = repo("runbooks/switchover-rehearsal.yaml");
    let out = bin().arg("drill").arg(&runbook).output();
    out.assert_exit(2);
    let err = out.stderr_text();
    assert!(
        err.contains("this is a runbook (it has `steps:`), not a scenario"),
        "{err}"
    );
    assert!(err.contains("drillbook drill SCENARIO"), "{err}");
    assert!(err.contains("drillbook run "), "{err}");
    let steps_line = std::fs::read_to_string(&runbook)
        .unwrap()
        .lines()
        .position(|l| l.starts_with("steps:"))
        .unwrap()
        + 1;
    assert!(located(&err, &runbook, steps_line), "{err}");
    // One problem, not one per runbook field.
    assert!(!err.contains("unknown field"), "{err}");
}

#[test]
fn run_given_a_scenario_names_the_kind_and_the_command() {
    let scenario = repo("scenarios/rehearsal.yaml");
    for command in ["run", "plan", "iam-policy"] {
        let out = bin().arg(command).arg(&scenario).output();
        out.assert_exit(2);
        let err = out.stderr_text();
        assert!(
            err.contains("this is a scenario (it has `runbook:`), not a runbook"),
            "{command}: {err}"
        );
        assert!(err.contains("drillbook drill "), "{command}: {err}");
        assert!(!err.contains("empty runbook"), "{command}: {err}");
        assert!(!err.contains("unknown field"), "{command}: {err}");
        let runbook_line = std::fs::read_to_string(&scenario)
            .unwrap()
            .lines()
            .position(|l| l.starts_with("runbook:"))
            .unwrap()
            + 1;
        assert!(located(&err, &scenario, runbook_line), "{command}: {err}");
    }
}

#[test]
fn a_bad_var_value_is_blamed_on_the_var() {
    let runbook = repo("runbooks/switchover-rehearsal.yaml");
    let out = bin()
        .arg("run")
        .arg(&runbook)
        .args(["--var", "secondary=eu-wst-1"])
        .output();
    out.assert_exit(2);
    let err = out.stderr_text();
    assert!(
        err.contains("`--var secondary=eu-wst-1`: unknown Region `eu-wst-1`"),
        "{err}"
    );
    assert!(err.contains("did you mean `eu-west-1`?"), "{err}");
    // Once, with where the runbook uses it, and no caret under the runbook's line.
    assert_eq!(err.matches("--var secondary=eu-wst-1").count(), 1, "{err}");
    assert!(err.contains("used at "), "{err}");
    assert!(!err.contains("not an AWS Region"), "{err}");

    // The runbook's own mistake is still the runbook's.
    let dir = tempfile::tempdir().unwrap();
    let own = dir.path().join("own.yaml");
    std::fs::write(
        &own,
        "version: 1\nname: own\nvars:\n  r: eu-wst-1\nsteps:\n  - id: a\n    action: wait\n    region: \"{{ vars.r }}\"\n    with: { duration: 0s }\n",
    )
    .unwrap();
    let out = bin().arg("run").arg(&own).output();
    out.assert_exit(2);
    let err = out.stderr_text();
    assert!(located(&err, &own, 8), "{err}");
    assert!(!err.contains("--var"), "{err}");
    // The same value given again by `--var` changes nothing: still the runbook's.
    let out = bin()
        .arg("run")
        .arg(&own)
        .args(["--var", "r=eu-wst-1"])
        .output();
    assert!(
        located(&out.stderr_text(), &own, 8),
        "{}",
        out.stderr_text()
    );
}

#[test]
fn a_bad_scenario_var_is_blamed_on_the_scenario_not_on_var() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("r.yaml"),
        "version: 1\nname: r\nvars:\n  r: eu-west-1\nsteps:\n  - id: a\n    action: wait\n    region: \"{{ vars.r }}\"\n    with: { duration: 0s }\n",
    )
    .unwrap();
    let scenario = dir.path().join("s.yaml");
    std::fs::write(
        &scenario,
        "version: 1\nname: s\nrunbook: r.yaml\nvars:\n  r: eu-wst-1\n",
    )
    .unwrap();
    let out = bin()
        .arg("drill")
        .arg(&scenario)
        .arg("--state-dir")
        .arg(dir.path().join("st"))
        .output();
    out.assert_exit(2);
    let err = out.stderr_text();
    assert!(
        err.contains("the scenario's `vars: { r: eu-wst-1 }`"),
        "{err}"
    );
    assert!(!err.contains("--var"), "{err}");
    // Given on the command line, it is the argument's.
    let out = bin()
        .arg("drill")
        .arg(&scenario)
        .args(["--var", "r=eu-wst-2"])
        .arg("--state-dir")
        .arg(dir.path().join("st"))
        .output();
    out.assert_exit(2);
    assert!(
        out.stderr_text()
            .contains("`--var r=eu-wst-2`: unknown Region"),
        "{}",
        out.stderr_text()
    );
}

/// A runbook whose only step fails in a dry run without AWS: a probe of a closed port.
const PROBE: &str = "version: 1\nname: probe-fails\nvars:\n  url: http://127.0.0.1:9/health\nsteps:\n  - id: probe\n    action: http.probe\n    retry: { attempts: 1 }\n    with:\n      url: \"{{ vars.url }}\"\n";

#[test]
fn a_failed_dry_run_says_run_it_again_not_resume() {
    let dir = tempfile::tempdir().unwrap();
    let runbook = dir.path().join("probe.yaml");
    std::fs::write(&runbook, PROBE).unwrap();
    let out = bin()
        .current_dir(dir.path())
        .args(["run", "probe.yaml", "--var", "url=http://127.0.0.1:1/x"])
        .state_dir("st")
        .output();
    out.assert_exit(1);
    let text = out.text();
    assert!(!text.contains("drillbook resume"), "{text}");
    assert!(text.contains("run the dry run again"), "{text}");
    assert!(
        text.contains("  drillbook run probe.yaml --var url=http://127.0.0.1:1/x --state-dir st"),
        "{text}"
    );
    // The printed command is the one to use: it runs (and fails) the same way.
    let again = bin()
        .current_dir(dir.path())
        .args([
            "run",
            "probe.yaml",
            "--var",
            "url=http://127.0.0.1:1/x",
            "--state-dir",
            "st",
        ])
        .output();
    again.assert_exit(1);
    let runs = bin()
        .current_dir(dir.path())
        .args(["runs"])
        .state_dir("st")
        .output();
    assert_eq!(
        runs.stdout_text().matches("probe.yaml").count(),
        2,
        "{}",
        runs.stdout_text()
    );
}
