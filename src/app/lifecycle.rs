//! `run`, `resume` and `drill`, from a [`Session`] to an exit code, in one order: the AWS
//! handle, the seal key, the runbook's lock, the engine, the run, (for a drill: the verdicts and
//! the experiments stopped), the reports and sealed evidence, the lock released. What a person
//! confirms first is a [`Preflight`]; what happens on the way is told to a [`Narrator`]; what it
//! ended with is an [`Ending`]. Nothing here prints: `cli` renders all three.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::drill::{FaultsEnded, Judged};
use super::finish::Reported;
use super::session::Session;
use super::store::Prepared;
use super::{ExitCode, Failure};
use crate::actions::aws::{Aws, Impairment};
use crate::checkpoint::lock::LockOwner;
use crate::engine::{Engine, ResumeWith, RunResult};
use crate::event::{EventSink, FisExperiment, Injected, Mode, RunStatus};
use crate::runbook::{Loaded, Runbook};
use crate::scenario::Scenario;

/// How many samples of a step the forecast needs before it uses what it learned.
pub const FORECAST_MIN_SAMPLES: usize = crate::history::MIN_SAMPLES;

/// What a person is asked to confirm before an `--execute` run, and told before it starts.
#[derive(Debug, Default)]
pub struct Preflight {
    /// The runbook's name.
    pub runbook: String,
    /// The steps that change AWS resources, `finally` included.
    pub mutating: Vec<MutatingStep>,
    /// The Regions those steps name, sorted.
    pub regions: Vec<String>,
    /// The account of the current credentials, when asked for and the runbook needs AWS.
    pub account: Option<String>,
    /// The run's duration at p50 and p90, learned from past runs (execute mode).
    pub forecast: Option<(Duration, Duration)>,
    /// How long the credentials have left, with a warning when that is shorter than the p90
    /// forecast (execute mode, when the credentials say).
    pub credentials: Option<String>,
}

/// A step that changes AWS resources.
#[derive(Debug)]
pub struct MutatingStep {
    pub id: String,
    pub action: String,
    pub region: Option<String>,
}

