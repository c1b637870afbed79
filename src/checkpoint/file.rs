//! The file checkpoint store: one directory per run under `<state-dir>/runs/<run-id>/`.
//!
//! ```text
//! runbook.yaml     the runbook text as run
//! runbook.sha256   hex SHA-256 of runbook.yaml, newline-terminated
//! vars.json        the resolved variables (after --var overrides)
//! journal.jsonl    the hash-chained journal (see docs/journal.md)
//! ```
//!
//! `append` writes a whole batch with one `write` and one `fsync` (group commit): records of
//! steps that finish together share a single flush.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::Utc;
use sha2::{Digest, Sha256};

#[cfg(test)]
use super::new_run_id;
use super::{CheckpointError, CheckpointStore, GENESIS, NewRun, Record, RunSummary, StoredRun};
use crate::event::Event;

/// Whether `id` has the shape of a run id (guards against paths such as `../x`).
pub fn valid_run_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Hex SHA-256 of one journal line (without its newline).
pub fn line_hash(line: &[u8]) -> String {
    hex::encode(Sha256::digest(line))
}

/// Every line the store writes ends with `,"sum":"<64 hex>"}`: the SHA-256 of the line's bytes
/// before that suffix. It makes damage to the *last* record detectable, which the `prev` chain
/// cannot (nothing follows the last line).
const SUM_KEY: &[u8] = b",\"sum\":\"";
const SUM_SUFFIX_LEN: usize = SUM_KEY.len() + 64 + 2;

/// Appends the checksum field to a serialized record (`{...}`).
fn seal_line(mut line: Vec<u8>) -> Vec<u8> {
    debug_assert_eq!(line.last(), Some(&b'}'));
    line.pop();
    let sum = line_hash(&line);
    line.extend_from_slice(SUM_KEY);
    line.extend_from_slice(sum.as_bytes());
    line.extend_from_slice(b"\"}");
    line
}

/// How a line's checksum reads.
enum LineSum {
    /// The line ends with a `sum` field matching its bytes.
    Valid,
    /// The line ends with a `sum` field that does not match (or a damaged one).
    Mismatch,
    /// No checksum (journals written before checksums existed).
    Absent,
}

fn line_sum(line: &[u8]) -> LineSum {
    if line.len() < SUM_SUFFIX_LEN + 1 || !line.ends_with(b"\"}") {
        return LineSum::Absent;
    }
    let start = line.len() - SUM_SUFFIX_LEN;
    let (body, suffix) = line.split_at(start);
    let hex = &suffix[SUM_KEY.len()..SUM_KEY.len() + 64];
    if suffix.starts_with(SUM_KEY) {
        return if line_hash(body).as_bytes() == hex {
            LineSum::Valid
        } else {
            LineSum::Mismatch
        };
    }
    // `,"xyz":"<64 hex>"}` with another three-byte name: a damaged checksum key, not an old line.
    let shaped = suffix[0] == b','
        && suffix[1] == b'"'
        && suffix[5..8] == *b"\":\""
        && hex.iter().all(|b| b.is_ascii_hexdigit());
    if shaped {
        LineSum::Mismatch
    } else {
        LineSum::Absent
    }
}

/// Where the next record goes.
struct Tail {
    file: std::fs::File,
    next_seq: u64,
    last_hash: String,
    /// The journal's length as this process last read or wrote it: a journal that is longer
    /// when the next batch is appended was written by another process meanwhile.
    len: u64,
}

/// The tail of one run's journal, opened on first append.
type TailSlot = Arc<Mutex<Option<Tail>>>;

/// Journals in a directory. Cheap to clone (clones share the open journal tails).
#[derive(Clone)]
pub struct FileStore {
    root: PathBuf,
    tails: Arc<Mutex<HashMap<String, TailSlot>>>,
}

impl FileStore {
    /// A store rooted at `state_dir` (created on first write).
    pub fn new(state_dir: impl Into<PathBuf>) -> FileStore {
        FileStore {
            root: state_dir.into(),
            tails: Arc::default(),
        }
    }

    pub fn runs_dir(&self) -> PathBuf {
        self.root.join("runs")
    }

    /// The directory of one run.
    pub fn run_dir(&self, run_id: &str) -> PathBuf {
        self.runs_dir().join(run_id)
    }

