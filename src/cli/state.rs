//! Team state: choosing the store from `--state`, the runbook lock around `run`/`resume`,
//! `drillbook state init` and `drillbook runs export`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, Subcommand};

use super::exit::Failure;
use super::{ExecOptions, ExitCode, RunsArgs};
use crate::actions::aws::{Aws, AwsOptions};
use crate::checkpoint::dynamodb::{DynamoDbStore, IAM_ACTIONS, IAM_INIT_ACTIONS, StateUrl};
use crate::checkpoint::file::FileStore;
use crate::checkpoint::lock::{LockError, LockGuard, LockedStore, acquire};
use crate::checkpoint::{CheckpointError, CheckpointStore};

#[derive(Debug, Args)]
#[command(after_help = "\
Example:
  drillbook state init --state 'dynamodb://drillbook-state?region=ca-central-1'")]
pub struct StateArgs {
    #[command(subcommand)]
    pub command: StateCommand,
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Create the DynamoDB state table (on-demand, PITR and deletion protection on); idempotent.
    /// Prints the IAM permissions the store needs.
    Init {
        /// `dynamodb://TABLE?region=REGION`.
        #[arg(long, env = "DRILLBOOK_STATE", value_name = "URL")]
        state: String,
        #[arg(long, env = "AWS_PROFILE")]
        profile: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum RunsAction {
    /// Write a run's files (runbook.yaml, runbook.sha256, vars.json, journal.jsonl) into
    /// `DIR/runs/RUN_ID/`, the --state-dir layout, after verifying its chain.
    Export { run_id: String, dir: PathBuf },
}

/// The DynamoDB store of a `--state` URL.
pub(super) async fn dynamodb(
    url: &str,
    profile: &Option<String>,
) -> Result<DynamoDbStore, Failure> {
    let url = StateUrl::parse(url).map_err(Failure::invalid)?;
    let aws = Aws::load(AwsOptions {
        profile: profile.clone(),
        ..Default::default()
    })
    .await;
    Ok(DynamoDbStore::new(aws.dynamodb(&url.region), url))
}

/// The store of `--state` (DynamoDB) or else `--state-dir` (files).
pub(super) async fn open(
    state: &Option<String>,
    state_dir: &Path,
    profile: &Option<String>,
) -> Result<Arc<dyn CheckpointStore>, Failure> {
    Ok(match state {
        Some(url) => Arc::new(dynamodb(url, profile).await?),
        None => Arc::new(FileStore::new(state_dir)),
    })
}

/// The store for a command that runs steps.
pub(super) async fn open_exec(exec: &ExecOptions) -> Result<Arc<dyn CheckpointStore>, Failure> {
    open(&exec.state, &exec.state_dir, &exec.profile).await
}

/// The store a `run` or `resume` writes to; with DynamoDB state, wrapped in the runbook's lock
/// (exit 4 when someone else holds it).
pub(super) async fn prepare(
    exec: &ExecOptions,
    runbook_name: &str,
    run_id: &str,
) -> Result<(Arc<dyn CheckpointStore>, Option<Arc<LockGuard>>), Failure> {
    let Some(url) = &exec.state else {
        return Ok((Arc::new(FileStore::new(&exec.state_dir)), None));
    };
    let lease = crate::duration::parse_duration(&exec.lock_lease).map_err(|e| {
        Failure::invalid(format!("invalid `--lock-lease {}`: {e}", exec.lock_lease))
            .help("write a duration such as `60s`")
    })?;
    let store = dynamodb(url, &exec.profile).await?;
    let aws = Aws::load(AwsOptions {
        profile: exec.profile.clone(),
        ..Default::default()
    })
    .await;
    let identity = crate::engine::caller_identity(&aws, &store.url().region)
        .await
        .map(|i| i.arn)
        .unwrap_or_else(|_| format!("user {}", std::env::var("USER").unwrap_or_default()));
    let guard = acquire(
        store.client().clone(),
        store.url().clone(),
        runbook_name,
        &identity,
        run_id,
        lease,
        exec.steal_lock,
    )
    .await
    .map_err(|e| {
        let code = match e {
            LockError::Held { .. } | LockError::Expired { .. } => ExitCode::Locked,
            LockError::Store(_) => ExitCode::Failed,
        };
        Failure::new(code, e.to_string())
    })?;
    if let Some(prev) = &guard.stolen_from {
        eprintln!(
            "warning: took over the lock of `{runbook_name}` from {} (host {}, pid {}, lease \
             expired {})",
            prev.identity,
            prev.host,
            prev.pid,
            prev.lease_expires_at.format("%H:%M:%S UTC")
        );
    }
    let guard = Arc::new(guard);
    let locked = LockedStore::new(Arc::new(store), guard.clone());
    Ok((Arc::new(locked), Some(guard)))
}

/// Releases a lock taken by [`prepare`]; a failure only warns (the lease expires anyway).
pub(super) async fn release(lock: Option<Arc<LockGuard>>) {
    if let Some(l) = lock
        && let Err(e) = l.release().await
    {
        eprintln!("warning: cannot release the runbook lock: {e}\nhelp: it expires with its lease");
    }
}

/// `--state URL` to repeat in hints, or `--state-dir DIR`.
pub(super) fn location_flag(exec: &ExecOptions) -> Option<String> {
    exec.state.as_ref().map(|u| format!(" --state '{u}'"))
}

/// Writes the run files into `dir` (the evidence copy): from the table, or copied from the run
/// directory.
pub(super) async fn write_run_files(
    exec: &ExecOptions,
    run_id: &str,
    dir: &Path,
) -> Result<bool, String> {
    let Some(url) = &exec.state else {
        return Ok(false);
    };
    let store = dynamodb(url, &exec.profile)
        .await
        .map_err(|f| f.to_string())?;
    store
        .export(run_id, dir)
        .await
        .map(|_| true)
        .map_err(|e| e.to_string())
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    super::runtime()
}

/// `drillbook state ...`.
pub(super) fn state(args: StateArgs) -> Result<ExitCode, Failure> {
    let StateCommand::Init { state, profile } = args.command;
    let rt = runtime()?;
    rt.block_on(async {
        let store = dynamodb(&state, &profile).await?;
        match store.create_table().await {
            Ok(created) => {
                let url = store.url();
                eprintln!(
                    "{} table `{}` in {} (on-demand, point-in-time recovery on, deletion \
                     protection on)",
                    if created { "created" } else { "found" },
                    url.table,
                    url.region
                );
                println!("{}", iam_policy(url));
                eprintln!(
                    "the policy above is what runs need; `state init` also needs {}",
                    IAM_INIT_ACTIONS.join(", ")
                );
                eprintln!("use it with: drillbook run RUNBOOK --state '{url}'");
                Ok(ExitCode::Success)
            }
            Err(e) => Err(Failure::failed(format!(
                "cannot create the state table: {e}"
            ))),
        }
    })
}

/// The IAM policy (JSON) for the store's table.
fn iam_policy(url: &StateUrl) -> String {
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DrillbookState",
            "Effect": "Allow",
            "Action": IAM_ACTIONS,
            "Resource": format!("arn:aws:dynamodb:{}:*:table/{}", url.region, url.table),
        }]
    });
    serde_json::to_string_pretty(&policy).unwrap_or_default()
}