/// What happens on the way that a person should see (the run's own progress goes to the
/// event sink).
#[derive(Debug)]
pub enum Note<'a> {
    /// An expired runbook lock was taken over (`--steal-lock`).
    LockTakenOver {
        runbook: &'a str,
        holder: &'a LockOwner,
    },
    /// The lock could not be released; it expires with its lease.
    LockNotReleased(String),
    /// A drill is resumed with the impairment it started with.
    ResumingDrill {
        scenario: &'a str,
        impaired: &'a [Impairment],
    },
    /// A drill's damage, done (`executed`) or described (dry run).
    Injected {
        injections: &'a [Injected],
        executed: bool,
    },
    /// A dry run's FIS experiment template: its Region and the actions it would run.
    WouldStartFis {
        template: &'a str,
        region: &'a str,
        actions: &'a [String],
    },
    /// An experiment left running while the drill awaits an approval.
    FisKept(&'a FisExperiment),
    /// Something went wrong that does not stop the command (it is reported as an error).
    Problem(&'a Failure),
}

/// Whoever shows the [`Note`]s.
pub trait Narrator: Send + Sync {
    fn note(&self, note: Note<'_>);
}

/// The event sink for a run, made once its runbook is known: given the `--sign-with` hint an
/// approval needs (see [`crate::engine::sign_with_hint`]).
pub type SinkFor<'a> = Box<dyn FnOnce(&str) -> Arc<dyn EventSink> + Send + 'a>;

/// A run whose state store stopped answering: no reports (they read the store).
#[derive(Debug)]
pub struct StoreLost {
    /// When the DynamoDB lock's lease ends at the latest.
    pub lease_end: Option<chrono::DateTime<chrono::Utc>>,
    /// The lock could not be released (a resume needs `--steal-lock` after `lease_end`).
    pub lock_kept: bool,
}

/// How a drill ended, beyond its run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrillOutcome {
    /// Paused (approval, Ctrl-C, credentials): its verdicts come when it is resumed to its end.
    Paused,
    /// Every expectation and objective held.
    Passed,
    /// A dry run ran to its end (expectations and objectives are checked with `--execute`).
    DryRunDone,
    /// An expectation or objective did not hold.
    Failed,
    /// The run itself failed, or its reports or experiments did: the exit code says so.
    Other,
}

/// A drill's end.
pub struct DrillEnding {
    pub scenario: Scenario,
    /// The verdicts (none while paused).
    pub judged: Option<Judged>,
    pub outcome: DrillOutcome,
}

/// What a run, resume or drill ended with, and its exit code.
pub struct Ending {
    pub res: RunResult,
    /// Set when the state store stopped answering (then there are no reports).
    pub store_lost: Option<StoreLost>,
    /// The reports and sealed evidence, or why they could not be written.
    pub reported: Option<Result<Reported, Failure>>,
    pub drill: Option<DrillEnding>,
    /// ` --sign-with ...` for `approve`, when the runbook counts only signed approvals.
    pub sign_with: String,
    /// The runbook file the run was started with.
    pub runbook_path: String,
    pub code: ExitCode,
}

impl Ending {
    /// The run's read model, as its reports tell it, when they were written.
    pub fn view(&self) -> Option<&crate::checkpoint::view::RunView> {
        self.reported.as_ref()?.as_ref().ok().map(|r| &r.view)
    }
}

/// A drill to start: its scenario, and the variables given on the command line.
pub struct DrillStart<'a> {
    pub scenario: &'a Scenario,
    /// `--root`: the directory its runbook must resolve inside.
    pub root: Option<&'a Path>,
    pub cli_vars: &'a [(String, String)],
    /// For one target of a fleet: its values (the runbook is loaded for it again after the
    /// damage).
    pub target: Option<&'a crate::runbook::TargetValues>,
}

/// The exit code of a run's status alone.
fn status_code(status: RunStatus) -> ExitCode {
    match status {
        RunStatus::Succeeded => ExitCode::Success,
        RunStatus::Failed => ExitCode::Failed,
        // The engine ends a process paused, never running; a journal without an end resumes.
        RunStatus::Paused | RunStatus::Running => ExitCode::Paused,
    }
}

impl Session {
    /// What `--execute` would do, for the confirmation (`drill`: the scenario, whose handle
    /// carries its impairment; `ask_account`: look up the caller's account).
    pub async fn preflight(
        &mut self,
        runbook: &Runbook,
        drill: Option<&Scenario>,
        mode: Mode,
        ask_account: bool,
    ) -> Preflight {
        let aws = match drill {
            Some(s) => self.drill_aws(s).await,
            None => self.aws_for(Some(runbook), mode, vec![]).await,
        };
        let mutating: Vec<MutatingStep> = runbook
            .steps
            .iter()
            .chain(&runbook.finally)
            .filter(|s| crate::catalog::lookup(&s.action).is_some_and(|a| a.mutates))
            .map(|s| MutatingStep {
                id: s.id.clone(),
                action: s.action.clone(),
                region: s.region.clone(),
            })
            .collect();
        let mut regions: Vec<String> = mutating.iter().filter_map(|s| s.region.clone()).collect();
        regions.sort();
        regions.dedup();
        let execute = mode == Mode::Execute;
        let forecast = if execute {
            self.forecast(runbook).await
        } else {
            None
        };
        let needs_aws = crate::engine::needs_aws(runbook, mode);
        let account = if ask_account && needs_aws {
            let region = crate::engine::identity_region(runbook);
            crate::engine::caller_identity(&aws, &region)
                .await
                .ok()
                .map(|i| i.account)
        } else {
            None
        };
        let credentials = if execute && needs_aws {
            // The p90 forecast: the run should not outlive the credentials nine times out of ten.
            credentials_note(
                aws.credentials_expiry().await,
                SystemTime::now(),
                forecast.map(|(_, p90)| p90),
            )
        } else {
            None
        };
        Preflight {
            runbook: runbook.name.clone(),
            mutating,
            regions,
            account,
            forecast,
            credentials,
        }
    }

