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
    // Resumed anyway, it fails again and says the same, with the runbook it was started from.
    let id = std::fs::read_dir(dir.path().join("st/runs"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .file_name()
        .into_string()
        .unwrap();
    let resumed = bin()
        .current_dir(dir.path())
        .args(["resume", &id])
        .state_dir("st")
        .output();
    resumed.assert_exit(1);
    let text = resumed.text();
    assert!(text.contains("there is nothing to resume"), "{text}");
    assert!(
        text.contains(&format!(
            "  drillbook run {} --state-dir st",
            runbook.display()
        )),
        "{text}"
    );
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

use crate::engine::{ALICE, BOB, keygen};

fn gated(approvers: &str) -> String {
    format!(
        "version: 1\nname: gate\napprovers: {approvers}\nsteps:\n  - id: a\n    action: wait\n    with: {{ duration: 0s }}\n  - id: gate\n    action: approval\n    needs: [a]\n    with: {{ message: check the dashboards }}\n  - id: b\n    action: wait\n    needs: [gate]\n    with: {{ duration: 0s }}\n"
    )
}

#[test]
fn approve_suggests_the_step_and_runs_shows_what_awaits_approval() {
    let d = crate::engine::Dir::new();
    let rb = d.write("rb.yaml", &gated("{ allow_unsigned: true }"));
    let o = d.run_as(ALICE, &["run", rb.to_str().unwrap(), "--execute", "--yes"]);
    o.assert_exit(3);
    let id = d.run_ids().remove(0);
    // Unsigned approvals count: the hint has no `--sign-with`.
    assert!(
        !o.stderr_text().contains("--sign-with"),
        "{}",
        o.stderr_text()
    );

    let runs = d.run(&["runs"]);
    runs.assert_exit(0);
    let row = runs
        .stdout_text()
        .lines()
        .find(|l| l.starts_with(&id))
        .unwrap()
        .to_string();
    assert!(row.contains("paused (awaits approval of gate)"), "{row}");

    let n = d.records(&id).len();
    let o = d.run_as(BOB, &["approve", &id, "gaet"]);
    o.assert_exit(2);
    let err = o.stderr_text();
    assert!(err.contains("no pending approval for step `gaet`"), "{err}");
    assert!(err.contains("did you mean `gate`?"), "{err}");
    assert_eq!(d.records(&id).len(), n, "nothing journaled");
    // Nothing close: the awaited steps are listed.
    let o = d.run_as(BOB, &["approve", &id, "deploy-everything"]);
    o.assert_exit(2);
    assert!(
        o.stderr_text().contains("it awaits approval of `gate`"),
        "{}",
        o.stderr_text()
    );

    d.run_as(BOB, &["approve", &id, "gate"]).assert_exit(0);
    let runs = d.run(&["runs"]).stdout_text();
    let row = runs.lines().find(|l| l.starts_with(&id)).unwrap();
    assert!(!row.contains("awaits approval"), "approved: {row}");
}

#[test]
fn the_approval_hint_carries_sign_with_when_the_runbook_needs_a_signature() {
    let d = crate::engine::Dir::new();
    let (key_file, public) = keygen(&d, "bob.key");
    let rb = d.write(
        "rb.yaml",
        &gated(&format!(
            "{{ keys: [{{ key: \"ed25519:{public}\", principal: \"{BOB}\" }}] }}"
        )),
    );
    let o = d.run_as(ALICE, &["run", rb.to_str().unwrap(), "--execute", "--yes"]);
    o.assert_exit(3);
    let id = d.run_ids().remove(0);
    let err = o.stderr_text();
    let want = format!("drillbook approve {id} gate --sign-with ed25519:KEY_FILE");
    // Both the progress line and the closing lines.
    assert_eq!(err.matches(&want).count(), 2, "{err}");
    // And the hinted command, with Bob's key file, is the one that works.
    let key = format!("ed25519:{key_file}");
    d.run_as(BOB, &["approve", &id, "gate", "--sign-with", &key])
        .assert_exit(0);
    d.run_as(ALICE, &["resume", &id]).assert_exit(0);
}

/// A scenario with problems of every stage: unknown fields, values, actions, and what only its
/// runbook can tell (undeclared variables, unknown steps).
const BAD_SCENARIO: &str = "version: 1
name: bad
runbook: rb.yaml
vars:
  secondry: eu-west-1
impair:
  - region: ca-centrl-1
    servce: dynamodb
objectives:
  rto: 15 minutes
  rpp: 5m
expect:
  - id: a
    step: promote-kye
  - id: b
    action: route53.assert_recrds
    with: { hosted_zone: x }
  - id: c
    step: verify-dns
    status: succeded
inject:
  - id: d
    action: kms.promote
    with: { ky: x }
";

#[test]
fn every_problem_of_a_scenario_is_reported_at_once() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        repo("runbooks/switchover-rehearsal.yaml"),
        dir.path().join("rb.yaml"),
    )
    .unwrap();
    let scenario = dir.path().join("bad.yaml");
    std::fs::write(&scenario, BAD_SCENARIO).unwrap();
    let want = [
        (11, "unknown field `rpp` in `objectives`"),
        (8, "unknown field `servce` in an impairment"),
        (10, "objectives.rto: invalid duration `15 minutes`"),
        (7, "unknown Region `ca-centrl-1`"),
        (16, "unknown action `route53.assert_recrds`"),
        (20, "expectation `c`: unknown status `succeded`"),
        (24, "`kms.promote` has no parameter `ky`"),
        (23, "`kms.promote` needs the parameter `key`"),
        (5, "the runbook declares no variable `secondry`"),
        (14, "expectation `a`: the runbook has no step `promote-kye`"),
    ];
    for command in ["validate", "drill"] {
        let out = bin()
            .arg(command)
            .arg(&scenario)
            .arg(if command == "drill" {
                "--state-dir"
            } else {
                "--root"
            })
            .arg(dir.path())
            .output();
        out.assert_exit(2);
        let err = out.stderr_text();
        for (line, message) in want {
            assert!(err.contains(message), "{command}: no `{message}`:\n{err}");
            assert!(
                located(&err, &scenario, line),
                "{command}: nothing at line {line}:\n{err}"
            );
        }
    }

    // Required fields missing or empty are reported with the rest, not first and alone.
    let partial = dir.path().join("partial.yaml");
    std::fs::write(
        &partial,
        "name: x\nrunbook:\nimpair:\n  - region: ca-centrl-1\nobjectives: { rto: 1 hour }\n",
    )
    .unwrap();
    let out = bin().arg("drill").arg(&partial).output();
    out.assert_exit(2);
    let err = out.stderr_text();
    for (line, message) in [
        (1, "missing `version`"),
        (2, "`runbook` has no value"),
        (4, "unknown Region `ca-centrl-1`"),
        (5, "objectives.rto: invalid duration `1 hour`"),
    ] {
        assert!(err.contains(message), "no `{message}`:\n{err}");
        assert!(
            located(&err, &partial, line),
            "nothing at line {line}:\n{err}"
        );
    }
}

