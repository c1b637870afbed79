//! The runbook lock of the DynamoDB store: at most one process drives a given runbook.
//!
//! The lock is the item `run_id = "lock#<runbook name>"`, `seq = 0` in the state table (run ids
//! never contain `#`, so it cannot collide with a run). It holds the owner (identity ARN, host,
//! pid, run id), a random token, `acquired_at` and `lease_expires_at` (epoch milliseconds). It is
//! taken with a conditional put (the item must be absent; with `steal`, its lease must have
//! expired), renewed every lease/3 by a background task (conditional on the token) and deleted
//! at the end. A process whose renewal finds another token has lost the lock: [`LockedStore`]
//! then refuses further appends, so nothing starts whose checkpoint the new holder could clash
//! with.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, TimeZone, Utc};

use super::dynamodb::{StateUrl, sdk_err};
use super::{CheckpointError, CheckpointStore, NewRun, RunSummary, StoredRun};
use crate::event::Event;

/// Who holds a lock.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LockOwner {
    pub identity: String,
    pub host: String,
    pub pid: u32,
    pub run_id: String,
    pub acquired_at: DateTime<Utc>,
    pub lease_expires_at: DateTime<Utc>,
}

impl LockOwner {
    fn describe(&self) -> String {
        format!(
            "{} on host `{}` (pid {}{}) since {}",
            self.identity,
            self.host,
            self.pid,
            if self.run_id.is_empty() {
                String::new()
            } else {
                format!(", run {}", self.run_id)
            },
            self.acquired_at.format("%Y-%m-%d %H:%M:%S UTC")
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "runbook `{name}` is locked by {}; its lease runs until {}\nhelp: wait for that run to \
         end; if its process died, run again with `--steal-lock` once the lease has expired",
        holder.describe(), holder.lease_expires_at.format("%H:%M:%S UTC")
    )]
    Held { name: String, holder: LockOwner },
    #[error(
        "runbook `{name}` is locked by {}; its lease expired at {}, so that process \
         probably died\nhelp: make sure it is gone, then take the run over with `--steal-lock`",
        holder.describe(), holder.lease_expires_at.format("%H:%M:%S UTC")
    )]
    Expired { name: String, holder: LockOwner },
    #[error(transparent)]
    Store(#[from] CheckpointError),
}

/// A held lock: renewed in the background until [`LockGuard::release`] (or drop).
pub struct LockGuard {
    client: Client,
    url: StateUrl,
    key: String,
    token: String,
    lost: Arc<AtomicBool>,
    /// When the lease ends at the latest unless renewed again (epoch milliseconds): the
    /// `lease_expires_at` of the last write sent (one the store did not confirm may have
    /// landed).
    lease_end: Arc<AtomicI64>,
    renewer: tokio::task::JoinHandle<()>,
    /// The holder it replaced, when stolen.
    pub stolen_from: Option<LockOwner>,
}

fn lock_key(name: &str) -> String {
    format!("lock#{name}")
}

fn millis(t: DateTime<Utc>) -> AttributeValue {
    AttributeValue::N(t.timestamp_millis().to_string())
}

fn owner_of(item: &HashMap<String, AttributeValue>) -> LockOwner {
    let s = |k: &str| {
        item.get(k)
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default()
    };
    let t = |k: &str| {
        item.get(k)
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<i64>().ok())
            .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
            .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
    };
    LockOwner {
        identity: s("owner"),
        host: s("host"),
        pid: s("pid").parse().unwrap_or(0),
        run_id: s("lock_run_id"),
        acquired_at: t("acquired_at"),
        lease_expires_at: t("lease_expires_at"),
    }
}

/// This machine's name (`HOSTNAME`, else `/etc/hostname`), when it has one: what a lock
/// holder and the journal's `run_started`/`run_resumed` record.
pub(crate) fn machine_name() -> Option<String> {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
}

/// This machine's name, as a lock holder names it.
pub(crate) fn host_name() -> String {
    machine_name().unwrap_or_else(|| "unknown".into())
}

