//! Readiness over time through the binary: `status`, `history`, learned estimates and the audit
//! bundle, on histories the tests generate (passing and failing drills, changed runbooks, aged
//! passes), on the file store and on the emulator's DynamoDB store.

use crate::support::Ran;
use std::path::{Path, PathBuf};
use std::process::Output;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};
use drillbook::actions::Outcome;
use drillbook::checkpoint::{GENESIS, encode_line, line_hash};
use drillbook::event::Event;
use drillbook::event::{Mode, RunStatus};
use drillbook::scenario::{ObjectiveVerdict, Verdicts};

use crate::support::{PRIMARY_REGION, emulator, unique_prefix};

fn runbook(name: &str, version: &str) -> String {
    format!(
        "version: 1\nname: {name}\ndescription: \"{version}\"\nobjectives: {{ rto: 15m }}\nsteps:\n  - {{ id: check, action: wait, with: {{ duration: 0s }}, estimate: 30s }}\n  - {{ id: switch, action: wait, needs: [check], with: {{ duration: 0s }}, estimate: 2m }}\n"
    )
}

/// One generated run: its id, runbook text and journal lines (`at` in the past).
struct Gen {
    id: String,
    text: String,
    path: String,
    lines: Vec<Vec<u8>>,
}

/// A drill of `text` that started `days_ago` and ended with `verdict` (`None`: a plain
/// executed run), its steps taking `check_s` and 60 s.
fn generated(
    n: u32,
    text: &str,
    path: &Path,
    days_ago: i64,
    verdict: Option<bool>,
    check_s: i64,
) -> Gen {
    let t0: DateTime<Utc> = Utc::now() - Duration::days(days_ago);
    let id = format!("{}-{n:04x}", t0.format("%Y%m%d-%H%M%S"));
    let sha = drillbook::runbook::load::sha256_hex(text.as_bytes());
    let ok = |step: &str, ms: u64| Event::StepSucceeded {
        step: step.into(),
        outcome: Outcome::default(),
        attempts: 1,
        duration_ms: ms,
        aws_wait_ms: 0,
        dry_run: false,
    };
    let start = |step: &str| Event::StepStarted {
        action: String::new(),
        step: step.into(),
        attempt: 1,
    };
    let mut entries: Vec<(i64, Event)> = vec![(
        0,
        Event::RunStarted {
            format_version: 1,
            run_id: id.clone(),
            runbook: path.display().to_string(),
            runbook_sha256: sha,
            mode: Mode::Execute,
            identity: None,
            host: "ci".into(),
            user: "ci".into(),
            drillbook_version: "0.1.0".into(),
            steps: vec!["check".into(), "switch".into()],
            vars_sha256: None,
            sealed_by: None,
        },
    )];
    if verdict.is_some() {
        entries.push((
            0,
            Event::DrillStarted {
                scenario: "outage".into(),
                scenario_path: "/s/outage.yaml".into(),
                scenario_sha256: "feed".into(),
                root: None,
                impaired: vec![],
                injected_at: None,
                injections: vec![],
            },
        ));
    }
    entries.extend([
        (0, start("check")),
        (check_s, ok("check", check_s as u64 * 1000)),
        (check_s, start("switch")),
        (check_s + 60, ok("switch", 60_000)),
    ]);
    if let Some(passed) = verdict {
        entries.push((
            check_s + 60,
            Event::DrillJudged {
                scenario: "outage".into(),
                scenario_sha256: "feed".into(),
                impaired: vec![],
                refused_calls: vec![],
                verdicts: Verdicts {
                    expectations: vec![],
                    objectives: vec![ObjectiveVerdict {
                        objective: "rto".into(),
                        target: std::time::Duration::from_secs(900),
                        measured: Some(std::time::Duration::from_secs((check_s + 60) as u64)),
                        met: passed,
                        how: String::new(),
                    }],
                },
            },
        ));
    }
    entries.push((
        check_s + 60,
        Event::RunFinished {
            status: RunStatus::Succeeded,
        },
    ));
    let mut prev = GENESIS.to_string();
    let lines = entries
        .into_iter()
        .enumerate()
        .map(|(i, (s, entry))| {
            let line =
                encode_line(i as u64 + 1, t0 + Duration::seconds(s), prev.clone(), entry).unwrap();
            prev = line_hash(&line);
            line
        })
        .collect();
    Gen {
        id,
        text: text.to_string(),
        path: path.display().to_string(),
        lines,
    }
}

