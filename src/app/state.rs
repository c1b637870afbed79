//! `state init` (the DynamoDB state table and the IAM policy runs need) and `runs export`
//! (a run's files in the file-store layout).

use std::path::{Path, PathBuf};

use super::{ExitCode, Failure, Session};
use crate::checkpoint::dynamodb::{IAM_ACTIONS, IAM_INIT_ACTIONS, StateUrl};
use crate::checkpoint::file::FileStore;
use crate::checkpoint::{CheckpointError, CheckpointStore};

/// The state table, created or found.
pub struct StateTable {
    /// Created now (else it existed).
    pub created: bool,
    pub table: String,
    pub region: String,
    /// `dynamodb://TABLE?region=REGION`.
    pub url: String,
    /// The IAM policy (JSON) runs need on it.
    pub policy: String,
    /// What `state init` needs besides.
    pub init_actions: &'static [&'static str],
}

impl Session {
    /// Creates the state table of `--state` (on-demand, PITR and deletion protection on), or
    /// finds it.
    pub async fn init_state(&self) -> Result<StateTable, Failure> {
        let Some(url) = self.settings.state.url.clone() else {
            return Err(Failure::invalid(
                "`state init` needs --state dynamodb://TABLE?region=REGION",
            ));
        };
        let store = self.dynamodb(&url).await?;
        let created = store
            .create_table()
            .await
            .map_err(|e| Failure::failed(format!("cannot create the state table: {e}")))?;
        let url = store.url();
        Ok(StateTable {
            created,
            table: url.table.clone(),
            region: url.region.clone(),
            url: url.to_string(),
            policy: iam_policy(url),
            init_actions: IAM_INIT_ACTIONS,
        })
    }

    /// Writes run `run_id`'s files into `DIR/runs/RUN_ID/` (the file-store layout), after
    /// verifying its chain; returns that directory.
    pub async fn export_run(&self, run_id: &str, dir: &Path) -> Result<PathBuf, Failure> {
        let target = FileStore::new(dir).run_dir(run_id);
        let res: Result<(), CheckpointError> = match &self.settings.state.url {
            Some(url) => {
                let store = self.dynamodb(url).await?;
                store.export(run_id, &target).await.map(|_| ())
            }
            None => {
                let src = FileStore::new(&self.settings.state.dir);
                match src.load(run_id).await {
                    Ok(_) => copy_dir(&src.run_dir(run_id), &target),
                    Err(e) => Err(e),
                }
            }
        };
        res.map(|()| target).map_err(|e| {
            let code = match e {
                CheckpointError::NotFound(_) => ExitCode::Invalid,
                _ => ExitCode::Failed,
            };
            Failure::new(code, e.to_string())
        })
    }
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
