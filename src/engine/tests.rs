//! Engine unit tests: a paused tokio clock, an in-memory store and a scripted `wait` action.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::*;
use crate::actions::aws::{Aws, AwsOptions};
use crate::actions::{
    Action, ActionError, ActionSpec, AwsFailure, Finding, Observation, Outcome, Registry,
    StepContext,
};
use crate::checkpoint::{CheckpointError, CheckpointStore, NewRun, Record, RunSummary, StoredRun};
use crate::event::{Collect, Event, Mode, RunStatus};
use crate::runbook::{Loaded, OnFailure, RetryPolicy, Runbook, Step};

/// Journals in memory.
#[derive(Default)]
struct MemStore(Mutex<HashMap<String, Vec<Event>>>, StoreDown);

/// When set, appends fail as a store that does not answer; counts the appends tried then.
#[derive(Default)]
struct StoreDown {
    down: AtomicBool,
    tried: AtomicUsize,
}

impl MemStore {
    fn entries(&self) -> Vec<Event> {
        self.0
            .lock()
            .unwrap()
            .values()
            .next()
            .cloned()
            .unwrap_or_default()
    }
}

#[async_trait::async_trait]
impl CheckpointStore for MemStore {
    async fn create(&self, run: &NewRun, first: Event) -> Result<(), CheckpointError> {
        self.0
            .lock()
            .unwrap()
            .insert(run.run_id.clone(), vec![first]);
        Ok(())
    }
    async fn append(&self, run_id: &str, entries: Vec<Event>) -> Result<(), CheckpointError> {
        if self.1.down.load(Ordering::SeqCst) {
            self.1.tried.fetch_add(1, Ordering::SeqCst);
            return Err(CheckpointError::Unavailable {
                store: "dynamodb://state?region=ap-southeast-7".into(),
                message: "dynamodb PutItem in ap-southeast-7: ServiceUnavailable".into(),
            });
        }
        self.0
            .lock()
            .unwrap()
            .get_mut(run_id)
            .ok_or_else(|| CheckpointError::NotFound(run_id.into()))?
            .extend(entries);
        Ok(())
    }
    async fn load(&self, run_id: &str) -> Result<StoredRun, CheckpointError> {
        Err(CheckpointError::NotFound(run_id.into()))
    }
    async fn list(&self) -> Result<Vec<RunSummary>, CheckpointError> {
        Ok(vec![])
    }
}

#[derive(Clone)]
enum Behavior {
    Sleep(Duration),
    /// Fails `n` times, then succeeds.
    Fail {
        times: usize,
        retryable: bool,
    },
    /// Never finishes; sets the flag when its future is dropped.
    Hang(Arc<AtomicBool>),
    Finding,
}

struct DropFlag(Arc<AtomicBool>);
impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Registered as `wait`; behaves as its script says for each step id.
#[derive(Default)]
struct Scripted {
    script: Mutex<HashMap<String, Behavior>>,
    calls: Mutex<Vec<(String, &'static str, Duration)>>,
    params: Mutex<HashMap<String, BTreeMap<String, serde_json::Value>>>,
    running: AtomicUsize,
    max_running: AtomicUsize,
    failures: Mutex<HashMap<String, usize>>,
    t0: Mutex<Option<Instant>>,
    /// (step, the `attempt` fact of the observation each observe was given as `earlier`).
    earlier: Mutex<Vec<(String, Option<serde_json::Value>)>>,
}

impl Scripted {
    fn log(&self, step: &str, what: &'static str) {
        let t0 = self
            .t0
            .lock()
            .unwrap()
            .get_or_insert_with(Instant::now)
            .to_owned();
        self.calls
            .lock()
            .unwrap()
            .push((step.to_string(), what, t0.elapsed()));
    }
    fn calls_of(&self, step: &str, what: &str) -> Vec<Duration> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(s, w, _)| s == step && *w == what)
            .map(|c| c.2)
            .collect()
    }
}