fn write_file_store(state: &Path, g: &Gen) {
    let dir = state.join("runs").join(&g.id);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("runbook.yaml"), &g.text).unwrap();
    std::fs::write(
        dir.join("runbook.sha256"),
        format!(
            "{}\n",
            drillbook::runbook::load::sha256_hex(g.text.as_bytes())
        ),
    )
    .unwrap();
    std::fs::write(dir.join("vars.json"), "{}").unwrap();
    let mut journal = Vec::new();
    for l in &g.lines {
        journal.extend_from_slice(l);
        journal.push(b'\n');
    }
    std::fs::write(dir.join("journal.jsonl"), journal).unwrap();
}

async fn write_dynamodb(client: &aws_sdk_dynamodb::Client, table: &str, g: &Gen) {
    let s = |v: &str| AttributeValue::S(v.to_string());
    client
        .put_item()
        .table_name(table)
        .item("run_id", s(&g.id))
        .item("seq", AttributeValue::N("0".into()))
        .item("kind", s("run"))
        .item("runbook_text", s(&g.text))
        .item(
            "runbook_sha256",
            s(&drillbook::runbook::load::sha256_hex(g.text.as_bytes())),
        )
        .item("runbook_path", s(&g.path))
        .item("vars_json", s("{}"))
        .send()
        .await
        .unwrap();
    for (i, l) in g.lines.iter().enumerate() {
        client
            .put_item()
            .table_name(table)
            .item("run_id", s(&g.id))
            .item("seq", AttributeValue::N((i + 1).to_string()))
            .item("line", s(std::str::from_utf8(l).unwrap()))
            .send()
            .await
            .unwrap();
    }
}

/// The runbooks now (beta and gamma changed since), and their past runs.
fn history(dir: &Path) -> (Vec<PathBuf>, Vec<Gen>) {
    let file = |name: &str, version: &str| {
        let p = dir.join(format!("{name}.yaml"));
        std::fs::write(&p, runbook(name, version)).unwrap();
        p
    };
    let alpha = file("alpha", "v1");
    let beta = file("beta", "v1");
    let gamma = file("gamma", "v2");
    let delta = file("delta", "v1");
    let mut n = 0;
    let mut run = |p: &Path, name: &str, version: &str, days: i64, verdict: Option<bool>| {
        n += 1;
        generated(n, &runbook(name, version), p, days, verdict, 30)
    };
    let runs = vec![
        run(&alpha, "alpha", "v1", 10, Some(true)),
        run(&alpha, "alpha", "v1", 2, Some(false)),
        run(&alpha, "alpha", "v1", 1, None),
        run(&beta, "beta", "v1", 100, Some(true)),
        run(&gamma, "gamma", "v1", 5, Some(true)),
        run(&delta, "delta", "v1", 3, Some(false)),
    ];
    (vec![alpha, beta, gamma, delta], runs)
}

fn bin(dir: &Path, args: &[&str]) -> Output {
    crate::support::cli::bin()
        .args(args)
        .current_dir(dir)
        .emulator()
        .identity("arn:aws:iam::123456789012:user/alice")
        .output()
}

