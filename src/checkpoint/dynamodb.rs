//! The DynamoDB checkpoint store: run state in one table, so any machine with access can list,
//! report, resume or take over a run (`--state dynamodb://TABLE?region=REGION`).
//!
//! One table, partition key `run_id` (S), sort key `seq` (N):
//!
//! ```text
//! run_id=<run id>       seq=0   kind=run: runbook_text, runbook_sha256, runbook_path, vars_json
//! run_id=<run id>       seq=N   line: the run's Nth write to its journal: one or more journal
//!                               lines (`\n` between them), byte for byte as the file store writes them
//! run_id=lock#<name>    seq=0   kind=lock: the runbook lock (see `lock.rs`)
//! run_id=summary#<id>   seq=0   kind=summary: a finished run's summary for `status` and `history`
//! ```
//!
//! A batch of records (the engine's group commit) is one item, or several when it is larger than
//! an item may be, so a batch costs one write whatever its length; a journal written one record
//! per item (item N holding record N) is the same layout. Every item is written with a
//! conditional put (`attribute_not_exists(seq)`), so two writers can never both write item N;
//! the loser gets [`CheckpointError::Store`] saying so. The hash
//! chain is the file store's: `load` concatenates the lines in `seq` order and verifies them with
//! [`super::file::verify_journal`], and [`DynamoDbStore::export`] writes the file-store layout.
//! `list` scans the seq-0 items (fine for hundreds of runs; a GSI would be needed beyond).
//! Throttling is retried by the SDK's standard retry policy.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Utc;

use super::file::{encode_line, line_hash, valid_run_id, verify_journal};
use super::{CheckpointError, CheckpointStore, GENESIS, NewRun, RunSummary, StoredRun};
use crate::actions::aws::aws_error;
use crate::event::Event;

/// A parsed `--state` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateUrl {
    pub table: String,
    pub region: String,
}

impl StateUrl {
    /// Parses `dynamodb://TABLE?region=REGION`.
    pub fn parse(url: &str) -> Result<StateUrl, String> {
        let help = "help: write the state location as `dynamodb://TABLE?region=REGION`";
        let Some(rest) = url.strip_prefix("dynamodb://") else {
            return Err(format!("unsupported state URL `{url}`\n{help}"));
        };
        let (table, query) = rest.split_once('?').unwrap_or((rest, ""));
        let valid_table = (3..=255).contains(&table.len())
            && table
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
        if !valid_table {
            return Err(format!(
                "invalid table name `{table}` in `{url}` (3-255 of a-z A-Z 0-9 _ - .)\n{help}"
            ));
        }
        let mut region = None;
        for kv in query.split('&').filter(|s| !s.is_empty()) {
            match kv.split_once('=') {
                Some(("region", r)) if !r.is_empty() => region = Some(r.to_string()),
                _ => return Err(format!("unknown parameter `{kv}` in `{url}`\n{help}")),
            }
        }
        let region = region
            .or_else(|| std::env::var("AWS_REGION").ok().filter(|r| !r.is_empty()))
            .ok_or_else(|| format!("no Region in `{url}` and AWS_REGION is not set\n{help}"))?;
        Ok(StateUrl {
            table: table.to_string(),
            region,
        })
    }
}

impl std::fmt::Display for StateUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "dynamodb://{}?region={}", self.table, self.region)
    }
}

/// The IAM actions the store needs on the table (`state init` prints them).
pub const IAM_ACTIONS: &[&str] = &[
    "dynamodb:DescribeTable",
    "dynamodb:PutItem",
    "dynamodb:GetItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:Query",
    "dynamodb:Scan",
];

/// Additional actions `state init` needs once, to create the table.
pub const IAM_INIT_ACTIONS: &[&str] = &[
    "dynamodb:CreateTable",
    "dynamodb:UpdateContinuousBackups",
    "dynamodb:DescribeContinuousBackups",
];