#[async_trait::async_trait]
impl Action for Scripted {
    fn spec(&self) -> &'static ActionSpec {
        crate::catalog::lookup("wait").unwrap()
    }
    async fn observe(&self, ctx: &StepContext) -> Result<Observation, ActionError> {
        self.log(&ctx.step_id, "observe");
        self.params
            .lock()
            .unwrap()
            .insert(ctx.step_id.clone(), ctx.params.0.clone());
        let b = self.script.lock().unwrap().get(&ctx.step_id).cloned();
        let mut earlier = self.earlier.lock().unwrap();
        earlier.push((
            ctx.step_id.clone(),
            ctx.earlier
                .as_ref()
                .and_then(|o| o.facts.get("attempt").cloned()),
        ));
        let attempt = earlier.iter().filter(|(s, _)| s == &ctx.step_id).count();
        drop(earlier);
        Ok(Observation {
            summary: "seen".into(),
            facts: BTreeMap::from([("attempt".to_string(), attempt.into())]),
            findings: match b {
                Some(Behavior::Finding) => vec![Finding {
                    message: "pitr disabled".into(),
                    hint: "enable it".into(),
                }],
                _ => vec![],
            },
            changes: vec!["do it".into()],
            ..Default::default()
        })
    }
    async fn apply(&self, ctx: &StepContext, _: &Observation) -> Result<Outcome, ActionError> {
        self.log(&ctx.step_id, "apply");
        let n = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_running.fetch_max(n, Ordering::SeqCst);
        struct Dec<'a>(&'a AtomicUsize);
        impl Drop for Dec<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        let _dec = Dec(&self.running);
        let b = self.script.lock().unwrap().get(&ctx.step_id).cloned();
        match b {
            Some(Behavior::Sleep(d)) => tokio::time::sleep(d).await,
            Some(Behavior::Fail { times, retryable }) => {
                let mut f = self.failures.lock().unwrap();
                let c = f.entry(ctx.step_id.clone()).or_default();
                if *c < times {
                    *c += 1;
                    return Err(ActionError::Aws(Box::new(AwsFailure {
                        service: "dynamodb".into(),
                        operation: "RestoreTableToPointInTime".into(),
                        region: "eu-west-1".into(),
                        code: if retryable {
                            "ThrottlingException"
                        } else {
                            "ValidationException"
                        }
                        .into(),
                        message: "boom".into(),
                        retryable,
                        request_id: None,
                        hint: String::new(),
                    })));
                }
            }
            Some(Behavior::Hang(flag)) => {
                let _guard = DropFlag(flag);
                std::future::pending::<()>().await;
            }
            _ => {}
        }
        Ok(Outcome {
            summary: "done".into(),
            ..Default::default()
        })
    }
    async fn verify(&self, ctx: &StepContext, _: &Outcome) -> Result<(), ActionError> {
        self.log(&ctx.step_id, "verify");
        Ok(())
    }
}

fn step(id: &str, needs: &[&str]) -> Step {
    Step {
        id: id.into(),
        action: "wait".into(),
        description: None,
        needs: needs.iter().map(|s| s.to_string()).collect(),
        region: None,
        with: BTreeMap::new(),
        timeout: Duration::from_secs(600),
        estimate: Duration::ZERO,
        retry: RetryPolicy {
            attempts: 1,
            backoff: Duration::from_secs(1),
        },
        on_failure: OnFailure::Abort,
        role: None,
        call_timeouts: Default::default(),
    }
}

fn loaded(steps: Vec<Step>, finally: Vec<Step>) -> Loaded {
    Loaded {
        runbook: Runbook {
            name: "t".into(),
            description: None,
            objectives: Default::default(),
            vars: BTreeMap::new(),
            accounts: BTreeMap::new(),
            allow_self_approval: false,
            approvers: Default::default(),
            secrets: Default::default(),
            steps,
            finally,
        },
        text: String::new(),
        path: PathBuf::from("t.yaml"),
        sha256: String::new(),
    }
}