/// `status` over the generated history, wherever it is stored (`location`: extra arguments).
fn check_status(dir: &Path, files: &[PathBuf], location: &[&str]) {
    let f: Vec<&str> = files.iter().map(|p| p.to_str().unwrap()).collect();
    let mut args = vec!["status", "--format", "json", "--max-age", "90d"];
    args.extend(location);
    args.extend(&f);
    let o = bin(dir, &args);
    o.assert_exit(1);
    let doc: serde_json::Value = serde_json::from_str(&o.stdout_text()).unwrap();
    let state = |i: usize| doc["runbooks"][i]["state"].as_str().unwrap().to_string();
    assert_eq!(
        (0..4).map(state).collect::<Vec<_>>(),
        ["ok", "stale", "changed", "never"],
        "{doc}"
    );
    let alpha = &doc["runbooks"][0];
    assert_eq!(alpha["runbook"], "alpha");
    assert_eq!(alpha["last_pass"]["scenario"], "outage");
    assert_eq!(alpha["last_pass"]["recovery_ms"], 90_000);
    assert_eq!(alpha["last_pass"]["rto_ms"], 900_000);
    assert!(
        alpha["last_run"]["started_at"].as_str().unwrap()
            > alpha["last_pass"]["started_at"].as_str().unwrap(),
        "the last executed run is the newer plain one: {alpha}"
    );
    for name in ["beta", "gamma", "delta"] {
        assert!(
            o.stderr_text().contains(&format!("not ready: {name}")),
            "{}",
            o.stderr_text()
        );
    }
    // Only alpha, in text: ready, exit 0.
    let mut args = vec!["status", "--max-age", "30d"];
    args.extend(location);
    args.push(f[0]);
    let o = bin(dir, &args);
    o.assert_exit(0);
    let line = o.stdout_text().lines().nth(1).unwrap().to_string();
    assert!(line.contains(" alpha ") && line.contains(" OK "), "{line}");
    assert!(
        line.contains("90s/900s"),
        "achieved RTO against the objective: {line}"
    );
}

