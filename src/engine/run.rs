//! `Engine::run` and `Engine::resume`: the ready-set scheduler.
//!
//! One loop owns all state. Step tasks run on a `JoinSet`; they send their `StepStarted`,
//! `StepObserved` and `StepRetrying` records through a channel. When steps finish, the loop
//! takes every outcome available at that moment and appends them (with the buffered records)
//! in one batch — one fsync: group commit. When one of them may have changed AWS, or failed,
//! their dependents start only after that append; outcomes of steps that changed nothing may
//! wait for the next batch (a flush timer, the sync a step asks for before it changes AWS, or
//! the run's end).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::future::Future;
use std::ops::Range;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::error::EngineError;
use super::identity::{caller_identity, identity_region};
use super::step::{StepDone, StepJob, ToJournal};
use crate::actions::aws::{Aws, Identity};
use crate::actions::{ActionError, Outcome, Params, Registry, Service, StepContext, WaitMeter};
use crate::checkpoint::{CheckpointError, CheckpointStore, FORMAT_VERSION, NewRun};
use crate::event::{Awaited, Event, EventSink, Mode, RunStatus, StepStatus};
use crate::plan::{Plan, StepIdx};
use crate::runbook::{Loaded, OnFailure, Runbook, Step};
use crate::template;

type Interrupt = Pin<Box<dyn Future<Output = ()> + Send>>;

/// How a run (or a resumed segment of it) ended.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub run_id: String,
    pub mode: Mode,
    pub status: RunStatus,
    /// Failed steps with their errors, main steps first, then `finally` steps.
    pub failed: Vec<(String, ActionError)>,
    /// Approval steps the run waits for (status `Paused`).
    pub awaiting_approval: Vec<(String, String)>,
    /// True when Ctrl-C (the interrupt future) paused the run.
    pub interrupted: bool,
    /// Steps abandoned while running (interrupt): in doubt until resumed.
    pub in_doubt: Vec<String>,
    /// Set when expired, missing or invalid credentials paused the run: the first such error.
    pub credentials: Option<String>,
    /// Set when the state store stopped answering during the run (its error, naming the
    /// store): nothing was written after the append that failed, and the run paused. The
    /// journal then ends without `run_paused`; a resume goes on from what it holds.
    pub store_lost: Option<String>,
    /// Steps whose outcome could not be recorded because the store stopped answering, with
    /// what happened to them (`succeeded: ...`, `failed: ...`): in doubt, observed again on
    /// resume.
    pub unrecorded: Vec<(String, String)>,
    pub duration: Duration,
}

/// Whether a runbook needs AWS at all: AWS actions, approvals in execute mode (the approver's
/// identity) or an account guard. A runbook of core `wait` steps runs without AWS.
pub fn needs_aws(runbook: &Runbook, mode: Mode) -> bool {
    !runbook.accounts.is_empty()
        || runbook.steps.iter().chain(&runbook.finally).any(|s| {
            let service = crate::catalog::lookup(&s.action).map(|a| a.service);
            service.is_some_and(|sv| sv != Service::Core)
                || (s.action == "approval" && mode == Mode::Execute)
        })
}

/// The `accounts` guard: every step's effective account (its role's, else the caller's) must
/// be one of the runbook's accounts. The caller's own account is checked when some AWS step
/// runs as the caller, or when there is no AWS step at all.
fn check_accounts(runbook: &Runbook, caller: &Identity) -> Result<(), EngineError> {
    if runbook.accounts.is_empty() {
        return Ok(());
    }
    let expected = || runbook.accounts.values().cloned().collect::<Vec<_>>();
    let listed = |a: &str| runbook.accounts.values().any(|x| x == a);
    // A runbook without AWS steps (waits and approvals) is guarded by the caller's account.
    let mut as_caller = !runbook
        .steps
        .iter()
        .chain(&runbook.finally)
        .any(|s| crate::catalog::lookup(&s.action).is_some_and(|a| a.service != Service::Core));
    for s in runbook.steps.iter().chain(&runbook.finally) {
        match &s.role {
            Some(role) if !listed(role.account()) => {
                return Err(EngineError::RoleOutsideAccounts {
                    step: s.id.clone(),
                    role: role.arn.clone(),
                    account: role.account().to_string(),
                    expected: expected(),
                });
            }
            Some(_) => {}
            None => {
                as_caller |=
                    crate::catalog::lookup(&s.action).is_some_and(|a| a.service != Service::Core)
            }
        }
    }
    if as_caller && !listed(&caller.account) {
        return Err(EngineError::WrongAccount {
            actual: caller.account.clone(),
            expected: expected(),
        });
    }
    Ok(())
}

/// Refuses to start while a secret variable's environment variable is unset, or holds a value
/// too short to redact (validation does not look at values).
fn check_secrets(runbook: &Runbook) -> Result<(), EngineError> {
    if let Some((name, env)) = runbook.missing_secrets().first() {
        return Err(EngineError::SecretMissing {
            name: name.to_string(),
            env: env.to_string(),
        });
    }
    match runbook.short_secrets().first() {
        Some((name, env)) => Err(EngineError::SecretTooShort {
            name: name.to_string(),
            env: env.to_string(),
        }),
        None => Ok(()),
    }
}

/// Refuses a resume whose approvals were granted by someone who executed the run: who
/// started it, resumed it before, or resumes it now (unless the runbook allows self-approval).
fn check_approvers(
    run_id: &str,
    records: &[crate::checkpoint::Record],
    resumer: Option<&Identity>,
    runbook: &Runbook,
) -> Result<(), EngineError> {
    if runbook.allow_self_approval {
        return Ok(());
    }
    let mut executors = super::approve::executors(records);
    executors.extend(resumer.map(|i| ("resumes", i)));
    for r in records {
        if let Event::ApprovalGranted { approver, .. } = &r.event
            && let Some((how, _)) = executors.iter().find(|(_, i)| i.arn == approver.arn)
        {
            return Err(EngineError::SelfApproval {
                run_id: run_id.to_string(),
                arn: approver.arn.clone(),
                how,
            });
        }
    }
    Ok(())
}

