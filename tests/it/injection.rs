//! Output injection, through the binary: text from a runbook, a journal, an evidence directory
//! or an AWS answer cannot drive the terminal. Control characters (ESC, CR, BEL, C1) are shown
//! as escapes (`\x1b`, `\r`, `\u{9b}`), one-line fields stay on their line, JSON stays JSON,
//! and a secret variable's value is printed by no command.

use crate::support::Ran;
use std::path::{Path, PathBuf};
use std::process::Output;

use drillbook::actions::{ActionError, AwsFailure, Outcome};
use drillbook::checkpoint::file::{FileStore, encode_line, line_hash, verify_journal};
use drillbook::checkpoint::{FORMAT_VERSION, GENESIS};
use drillbook::event::{Event, Mode, RunStatus};

/// An OSC 52 clipboard write, an 8-bit CSI (clear the screen) and a carriage return that
/// prints a forged verdict over the line.
const OSC52: &str = "\u{1b}]52;c;ZWNobyBwd25lZA==\u{7}";
const OSC52_SHOWN: &str = r"\x1b]52;c;ZWNobyBwd25lZA==\x07";
const FORGED: &str = "\r\u{1b}[32mAPPROVED\u{1b}[0m\u{9b}2J";
const FORGED_SHOWN: &str = r"\r\x1b[32mAPPROVED\x1b[0m\u{9b}2J";

/// The control characters in `s` (a newline is a line break, not a control here).
fn controls(s: &str) -> Vec<char> {
    s.chars().filter(|&c| c.is_control() && c != '\n').collect()
}

#[track_caller]
fn assert_clean(what: &str, s: &str) {
    let found = controls(s);
    assert!(found.is_empty(), "{what}: raw {found:?} in\n{s:?}");
}

/// No line starts with `forged`: an injected line break did not make one.
#[track_caller]
fn assert_no_line(what: &str, s: &str, forged: &str) {
    assert!(
        !s.lines().any(|l| l.trim_start().starts_with(forged)),
        "{what}: a line of its own `{forged}` in\n{s}"
    );
}

fn bin(dir: &Path, args: &[&str]) -> Output {
    crate::support::cli::bin()
        .args(args)
        .current_dir(dir)
        .output()
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn plan_shows_the_runbooks_words_escaped_and_its_name_on_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // YAML escapes: \e is ESC, \a BEL, \u009b the 8-bit CSI, \u009d the 8-bit OSC.
    std::fs::write(
        d.join("rb.yaml"),
        r#"version: 1
name: "evil\e]52;c;ZWNobyBwd25lZA==\a\r\e[32mAPPROVED\e[0m\u009b2J\nRTO: 1s -- OK"
description: "first line\e[2J\nsecond line\u009d0;title\a"
steps:
  - id: w
    action: wait
    description: "step\e[31m\r\u009b"
    with: { duration: 1s }
"#,
    )
    .unwrap();
    let o = bin(d, &["plan", "rb.yaml"]);
    o.assert_exit(0);
    let text = out(&o);
    assert_clean("plan", &text);
    let first = text.lines().next().unwrap();
    assert_eq!(
        first,
        format!(r"Plan: evil{OSC52_SHOWN}\r\x1b[32mAPPROVED\x1b[0m\u{{9b}}2J\nRTO: 1s -- OK")
    );
    // The only RTO line is the plan's own.
    assert_no_line("plan", &text, "RTO: 1s");
    assert!(text.contains("RTO: not set"), "{text}");
    // A description may have lines: they stay, their controls do not.
    assert!(
        text.contains("  first line\\x1b[2J\nsecond line\\u{9d}0;title\\x07\n"),
        "{text}"
    );

    for format in ["dot", "mermaid"] {
        let o = bin(d, &["plan", "rb.yaml", "--format", format]);
        o.assert_exit(0);
        assert_clean(format, &out(&o));
    }
    // JSON says the same name, with every control escaped the JSON way.
    let o = bin(d, &["plan", "rb.yaml", "--format", "json"]);
    o.assert_exit(0);
    let json = out(&o);
    assert_clean("plan --format json", &json);
    assert!(json.contains(r"\u009b2J"), "{json}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        v["runbook"],
        format!("evil{OSC52}{FORGED}\nRTO: 1s -- OK").as_str()
    );
}