#[test]
fn status_on_the_file_store_reads_the_index_and_gates_on_max_age() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (files, runs) = history(d);
    let state = d.join(".drillbook");
    for g in &runs {
        write_file_store(&state, g);
    }
    check_status(d, &files, &[]);
    let index = state.join(drillbook::history::INDEX_FILE);
    let lines = std::fs::read_to_string(&index).unwrap().lines().count();
    assert_eq!(lines, runs.len(), "one index line per run");

    // A new passing drill of beta: read from its journal, added to the index.
    let fresh = generated(99, &runbook("beta", "v1"), &files[1], 1, Some(true), 30);
    write_file_store(&state, &fresh);
    std::fs::write(&index, "not json\n").unwrap();
    let o = bin(
        d,
        &["status", "--max-age", "90d", files[1].to_str().unwrap()],
    );
    o.assert_exit(0);
    assert_eq!(
        std::fs::read_to_string(&index).unwrap().lines().count(),
        runs.len() + 1,
        "a damaged index is rebuilt"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn status_on_the_dynamodb_store() {
    let prefix = unique_prefix("readiness_ddb");
    let url = format!("dynamodb://{prefix}state?region={PRIMARY_REGION}");
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let o = bin(d, &["state", "init", "--state", &url]);
    o.assert_exit(0);
    let (files, runs) = history(d);
    let client = aws_sdk_dynamodb::Client::new(&emulator().sdk_config(PRIMARY_REGION).await);
    for g in &runs {
        write_dynamodb(&client, &format!("{prefix}state"), g).await;
    }
    let dir = d.to_path_buf();
    let (f, u) = (files.clone(), url.clone());
    tokio::task::spawn_blocking(move || check_status(&dir, &f, &["--state", &u]))
        .await
        .unwrap();
    // Every run here is finished: each got a summary item, and the next read uses them.
    let summaries = client
        .scan()
        .table_name(format!("{prefix}state"))
        .filter_expression("#k = :s")
        .expression_attribute_names("#k", "kind")
        .expression_attribute_values(":s", AttributeValue::S("summary".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(summaries.count() as usize, runs.len());
    let dir = d.to_path_buf();
    tokio::task::spawn_blocking(move || {
        check_status(&dir, &files, &["--state", &url]);
        let o = bin(&dir, &["runs", "--state", &url]);
        o.assert_exit(0);
        assert_eq!(
            o.stdout_text().lines().count(),
            7,
            "a header and the six runs, no summary item:\n{}",
            o.stdout_text()
        );
        // history, learned estimates and the bundle read the same table.
        let o = bin(
            &dir,
            &["history", "alpha", "--format", "json", "--state", &url],
        );
        let doc: serde_json::Value = serde_json::from_str(&o.stdout_text()).unwrap();
        assert_eq!(doc["runs"].as_array().unwrap().len(), 3, "{doc}");
        let alpha = dir.join("alpha.yaml");
        let o = bin(
            &dir,
            &[
                "plan",
                alpha.to_str().unwrap(),
                "--format",
                "json",
                "--state",
                &url,
            ],
        );
        let doc: serde_json::Value = serde_json::from_str(&o.stdout_text()).unwrap();
        assert_eq!(doc["estimates"]["steps"][1]["samples"], 3, "{doc}");
        assert_eq!(doc["estimates"]["steps"][1]["p50"], 60_000, "{doc}");
        let o = bin(
            &dir,
            &[
                "evidence",
                "export",
                "--since",
                "2000-01-01",
                "--out",
                "bundle",
                "--state",
                &url,
            ],
        );
        o.assert_exit(0);
        let index: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("bundle/index.json")).unwrap())
                .unwrap();
        let runs = index["runs"].as_array().unwrap();
        assert_eq!(runs.len(), 6);
        assert!(
            runs.iter().all(|r| r["evidence"] == "missing"),
            "no evidence on this machine"
        );
        assert!(
            o.stderr_text().contains("6 runs have no sealed evidence"),
            "{}",
            o.stderr_text()
        );
    })
    .await
    .unwrap();
}

#[test]
fn history_lists_every_run_and_its_page_renders_in_headless_chromium() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (files, runs) = history(d);
    let state = d.join(".drillbook");
    for g in &runs {
        write_file_store(&state, g);
    }
    let o = bin(d, &["history", files[0].to_str().unwrap()]);
    o.assert_exit(0);
    let text = o.stdout_text();
    assert_eq!(
        text.lines().count(),
        4,
        "a header and alpha's three runs:\n{text}"
    );
    assert!(text.contains("passed") && text.contains("failed"), "{text}");
    assert!(
        text.contains("switch 1m, check 30s"),
        "slowest steps first:\n{text}"
    );

    let page = d.join("alpha.html");
    let o = bin(
        d,
        &[
            "history",
            "alpha",
            "--format",
            "html",
            "--out",
            page.to_str().unwrap(),
        ],
    );
    o.assert_exit(0);
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(!html.contains("<script"), "no JavaScript");
    assert!(
        !html.contains("http://") || html.matches("http://").count() == 1,
        "only the SVG namespace"
    );
    let Some(chromium) = crate::reports::chromium() else {
        println!("SKIPPED: chromium not installed (scripts/test installs it)");
        return;
    };
    let dom = crate::reports::run_chromium(&chromium, &d.join("p1"), &["--dump-dom".into()], &page);
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert_eq!(dom.matches("class=\"drill passed\"").count(), 1, "{dom}");
    assert_eq!(dom.matches("class=\"drill failed\"").count(), 1, "{dom}");
    assert!(dom.contains("data-rto-ms=\"900000\""), "the objective line");
    assert_eq!(dom.matches("<tr class=\"run\"").count(), 3);
    let png = d.join("history.png");
    let shot = crate::reports::run_chromium(
        &chromium,
        &d.join("p2"),
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1000,800".into(),
        ],
        &page,
    );
    assert!(
        shot.status.success(),
        "{}",
        String::from_utf8_lossy(&shot.stderr)
    );
    let bytes = std::fs::read(&png).unwrap();
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (1000, 800));
    let distinct: std::collections::HashSet<&[u8]> = buf.chunks(4).take(800_000).collect();
    assert!(distinct.len() > 10, "a rendered page, not a blank one");
}

