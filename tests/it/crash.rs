//! Crash matrix: the region-failover runbook killed with SIGKILL at every step boundary and in
//! the middle of every mutating step (the `DRILLBOOK_TEST_CRASH_AT` hook, docs/journal.md),
//! then resumed by a new process. Each time the run finishes, the system ends failed over with
//! every mutation made exactly once (the emulator's request recording), every step succeeded
//! once in the journal, and the report is the uninterrupted run's apart from timings.

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;

use drillbook::checkpoint::Entry;
use drillbook::engine::CRASH_ENV;
use drillbook::report::RunDocument;
use futures::StreamExt;
use serde_json::{Value, json};

use crate::proof::{
    FailoverRun, assert_failed_over_once, code, drillbook_at, failover_run, failover_runbook,
    journal, text,
};
use crate::support::{Seeded, emulator};

/// `start`, `after:STEP` for every step, and `before-apply:` / `after-apply:` for every step
/// whose action mutates.
fn crash_points() -> Vec<String> {
    let rb = failover_runbook();
    let loaded = drillbook::runbook::load::load_file(Path::new(&rb), &[]).unwrap();
    let mut points = vec!["start".to_string()];
    for s in &loaded.runbook.steps {
        points.push(format!("after:{}", s.id));
        if drillbook::actions::catalog::lookup(&s.action).is_some_and(|a| a.mutates) {
            points.push(format!("before-apply:{}", s.id));
            points.push(format!("after-apply:{}", s.id));
        }
    }
    points
}

/// The report of the only run in `dir`, as written at its end.
fn report(dir: &Path, run_id: &str) -> RunDocument {
    let p = dir
        .join("state")
        .join("reports")
        .join(run_id)
        .join("report.json");
    let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_slice(&bytes).unwrap()
}

/// What must not differ between two runs on two seeded copies: verdicts, step statuses, what
/// each step would change and changed, its outputs. Names and ids of the copy are replaced by
/// placeholders, timestamps and measured exposures by markers; timings are left out.
fn comparable(doc: &RunDocument, seed: &Seeded) -> Value {
    let mut names: Vec<(String, String)> = vec![];
    for (region, r) in &seed.regions {
        let api = &r.apigateway;
        names.push((api.rest_api_id.clone(), format!("<api@{region}>")));
        names.push((
            api.regional_domain_name.clone(),
            format!("<domain@{region}>"),
        ));
        names.push((api.health_resource_id.clone(), format!("<res@{region}>")));
    }
    names.push((seed.kms.key_id.clone(), "<key>".into()));
    names.push((seed.route53.hosted_zone_id.clone(), "<zone>".into()));
    names.push((seed.route53.health_check_id.clone(), "<hc>".into()));
    names.push((seed.prefix.clone(), "P-".into()));
    let norm = |s: &str| {
        if chrono::DateTime::parse_from_rfc3339(s).is_ok() {
            return "<time>".to_string();
        }
        names
            .iter()
            .fold(s.to_string(), |acc, (from, to)| acc.replace(from, to))
    };
    let list = |v: &[String]| v.iter().map(|s| norm(s)).collect::<Vec<_>>();
    // By id: steps that run side by side may start in another order.
    let mut rows: Vec<_> = doc.steps.iter().collect();
    rows.sort_by(|a, b| a.id.cmp(&b.id));
    let steps: Vec<Value> = rows
        .into_iter()
        .map(|s| {
            let outputs: serde_json::Map<String, Value> = s
                .outputs
                .iter()
                .map(|(k, v)| {
                    let v = if k.contains("exposure") {
                        "<measured>".into()
                    } else {
                        norm(v)
                    };
                    (k.clone(), Value::String(v))
                })
                .collect();
            json!({
                "id": s.id,
                "status": s.status,
                "would_change": list(&s.would_change),
                "changed": list(&s.changed),
                "outputs": outputs,
                "error": s.error,
            })
        })
        .collect();
    json!({
        "verdict": doc.verdict,
        "status": doc.status,
        "mode": doc.mode,
        "counts": doc.counts,
        "objectives": doc.objectives.iter().map(|o| json!([o.objective, o.verdict])).collect::<Vec<_>>(),
        "steps": steps,
    })
}

