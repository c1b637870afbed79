//! Crash matrix: the region-failover runbook killed with SIGKILL at every step boundary and in
//! the middle of every mutating step (the `DRILLBOOK_TEST_CRASH_AT` hook, docs/journal.md),
//! then resumed by a new process. Each time the run finishes, the system ends failed over with
//! every mutation made exactly once (the emulator's request recording), every step succeeded
//! once in the journal, and the report is the uninterrupted run's apart from timings. The same
//! for the ARC runbook (`runbooks/region-failover-arc.yaml`): the routing controls set by one
//! UpdateRoutingControlStates call, the key promoted once.

use crate::support::Ran;
use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;

use drillbook::engine::CRASH_ENV;
use drillbook::event::Event;
use drillbook::report::RunDocument;
use futures::StreamExt;
use serde_json::{Value, json};

use crate::proof::{
    FailoverRun, assert_failed_over_once, drillbook_at, failover_run, failover_runbook, journal,
};
use std::time::Duration;

use crate::arc_action::{ArcSeed, arc_vars};
use crate::support::faults::{Fault, FaultProxy, Rule};
use crate::support::{SeedOptions, Seeded, emulator, unique_prefix};

/// `start`, `after:STEP` for every step, and `before-apply:` / `after-apply:` for every step
/// whose action mutates.
fn crash_points(rb: &str) -> Vec<String> {
    let text = std::fs::read_to_string(rb).unwrap();
    let loaded = drillbook::runbook::load::load_shape(Path::new(rb), &text).unwrap();
    let mut points = vec!["start".to_string()];
    for s in &loaded.runbook.steps {
        points.push(format!("after:{}", s.id));
        if drillbook::catalog::lookup(&s.action).is_some_and(|a| a.mutates) {
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
/// placeholders (and `extra`'s, first), timestamps and measured exposures by markers; timings
/// are left out.
fn comparable(doc: &RunDocument, seed: &Seeded, extra: &[(String, String)]) -> Value {
    let mut names: Vec<(String, String)> = extra.to_vec();
    for (region, r) in &seed.regions {
        let api = &r.apigateway;
        names.push((api.rest_api_id.clone(), format!("<api@{region}>")));
        names.push((
            api.regional_domain_name.clone(),
            format!("<domain@{region}>"),
        ));
        names.push((api.health_resource_id.clone(), format!("<res@{region}>")));
    }
    // An alias record answers with its target's addresses, which follow the target's name.
    for side in ["primary", "secondary"] {
        for addr in seed.raw["route53"]["answers"][side]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a.as_str())
        {
            names.push((addr.to_string(), format!("<addr@{side}>")));
        }
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
                    let v = if k.contains("exposure")
                        || k.ends_with("_lag_seconds")
                        || k == "latency_ms"
                    {
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

/// Checks the journal of a run killed at `point`: not finished, the boundary's outcome durable,
/// the planned change written ahead of a cut-off change. Returns the run id.
async fn assert_cut_off(point: &str, o: &std::process::Output, dir: &Path) -> String {
    assert_eq!(
        o.status.signal(),
        Some(libc::SIGKILL),
        "{point}: killed by the hook: {}",
        o.text()
    );
    let (id, records) = journal(dir).await;
    assert!(
        !records
            .iter()
            .any(|r| matches!(r.event, Event::RunFinished { .. })),
        "{point}: the run did not finish before the crash"
    );
    if let Some(step) = point.strip_prefix("after:") {
        assert!(
            records
                .iter()
                .any(|r| matches!(&r.event, Event::StepSucceeded { step: s, .. } if s == step)),
            "{point}: the boundary's outcome is durable"
        );
    }
    if let Some(step) = cut_off(point) {
        // Written ahead of the change: the step's start and the changes it was about to make.
        assert!(
            records.iter().any(|r| matches!(&r.event,
                Event::StepObserved { step: s, observation } if s == step && !observation.changes.is_empty())),
            "{point}: the planned change is durable before it is made"
        );
        assert!(
            !records
                .iter()
                .any(|r| matches!(&r.event, Event::StepSucceeded { step: s, .. } if s == step)),
            "{point}"
        );
    }
    id
}

fn cut_off(point: &str) -> Option<&str> {
    point
        .strip_prefix("after-apply:")
        .or(point.strip_prefix("before-apply:"))
}

/// Checks the journal and report after the resume: each of the `steps` steps succeeded once,
/// the cut-off step was in doubt, a change made before the crash is reported as such.
async fn assert_resumed(point: &str, dir: &Path, id: &str, steps: usize) -> RunDocument {
    let (_, records) = journal(dir).await;
    let mut succeeded = BTreeMap::<&str, usize>::new();
    for r in &records {
        if let Event::StepSucceeded { step, .. } = &r.event {
            *succeeded.entry(step.as_str()).or_default() += 1;
        }
    }
    assert_eq!(succeeded.len(), steps, "{point}: {succeeded:?}");
    assert!(
        succeeded.values().all(|&n| n == 1),
        "{point}: {succeeded:?}"
    );
    // Steps cut off by the crash (the armed one, and any that ran beside it).
    let in_doubt = records
        .iter()
        .find_map(|r| match &r.event {
            Event::RunResumed { in_doubt, .. } => Some(in_doubt.clone()),
            _ => None,
        })
        .unwrap_or_default();
    if let Some(step) = cut_off(point) {
        assert!(
            in_doubt.iter().any(|s| s == step),
            "{point}: the cut-off step is in doubt: {in_doubt:?}"
        );
    }
    let doc = report(dir, id);
    if let Some(step) = point.strip_prefix("after-apply:") {
        let row = doc.steps.iter().find(|s| s.id == step).unwrap();
        assert!(
            row.changed_before_resume && !row.changed.is_empty(),
            "{point}: the report shows the change the cut-off attempt made: {row:?}"
        );
        for page in ["report.md", "report.html"] {
            let p = dir.join("state/reports").join(id).join(page);
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
    doc
}

/// Crashes at `point`, resumes, checks the outcome; returns the report, comparable.
async fn crash_and_resume(point: String) -> (String, Value) {
    let FailoverRun {
        seed,
        before,
        dir,
        out: o,
    } = failover_run("crash", emulator().endpoint(), &[(CRASH_ENV, &point)]).await;
    let id = assert_cut_off(&point, &o, dir.path()).await;
    let r = drillbook_at(
        dir.path(),
        emulator().endpoint(),
        &[],
        &["resume", &id],
        &[],
    )
    .await;
    assert_eq!(r.code(), 0, "{point}: resume: {}", r.text());
    // Across the crashed process and the resumed one.
    assert_failed_over_once(&seed, &before, &point).await;
    let doc = assert_resumed(&point, dir.path(), &id, 11).await;
    (point, comparable(&doc, &seed, &[]))
}

#[tokio::test(flavor = "multi_thread")]
async fn failover_killed_at_every_boundary_and_mid_change_resumes_to_the_same_end() {
    let points = crash_points(&failover_runbook());
    // 11 steps, 2 of them mutating (promote-key, switch-dns), and the start.
    assert_eq!(points.len(), 1 + 11 + 2 * 2, "{points:?}");

    let base = failover_run("crash", emulator().endpoint(), &[]).await;
    assert_eq!(base.out.code(), 0, "uninterrupted: {}", base.out.text());
    assert_failed_over_once(&base.seed, &base.before, "uninterrupted").await;
    let (id, _) = journal(base.dir.path()).await;
    let baseline = comparable(&report(base.dir.path(), &id), &base.seed, &[]);

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

// ------------------------------------------------------------------------------ the ARC runbook

fn arc_runbook() -> String {
    crate::support::repo_root()
        .join("runbooks/region-failover-arc.yaml")
        .display()
        .to_string()
}

/// An executed ARC failover on a fresh seeded copy, through a proxy that counts the
/// UpdateRoutingControlStates calls (the emulator's recording does not see ARC's data plane).
struct ArcRun {
    seed: Seeded,
    arc: ArcSeed,
    proxy: FaultProxy,
    /// The copy's mutations (moto's recording) before the run.
    before: BTreeMap<String, usize>,
    dir: tempfile::TempDir,
    out: std::process::Output,
}

impl ArcRun {
    async fn start(env: &[(&str, &str)]) -> ArcRun {
        let seed = emulator().seed_with(
            &unique_prefix("arccrash"),
            &SeedOptions::default().failover("routing-control"),
        );
        let arc = ArcSeed::of(&seed);
        let proxy = FaultProxy::start(
            emulator().endpoint(),
            vec![Rule::new("UpdateRoutingControlStates", Fault::Delay(Duration::ZERO)).forever()],
        )
        .await;
        let before = kms_mutations(&seed);
        let dir = tempfile::tempdir().unwrap();
        let out = drillbook_at(
            dir.path(),
            proxy.endpoint(),
            env,
            &["run", &arc_runbook(), "--execute", "--yes"],
            &arc_vars(&seed, Some(proxy.endpoint())),
        )
        .await;
        ArcRun {
            seed,
            arc,
            proxy,
            before,
            dir,
            out,
        }
    }

    /// Replacements that make two runs' reports comparable (endpoint URLs, the cluster).
    fn names(&self) -> Vec<(String, String)> {
        let cluster_id = self.arc.cluster.rsplit('/').next().unwrap().to_string();
        vec![
            (self.proxy.endpoint().to_string(), "<proxy>".into()),
            (cluster_id, "<cluster>".into()),
        ]
    }

    /// Failed over (secondary On, primary Off, the key primary in the secondary), each of the
    /// two mutations made exactly once (and nothing else mutated).
    async fn assert_failed_over_once(&self, context: &str) {
        let (p, s) = (&self.seed.primary_region, &self.seed.secondary_region);
        assert_eq!(self.arc.state(emulator(), s).await, "On", "{context}");
        assert_eq!(self.arc.state(emulator(), p).await, "Off", "{context}");
        assert_eq!(
            self.proxy.injected(),
            vec![1],
            "{context}: one UpdateRoutingControlStates call"
        );
        let mut m = kms_mutations(&self.seed);
        for (k, n) in &self.before {
            if let Some(v) = m.get_mut(k) {
                *v -= (*n).min(*v);
            }
        }
        m.retain(|_, v| *v > 0);
        assert_eq!(
            m,
            BTreeMap::from([("UpdatePrimaryRegion".to_string(), 1)]),
            "{context}"
        );
    }
}

/// Mutations of a seeded copy that moto recorded, by label.
fn kms_mutations(seed: &Seeded) -> BTreeMap<String, usize> {
    let needles = [
        seed.prefix.as_str(),
        seed.kms.key_id.as_str(),
        seed.route53.hosted_zone_id.as_str(),
    ];
    let mut m = BTreeMap::new();
    for r in emulator().mutating_calls_matching_any(&needles) {
        *m.entry(r.label()).or_default() += 1;
    }
    m
}

/// Crashes the ARC failover at `point`, resumes, checks the outcome; returns the report,
/// comparable.
async fn arc_crash_and_resume(point: String) -> (String, Value) {
    let run = ArcRun::start(&[(CRASH_ENV, &point)]).await;
    let id = assert_cut_off(&point, &run.out, run.dir.path()).await;
    let r = drillbook_at(
        run.dir.path(),
        run.proxy.endpoint(),
        &[],
        &["resume", &id],
        &[],
    )
    .await;
    assert_eq!(r.code(), 0, "{point}: resume: {}", r.text());
    run.assert_failed_over_once(&point).await;
    let doc = assert_resumed(&point, run.dir.path(), &id, 10).await;
    (point, comparable(&doc, &run.seed, &run.names()))
}

#[tokio::test(flavor = "multi_thread")]
async fn arc_failover_killed_at_every_boundary_and_mid_change_resumes_to_the_same_end() {
    let points = crash_points(&arc_runbook());
    // 10 steps, 2 of them mutating (promote-key, switch-dns), and the start.
    assert_eq!(points.len(), 1 + 10 + 2 * 2, "{points:?}");

    let base = ArcRun::start(&[]).await;
    assert_eq!(base.out.code(), 0, "uninterrupted: {}", base.out.text());
    base.assert_failed_over_once("uninterrupted").await;
    let (id, _) = journal(base.dir.path()).await;
    let baseline = comparable(&report(base.dir.path(), &id), &base.seed, &base.names());

    let results: Vec<(String, Value)> = futures::stream::iter(points)
        .map(arc_crash_and_resume)
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