/// Runs and resumes runbooks.
pub struct Engine {
    store: Arc<dyn CheckpointStore>,
    registry: Registry,
    aws: Arc<Aws>,
    sink: Arc<dyn EventSink>,
    max_parallel: usize,
    grace: Duration,
    flush_delay: Duration,
    interrupt: Mutex<Option<Interrupt>>,
    identity: Option<Identity>,
    /// The key the run's evidence will be sealed with, recorded in `run_started`.
    sealed_by: Option<crate::event::SignerInfo>,
}

/// What a resume goes on with besides the stored run.
#[derive(Debug, Clone, Default)]
pub struct ResumeWith {
    /// `--runbook FILE`: compared with the runbook the run goes on with; a different one needs
    /// `force`. Without it the run goes on with its own copy (no path recorded in the journal
    /// is ever read).
    pub runbook: Option<std::path::PathBuf>,
    /// `--var NAME=VALUE`: changes the run's variables (needs `force`).
    pub vars: Vec<(String, String)>,
    /// `--force`: go on with a changed runbook or variables, recorded; every approval is asked
    /// again, since each statement binds what it approved.
    pub force: bool,
}

impl Engine {
    pub fn new(
        store: Arc<dyn CheckpointStore>,
        registry: Registry,
        aws: Arc<Aws>,
        sink: Arc<dyn EventSink>,
    ) -> Engine {
        Engine {
            store,
            registry,
            aws,
            sink,
            max_parallel: 8,
            grace: Duration::from_secs(10),
            flush_delay: Duration::from_millis(20),
            interrupt: Mutex::new(None),
            identity: None,
            sealed_by: None,
        }
    }

    /// Records in `run_started` the key the run's evidence will be sealed with.
    pub fn sealed_by(mut self, signer: Option<crate::event::SignerInfo>) -> Engine {
        self.sealed_by = signer;
        self
    }

    /// Steps running at once (at least 1).
    pub fn max_parallel(mut self, n: usize) -> Engine {
        self.max_parallel = n.max(1);
        self
    }

    /// How long running steps may go on after an interrupt before they are abandoned.
    pub fn grace(mut self, d: Duration) -> Engine {
        self.grace = d;
        self
    }

    /// Uses this caller identity instead of asking AWS (tests, embedding).
    pub fn with_identity(mut self, identity: Identity) -> Engine {
        self.identity = Some(identity);
        self
    }

    /// A future that resolves on Ctrl-C (the CLI passes `tokio::signal::ctrl_c`). Used by the
    /// next `run` or `resume`.
    pub fn interrupt(self, fut: impl Future<Output = ()> + Send + 'static) -> Engine {
        *self.interrupt.lock().expect("interrupt slot poisoned") = Some(Box::pin(fut));
        self
    }

    async fn identity_for(
        &self,
        runbook: &Runbook,
        mode: Mode,
    ) -> Result<Option<Identity>, EngineError> {
        if !needs_aws(runbook, mode) {
            return Ok(None);
        }
        let id = match &self.identity {
            Some(id) => id.clone(),
            None => caller_identity(&self.aws, &identity_region(runbook))
                .await
                .map_err(EngineError::Identity)?,
        };
        check_accounts(runbook, &id)?;
        Ok(Some(id))
    }

    fn check_implementations(&self, runbook: &Runbook) -> Result<(), EngineError> {
        for s in runbook.steps.iter().chain(&runbook.finally) {
            if self.registry.get(&s.action).is_none() {
                return Err(EngineError::NoImplementation {
                    step: s.id.clone(),
                    action: s.action.clone(),
                });
            }
        }
        Ok(())
    }

    /// Starts a new run of `loaded` and drives it until it finishes or pauses.
    pub async fn run(&self, loaded: &Loaded, mode: Mode) -> Result<RunResult, EngineError> {
        self.run_with(loaded, mode, vec![]).await
    }

