//! Reporters: the console (plain lines, JSON lines), the timing report, `runs` and `report`.

use crate::support::Ran;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use drillbook::actions::{ActionError, AwsFailure, Finding, Observation, Outcome};
use drillbook::checkpoint::view::RunView;
use drillbook::checkpoint::{FORMAT_VERSION, GENESIS, Record, StoredRun};
use drillbook::cli::MessageFormat;
use drillbook::event::{Event, EventSink, Mode, RunStatus};
use drillbook::report::{Console, TimingReport};

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buf {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-23T18:45:01Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn at(secs: f64) -> DateTime<Utc> {
    t0() + chrono::Duration::milliseconds((secs * 1000.0).round() as i64)
}

fn run_events(out: Buf, err: Buf, format: MessageFormat, events: &[(DateTime<Utc>, Event)]) {
    let console =
        Console::with_writers(format, Box::new(out), Box::new(err)).state_dir(Path::new("/tmp/s"));
    for (at, e) in events {
        console.emit(*at, e);
    }
}

fn throttled() -> ActionError {
    ActionError::Aws(Box::new(AwsFailure {
        service: "dynamodb".into(),
        operation: "RestoreTableToPointInTime".into(),
        region: "eu-west-1".into(),
        code: "ThrottlingException".into(),
        message: "rate exceeded".into(),
        retryable: true,
        request_id: Some("req-1".into()),
        hint: String::new(),
    }))
}

fn run_started(run_id: &str, mode: Mode, steps: &[&str]) -> Event {
    Event::RunStarted {
        format_version: FORMAT_VERSION,
        run_id: run_id.into(),
        runbook: "region-failover".into(),
        runbook_sha256: "5f1e".into(),
        mode,
        identity: None,
        host: "laptop".into(),
        user: "oncall".into(),
        drillbook_version: "0.1.0".into(),
        steps: steps.iter().map(|s| s.to_string()).collect(),
        vars_sha256: None,
        sealed_by: None,
    }
}

fn succeeded(step: &str, ms: u64, attempts: u32, changes: &[&str]) -> Event {
    Event::StepSucceeded {
        step: step.into(),
        outcome: Outcome {
            summary: String::new(),
            changes: changes.iter().map(|c| c.to_string()).collect(),
            outputs: Default::default(),
        },
        attempts,
        duration_ms: ms,
        aws_wait_ms: 0,
        dry_run: false,
    }
}

fn started(step: &str, action: &str, attempt: u32) -> Event {
    Event::StepStarted {
        step: step.into(),
        action: action.into(),
        attempt,
    }
}

/// An executed run: parallel branches, a retry, a failure with a hint, a skip, an approval.
fn execute_events() -> Vec<(DateTime<Utc>, Event)> {
    let steps = [
        "restore-vault",
        "promote-key",
        "update-stage",
        "switch-dns",
        "confirm-cutover",
        "verify",
    ];
    vec![
        (
            at(0.0),
            run_started("20261123-184501-ab12", Mode::Execute, &steps),
        ),
        (
            at(0.0),
            started("restore-vault", "dynamodb.restore_pitr", 1),
        ),
        (at(0.0), started("promote-key", "kms.promote", 1)),
        (
            at(1.2),
            Event::StepRetrying {
                step: "restore-vault".into(),
                attempt: 2,
                error: throttled(),
                delay_ms: 2000,
            },
        ),
        (
            at(3.2),
            started("restore-vault", "dynamodb.restore_pitr", 2),
        ),
        (
            at(4.5),
            succeeded(
                "promote-key",
                4500,
                1,
                &["made eu-west-1 the primary Region of key mrk-1"],
            ),
        ),
        (
            at(12.3),
            succeeded(
                "restore-vault",
                12_300,
                2,
                &["restored vault to vault-restored-ab12"],
            ),
        ),
        (
            at(12.3),
            started("update-stage", "apigateway.update_stage", 1),
        ),
        (
            at(14.0),
            Event::StepFailed {
                step: "update-stage".into(),
                error: ActionError::Verification {
                    message: "stage `prod` still points at the old table".into(),
                    hint: "check the stage variable `table` of the API".into(),
                },
                attempts: 1,
                duration_ms: 1700,
            },
        ),
        (
            at(14.0),
            Event::StepSkipped {
                step: "switch-dns".into(),
                reason: "needs update-stage, which failed".into(),
            },
        ),
        (
            at(14.0),
            Event::ApprovalRequested {
                step: "confirm-cutover".into(),
                message: "check the dashboards before DNS moves".into(),
                nonce: String::new(),
            },
        ),
        (
            at(14.1),
            Event::RunFinished {
                status: RunStatus::Failed,
            },
        ),
    ]
}

/// A dry run: observations, would-change lines, an unmet precondition.
fn dry_run_events() -> Vec<(DateTime<Utc>, Event)> {
    let unmet = Finding {
        message: "no replica of mrk-1 in eu-west-1".into(),
        hint: "replicate the key first (kms.replicate_key)".into(),
    };
    vec![
        (
            at(0.0),
            run_started(
                "20261123-184501-cd34",
                Mode::DryRun,
                &["restore-vault", "promote-key"],
            ),
        ),
        (
            at(0.0),
            started("restore-vault", "dynamodb.restore_pitr", 1),
        ),
        (at(0.0), started("promote-key", "kms.promote", 1)),
        (
            at(0.4),
            Event::StepObserved {
                step: "restore-vault".into(),
                observation: Observation {
                    summary: "table vault: PITR enabled, latest restorable 18:44:56".into(),
                    changes: vec![
                        "restore vault to vault-restored-cd34 at the latest restorable time".into(),
                        "enable PITR on vault-restored-cd34".into(),
                    ],
                    ..Default::default()
                },
            },
        ),
        (at(0.4), succeeded("restore-vault", 400, 1, &[])),
        (
            at(0.6),
            Event::StepObserved {
                step: "promote-key".into(),
                observation: Observation {
                    summary: "key mrk-1: primary in ca-central-1".into(),
                    findings: vec![unmet.clone()],
                    ..Default::default()
                },
            },
        ),
        (
            at(0.6),
            Event::StepFailed {
                step: "promote-key".into(),
                error: ActionError::Precondition {
                    findings: vec![unmet],
                },
                attempts: 1,
                duration_ms: 600,
            },
        ),
        (
            at(0.7),
            Event::RunFinished {
                status: RunStatus::Failed,
            },
        ),
    ]
}

#[test]
fn plain_lines_for_an_executed_run() {
    let (out, err) = (Buf::default(), Buf::default());
    run_events(
        out.clone(),
        err.clone(),
        MessageFormat::Human,
        &execute_events(),
    );
    assert_eq!(out.text(), "", "human output never goes to stdout");
    let text = err.text();
    assert!(!text.contains('\x1b'), "no ANSI when not a terminal");
    assert!(
        text.contains("[00:12.3] ✓ restore-vault  dynamodb.restore_pitr  12.3s (2 attempts)\n")
    );
    assert!(text.contains(
        "confirm-cutover: approve with: drillbook approve 20261123-184501-ab12 confirm-cutover --state-dir /tmp/s\n"
    ));
    insta::assert_snapshot!("console_plain_execute", text);
}

#[test]
fn plain_lines_for_a_dry_run_show_observations() {
    let (out, err) = (Buf::default(), Buf::default());
    run_events(
        out.clone(),
        err.clone(),
        MessageFormat::Human,
        &dry_run_events(),
    );
    assert_eq!(out.text(), "");
    let text = err.text();
    assert!(text.contains("restore-vault: would change: enable PITR on vault-restored-cd34"));
    assert!(text.contains("promote-key: help: replicate the key first (kms.replicate_key)"));
    insta::assert_snapshot!("console_plain_dry_run", text);
}

#[test]
fn json_lines_are_every_event_and_nothing_else() {
    let (out, err) = (Buf::default(), Buf::default());
    let events = execute_events();
    run_events(out.clone(), err.clone(), MessageFormat::Json, &events);
    assert_eq!(err.text(), "", "json mode writes nothing for humans");
    let text = out.text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), events.len());
    for (line, (at, e)) in lines.iter().zip(&events) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["v"], 2);
        assert_eq!(
            v["at"].as_str(),
            Some(at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)).as_deref()
        );
        // The same event the journal records, with the same fields.
        let back: Event = serde_json::from_str(line).unwrap();
        assert_eq!(&back, e);
        let record = serde_json::to_value(e).unwrap();
        for (k, val) in record.as_object().unwrap() {
            assert_eq!(&v[k], val, "field {k} of {line}");
        }
    }
    insta::assert_snapshot!("console_json_execute", text);
}