#[test]
fn status_names_the_file_and_says_how_a_runbook_becomes_proven() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        repo("runbooks/switchover-rehearsal.yaml"),
        dir.path().join("rb.yaml"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("game-day.yaml"),
        "version: 1\nname: game-day\nrunbook: rb.yaml\n",
    )
    .unwrap();
    let status = |args: &[&str]| {
        bin()
            .current_dir(dir.path())
            .arg("status")
            .args(args)
            .state_dir("st")
            .output()
    };
    let out = status(&["rb.yaml", "game-day.yaml"]);
    out.assert_exit(0);
    let table = out.stdout_text();
    let mut lines = table.lines();
    assert!(lines.next().unwrap().starts_with("FILE "), "{table}");
    assert!(lines.next().unwrap().starts_with("rb.yaml "), "{table}");
    assert!(
        lines.next().unwrap().starts_with("game-day.yaml "),
        "{table}"
    );
    let err = out.stderr_text();
    assert!(
        err.contains("rb.yaml is not proven: a runbook is proven by a passing drill")
            && err.contains("`runbook: rb.yaml`")
            && err.contains("drillbook drill SCENARIO --execute"),
        "{err}"
    );
    assert!(
        err.contains("game-day.yaml is not proven: run `drillbook drill game-day.yaml --execute`"),
        "{err}"
    );

    let out = status(&["--max-age", "90d", "rb.yaml"]);
    out.assert_exit(1);
    assert!(
        out.stderr_text()
            .contains("no drill of it has passed; a runbook is proven by a passing drill"),
        "{}",
        out.stderr_text()
    );
}

/// `iam-policy` on the shipped rehearsal: no statement allows a record change, or a KMS key
/// without a condition, on `*`; what is known only at run time is said on stderr.
#[test]
fn iam_policy_scopes_route53_and_kms_to_what_the_runbook_names() {
    let out = bin()
        .arg("iam-policy")
        .arg(repo("runbooks/switchover-rehearsal.yaml"))
        .output();
    out.assert_exit(0);
    let policy: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for s in policy["Statement"].as_array().unwrap() {
        let resources = match &s["Resource"] {
            serde_json::Value::String(r) => vec![r.clone()],
            list => list
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap().to_string())
                .collect(),
        };
        let actions = s["Action"].to_string();
        if resources.iter().any(|r| r == "*") {
            assert!(
                !actions.contains("ChangeResourceRecordSets") && !actions.contains("kms:"),
                "{s:#}"
            );
        }
        if resources.iter().any(|r| r.contains(":key/*")) {
            assert!(
                s["Condition"]["ForAnyValue:StringEquals"]["kms:ResourceAliases"]
                    == serde_json::json!(["alias/unolock-root"]),
                "{s:#}"
            );
        }
    }
    let err = out.stderr_text();
    assert!(
        err.contains("note: the hosted zone `unolock.example.` is given by name"),
        "{err}"
    );
    assert!(
        err.contains("note: the key `alias/unolock-root` is promoted"),
        "{err}"
    );
}

/// The code spans of `markdown` (single-backtick fences; what report.md writes for names).
fn code_spans(markdown: &str) -> Vec<&str> {
    markdown
        .lines()
        .flat_map(|l| l.split('`').skip(1).step_by(2))
        .collect()
}

/// report.md shows names in code spans exactly: no backslash escapes inside them (only text
/// outside code spans is escaped).
#[test]
fn report_md_code_spans_render_clean() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("probe.yaml"),
        PROBE
            .replace("id: probe\n", "id: probe_1\n")
            .replace("name: probe-fails", "name: probe_fails"),
    )
    .unwrap();
    bin()
        .current_dir(dir.path())
        .args(["run", "probe.yaml", "--var", "url=http://127.0.0.1:1/a_b*c"])
        .state_dir("st")
        .output()
        .assert_exit(1);
    let reports = dir.path().join("st/reports");
    let run = std::fs::read_dir(&reports)
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let md = std::fs::read_to_string(run.path().join("report.md")).unwrap();
    let spans = code_spans(&md);
    assert!(spans.contains(&"probe_1"), "{md}");
    for s in spans {
        assert!(!s.contains('\\'), "`{s}` in:\n{md}");
    }
    // Outside code spans, the same name is escaped.
    assert!(md.contains(r"probe\_fails"), "{md}");
}