    /// The run's duration before it starts, cleanup included, at p50 and p90 (learned
    /// estimates where a step has enough samples, declared elsewhere; `--max-parallel`
    /// applied). The history is read from the file store only: reading every run of a
    /// DynamoDB table before each run would cost more than the figure is worth.
    pub async fn forecast(&self, runbook: &Runbook) -> Option<(Duration, Duration)> {
        let runs = match &self.settings.state.url {
            None => crate::history::digests(&self.settings.state.dir)
                .await
                .unwrap_or_default(),
            Some(_) => vec![],
        };
        let est = crate::history::learn(runbook, &runs, crate::history::Estimates::Auto).ok()?;
        let at = |p90: bool| {
            crate::plan::Plan::build(&crate::history::with_estimates(runbook, &est, p90))
                .ok()
                .map(|p| {
                    p.with_max_parallel(self.settings.max_parallel)
                        .total_with_cleanup()
                })
        };
        Some((at(false)?, at(true)?))
    }

    /// A drill's handle: always on the AWS configuration (its damage and experiments need
    /// it), with the scenario's impairment.
    async fn drill_aws(&mut self, scenario: &Scenario) -> Arc<Aws> {
        if let Some(aws) = self.current_aws() {
            return aws;
        }
        let aws = Arc::new(self.aws(scenario.impair.clone()).await);
        self.set_aws(aws.clone());
        aws
    }

    /// Runs `loaded` to its end or a pause.
    pub async fn run(
        &mut self,
        loaded: &Loaded,
        mode: Mode,
        sink: SinkFor<'_>,
        narrator: &dyn Narrator,
    ) -> Result<Ending, Failure> {
        self.run_with(loaded, mode, sink, narrator, vec![]).await
    }

    /// [`Session::run`], with `preamble` recorded right after `run_started` (a fleet's target
    /// records which one it is).
    pub(super) async fn run_with(
        &mut self,
        loaded: &Loaded,
        mode: Mode,
        sink: SinkFor<'_>,
        narrator: &dyn Narrator,
        preamble: Vec<crate::event::Event>,
    ) -> Result<Ending, Failure> {
        let aws = self.aws_for(Some(&loaded.runbook), mode, vec![]).await;
        let sealed_by = super::finish::seal_key(&mut self.settings, None, "", &aws).await?;
        let prepared = self.lock(&loaded.runbook.name, "", narrator).await?;
        let mut running = self.start(aws, prepared, Some(&loaded.runbook), sink, &loaded.path);
        running.engine = running.engine.sealed_by(sealed_by);
        match running.engine.run_with(loaded, mode, preamble).await {
            Ok(res) => Ok(self.end_run(res, running, narrator).await),
            Err(e) => {
                self.release(running.prepared, narrator).await;
                Err(e.into())
            }
        }
    }