// ---- the timing report -------------------------------------------------------------------

const RUNBOOK: &str = r#"version: 1
name: region-failover
objectives:
  rto: 2m
defaults:
  region: eu-west-1
steps:
  - id: check-pitr
    action: dynamodb.assert_pitr
    with: { table: vault }
  - id: check-key
    action: kms.assert_replica
    with: { key: alias/k }
  - id: restore-vault
    action: dynamodb.restore_pitr
    with: { source_table: vault, target_table: vault-copy }
    needs: [check-pitr]
  - id: promote-key
    action: kms.promote
    with: { key: alias/k }
    needs: [check-key]
  - id: update-stage
    action: apigateway.update_stage
    with: { rest_api: api, variables: { table: vault-copy } }
    needs: [promote-key, restore-vault]
  - id: switch-dns
    action: route53.failover
    with: { hosted_zone: example.com., record_name: api.example.com }
    needs: [update-stage]
  - id: verify-alarm
    action: cloudwatch.wait_alarm
    with: { alarms: [api-5xx] }
    needs: [switch-dns]
finally:
  - id: delete-restored
    action: dynamodb.delete_table
    with: { table: vault-copy }
"#;

fn started_entry(mode: Mode) -> Event {
    Event::RunStarted {
        format_version: FORMAT_VERSION,
        run_id: "20261123-184501-ab12".into(),
        runbook: "runbooks/region-failover.yaml".into(),
        runbook_sha256: drillbook::runbook::load::sha256_hex(RUNBOOK.as_bytes()),
        mode,
        identity: None,
        host: "laptop".into(),
        user: "oncall".into(),
        drillbook_version: "0.1.0".into(),
        steps: vec![],
        vars_sha256: None,
        sealed_by: None,
    }
}