/// Takes the lock of runbook `name` for `identity` (run id filled in later, see
/// [`LockGuard::set_run_id`]). With `steal`, an expired lease is taken over.
pub async fn acquire(
    client: Client,
    url: StateUrl,
    name: &str,
    identity: &str,
    run_id: &str,
    lease: Duration,
    steal: bool,
) -> Result<LockGuard, LockError> {
    let key = lock_key(name);
    let token = format!("{:016x}", fastrand::u64(..));
    let now = Utc::now();
    let expires = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(60));
    let host = host_name();
    let mut put = client
        .put_item()
        .table_name(&url.table)
        .item("run_id", AttributeValue::S(key.clone()))
        .item("seq", AttributeValue::N("0".into()))
        .item("kind", AttributeValue::S("lock".into()))
        .item("runbook", AttributeValue::S(name.to_string()))
        .item("owner", AttributeValue::S(identity.to_string()))
        .item("host", AttributeValue::S(host))
        .item("pid", AttributeValue::S(std::process::id().to_string()))
        .item("lock_run_id", AttributeValue::S(run_id.to_string()))
        .item("token", AttributeValue::S(token.clone()))
        .item("acquired_at", millis(now))
        .item("lease_expires_at", millis(expires))
        .item("lease_ms", AttributeValue::N(lease.as_millis().to_string()))
        .return_values(ReturnValue::AllOld);
    put = if steal {
        put.condition_expression("attribute_not_exists(run_id) OR lease_expires_at < :now")
            .expression_attribute_values(":now", millis(now))
    } else {
        put.condition_expression("attribute_not_exists(run_id)")
    };
    match put.send().await {
        Ok(out) => {
            let stolen_from = out.attributes().map(owner_of);
            let lost = Arc::new(AtomicBool::new(false));
            let lease_end = Arc::new(AtomicI64::new(expires.timestamp_millis()));
            let renewer = tokio::spawn(renew_loop(
                client.clone(),
                url.clone(),
                key.clone(),
                token.clone(),
                lease,
                lost.clone(),
                lease_end.clone(),
            ));
            Ok(LockGuard {
                client,
                url,
                key,
                token,
                lost,
                lease_end,
                renewer,
                stolen_from,
            })
        }
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
        {
            let item = client
                .get_item()
                .table_name(&url.table)
                .key("run_id", AttributeValue::S(key.clone()))
                .key("seq", AttributeValue::N("0".into()))
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| sdk_err("GetItem", &url, e))?;
            let holder = item.item().map(owner_of).unwrap_or(LockOwner {
                identity: "(released meanwhile)".into(),
                host: String::new(),
                pid: 0,
                run_id: String::new(),
                acquired_at: now,
                lease_expires_at: now,
            });
            let name = name.to_string();
            if holder.lease_expires_at < Utc::now() && !steal {
                Err(LockError::Expired { name, holder })
            } else {
                Err(LockError::Held { name, holder })
            }
        }
        Err(e) => Err(LockError::Store(sdk_err("PutItem", &url, e))),
    }
}

async fn renew_loop(
    client: Client,
    url: StateUrl,
    key: String,
    token: String,
    lease: Duration,
    lost: Arc<AtomicBool>,
    lease_end: Arc<AtomicI64>,
) {
    let every = (lease / 3).max(Duration::from_millis(50));
    loop {
        tokio::time::sleep(every).await;
        let expires =
            Utc::now() + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(60));
        // Before it is sent: an answer that never comes may hide a write that landed.
        lease_end.fetch_max(expires.timestamp_millis(), Ordering::SeqCst);
        let res = client
            .update_item()
            .table_name(&url.table)
            .key("run_id", AttributeValue::S(key.clone()))
            .key("seq", AttributeValue::N("0".into()))
            .update_expression("SET lease_expires_at = :e")
            .condition_expression("#t = :t")
            .expression_attribute_names("#t", "token")
            .expression_attribute_values(":t", AttributeValue::S(token.clone()))
            .expression_attribute_values(":e", millis(expires))
            .send()
            .await;
        if let Err(e) = res
            && e.as_service_error()
                .is_some_and(|se| se.is_conditional_check_failed_exception())
        {
            lost.store(true, Ordering::SeqCst);
            return;
        }
        // Other errors (throttling, network): try again at the next tick.
    }
}