    /// Continues stored run `run_id` (a drill goes on as a drill, impaired as it started).
    pub async fn resume(
        &mut self,
        run_id: &str,
        with: &ResumeWith,
        sink: SinkFor<'_>,
        narrator: &dyn Narrator,
    ) -> Result<Ending, Failure> {
        let r = super::resume::resumable(self, run_id).await?;
        if let Some(scope) = &r.target {
            self.lock_scope = Some(scope.clone());
        }
        let impaired = r.drill.as_ref().map(|(_, i)| i.clone()).unwrap_or_default();
        if let Some((scenario, impaired)) = &r.drill {
            narrator.note(Note::ResumingDrill {
                scenario: &scenario.name,
                impaired,
            });
        }
        let aws = self.aws_for(r.runbook.as_ref(), r.mode, impaired).await;
        super::finish::seal_key(&mut self.settings, r.sealed_by.as_ref(), run_id, &aws).await?;
        let prepared = self.lock(&r.name, run_id, narrator).await?;
        let running = self.start(
            aws,
            prepared,
            r.runbook.as_ref(),
            sink,
            Path::new(&r.runbook_path),
        );
        match (running.engine.resume_stored(r.stored, with).await, r.drill) {
            (Ok(res), Some((scenario, _))) if res.store_lost.is_none() => {
                self.end_drill(scenario, res, running, narrator).await
            }
            // A drill whose store stopped answering ends like any run: its experiments are
            // found in its journal and stopped by the resume that ends it.
            (Ok(res), _) => Ok(self.end_run(res, running, narrator).await),
            (Err(e), _) => {
                self.release(running.prepared, narrator).await;
                Err(e.into())
            }
        }
    }

    /// Runs a drill: its damage, its runbook (loaded against the damage) under its faults, its
    /// verdicts.
    pub async fn drill(
        &mut self,
        start: DrillStart<'_>,
        loaded: Loaded,
        mode: Mode,
        sink: SinkFor<'_>,
        narrator: &dyn Narrator,
    ) -> Result<Ending, Failure> {
        let scenario = start.scenario;
        super::drill::check_state_region(&self.settings, scenario)?;
        let aws = self.drill_aws(scenario).await;
        // The seal key is checked (and recorded) before anything is damaged.
        let sealed_by = super::finish::seal_key(&mut self.settings, None, "", &aws).await?;
        let started = self
            .as_target(
                &aws,
                super::drill::start(
                    scenario,
                    start.root,
                    start.cli_vars,
                    loaded,
                    aws.clone(),
                    mode,
                    start.target,
                ),
            )
            .await?;
        if !started.injected.is_empty() {
            narrator.note(Note::Injected {
                injections: &started.injected,
                executed: mode == Mode::Execute,
            });
        }
        let loaded = started.loaded;
        let prepared = self.lock(&loaded.runbook.name, "", narrator).await?;
        // The faults AWS injects start last, just before the runbook's first step.
        let faults = match self
            .as_target(
                &aws,
                super::drill::start_faults(scenario, &loaded, &aws, mode),
            )
            .await
        {
            Ok(f) => f,
            Err(e) => {
                self.release(prepared, narrator).await;
                return Err(e);
            }
        };
        for (template, region, actions) in &faults.would_start {
            narrator.note(Note::WouldStartFis {
                template,
                region,
                actions,
            });
        }
        let mut running = self.start(
            aws.clone(),
            prepared,
            Some(&loaded.runbook),
            sink,
            &loaded.path,
        );
        running.engine = running.engine.sealed_by(sealed_by);
        // A fleet's target records which one it is first (its resume takes its lock).
        let mut preamble: Vec<crate::event::Event> = start
            .target
            .zip(self.target_role.as_ref())
            .map(|(t, role)| crate::event::Event::FleetTarget {
                fleet_id: role.fleet_id.clone(),
                account: t.account.clone(),
                region: t.region.clone(),
                name: t.name.clone(),
            })
            .into_iter()
            .collect();
        preamble.push(started.event);
        preamble.extend(faults.events());
        match running.engine.run_with(&loaded, mode, preamble).await {
            // The experiments keep running (the journal that names them cannot be read): the
            // resume that ends the drill stops them, or FIS after their duration.
            Ok(res) if res.store_lost.is_some() => Ok(self.store_lost(res, running).await),
            Ok(res) => {
                self.end_drill(scenario.clone(), res, running, narrator)
                    .await
            }
            Err(e) => {
                // No run to record them in: the experiments stop with the drill.
                self.as_target(&aws, super::drill::stop_started(&aws, &faults.running))
                    .await;
                self.release(running.prepared, narrator).await;
                Err(e.into())
            }
        }
    }

