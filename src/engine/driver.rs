//! The driver: the ready-set scheduler that runs a walk to its end or a pause.
//!
//! One loop owns all state. Step tasks run on a `JoinSet`; they send their `StepStarted`,
//! `StepObserved` and `StepRetrying` records through a channel. When steps finish, the loop
//! takes every outcome available at that moment and appends them (with the buffered records)
//! in one batch — one fsync: group commit. When one of them may have changed AWS, or failed,
//! their dependents start only after that append; outcomes of steps that changed nothing may
//! wait for the next batch (a flush timer, the sync a step asks for before it changes AWS, or
//! the run's end).

use std::collections::{BTreeMap, VecDeque};
use std::ops::Range;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::error::EngineError;
use super::run::{Engine, Interrupt, RunResult};
use super::step::{StepDone, StepJob, ToJournal};
use super::walk::Walk;
use crate::actions::aws::Identity;
use crate::actions::{ActionError, Outcome, Params, StepContext, WaitMeter};
use crate::checkpoint::CheckpointError;
use crate::event::{Awaited, Event, Mode, RunStatus, StepStatus};
use crate::runbook::{OnFailure, Runbook, Step};
use crate::template;

impl Engine {
    /// Drives `walk` to its end or a pause: the main steps, then the `finally` steps whatever
    /// their outcome, then the run's last record (`run_finished` or `run_paused`).
    pub(super) async fn drive(
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

/// The one loop that owns a run's state while it is driven: the walk, the records not yet
/// journaled, and what the run result will say.
struct Driver<'a> {
    /// The engine driving: store, registry, AWS, sink and limits.
    engine: &'a Engine,
    /// The run being driven.
    run_id: String,
    /// Dry run or execution: a dry run calls each action's read-only side only.
    mode: Mode,
    /// The runbook in effect (after a forced resume, the changed one).
    runbook: &'a Runbook,
    /// Each step's state, and which steps are free to start.
    walk: Walk,
    /// Given to every step task, to send its records and sync requests to this loop.
    tx: mpsc::UnboundedSender<ToJournal>,
    /// Where this loop takes the step tasks' records and sync requests from.
    rx: mpsc::UnboundedReceiver<ToJournal>,
    /// Records not yet journaled: appended in one batch (one fsync) at the next flush.
    pending: Vec<Event>,
    /// Steps waiting until what they sent is durable (answered by the next flush).
    syncs: Vec<oneshot::Sender<()>>,
    /// When the pending records are flushed at the latest (`Engine::flush_delay` after the
    /// first record of a batch); `None` when nothing waits.
    flush_at: Option<Instant>,
    /// The interrupt future (Ctrl-C) taken from the engine for this run, when one was given.
    interrupt: Option<Interrupt>,
    /// Whether the run pauses: interrupted, or credentials ran out.
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
    /// Whether no new step may start in this phase (abort, interrupt, lost store); running
    /// steps finish. Cleared before `finally` steps run.
    stopping: bool,
    /// The failed step whose `on_failure: abort` stopped the phase (the skip reason names it,
    /// not an earlier failure of a step that let the run go on).
    aborted_by: Option<String>,
    /// Main steps that failed, with their errors, in the order they failed.
    failed_main: Vec<(String, ActionError)>,
    /// `finally` steps that failed, with their errors, in the order they failed.
    failed_finally: Vec<(String, ActionError)>,
    /// Steps left in doubt by this process (interrupted, or stopped by expired credentials).
    in_doubt: Vec<String>,
}

/// What starting a step did.
pub(super) enum Start {
    /// Its task runs on the join set.
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