struct Harness {
    engine: Engine,
    store: Arc<MemStore>,
    action: Arc<Scripted>,
    events: Arc<Collect>,
}

fn harness(max_parallel: usize, script: &[(&str, Behavior)]) -> Harness {
    let store = Arc::new(MemStore::default());
    let action = Arc::new(Scripted::default());
    *action.t0.lock().unwrap() = Some(Instant::now());
    action
        .script
        .lock()
        .unwrap()
        .extend(script.iter().map(|(s, b)| (s.to_string(), b.clone())));
    let mut registry = Registry::builtin();
    registry.register(action.clone());
    let events = Arc::new(Collect::default());
    let conf = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build();
    let aws = Arc::new(Aws::from_config(conf, AwsOptions::default()));
    let engine =
        Engine::new(store.clone(), registry, aws, events.clone()).max_parallel(max_parallel);
    Harness {
        engine,
        store,
        action,
        events,
    }
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

fn outcome_of(entries: &[Event], id: &str) -> Option<&'static str> {
    entries.iter().rev().find_map(|e| match e {
        Event::StepSucceeded { step, .. } if step == id => Some("succeeded"),
        Event::StepFailed { step, .. } if step == id => Some("failed"),
        Event::StepSkipped { step, .. } if step == id => Some("skipped"),
        _ => None,
    })
}

#[tokio::test(start_paused = true)]
async fn a_step_starts_when_its_own_dependency_finishes_not_its_level() {
    // a (1s) -> c ; b (3s) -> d. Level batching would start c at 3s.
    let h = harness(
        8,
        &[
            ("a", Behavior::Sleep(secs(1.0))),
            ("b", Behavior::Sleep(secs(3.0))),
            ("c", Behavior::Sleep(secs(0.5))),
            ("d", Behavior::Sleep(secs(0.5))),
        ],
    );
    let lb = loaded(
        vec![
            step("a", &[]),
            step("b", &[]),
            step("c", &["a"]),
            step("d", &["b"]),
        ],
        vec![],
    );
    let res = h.engine.run(&lb, Mode::Execute).await.unwrap();
    assert_eq!(res.status, RunStatus::Succeeded);
    let c_start = h.action.calls_of("c", "apply")[0];
    assert!(c_start >= secs(1.0) && c_start < secs(1.1), "{c_start:?}");
    let d_start = h.action.calls_of("d", "apply")[0];
    assert!(d_start >= secs(3.0) && d_start < secs(3.1), "{d_start:?}");
    assert!(res.duration < secs(3.6), "{:?}", res.duration);
}

#[tokio::test(start_paused = true)]
async fn max_parallel_is_respected() {
    let script: Vec<(String, Behavior)> = (0..10)
        .map(|i| (format!("s{i}"), Behavior::Sleep(secs(1.0))))
        .collect();
    let script: Vec<(&str, Behavior)> = script
        .iter()
        .map(|(s, b)| (s.as_str(), b.clone()))
        .collect();
    let h = harness(3, &script);
    let steps = (0..10).map(|i| step(&format!("s{i}"), &[])).collect();
    let res = h
        .engine
        .run(&loaded(steps, vec![]), Mode::Execute)
        .await
        .unwrap();
    assert_eq!(res.status, RunStatus::Succeeded);
    assert_eq!(h.action.max_running.load(Ordering::SeqCst), 3);
    // ceil(10 / 3) = 4 rounds of 1 s.
    assert!(
        res.duration >= secs(4.0) && res.duration < secs(4.2),
        "{:?}",
        res.duration
    );
}

#[tokio::test(start_paused = true)]
async fn timeout_drops_the_running_future() {
    let dropped = Arc::new(AtomicBool::new(false));
    let h = harness(8, &[("h", Behavior::Hang(dropped.clone()))]);
    let mut s = step("h", &[]);
    s.timeout = secs(2.0);
    let res = h
        .engine
        .run(&loaded(vec![s], vec![]), Mode::Execute)
        .await
        .unwrap();
    assert_eq!(res.status, RunStatus::Failed);
    assert!(matches!(res.failed[0].1, ActionError::Timeout { .. }));
    assert!(
        dropped.load(Ordering::SeqCst),
        "the hanging future was not dropped"
    );
    assert!(res.duration >= secs(2.0) && res.duration < secs(2.1));
}

