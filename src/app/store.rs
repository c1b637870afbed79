//! Store selection, in one place: the files of `--state-dir`, or the DynamoDB table of
//! `--state`, wrapped in the runbook's lock for the commands that run steps (an OS file lock in
//! the state directory, a lease item in the table).

use std::path::Path;
use std::sync::Arc;

use super::{ExitCode, Failure};
use crate::actions::aws::{Aws, AwsOptions};
use crate::checkpoint::CheckpointStore;
use crate::checkpoint::dynamodb::{DynamoDbStore, StateUrl};
use crate::checkpoint::file::FileStore;
use crate::checkpoint::file_lock::{FileLock, FileLockError, FileLockedStore};
use crate::checkpoint::lock::{LockError, LockGuard, LockOwner, LockedStore, acquire};
use crate::history::RunDigest;

/// The DynamoDB store of a `--state` URL.
pub async fn dynamodb(url: &str, profile: &Option<String>) -> Result<DynamoDbStore, Failure> {
    let url = StateUrl::parse(url).map_err(Failure::invalid)?;
    let aws = Aws::load(AwsOptions {
        profile: profile.clone(),
        ..Default::default()
    })
    .await;
    Ok(DynamoDbStore::new(aws.dynamodb(&url.region), url))
}

/// The store of `--state` (DynamoDB) or else `--state-dir` (files), for reading and for
/// commands that add to a run without running it (`approve`).
pub async fn open(
    url: &Option<String>,
    dir: &Path,
    profile: &Option<String>,
) -> Result<Arc<dyn CheckpointStore>, Failure> {
    Ok(match url {
        Some(url) => Arc::new(dynamodb(url, profile).await?),
        None => Arc::new(FileStore::new(dir)),
    })
}

/// The store a run, resume or drill writes to, behind the runbook's lock.
pub struct Prepared {
    pub store: Arc<dyn CheckpointStore>,
    lock: Option<Arc<LockGuard>>,
    /// The file store's lock (the store keeps a reference too, to record the run id).
    file_lock: Option<Arc<FileLock>>,
    /// The holder whose expired lock was taken over (`--steal-lock`).
    pub stolen_from: Option<LockOwner>,
}

/// The store a `run`, `resume` or `drill` writes to, wrapped in the runbook's lock (exit 4
/// when another process holds it): an OS lock on a file of the state directory, or the lease
/// item of the DynamoDB table.
pub async fn prepare(
    session: &super::Session,
    runbook_name: &str,
    run_id: &str,
) -> Result<Prepared, Failure> {
    let settings = &session.settings;
    let Some(url) = &settings.state.url else {
        let lock = FileLock::acquire(&settings.state.dir, runbook_name, run_id).map_err(|e| {
            let code = match e {
                FileLockError::Held { .. } => ExitCode::Locked,
                FileLockError::Io { .. } => ExitCode::Failed,
            };
            Failure::new(code, e.to_string()).help(e.help())
        })?;
        let lock = Arc::new(lock);
        // The session's store: a run it read (a resume) is appended to after what was read.
        let store = FileLockedStore::new(session.store().await?, lock.clone());
        return Ok(Prepared {
            store: Arc::new(store),
            lock: None,
            file_lock: Some(lock),
            stolen_from: None,
        });
    };
    let store = session.dynamodb(url).await?;
    let aws = session.aws(vec![]).await;
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
        settings.state.lock_lease,
        settings.state.steal_lock,
    )
    .await
    .map_err(|e| {
        let code = match e {
            LockError::Held { .. } | LockError::Expired { .. } => ExitCode::Locked,
            LockError::Store(_) => ExitCode::Failed,
        };
        let help = match &e {
            LockError::Store(s) => s.help(),
            _ => None,
        };
        let failure = Failure::new(code, e.to_string());
        match help {
            Some(h) => failure.help(h),
            None => failure,
        }
    })?;
    // The guard keeps it too: the locked store journals the take-over.
    let stolen_from = guard.stolen_from.clone();
    let guard = Arc::new(guard);
    let locked = LockedStore::new(session.store().await?, guard.clone());
    Ok(Prepared {
        store: Arc::new(locked),
        lock: Some(guard),
        file_lock: None,
        stolen_from,
    })
}

impl Prepared {
    /// When the DynamoDB lock's lease ends at the latest unless renewed (none for the file
    /// store's lock, which goes with the process).
    pub fn lease_end(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.lock.as_ref().map(|l| l.lease_end())
    }

    /// Releases the lock. A failure only matters as a warning: the lease expires anyway, and
    /// the file lock goes with the process.
    pub async fn release(self) -> Result<(), crate::checkpoint::CheckpointError> {
        // The store holds the file lock too: both go now.
        drop(self.store);
        drop(self.file_lock);
        match self.lock {
            Some(l) => l.release().await,
            None => Ok(()),
        }
    }
}

/// Writes the run files into `dir` (the evidence copy) from the table; `false` with the file
/// store, whose run directory is copied instead.
pub async fn write_run_files(
    session: &super::Session,
    run_id: &str,
    dir: &Path,
) -> Result<bool, Failure> {
    let Some(url) = &session.settings.state.url else {
        return Ok(false);
    };
    let store = session.dynamodb(url).await?;
    store
        .export(run_id, dir)
        .await
        .map(|_| true)
        .map_err(|e| Failure::failed(e.to_string()))
}

/// Every run's digest, newest first, from the table of `--state` or else the files of
/// `--state-dir` (whose index is updated on the way).
pub async fn digests(
    url: &Option<String>,
    dir: &Path,
    profile: &Option<String>,
) -> Result<Vec<RunDigest>, Failure> {
    match url {
        Some(url) => crate::history::digests_dynamodb(&dynamodb(url, profile).await?).await,
        None => crate::history::digests(dir).await,
    }
    .map_err(|e| Failure::failed(e.to_string()))
}