    pub fn journal_path(&self, run_id: &str) -> PathBuf {
        self.run_dir(run_id).join("journal.jsonl")
    }

    fn tail(&self, run_id: &str) -> TailSlot {
        self.tails
            .lock()
            .expect("tail map poisoned")
            .entry(run_id.to_string())
            .or_default()
            .clone()
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> CheckpointError + '_ {
    move |source| CheckpointError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// One journal line (without its newline), exactly as every store writes it.
pub fn encode_line(
    seq: u64,
    at: chrono::DateTime<Utc>,
    prev: String,
    event: Event,
) -> Result<Vec<u8>, CheckpointError> {
    let rec = Record {
        seq,
        at,
        prev,
        event,
    };
    serde_json::to_vec(&rec)
        .map(crate::secret::redact_bytes)
        .map(seal_line)
        .map_err(|e| CheckpointError::Store(format!("cannot encode a record: {e}")))
}

/// Serializes entries as chained lines after (`next_seq`, `last_hash`); returns the bytes and
/// the new tail position.
fn encode(
    entries: Vec<Event>,
    mut next_seq: u64,
    mut last_hash: String,
) -> Result<(Vec<u8>, u64, String), CheckpointError> {
    let mut buf = Vec::with_capacity(entries.len() * 256);
    let at = Utc::now();
    for entry in entries {
        let line = encode_line(next_seq, at, last_hash, entry)?;
        last_hash = line_hash(&line);
        buf.extend_from_slice(&line);
        buf.push(b'\n');
        next_seq += 1;
    }
    Ok((buf, next_seq, last_hash))
}

/// Parses and verifies a journal: every line newline-terminated, valid JSON, `seq` contiguous
/// from 1, `prev` the hash of the line before (GENESIS first). Returns the records and the hash
/// of the last line.
pub fn verify_journal(
    run_id: &str,
    bytes: &[u8],
) -> Result<(Vec<Record>, String), CheckpointError> {
    let corrupt = |seq: u64, line: usize, reason: String| CheckpointError::Corrupt {
        run_id: run_id.to_string(),
        seq,
        line,
        reason,
    };
    let mut records = Vec::new();
    let mut prev = GENESIS.to_string();
    let mut rest = bytes;
    let mut line_no = 0usize;
    // Whether this journal's lines carry checksums (decided by the first line; all or none).
    let mut journal_summed: Option<bool> = None;
    while !rest.is_empty() {
        line_no += 1;
        let expected_seq = line_no as u64;
        let (line, complete) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => {
                let l = &rest[..i];
                rest = &rest[i + 1..];
                (l, true)
            }
            None => {
                let l = rest;
                rest = &[];
                (l, false)
            }
        };
        if !complete {
            return Err(corrupt(
                expected_seq,
                line_no,
                "the last record is incomplete (no newline): the journal was truncated or \
                 a write was torn by a crash\nhelp: if the process crashed while writing, delete \
                 this last partial line and resume; that write never completed, so no step relied \
                 on it and the step it described is treated as in doubt (observed again)"
                    .into(),
            ));
        }
        let sum = line_sum(line);
        let summed = matches!(sum, LineSum::Valid | LineSum::Mismatch);
        let first_summed = *journal_summed.get_or_insert(summed);
        if matches!(sum, LineSum::Mismatch) || summed != first_summed {
            return Err(corrupt(
                expected_seq,
                line_no,
                "checksum mismatch: the record's bytes do not match its `sum` (the record was \
                 damaged or edited after it was written)\nhelp: the journal cannot be trusted for \
                 a resume; keep it as evidence and start a new run"
                    .into(),
            ));
        }
        let rec: Record = serde_json::from_slice(line).map_err(|e| {
            corrupt(
                expected_seq,
                line_no,
                format!(
                    "not a valid record ({e})\nhelp: the journal was modified or damaged; \
                     it cannot be trusted for a resume"
                ),
            )
        })?;
        if rec.seq != expected_seq {
            return Err(corrupt(
                expected_seq,
                line_no,
                format!(
                    "sequence number {} where {expected_seq} was expected (records are missing \
                     or reordered)\nhelp: the journal cannot be trusted for a resume; keep it \
                     as evidence and start a new run",
                    rec.seq
                ),
            ));
        }
        if rec.prev != prev {
            return Err(corrupt(
                expected_seq,
                line_no,
                "hash chain broken: `prev` does not match the SHA-256 of the previous line \
                 (a record was changed, removed or inserted)\nhelp: the journal was modified \
                 after it was written and cannot be trusted for a resume; keep it as evidence \
                 and start a new run"
                    .into(),
            ));
        }
        prev = line_hash(line);
        records.push(rec);
    }
    if records.is_empty() {
        return Err(corrupt(1, 1, "the journal is empty".into()));
    }
    Ok((records, prev))
}

fn fsync_dir(dir: &Path) {
    // Best effort: makes the new directory entries durable on Unix.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

impl FileStore {
    fn create_blocking(&self, run: &NewRun, first: Event) -> Result<Tail, CheckpointError> {
        if !valid_run_id(&run.run_id) {
            return Err(CheckpointError::Store(format!(
                "invalid run id `{}`",
                run.run_id
            )));
        }
        let runs = self.runs_dir();
        std::fs::create_dir_all(&runs).map_err(io_err(&runs))?;
        let dir = self.run_dir(&run.run_id);
        std::fs::create_dir(&dir).map_err(io_err(&dir))?;
        let sha = crate::runbook::load::sha256_hex(run.runbook_text.as_bytes());
        let vars = serde_json::to_vec_pretty(&run.vars)
            .map_err(|e| CheckpointError::Store(e.to_string()))?;
        // The three files beside the journal are written, then synced at the same time: the
        // file system can commit them together instead of one after another. All three are on
        // disk before the journal's first record is written.
        let sha_line = format!("{sha}\n");
        let side: [(&str, &[u8]); 3] = [
            ("runbook.yaml", run.runbook_text.as_bytes()),
            ("runbook.sha256", sha_line.as_bytes()),
            ("vars.json", &vars),
        ];
        let mut files = Vec::with_capacity(side.len());
        for (name, bytes) in side {
            let p = dir.join(name);
            let mut f = std::fs::File::create(&p).map_err(io_err(&p))?;
            f.write_all(bytes).map_err(io_err(&p))?;
            files.push((p, f));
        }
        std::thread::scope(|s| {
            let syncs: Vec<_> = files
                .iter()
                .map(|(p, f)| s.spawn(move || f.sync_all().map_err(io_err(p))))
                .collect();
            syncs
                .into_iter()
                .try_for_each(|h| h.join().expect("fsync thread panicked"))
        })?;
        let (bytes, next_seq, last_hash) = encode(vec![first], 1, GENESIS.to_string())?;
        let p = dir.join("journal.jsonl");
        let mut file = std::fs::OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&p)
            .map_err(io_err(&p))?;
        file.write_all(&bytes).map_err(io_err(&p))?;
        file.sync_all().map_err(io_err(&p))?;
        fsync_dir(&dir);
        fsync_dir(&runs);
        Ok(Tail {
            file,
            next_seq,
            last_hash,
            len: bytes.len() as u64,
        })
    }

    fn open_tail(&self, run_id: &str) -> Result<Tail, CheckpointError> {
        let p = self.journal_path(run_id);
        let bytes = read_or_not_found(&p, run_id)?;
        let (records, last_hash) = verify_journal(run_id, &bytes)?;
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(&p)
            .map_err(io_err(&p))?;
        Ok(Tail {
            file,
            next_seq: records.len() as u64 + 1,
            last_hash,
            len: bytes.len() as u64,
        })
    }

    /// A loaded run's tail, from what was read: the process that resumes a run appends after
    /// the records it read, without reading the journal again. `None` when the journal grew
    /// between the read and the open (the first append then reads it), or cannot be opened
    /// for writing (a read-only copy of a state directory still loads).
    fn tail_of_read(&self, run: &StoredRun, read_len: u64) -> Option<Tail> {
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(self.journal_path(&run.run_id))
            .ok()?;
        let len = file.metadata().ok()?.len();
        (len == read_len).then(|| Tail {
            file,
            next_seq: run.records.len() as u64 + 1,
            last_hash: run.head_sha256.clone(),
            len,
        })
    }

    fn append_blocking(&self, run_id: &str, entries: Vec<Event>) -> Result<(), CheckpointError> {
        if entries.is_empty() {
            return Ok(());
        }
        let slot = self.tail(run_id);
        let mut guard = slot.lock().expect("journal tail poisoned");
        if guard.is_none() {
            *guard = Some(self.open_tail(run_id)?);
        }
        let tail = guard.as_mut().expect("tail just set");
        let p = self.journal_path(run_id);
        let on_disk = tail.file.metadata().map_err(io_err(&p))?.len();
        if on_disk != tail.len {
            // Chaining onto what this process read would fork the hash chain.
            *guard = None;
            return Err(CheckpointError::Store(format!(
                "the journal of run `{run_id}` was written by another process since this one \
                 read it\nhelp: two processes are driving this run: stop one of them, then \
                 resume the run again"
            )));
        }
        let (bytes, next_seq, last_hash) = encode(entries, tail.next_seq, tail.last_hash.clone())?;
        let res = tail
            .file
            .write_all(&bytes)
            .and_then(|()| tail.file.sync_data());
        if let Err(e) = res {
            // The file may now end with a partial batch: forget the tail so the next append
            // re-reads (and reports) the journal instead of chaining onto garbage.
            *guard = None;
            return Err(io_err(&p)(e));
        }
        tail.next_seq = next_seq;
        tail.last_hash = last_hash;
        tail.len += bytes.len() as u64;
        Ok(())
    }

    /// Reads and checks run `run_id`, with the length of the journal read.
    fn load_blocking(&self, run_id: &str) -> Result<(StoredRun, u64), CheckpointError> {
        if !valid_run_id(run_id) {
            return Err(CheckpointError::NotFound(run_id.to_string()));
        }
        let dir = self.run_dir(run_id);
        let bytes = read_or_not_found(&dir.join("journal.jsonl"), run_id)?;
        let (records, head_sha256) = verify_journal(run_id, &bytes)?;
        let read = |name: &str| -> Result<String, CheckpointError> {
            let p = dir.join(name);
            std::fs::read_to_string(&p).map_err(io_err(&p))
        };
        let runbook_text = read("runbook.yaml")?;
        let runbook_sha256 = read("runbook.sha256")?.trim().to_string();
        let vars: BTreeMap<String, String> = serde_json::from_str(&read("vars.json")?)
            .map_err(|e| CheckpointError::Store(format!("vars.json of run `{run_id}`: {e}")))?;
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
        if crate::runbook::load::sha256_hex(runbook_text.as_bytes()) != runbook_sha256 {
            return Err(CheckpointError::Corrupt {
                run_id: run_id.to_string(),
                seq: 1,
                line: 1,
                reason: "runbook.yaml does not match runbook.sha256".into(),
            });
        }
        let run = StoredRun {
            run_id: run_id.to_string(),
            runbook_text,
            runbook_path,
            runbook_sha256,
            vars,
            records,
            head_sha256,
        };
        run.check_integrity()?;
        Ok((run, bytes.len() as u64))
    }

    fn list_blocking(&self) -> Result<Vec<RunSummary>, CheckpointError> {
        let runs = self.runs_dir();
        let rd = match std::fs::read_dir(&runs) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => return Err(io_err(&runs)(e)),
        };
        let mut out = vec![];
        for ent in rd {
            let ent = ent.map_err(io_err(&runs))?;
            let Some(id) = ent.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if !valid_run_id(&id) {
                continue;
            }
            if !ent.path().join("journal.jsonl").exists() {
                continue;
            }
            let summary = match self.load_blocking(&id).map(|(run, _)| run) {
                Ok(run) => match RunSummary::of(&run) {
                    Some(s) => s,
                    None => continue,
                },
                Err(_) => RunSummary::corrupt(&id),
            };
            out.push(summary);
        }
        out.sort_by(|a, b| b.run_id.cmp(&a.run_id));
        Ok(out)
    }
}