    /// The runbook's lock (and the store behind it), saying so when an expired one was taken
    /// over.
    async fn lock(
        &self,
        runbook_name: &str,
        run_id: &str,
        narrator: &dyn Narrator,
    ) -> Result<Prepared, Failure> {
        // A fleet's target runs under a lock of its own: the runbook's, for its account and
        // Region.
        let name = match &self.lock_scope {
            Some(scope) => format!("{runbook_name} {scope}"),
            None => runbook_name.to_string(),
        };
        let prepared = super::store::prepare(self, &name, run_id).await?;
        if let Some(holder) = &prepared.stolen_from {
            narrator.note(Note::LockTakenOver {
                runbook: runbook_name,
                holder,
            });
        }
        Ok(prepared)
    }

    /// Releases the runbook lock; a failure is only told (the lease expires).
    async fn release(&self, prepared: Prepared, narrator: &dyn Narrator) {
        if let Err(e) = prepared.release().await {
            narrator.note(Note::LockNotReleased(e.to_string()));
        }
    }

    /// A run about to start: an engine writing through the lock, its events to the sink,
    /// stopped by Ctrl-C.
    fn start(
        &self,
        aws: Arc<Aws>,
        prepared: Prepared,
        runbook: Option<&Runbook>,
        sink: SinkFor<'_>,
        path: &Path,
    ) -> Running {
        let sign_with = sign_with(runbook);
        let engine = Engine::new(
            prepared.store.clone(),
            crate::actions::Registry::builtin(),
            aws.clone(),
            sink(&sign_with),
        )
        .max_parallel(self.settings.max_parallel)
        .interrupt(async {
            // If the handler cannot be installed, never interrupt.
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        });
        let runbook_path = std::fs::canonicalize(path)
            .unwrap_or_else(|_| path.to_path_buf())
            .display()
            .to_string();
        Running {
            engine,
            aws,
            prepared,
            sign_with,
            runbook_path,
        }
    }

    /// The end of a run whose store stopped answering: the lock released if the store lets it
    /// go; nothing else (the reports read the store).
    async fn store_lost(&self, res: RunResult, running: Running) -> Ending {
        let lease_end = running.prepared.lease_end();
        let lock_kept = running.prepared.release().await.is_err();
        Ending {
            res,
            store_lost: Some(StoreLost {
                lease_end,
                lock_kept,
            }),
            reported: None,
            drill: None,
            sign_with: running.sign_with,
            runbook_path: running.runbook_path,
            code: ExitCode::Paused,
        }
    }

    /// The end of a run (not a drill): reports and evidence, the lock released, the exit code.
    async fn end_run(&self, res: RunResult, running: Running, narrator: &dyn Narrator) -> Ending {
        if res.store_lost.is_some() {
            return self.store_lost(res, running).await;
        }
        let reported = super::finish::finish(self, &running.aws, &res.run_id, None).await;
        self.release(running.prepared, narrator).await;
        let code = match (status_code(res.status), &reported) {
            (ExitCode::Success, Err(_)) => ExitCode::Failed,
            (code, _) => code,
        };
        Ending {
            res,
            store_lost: None,
            reported: Some(reported),
            drill: None,
            sign_with: running.sign_with,
            runbook_path: running.runbook_path,
            code,
        }
    }