#[test]
fn a_runbook_path_and_name_with_controls_are_escaped_in_the_run_runs_and_timing_txt() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let file = format!("rb{OSC52}\n20991231-000000-fake  ok.yaml");
    std::fs::write(
        d.join(&file),
        "version: 1\nname: \"drill\\e]0;pwned\\a\\n[00:09.9] run x succeeded\"\nsteps:\n  - id: w\n    action: wait\n    with: { duration: 0s }\n",
    )
    .unwrap();
    let o = bin(d, &["run", &file, "--state-dir", "state"]);
    o.assert_exit(0);
    assert_clean("run (stdout)", &out(&o));
    assert_clean("run (stderr)", &err(&o));
    assert_no_line("run", &err(&o), "[00:09.9] run x succeeded");
    assert_no_line("run", &out(&o), "[00:09.9] run x succeeded");
    assert!(err(&o).contains(OSC52_SHOWN), "{}", err(&o));

    let o = bin(d, &["runs", "--state-dir", "state"]);
    o.assert_exit(0);
    let listing = out(&o);
    assert_clean("runs", &listing);
    assert_eq!(
        listing.lines().count(),
        2,
        "a header and one run:\n{listing}"
    );
    assert!(
        listing.contains(&format!(r"rb{OSC52_SHOWN}\n20991231-000000-fake  ok.yaml")),
        "{listing}"
    );
    assert_no_line("runs", &listing, "20991231-000000-fake");

    let reports: Vec<PathBuf> = std::fs::read_dir(d.join("state/reports"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(reports.len(), 1);
    let timing = std::fs::read_to_string(reports[0].join("timing.txt")).unwrap();
    assert_clean("timing.txt", &timing);
    assert!(
        timing
            .lines()
            .next()
            .unwrap()
            .ends_with(r"(drill\x1b]0;pwned\x07\n[00:09.9] run x succeeded)"),
        "{timing}"
    );
}

#[test]
fn errors_show_the_control_characters_they_carry() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // A file that is not there, and one that is there and invalid: the name is in the error.
    let missing = format!("gone{FORGED}.yaml");
    let invalid = format!("bad{OSC52}.yaml");
    std::fs::write(d.join(&invalid), "version: 1\nname: x\nsteps: []\n").unwrap();
    for args in [
        vec!["validate", missing.as_str()],
        vec!["validate", invalid.as_str()],
        vec!["plan", missing.as_str()],
        vec!["plan", invalid.as_str()],
        vec!["iam-policy", invalid.as_str()],
        vec!["run", invalid.as_str(), "--state-dir", "state"],
    ] {
        let o = bin(d, &args);
        o.assert_exit(2);
        let e = err(&o);
        assert_clean(&args.join(" "), &e);
        assert_clean(&args.join(" "), &out(&o));
        assert!(
            e.contains(FORGED_SHOWN) || e.contains(OSC52_SHOWN),
            "{args:?}: the name is shown, escaped:\n{e}"
        );
    }
    // A run id is echoed in its error.
    let id = format!("x{FORGED}");
    for cmd in ["report", "resume"] {
        let o = bin(d, &[cmd, &id, "--state-dir", "state"]);
        assert_ne!(o.status.code(), Some(0));
        assert_clean(cmd, &err(&o));
        assert_clean(cmd, &out(&o));
    }
}

/// Appends `event` to a run's journal as its writer would (next `seq`, `prev` the hash of the
/// last line): what anyone who can write the state directory can do.
fn append(journal: &Path, run_id: &str, event: Event) {
    let mut bytes = std::fs::read(journal).unwrap();
    let (records, head) = verify_journal(run_id, &bytes).unwrap();
    let line = encode_line(records.len() as u64 + 1, chrono::Utc::now(), head, event).unwrap();
    bytes.extend_from_slice(&line);
    bytes.push(b'\n');
    std::fs::write(journal, bytes).unwrap();
}

