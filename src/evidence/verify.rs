//! Verification: recompute every hash, compare with the manifest, check the journal's chain and
//! head, check the signature (offline), and report every problem found.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use super::error::EvidenceError;
use super::journal::check_chain;
use super::manifest::{
    JOURNAL_FILE, KIND, MANIFEST_FILE, MANIFEST_FORMAT_VERSION, Manifest, SignerInfo,
    signing_message,
};
use super::seal::hash_file;
use super::signer::{TrustedKey, verify_signature};

/// What the auditor brings.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// The public keys the manifest may be signed with (`--public-key`, repeatable): a signed
    /// manifest whose key is none of them is a mismatch. An unsigned manifest is not: it is
    /// reported as unsigned (`--require-signed` makes that a failure).
    pub trusted_keys: Vec<TrustedKey>,
}

/// The signature's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureStatus {
    /// Signed, and the signature matches the manifest.
    Valid,
    /// The manifest is unsigned (`none`): hashes only.
    Unsigned,
    /// Missing, malformed, or does not match.
    Invalid,
    /// The manifest could not be read.
    NotChecked,
}

/// One thing wrong with an evidence directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum Problem {
    /// manifest.json is not a readable drillbook manifest; nothing else could be checked.
    ManifestUnreadable { reason: String },
    /// The manifest contradicts itself (unsorted or duplicate paths, a bad path, ...).
    ManifestInconsistent { reason: String },
    /// A file's bytes differ from the manifest.
    Changed {
        path: String,
        expected_size: u64,
        actual_size: u64,
        expected_sha256: String,
        actual_sha256: String,
    },
    /// A file in the manifest is gone.
    Missing { path: String },
    /// A file not in the manifest was added.
    Extra { path: String },
    /// Something other than a regular file or directory (a symlink, ...).
    NotARegularFile { path: String },
    /// A file could not be read.
    Unreadable { path: String, reason: String },
    /// A broken link in the journal's hash chain.
    JournalChain { line: usize, reason: String },
    /// The journal's head or record count differs from the manifest.
    JournalHead { reason: String },
    /// The signature does not verify.
    Signature { reason: String },
    /// Signed, but not with the key the auditor trusts.
    UntrustedKey { expected: String, found: String },
    /// An approval that does not count under the runbook's `approvers:`.
    Approval {
        seq: u64,
        step: String,
        approver: String,
        reason: String,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::ManifestUnreadable { reason } => {
                write!(f, "{MANIFEST_FILE}: unreadable: {reason}")
            }
            Problem::ManifestInconsistent { reason } => write!(f, "{MANIFEST_FILE}: {reason}"),
            Problem::Changed {
                path,
                expected_size,
                actual_size,
                expected_sha256,
                actual_sha256,
            } => {
                if expected_size != actual_size {
                    write!(
                        f,
                        "{path}: changed (size {actual_size}, sealed {expected_size}; sha256 {actual_sha256}, sealed {expected_sha256})"
                    )
                } else {
                    write!(
                        f,
                        "{path}: changed (sha256 {actual_sha256}, sealed {expected_sha256})"
                    )
                }
            }
            Problem::Missing { path } => write!(f, "{path}: missing (removed after sealing)"),
            Problem::Extra { path } => write!(f, "{path}: added after sealing"),
            Problem::NotARegularFile { path } => {
                write!(f, "{path}: not a regular file (symlink or special file)")
            }
            Problem::Unreadable { path, reason } => write!(f, "{path}: unreadable: {reason}"),
            Problem::JournalChain { line, reason } => {
                write!(f, "{JOURNAL_FILE} line {line}: {reason}")
            }
            Problem::JournalHead { reason } => write!(f, "{JOURNAL_FILE}: {reason}"),
            Problem::Signature { reason } => write!(f, "signature: {reason}"),
            Problem::Approval {
                seq,
                step,
                approver,
                reason,
            } => write!(
                f,
                "{JOURNAL_FILE} record {seq}: approval of `{step}` by `{approver}` does not count: {reason}"
            ),
            Problem::UntrustedKey { expected, found } => write!(
                f,
                "signature: made with {found}, not with the trusted key {expected}"
            ),
        }
    }
}