fn start(step: &str, attempt: u32) -> Event {
    Event::StepStarted {
        action: String::new(),
        step: step.into(),
        attempt,
    }
}

fn ok(step: &str, attempts: u32, duration_ms: u64, wait: u64) -> Event {
    Event::StepSucceeded {
        step: step.into(),
        outcome: Outcome::default(),
        attempts,
        duration_ms,
        aws_wait_ms: wait,
        dry_run: false,
    }
}

/// Two parallel branches joined by update-stage; restore-vault retried once, switch-dns failed,
/// verify-alarm skipped, a cleanup step; the run paused once for 5 minutes (crash, resume).
fn journal() -> Vec<(f64, Event)> {
    vec![
        (0.0, started_entry(Mode::Execute)),
        (0.0, start("check-pitr", 1)),
        (0.0, start("check-key", 1)),
        (1.0, ok("check-key", 1, 1000, 0)),
        (1.0, start("promote-key", 1)),
        (2.0, ok("check-pitr", 1, 2000, 0)),
        (2.0, start("restore-vault", 1)),
        (
            5.0,
            Event::StepRetrying {
                step: "restore-vault".into(),
                attempt: 1,
                error: throttled(),
                delay_ms: 2000,
            },
        ),
        (7.0, start("restore-vault", 2)),
        (11.0, ok("promote-key", 1, 10_000, 8000)),
        (62.0, ok("restore-vault", 2, 60_000, 50_000)),
        (62.0, start("update-stage", 1)),
        // the laptop dies; resumed five minutes later: update-stage was in doubt
        (
            362.0,
            Event::RunResumed {
                run_id: String::new(),
                runbook: String::new(),
                mode: None,
                steps: vec![],
                identity: None,
                host: "laptop".into(),
                in_doubt: vec!["update-stage".into()],
                forced: false,
                runbook_sha256: None,
                runbook_text: None,
                reapprove: vec![],
                vars: None,
                vars_sha256: None,
            },
        ),
        (362.0, start("update-stage", 1)),
        (368.0, ok("update-stage", 1, 6000, 0)),
        (368.0, start("switch-dns", 1)),
        (
            373.0,
            Event::StepFailed {
                step: "switch-dns".into(),
                error: ActionError::Verification {
                    message: "record api.example.com still answers ca-central-1".into(),
                    hint: "check the health check of the primary record".into(),
                },
                attempts: 1,
                duration_ms: 5000,
            },
        ),
        (
            373.0,
            Event::StepSkipped {
                step: "verify-alarm".into(),
                reason: "needs switch-dns, which failed".into(),
            },
        ),
        (373.0, start("delete-restored", 1)),
        (378.0, ok("delete-restored", 1, 5000, 3000)),
        (
            378.0,
            Event::RunFinished {
                status: RunStatus::Failed,
            },
        ),
    ]
}