/// The most journal text one item holds: DynamoDB's item limit is 400 KB, attribute names
/// included (Developer Guide, "Constraints in Amazon DynamoDB", Items). A record longer than
/// this has an item of its own.
const ITEM_TEXT_MAX: usize = 300 * 1024;
/// Items per transaction: TransactWriteItems "groups up to 100 action requests" (API
/// reference, TransactWriteItems).
const TRANSACTION_ITEMS: usize = 100;
/// Journal text per transaction: "the aggregate size of the items in the transaction cannot
/// exceed 4 MB" (API reference, TransactWriteItems); the rest is left for keys and names.
const TRANSACTION_TEXT_MAX: usize = 3 * 1024 * 1024;

/// One journal item: its text (lines with `\n` between them) and how many records it holds.
#[derive(Debug, PartialEq)]
struct Item {
    text: String,
    records: u64,
}

/// A batch's lines packed into items of at most `ITEM_TEXT_MAX` bytes, and the items into
/// writes of at most `TRANSACTION_ITEMS` items and `TRANSACTION_TEXT_MAX` bytes (one
/// conditional put when a write has one item).
fn pack(lines: Vec<String>) -> Vec<Vec<Item>> {
    let mut items: Vec<Item> = Vec::new();
    for line in lines {
        match items.last_mut() {
            Some(item) if item.text.len() + 1 + line.len() <= ITEM_TEXT_MAX => {
                item.text.push('\n');
                item.text.push_str(&line);
                item.records += 1;
            }
            _ => items.push(Item {
                text: line,
                records: 1,
            }),
        }
    }
    let mut writes: Vec<Vec<Item>> = Vec::new();
    let mut text = 0;
    for item in items {
        match writes.last_mut() {
            Some(w)
                if w.len() < TRANSACTION_ITEMS
                    && text + item.text.len() <= TRANSACTION_TEXT_MAX =>
            {
                text += item.text.len();
                w.push(item);
            }
            _ => {
                text = item.text.len();
                writes.push(vec![item]);
            }
        }
    }
    writes
}

/// Where the next record goes.
#[derive(Debug, Clone)]
struct Tail {
    /// The next record's sequence number (its `seq` in the journal line).
    next_seq: u64,
    last_hash: String,
    /// The next item's sort key.
    next_item: u64,
}

/// The tail of one run's journal, known from `create`, `load` or the first append.
type TailSlot = Arc<tokio::sync::Mutex<Option<Tail>>>;

/// Journals in a DynamoDB table. Cheap to clone.
#[derive(Clone)]
pub struct DynamoDbStore {
    client: Client,
    url: StateUrl,
    tails: Arc<Mutex<HashMap<String, TailSlot>>>,
}

/// A store error from an SDK error: [`CheckpointError::Unavailable`] when the table's Region
/// is not answering (after the SDK's own retries), else [`CheckpointError::Store`].
pub(crate) fn sdk_err<E>(
    op: &str,
    url: &StateUrl,
    e: SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> CheckpointError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let a = aws_error("dynamodb", op, &url.region, e);
    if a.region_unreachable() {
        return CheckpointError::Unavailable {
            store: url.to_string(),
            message: a.to_string(),
        };
    }
    match a.hint() {
        Some(h) => CheckpointError::Store(format!("{a}\nhelp: {h}")),
        None => CheckpointError::Store(a.to_string()),
    }
}