fn read_or_not_found(p: &Path, run_id: &str) -> Result<Vec<u8>, CheckpointError> {
    std::fs::read(p).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            CheckpointError::NotFound(run_id.to_string())
        } else {
            io_err(p)(e)
        }
    })
}

/// Runs blocking file work off the async worker threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, CheckpointError> + Send + 'static,
) -> Result<T, CheckpointError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| CheckpointError::Store(format!("journal task failed: {e}")))?
}

#[async_trait::async_trait]
impl CheckpointStore for FileStore {
    async fn create(&self, run: &NewRun, first: Event) -> Result<(), CheckpointError> {
        let slot = self.tail(&run.run_id);
        let s = self.clone();
        let run = run.clone();
        let tail = blocking(move || s.create_blocking(&run, first)).await?;
        *slot.lock().expect("journal tail poisoned") = Some(tail);
        Ok(())
    }

    async fn append(&self, run_id: &str, entries: Vec<Event>) -> Result<(), CheckpointError> {
        let s = self.clone();
        let id = run_id.to_string();
        blocking(move || s.append_blocking(&id, entries)).await
    }

    async fn load(&self, run_id: &str) -> Result<StoredRun, CheckpointError> {
        let s = self.clone();
        let id = run_id.to_string();
        blocking(move || {
            let (run, len) = s.load_blocking(&id)?;
            // What was read is where this process appends next (resume loads, then appends):
            // a record another process wrote since then makes that append fail.
            let slot = s.tail(&id);
            let mut guard = slot.lock().expect("journal tail poisoned");
            if guard.is_none() {
                *guard = s.tail_of_read(&run, len);
            }
            Ok(run)
        })
        .await
    }