#[test]
fn a_forged_approver_and_an_approval_message_cannot_print_a_verdict() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // The runbook trusts one approver, by ARN and key: an approval by anyone else is refused,
    // naming its approver.
    let key = d.join("approver.key");
    bin(d, &["evidence", "keygen", key.to_str().unwrap()]).assert_exit(0);
    let public = std::fs::read_to_string(drillbook::evidence::public_key_path(&key)).unwrap();
    std::fs::write(
        d.join("gate.yaml"),
        format!(
            "version: 1\nname: gate\napprovers:\n  principals: [\"arn:aws:iam::111122223333:user/carol\"]\n  keys:\n    - key: \"ed25519:{}\"\n      principal: \"arn:aws:iam::111122223333:user/carol\"\nsteps:\n  - id: gate\n    action: approval\n    with: {{ message: \"check dashboards\\n[00:00.1] run r succeeded\\r\\e[32mAPPROVED\" }}\n  - id: b\n    action: wait\n    needs: [gate]\n    with: {{ duration: 0s }}\n",
            public.trim()
        ),
    )
    .unwrap();
    let alice = "arn:aws:iam::111122223333:user/alice";
    let run = |args: &[&str]| {
        crate::support::cli::bin()
            .args(args)
            .args(["--state-dir", "state"])
            .current_dir(d)
            .env("DRILLBOOK_IDENTITY_ARN", alice)
            .output()
    };
    let o = run(&["run", "gate.yaml", "--execute", "--yes"]);
    o.assert_exit(3);
    assert_clean("paused run", &err(&o));
    assert_no_line("paused run", &err(&o), "[00:00.1] run r succeeded");
    assert!(err(&o).contains(r"check dashboards\n[00:00.1] run r succeeded\r\x1b[32mAPPROVED"));

    let store = FileStore::new(d.join("state"));
    let id = std::fs::read_dir(store.runs_dir())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .file_name()
        .into_string()
        .unwrap();
    append(
        &store.journal_path(&id),
        &id,
        Event::ApprovalGranted {
            step: "gate".into(),
            approver: drillbook::actions::aws::Identity {
                account: "111122223333".into(),
                arn: format!("arn:aws:iam::111122223333:user/bob{FORGED}\nrun {id} succeeded"),
            },
            comment: format!("ok{OSC52}"),
            signed: None,
        },
    );
    let o = run(&["resume", &id, "--yes"]);
    assert_ne!(o.status.code(), Some(0), "{}", err(&o));
    assert_clean("resume (stderr)", &err(&o));
    assert_clean("resume (stdout)", &out(&o));
    assert!(err(&o).contains(FORGED_SHOWN), "{}", err(&o));
    assert_no_line("resume", &err(&o), &format!("run {id} succeeded"));
}

/// A run whose journal holds what a hostile AWS answer or a writer of the state directory put
/// there: an OSC 52 in a step's outcome, a forged verdict in an error.
fn hostile_run(state: &Path) -> String {
    let id = "20261201-101500-ab12".to_string();
    let text = "version: 1\nname: hostile\nsteps:\n  - id: a\n    action: wait\n    with: { duration: 0s }\n  - id: b\n    action: wait\n    needs: [a]\n    with: { duration: 0s }\n";
    let dir = state.join("runs").join(&id);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("runbook.yaml"), text).unwrap();
    std::fs::write(
        dir.join("runbook.sha256"),
        format!(
            "{}\n",
            drillbook::runbook::load::sha256_hex(text.as_bytes())
        ),
    )
    .unwrap();
    std::fs::write(dir.join("vars.json"), "{}").unwrap();
    let t0 = chrono::DateTime::parse_from_rfc3339("2026-12-01T10:15:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let events = vec![
        Event::RunStarted {
            format_version: FORMAT_VERSION,
            run_id: id.clone(),
            runbook: "rb.yaml".into(),
            runbook_sha256: drillbook::runbook::load::sha256_hex(text.as_bytes()),
            mode: Mode::Execute,
            identity: None,
            host: "laptop".into(),
            user: "oncall".into(),
            drillbook_version: "0.1.0".into(),
            steps: vec!["a".into(), "b".into()],
            vars_sha256: None,
            sealed_by: None,
        },
        Event::StepStarted {
            step: "a".into(),
            action: "wait".into(),
            attempt: 1,
        },
        Event::StepSucceeded {
            step: "a".into(),
            outcome: Outcome {
                summary: format!("restored table `vault{OSC52}`\nrun {id} succeeded"),
                changes: vec![format!("created `vault{OSC52}`")],
                outputs: Default::default(),
            },
            attempts: 1,
            duration_ms: 1000,
            aws_wait_ms: 0,
            dry_run: false,
        },
        Event::StepStarted {
            step: "b".into(),
            action: "wait".into(),
            attempt: 1,
        },
        Event::StepFailed {
            step: "b".into(),
            error: ActionError::Aws(Box::new(AwsFailure {
                service: "dynamodb".into(),
                operation: "DescribeTable".into(),
                region: "eu-west-1".into(),
                code: "ResourceNotFoundException".into(),
                message: format!("table vault{OSC52} not found{FORGED}\nrun {id} succeeded"),
                retryable: false,
                request_id: Some(format!("req{FORGED}")),
                hint: format!("check the table{OSC52}"),
            })),
            attempts: 1,
            duration_ms: 500,
        },
        Event::RunFinished {
            status: RunStatus::Failed,
        },
    ];
    let mut prev = GENESIS.to_string();
    let mut journal = Vec::new();
    for (i, e) in events.into_iter().enumerate() {
        let at = t0 + chrono::Duration::seconds(i as i64);
        let line = encode_line(i as u64 + 1, at, prev, e).unwrap();
        prev = line_hash(&line);
        journal.extend_from_slice(&line);
        journal.push(b'\n');
    }
    std::fs::write(dir.join("journal.jsonl"), journal).unwrap();
    id
}