fn utf8(line: Vec<u8>) -> Result<String, CheckpointError> {
    String::from_utf8(line).map_err(|_| CheckpointError::Store("a record is not UTF-8".into()))
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn get_s(item: &HashMap<String, AttributeValue>, k: &str) -> Option<String> {
    item.get(k).and_then(|v| v.as_s().ok()).cloned()
}

fn get_n(item: &HashMap<String, AttributeValue>, k: &str) -> Option<i64> {
    item.get(k)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

/// A run's stored pieces, unverified.
struct Raw {
    meta: HashMap<String, AttributeValue>,
    journal: Vec<u8>,
    /// The sort key of the last journal item (0 when there is none).
    last_item: u64,
}

/// How long one request to the table may take, and one call with the SDK's retries: a
/// Region that hangs stops the run within seconds instead of minutes (see
/// [`CheckpointError::Unavailable`]). DynamoDB answers a single-item write in milliseconds
/// ("single-digit millisecond performance", Developer Guide, "What is Amazon DynamoDB?").
pub const STORE_ATTEMPT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(4);
pub const STORE_CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// `client` with the store's timeouts (its connect timeout kept).
fn with_store_timeouts(client: Client) -> Client {
    use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
    let conf = client.config();
    let mut t = TimeoutConfig::builder()
        .operation_attempt_timeout(STORE_ATTEMPT_TIMEOUT)
        .operation_timeout(STORE_CALL_TIMEOUT);
    if let Some(d) = conf.timeout_config().and_then(|t| t.connect_timeout()) {
        t = t.connect_timeout(d);
    }
    Client::from_conf(conf.to_builder().timeout_config(t.build()).build())
}

impl DynamoDbStore {
    /// The store of `url` through `client`, whose calls get the store's timeouts.
    pub fn new(client: Client, url: StateUrl) -> DynamoDbStore {
        DynamoDbStore {
            client: with_store_timeouts(client),
            url,
            tails: Arc::default(),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn url(&self) -> &StateUrl {
        &self.url
    }

    fn err<E>(
        &self,
        op: &str,
        e: SdkError<E, aws_smithy_runtime_api::http::Response>,
    ) -> CheckpointError
    where
        E: aws_sdk_dynamodb::error::ProvideErrorMetadata
            + std::error::Error
            + Send
            + Sync
            + 'static,
    {
        sdk_err(op, &self.url, e)
    }

    fn tail(&self, run_id: &str) -> TailSlot {
        self.tails
            .lock()
            .expect("tail map poisoned")
            .entry(run_id.to_string())
            .or_default()
            .clone()
    }

    /// Writes item `seq` (journal text) unless it exists. Returns false when another writer got
    /// there first.
    ///
    /// An attempt whose answer was lost (a timeout, a reset) may have written the item; the
    /// SDK's retry then finds it there. So a failed condition is checked against the item
    /// itself: when it holds exactly this text, the write is this one. (TransactWriteItems
    /// needs no such check: the SDK sends every attempt with the same `ClientRequestToken`,
    /// which makes a retry idempotent: API reference, TransactWriteItems.)
    async fn put_line(
        &self,
        run_id: &str,
        seq: u64,
        line: String,
    ) -> Result<bool, CheckpointError> {
        let res = self
            .client
            .put_item()
            .table_name(&self.url.table)
            .item("run_id", s(run_id))
            .item("seq", n(seq))
            .item("line", s(line.clone()))
            .condition_expression("attribute_not_exists(seq)")
            .send()
            .await;
        match res {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                let there = self
                    .client
                    .get_item()
                    .table_name(&self.url.table)
                    .key("run_id", s(run_id))
                    .key("seq", n(seq))
                    .consistent_read(true)
                    .send()
                    .await
                    .map_err(|e| self.err("GetItem", e))?;
                Ok(there.item().and_then(|i| get_s(i, "line")) == Some(line))
            }
            Err(e) => Err(self.err("PutItem", e)),
        }
    }

    /// Writes several items in one transaction, each unless it exists. Returns false when
    /// another writer got one of them first (then none is written).
    async fn put_lines(
        &self,
        run_id: &str,
        lines: Vec<(u64, String)>,
    ) -> Result<bool, CheckpointError> {
        use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
        let mut req = self.client.transact_write_items();
        for (seq, line) in lines {
            let put = Put::builder()
                .table_name(&self.url.table)
                .item("run_id", s(run_id))
                .item("seq", n(seq))
                .item("line", s(line))
                .condition_expression("attribute_not_exists(seq)")
                .build()
                .map_err(|e| CheckpointError::Store(e.to_string()))?;
            req = req.transact_items(TransactWriteItem::builder().put(put).build());
        }
        match req.send().await {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error().is_some_and(|se| {
                    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
                    match se {
                        TransactWriteItemsError::TransactionCanceledException(t) => t
                            .cancellation_reasons()
                            .iter()
                            .any(|r| r.code() == Some("ConditionalCheckFailed")),
                        _ => false,
                    }
                }) =>
            {
                Ok(false)
            }
            Err(e) => Err(self.err("TransactWriteItems", e)),
        }
    }

    fn conflict(&self, run_id: &str, seq: u64) -> CheckpointError {
        CheckpointError::Store(format!(
            "record {seq} of run `{run_id}` was already written by another process: two \
             processes are driving this run\nhelp: stop one of them; the runbook lock \
             (`drillbook run` with `--state dynamodb://...`) prevents this"
        ))
    }

    async fn raw(&self, run_id: &str) -> Result<Raw, CheckpointError> {
        if !valid_run_id(run_id) {
            return Err(CheckpointError::NotFound(run_id.to_string()));
        }
        let mut meta = None;
        let mut journal = Vec::new();
        let mut last_item = 0;
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.url.table)
                .key_condition_expression("run_id = :r")
                .expression_attribute_values(":r", s(run_id))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| self.err("Query", e))?;
            for item in out.items() {
                if get_n(item, "seq") == Some(0) {
                    meta = Some(item.clone());
                } else {
                    journal.extend_from_slice(get_s(item, "line").unwrap_or_default().as_bytes());
                    journal.push(b'\n');
                    last_item = get_n(item, "seq").map_or(last_item, |n| n as u64);
                }
            }
            match out.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => break,
            }
        }
        let meta = meta.ok_or_else(|| CheckpointError::NotFound(run_id.to_string()))?;
        Ok(Raw {
            meta,
            journal,
            last_item,
        })
    }

    /// Writes the file-store layout of a run (`runbook.yaml`, `runbook.sha256`, `vars.json`,
    /// `journal.jsonl`) into `dir`, after verifying its chain. Returns the stored run.
    pub async fn export(&self, run_id: &str, dir: &Path) -> Result<StoredRun, CheckpointError> {
        let raw = self.raw(run_id).await?;
        let (run, _) = self.stored(run_id, &raw)?;
        let vars_json = get_s(&raw.meta, "vars_json").unwrap_or_default();
        let io = |p: &Path| {
            let path = p.display().to_string();
            move |source| CheckpointError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let sha_line = format!("{}\n", run.runbook_sha256);
        let files: [(&str, &[u8]); 4] = [
            ("runbook.yaml", run.runbook_text.as_bytes()),
            ("runbook.sha256", sha_line.as_bytes()),
            ("vars.json", vars_json.as_bytes()),
            ("journal.jsonl", &raw.journal),
        ];
        for (name, bytes) in files {
            let p = dir.join(name);
            std::fs::write(&p, bytes).map_err(io(&p))?;
        }
        Ok(run)
    }

    /// The verified run, and the tail an append continues from.
    fn stored(&self, run_id: &str, raw: &Raw) -> Result<(StoredRun, Tail), CheckpointError> {
        let (records, last_hash) = verify_journal(run_id, &raw.journal)?;
        let tail = Tail {
            next_seq: records.len() as u64 + 1,
            last_hash: last_hash.clone(),
            next_item: raw.last_item + 1,
        };
        let corrupt = |reason: &str| CheckpointError::Corrupt {
            run_id: run_id.to_string(),
            seq: 0,
            line: 0,
            reason: reason.to_string(),
        };
        let runbook_text =
            get_s(&raw.meta, "runbook_text").ok_or_else(|| corrupt("no runbook text"))?;
        let runbook_sha256 = get_s(&raw.meta, "runbook_sha256").unwrap_or_default();
        if crate::runbook::load::sha256_hex(runbook_text.as_bytes()) != runbook_sha256 {
            return Err(corrupt("the stored runbook does not match its SHA-256"));
        }
        let vars: BTreeMap<String, String> =
            serde_json::from_str(&get_s(&raw.meta, "vars_json").unwrap_or_default())
                .map_err(|e| corrupt(&format!("vars: {e}")))?;
        let runbook_path = match &records[0].event {
            Event::RunStarted { runbook, .. } => runbook.clone(),
            _ => {
                return Err(CheckpointError::Corrupt {
                    run_id: run_id.to_string(),
                    seq: 1,
                    line: 1,
                    reason: "the first record is not `run_started`".into(),
                });
            }
        };
        let run = StoredRun {
            run_id: run_id.to_string(),
            runbook_text,
            runbook_path,
            runbook_sha256,
            vars,
            records,
            head_sha256: last_hash,
        };
        run.check_integrity()?;
        Ok((run, tail))
    }

    /// Creates the table (on-demand, PITR on, deletion protection on) unless it exists; waits
    /// until it is active. Returns true when it was created.
    pub async fn create_table(&self) -> Result<bool, CheckpointError> {
        use aws_sdk_dynamodb::types::{
            AttributeDefinition, BillingMode, KeySchemaElement, KeyType,
            PointInTimeRecoverySpecification, ScalarAttributeType,
        };
        let attr = |name: &str, t: ScalarAttributeType| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(t)
                .build()
                .expect("complete attribute definition")
        };
        let key = |name: &str, t: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(t)
                .build()
                .expect("complete key element")
        };
        let res = self
            .client
            .create_table()
            .table_name(&self.url.table)
            .attribute_definitions(attr("run_id", ScalarAttributeType::S))
            .attribute_definitions(attr("seq", ScalarAttributeType::N))
            .key_schema(key("run_id", KeyType::Hash))
            .key_schema(key("seq", KeyType::Range))
            .billing_mode(BillingMode::PayPerRequest)
            .deletion_protection_enabled(true)
            .send()
            .await;
        let created = match res {
            Ok(_) => true,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_resource_in_use_exception()) =>
            {
                false
            }
            Err(e) => return Err(self.err("CreateTable", e)),
        };
        for _ in 0..120 {
            let out = self
                .client
                .describe_table()
                .table_name(&self.url.table)
                .send()
                .await
                .map_err(|e| self.err("DescribeTable", e))?;
            let active = out
                .table()
                .and_then(|t| t.table_status())
                .is_some_and(|s| *s == aws_sdk_dynamodb::types::TableStatus::Active);
            if active {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        self.client
            .update_continuous_backups()
            .table_name(&self.url.table)
            .point_in_time_recovery_specification(
                PointInTimeRecoverySpecification::builder()
                    .point_in_time_recovery_enabled(true)
                    .build()
                    .expect("complete PITR specification"),
            )
            .send()
            .await
            .map_err(|e| self.err("UpdateContinuousBackups", e))?;
        Ok(created)
    }
}

