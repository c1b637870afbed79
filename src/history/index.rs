//! The run index: every run's [`RunDigest`], kept beside the runs of the file store.
//!
//! `<state-dir>/index.jsonl` holds one line per run: `{"v":2,"run_id","journal_len","digest"}`.
//! A line is reused while the run's journal has the same length (a journal only grows), so a
//! read digests only the runs that are new or went on since. The index is a cache: it is
//! rewritten whole (temporary file, then rename) when something changed, a damaged or older
//! index is rebuilt, and deleting it loses nothing.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::RunDigest;
use crate::checkpoint::file::{FileStore, valid_run_id};
use crate::checkpoint::{CheckpointError, CheckpointStore};

/// The index file, in the state directory.
pub const INDEX_FILE: &str = "index.jsonl";

/// Version of the index lines; a different one is rebuilt.
pub const DIGEST_VERSION: u32 = 3;

#[derive(Serialize, Deserialize)]
struct Line {
    v: u32,
    run_id: String,
    journal_len: u64,
    /// `None` for a run that cannot be digested (a damaged journal, a runbook that no longer
    /// loads): remembered so it is not read again until its journal changes.
    digest: Option<RunDigest>,
}

/// Every run's digest from the DynamoDB store, newest first. A finished run's digest is cached
/// in the table as a summary item (it cannot change any more), so a read loads only the runs
/// that are new, still going, paused, or failed (a failed run can be resumed).
pub async fn digests_dynamodb(
    store: &crate::checkpoint::dynamodb::DynamoDbStore,
) -> Result<Vec<RunDigest>, CheckpointError> {
    let (ids, cached) = store.runs_and_summaries().await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(d) = cached
            .get(&id)
            .and_then(|j| serde_json::from_str::<Line>(j).ok())
            .filter(|l| l.v == DIGEST_VERSION)
            .and_then(|l| l.digest)
        {
            out.push(d);
            continue;
        }
        let Some(d) = store.load(&id).await.ok().as_ref().and_then(RunDigest::of) else {
            continue;
        };
        if d.is_final() {
            let line = Line {
                v: DIGEST_VERSION,
                run_id: id.clone(),
                journal_len: 0,
                digest: Some(d.clone()),
            };
            // A cache: a failed write costs only speed next time.
            if let Ok(json) = serde_json::to_string(&line) {
                let _ = store.put_summary(&id, &json).await;
            }
        }
        out.push(d);
    }
    out.sort_by(|a, b| b.run_id.cmp(&a.run_id));
    Ok(out)
}

/// Every run's digest from the file store in `state_dir`, newest first, through its index.
pub async fn digests(state_dir: &Path) -> Result<Vec<RunDigest>, CheckpointError> {
    let mut out = indexed(state_dir).await?;
    out.sort_by(|a, b| b.run_id.cmp(&a.run_id));
    Ok(out)
}

async fn indexed(dir: &Path) -> Result<Vec<RunDigest>, CheckpointError> {
    let files = FileStore::new(dir);
    let index_path = dir.join(INDEX_FILE);
    let mut known: HashMap<String, Line> = std::fs::read_to_string(&index_path)
        .map(|text| {
            text.lines()
                .filter_map(|l| serde_json::from_str::<Line>(l).ok())
                .filter(|l| l.v == DIGEST_VERSION)
                .map(|l| (l.run_id.clone(), l))
                .collect()
        })
        .unwrap_or_default();
    let runs = match std::fs::read_dir(files.runs_dir()) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => {
            return Err(CheckpointError::Io {
                path: files.runs_dir().display().to_string(),
                source: e,
            });
        }
    };
    let mut lines: Vec<Line> = Vec::new();
    let mut changed = false;
    for ent in runs.flatten() {
        let Some(id) = ent.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if !valid_run_id(&id) {
            continue;
        }
        let Ok(meta) = std::fs::metadata(files.journal_path(&id)) else {
            continue;
        };
        let len = meta.len();
        match known.remove(&id) {
            Some(line) if line.journal_len == len => lines.push(line),
            _ => {
                changed = true;
                let digest = files.load(&id).await.ok().as_ref().and_then(RunDigest::of);
                lines.push(Line {
                    v: DIGEST_VERSION,
                    run_id: id,
                    journal_len: len,
                    digest,
                });
            }
        }
    }
    // Runs removed from the directory leave the index too.
    changed |= !known.is_empty();
    if changed {
        lines.sort_by(|a, b| a.run_id.cmp(&b.run_id));
        let mut text = String::with_capacity(lines.len() * 512);
        for l in &lines {
            if let Ok(s) = serde_json::to_string(l) {
                text.push_str(&s);
                text.push('\n');
            }
        }
        // A cache: a failure to write it costs only speed next time.
        let tmp = dir.join(format!(".{INDEX_FILE}.{}.tmp", std::process::id()));
        if std::fs::write(&tmp, text).is_ok() && std::fs::rename(&tmp, &index_path).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }
    Ok(lines.into_iter().filter_map(|l| l.digest).collect())
}