    /// The end of a drill's process, for `drill` and for `resume` of a drill: a paused drill
    /// keeps the calls its impairment refused for the verdict to come; a drill that ran to its
    /// end is judged (expectations, objectives) while its faults still act, its experiments
    /// are stopped, and its verdicts are recorded and sealed with the evidence.
    async fn end_drill(
        &mut self,
        scenario: Scenario,
        res: RunResult,
        running: Running,
        narrator: &dyn Narrator,
    ) -> Result<Ending, Failure> {
        let Running {
            engine,
            aws,
            prepared,
            sign_with,
            runbook_path,
        } = running;
        let (engine, aws) = (&engine, &aws);
        if res.status == RunStatus::Paused {
            if let Err(e) = super::drill::keep_refused_calls(engine, aws, &res.run_id).await {
                narrator.note(Note::Problem(&e));
            }
            // A paused run stays resumable (exit 3) even when an experiment could not be
            // stopped: that failure is told with the command that stops it.
            self.end_faults(engine, aws, &scenario, &res, narrator)
                .await;
            let reported = super::finish::finish(self, aws, &res.run_id, None).await;
            self.release(prepared, narrator).await;
            return Ok(Ending {
                code: status_code(res.status),
                res,
                store_lost: None,
                reported: Some(reported),
                drill: Some(DrillEnding {
                    scenario,
                    judged: None,
                    outcome: DrillOutcome::Paused,
                }),
                sign_with,
                runbook_path,
            });
        }
        let judged = self
            .as_target(aws, super::drill::judge(self, engine, aws, &scenario, &res))
            .await;
        let faults_ok = self
            .end_faults(engine, aws, &scenario, &res, narrator)
            .await;
        let judged = match judged {
            Ok(j) => j,
            Err(e) => {
                self.release(prepared, narrator).await;
                return Err(e);
            }
        };
        let passed = res.status == RunStatus::Succeeded && judged.verdicts.all_passed();
        let reported = super::finish::finish(
            self,
            aws,
            &res.run_id,
            (res.mode == Mode::Execute).then_some(passed),
        )
        .await;
        self.release(prepared, narrator).await;
        let view_failed = reported
            .as_ref()
            .is_ok_and(|r| r.view.verdict == crate::checkpoint::view::Verdict::Failed);
        let (code, outcome) = match (status_code(res.status), &reported) {
            (_, Err(_)) => (ExitCode::Failed, DrillOutcome::Other),
            (ExitCode::Success, _) if !faults_ok => (ExitCode::Failed, DrillOutcome::Other),
            (ExitCode::Success, _) if !judged.verdicts.all_passed() || view_failed => {
                (ExitCode::Failed, DrillOutcome::Failed)
            }
            (ExitCode::Success, _) if res.mode == Mode::Execute => {
                (ExitCode::Success, DrillOutcome::Passed)
            }
            (ExitCode::Success, _) => (ExitCode::Success, DrillOutcome::DryRunDone),
            // A recovery that failed fails the drill, whatever the verdicts.
            (ExitCode::Failed, _) => (ExitCode::Failed, DrillOutcome::Failed),
            (code, _) => (code, DrillOutcome::Other),
        };
        Ok(Ending {
            res,
            store_lost: None,
            reported: Some(reported),
            drill: Some(DrillEnding {
                scenario,
                judged: Some(judged),
                outcome,
            }),
            sign_with,
            runbook_path,
            code,
        })
    }

    /// Stops the drill's FIS experiments at the end of its process (see
    /// [`super::drill::stop_faults`]) and tells what became of them; false when one could not
    /// be stopped (the drill then fails: an outage would go on unattended).
    async fn end_faults(
        &self,
        engine: &Engine,
        aws: &Arc<Aws>,
        scenario: &Scenario,
        res: &RunResult,
        narrator: &dyn Narrator,
    ) -> bool {
        if scenario.faults.is_empty() {
            return true;
        }
        // A resumed drill whose runbook needs no AWS was given an offline handle; its
        // experiments need the configuration.
        let loaded;
        let aws: &Aws = if aws.config("us-east-1").credentials_provider().is_some() {
            aws
        } else {
            loaded = self.aws(aws.options.impaired.clone()).await;
            &loaded
        };
        let ended: FaultsEnded = match self
            .as_target(aws, super::drill::stop_faults(self, engine, aws, res))
            .await
        {
            Ok(ended) => ended,
            Err(e) => {
                narrator.note(Note::Problem(&e));
                return false;
            }
        };
        for e in &ended.kept {
            narrator.note(Note::FisKept(e));
        }
        for (e, why) in &ended.failed {
            let failure = Failure::failed(format!(
                "could not stop FIS experiment {} in {}: {why}",
                e.id, e.region
            ))
            .help(format!(
                "stop it now: aws fis stop-experiment --id {} --region {}",
                e.id, e.region
            ));
            narrator.note(Note::Problem(&failure));
        }
        ended.failed.is_empty()
    }
}