/// Partition key prefix of the cached run summaries (`drillbook status`, `history`).
const SUMMARY_PREFIX: &str = "summary#";

impl DynamoDbStore {
    /// In one scan: every run's id (its seq-0 `run` item) and the cached summaries (seq-0
    /// `summary` items: run id -> the summary's JSON text). Summaries are opaque here; the
    /// history layer writes and reads them.
    pub async fn runs_and_summaries(
        &self,
    ) -> Result<(Vec<String>, HashMap<String, String>), CheckpointError> {
        let mut ids = Vec::new();
        let mut summaries = HashMap::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let out = self
                .client
                .scan()
                .table_name(&self.url.table)
                .filter_expression("#s = :z AND (#k = :run OR #k = :summary)")
                .expression_attribute_names("#s", "seq")
                .expression_attribute_names("#k", "kind")
                .expression_attribute_values(":z", n(0))
                .expression_attribute_values(":run", s("run"))
                .expression_attribute_values(":summary", s("summary"))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| self.err("Scan", e))?;
            for item in out.items() {
                let Some(key) = get_s(item, "run_id") else {
                    continue;
                };
                match key.strip_prefix(SUMMARY_PREFIX) {
                    Some(id) => {
                        if let Some(json) = get_s(item, "summary_json") {
                            summaries.insert(id.to_string(), json);
                        }
                    }
                    None => ids.push(key),
                }
            }
            match out.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => break,
            }
        }
        ids.sort();
        Ok((ids, summaries))
    }

    /// Caches a finished run's summary (overwrites an older one).
    pub async fn put_summary(&self, run_id: &str, json: &str) -> Result<(), CheckpointError> {
        self.client
            .put_item()
            .table_name(&self.url.table)
            .item("run_id", s(format!("{SUMMARY_PREFIX}{run_id}")))
            .item("seq", n(0))
            .item("kind", s("summary"))
            .item("summary_json", s(json))
            .send()
            .await
            .map_err(|e| self.err("PutItem", e))?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl CheckpointStore for DynamoDbStore {
    async fn create(&self, run: &NewRun, first: Event) -> Result<(), CheckpointError> {
        if !valid_run_id(&run.run_id) {
            return Err(CheckpointError::Store(format!(
                "invalid run id `{}`",
                run.run_id
            )));
        }
        let sha = crate::runbook::load::sha256_hex(run.runbook_text.as_bytes());
        let vars = serde_json::to_string_pretty(&run.vars)
            .map_err(|e| CheckpointError::Store(e.to_string()))?;
        let res = self
            .client
            .put_item()
            .table_name(&self.url.table)
            .item("run_id", s(&run.run_id))
            .item("seq", n(0))
            .item("kind", s("run"))
            .item("runbook_text", s(&run.runbook_text))
            .item("runbook_sha256", s(sha))
            .item("runbook_path", s(&run.runbook_path))
            .item("vars_json", s(vars))
            .item("created_at", s(Utc::now().to_rfc3339()))
            .condition_expression("attribute_not_exists(run_id)")
            .send()
            .await;
        match res {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                // The engine draws another id on AlreadyExists.
                return Err(CheckpointError::Io {
                    path: format!("{}/{}", self.url, run.run_id),
                    source: std::io::Error::new(
                        std::io::ErrorKind::AlreadyExists,
                        "the run already exists",
                    ),
                });
            }
            Err(e) => return Err(self.err("PutItem", e)),
        }
        let line = encode_line(1, Utc::now(), GENESIS.to_string(), first)?;
        let hash = line_hash(&line);
        if !self.put_line(&run.run_id, 1, utf8(line)?).await? {
            return Err(self.conflict(&run.run_id, 1));
        }
        *self.tail(&run.run_id).lock().await = Some(Tail {
            next_seq: 2,
            last_hash: hash,
            next_item: 2,
        });
        Ok(())
    }

    async fn append(&self, run_id: &str, entries: Vec<Event>) -> Result<(), CheckpointError> {
        if entries.is_empty() {
            return Ok(());
        }
        let slot = self.tail(run_id);
        let mut guard = slot.lock().await;
        if guard.is_none() {
            let raw = self.raw(run_id).await?;
            let (records, last_hash) = verify_journal(run_id, &raw.journal)?;
            *guard = Some(Tail {
                next_seq: records.len() as u64 + 1,
                last_hash,
                next_item: raw.last_item + 1,
            });
        }
        let at = Utc::now();
        let tail = guard.as_mut().expect("tail just set");
        let (mut seq, mut hash) = (tail.next_seq, tail.last_hash.clone());
        let mut lines = Vec::with_capacity(entries.len());
        for entry in entries {
            let line = encode_line(seq, at, hash, entry)?;
            hash = line_hash(&line);
            seq += 1;
            lines.push(utf8(line)?);
        }
        // Each write is all or nothing, every item conditional on its absence, and durable
        // before the next is sent.
        for write in pack(lines) {
            let first_record = tail.next_seq;
            let records: u64 = write.iter().map(|i| i.records).sum();
            let mut keyed: Vec<(u64, String)> = write
                .into_iter()
                .zip(tail.next_item..)
                .map(|(item, key)| (key, item.text))
                .collect();
            let next_item = tail.next_item + keyed.len() as u64;
            let res = if keyed.len() > 1 {
                self.put_lines(run_id, keyed).await
            } else {
                let (key, text) = keyed.pop().expect("a write has an item");
                self.put_line(run_id, key, text).await
            };
            match res {
                Ok(true) => {
                    tail.next_seq += records;
                    tail.next_item = next_item;
                }
                Ok(false) => {
                    *guard = None;
                    return Err(self.conflict(run_id, first_record));
                }
                Err(e) => {
                    // Unknown whether it was written: re-read the journal next time.
                    *guard = None;
                    return Err(e);
                }
            }
        }
        tail.last_hash = hash;
        Ok(())
    }

    async fn load(&self, run_id: &str) -> Result<StoredRun, CheckpointError> {
        let raw = self.raw(run_id).await?;
        let (run, tail) = self.stored(run_id, &raw)?;
        // What was read is where this process appends next (resume loads, then appends): a
        // record another process wrote since then makes that append fail, not follow it.
        let slot = self.tail(run_id);
        let mut guard = slot.lock().await;
        if guard.is_none() {
            *guard = Some(tail);
        }
        Ok(run)
    }

    async fn list(&self) -> Result<Vec<RunSummary>, CheckpointError> {
        let (ids, _) = self.runs_and_summaries().await?;
        let mut out = Vec::new();
        for id in ids {
            let summary = match self.load(&id).await {
                Ok(run) => match RunSummary::of(&run) {
                    Some(s) => s,
                    None => continue,
                },
                // One malformed item (a bad id, a missing attribute, a broken chain) is
                // flagged with its run id; it does not hide everyone else's runs.
                Err(CheckpointError::Corrupt { .. } | CheckpointError::NotFound(_)) => {
                    RunSummary::corrupt(&id)
                }
                Err(e) => return Err(e),
            };
            out.push(summary);
        }
        out.sort_by(|a, b| b.run_id.cmp(&a.run_id));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_pack_into_items_and_writes_within_dynamodb_limits() {
        let small: Vec<String> = (0..5).map(|i| format!("line {i}")).collect();
        let writes = pack(small);
        assert_eq!(writes.len(), 1);
        assert_eq!(
            writes[0],
            [Item {
                text: "line 0\nline 1\nline 2\nline 3\nline 4".into(),
                records: 5
            }]
        );
        // 200 KB records: one per item; 15 of them (3 MB) per transaction, not 100 (20 MB).
        let big: Vec<String> = (0..40).map(|_| "x".repeat(200 * 1024)).collect();
        let writes = pack(big);
        assert!(writes.iter().flatten().all(|i| i.records == 1));
        assert_eq!(writes.iter().map(Vec::len).sum::<usize>(), 40);
        for w in &writes {
            let text: usize = w.iter().map(|i| i.text.len()).sum();
            assert!(
                w.len() <= TRANSACTION_ITEMS && text <= TRANSACTION_TEXT_MAX,
                "{text}"
            );
        }
        assert_eq!(writes[0].len(), 15);
        // Many small records: 300 KB items, at most 100 per write.
        let many: Vec<String> = (0..200_000).map(|i| format!("{i:0>20}")).collect();
        let writes = pack(many);
        let records: u64 = writes.iter().flatten().map(|i| i.records).sum();
        assert_eq!(records, 200_000);
        assert!(
            writes
                .iter()
                .flatten()
                .all(|i| i.text.len() <= ITEM_TEXT_MAX)
        );
    }

    #[test]
    fn parses_state_urls() {
        let u = StateUrl::parse("dynamodb://drill-state?region=eu-west-1").unwrap();
        assert_eq!(u.table, "drill-state");
        assert_eq!(u.region, "eu-west-1");
        assert_eq!(u.to_string(), "dynamodb://drill-state?region=eu-west-1");
        assert!(StateUrl::parse("s3://x").unwrap_err().contains("help:"));
        assert!(StateUrl::parse("dynamodb://a?region=x").is_err());
        assert!(StateUrl::parse("dynamodb://table?colour=red").is_err());
    }
}