/// Journal lines with a correct hash chain, as the file store writes them.
fn journal_lines(entries: Vec<(f64, Event)>) -> Vec<String> {
    let mut prev = GENESIS.to_string();
    let mut lines = Vec::new();
    for (seq, (secs, entry)) in entries.into_iter().enumerate() {
        let rec = Record {
            seq: seq as u64 + 1,
            at: at(secs),
            prev: prev.clone(),
            event: entry,
        };
        let line = serde_json::to_string(&rec).unwrap();
        prev = drillbook::runbook::load::sha256_hex(line.as_bytes());
        lines.push(line);
    }
    lines
}

fn stored_run(entries: Vec<(f64, Event)>) -> StoredRun {
    let records = journal_lines(entries)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    StoredRun {
        head_sha256: String::new(),
        run_id: "20261123-184501-ab12".into(),
        runbook_text: RUNBOOK.into(),
        runbook_path: "runbooks/region-failover.yaml".into(),
        runbook_sha256: drillbook::runbook::load::sha256_hex(RUNBOOK.as_bytes()),
        vars: Default::default(),
        records,
    }
}

fn runbook() -> drillbook::runbook::Runbook {
    drillbook::runbook::load_str(Path::new("region-failover.yaml"), RUNBOOK, &[])
        .unwrap()
        .runbook
}

#[test]
fn timing_report_text() {
    let r = RunView::build(&stored_run(journal()), &runbook());
    assert_eq!(
        r.critical_path,
        [
            "check-pitr",
            "restore-vault",
            "update-stage",
            "switch-dns",
            "delete-restored"
        ]
    );
    assert_eq!((r.times.total_ms, r.times.active_ms), (378_000, 78_000));
    let text = TimingReport(&r).render_text();
    insta::assert_snapshot!("timing_report_text", text);
}

#[test]
fn timing_report_json() {
    let r = RunView::build(&stored_run(journal()), &runbook());
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(v["verdict"], "failed");
    assert_eq!(v["objectives"][0]["verdict"], "missed");
    insta::assert_json_snapshot!("timing_report_json", v);
}

// ---- `drillbook runs` and `drillbook report` ---------------------------------------------