impl Session {
    /// Approves step `step` of paused run `run_id` as the caller (`signer`: the approver's own
    /// key, whose KMS signature is made through the approver's credentials).
    pub async fn approve(
        &mut self,
        run_id: &str,
        step: &str,
        comment: &str,
        signer: &crate::evidence::Signer,
    ) -> Result<crate::event::Identity, Failure> {
        let aws = match signer {
            crate::evidence::Signer::Kms { .. } => Arc::new(self.aws(vec![]).await),
            _ => self.aws_for(None, Mode::Execute, vec![]).await,
        };
        let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into());
        let approver = crate::engine::caller_identity(&aws, &region)
            .await
            .map_err(crate::engine::EngineError::Identity)?;
        let store = self.store().await?;
        crate::engine::approve(
            store.as_ref(),
            &aws,
            run_id,
            step,
            comment,
            approver.clone(),
            signer,
        )
        .await?;
        Ok(approver)
    }
}

/// A run under way: its engine, the handle its steps call through, the lock it holds.
struct Running {
    engine: Engine,
    aws: Arc<Aws>,
    prepared: Prepared,
    /// ` --sign-with ...` for `approve`, when the runbook counts only signed approvals.
    sign_with: String,
    /// The runbook file the run was started with, absolute.
    runbook_path: String,
}

/// ` --sign-with ...` for `approve` when the runbook counts only signed approvals.
fn sign_with(runbook: Option<&Runbook>) -> String {
    runbook.map_or(String::new(), |r| {
        crate::engine::sign_with_hint(&r.approvers)
    })
}

/// What to say before an execute run about the credentials' remaining life: how long they have
/// left when they say, and a warning when that is shorter than the plan's estimate (the run
/// would then pause at the expiry, and resume after a new login).
pub fn credentials_note(
    expiry: Option<SystemTime>,
    now: SystemTime,
    estimate: Option<Duration>,
) -> Option<String> {
    use crate::duration::human;
    let left = expiry?.duration_since(now).unwrap_or_default();
    let left_text = human(Duration::from_secs(left.as_secs()));
    Some(match estimate {
        Some(e) if e > left => format!(
            "warning: the AWS credentials expire in {left_text}, before the plan's estimate of {}; \
             the run pauses when they do (renew them, e.g. `aws sso login`, then `drillbook \
             resume RUN_ID`), or renew them now",
            human(e)
        ),
        _ => format!("AWS credentials expire in {left_text}"),
    })
}

#[cfg(test)]
mod tests {
    use super::credentials_note;
    use std::time::{Duration, SystemTime};

    #[test]
    fn credentials_left_are_shown_and_warned_about_when_shorter_than_the_plan() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let in_20m = Some(now + Duration::from_secs(1200));
        assert_eq!(
            credentials_note(None, now, Some(Duration::from_secs(60))),
            None
        );
        assert_eq!(
            credentials_note(in_20m, now, Some(Duration::from_secs(600))).unwrap(),
            "AWS credentials expire in 20m00s"
        );
        let warn = credentials_note(in_20m, now, Some(Duration::from_secs(3600))).unwrap();
        assert!(
            warn.starts_with(
                "warning: the AWS credentials expire in 20m00s, before the plan's estimate of 1h"
            ),
            "{warn}"
        );
    }
}