impl LockGuard {
    /// Whether another process took the lock over.
    pub fn is_lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// When the lease ends at the latest, unless renewed: the expiry of the last renewal sent,
    /// whether the store confirmed it or not.
    pub fn lease_end(&self) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(self.lease_end.load(Ordering::SeqCst))
            .single()
            .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
    }

    /// Records the run id in the lock (once the run exists).
    pub async fn set_run_id(&self, run_id: &str) -> Result<(), CheckpointError> {
        self.client
            .update_item()
            .table_name(&self.url.table)
            .key("run_id", AttributeValue::S(self.key.clone()))
            .key("seq", AttributeValue::N("0".into()))
            .update_expression("SET lock_run_id = :r")
            .condition_expression("#t = :t")
            .expression_attribute_names("#t", "token")
            .expression_attribute_values(":t", AttributeValue::S(self.token.clone()))
            .expression_attribute_values(":r", AttributeValue::S(run_id.to_string()))
            .send()
            .await
            .map_err(|e| sdk_err("UpdateItem", &self.url, e))?;
        Ok(())
    }

    /// Stops renewing and deletes the lock (if still ours).
    pub async fn release(&self) -> Result<(), CheckpointError> {
        self.renewer.abort();
        let res = self
            .client
            .delete_item()
            .table_name(&self.url.table)
            .key("run_id", AttributeValue::S(self.key.clone()))
            .key("seq", AttributeValue::N("0".into()))
            .condition_expression("#t = :t")
            .expression_attribute_names("#t", "token")
            .expression_attribute_values(":t", AttributeValue::S(self.token.clone()))
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(sdk_err("DeleteItem", &self.url, e)),
        }
    }

    /// The journal note recording a take-over, if the lock was stolen.
    pub fn steal_note(&self) -> Option<Event> {
        let prev = self.stolen_from.as_ref()?;
        let mut data = BTreeMap::new();
        data.insert(
            "previous_holder".to_string(),
            serde_json::to_value(prev).unwrap_or_default(),
        );
        Some(Event::Note {
            message: "lock stolen".into(),
            data,
        })
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        self.renewer.abort();
    }
}

/// A store that writes only while its lock is held, records the lock's run id on `create`, and
/// writes pending notes (a stolen lock) with the first record it can.
pub struct LockedStore {
    inner: Arc<dyn CheckpointStore>,
    guard: Arc<LockGuard>,
    pending: Mutex<Vec<Event>>,
}

impl LockedStore {
    pub fn new(inner: Arc<dyn CheckpointStore>, guard: Arc<LockGuard>) -> LockedStore {
        let pending = guard.steal_note().into_iter().collect();
        LockedStore {
            inner,
            guard,
            pending: Mutex::new(pending),
        }
    }

    fn check(&self) -> Result<(), CheckpointError> {
        if self.guard.is_lost() {
            return Err(CheckpointError::Store(
                "the runbook lock was taken over by another process; this process stops \
                 writing\nhelp: see `drillbook runs --state ...` for who drives the run now"
                    .into(),
            ));
        }
        Ok(())
    }

    fn take_pending(&self) -> Vec<Event> {
        std::mem::take(&mut *self.pending.lock().expect("pending notes poisoned"))
    }
}

#[async_trait::async_trait]
impl CheckpointStore for LockedStore {
    async fn create(&self, run: &NewRun, first: Event) -> Result<(), CheckpointError> {
        self.check()?;
        self.inner.create(run, first).await?;
        self.guard.set_run_id(&run.run_id).await?;
        let notes = self.take_pending();
        self.inner.append(&run.run_id, notes).await
    }

    async fn append(&self, run_id: &str, entries: Vec<Event>) -> Result<(), CheckpointError> {
        self.check()?;
        let mut all = self.take_pending();
        all.extend(entries);
        self.inner.append(run_id, all).await
    }

    async fn load(&self, run_id: &str) -> Result<StoredRun, CheckpointError> {
        self.inner.load(run_id).await
    }

    async fn list(&self) -> Result<Vec<RunSummary>, CheckpointError> {
        self.inner.list().await
    }
}
