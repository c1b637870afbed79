//! `drillbook state init` and `drillbook runs export` (the store itself is chosen in
//! `app::store`).

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::{ExitCode, RunsArgs};
use crate::app::Failure;
use crate::checkpoint::dynamodb::{IAM_ACTIONS, IAM_INIT_ACTIONS, StateUrl};
use crate::checkpoint::file::FileStore;
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
        /// AWS profile to use.
        #[arg(long, env = "AWS_PROFILE")]
        profile: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum RunsAction {
    /// Write a run's files (runbook.yaml, runbook.sha256, vars.json, journal.jsonl) into
    /// `DIR/runs/RUN_ID/`, the --state-dir layout, after verifying its chain.
    Export {
        /// The run to export (as `drillbook runs` lists it).
        run_id: String,
        /// The directory to write `runs/RUN_ID/` into.
        dir: PathBuf,
    },
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    super::runtime()
}

/// `drillbook state ...`.
pub(super) fn state(args: StateArgs) -> Result<ExitCode, Failure> {
    let StateCommand::Init { state, profile } = args.command;
    let rt = runtime()?;
    rt.block_on(async {
        let store = crate::app::store::dynamodb(&state, &profile).await?;
        match store.create_table().await {
            Ok(created) => {
                let url = store.url();
                errln!(
                    "{} table `{}` in {} (on-demand, point-in-time recovery on, deletion \
                     protection on)",
                    if created { "created" } else { "found" },
                    url.table,
                    url.region
                );
                println!("{}", crate::report::sanitize::json(&iam_policy(url)));
                errln!(
                    "the policy above is what runs need; `state init` also needs {}",
                    IAM_INIT_ACTIONS.join(", ")
                );
                errln!("use it with: drillbook run RUNBOOK --state '{url}'");
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
                let store = crate::app::store::dynamodb(url, &None).await?;
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
                errln!(
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
