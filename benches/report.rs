//! How long building and rendering the timing report and the run document (HTML, Markdown,
//! JUnit, JSON) take for large runs, and what the terminal sanitizer costs per console line.
//! `cargo bench --bench report` (target: a 1,000-step run under 1 s).
#![expect(clippy::print_stdout, reason = "benches print their figures")]

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use drillbook::actions::Outcome;
use drillbook::checkpoint::{FORMAT_VERSION, GENESIS, Record, StoredRun};
use drillbook::event::Event;
use drillbook::event::{Mode, RunStatus};
use drillbook::report::{RunDocument, TimingReport, html, junit, markdown, sanitize};
use drillbook::runbook::{OnFailure, RetryPolicy, Runbook, Step};

/// A random DAG of `n` steps (each needs up to three earlier ones) and the journal of a run
/// that scheduled it as soon as dependencies finished, with a resume in the middle.
fn fixture(n: usize) -> (StoredRun, Runbook) {
    let mut rng = fastrand::Rng::with_seed(7);
    let mut steps = Vec::with_capacity(n);
    let mut finish = vec![0u64; n];
    let mut events: Vec<(u64, u64, Event)> = Vec::new(); // (ms, order, entry)
    for i in 0..n {
        let needs: Vec<usize> = if i == 0 {
            vec![]
        } else {
            (0..rng.usize(0..=3)).map(|_| rng.usize(0..i)).collect()
        };
        let start = needs.iter().map(|&d| finish[d]).max().unwrap_or(0);
        let dur = rng.u64(10..5000);
        finish[i] = start + dur;
        let id = format!("step-{i:05}");
        events.push((
            start,
            2 * i as u64,
            Event::StepStarted {
                action: String::new(),
                step: id.clone(),
                attempt: 1,
            },
        ));
        events.push((
            finish[i],
            2 * i as u64 + 1,
            Event::StepSucceeded {
                step: id.clone(),
                outcome: Outcome::default(),
                attempts: 1,
                duration_ms: dur,
                aws_wait_ms: dur / 2,
                dry_run: false,
            },
        ));
        steps.push(Step {
            id,
            action: "wait".into(),
            description: None,
            needs: needs.iter().map(|d| format!("step-{d:05}")).collect(),
            region: None,
            with: Default::default(),
            timeout: Duration::from_secs(600),
            estimate: Duration::from_secs(1),
            retry: RetryPolicy::default(),
            on_failure: OnFailure::Abort,
            role: None,
            call_timeouts: Default::default(),
        });
    }
    events.sort_by_key(|e| (e.0, e.1));
    let mid = events[events.len() / 2].0;
    let t0: DateTime<Utc> = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
    let mut entries: Vec<(u64, Event)> = vec![(
        0,
        Event::RunStarted {
            format_version: FORMAT_VERSION,
            run_id: "bench".into(),
            runbook: "bench.yaml".into(),
            runbook_sha256: String::new(),
            mode: Mode::Execute,
            identity: None,
            host: String::new(),
            user: String::new(),
            drillbook_version: "0".into(),
            steps: vec![],
            vars_sha256: None,
            sealed_by: None,
        },
    )];
    let pause = 60_000;
    let mut resumed = false;
    for (ms, _, e) in events {
        if !resumed && ms > mid {
            resumed = true;
            entries.push((
                mid + pause,
                Event::RunResumed {
                    run_id: String::new(),
                    runbook: String::new(),
                    mode: None,
                    steps: vec![],
                    identity: None,
                    host: String::new(),
                    in_doubt: vec![],
                    forced: false,
                    runbook_sha256: None,
                    runbook_text: None,
                    reapprove: vec![],
                    vars: None,
                    vars_sha256: None,
                },
            ));
        }
        entries.push((if ms > mid { ms + pause } else { ms }, e));
    }
    let last = entries.last().map(|e| e.0).unwrap_or(0);
    entries.push((
        last,
        Event::RunFinished {
            status: RunStatus::Succeeded,
        },
    ));
    let records = entries
        .into_iter()
        .enumerate()
        .map(|(seq, (ms, event))| Record {
            seq: seq as u64,
            at: t0 + chrono::Duration::milliseconds(ms as i64),
            prev: GENESIS.into(),
            event,
        })
        .collect();
    let runbook = Runbook {
        name: "bench".into(),
        description: None,
        objectives: Default::default(),
        vars: Default::default(),
        accounts: Default::default(),
        allow_self_approval: false,
        approvers: Default::default(),
        secrets: Default::default(),
        steps,
        finally: vec![],
    };
    let run = StoredRun {
        head_sha256: String::new(),
        run_id: "bench".into(),
        runbook_text: String::new(),
        runbook_path: "bench.yaml".into(),
        runbook_sha256: String::new(),
        vars: Default::default(),
        records,
    };
    (run, runbook)
}

