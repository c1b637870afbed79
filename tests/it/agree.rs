//! One account of a run: for a drill whose run failed, a dry-run drill and a drill with a
//! deferred step, the console, `runs`, `history`, `report` and the report files give the same
//! verdict, step counts and recovery time (each pair checked), read from the one read model.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::Ran;
use crate::support::{emulator, unique_prefix, vars_for};

struct Run {
    dir: tempfile::TempDir,
}

impl Run {
    fn new() -> Run {
        Run {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }
    fn bin(&self, args: &[&str], vars: &[String]) -> Output {
        crate::support::cli::bin()
            .args(args)
            .args(vars)
            .arg("--state-dir")
            .arg(self.state())
            .envs(emulator().env())
            .current_dir(self.dir.path())
            .output()
    }
    fn bin_as(&self, who: &str, args: &[&str]) -> Output {
        crate::support::cli::bin()
            .args(args)
            .arg("--state-dir")
            .arg(self.state())
            .emulator()
            .identity(who)
            .current_dir(self.dir.path())
            .output()
    }
    fn run_id(&self) -> String {
        let runs: Vec<_> = std::fs::read_dir(self.state().join("runs"))
            .unwrap()
            .flatten()
            .collect();
        assert_eq!(runs.len(), 1, "one run expected");
        runs[0].file_name().to_string_lossy().into_owned()
    }
    fn json(path: &Path) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }
}

