//! The runbook lock of the file store: at most one process drives a given runbook, and so a
//! given run, in one state directory (what the DynamoDB store's lease lock does for a table).
//!
//! The lock is an OS lock: `flock(2)`, exclusive and non-blocking, on
//! `<state-dir>/locks/<runbook>.lock`, taken by `run`, `resume` and `drill` before the engine
//! starts and held until the process releases it or ends. The kernel drops it when the process
//! dies, however it dies (SIGKILL, a crash, a reboot), so a resume after a crash needs no
//! `--steal-lock`, and a lock held by a live process cannot be taken over at all. The file holds
//! who holds the lock (pid, host, user, start time, run id) as one JSON line, for the message a
//! refused process prints; the kernel's lock, not the file's contents, decides. The file is
//! never deleted: a process waiting on an unlinked file would lock a file nobody else sees.
//!
//! `flock` works on local file systems; on NFS, Linux emulates it with POSIX record locks,
//! which the server keeps (flock(2), "NOTES").

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::{CheckpointError, CheckpointStore, NewRun, RunSummary, StoredRun};
use crate::event::Event;

/// Who holds a file lock, as its holder wrote it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileLockHolder {
    pub pid: u32,
    pub host: String,
    pub user: String,
    pub started_at: DateTime<Utc>,
    /// Empty until the run exists (a new run's id is made by the engine).
    #[serde(default)]
    pub run_id: String,
    pub runbook: String,
}

impl FileLockHolder {
    fn describe(&self) -> String {
        format!(
            "user `{}` on host `{}` (pid {}{}) since {}",
            self.user,
            self.host,
            self.pid,
            if self.run_id.is_empty() {
                String::new()
            } else {
                format!(", run {}", self.run_id)
            },
            self.started_at.format("%Y-%m-%d %H:%M:%S UTC")
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FileLockError {
    /// Another process holds it; `holder` is `None` when its file could not be read.
    #[error(
        "runbook `{name}` is locked by {}",
        holder.as_deref().map_or_else(|| "another process".to_string(), FileLockHolder::describe)
    )]
    Held {
        name: String,
        holder: Option<Box<FileLockHolder>>,
        path: PathBuf,
    },
    #[error("cannot take the runbook lock {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl FileLockError {
    /// What to do about it.
    pub fn help(&self) -> String {
        match self {
            FileLockError::Held { path, .. } => format!(
                "wait for that run to end; the lock is released when its process ends, however \
                 it ends, so no `--steal-lock` is needed (or possible) after a crash; the lock \
                 file is {}",
                path.display()
            ),
            FileLockError::Io { .. } => {
                "check that the state directory (`--state-dir`) is writable".to_string()
            }
        }
    }
}

/// A held file lock: released by [`FileLock::release`], on drop, or when the process ends.
pub struct FileLock {
    file: File,
    path: PathBuf,
    holder: Mutex<FileLockHolder>,
}

/// The lock file of runbook `name`: its name made safe for a file name (letters, digits, `-`,
/// `_` and `.` kept, up to 64 of them), and 12 hex digits of its SHA-256 so that two names
/// made alike stay apart.
pub fn lock_path(state_dir: &Path, name: &str) -> PathBuf {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    let hash = hex::encode(Sha256::digest(name.as_bytes()));
    state_dir
        .join("locks")
        .join(format!("{safe}-{}.lock", &hash[..12]))
}

/// The name of the user this process runs as: the account of its uid, else `USER`, else the
/// uid.
fn user_name() -> String {
    // SAFETY: getuid cannot fail and touches no memory of ours.
    let uid = unsafe { libc::getuid() };
    // SAFETY: getpwuid_r writes only into `pwd` and `buf`, both ours and large enough as
    // declared; `pw_name` then points into `buf`, read before `buf` goes.
    let from_passwd = unsafe {
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut buf = vec![0 as libc::c_char; 4096];
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        let r = libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut found);
        (r == 0 && !found.is_null() && !pwd.pw_name.is_null()).then(|| {
            std::ffi::CStr::from_ptr(pwd.pw_name)
                .to_string_lossy()
                .into_owned()
        })
    };
    from_passwd
        .or_else(|| std::env::var("USER").ok())
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| format!("uid {uid}"))
}