#[tokio::test(start_paused = true)]
async fn retries_only_retryable_errors_with_backoff() {
    let h = harness(
        8,
        &[
            (
                "flaky",
                Behavior::Fail {
                    times: 2,
                    retryable: true,
                },
            ),
            (
                "bad",
                Behavior::Fail {
                    times: 1,
                    retryable: false,
                },
            ),
        ],
    );
    let mut flaky = step("flaky", &[]);
    flaky.retry = RetryPolicy {
        attempts: 3,
        backoff: secs(1.0),
    };
    let mut bad = step("bad", &[]);
    bad.retry = RetryPolicy {
        attempts: 5,
        backoff: secs(1.0),
    };
    bad.on_failure = OnFailure::Continue;
    let res = h
        .engine
        .run(&loaded(vec![flaky, bad], vec![]), Mode::Execute)
        .await
        .unwrap();
    let entries = h.store.entries();
    let applies = h.action.calls_of("flaky", "apply");
    assert_eq!(applies.len(), 3);
    // Backoff 1s then 2s, each jittered into [50%, 100%].
    let gap1 = applies[1] - applies[0];
    let gap2 = applies[2] - applies[1];
    assert!(gap1 >= secs(0.5) && gap1 <= secs(1.0), "{gap1:?}");
    assert!(gap2 >= secs(1.0) && gap2 <= secs(2.0), "{gap2:?}");
    assert!(entries.iter().any(|e| matches!(e,
        Event::StepSucceeded { step, attempts: 3, .. } if step == "flaky")));
    let retries = entries
        .iter()
        .filter(|e| matches!(e, Event::StepRetrying { step, .. } if step == "flaky"))
        .count();
    assert_eq!(retries, 2);
    // The validation error is not retried although 5 attempts are allowed.
    assert_eq!(h.action.calls_of("bad", "apply").len(), 1);
    assert!(entries.iter().any(|e| matches!(e,
        Event::StepFailed { step, attempts: 1, .. } if step == "bad")));
    assert_eq!(res.status, RunStatus::Failed);
}