/// Checks that every view of the run agrees, and returns its report.json.
fn views_agree(r: &Run, console: &str, verdict: &str) -> serde_json::Value {
    let id = r.run_id();
    let files = r.state().join("reports").join(&id);
    // The report files.
    let doc = Run::json(&files.join("report.json"));
    assert_eq!(doc["verdict"], verdict, "report.json:\n{doc:#}");
    let counts = &doc["counts"];
    let sentence = {
        let mut s = format!("{} succeeded", counts["succeeded"]);
        if counts["deferred"] != 0 {
            s.push_str(&format!(", {} deferred", counts["deferred"]));
        }
        s.push_str(&format!(
            ", {} failed, {} skipped",
            counts["failed"], counts["skipped"]
        ));
        s
    };
    let md = std::fs::read_to_string(files.join("report.md")).unwrap();
    assert!(
        md.contains(
            &doc["verdict"]
                .as_str()
                .unwrap()
                .to_uppercase()
                .replace('-', " ")
        ),
        "report.md and report.json:\n{md}"
    );
    let junit = std::fs::read_to_string(files.join("junit.xml")).unwrap();
    assert!(
        junit.contains(&format!("name=\"verdict\" value=\"{verdict}\"")),
        "junit.xml and report.json:\n{junit}"
    );
    let timing = std::fs::read_to_string(files.join("timing.txt")).unwrap();
    assert!(
        timing.contains(&format!("verdict: {verdict}")),
        "timing.txt and report.json:\n{timing}"
    );
    assert!(
        timing.contains(&format!("steps: {sentence}")),
        "timing.txt and report.json counts:\n{timing}"
    );
    // The console and the report files.
    assert!(
        console.contains(&format!("run {id}: verdict: {verdict}; steps: {sentence}")),
        "console and report.json:\n{console}"
    );
    // `report` and the report files.
    let out = r.bin(&["report", &id, "--format", "json"], &[]);
    out.assert_exit(0);
    let rep: serde_json::Value = serde_json::from_str(&out.stdout_text()).unwrap();
    for k in [
        "verdict",
        "counts",
        "objectives",
        "recovery_ms",
        "active_ms",
        "waiting_ms",
    ] {
        assert_eq!(rep[k], doc[k], "`report` and report.json disagree on {k}");
    }
    let out = r.bin(&["report", &id], &[]);
    out.assert_exit(0);
    assert_eq!(
        out.stdout_text().trim_end(),
        timing.trim_end(),
        "`report` and timing.txt"
    );
    // `runs` and `report`.
    let out = r.bin(&["runs"], &[]);
    out.assert_exit(0);
    let listed = out.stdout_text();
    let row = listed.lines().find(|l| l.contains(&id)).unwrap();
    assert_eq!(
        row.split_whitespace().last(),
        Some(verdict),
        "`runs` and `report`:\n{listed}"
    );
    // `history` and `report`.
    let name = doc["runbook"]["name"].as_str().unwrap();
    let out = r.bin(&["history", name, "--format", "json"], &[]);
    out.assert_exit(0);
    let hist: serde_json::Value = serde_json::from_str(&out.stdout_text()).unwrap();
    let h = hist["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["run_id"] == id.as_str())
        .unwrap_or_else(|| panic!("no run {id} in history:\n{hist:#}"));
    assert_eq!(h["verdict"], verdict, "`history` and `report`");
    assert_eq!(
        h["recovery_ms"], doc["recovery_ms"],
        "`history` and `report`: recovery time"
    );
    let out = r.bin(&["history", name], &[]);
    out.assert_exit(0);
    let text = out.stdout_text();
    let line = text.lines().find(|l| l.contains(&id)).unwrap();
    assert!(line.contains(verdict), "`history` text:\n{text}");
    doc
}

/// `status` of the runbook file and the run's report: its last run's verdict, and (for a
/// drill that passed) the recovery time of its last pass.
fn status_agrees(r: &Run, runbook: &Path, doc: &serde_json::Value) {
    let out = r.bin(
        &["status", runbook.to_str().unwrap(), "--format", "json"],
        &[],
    );
    let st: serde_json::Value =
        serde_json::from_str(&out.stdout_text()).unwrap_or_else(|e| panic!("{e}: {}", out.text()));
    let row = &st["runbooks"][0];
    if doc["mode"] == "dry_run" {
        // `status` counts executions: a dry run proves nothing.
        assert!(
            row["last_run"].is_null() && row["last_pass"].is_null(),
            "{st:#}"
        );
        assert_eq!(row["state"], "never", "{st:#}");
        return;
    }
    assert_eq!(row["last_run"]["run_id"], doc["run_id"], "{st:#}");
    assert_eq!(
        row["last_run"]["verdict"], doc["verdict"],
        "`status` and `report`: {st:#}"
    );
    if doc["verdict"] == "passed" && doc["scenario"].is_object() {
        assert_eq!(row["last_pass"]["run_id"], doc["run_id"], "{st:#}");
        assert_eq!(
            row["last_pass"]["recovery_ms"], doc["recovery_ms"],
            "{st:#}"
        );
    } else {
        assert!(
            row["last_pass"].is_null(),
            "a {} run is no pass: {st:#}",
            doc["verdict"]
        );
    }
}

fn outage() -> String {
    crate::support::repo_root()
        .join("scenarios/ca-central-1-outage.yaml")
        .to_string_lossy()
        .into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_drill_with_a_deferred_step_says_deferred_everywhere() {
    let seed = emulator().seed(&unique_prefix("agree_deferred"));
    let r = Run::new();
    let out = r.bin(
        &["drill", &outage(), "--execute", "--yes"],
        &vars_for(&seed),
    );
    let all = out.text();
    out.assert_exit(0);
    assert!(
        all.contains("⤼ promote-key  kms.promote  deferred after"),
        "{all}"
    );
    assert!(!all.contains("✓ promote-key"), "{all}");
    let doc = views_agree(&r, &all, "passed");
    status_agrees(
        &r,
        &crate::support::repo_root().join("runbooks/region-failover.yaml"),
        &doc,
    );
    assert_eq!(doc["counts"]["deferred"], 1);
    let promote = doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "promote-key")
        .unwrap();
    assert_eq!(promote["status"], "deferred");
    assert!(
        doc["recovery_ms"].is_u64(),
        "an executed, recovered run has a recovery time"
    );
    for s in doc["steps"].as_array().unwrap() {
        if s["critical"] == true {
            assert_eq!(s["slack_ms"], 0, "the critical path has no slack: {s}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_drill_is_a_dry_run_everywhere_never_passed() {
    let seed = emulator().seed(&unique_prefix("agree_dry"));
    let r = Run::new();
    let out = r.bin(&["drill", &outage()], &vars_for(&seed));
    let all = out.text();
    out.assert_exit(0);
    assert!(all.contains("checked with --execute"), "{all}");
    let doc = views_agree(&r, &all, "dry-run");
    status_agrees(
        &r,
        &crate::support::repo_root().join("runbooks/region-failover.yaml"),
        &doc,
    );
    assert!(
        doc.get("recovery_ms").is_none(),
        "a dry run has no recovery time: {doc:#}"
    );
    for o in doc["objectives"].as_array().unwrap() {
        assert_eq!(o["verdict"], "not_assessed", "{o}");
    }
    let out = r.bin(&["history", "region-failover"], &[]);
    let text = out.stdout_text();
    assert!(
        !text.contains("ms/15m") && !text.contains("s/15m"),
        "no achieved RTO for a dry run:\n{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_drill_whose_run_failed_meets_no_objective_anywhere() {
    let r = Run::new();
    let d = r.dir.path();
    std::fs::write(
        d.join("probe.yaml"),
        r#"version: 1
name: agree-probe
objectives: { rto: 15m }
steps:
  - { id: settle, action: wait, with: { duration: 0s } }
  - id: probe
    action: http.probe
    needs: [settle]
    with: { url: "http://127.0.0.1:9/health" }
  - { id: after, action: wait, needs: [probe], with: { duration: 0s } }
"#,
    )
    .unwrap();
    std::fs::write(
        d.join("lost.yaml"),
        "version: 1\nname: lost-primary\nrunbook: probe.yaml\nimpair: [{ region: ca-central-1 }]\n",
    )
    .unwrap();
    let out = r.bin(&["drill", "lost.yaml", "--execute", "--yes"], &[]);
    let all = out.text();
    out.assert_exit(1);
    assert!(
        !all.contains("MET "),
        "a failed run meets no objective:\n{all}"
    );
    assert!(all.contains("NOT ASSESSED  RTO"), "{all}");
    assert!(
        all.contains("↷ after  skipped: the run was aborted after `probe` failed"),
        "{all}"
    );
    let doc = views_agree(&r, &all, "failed");
    status_agrees(&r, &d.join("probe.yaml"), &doc);
    assert!(doc.get("recovery_ms").is_none(), "{doc:#}");
    let rto = &doc["objectives"][0];
    assert_eq!(rto["verdict"], "not_assessed", "{rto}");
    assert!(rto.get("measured_ms").is_none(), "{rto}");
    let junit =
        std::fs::read_to_string(r.state().join("reports").join(r.run_id()).join("junit.xml"))
            .unwrap();
    let case = junit
        .split("<testcase")
        .find(|c| c.contains("name=\"rto\""))
        .unwrap();
    assert!(
        case.contains("<failure") || case.contains("<skipped"),
        "the RTO case did not pass: {case}"
    );
    let timing = std::fs::read_to_string(
        r.state()
            .join("reports")
            .join(r.run_id())
            .join("timing.txt"),
    )
    .unwrap();
    assert!(timing.contains("RTO 15m: not assessed"), "{timing}");
}

/// A run paused for an approval, approved by another identity, resumed: one set of times (the
/// wait for the approver is waiting time, not active time) in every view.
#[test]
fn a_resumed_run_has_one_set_of_times_everywhere() {
    let alice = "arn:aws:iam::111122223333:user/alice";
    let bob = "arn:aws:iam::111122223333:user/bob";
    let r = Run::new();
    std::fs::write(
        r.dir.path().join("gate.yaml"),
        "version: 1\nname: agree-gate\nobjectives: { rto: 20m }\napprovers: { allow_unsigned: true }\nsteps:\n  - { id: a, action: wait, with: { duration: 50ms } }\n  - { id: gate, action: approval, needs: [a], with: { message: go? } }\n  - { id: b, action: wait, needs: [gate], with: { duration: 50ms } }\n",
    )
    .unwrap();
    let out = r.bin_as(alice, &["run", "gate.yaml", "--execute", "--yes"]);
    out.assert_exit(3);
    let id = r.run_id();
    r.bin_as(bob, &["approve", &id, "gate"]).assert_exit(0);
    let out = r.bin_as(alice, &["resume", &id]);
    let all = out.text();
    out.assert_exit(0);
    let doc = views_agree(&r, &all, "passed");
    status_agrees(&r, &r.dir.path().join("gate.yaml"), &doc);
    let (total, active, waiting) = (
        doc["total_ms"].as_u64().unwrap(),
        doc["active_ms"].as_u64().unwrap(),
        doc["waiting_ms"].as_u64().unwrap(),
    );
    assert!(
        waiting > 0,
        "the wait for the approver is waiting time: {doc:#}"
    );
    assert!(active + waiting <= total, "{doc:#}");
    assert_eq!(doc["pauses"][0]["waiting"], true, "{doc:#}");
    // The approval record `approve` wrote while no process ran does not end the pause.
    let granted_at = doc["approvals"][0]["granted_at"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!granted_at.is_empty());
    let recovery = doc["recovery_ms"]
        .as_u64()
        .expect("an executed, recovered run");
    assert!(recovery >= waiting, "the wait is downtime: {doc:#}");
    // The console's closing line and the timing report give the same times.
    let timing =
        std::fs::read_to_string(r.state().join("reports").join(&id).join("timing.txt")).unwrap();
    let recovery_line = timing
        .lines()
        .find_map(|l| l.strip_prefix("recovery time: "))
        .unwrap_or_else(|| panic!("{timing}"));
    assert!(
        all.contains(&format!("recovery time {recovery_line},")),
        "console and timing.txt: recovery time {recovery_line}\n{all}"
    );
    assert!(all.contains("waiting for approval"), "{all}");
    // One set of whole-run times: the resumed process's own end line counts only its part.
    assert!(!all.contains("succeeded (execute) in"), "{all}");
    assert!(
        all.contains(&format!(
            "run {id} succeeded: this process ended 2 steps in"
        )),
        "{all}"
    );
    assert!(timing.contains("waiting for approval"), "{timing}");
    // `history`: the achieved RTO is the recovery time, against the objective.
    let out = r.bin(&["history", "agree-gate"], &[]);
    let text = out.stdout_text();
    assert!(text.contains("/20m"), "{text}");
}
