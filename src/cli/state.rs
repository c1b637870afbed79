//! `drillbook state init` and `drillbook runs export` (the store itself is chosen in
//! `app::store`).

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::{ExitCode, RunsArgs};
use crate::app::{Failure, Session, Settings};

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
        #[command(flatten)]
        aws: super::ProfileArg,
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

/// `drillbook state ...`.
pub(super) fn state(args: StateArgs) -> Result<ExitCode, Failure> {
    let StateCommand::Init { state, aws } = args.command;
    let session = Session::new(Settings::reading(
        ".drillbook".into(),
        Some(state),
        aws.profile,
    ));
    super::runtime()?.block_on(async {
        let t = session.init_state().await?;
        errln!(
            "{} table `{}` in {} (on-demand, point-in-time recovery on, deletion \
             protection on)",
            if t.created { "created" } else { "found" },
            t.table,
            t.region
        );
        println!("{}", crate::report::sanitize::json(&t.policy));
        errln!(
            "the policy above is what runs need; `state init` also needs {}",
            t.init_actions.join(", ")
        );
        errln!("use it with: drillbook run RUNBOOK --state '{}'", t.url);
        Ok(ExitCode::Success)
    })
}

/// `drillbook runs export RUN_ID DIR`: `DIR/runs/RUN_ID/` in the file-store layout.
pub(super) fn export(args: &RunsArgs, run_id: &str, dir: &Path) -> Result<ExitCode, Failure> {
    let session = Session::new(args.store.settings());
    super::runtime()?.block_on(async {
        let target = session.export_run(run_id, dir).await?;
        errln!(
            "exported run {run_id} to {}\nread it offline with: drillbook report {run_id} --state-dir {}",
            target.display(),
            dir.display()
        );
        Ok(ExitCode::Success)
    })
}