/// The terminal sanitizer on console-like lines: clean ones (the fast path, returned
/// borrowed) and ones that hold an escape sequence.
fn sanitizer() {
    let clean: Vec<String> = (0..100_000)
        .map(|i| {
            format!(
                "[00:{:02}.{}] ✓ restore-vault-{i}  dynamodb.restore_pitr  12.3s",
                i % 60,
                i % 10
            )
        })
        .collect();
    let hostile: Vec<String> = clean
        .iter()
        .map(|l| format!("{l}: table `t\u{1b}]52;c;ZWNobw==\u{7}` not found\r"))
        .collect();
    for (what, lines) in [("clean", &clean), ("with an escape sequence", &hostile)] {
        let bytes: usize = lines.iter().map(String::len).sum();
        let mut best = Duration::MAX;
        for _ in 0..5 {
            let t = Instant::now();
            let mut n = 0;
            for l in lines {
                n += sanitize::one_line(black_box(l)).len();
            }
            black_box(n);
            best = best.min(t.elapsed());
        }
        println!(
            "sanitizer, 100,000 console lines {what}: {:.1} ns per line, {:.0} MB/s (best of 5)",
            best.as_nanos() as f64 / lines.len() as f64,
            bytes as f64 / best.as_secs_f64() / 1e6
        );
    }
}

fn main() {
    sanitizer();
    for n in [1_000usize, 10_000] {
        let (run, runbook) = fixture(n);
        let rounds = 5;
        let mut best = Duration::MAX;
        let mut chars = 0;
        for _ in 0..rounds {
            let t = Instant::now();
            let report =
                drillbook::checkpoint::view::RunView::build(black_box(&run), black_box(&runbook));
            let text = TimingReport(&report).render_text();
            let json = serde_json::to_string(&report).unwrap_or_default();
            best = best.min(t.elapsed());
            chars = black_box(text.len() + json.len());
        }
        println!(
            "timing report, {n} steps ({} records): build + text + json in {:.1} ms (best of {rounds}; {chars} bytes)",
            run.records.len(),
            best.as_secs_f64() * 1000.0
        );

        let mut best_html = Duration::MAX;
        let mut best_all = Duration::MAX;
        let mut html_bytes = 0;
        for _ in 0..rounds {
            let t = Instant::now();
            let doc = RunDocument::build(black_box(&run), black_box(&runbook));
            let page = html::render(&doc);
            best_html = best_html.min(t.elapsed());
            let md = markdown::render(&doc);
            let xml = junit::render(&doc);
            let json = serde_json::to_string_pretty(&doc).unwrap_or_default();
            best_all = best_all.min(t.elapsed());
            html_bytes = black_box(page.len());
            black_box(md.len() + xml.len() + json.len());
        }
        println!(
            "run document, {n} steps: build + html in {:.1} ms ({html_bytes} bytes of HTML); \
             build + html + markdown + junit + json in {:.1} ms (best of {rounds})",
            best_html.as_secs_f64() * 1000.0,
            best_all.as_secs_f64() * 1000.0
        );
    }
}