/// `drillbook runs export RUN_ID DIR`: `DIR/runs/RUN_ID/` in the file-store layout.
pub(super) fn export(args: &RunsArgs, run_id: &str, dir: &Path) -> Result<ExitCode, Failure> {
    let rt = runtime()?;
    rt.block_on(async {
        let target = FileStore::new(dir).run_dir(run_id);
        let res: Result<(), CheckpointError> = match &args.state {
            Some(url) => {
                let store = dynamodb(url, &None).await?;
                store.export(run_id, &target).await.map(|_| ())
            }
            None => {
                let src = FileStore::new(&args.state_dir);
                match src.load(run_id).await {
                    Ok(_) => copy_dir(&src.run_dir(run_id), &target),
                    Err(e) => Err(e),
                }
            }
        };
        match res {
            Ok(()) => {
                eprintln!(
                    "exported run {run_id} to {}\nread it offline with: drillbook report {run_id} --state-dir {}",
                    target.display(),
                    dir.display()
                );
                Ok(ExitCode::Success)
            }
            Err(e) => {
                let code = match e {
                    CheckpointError::NotFound(_) => ExitCode::Invalid,
                    _ => ExitCode::Failed,
                };
                Err(Failure::new(code, e.to_string()))
            }
        }
    })
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), CheckpointError> {
    let io = |p: &Path| {
        let path = p.display().to_string();
        move |source| CheckpointError::Io { path, source }
    };
    std::fs::create_dir_all(to).map_err(io(to))?;
    for f in [
        "runbook.yaml",
        "runbook.sha256",
        "vars.json",
        "journal.jsonl",
    ] {
        std::fs::copy(from.join(f), to.join(f)).map_err(io(&from.join(f)))?;
    }
    Ok(())
}