/// Crashes at `point`, resumes, checks the outcome; returns the report, comparable.
async fn crash_and_resume(point: String) -> (String, Value) {
    let FailoverRun {
        seed,
        before,
        dir,
        out: o,
    } = failover_run("crash", emulator().endpoint(), &[(CRASH_ENV, &point)]).await;
    assert_eq!(
        o.status.signal(),
        Some(libc::SIGKILL),
        "{point}: killed by the hook: {}",
        text(&o)
    );
    let (id, records) = journal(dir.path()).await;
    assert!(
        !records
            .iter()
            .any(|r| matches!(r.entry, Entry::RunFinished { .. })),
        "{point}: the run did not finish before the crash"
    );
    if let Some(step) = point.strip_prefix("after:") {
        assert!(
            records
                .iter()
                .any(|r| matches!(&r.entry, Entry::StepSucceeded { step: s, .. } if s == step)),
            "{point}: the boundary's outcome is durable"
        );
    }
    let cut_off = point
        .strip_prefix("after-apply:")
        .or(point.strip_prefix("before-apply:"));
    if let Some(step) = cut_off {
        // Written ahead of the change: the step's start and the changes it was about to make.
        assert!(
            records.iter().any(|r| matches!(&r.entry,
                Entry::StepObserved { step: s, observation } if s == step && !observation.changes.is_empty())),
            "{point}: the planned change is durable before it is made"
        );
        assert!(
            !records
                .iter()
                .any(|r| matches!(&r.entry, Entry::StepSucceeded { step: s, .. } if s == step)),
            "{point}"
        );
    }
    let r = drillbook_at(
        dir.path(),
        emulator().endpoint(),
        &[],
        &["resume", &id],
        &[],
    )
    .await;
    assert_eq!(code(&r), 0, "{point}: resume: {}", text(&r));
    // Across the crashed process and the resumed one.
    assert_failed_over_once(&seed, &before, &point).await;

    let (_, records) = journal(dir.path()).await;
    let mut succeeded = BTreeMap::<&str, usize>::new();
    for r in &records {
        if let Entry::StepSucceeded { step, .. } = &r.entry {
            *succeeded.entry(step.as_str()).or_default() += 1;
        }
    }
    assert_eq!(succeeded.len(), 10, "{point}: {succeeded:?}");
    assert!(
        succeeded.values().all(|&n| n == 1),
        "{point}: {succeeded:?}"
    );
    // Steps cut off by the crash (the armed one, and any that ran beside it).
    let in_doubt = records
        .iter()
        .find_map(|r| match &r.entry {
            Entry::RunResumed { in_doubt, .. } => Some(in_doubt.clone()),
            _ => None,
        })
        .unwrap_or_default();
    if let Some(step) = cut_off {
        assert!(
            in_doubt.iter().any(|s| s == step),
            "{point}: the cut-off step is in doubt: {in_doubt:?}"
        );
    }
    let doc = report(dir.path(), &id);
    if let Some(step) = point.strip_prefix("after-apply:") {
        let row = doc.steps.iter().find(|s| s.id == step).unwrap();
        assert!(
            row.changed_before_resume && !row.changed.is_empty(),
            "{point}: the report shows the change the cut-off attempt made: {row:?}"
        );
        for page in ["report.md", "report.html"] {
            let p = dir.path().join("state/reports").join(&id).join(page);
            let body = std::fs::read_to_string(p).unwrap();
            assert!(
                body.contains("Changed (before the interruption; found in place on resume)"),
                "{point}: {page}"
            );
        }
    }
    for s in doc.steps.iter().filter(|s| s.changed_before_resume) {
        assert!(
            in_doubt.contains(&s.id),
            "{point}: only a step in doubt can have changed before the resume: {}",
            s.id
        );
    }
    (point, comparable(&doc, &seed))
}

#[tokio::test(flavor = "multi_thread")]
async fn failover_killed_at_every_boundary_and_mid_change_resumes_to_the_same_end() {
    let points = crash_points();
    // 10 steps, 2 of them mutating (promote-key, switch-dns), and the start.
    assert_eq!(points.len(), 1 + 10 + 2 * 2, "{points:?}");

    let base = failover_run("crash", emulator().endpoint(), &[]).await;
    assert_eq!(code(&base.out), 0, "uninterrupted: {}", text(&base.out));
    assert_failed_over_once(&base.seed, &base.before, "uninterrupted").await;
    let (id, _) = journal(base.dir.path()).await;
    let baseline = comparable(&report(base.dir.path(), &id), &base.seed);

    let results: Vec<(String, Value)> = futures::stream::iter(points)
        .map(crash_and_resume)
        .buffer_unordered(3)
        .collect()
        .await;
    for (point, got) in results {
        assert_eq!(
            got, baseline,
            "{point}: the report differs from the uninterrupted run's"
        );
    }
}