#[test]
fn report_shows_what_the_journal_holds_escaped_in_every_format() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let id = hostile_run(&d.join("state"));
    let report = |extra: &[&str]| {
        let mut args = vec!["report", id.as_str(), "--state-dir", "state"];
        args.extend(extra);
        let o = bin(d, &args);
        o.assert_exit(0);
        out(&o)
    };

    let text = report(&[]);
    assert_clean("report", &text);
    assert!(
        text.contains(OSC52_SHOWN) && text.contains(FORGED_SHOWN),
        "{text}"
    );
    assert_no_line("report", &text, &format!("run {id} succeeded"));

    let md = report(&["--format", "markdown"]);
    assert_clean("report --format markdown", &md);
    assert_no_line(
        "report --format markdown",
        &md,
        &format!("run {id} succeeded"),
    );
    // The outcome's summary: the table name a code span, shown exactly; controls escaped.
    assert!(
        md.contains(&format!(
            "- **Result:** restored table `vault{OSC52_SHOWN}`<br>run {id} succeeded"
        )),
        "{md}"
    );

    let json = report(&["--format", "json"]);
    assert_clean("report --format json", &json);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["run_id"], id.as_str());

    for format in ["junit", "text"] {
        assert_clean(format, &report(&["--format", format]));
    }
    let o = bin(
        d,
        &[
            "report",
            &id,
            "--state-dir",
            "state",
            "--output",
            "out",
            "--format",
            "text",
        ],
    );
    o.assert_exit(0);
    assert_clean(
        "report.txt",
        &std::fs::read_to_string(d.join("out/report.txt")).unwrap(),
    );
}

#[test]
fn iam_policy_never_prints_a_secret_variables_value() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let secret = "tok-Zq8xV1b-4f2e9a";
    std::fs::write(
        d.join("rb.yaml"),
        "version: 1\nname: tokens\nvars:\n  api_token: { secret: true, env: DR_API_TOKEN }\ndefaults: { region: eu-west-1 }\nsteps:\n  - id: put\n    action: dynamodb.put_item\n    with:\n      table: \"t-{{ vars.api_token }}\"\n      item: { pk: a }\n",
    )
    .unwrap();
    let o = crate::support::cli::bin()
        .args(["iam-policy", "rb.yaml"])
        .current_dir(d)
        .env("DR_API_TOKEN", secret)
        .output();
    o.assert_exit(0);
    let policy = out(&o);
    assert!(
        !policy.contains(secret) && !err(&o).contains(secret),
        "{policy}"
    );
    assert!(
        policy.contains("table/t-[secret:api_token]"),
        "the resource is named with the marker:\n{policy}"
    );
    let _: serde_json::Value = serde_json::from_str(&policy).unwrap();
}