/// Executed runs teach the plan; dry runs do not; `declared` ignores them.
#[test]
fn plan_learns_each_steps_duration_from_executed_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let rb = d.join("quick.yaml");
    std::fs::write(
        &rb,
        "version: 1\nname: quick\nobjectives: { rto: 1m }\nsteps:\n  - { id: a, action: wait, with: { duration: 300ms }, estimate: 10m }\n",
    )
    .unwrap();
    let rb = rb.to_str().unwrap();
    let plan = |extra: &[&str]| {
        let mut args = vec!["plan", rb, "--format", "json"];
        args.extend(extra);
        let o = bin(d, &args);
        (
            o.status.code(),
            serde_json::from_str::<serde_json::Value>(&o.stdout_text()).ok(),
            o.stderr_text(),
        )
    };
    for i in 0..5 {
        let (code, doc, _) = plan(&[]);
        assert_eq!(code, Some(0));
        assert_eq!(doc.unwrap()["estimates"]["steps"][0]["samples"], i);
        let o = bin(d, &["run", rb, "--execute", "--yes"]);
        o.assert_exit(0);
    }
    let o = bin(d, &["run", rb]);
    assert_eq!(o.status.code(), Some(0), "a dry run: {}", o.stderr_text());
    let (code, doc, _) = plan(&[]);
    assert_eq!(code, Some(0));
    let doc = doc.unwrap();
    let a = &doc["estimates"]["steps"][0];
    assert_eq!(a["samples"], 5, "the dry run does not count: {a}");
    assert_eq!(a["source"], "learned");
    let p50 = a["p50"].as_u64().unwrap();
    assert!(
        (200..2000).contains(&p50),
        "measured, not the declared 10m: {a}"
    );
    assert_eq!(doc["makespan_ms"], p50);
    assert_eq!(doc["estimates"]["forecast"]["rto_within_at_p90"], true);
    let (_, declared, _) = plan(&["--estimates", "declared"]);
    assert_eq!(declared.unwrap()["makespan_ms"], 600_000);
    let o = bin(d, &["plan", rb]);
    assert!(
        o.stdout_text().contains("learned (5)"),
        "{}",
        o.stdout_text()
    );
    assert!(
        o.stdout_text().contains("Forecast makespan: p50"),
        "{}",
        o.stdout_text()
    );
    let other = tmp.path().join("elsewhere");
    let (code, _, stderr) = plan(&[
        "--estimates",
        "learned",
        "--state-dir",
        other.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("a (0 samples)"), "{stderr}");
}

/// An auditor's bundle: every run since a date, sealed, with its index; a change anywhere in
/// it is found.
#[test]
fn evidence_export_bundles_every_run_since_a_date_and_verifies_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let rb = d.join("quick.yaml");
    std::fs::write(
        &rb,
        "version: 1\nname: quick\nsteps:\n  - { id: a, action: wait, with: { duration: 0s } }\n",
    )
    .unwrap();
    for _ in 0..2 {
        let o = bin(d, &["run", rb.to_str().unwrap(), "--execute", "--yes"]);
        o.assert_exit(0);
    }
    let since = (Utc::now() - Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    let o = bin(
        d,
        &["evidence", "export", "--since", &since, "--out", "bundle"],
    );
    o.assert_exit(0);
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("bundle/index.json")).unwrap())
            .unwrap();
    let runs = index["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert!(
        runs.iter()
            .all(|r| r["evidence"] == "intact, unsigned" && r["runbook"] == "quick")
    );
    assert!(
        std::fs::read_to_string(d.join("bundle/index.html"))
            .unwrap()
            .contains("quick")
    );
    let o = bin(d, &["verify-evidence", "bundle"]);
    assert_eq!(o.status.code(), Some(0), "{}", o.stdout_text());
    assert!(
        o.stdout_text().contains("bundle: 2 runs' evidence intact"),
        "{}",
        o.stdout_text()
    );

    let tomorrow = (Utc::now() + Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    let o = bin(
        d,
        &["evidence", "export", "--since", &tomorrow, "--out", "empty"],
    );
    o.assert_exit(0);
    assert!(
        o.stdout_text().contains("exported 0 runs"),
        "{}",
        o.stdout_text()
    );

    let id = runs[0]["run_id"].as_str().unwrap();
    let journal = d.join("bundle").join(id).join("journal.jsonl");
    let mut bytes = std::fs::read(&journal).unwrap();
    bytes.push(b'\n');
    std::fs::write(&journal, bytes).unwrap();
    let o = bin(d, &["verify-evidence", "bundle"]);
    assert_eq!(o.status.code(), Some(1), "{}", o.stdout_text());
    assert!(o.stdout_text().contains("TAMPERED"), "{}", o.stdout_text());
}