/// The outcome of [`verify`].
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub dir: PathBuf,
    /// The manifest as read (`None` when unreadable).
    pub manifest: Option<Manifest>,
    /// Files on disk compared with the manifest.
    pub files_checked: usize,
    pub signature: SignatureStatus,
    /// Whether the signer's key was compared with a trusted key (`--public-key`).
    pub key_pinned: bool,
    /// Everything wrong, in order: manifest, files (by path), journal, signature, approvals.
    pub problems: Vec<Problem>,
    /// Every approval in the journal, judged against the runbook's `approvers:`.
    pub approvals: Vec<super::approval::Checked>,
}

impl VerifyReport {
    /// No problem found.
    pub fn intact(&self) -> bool {
        self.problems.is_empty()
    }
}

/// [`verify_with`] without a trusted key.
pub fn verify(dir: &Path) -> Result<VerifyReport, EvidenceError> {
    verify_with(dir, &VerifyOptions::default())
}

/// Verifies an evidence directory. `Err` only when `dir` is not a directory or has no
/// `manifest.json` (it is not evidence) ; everything found wrong is in the report's `problems`.
pub fn verify_with(dir: &Path, options: &VerifyOptions) -> Result<VerifyReport, EvidenceError> {
    if !dir.is_dir() {
        return Err(EvidenceError::NotADirectory(dir.to_path_buf()));
    }
    let manifest_path = dir.join(MANIFEST_FILE);
    let mut report = VerifyReport {
        dir: dir.to_path_buf(),
        manifest: None,
        files_checked: 0,
        signature: SignatureStatus::NotChecked,
        key_pinned: false,
        problems: Vec::new(),
        approvals: Vec::new(),
    };
    let bytes = match std::fs::read(&manifest_path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(EvidenceError::NotEvidence(dir.to_path_buf()));
        }
        Err(e) => {
            report.problems.push(Problem::ManifestUnreadable {
                reason: e.to_string(),
            });
            return Ok(report);
        }
    };
    let value: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => {
            report.problems.push(Problem::ManifestUnreadable {
                reason: format!("not valid JSON ({e})"),
            });
            return Ok(report);
        }
    };
    let kind = value.get("kind").and_then(Value::as_str);
    if kind != Some(KIND) {
        report.problems.push(Problem::ManifestUnreadable {
            reason: format!("`kind` is not `{KIND}`"),
        });
        return Ok(report);
    }
    let version = value.get("format_version").and_then(Value::as_u64);
    if version != Some(u64::from(MANIFEST_FORMAT_VERSION)) {
        report.problems.push(Problem::ManifestUnreadable {
            reason: format!(
                "format_version {} is not supported by this drillbook (it reads {MANIFEST_FORMAT_VERSION}); use the drillbook version that sealed it",
                version.map(|v| v.to_string()).unwrap_or_else(|| "missing".into())
            ),
        });
        return Ok(report);
    }
    let manifest: Manifest = match serde_json::from_value(value.clone()) {
        Ok(m) => m,
        Err(e) => {
            report.problems.push(Problem::ManifestUnreadable {
                reason: format!("not a valid manifest ({e})"),
            });
            return Ok(report);
        }
    };

    check_files(dir, &manifest, &mut report);
    check_journal(dir, &manifest, &mut report);
    check_signature(&value, &manifest, options, &mut report);
    check_approvals(dir, &mut report);
    report.manifest = Some(manifest);
    Ok(report)
}

/// A run that began signed is sealed with the key its `run_started` recorded.
fn check_sealed_by(signer: &SignerInfo, report: &mut VerifyReport) {
    let Ok(bytes) = std::fs::read(report.dir.join(JOURNAL_FILE)) else {
        return;
    };
    let Ok((records, _)) = crate::checkpoint::verify_journal("evidence", &bytes) else {
        return;
    };
    let Some(crate::event::Event::RunStarted {
        sealed_by: Some(began),
        ..
    }) = records.first().map(|r| &r.event)
    else {
        return;
    };
    let same = match (began, signer) {
        (SignerInfo::Ed25519 { public_key: a }, SignerInfo::Ed25519 { public_key: b }) => {
            a.eq_ignore_ascii_case(b)
        }
        (
            SignerInfo::KmsEcdsaP256 { key_arn: a, .. },
            SignerInfo::KmsEcdsaP256 { key_arn: b, .. },
        ) => a == b,
        (SignerInfo::None, SignerInfo::None) => true,
        _ => false,
    };
    if !same {
        report.problems.push(Problem::Signature {
            reason: format!(
                "the run began to be signed by {}, but its evidence is sealed by {}",
                super::approval::describe(began),
                super::approval::describe(signer)
            ),
        });
    }
}