    async fn list(&self) -> Result<Vec<RunSummary>, CheckpointError> {
        let s = self.clone();
        blocking(move || s.list_blocking()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_run(id: &str) -> NewRun {
        NewRun {
            run_id: id.into(),
            runbook_text: "name: t\nsteps: []\n".into(),
            runbook_path: "t.yaml".into(),
            vars: BTreeMap::from([("a".into(), "1".into())]),
            identity: None,
        }
    }

    fn started(id: &str) -> Event {
        Event::RunStarted {
            format_version: super::super::FORMAT_VERSION,
            run_id: id.into(),
            runbook: "t.yaml".into(),
            runbook_sha256: crate::runbook::load::sha256_hex(b"name: t\nsteps: []\n"),
            mode: crate::event::Mode::Execute,
            identity: None,
            host: String::new(),
            user: String::new(),
            drillbook_version: "0".into(),
            steps: vec!["a".into()],
            vars_sha256: None,
            sealed_by: None,
        }
    }

    fn note(m: &str) -> Event {
        Event::Note {
            message: m.into(),
            data: BTreeMap::new(),
        }
    }

    #[tokio::test]
    async fn create_append_load_roundtrip_with_chain() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path());
        store.create(&new_run("r1"), started("r1")).await.unwrap();
        store
            .append("r1", vec![note("one"), note("two")])
            .await
            .unwrap();
        // A second store (a new process) continues the chain.
        let other = FileStore::new(dir.path());
        other.append("r1", vec![note("three")]).await.unwrap();
        let run = other.load("r1").await.unwrap();
        assert_eq!(run.records.len(), 4);
        assert_eq!(run.records[0].prev, GENESIS);
        let seqs: Vec<u64> = run.records.iter().map(|r| r.seq).collect();
        assert_eq!(seqs, [1, 2, 3, 4]);
        let text = std::fs::read_to_string(store.journal_path("r1")).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for i in 1..lines.len() {
            assert_eq!(run.records[i].prev, line_hash(lines[i - 1].as_bytes()));
        }
        assert_eq!(run.vars["a"], "1");
        assert_eq!(run.runbook_path, "t.yaml");
        assert_eq!(
            run.runbook_sha256,
            crate::runbook::load::sha256_hex(run.runbook_text.as_bytes())
        );
        let list = store.list().await.unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].status, Some(crate::event::RunStatus::Running));
    }

    #[tokio::test]
    async fn a_loaded_run_is_appended_to_without_a_second_read_unless_another_process_wrote() {
        let dir = tempfile::tempdir().unwrap();
        FileStore::new(dir.path())
            .create(&new_run("r3"), started("r3"))
            .await
            .unwrap();
        // A resume reads the run once and goes on from that read.
        let resumer = FileStore::new(dir.path());
        let run = resumer.load("r3").await.unwrap();
        assert_eq!(run.records.len(), 1);
        let p = resumer.journal_path("r3");
        let read = std::fs::read(&p).unwrap();
        // The journal's bytes are replaced by an equally long garbage line: an append that read
        // the journal again would refuse it; this one appends after the record it read.
        std::fs::write(&p, vec![b'x'; read.len()]).unwrap();
        resumer.append("r3", vec![note("one")]).await.unwrap();
        let text = std::fs::read(&p).unwrap();
        assert!(text.starts_with(&vec![b'x'; read.len()]));
        std::fs::write(&p, [&read[..], &text[read.len()..]].concat()).unwrap();
        let run = FileStore::new(dir.path()).load("r3").await.unwrap();
        assert_eq!(
            run.records.len(),
            2,
            "the append chained onto what was read"
        );

        // Another process appends after the read: this one's next append is refused, not
        // chained onto a record it never saw.
        let resumer = FileStore::new(dir.path());
        resumer.load("r3").await.unwrap();
        FileStore::new(dir.path())
            .append("r3", vec![note("other")])
            .await
            .unwrap();
        let err = resumer.append("r3", vec![note("two")]).await.unwrap_err();
        assert!(
            err.to_string().contains("written by another process"),
            "{err}"
        );
        let run = FileStore::new(dir.path()).load("r3").await.unwrap();
        assert_eq!(run.records.len(), 3);
    }

    #[tokio::test]
    async fn detects_torn_and_altered_lines() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path());
        store.create(&new_run("r2"), started("r2")).await.unwrap();
        store
            .append("r2", vec![note("one"), note("two")])
            .await
            .unwrap();
        let p = store.journal_path("r2");
        let good = std::fs::read(&p).unwrap();

        std::fs::write(&p, &good[..good.len() - 10]).unwrap();
        match FileStore::new(dir.path()).load("r2").await {
            Err(CheckpointError::Corrupt { line, reason, .. }) => {
                assert_eq!(line, 3);
                assert!(reason.contains("incomplete"), "{reason}");
            }
            other => panic!("{other:?}"),
        }

        let mut bad = good.clone();
        let pos = bad.windows(3).position(|w| w == b"one").unwrap();
        bad[pos] = b'O';
        std::fs::write(&p, &bad).unwrap();
        match FileStore::new(dir.path()).load("r2").await {
            Err(CheckpointError::Corrupt { line, reason, .. }) => {
                assert_eq!(line, 2, "{reason}");
                assert!(reason.contains("checksum mismatch"), "{reason}");
            }
            other => panic!("{other:?}"),
        }

        // The last record has no successor to carry its hash: its own checksum catches edits.
        let mut bad = good.clone();
        let pos = bad.windows(3).rposition(|w| w == b"two").unwrap();
        bad[pos] = b'T';
        std::fs::write(&p, &bad).unwrap();
        match FileStore::new(dir.path()).load("r2").await {
            Err(CheckpointError::Corrupt { line, reason, .. }) => {
                assert_eq!(line, 3, "{reason}");
                assert!(reason.contains("checksum mismatch"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn lines_without_checksums_still_verify_but_never_mixed_with_checksummed_ones() {
        let plain = |seq: u64, prev: &str| {
            let rec = Record {
                seq,
                at: Utc::now(),
                prev: prev.to_string(),
                event: Event::Note {
                    message: "m".into(),
                    data: Default::default(),
                },
            };
            serde_json::to_vec(&rec).unwrap()
        };
        let l1 = plain(1, GENESIS);
        let l2 = plain(2, &line_hash(&l1));
        let old = [l1.clone(), b"\n".to_vec(), l2, b"\n".to_vec()].concat();
        assert_eq!(verify_journal("r", &old).unwrap().0.len(), 2);
        let sealed = seal_line(l1);
        let l2 = plain(2, &line_hash(&sealed));
        let mixed = [sealed, b"\n".to_vec(), l2, b"\n".to_vec()].concat();
        assert!(matches!(
            verify_journal("r", &mixed),
            Err(CheckpointError::Corrupt { line: 2, .. })
        ));
    }

    #[test]
    fn run_ids_have_the_documented_shape() {
        let id = new_run_id();
        assert_eq!(id.len(), "20260101-120000-abcd".len());
        assert!(valid_run_id(&id));
        assert!(!valid_run_id("../etc"));
    }
}
