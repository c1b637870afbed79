//! `drillbook plan`, run as a binary.

use crate::support::Ran;
use std::path::{Path, PathBuf};
use std::process::Output;

fn corpus(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus/valid")
        .join(name)
}

fn drillbook(args: &[&str]) -> Output {
    crate::support::cli::bin()
        .args(args)
        .current_dir(crate::support::repo_root())
        .output()
}

fn plan(file: &str, extra: &[&str]) -> (i32, String, String) {
    let path = corpus(file);
    let mut args = vec!["plan", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = drillbook(&args);
    (
        out.status.code().expect("exit code"),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn text_plan_within_rto() {
    let (code, stdout, stderr) = plan("plan-failover.yaml", &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stderr, "");
    assert!(stdout.contains(
        "Critical path (14m15s): freeze-writes -> restore-vault -> switch-dns -> verify"
    ));
    assert!(stdout.contains("RTO: 15m -- OK"));
    insta::assert_snapshot!("plan_text_within_rto", stdout);
}

#[test]
fn over_rto_warns_and_strict_fails() {
    let (code, stdout, stderr) = plan("plan-over-rto.yaml", &[]);
    assert_eq!(code, 0, "without --strict the plan still succeeds");
    assert!(stdout.contains("RTO: 10m -- EXCEEDED by 4m15s"), "{stdout}");
    assert!(
        stderr.starts_with("warning: the estimated makespan 14m15s exceeds the RTO 10m by 4m15s\n"),
        "{stderr}"
    );
    assert!(stderr.contains("help: "), "{stderr}");

    let (code, stdout, stderr) = plan("plan-over-rto.yaml", &["--strict", "--format", "json"]);
    assert_eq!(code, 1, "--strict turns a broken RTO into exit 1");
    assert!(stderr.contains("exceeds the RTO"), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["rto_check"]["within"], false);
    assert_eq!(v["rto_check"]["over_by_ms"], 255_000);

    // --strict within the RTO stays 0.
    let (code, _, stderr) = plan("plan-failover.yaml", &["--strict"]);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn json_plan() {
    let (code, stdout, _) = plan("plan-failover.yaml", &["--format", "json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["format_version"], 1);
    assert_eq!(v["runbook"], "plan-failover");
    assert_eq!(v["makespan_ms"], 855_000);
    assert_eq!(
        v["critical_path"],
        serde_json::json!(["freeze-writes", "restore-vault", "switch-dns", "verify"])
    );
    let steps = v["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 7);
    assert_eq!(steps[0]["id"], "check-alarms");
    assert_eq!(steps[0]["slack_ms"], 595_000);
    assert_eq!(v["cleanup"]["makespan_ms"], 90_000);
    assert_eq!(v["cleanup"]["steps"][1]["id"], "switch-back");
}

#[test]
fn diagram_plans() {
    let (code, dot, _) = plan("plan-failover.yaml", &["--format", "dot"]);
    assert_eq!(code, 0);
    assert!(dot.starts_with("digraph plan {"));
    assert!(dot.contains("\"restore-vault\" -> \"switch-dns\" [color=\"#d62728\", penwidth=2.5];"));
    assert!(dot.contains("\"check-api\" -> \"switch-dns\";"));
    assert!(dot.contains("subgraph cluster_finally {"));

    let (code, mermaid, _) = plan("plan-failover.yaml", &["--format", "mermaid"]);
    assert_eq!(code, 0);
    assert!(mermaid.contains("flowchart LR\n"));
    assert!(
        mermaid.contains("  class s0,s2,s5,s6 critical\n"),
        "{mermaid}"
    );
    assert!(mermaid.contains("  linkStyle 2,4,6 stroke:"), "{mermaid}");
}

#[test]
fn var_overrides_are_accepted_and_checked() {
    let (code, _, stderr) = plan("plan-failover.yaml", &["--var", "secondary=eu-west-1"]);
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, stderr) = plan("plan-failover.yaml", &["--var", "oops"]);
    assert_eq!(code, 2);
    assert_eq!(stdout, "");
    assert!(stderr.contains("invalid --var `oops`"), "{stderr}");
    assert!(stderr.contains("help:"), "{stderr}");
}

#[test]
fn invalid_input_exits_2() {
    let (code, stdout, stderr) = plan("does-not-exist.yaml", &[]);
    assert_eq!(code, 2);
    assert_eq!(stdout, "");
    assert!(stderr.contains("does-not-exist.yaml"), "{stderr}");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cycle.yaml");
    std::fs::write(
        &file,
        "version: 1\nname: cycle\nsteps:\n\
         - { id: a, action: wait, with: { duration: 1s }, needs: [c] }\n\
         - { id: b, action: wait, with: { duration: 1s }, needs: [a] }\n\
         - { id: c, action: wait, with: { duration: 1s }, needs: [b] }\n",
    )
    .unwrap();
    let out = drillbook(&["plan", file.to_str().unwrap()]);
    out.assert_exit(2);
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("cycle"), "{stderr}");
    for id in ["`a`", "`b`", "`c`"] {
        assert!(stderr.contains(id), "the whole cycle is named: {stderr}");
    }
}

#[test]
fn help_has_examples() {
    let out = drillbook(&["plan", "--help"]);
    out.assert_exit(0);
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.contains("Examples:"), "{help}");
    assert!(help.contains("--strict"), "{help}");
    assert!(help.contains("--format <FORMAT>"), "{help}");
}

/// Four independent 500 ms waits, then one that needs them all. No `estimate`: a `wait` is
/// planned by its `duration`.
const FAN_IN: &str = "version: 1\nname: fan-in\nobjectives: { rto: 1s }\nsteps:\n  - { id: a, action: wait, with: { duration: 500ms } }\n  - { id: b, action: wait, with: { duration: 500ms } }\n  - { id: c, action: wait, with: { duration: 500ms } }\n  - { id: d, action: wait, with: { duration: 500ms } }\n  - { id: e, action: wait, needs: [a, b, c, d], with: { duration: 0s } }\n";

/// The plan's makespan is the run's, under the run's `--max-parallel`: two at a time, four
/// half-second steps take a second whatever the critical path says; the RTO is judged on that.
#[test]
fn the_makespan_is_scheduled_under_max_parallel_as_the_run_is() {
    let dir = tempfile::tempdir().unwrap();
    let rb = dir.path().join("fan-in.yaml");
    std::fs::write(&rb, FAN_IN).unwrap();
    let rb = rb.to_str().unwrap();
    let json = |extra: &[&str]| {
        let mut args = vec!["plan", rb, "--format", "json"];
        args.extend_from_slice(extra);
        let out = drillbook(&args);
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let two = json(&["--max-parallel", "2"]);
    assert_eq!(two["max_parallel"], 2);
    assert_eq!(two["makespan_ms"], 1000);
    assert_eq!(two["critical_path_ms"], 500);
    assert_eq!(two["rto_check"]["within"], true);
    let one = json(&["--max-parallel", "1"]);
    assert_eq!(one["makespan_ms"], 2000);
    assert_eq!(
        one["rto_check"]["within"], false,
        "serial, it misses the RTO"
    );
    assert_eq!(
        json(&[])["makespan_ms"],
        500,
        "the default, 8, runs all four at once"
    );
    let out = drillbook(&["plan", rb, "--max-parallel", "2"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "Estimated makespan: 1s with --max-parallel 2 (500ms with unlimited parallelism)"
        ),
        "{text}"
    );

    // The run with that limit cannot be faster than the plan says (a lower bound only).
    let state = dir.path().join("state");
    let out = crate::support::cli::bin()
        .args([
            "run",
            rb,
            "--execute",
            "--yes",
            "--max-parallel",
            "2",
            "--state-dir",
        ])
        .arg(&state)
        .env(
            "DRILLBOOK_IDENTITY_ARN",
            "arn:aws:iam::111122223333:user/alice",
        )
        .output();
    out.assert_exit(0);
    let runs: Vec<_> = std::fs::read_dir(state.join("runs")).unwrap().collect();
    let journal =
        std::fs::read_to_string(runs[0].as_ref().unwrap().path().join("journal.jsonl")).unwrap();
    let at = |line: &str| {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        chrono::DateTime::parse_from_rfc3339(v["at"].as_str().unwrap()).unwrap()
    };
    let lines: Vec<&str> = journal.lines().collect();
    let first_start = lines
        .iter()
        .find(|l| l.contains("\"step_started\""))
        .unwrap();
    let last_done = lines
        .iter()
        .rev()
        .find(|l| l.contains("\"step_succeeded\""))
        .unwrap();
    // Records are stamped when their batch is written: allow 100 ms. Four at once would take
    // 500 ms.
    let took = at(last_done) - at(first_start);
    assert!(took >= chrono::Duration::milliseconds(900), "took {took}");
}

/// `plan --lost-region`: what each shipped runbook needs when a Region is gone, read from the
/// catalogue (no AWS call). The cross-Region failover needs nothing from the lost Region;
/// Route 53's control plane is marked on the steps that call it and becomes a finding only
/// when us-east-1 itself is lost; the in-Region restore cannot run without its Region. Also
/// on another Region pair.
#[test]
fn lost_region_marks_what_each_shipped_runbook_needs() {
    let run = |args: &[&str]| {
        let out = drillbook(args);
        (
            out.status.code().expect("exit code"),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let (code, out, err) = run(&[
        "plan",
        "runbooks/region-failover.yaml",
        "--lost-region",
        "ca-central-1",
        "--strict",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("no required recovery step needs a lost Region"),
        "{out}"
    );
    // The switch is a signal published in the secondary: no Route 53 control plane.
    assert!(
        out.contains("switch-dns (cloudwatch.put_signal): calls eu-west-1\n"),
        "{out}"
    );
    assert!(!out.contains("us-east-1"), "{out}");
    assert!(
        out.contains("not required promote-key (kms.promote)"),
        "{out}"
    );

    // Losing us-east-1 (Route 53's control plane) takes nothing the failover needs.
    let (code, out, err) = run(&[
        "plan",
        "runbooks/region-failover.yaml",
        "--lost-region",
        "us-east-1",
        "--strict",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!out.contains("FINDING"), "{out}");
    // A runbook that switches with route53.failover needs it, and strict says so.
    let (code, out, err) = run(&[
        "plan",
        "runbooks/switchover-rehearsal.yaml",
        "--lost-region",
        "us-east-1",
        "--strict",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FINDING switch-dns"), "{out}");
    assert!(err.contains("required recovery step"), "{err}");

    let (code, out, _) = run(&[
        "plan",
        "runbooks/data-corruption-restore.yaml",
        "--lost-region",
        "ca-central-1",
        "--strict",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FINDING restore-vault"), "{out}");

    // The ARC switch without its endpoints (`describe`: DescribeCluster) needs ARC's
    // configuration API in us-west-2; with them, any endpoint that stays will do.
    let (code, out, _) = run(&[
        "plan",
        "runbooks/region-failover-arc.yaml",
        "--var",
        "cluster_endpoints=describe",
        "--lost-region",
        "us-west-2",
        "--strict",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FINDING switch-dns"), "{out}");
    let endpoints =
        "cluster_endpoints=us-west-2=https://a.example/v1,eu-west-1=https://b.example/v1";
    let (code, out, err) = run(&[
        "plan",
        "runbooks/region-failover-arc.yaml",
        "--var",
        endpoints,
        "--lost-region",
        "us-west-2",
        "--strict",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["lost_regions"], serde_json::json!(["us-west-2"]));
    let switch = doc["region_needs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["step"] == "switch-dns")
        .unwrap()
        .clone();
    assert_eq!(
        switch["any_of"],
        serde_json::json!(["eu-west-1", "us-west-2"])
    );
    assert_eq!(switch["finding"], false);

    // Another Region pair: the failover needs nothing from the Region it leaves.
    let (code, out, err) = run(&[
        "plan",
        "runbooks/region-failover.yaml",
        "--var",
        "primary=us-west-2",
        "--var",
        "secondary=ap-southeast-2",
        "--lost-region",
        "us-west-2",
        "--strict",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("calls ap-southeast-2"), "{out}");
    assert!(!out.contains("FINDING"), "{out}");
}
