//! Readiness over time at scale, on the file store: `status` over 10,000 past runs of 50
//! runbooks (target under 0.5 s once the index exists) and `plan` with learned estimates from
//! 1,000 runs (target under 0.3 s). Also prints the cold figure (the index built from scratch).
//! `cargo bench --bench readiness`.
#![expect(clippy::print_stdout, reason = "benches print their figures")]

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::Utc;
use drillbook::actions::Outcome;
use drillbook::checkpoint::{GENESIS, encode_line, line_hash};
use drillbook::event::Event;
use drillbook::event::{Mode, RunStatus};

const STEPS: usize = 8;

fn runbook(name: &str) -> String {
    let mut s = format!("version: 1\nname: {name}\nobjectives: {{ rto: 15m }}\nsteps:\n");
    for i in 0..STEPS {
        let needs = if i == 0 {
            String::new()
        } else {
            format!(", needs: [s{}]", i - 1)
        };
        s.push_str(&format!(
            "  - {{ id: s{i}, action: wait, with: {{ duration: 1s }}, estimate: 1m{needs} }}\n"
        ));
    }
    s
}

/// `runs` executed runs spread over `books` runbooks, written as the file store lays them out.
fn generate(state: &Path, books: usize, runs: usize) {
    let texts: Vec<String> = (0..books)
        .map(|b| runbook(&format!("book-{b:02}")))
        .collect();
    let mut rng = fastrand::Rng::with_seed(11);
    let t0 = Utc::now() - chrono::Duration::days(365);
    for r in 0..runs {
        let text = &texts[r % books];
        let id = format!(
            "{}-{:04x}",
            (t0 + chrono::Duration::minutes(r as i64 * 50)).format("%Y%m%d-%H%M%S"),
            r % 65536
        );
        let dir = state.join("runs").join(&id);
        std::fs::create_dir_all(&dir).unwrap();
        let sha = drillbook::runbook::load::sha256_hex(text.as_bytes());
        std::fs::write(dir.join("runbook.yaml"), text).unwrap();
        std::fs::write(dir.join("runbook.sha256"), format!("{sha}\n")).unwrap();
        std::fs::write(dir.join("vars.json"), "{}").unwrap();
        let at = t0 + chrono::Duration::minutes(r as i64 * 50);
        let mut entries = vec![Event::RunStarted {
            format_version: 1,
            run_id: id.clone(),
            runbook: format!("/runbooks/book-{:02}.yaml", r % books),
            runbook_sha256: sha,
            mode: Mode::Execute,
            identity: None,
            host: "ci".into(),
            user: "ci".into(),
            drillbook_version: "0.1.0".into(),
            steps: (0..STEPS).map(|i| format!("s{i}")).collect(),
            vars_sha256: None,
            sealed_by: None,
        }];
        for i in 0..STEPS {
            entries.push(Event::StepStarted {
                action: String::new(),
                step: format!("s{i}"),
                attempt: 1,
            });
            entries.push(Event::StepSucceeded {
                step: format!("s{i}"),
                outcome: Outcome::default(),
                attempts: 1,
                duration_ms: rng.u64(500..5000),
                aws_wait_ms: 0,
                dry_run: false,
            });
        }
        entries.push(Event::RunFinished {
            status: RunStatus::Succeeded,
        });
        let mut prev = GENESIS.to_string();
        let mut journal = Vec::new();
        for (i, e) in entries.into_iter().enumerate() {
            let line = encode_line(
                i as u64 + 1,
                at + chrono::Duration::seconds(i as i64),
                prev,
                e,
            )
            .unwrap();
            prev = line_hash(&line);
            journal.extend_from_slice(&line);
            journal.push(b'\n');
        }
        std::fs::write(dir.join("journal.jsonl"), journal).unwrap();
    }
    for (b, text) in texts.iter().enumerate() {
        std::fs::write(state.join(format!("book-{b:02}.yaml")), text).unwrap();
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tmp = tempfile::tempdir().unwrap();

    // status: 10,000 runs of 50 runbooks.
    let state = tmp.path().join("status");
    let t = Instant::now();
    generate(&state, 50, 10_000);
    println!("generated 10,000 runs of 50 runbooks in {:?}", t.elapsed());
    let status = || {
        let t = Instant::now();
        let books: Vec<String> = (0..50)
            .map(|b| {
                drillbook::runbook::load_file(&state.join(format!("book-{b:02}.yaml")), &[])
                    .unwrap()
                    .runbook
                    .name
            })
            .collect();
        let runs = rt.block_on(drillbook::history::digests(&state)).unwrap();
        let last: usize = books
            .iter()
            .filter(|b| runs.iter().any(|r| &r.runbook == *b))
            .count();
        assert_eq!((runs.len(), last), (10_000, 50));
        t.elapsed()
    };
    let cold = status();
    let warm = median((0..5).map(|_| status()).collect());
    println!(
        "status over 10,000 runs of 50 runbooks: cold (index built) {cold:?}, warm {warm:?} (target < 500ms)"
    );

    // plan with learned estimates: 1,000 runs of one runbook.
    let state = tmp.path().join("plan");
    generate(&state, 1, 1_000);
    let book = state.join("book-00.yaml");
    let plan = || {
        let t = Instant::now();
        let rb = drillbook::runbook::load_file(&book, &[]).unwrap().runbook;
        let runs = rt.block_on(drillbook::history::digests(&state)).unwrap();
        let est =
            drillbook::history::learn(&rb, &runs, drillbook::history::Estimates::Auto).unwrap();
        for p90 in [false, true] {
            let plan =
                drillbook::plan::Plan::build(&drillbook::history::with_estimates(&rb, &est, p90))
                    .unwrap()
                    .with_max_parallel(8);
            std::hint::black_box(plan.makespan());
        }
        assert!(est.iter().all(|e| e.samples == 1_000));
        t.elapsed()
    };
    let cold = plan();
    let warm = median((0..5).map(|_| plan()).collect());
    println!(
        "plan with learned estimates from 1,000 runs: cold {cold:?}, warm {warm:?} (target < 300ms)"
    );
}