/// A retried attempt is given the observation of the attempt before it (what `ecs.redeploy`
/// recorded before starting a deployment); the first attempt of a new run none.
#[tokio::test(start_paused = true)]
async fn a_retried_attempt_is_given_the_previous_attempts_observation() {
    let h = harness(
        8,
        &[(
            "flaky",
            Behavior::Fail {
                times: 2,
                retryable: true,
            },
        )],
    );
    let mut flaky = step("flaky", &[]);
    flaky.retry = RetryPolicy {
        attempts: 3,
        backoff: secs(1.0),
    };
    let res = h
        .engine
        .run(&loaded(vec![flaky], vec![]), Mode::Execute)
        .await
        .unwrap();
    assert_eq!(res.status, RunStatus::Succeeded);
    let seen = h.action.earlier.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![
            ("flaky".to_string(), None),
            ("flaky".to_string(), Some(1.into())),
            ("flaky".to_string(), Some(2.into())),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn abort_lets_running_steps_finish_and_skips_the_rest() {
    let h = harness(
        8,
        &[
            (
                "a",
                Behavior::Fail {
                    times: 1,
                    retryable: false,
                },
            ),
            ("b", Behavior::Sleep(secs(3.0))),
        ],
    );
    let lb = loaded(
        vec![
            step("a", &[]),
            step("b", &[]),
            step("c", &["b"]),
            step("d", &["a"]),
        ],
        vec![step("cleanup", &[])],
    );
    let res = h.engine.run(&lb, Mode::Execute).await.unwrap();
    let e = h.store.entries();
    assert_eq!(res.status, RunStatus::Failed);
    assert_eq!(outcome_of(&e, "a"), Some("failed"));
    assert_eq!(
        outcome_of(&e, "b"),
        Some("succeeded"),
        "running step finishes"
    );
    assert_eq!(outcome_of(&e, "c"), Some("skipped"), "nothing new starts");
    assert_eq!(outcome_of(&e, "d"), Some("skipped"));
    assert!(h.action.calls_of("c", "observe").is_empty());
    // finally runs after the failure, and the main failure stays the result.
    assert_eq!(outcome_of(&e, "cleanup"), Some("succeeded"));
    assert_eq!(res.failed[0].0, "a");
    assert!(matches!(
        e.last(),
        Some(Event::RunFinished {
            status: RunStatus::Failed
        })
    ));
}

/// A step that let the run go on failed first; a later step aborted it: the skip reason names
/// the step that aborted the run.
#[tokio::test(start_paused = true)]
async fn the_skip_reason_names_the_step_that_aborted_the_run() {
    let fail = Behavior::Fail {
        times: 1,
        retryable: false,
    };
    let h = harness(
        8,
        &[
            ("optional", fail.clone()),
            ("vital", fail),
            ("other", Behavior::Sleep(secs(1.0))),
        ],
    );
    let mut optional = step("optional", &[]);
    optional.on_failure = OnFailure::Continue;
    let lb = loaded(
        vec![
            optional,
            step("first", &[]),
            step("vital", &["first"]),
            step("after", &["vital"]),
            step("other", &["first"]),
            step("last", &["other"]),
        ],
        vec![],
    );
    let res = h.engine.run(&lb, Mode::Execute).await.unwrap();
    assert_eq!(res.status, RunStatus::Failed);
    let e = h.store.entries();
    let reason = e
        .iter()
        .find_map(|x| match x {
            Event::StepSkipped { step, reason } if step == "last" => Some(reason.clone()),
            _ => None,
        })
        .expect("`last` is skipped");
    assert_eq!(reason, "the run was aborted after `vital` failed");
}

#[tokio::test(start_paused = true)]
async fn continue_skips_only_dependents_of_the_failed_step() {
    let h = harness(
        8,
        &[
            (
                "a",
                Behavior::Fail {
                    times: 1,
                    retryable: false,
                },
            ),
            ("b", Behavior::Sleep(secs(1.0))),
        ],
    );
    let mut a = step("a", &[]);
    a.on_failure = OnFailure::Continue;
    let lb = loaded(
        vec![
            a,
            step("b", &[]),
            step("c", &["b"]),
            step("d", &["a"]),
            step("e", &["d"]),
        ],
        vec![],
    );
    let res = h.engine.run(&lb, Mode::Execute).await.unwrap();
    let e = h.store.entries();
    assert_eq!(res.status, RunStatus::Failed);
    assert_eq!(outcome_of(&e, "c"), Some("succeeded"));
    assert_eq!(outcome_of(&e, "d"), Some("skipped"));
    assert_eq!(outcome_of(&e, "e"), Some("skipped"));
}

#[tokio::test(start_paused = true)]
async fn finally_failure_is_reported_without_hiding_success_of_main() {
    let h = harness(
        8,
        &[(
            "cleanup",
            Behavior::Fail {
                times: 1,
                retryable: false,
            },
        )],
    );
    let lb = loaded(
        vec![step("a", &[])],
        vec![step("cleanup", &[]), step("after", &["cleanup"])],
    );
    let res = h.engine.run(&lb, Mode::Execute).await.unwrap();
    let e = h.store.entries();
    assert_eq!(outcome_of(&e, "a"), Some("succeeded"));
    assert_eq!(outcome_of(&e, "after"), Some("skipped"));
    assert_eq!(res.failed.len(), 1);
    assert_eq!(res.failed[0].0, "cleanup");
    assert_eq!(res.status, RunStatus::Failed);
}

#[tokio::test(start_paused = true)]
async fn dry_run_calls_only_observe_and_renders_placeholders() {
    let h = harness(8, &[("broken", Behavior::Finding)]);
    let mut gate = step("gate", &[]);
    gate.action = "approval".into();
    let mut use_it = step("use", &["gate"]);
    use_it.with.insert(
        "who".into(),
        "{{ steps.gate.approved_by }} in {{ run.id }}".into(),
    );
    let mut broken = step("broken", &[]);
    broken.on_failure = OnFailure::Continue;
    let lb = loaded(
        vec![gate, use_it, broken, step("after", &["broken"])],
        vec![],
    );
    let res = h.engine.run(&lb, Mode::DryRun).await.unwrap();
    let calls = h.action.calls.lock().unwrap().clone();
    assert!(calls.iter().all(|(_, w, _)| *w == "observe"), "{calls:?}");
    let who = h.action.params.lock().unwrap()["use"]["who"].clone();
    assert_eq!(
        who,
        serde_json::json!(format!("<steps.gate.approved_by> in {}", res.run_id))
    );
    let e = h.store.entries();
    assert_eq!(outcome_of(&e, "broken"), Some("failed"));
    assert_eq!(outcome_of(&e, "after"), Some("skipped"));
    assert!(
        matches!(&res.failed[0].1, ActionError::Precondition { findings } if findings[0].message == "pitr disabled")
    );
    assert!(
        e.iter().any(
            |x| matches!(x, Event::StepSucceeded { step, dry_run: true, .. } if step == "use")
        )
    );
}

#[tokio::test(start_paused = true)]
async fn interrupt_waits_a_grace_period_then_leaves_steps_in_doubt() {
    let dropped = Arc::new(AtomicBool::new(false));
    let h = harness(
        8,
        &[
            ("quick", Behavior::Sleep(secs(1.0))),
            ("hang", Behavior::Hang(dropped.clone())),
        ],
    );
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let engine = h.engine.grace(secs(5.0)).interrupt(async {
        let _ = rx.await;
    });
    let lb = loaded(
        vec![
            step("quick", &[]),
            step("hang", &[]),
            step("next", &["quick"]),
        ],
        vec![],
    );
    let run = tokio::spawn(async move { (engine.run(&lb, Mode::Execute).await, engine) });
    tokio::time::sleep(secs(0.5)).await;
    tx.send(()).unwrap();
    let (res, _engine) = run.await.unwrap();
    let res = res.unwrap();
    assert_eq!(res.status, RunStatus::Paused);
    assert!(res.interrupted);
    assert_eq!(res.in_doubt, vec!["hang".to_string()]);
    assert!(dropped.load(Ordering::SeqCst));
    let e = h.store.entries();
    assert_eq!(
        outcome_of(&e, "quick"),
        Some("succeeded"),
        "finished within grace"
    );
    assert_eq!(outcome_of(&e, "next"), None, "nothing new starts");
    assert_eq!(
        outcome_of(&e, "hang"),
        None,
        "in doubt: started, no outcome"
    );
    assert!(matches!(e.last(), Some(Event::RunPaused { reason, .. }) if reason == "interrupted"));
    // Paused after the grace period, counted from the interrupt at 0.5 s.
    assert!(
        res.duration >= secs(5.5) && res.duration < secs(5.7),
        "{:?}",
        res.duration
    );
    let _ = h.events;
}

#[tokio::test(start_paused = true)]
async fn approval_pauses_the_run_once_nothing_else_can_progress() {
    let h = harness(8, &[("other", Behavior::Sleep(secs(2.0)))]);
    let mut gate = step("gate", &[]);
    gate.action = "approval".into();
    gate.with
        .insert("message".into(), "check the dashboards".into());
    let lb = loaded(
        vec![gate, step("after", &["gate"]), step("other", &[])],
        vec![step("f", &[])],
    );
    let engine = h.engine.with_identity(crate::actions::aws::Identity {
        account: "111122223333".into(),
        arn: "arn:aws:iam::111122223333:user/alice".into(),
    });
    let res = engine.run(&lb, Mode::Execute).await.unwrap();
    assert_eq!(res.status, RunStatus::Paused);
    assert_eq!(
        res.awaiting_approval,
        vec![("gate".to_string(), "check the dashboards".to_string())]
    );
    let e = h.store.entries();
    assert_eq!(outcome_of(&e, "other"), Some("succeeded"));
    assert_eq!(outcome_of(&e, "after"), None);
    assert_eq!(
        outcome_of(&e, "f"),
        None,
        "finally waits for the end of the run"
    );
    assert!(
        e.iter()
            .any(|x| matches!(x, Event::ApprovalRequested { step, .. } if step == "gate"))
    );
    assert!(matches!(e.last(), Some(Event::RunPaused { .. })));
    assert!(matches!(
        e.last(),
        Some(Event::RunPaused { awaiting, .. })
            if awaiting.len() == 1 && awaiting[0].step == "gate"
    ));
    // One stream: the console saw exactly the events the journal keeps (a step's own events
    // in order; steps running side by side may interleave differently).
    let seen = h.events.0.lock().unwrap();
    let as_json = |v: &[Event]| {
        let mut v: Vec<String> = v
            .iter()
            .map(|e| serde_json::to_string(e).unwrap())
            .collect();
        v.sort();
        v
    };
    assert_eq!(as_json(&seen), as_json(&e));
    let of = |v: &[Event], id: &str| -> Vec<Event> {
        v.iter()
            .filter(|x| serde_json::to_value(x).unwrap()["step"] == id)
            .cloned()
            .collect()
    };
    assert_eq!(of(&seen, "other"), of(&e, "other"));
    assert!(of(&e, "other").len() >= 3, "started, observed, succeeded");
}

#[test]
fn records_are_what_the_file_store_verifies() {
    // The unit tests use MemStore; make sure the record type is what files hold.
    let r = Record {
        seq: 1,
        at: chrono::Utc::now(),
        prev: crate::checkpoint::GENESIS.into(),
        event: Event::RunPaused {
            reason: "x".into(),
            awaiting: vec![],
        },
    };
    let line = serde_json::to_string(&r).unwrap();
    assert_eq!(serde_json::from_str::<Record>(&line).unwrap(), r);
}

#[tokio::test(start_paused = true)]
async fn a_store_that_stops_answering_pauses_the_run_and_nothing_more_is_written() {
    // a (1s) -> c (hangs); b (5s) -> d (0.1s) -> e. The store stops answering at 2s. b
    // changes nothing (a read-only action), so d starts at once and b's outcome waits for
    // the next batch: the first write that fails.
    let hang = Arc::new(AtomicBool::new(false));
    let h = harness(
        8,
        &[
            ("a", Behavior::Sleep(secs(1.0))),
            ("b", Behavior::Sleep(secs(5.0))),
            ("c", Behavior::Hang(hang.clone())),
            ("d", Behavior::Sleep(secs(0.1))),
            ("e", Behavior::Sleep(secs(0.1))),
        ],
    );
    let lb = loaded(
        vec![
            step("a", &[]),
            step("b", &[]),
            step("c", &["a"]),
            step("d", &["b"]),
            step("e", &["d"]),
        ],
        vec![],
    );
    let store = h.store.clone();
    tokio::spawn(async move {
        tokio::time::sleep(secs(2.0)).await;
        store.1.down.store(true, Ordering::SeqCst);
    });
    let t = Instant::now();
    let res = h.engine.run(&lb, Mode::Execute).await.unwrap();
    assert_eq!(res.status, RunStatus::Paused);
    let lost = res.store_lost.as_deref().unwrap();
    assert!(
        lost.contains("dynamodb://state?region=ap-southeast-7 is not answering"),
        "{lost}"
    );
    // b's outcome was in the write that failed; d, running then, finished unrecorded.
    let unrecorded: Vec<&str> = res.unrecorded.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(unrecorded, ["b", "d"], "{:?}", res.unrecorded);
    assert!(
        res.unrecorded
            .iter()
            .all(|(_, w)| w.starts_with("succeeded"))
    );
    assert!(res.failed.is_empty(), "{:?}", res.failed);
    // The running step got the grace period, then was abandoned.
    assert_eq!(res.in_doubt, vec!["c".to_string()]);
    assert!(hang.load(Ordering::SeqCst), "c's future was dropped");
    assert!(t.elapsed() < secs(16.0), "{:?}", t.elapsed());
    assert!(
        h.action.calls_of("e", "observe").is_empty(),
        "nothing new started"
    );
    // One write failed; none was tried after it.
    assert_eq!(h.store.1.tried.load(Ordering::SeqCst), 1);
    let entries = h.store.entries();
    assert_eq!(outcome_of(&entries, "a"), Some("succeeded"));
    assert_eq!(outcome_of(&entries, "b"), None);
    assert_eq!(outcome_of(&entries, "d"), None);
    assert!(
        !entries
            .iter()
            .any(|e| matches!(e, Event::RunPaused { .. } | Event::RunFinished { .. })),
        "no end is recorded, or reported"
    );
    assert!(
        !h.events
            .0
            .lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, Event::RunPaused { .. })),
        "no end is reported"
    );
}