fn write_run(state: &Path, run_id: &str, entries: Vec<(f64, Event)>) {
    let dir = state.join("runs").join(run_id);
    std::fs::create_dir_all(&dir).unwrap();
    let mut j = journal_lines(entries).join("\n");
    j.push('\n');
    std::fs::write(dir.join("journal.jsonl"), j).unwrap();
    std::fs::write(dir.join("runbook.yaml"), RUNBOOK).unwrap();
    std::fs::write(
        dir.join("runbook.sha256"),
        drillbook::runbook::load::sha256_hex(RUNBOOK.as_bytes()),
    )
    .unwrap();
    std::fs::write(dir.join("vars.json"), "{}").unwrap();
}

fn drillbook(args: &[&str]) -> (i32, String, String) {
    let o = crate::support::cli::bin().args(args).output();
    (o.code(), o.stdout_text(), o.stderr_text())
}

fn state_with_two_runs() -> tempfile::TempDir {
    let state = tempfile::tempdir().unwrap();
    write_run(state.path(), "20261123-184501-ab12", journal());
    // An older dry run, paused on an approval.
    let mut older = vec![(-3600.0, started_entry(Mode::DryRun))];
    older.push((-3599.0, start("check-pitr", 1)));
    // A dry run's step observed only (a dry run with an executed step is a corrupt journal,
    // which `runs` lists as `corrupt`, as `report` refuses it).
    older.push((
        -3598.0,
        Event::StepSucceeded {
            step: "check-pitr".into(),
            outcome: Outcome::default(),
            attempts: 1,
            duration_ms: 1000,
            aws_wait_ms: 0,
            dry_run: true,
        },
    ));
    older.push((
        -3598.0,
        Event::RunPaused {
            awaiting: vec![],
            reason: "approval".into(),
        },
    ));
    write_run(state.path(), "20261123-174501-zz99", older);
    state
}

#[test]
fn runs_lists_newest_first_with_status() {
    let state = state_with_two_runs();
    let dir = state.path().to_str().unwrap();
    let (code, out, err) = drillbook(&["runs", "--state-dir", dir]);
    assert_eq!(code, 0, "{err}");
    insta::assert_snapshot!("cli_runs", out);

    let empty = tempfile::tempdir().unwrap();
    let (code, out, _) = drillbook(&["runs", "--state-dir", empty.path().to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(out.starts_with("no runs in "), "{out}");
}

#[test]
fn report_rebuilds_the_timing_report_of_a_past_run() {
    let state = state_with_two_runs();
    let dir = state.path().to_str().unwrap();
    let (code, out, err) = drillbook(&["report", "20261123-184501-ab12", "--state-dir", dir]);
    assert_eq!(code, 0, "{err}");
    let expected = TimingReport(&RunView::build(&stored_run(journal()), &runbook())).render_text();
    assert_eq!(out, expected);

    let (code, out, _) = drillbook(&[
        "report",
        "20261123-184501-ab12",
        "--format",
        "json",
        "--state-dir",
        dir,
    ]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["critical_path"][1], "restore-vault");
    assert_eq!(v["status"], "failed");
    assert_eq!(v["resumes"], 1);
}

#[test]
fn report_of_an_unknown_run_is_invalid_input() {
    let state = state_with_two_runs();
    let dir = state.path().to_str().unwrap();
    let (code, out, err) = drillbook(&["report", "nope", "--state-dir", dir]);
    assert_eq!(code, 2);
    assert_eq!(out, "");
    assert!(err.contains("error: run `nope` not found"), "{err}");
    assert!(
        err.contains("help: list the runs with `drillbook runs"),
        "{err}"
    );
}

#[test]
fn report_refuses_a_tampered_journal() {
    let state = state_with_two_runs();
    let path = state.path().join("runs/20261123-184501-ab12/journal.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replacen("\"attempts\":2", "\"attempts\":1", 1)).unwrap();
    let (code, out, err) = drillbook(&[
        "report",
        "20261123-184501-ab12",
        "--state-dir",
        state.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(out, "");
    assert!(err.contains("is corrupt at record 12"), "{err}");
}