impl FileLock {
    /// Takes the lock of runbook `name` in `state_dir` for run `run_id` (empty for a new run),
    /// without waiting: [`FileLockError::Held`] when another process holds it.
    pub fn acquire(state_dir: &Path, name: &str, run_id: &str) -> Result<FileLock, FileLockError> {
        let path = lock_path(state_dir, name);
        let io = |source| FileLockError::Io {
            path: path.clone(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        // Never truncated on open: the holder's record stays readable for the refused.
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        loop {
            // SAFETY: flock on a descriptor we own; it stays open as long as `file`.
            let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if r == 0 {
                break;
            }
            let e = std::io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::EWOULDBLOCK) => {
                    return Err(FileLockError::Held {
                        name: name.to_string(),
                        holder: read_holder(&path).map(Box::new),
                        path,
                    });
                }
                _ => return Err(io(e)),
            }
        }
        let lock = FileLock {
            file,
            path: path.clone(),
            holder: Mutex::new(FileLockHolder {
                pid: std::process::id(),
                host: super::lock::host_name(),
                user: user_name(),
                started_at: Utc::now(),
                run_id: run_id.to_string(),
                runbook: name.to_string(),
            }),
        };
        lock.write_holder().map_err(io)?;
        Ok(lock)
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records the run id in the lock file (once the run exists).
    pub fn set_run_id(&self, run_id: &str) -> std::io::Result<()> {
        self.holder.lock().expect("holder poisoned").run_id = run_id.to_string();
        self.write_holder()
    }

    /// Rewrites the holder's record in place (the same file: the lock is on it).
    fn write_holder(&self) -> std::io::Result<()> {
        let holder = self.holder.lock().expect("holder poisoned").clone();
        let mut line = serde_json::to_vec(&holder).map_err(std::io::Error::other)?;
        line.push(b'\n');
        self.file.set_len(0)?;
        self.file.write_all_at(&line, 0)?;
        (&self.file).flush()
    }

    /// Releases the lock, clearing the holder's record first.
    pub fn release(self) {
        drop(self);
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
        // SAFETY: as in `acquire`; closing the file would release it too.
        unsafe { libc::flock(self.file.as_raw_fd(), libc::LOCK_UN) };
    }
}

/// The holder's record, read a few times over a few milliseconds: a holder that has just
/// taken the lock may not have written it yet.
fn read_holder(path: &Path) -> Option<FileLockHolder> {
    for _ in 0..5 {
        let mut text = String::new();
        if File::open(path)
            .and_then(|mut f| f.read_to_string(&mut text))
            .is_ok()
            && let Ok(h) = serde_json::from_str::<FileLockHolder>(text.trim())
        {
            return Some(h);
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    None
}

/// The file store behind its runbook's lock: records the run id in the lock file once the run
/// exists. The lock cannot be lost while the process lives, so nothing else is checked.
pub struct FileLockedStore {
    inner: Arc<dyn CheckpointStore>,
    lock: Arc<FileLock>,
}

impl FileLockedStore {
    pub fn new(inner: Arc<dyn CheckpointStore>, lock: Arc<FileLock>) -> FileLockedStore {
        FileLockedStore { inner, lock }
    }
}

#[async_trait::async_trait]
impl CheckpointStore for FileLockedStore {
    async fn create(&self, run: &NewRun, first: Event) -> Result<(), CheckpointError> {
        self.inner.create(run, first).await?;
        // Only what a refused process prints: not worth failing the run over.
        let _ = self.lock.set_run_id(&run.run_id);
        Ok(())
    }

    async fn append(&self, run_id: &str, entries: Vec<Event>) -> Result<(), CheckpointError> {
        self.inner.append(run_id, entries).await
    }

    async fn load(&self, run_id: &str) -> Result<StoredRun, CheckpointError> {
        self.inner.load(run_id).await
    }

    async fn list(&self) -> Result<Vec<RunSummary>, CheckpointError> {
        self.inner.list().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_with_its_holder_until_the_first_is_released() {
        let dir = tempfile::tempdir().unwrap();
        let first = FileLock::acquire(dir.path(), "region failover/prod", "").unwrap();
        first.set_run_id("20261207-120000-abcd").unwrap();
        assert!(first.path().ends_with(format!(
            "locks/region_failover_prod-{}.lock",
            &hex::encode(Sha256::digest(b"region failover/prod"))[..12]
        )));
        // Another open file description of the same file, as another process would have.
        match FileLock::acquire(dir.path(), "region failover/prod", "x") {
            Err(FileLockError::Held { holder, name, .. }) => {
                let h = holder.expect("the holder is read");
                assert_eq!(name, "region failover/prod");
                assert_eq!(h.pid, std::process::id());
                assert_eq!(h.run_id, "20261207-120000-abcd");
                assert_eq!(h.runbook, "region failover/prod");
            }
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("taken twice"),
        }
        // Another runbook's lock is another file.
        let other = FileLock::acquire(dir.path(), "region failover-prod", "").unwrap();
        first.release();
        let again = FileLock::acquire(dir.path(), "region failover/prod", "y").unwrap();
        drop((other, again));
    }
}
