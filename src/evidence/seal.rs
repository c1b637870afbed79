//! Sealing: hash every file of an evidence directory, record the journal's head, sign, and
//! write `manifest.json`.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use chrono::{SecondsFormat, Utc};
use sha2::{Digest, Sha256};

use super::error::EvidenceError;
use super::journal::check_chain;
use super::manifest::{
    FileEntry, JOURNAL_FILE, JournalHead, KIND, MANIFEST_FILE, MANIFEST_FORMAT_VERSION, Manifest,
    signing_message,
};
use super::signer::{Prepared, Signer, prepare, verify_signature};
use crate::actions::aws::Aws;

/// Seals `dir`: writes `manifest.json` listing every file (path, size, SHA-256), the journal's
/// head when `journal.jsonl` is present, and the signer, signed by `signer`. A KMS signer uses
/// the standard AWS configuration chain ([`seal_with_aws`] takes a given one).
///
/// Refuses a directory that is already sealed, that holds symlinks or non-UTF-8 names, or whose
/// journal's hash chain is broken.
pub async fn seal(dir: &Path, signer: &Signer) -> Result<Manifest, EvidenceError> {
    seal_inner(dir, signer, None).await
}

/// [`seal`] with the run's AWS access (for `kms:` signers; ignored otherwise).
pub async fn seal_with_aws(
    dir: &Path,
    signer: &Signer,
    aws: &Aws,
) -> Result<Manifest, EvidenceError> {
    seal_inner(dir, signer, Some(aws)).await
}

async fn seal_inner(
    dir: &Path,
    signer: &Signer,
    aws: Option<&Aws>,
) -> Result<Manifest, EvidenceError> {
    if !dir.is_dir() {
        return Err(EvidenceError::NotADirectory(dir.to_path_buf()));
    }
    let manifest_path = dir.join(MANIFEST_FILE);
    if manifest_path.symlink_metadata().is_ok() {
        return Err(EvidenceError::Unsealable {
            path: manifest_path,
            reason: "the directory is already sealed".into(),
            help: "check it with `drillbook verify-evidence DIR`; re-sealing would hide changes made since".into(),
        });
    }
    let prepared = prepare(signer, aws).await?;
    let files = scan(dir)?;

    let journal = if files.iter().any(|f| f.path == JOURNAL_FILE) {
        let path = dir.join(JOURNAL_FILE);
        let bytes = std::fs::read(&path).map_err(|e| EvidenceError::io(&path, e))?;
        let chain = check_chain(&bytes);
        if !chain.problems.is_empty() {
            let list: Vec<String> = chain
                .problems
                .iter()
                .map(|(line, r)| format!("line {line}: {r}"))
                .collect();
            return Err(EvidenceError::Unsealable {
                path,
                reason: format!("the journal's hash chain is broken: {}", list.join("; ")),
                help: "evidence can only seal an intact journal; keep the damaged run directory for investigation".into(),
            });
        }
        Some(JournalHead {
            path: JOURNAL_FILE.to_string(),
            records: chain.records,
            last_seq: chain.last_seq,
            head_sha256: chain.head_sha256,
        })
    } else {
        None
    };

    let mut manifest = Manifest {
        kind: KIND.to_string(),
        format_version: MANIFEST_FORMAT_VERSION,
        drillbook_version: env!("CARGO_PKG_VERSION").to_string(),
        created_at: Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
        files,
        journal,
        signer: prepared.info(),
        signature: None,
    };
    let value = serde_json::to_value(&manifest).map_err(|e| internal(dir, e))?;
    let message = signing_message(&value);
    if let Some(sig) = prepared.sign(&message).await? {
        let b64 = aws_smithy_types::base64::encode(&sig);
        if let Err(why) = verify_signature(&manifest.signer, &message, Some(&b64)) {
            let key = match &prepared {
                Prepared::Kms { key_arn, .. } => key_arn.clone(),
                _ => signer.to_string(),
            };
            return Err(EvidenceError::KmsKey {
                key,
                reason: format!("the signature it returned does not verify with its public key ({why})"),
                help: "check that the endpoint is AWS KMS (or an emulator that signs with ECDSA_SHA_256)".into(),
            });
        }
        manifest.signature = Some(b64);
    }

    let mut text = serde_json::to_vec_pretty(&manifest).map_err(|e| internal(dir, e))?;
    text.push(b'\n');
    write_atomically(&manifest_path, &text)?;
    Ok(manifest)
}

fn internal(dir: &Path, e: serde_json::Error) -> EvidenceError {
    EvidenceError::io(dir, std::io::Error::other(e))
}

/// Every regular file under `dir` except the root's `manifest.json`, sorted by path (bytewise).
pub(crate) fn scan(dir: &Path) -> Result<Vec<FileEntry>, EvidenceError> {
    let mut out = Vec::new();
    let mut stack: Vec<(PathBuf, String)> = vec![(dir.to_path_buf(), String::new())];
    while let Some((abs, rel)) = stack.pop() {
        let entries = std::fs::read_dir(&abs).map_err(|e| EvidenceError::io(&abs, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| EvidenceError::io(&abs, e))?;
            let path = entry.path();
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                return Err(EvidenceError::Unsealable {
                    path,
                    reason: "the file name is not UTF-8".into(),
                    help: "rename the file; manifest paths are UTF-8".into(),
                });
            };
            let rel_path = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            if rel_path == MANIFEST_FILE {
                continue;
            }
            let ft = entry.file_type().map_err(|e| EvidenceError::io(&path, e))?;
            if ft.is_dir() {
                stack.push((path, rel_path));
            } else if ft.is_file() {
                let (size, sha256) = hash_file(&path)?;
                out.push(FileEntry {
                    path: rel_path,
                    size,
                    sha256,
                });
            } else {
                return Err(EvidenceError::Unsealable {
                    path,
                    reason: "not a regular file or directory (a symlink, socket or device)".into(),
                    help: "copy the file itself into the evidence directory".into(),
                });
            }
        }
    }
    out.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    Ok(out)
}

/// (size, lowercase hex SHA-256) of a file's bytes.
pub(crate) fn hash_file(path: &Path) -> Result<(u64, String), EvidenceError> {
    let mut f = std::fs::File::open(path).map_err(|e| EvidenceError::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(|e| EvidenceError::io(path, e))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((size, hex::encode(hasher.finalize())))
}

/// Writes `path` through a temporary file in the same directory, fsync'd, then renamed.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), EvidenceError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(".{MANIFEST_FILE}.tmp-{}", std::process::id()));
    let res = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    res.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        EvidenceError::io(path, e)
    })
}