/// Every approval re-checked: signature, signer, statement, trust (see [`super::approval`]).
fn check_approvals(dir: &Path, report: &mut VerifyReport) {
    use super::approval::Standing;
    match super::approval::check_evidence(dir) {
        Ok(Some(checked)) => {
            for c in &checked {
                if let Standing::Refused { reason } = &c.standing {
                    report.problems.push(Problem::Approval {
                        seq: c.seq,
                        step: c.step.clone(),
                        approver: c.approver.clone(),
                        reason: reason.clone(),
                    });
                }
            }
            report.approvals = checked;
        }
        Ok(None) => {}
        // A broken journal is already reported; a runbook that no longer loads is not.
        Err(reason) => report.problems.push(Problem::Approval {
            seq: 0,
            step: "-".into(),
            approver: "-".into(),
            reason: format!("approvals cannot be checked: {reason}"),
        }),
    }
}

/// What is on disk at a path.
enum Found {
    File,
    Other,
}

fn walk(dir: &Path, report: &mut VerifyReport) -> BTreeMap<String, (PathBuf, Found)> {
    let mut out = BTreeMap::new();
    let mut stack: Vec<(PathBuf, String)> = vec![(dir.to_path_buf(), String::new())];
    while let Some((abs, rel)) = stack.pop() {
        let entries = match std::fs::read_dir(&abs) {
            Ok(e) => e,
            Err(e) => {
                report.problems.push(Problem::Unreadable {
                    path: if rel.is_empty() { ".".into() } else { rel },
                    reason: e.to_string(),
                });
                continue;
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel_path = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            if rel_path == MANIFEST_FILE {
                continue;
            }
            match entry.file_type() {
                Ok(ft) if ft.is_dir() => stack.push((path, rel_path)),
                Ok(ft) if ft.is_file() => {
                    out.insert(rel_path, (path, Found::File));
                }
                _ => {
                    out.insert(rel_path, (path, Found::Other));
                }
            }
        }
    }
    out
}

fn check_files(dir: &Path, manifest: &Manifest, report: &mut VerifyReport) {
    // The list must be sorted, unique, and hold only plain relative paths.
    for pair in manifest.files.windows(2) {
        if pair[0].path.as_bytes() >= pair[1].path.as_bytes() {
            report.problems.push(Problem::ManifestInconsistent {
                reason: format!(
                    "file list not sorted or has duplicates at `{}`",
                    pair[1].path
                ),
            });
            break;
        }
    }
    for f in &manifest.files {
        let bad = f.path.is_empty()
            || f.path.starts_with('/')
            || f.path == MANIFEST_FILE
            || f.path
                .split('/')
                .any(|c| c.is_empty() || c == "." || c == "..")
            || f.path.contains('\\');
        if bad {
            report.problems.push(Problem::ManifestInconsistent {
                reason: format!(
                    "file list holds a path that cannot be in the directory: `{}`",
                    f.path
                ),
            });
        }
    }

    let mut on_disk = walk(dir, report);
    for f in &manifest.files {
        match on_disk.remove(&f.path) {
            None => report.problems.push(Problem::Missing {
                path: f.path.clone(),
            }),
            Some((_, Found::Other)) => report.problems.push(Problem::NotARegularFile {
                path: f.path.clone(),
            }),
            Some((abs, Found::File)) => {
                report.files_checked += 1;
                match hash_file(&abs) {
                    Ok((size, sha256)) => {
                        if size != f.size || sha256 != f.sha256 {
                            report.problems.push(Problem::Changed {
                                path: f.path.clone(),
                                expected_size: f.size,
                                actual_size: size,
                                expected_sha256: f.sha256.clone(),
                                actual_sha256: sha256,
                            });
                        }
                    }
                    Err(e) => report.problems.push(Problem::Unreadable {
                        path: f.path.clone(),
                        reason: e.to_string(),
                    }),
                }
            }
        }
    }
    for (path, (_, found)) in on_disk {
        report.problems.push(match found {
            Found::File => Problem::Extra { path },
            Found::Other => Problem::NotARegularFile { path },
        });
    }
    // Keep file problems in path order whatever the kind.
    report
        .problems
        .sort_by(|a, b| problem_path(a).cmp(&problem_path(b)));
}

fn problem_path(p: &Problem) -> (u8, &str) {
    match p {
        Problem::ManifestUnreadable { .. } | Problem::ManifestInconsistent { .. } => (0, ""),
        Problem::Changed { path, .. }
        | Problem::Missing { path }
        | Problem::Extra { path }
        | Problem::NotARegularFile { path }
        | Problem::Unreadable { path, .. } => (1, path.as_str()),
        _ => (2, ""),
    }
}

fn check_journal(dir: &Path, manifest: &Manifest, report: &mut VerifyReport) {
    let listed = manifest.files.iter().any(|f| f.path == JOURNAL_FILE);
    let Some(head) = &manifest.journal else {
        if listed || dir.join(JOURNAL_FILE).exists() {
            report.problems.push(Problem::JournalHead {
                reason: "present, but the manifest records no journal head".into(),
            });
        }
        return;
    };
    if head.path != JOURNAL_FILE || !listed {
        report.problems.push(Problem::ManifestInconsistent {
            reason: format!(
                "the journal head names `{}`, which is not `{JOURNAL_FILE}` in the file list",
                head.path
            ),
        });
    }
    let path = dir.join(JOURNAL_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        // Missing or unreadable: already reported with the files.
        Err(_) => return,
    };
    let chain = check_chain(&bytes);
    for (line, reason) in chain.problems {
        report.problems.push(Problem::JournalChain { line, reason });
    }
    if chain.records != head.records {
        report.problems.push(Problem::JournalHead {
            reason: format!(
                "{} records where the manifest sealed {} (records removed or added)",
                chain.records, head.records
            ),
        });
    }
    if chain.head_sha256 != head.head_sha256 {
        report.problems.push(Problem::JournalHead {
            reason: format!(
                "the chain ends at {} where the manifest sealed {}",
                chain.head_sha256, head.head_sha256
            ),
        });
    } else if chain.last_seq != head.last_seq {
        report.problems.push(Problem::JournalHead {
            reason: format!(
                "the last `seq` is {} where the manifest sealed {}",
                chain.last_seq, head.last_seq
            ),
        });
    }
}

fn check_signature(
    value: &Value,
    manifest: &Manifest,
    options: &VerifyOptions,
    report: &mut VerifyReport,
) {
    let message = signing_message(value);
    report.signature =
        match verify_signature(&manifest.signer, &message, manifest.signature.as_deref()) {
            Ok(()) if manifest.signer == SignerInfo::None => SignatureStatus::Unsigned,
            Ok(()) => SignatureStatus::Valid,
            Err(reason) => {
                report.problems.push(Problem::Signature { reason });
                SignatureStatus::Invalid
            }
        };
    if !options.trusted_keys.is_empty() && manifest.signer != SignerInfo::None {
        report.key_pinned = true;
        if !options
            .trusted_keys
            .iter()
            .any(|k| k.matches(&manifest.signer))
        {
            let found = match &manifest.signer {
                SignerInfo::None => "no key".to_string(),
                SignerInfo::Ed25519 { public_key } => format!("ed25519 {public_key}"),
                SignerInfo::KmsEcdsaP256 {
                    key_arn,
                    public_key,
                } => format!("KMS key {key_arn} (DER public key {public_key})"),
            };
            report.problems.push(Problem::UntrustedKey {
                expected: options
                    .trusted_keys
                    .iter()
                    .map(TrustedKey::describe)
                    .collect::<Vec<_>>()
                    .join(" or "),
                found,
            });
        }
    }
    check_sealed_by(&manifest.signer, report);
}
