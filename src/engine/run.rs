//! The engine: how it is built, what a run returns, starting a new run, and the checks made
//! before any step runs (implementations, secrets, the account guard).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;

use super::error::EngineError;
use super::identity::{caller_identity, identity_region};
use super::walk::Walk;
use crate::actions::aws::{Aws, Identity};
use crate::actions::{ActionError, Registry, Service};
use crate::checkpoint::{CheckpointError, CheckpointStore, FORMAT_VERSION, NewRun};
use crate::event::{Event, EventSink, Mode, RunStatus};
use crate::plan::Plan;
use crate::runbook::{Loaded, Runbook};

/// A future that resolves when the run is to pause (Ctrl-C).
pub(super) type Interrupt = Pin<Box<dyn Future<Output = ()> + Send>>;

/// How a run (or a resumed segment of it) ended.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// The run's id (its journal's name in the store).
    pub run_id: String,
    /// Dry run or execution.
    pub mode: Mode,
    /// How the run (or this segment of it) ended: succeeded, failed or paused.
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
    /// Wall-clock time this process drove the run (this segment only, after a resume).
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
pub(super) fn check_secrets(runbook: &Runbook) -> Result<(), EngineError> {
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

/// Runs and resumes runbooks.
pub struct Engine {
    /// The journal every run is written to (file or DynamoDB store), and read back on resume.
    pub(super) store: Arc<dyn CheckpointStore>,
    /// The implementation of each action a step may name.
    pub(super) registry: Registry,
    /// The AWS configuration and clients every step's calls go through (and the calls each
    /// step made, taken for its outcome record).
    pub(super) aws: Arc<Aws>,
    /// Where every event is reported: the run's own once journaled, a step's records as sent.
    pub(super) sink: Arc<dyn EventSink>,
    /// Steps running at once (at least 1): the ready set starts no more than this.
    pub(super) max_parallel: usize,
    /// How long running steps may go on after an interrupt before they are abandoned.
    pub(super) grace: Duration,
    /// How long a record may wait for the next group commit (the driver's flush timer).
    pub(super) flush_delay: Duration,
    /// The interrupt future (Ctrl-C) the next run or resume takes and watches.
    pub(super) interrupt: Mutex<Option<Interrupt>>,
    /// The caller identity to use instead of asking AWS (tests, embedding).
    pub(super) identity: Option<Identity>,
    /// The key the run's evidence will be sealed with, recorded in `run_started`.
    pub(super) sealed_by: Option<crate::event::SignerInfo>,
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

    pub(super) async fn identity_for(
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

    pub(super) fn check_implementations(&self, runbook: &Runbook) -> Result<(), EngineError> {
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
}

/// This machine's name, for `run_started` and `run_resumed` (empty when unknown).
pub(super) fn host_name() -> String {
    crate::checkpoint::lock::machine_name().unwrap_or_default()
}