/// `Scripted`, registered as an action that changes AWS (`dynamodb.put_item`).
struct Mutating(Arc<Scripted>);

#[async_trait::async_trait]
impl Action for Mutating {
    fn spec(&self) -> &'static ActionSpec {
        crate::catalog::lookup("dynamodb.put_item").unwrap()
    }
    async fn observe(&self, ctx: &StepContext) -> Result<Observation, ActionError> {
        self.0.observe(ctx).await
    }
    async fn apply(&self, ctx: &StepContext, obs: &Observation) -> Result<Outcome, ActionError> {
        self.0.apply(ctx, obs).await
    }
    async fn verify(&self, ctx: &StepContext, out: &Outcome) -> Result<(), ActionError> {
        self.0.verify(ctx, out).await
    }
}

#[tokio::test(start_paused = true)]
async fn a_change_waiting_for_a_store_that_stopped_answering_is_not_made() {
    // g (2s, read-only) -> m (changes AWS). The store stops answering at 1s: m's start and
    // observation cannot be made durable, so m makes no change.
    let h = harness(8, &[("g", Behavior::Sleep(secs(2.0)))]);
    let mut registry = Registry::builtin();
    registry.register(h.action.clone());
    registry.register(Arc::new(Mutating(h.action.clone())));
    let aws = Arc::new(Aws::from_config(
        aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build(),
        AwsOptions::default(),
    ));
    let engine = Engine::new(h.store.clone(), registry, aws, h.events.clone()).with_identity(
        crate::actions::aws::Identity {
            account: "111122223333".into(),
            arn: "arn:aws:iam::111122223333:user/alice".into(),
        },
    );
    let mut m = step("m", &["g"]);
    m.action = "dynamodb.put_item".into();
    let lb = loaded(vec![step("g", &[]), m], vec![]);
    let store = h.store.clone();
    tokio::spawn(async move {
        tokio::time::sleep(secs(1.0)).await;
        store.1.down.store(true, Ordering::SeqCst);
    });
    let res = engine.run(&lb, Mode::Execute).await.unwrap();
    assert_eq!(res.status, RunStatus::Paused);
    assert!(res.store_lost.is_some());
    assert_eq!(h.action.calls_of("m", "observe").len(), 1);
    assert!(h.action.calls_of("m", "apply").is_empty(), "no change made");
    assert!(res.failed.is_empty(), "{:?}", res.failed);
    let unrecorded: BTreeMap<&str, &str> = res
        .unrecorded
        .iter()
        .map(|(s, w)| (s.as_str(), w.as_str()))
        .collect();
    assert!(unrecorded["g"].starts_with("succeeded"), "{unrecorded:?}");
    assert!(unrecorded["m"].contains("it made none"), "{unrecorded:?}");
    assert_eq!(h.store.1.tried.load(Ordering::SeqCst), 1);
}