    /// [`Engine::run`], with `preamble` recorded right after `run_started`, before any step
    /// (a drill records its scenario so that a resume continues it as a drill).
    pub async fn run_with(
        &self,
        loaded: &Loaded,
        mode: Mode,
        preamble: Vec<Event>,
    ) -> Result<RunResult, EngineError> {
        let runbook = &loaded.runbook;
        self.check_implementations(runbook)?;
        check_secrets(runbook)?;
        let identity = self.identity_for(runbook, mode).await?;
        let path = std::fs::canonicalize(&loaded.path).unwrap_or_else(|_| loaded.path.clone());
        let path = path.display().to_string();
        let walk = Walk::new(&Plan::build(runbook)?);
        let order: Vec<String> = walk.topo_order();
        let mut attempt = 0;
        let run_id = loop {
            let run_id = crate::checkpoint::new_run_id();
            let new = NewRun {
                run_id: run_id.clone(),
                runbook_text: loaded.text.clone(),
                runbook_path: path.clone(),
                vars: runbook.shown_vars(),
                identity: identity.clone(),
            };
            let first = Event::RunStarted {
                format_version: FORMAT_VERSION,
                run_id: run_id.clone(),
                runbook: path.clone(),
                runbook_sha256: loaded.sha256.clone(),
                mode,
                identity: identity.clone(),
                host: host_name(),
                user: std::env::var("USER").unwrap_or_default(),
                drillbook_version: env!("CARGO_PKG_VERSION").to_string(),
                steps: order.clone(),
                vars_sha256: Some(crate::checkpoint::vars_sha256_of(&new.vars)),
                sealed_by: self.sealed_by.clone(),
            };
            match self.store.create(&new, first.clone()).await {
                Ok(()) => {
                    super::crash::point(super::crash::Point::Start, "");
                    self.sink.emit(Utc::now(), &first);
                    break run_id;
                }
                // Two runs in the same second with the same random suffix: draw again.
                Err(CheckpointError::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::AlreadyExists && attempt < 5 =>
                {
                    attempt += 1;
                }
                Err(e) => return Err(e.into()),
            }
        };
        if !preamble.is_empty() {
            self.store.append(&run_id, preamble.clone()).await?;
            preamble.iter().for_each(|e| self.sink.emit(Utc::now(), e));
        }
        self.drive(run_id, mode, runbook, walk, identity).await
    }

    /// Records events of a run outside its steps (a drill's verdicts) the way the run's own are:
    /// durable in the journal, then reported to the sink.
    pub async fn record(&self, run_id: &str, events: Vec<Event>) -> Result<(), EngineError> {
        self.store.append(run_id, events.clone()).await?;
        events.iter().for_each(|e| self.sink.emit(Utc::now(), e));
        Ok(())
    }

    /// Continues an interrupted, paused or failed run. Succeeded steps never run again; steps
    /// that were running when the previous process stopped are in doubt: their action observes
    /// first and applies only what is still needed. An approval step passes only on an approval
    /// statement that matches the run as it goes on (see [`crate::evidence::approval`]).
    pub async fn resume(&self, run_id: &str, with: &ResumeWith) -> Result<RunResult, EngineError> {
        // The store checks the chain, the runbook copy and variables against `run_started`,
        // and that the run is all one mode.
        let stored = self.store.load(run_id).await?;
        let Event::RunStarted { mode, .. } = &stored.records[0].event else {
            unreachable!("the store checks the first record")
        };
        let mode = *mode;
        let effect = stored.in_effect();
        let path = Path::new(&stored.runbook_path);
        let text = match &with.runbook {
            None => effect.runbook_text.to_string(),
            Some(file) => {
                let bytes = std::fs::read(file).map_err(|e| EngineError::RunbookMissing {
                    run_id: run_id.to_string(),
                    path: file.display().to_string(),
                    reason: e.to_string(),
                })?;
                String::from_utf8(bytes).map_err(|_| EngineError::RunbookMissing {
                    run_id: run_id.to_string(),
                    path: file.display().to_string(),
                    reason: "not UTF-8".into(),
                })?
            }
        };
        let mut overrides: Vec<(String, String)> = effect.vars.clone().into_iter().collect();
        overrides.extend(with.vars.iter().cloned());
        let loaded =
            crate::runbook::load_str(path, &text, &overrides).map_err(EngineError::Runbook)?;
        let runbook = &loaded.runbook;
        let vars = runbook.shown_vars();
        let text_changed = text != effect.runbook_text;
        let vars_changed = vars != effect.vars;
        let changed = text_changed || vars_changed;
        if changed && !with.force {
            let what = match (text_changed, vars_changed) {
                (true, true) => "the runbook and variables",
                (true, false) => "the runbook",
                _ => "the variables",
            };
            return Err(EngineError::RunbookChanged {
                run_id: run_id.to_string(),
                what: what.to_string(),
            });
        }
        if with.force && !changed {
            return Err(EngineError::NothingToForce {
                run_id: run_id.to_string(),
            });
        }
        self.check_implementations(runbook)?;
        check_secrets(runbook)?;
        let identity = self.identity_for(runbook, mode).await?;
        check_approvers(run_id, &stored.records, identity.as_ref(), runbook)?;

        // The gates: judged on the runbook and variables in effect. A change starts a new
        // epoch in which nothing is approved yet.
        let approval_steps: Vec<String> = runbook
            .steps
            .iter()
            .chain(&runbook.finally)
            .filter(|s| s.action == "approval")
            .map(|s| s.id.clone())
            .collect();
        let mut granted: HashMap<String, Identity> = HashMap::new();
        let since = if changed {
            stored.records.len()
        } else {
            let gates = crate::evidence::approval::gates(run_id, &stored.records, runbook, &effect);
            for (step, gate) in gates {
                let refuse = |reason: String| EngineError::ApprovalNotTrusted {
                    run_id: run_id.to_string(),
                    step: step.clone(),
                    reason,
                    help: "the run stops here: find out who wrote this record (the journal's \
                           host and time, CloudTrail for the DynamoDB store); an approver can \
                           approve the step again with `drillbook approve`"
                        .into(),
                };
                if let Some(&at) = gate.unapproved_passes.first() {
                    return Err(refuse(format!(
                        "journal record {} passes the step, but no approval statement matches it",
                        stored.records[at].seq
                    )));
                }
                match gate.passed {
                    Some((_, who)) => {
                        granted.insert(step, who);
                    }
                    None => {
                        if let Some((at, reason)) = gate.refused.into_iter().next() {
                            return Err(refuse(format!(
                                "record {}: {reason}",
                                stored.records[at].seq
                            )));
                        }
                    }
                }
            }
            effect.since
        };

        let mut walk = Walk::new(&Plan::build(runbook)?);
        let in_doubt = walk.restore(&stored.records, mode, &approval_steps, granted, since);
        let resumed = Event::RunResumed {
            run_id: run_id.to_string(),
            runbook: stored.runbook_path.clone(),
            mode: Some(mode),
            steps: walk.topo_order(),
            identity: identity.clone(),
            host: host_name(),
            in_doubt,
            forced: changed,
            runbook_sha256: text_changed.then(|| loaded.sha256.clone()),
            runbook_text: text_changed.then(|| text.clone()),
            reapprove: if changed { approval_steps } else { vec![] },
            vars_sha256: vars_changed.then(|| crate::checkpoint::vars_sha256_of(&vars)),
            vars: vars_changed.then_some(vars),
        };
        self.store.append(run_id, vec![resumed.clone()]).await?;
        self.sink.emit(Utc::now(), &resumed);
        self.drive(run_id.to_string(), mode, runbook, walk, identity)
            .await
    }

    async fn drive(
        &self,
        run_id: String,
        mode: Mode,
        runbook: &Runbook,
        walk: Walk,
        caller: Option<Identity>,
    ) -> Result<RunResult, EngineError> {
        let start = Instant::now();
        let (tx, rx) = mpsc::unbounded_channel();
        let interrupt = self
            .interrupt
            .lock()
            .expect("interrupt slot poisoned")
            .take();
        let mut d = Driver {
            engine: self,
            run_id: run_id.clone(),
            mode,
            runbook,
            walk,
            tx,
            rx,
            pending: Vec::new(),
            syncs: Vec::new(),
            flush_at: None,
            interrupt,
            interrupted: false,
            credentials: None,
            store_lost: None,
            unrecorded: Vec::new(),
            caller,
            stopping: false,
            aborted_by: None,
            failed_main: Vec::new(),
            failed_finally: Vec::new(),
            in_doubt: Vec::new(),
        };
        let n_main = runbook.steps.len();
        let n = n_main + runbook.finally.len();
        let main = d.phase(0..n_main, false).await?;
        let mut status = main;
        if status != RunStatus::Paused && n > n_main {
            // Cleanup runs whatever the main outcome; its failures are reported but the main
            // result stays visible (failed main steps are listed first).
            d.stopping = false;
            let fin = d.phase(n_main..n, true).await?;
            status = match (status, fin) {
                (_, RunStatus::Paused) => RunStatus::Paused,
                (RunStatus::Succeeded, s) => s,
                (s, _) => s,
            };
        }
        let awaiting = d.walk.awaiting();
        let end = if status == RunStatus::Paused {
            let reason = if let Some(c) = &d.credentials {
                format!("credentials: {c}")
            } else if d.interrupted {
                "interrupted".to_string()
            } else {
                format!(
                    "awaiting approval of {}",
                    awaiting
                        .iter()
                        .map(|(s, _)| format!("`{s}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            let awaiting = awaiting
                .iter()
                .map(|(step, message)| Awaited {
                    step: step.clone(),
                    message: message.clone(),
                })
                .collect();
            Event::RunPaused { reason, awaiting }
        } else {
            Event::RunFinished { status }
        };
        if d.store_lost.is_none() {
            d.pending.push(end.clone());
        }
        d.flush().await?;
        if d.store_lost.is_none() {
            self.sink.emit(Utc::now(), &end);
        }
        // Else the journal has no end, and reporting one would count outcomes it lacks; the
        // caller says what happened (`RunResult::store_lost`).
        let duration = start.elapsed();
        let mut failed = std::mem::take(&mut d.failed_main);
        failed.append(&mut d.failed_finally);
        Ok(RunResult {
            run_id,
            mode,
            status,
            failed,
            awaiting_approval: awaiting,
            interrupted: d.interrupted,
            in_doubt: std::mem::take(&mut d.in_doubt),
            credentials: d.credentials.take(),
            store_lost: d.store_lost.take().map(|e| e.to_string()),
            unrecorded: std::mem::take(&mut d.unrecorded),
            duration,
        })
    }
}

/// The step outcomes a batch of records holds: each step and what happened to it.
fn outcomes_in(batch: &[Event]) -> Vec<(String, String)> {
    batch
        .iter()
        .filter_map(|e| match e {
            Event::StepSucceeded { step, outcome, .. } => {
                Some((step.clone(), format!("succeeded: {}", outcome.summary)))
            }
            Event::StepFailed { step, error, .. } => {
                Some((step.clone(), format!("failed: {error}")))
            }
            _ => None,
        })
        .collect()
}

/// 128 random bits, hex: the nonce of one approval request.
fn new_nonce() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    hex::encode(bytes)
}

fn host_name() -> String {
    crate::checkpoint::lock::machine_name().unwrap_or_default()
}

/// The graph and each step's state, indexed by position (main steps, then `finally`).
struct Walk {
    ids: Vec<String>,
    index: HashMap<String, usize>,
    status: Vec<StepStatus>,
    /// Dependencies not yet succeeded (within the same phase).
    remaining: Vec<usize>,
    dependents: Vec<Vec<usize>>,
    outputs: BTreeMap<String, BTreeMap<String, String>>,
    requested: HashSet<String>,
    granted: HashMap<String, Identity>,
    /// Approval step -> its message, for steps awaiting approval.
    approval_messages: HashMap<String, String>,
    /// Dry-run: the step (this one or an upstream one) whose changes this step comes after.
    /// A read-only check downstream of a change cannot hold before the change is made.
    after_change: Vec<Option<String>>,
    n_main: usize,
    /// The last journaled observation of each step without an outcome since (a resumed step in
    /// doubt is given it: [`StepContext::earlier`]); a failed or skipped step runs afresh.
    observed: HashMap<String, crate::actions::Observation>,
}

impl Walk {
    /// The walk of a plan: its main graph's steps, then its cleanup graph's (a cleanup step's
    /// need on a main step is only an ordering, satisfied by the time cleanup runs).
    fn new(plan: &Plan) -> Walk {
        let (main, cleanup) = (plan.main(), plan.cleanup());
        let n_main = main.len();
        let n = n_main + cleanup.len();
        let mut ids = Vec::with_capacity(n);
        let mut remaining = Vec::with_capacity(n);
        let mut dependents = Vec::with_capacity(n);
        for (offset, graph) in [(0, main), (n_main, cleanup)] {
            for i in 0..graph.len() {
                let idx = StepIdx::new(i);
                ids.push(graph.id(idx).to_string());
                remaining.push(graph.dependencies(idx).count());
                // In step order, as the ready queue takes them (and the plan's list schedule).
                let mut ds: Vec<usize> =
                    graph.dependents(idx).map(|d| offset + d.index()).collect();
                ds.sort_unstable();
                dependents.push(ds);
            }
        }
        let index: HashMap<String, usize> = ids
            .iter()
            .enumerate()
            .map(|(i, s)| (s.clone(), i))
            .collect();
        Walk {
            ids,
            index,
            status: vec![StepStatus::NotStarted; n],
            after_change: vec![None; n],
            remaining,
            dependents,
            outputs: BTreeMap::new(),
            requested: HashSet::new(),
            granted: HashMap::new(),
            approval_messages: HashMap::new(),
            n_main,
            observed: HashMap::new(),
        }
    }

    /// A valid start order (the one Kahn order of `crate::dag`), main steps then finally steps.
    fn topo_order(&self) -> Vec<String> {
        let mut needs: Vec<Vec<usize>> = vec![Vec::new(); self.ids.len()];
        for (i, ds) in self.dependents.iter().enumerate() {
            for &j in ds {
                needs[j].push(i);
            }
        }
        let (mut out, _) = crate::dag::topo_order(&needs);
        out.sort_by_key(|&i| i >= self.n_main);
        out.into_iter().map(|i| self.ids[i].clone()).collect()
    }

    /// Applies a journal: succeeded steps and their outputs. Returns the steps in doubt
    /// (started, no outcome). In an execution an approval step counts as passed only when
    /// `granted` (judged from approval statements) says so, whatever the journal records;
    /// requests made before `since` (the epoch's first record) were for another runbook or
    /// variables, and are made again.
    fn restore(
        &mut self,
        records: &[crate::checkpoint::Record],
        mode: Mode,
        approval_steps: &[String],
        granted: HashMap<String, Identity>,
        since: usize,
    ) -> Vec<String> {
        let mut started: HashSet<&str> = HashSet::new();
        for (at, r) in records.iter().enumerate() {
            match &r.event {
                Event::StepStarted { step, .. } => {
                    started.insert(step);
                }
                Event::StepObserved { step, observation } => {
                    self.observed.insert(step.clone(), observation.clone());
                }
                Event::StepSucceeded { step, outcome, .. } => {
                    started.remove(step.as_str());
                    let gate_closed = mode == Mode::Execute
                        && approval_steps.contains(step)
                        && !granted.contains_key(step);
                    if let Some(&i) = self.index.get(step)
                        && !gate_closed
                    {
                        self.status[i] = StepStatus::Succeeded;
                        self.outputs.insert(step.clone(), outcome.outputs.clone());
                    }
                }
                Event::StepFailed { step, .. } | Event::StepSkipped { step, .. } => {
                    started.remove(step.as_str());
                    // Run again from the start: what it observed is not given to it.
                    self.observed.remove(step);
                }
                Event::ApprovalRequested { step, .. } if at >= since => {
                    self.requested.insert(step.clone());
                }
                _ => {}
            }
        }
        self.granted = granted;
        for i in 0..self.ids.len() {
            if self.status[i] == StepStatus::Succeeded {
                for k in 0..self.dependents[i].len() {
                    let j = self.dependents[i][k];
                    self.remaining[j] -= 1;
                }
            }
        }
        let mut in_doubt: Vec<String> = started
            .into_iter()
            .filter(|s| self.index.contains_key(*s))
            .map(str::to_string)
            .collect();
        in_doubt.sort();
        in_doubt
    }

    fn awaiting(&self) -> Vec<(String, String)> {
        (0..self.ids.len())
            .filter(|&i| self.status[i] == StepStatus::AwaitingApproval)
            .map(|i| {
                let msg = self.approval_messages.get(&self.ids[i]).cloned();
                (self.ids[i].clone(), msg.unwrap_or_default())
            })
            .collect()
    }
}

struct Driver<'a> {
    engine: &'a Engine,
    run_id: String,
    mode: Mode,
    runbook: &'a Runbook,
    walk: Walk,
    tx: mpsc::UnboundedSender<ToJournal>,
    rx: mpsc::UnboundedReceiver<ToJournal>,
    pending: Vec<Event>,
    /// Steps waiting until what they sent is durable (answered by the next flush).
    syncs: Vec<oneshot::Sender<()>>,
    flush_at: Option<Instant>,
    interrupt: Option<Interrupt>,
    interrupted: bool,
    /// The credentials error that paused the run, if one did.
    credentials: Option<String>,
    /// The store's error, once an append failed because the store did not answer: from then
    /// on nothing is written (see [`Driver::flush`]).
    store_lost: Option<CheckpointError>,
    /// Steps whose outcome was lost with the store, and what it was.
    unrecorded: Vec<(String, String)>,
    /// Who runs it (the account of calls made without a role).
    caller: Option<Identity>,
    stopping: bool,
    /// The failed step whose `on_failure: abort` stopped the phase (the skip reason names it,
    /// not an earlier failure of a step that let the run go on).
    aborted_by: Option<String>,
    failed_main: Vec<(String, ActionError)>,
    failed_finally: Vec<(String, ActionError)>,
    in_doubt: Vec<String>,
}

/// What starting a step did.
enum Start {
    Spawned,
    /// Finished at once (a granted approval, a template that cannot render).
    Done(StepDone),
    /// An approval step now waits for `drillbook approve`.
    Awaiting,
}

impl Driver<'_> {
    fn step(&self, i: usize) -> &Step {
        let n_main = self.walk.n_main;
        if i < n_main {
            &self.runbook.steps[i]
        } else {
            &self.runbook.finally[i - n_main]
        }
    }

    /// Makes the pending records durable and answers the steps waiting for that.
    ///
    /// When the store does not answer ([`CheckpointError::Unavailable`], after the store's
    /// own bounded retries), the run pauses: nothing new starts, and nothing more is written
    /// by this process, since the failed write may have landed and writing its records again
    /// would record them twice. Steps waiting to make a change are not answered, so they make
    /// none; outcomes are kept in memory only, to be reported (see [`Driver::lose`]).
    async fn flush(&mut self) -> Result<(), EngineError> {
        self.flush_at = None;
        if self.store_lost.is_some() {
            let batch = std::mem::take(&mut self.pending);
            let outcomes = outcomes_in(&batch);
            self.lose(outcomes);
            self.syncs.clear();
            return Ok(());
        }
        if !self.pending.is_empty() {
            let batch = std::mem::take(&mut self.pending);
            // What the batch would record, should it not be written (the store takes it).
            let outcomes = outcomes_in(&batch);
            match self.engine.store.append(&self.run_id, batch).await {
                Ok(()) => {}
                Err(e @ CheckpointError::Unavailable { .. }) => {
                    self.store_lost = Some(e);
                    self.stopping = true;
                    self.lose(outcomes);
                    self.syncs.clear();
                    return Ok(());
                }
                Err(e) => return Err(e.into()),
            }
        }
        for ack in self.syncs.drain(..) {
            let _ = ack.send(());
        }
        Ok(())
    }

    /// Takes back the outcomes of a batch that was not written: those steps are in doubt
    /// (started, no outcome recorded), and neither failed nor succeeded for this process.
    fn lose(&mut self, outcomes: Vec<(String, String)>) {
        for (step, what) in outcomes {
            if let Some(&i) = self.walk.index.get(&step) {
                self.walk.status[i] = StepStatus::NotStarted;
            }
            self.failed_main.retain(|(s, _)| *s != step);
            self.failed_finally.retain(|(s, _)| *s != step);
            self.unrecorded.push((step, what));
        }
    }

    /// Takes one message of a step: a record joins the next flush; a sync request is answered
    /// by it (the caller flushes at once when one is waiting).
    fn take(&mut self, m: ToJournal) {
        match m {
            ToJournal::Record(e) => {
                self.pending.push(e);
                if self.flush_at.is_none() {
                    self.flush_at = Some(Instant::now() + self.engine.flush_delay);
                }
            }
            ToJournal::Sync(ack) => self.syncs.push(ack),
        }
    }

    fn drain_rx(&mut self) {
        while let Ok(m) = self.rx.try_recv() {
            self.take(m);
        }
    }

    /// Reports an event and keeps it for the journal (durable at the next flush).
    fn emit(&mut self, e: Event) {
        self.engine.sink.emit(Utc::now(), &e);
        self.pending.push(e);
    }

    fn start(&mut self, i: usize, tasks: &mut JoinSet<StepDone>) -> Start {
        let step = self.step(i).clone();
        if step.action == "approval" && self.mode == Mode::Execute {
            if let Some(who) = self.walk.granted.get(&step.id) {
                return Start::Done(StepDone {
                    idx: i,
                    result: Ok(Outcome {
                        summary: format!("approved by {}", who.arn),
                        changes: vec![],
                        outputs: BTreeMap::from([("approved_by".to_string(), who.arn.clone())]),
                    }),
                    attempts: 1,
                    duration: Duration::ZERO,
                    aws_wait: Duration::ZERO,
                });
            }
            let message = step
                .with
                .get("message")
                .and_then(|m| m.as_str())
                .unwrap_or_default()
                .to_string();
            self.walk.status[i] = StepStatus::AwaitingApproval;
            self.walk
                .approval_messages
                .insert(step.id.clone(), message.clone());
            // Requested once per run; a resume that still waits says so when it pauses.
            if self.walk.requested.insert(step.id.clone()) {
                self.emit(Event::ApprovalRequested {
                    step: step.id.clone(),
                    message,
                    nonce: new_nonce(),
                });
            }
            return Start::Awaiting;
        }
        let failed = |e: ActionError| {
            Start::Done(StepDone {
                idx: i,
                result: Err(e),
                attempts: 1,
                duration: Duration::ZERO,
                aws_wait: Duration::ZERO,
            })
        };
        let Some(action) = self.engine.registry.get(&step.action) else {
            return failed(ActionError::Invalid {
                message: format!("action `{}` has no implementation", step.action),
                hint: String::new(),
            });
        };
        let ctx = template::Context {
            vars: None,
            run_id: Some(&self.run_id),
            outputs: Some(&self.walk.outputs),
        };
        let rendered: Result<BTreeMap<String, serde_json::Value>, template::TemplateError> = step
            .with
            .iter()
            .map(|(k, v)| Ok((k.clone(), template::render_value(v, &ctx)?)))
            .collect();
        let region = step
            .region
            .as_deref()
            .map(|r| template::render(r, &ctx))
            .transpose();
        let (params, region) = match (rendered, region) {
            (Ok(p), Ok(r)) => (p, r),
            (Err(e), _) | (_, Err(e)) => {
                return failed(ActionError::Invalid {
                    message: format!("cannot render the parameters of step `{}`: {e}", step.id),
                    hint: "a step can only use outputs of steps it (transitively) needs".into(),
                });
            }
        };
        // Running: started, and in doubt until its outcome is recorded.
        self.walk.status[i] = StepStatus::InDoubt;
        let upstream_change = step
            .needs
            .iter()
            .filter_map(|n| self.walk.index.get(n))
            .find_map(|&d| self.walk.after_change[d].clone());
        self.walk.after_change[i] = upstream_change.clone();
        let job = StepJob {
            idx: i,
            action,
            ctx: StepContext {
                run_id: self.run_id.clone(),
                step_id: step.id.clone(),
                region,
                params: Params(params),
                objectives: self.runbook.objectives.clone(),
                role_arn: step.role.as_ref().map(|r| r.arn.clone()),
                aws: self.engine.aws.clone(),
                waits: WaitMeter::default(),
                earlier: self.walk.observed.get(&step.id).cloned(),
            },
            call_timeouts: step.call_timeouts,
            role: step.role.clone(),
            mode: self.mode,
            upstream_change,
            timeout: step.timeout,
            retry: step.retry,
            journal: self.tx.clone(),
            sink: self.engine.sink.clone(),
            earlier: std::sync::Mutex::new(None),
        };
        tasks.spawn(job.run());
        Start::Spawned
    }

    /// Whether the outcomes just recorded must be durable before anything else starts.
    ///
    /// An outcome that is lost in a crash is not lost work when the step changed nothing: the
    /// resumed run does it again. So the outcomes of steps that change nothing (read-only
    /// actions, and every step of a dry run) may be batched; a step that is about to change AWS
    /// waits until everything before it is durable anyway (`StepJob::durable`), and so does the
    /// run's end. The outcome of a step that may have changed AWS, and a failure (which decides
    /// what is skipped), are made durable at once.
    fn must_flush(&self, finished: &[StepDone]) -> bool {
        finished.iter().any(|d| {
            let step = self.step(d.idx);
            let mutates = self.mode == Mode::Execute
                && crate::catalog::lookup(&step.action).is_none_or(|a| a.mutates);
            mutates
                || d.result.is_err()
                || super::crash::armed(super::crash::Point::After, &step.id)
        })
    }

    /// Records an outcome into `pending` (durable at the next flush).
    fn record(&mut self, d: &StepDone, in_finally: bool) {
        let id = self.walk.ids[d.idx].clone();
        let mut calls = self.engine.aws.take_calls(&id);
        if !calls.is_empty() {
            for c in &mut calls {
                if c.account.is_none() {
                    c.account = self.caller.as_ref().map(|i| i.account.clone());
                }
            }
            self.emit(Event::AwsCalls {
                step: id.clone(),
                calls,
            });
        }
        match &d.result {
            Ok(outcome) => {
                self.walk.status[d.idx] = StepStatus::Succeeded;
                let mutates =
                    crate::catalog::lookup(&self.step(d.idx).action).is_some_and(|a| a.mutates);
                if self.mode == Mode::DryRun && mutates && !outcome.changes.is_empty() {
                    self.walk.after_change[d.idx] = Some(id.clone());
                }
                self.walk
                    .outputs
                    .insert(id.clone(), outcome.outputs.clone());
                self.emit(Event::StepSucceeded {
                    step: id,
                    outcome: outcome.clone(),
                    attempts: d.attempts,
                    duration_ms: d.duration.as_millis() as u64,
                    aws_wait_ms: d.aws_wait.as_millis() as u64,
                    dry_run: self.mode == Mode::DryRun,
                });
            }
            Err(e) if e.is_credentials() => {
                // Not the step's failure: the credentials ran out (or were never there). The
                // step stays in doubt (started, no outcome) and the run pauses, as on Ctrl-C;
                // steps still running finish, and nothing new starts.
                self.walk.status[d.idx] = StepStatus::NotStarted;
                self.in_doubt.push(id);
                self.interrupted = true;
                self.stopping = true;
                self.credentials.get_or_insert_with(|| e.to_string());
            }
            Err(e) => {
                self.walk.status[d.idx] = StepStatus::Failed;
                self.emit(Event::StepFailed {
                    step: id.clone(),
                    error: e.clone(),
                    attempts: d.attempts,
                    duration_ms: d.duration.as_millis() as u64,
                });
                if in_finally {
                    self.failed_finally.push((id, e.clone()));
                } else {
                    self.failed_main.push((id, e.clone()));
                }
            }
        }
    }

    fn skip(&mut self, i: usize, reason: String) {
        self.walk.status[i] = StepStatus::Skipped;
        let step = self.walk.ids[i].clone();
        self.emit(Event::StepSkipped { step, reason });
    }

    /// Skips every pending step that (transitively) needs `failed`.
    fn skip_dependents(&mut self, failed: usize) {
        let name = self.walk.ids[failed].clone();
        let mut stack = vec![failed];
        while let Some(i) = stack.pop() {
            for k in 0..self.walk.dependents[i].len() {
                let j = self.walk.dependents[i][k];
                if self.walk.status[j] == StepStatus::NotStarted {
                    let reason = if i == failed {
                        format!("needs `{name}`, which failed")
                    } else {
                        format!("needs `{}`, which was skipped", self.walk.ids[i])
                    };
                    self.skip(j, reason);
                    stack.push(j);
                }
            }
        }
    }

    /// Runs the steps of `range` until none can progress.
    async fn phase(
        &mut self,
        range: Range<usize>,
        in_finally: bool,
    ) -> Result<RunStatus, EngineError> {
        let max = self.engine.max_parallel;
        let mut ready: VecDeque<usize> = range
            .clone()
            .filter(|&i| self.walk.status[i] != StepStatus::Succeeded)
            .filter(|&i| self.walk.remaining[i] == 0)
            .collect();
        // Statuses of a resumed run: failed/skipped steps run again.
        for i in range.clone() {
            if self.walk.status[i] != StepStatus::Succeeded {
                self.walk.status[i] = StepStatus::NotStarted;
            }
        }
        let mut tasks: JoinSet<StepDone> = JoinSet::new();
        let mut running = 0usize;
        let mut done: Vec<StepDone> = Vec::new();
        let mut grace_end: Option<Instant> = None;
        loop {
            if self.store_lost.is_some() && grace_end.is_none() {
                // The store stopped answering: what runs gets the grace period of Ctrl-C to
                // finish (its outcome is reported, not recorded), then it is abandoned.
                grace_end = Some(Instant::now() + self.engine.grace);
            }
            if !self.stopping {
                while running < max {
                    let Some(i) = ready.pop_front() else { break };
                    match self.start(i, &mut tasks) {
                        Start::Spawned => running += 1,
                        Start::Done(d) => done.push(d),
                        Start::Awaiting => {}
                    }
                }
            }
            if running == 0 && done.is_empty() && (self.stopping || ready.is_empty()) {
                break;
            }
            if done.is_empty() {
                let interrupt = self.interrupt.as_mut();
                let can_interrupt = interrupt.is_some() && !self.interrupted;
                let flush_at = self.flush_at;
                tokio::select! {
                    r = tasks.join_next(), if running > 0 => {
                        match r {
                            Some(Ok(d)) => { running -= 1; done.push(d); }
                            Some(Err(e)) if e.is_cancelled() => { running -= 1; }
                            Some(Err(e)) => std::panic::resume_unwind(e.into_panic()),
                            None => running = 0,
                        }
                    }
                    Some(m) = self.rx.recv() => {
                        self.take(m);
                        if !self.syncs.is_empty() {
                            // A step waits to make a change: flush now, not on a timer tick.
                            self.drain_rx();
                            self.flush().await?;
                        }
                    }
                    _ = async { interrupt.expect("guarded").await }, if can_interrupt => {
                        self.interrupted = true;
                        self.stopping = true;
                        grace_end = Some(Instant::now() + self.engine.grace);
                    }
                    _ = tokio::time::sleep_until(grace_end.unwrap_or_else(Instant::now)),
                        if grace_end.is_some() && running > 0 => {
                        // Grace period over: abandon what still runs. Those steps stay in
                        // doubt (started, no outcome) and are observed again on resume.
                        tasks.abort_all();
                        while let Some(r) = tasks.join_next().await {
                            if let Ok(d) = r { done.push(d); }
                        }
                        running = 0;
                        for i in range.clone() {
                            if self.walk.status[i] == StepStatus::InDoubt
                                && !done.iter().any(|d| d.idx == i)
                            {
                                self.walk.status[i] = StepStatus::NotStarted;
                                self.in_doubt.push(self.walk.ids[i].clone());
                            }
                        }
                    }
                    _ = tokio::time::sleep_until(flush_at.unwrap_or_else(Instant::now)),
                        if flush_at.is_some() => {
                        self.drain_rx();
                        self.flush().await?;
                    }
                }
            }
            while let Some(r) = tasks.try_join_next() {
                running -= 1;
                match r {
                    Ok(d) => done.push(d),
                    Err(e) if e.is_cancelled() => {}
                    Err(e) => std::panic::resume_unwind(e.into_panic()),
                }
            }
            if done.is_empty() {
                continue;
            }
            // Group commit: every outcome available now, with the records the steps sent
            // before finishing, in one append (one fsync). Outcomes that can wait (see
            // `must_flush`) join the next append instead: at the latest the flush timer's, or
            // the one a step that changes AWS asks for before its change, or the run's end.
            self.drain_rx();
            let finished = std::mem::take(&mut done);
            for d in &finished {
                self.record(d, in_finally);
            }
            if self.must_flush(&finished) {
                self.flush().await?;
            } else if self.flush_at.is_none() && !self.pending.is_empty() {
                self.flush_at = Some(Instant::now() + self.engine.flush_delay);
            }
            for d in &finished {
                super::crash::point(super::crash::Point::After, &self.walk.ids[d.idx]);
            }
            for d in finished {
                if self.store_lost.is_some() {
                    // Nothing follows from an outcome that is not recorded.
                    break;
                }
                match d.result {
                    Ok(_) => {
                        for k in 0..self.walk.dependents[d.idx].len() {
                            let j = self.walk.dependents[d.idx][k];
                            self.walk.remaining[j] -= 1;
                            if self.walk.remaining[j] == 0
                                && self.walk.status[j] == StepStatus::NotStarted
                            {
                                ready.push_back(j);
                            }
                        }
                    }
                    // In doubt, and the run pauses (see `record`).
                    Err(error) if error.is_credentials() => {}
                    Err(error) => {
                        // A dry run goes on past an SCP denial, so that it names every step
                        // the organization's guardrails would stop, before any change.
                        let scp_in_dry_run = self.mode == Mode::DryRun && error.is_scp_denial();
                        let policy = if in_finally || scp_in_dry_run {
                            OnFailure::Continue
                        } else {
                            self.step(d.idx).on_failure
                        };
                        match policy {
                            OnFailure::Abort => {
                                self.stopping = true;
                                if self.aborted_by.is_none() {
                                    self.aborted_by = Some(self.walk.ids[d.idx].clone());
                                }
                            }
                            OnFailure::Continue => self.skip_dependents(d.idx),
                        }
                    }
                }
            }
        }
        if self.interrupted || self.store_lost.is_some() {
            return Ok(RunStatus::Paused);
        }
        let any_failed = range
            .clone()
            .any(|i| self.walk.status[i] == StepStatus::Failed);
        if self.stopping {
            let first = self
                .aborted_by
                .take()
                .or_else(|| {
                    if in_finally {
                        self.failed_finally.first()
                    } else {
                        self.failed_main.first()
                    }
                    .map(|(s, _)| s.clone())
                })
                .unwrap_or_default();
            for i in range.clone() {
                if matches!(
                    self.walk.status[i],
                    StepStatus::NotStarted | StepStatus::AwaitingApproval
                ) {
                    self.skip(i, format!("the run was aborted after `{first}` failed"));
                }
            }
            return Ok(RunStatus::Failed);
        }
        if range
            .clone()
            .any(|i| self.walk.status[i] == StepStatus::AwaitingApproval)
        {
            return Ok(RunStatus::Paused);
        }
        Ok(if any_failed {
            RunStatus::Failed
        } else {
            RunStatus::Succeeded
        })
    }
}
