//! Tamper-evident evidence: seal a run directory, verify it, and show that any change, removal,
//! addition or reordering of any byte of any file is detected (library and binary), with Ed25519
//! keys and with a KMS key on the emulator.

use crate::support::Ran;
use std::path::{Path, PathBuf};

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeySpec, KeyUsageType, MessageType, SigningAlgorithmSpec};
use chrono::{TimeZone, Utc};
use drillbook::actions::aws::{Aws, AwsOptions};
use drillbook::checkpoint::{GENESIS, Record};
use drillbook::event::Event;
use drillbook::event::{Mode, RunStatus};
use drillbook::evidence::{
    self, EvidenceError, MANIFEST_FILE, Problem, SignatureStatus, Signer, SignerInfo, TrustedKey,
    VerifyOptions, VerifyReport,
};
use sha2::{Digest, Sha256};

use crate::support::{PRIMARY_REGION, emulator, unique_prefix};

const SEED_HEX: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";

fn bin() -> crate::support::Drillbook {
    crate::support::cli::bin()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A 3-record journal chained by hand, as the file store writes it.
fn journal() -> Vec<u8> {
    let at = |s| Utc.with_ymd_and_hms(2026, 11, 23, 18, 45, s).unwrap();
    let entries = vec![
        Event::RunStarted {
            format_version: 1,
            run_id: "20261123-184500-ab12".into(),
            runbook: "runbooks/region-failover.yaml".into(),
            runbook_sha256: hex::encode(Sha256::digest(RUNBOOK)),
            mode: Mode::DryRun,
            identity: None,
            host: "drill-host".into(),
            user: "oncall".into(),
            drillbook_version: "0.1.0".into(),
            steps: vec!["restore-vault".into()],
            vars_sha256: None,
            sealed_by: None,
        },
        Event::StepStarted {
            action: String::new(),
            step: "restore-vault".into(),
            attempt: 1,
        },
        Event::RunFinished {
            status: RunStatus::Succeeded,
        },
    ];
    let mut out = Vec::new();
    let mut prev = GENESIS.to_string();
    for (i, entry) in entries.into_iter().enumerate() {
        let rec = Record {
            seq: i as u64 + 1,
            at: at(i as u32),
            prev: prev.clone(),
            event: entry,
        };
        let line = serde_json::to_vec(&rec).unwrap();
        prev = hex::encode(Sha256::digest(&line));
        out.extend_from_slice(&line);
        out.push(b'\n');
    }
    out
}

const RUNBOOK: &[u8] = b"version: 1\nname: region-failover\nsteps:\n  restore-vault:\n    action: dynamodb.restore-pitr\n";

/// A run directory plus report files, in a fresh temporary directory.
fn run_dir() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("20261123-184500-ab12");
    std::fs::create_dir_all(dir.join("report")).unwrap();
    let w = |p: &str, b: &[u8]| std::fs::write(dir.join(p), b).unwrap();
    w("runbook.yaml", RUNBOOK);
    w(
        "runbook.sha256",
        format!("{}\n", hex::encode(Sha256::digest(RUNBOOK))).as_bytes(),
    );
    w(
        "vars.json",
        br#"{"primary":"ca-central-1","secondary":"eu-west-1"}"#,
    );
    w("journal.jsonl", &journal());
    w(
        "report/report.html",
        b"<!doctype html><title>drill</title><p>verdict: passed</p>\n",
    );
    w("report/report.md", b"# Drill\n\nverdict: passed\n");
    w("report/report.json", br#"{"verdict":"passed"}"#);
    w(
        "report/junit.xml",
        b"<testsuite name=\"drill\" tests=\"1\"><testcase name=\"restore-vault\"/></testsuite>\n",
    );
    (tmp, dir)
}

fn key_file(dir: &Path) -> PathBuf {
    let p = dir.join("evidence.key");
    std::fs::write(&p, format!("{SEED_HEX}\n")).unwrap();
    p
}

fn public_key_file(tmp: &Path, key: &Path) -> PathBuf {
    let sk = evidence::load_ed25519_key(key).unwrap();
    let p = tmp.join("evidence.key.pub");
    std::fs::write(
        &p,
        format!("{}\n", hex::encode(sk.verifying_key().as_bytes())),
    )
    .unwrap();
    p
}

fn sealed_ed25519() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let (tmp, dir) = run_dir();
    let key = key_file(tmp.path());
    runtime()
        .block_on(evidence::seal(
            &dir,
            &Signer::Ed25519 {
                key_file: key.clone(),
            },
        ))
        .unwrap();
    (tmp, dir, key)
}

fn verify(dir: &Path) -> VerifyReport {
    evidence::verify(dir).unwrap()
}

fn manifest_value(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join(MANIFEST_FILE)).unwrap()).unwrap()
}

fn write_manifest_value(dir: &Path, v: &serde_json::Value) {
    std::fs::write(
        dir.join(MANIFEST_FILE),
        serde_json::to_vec_pretty(v).unwrap(),
    )
    .unwrap();
}

fn journal_lines(dir: &Path) -> Vec<Vec<u8>> {
    std::fs::read(dir.join("journal.jsonl"))
        .unwrap()
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

fn write_journal_lines(dir: &Path, lines: &[Vec<u8>]) {
    let mut out = Vec::new();
    for l in lines {
        out.extend_from_slice(l);
        out.push(b'\n');
    }
    std::fs::write(dir.join("journal.jsonl"), out).unwrap();
}

/// Replaces the temporary path and the sealing time so the output is stable.
fn stable(text: &str, dir: &Path, created_at: &str) -> String {
    text.replace(&dir.display().to_string(), "[DIR]")
        .replace(created_at, "[CREATED_AT]")
}

// ----------------------------------------------------------------------------- sealing

#[test]
fn sealed_run_directory_verifies_and_records_every_file_and_the_journal_head() {
    let (_tmp, dir, _key) = sealed_ed25519();
    let m: evidence::Manifest = serde_json::from_value(manifest_value(&dir)).unwrap();
    let paths: Vec<&str> = m.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "journal.jsonl",
            "report/junit.xml",
            "report/report.html",
            "report/report.json",
            "report/report.md",
            "runbook.sha256",
            "runbook.yaml",
            "vars.json",
        ]
    );
    let rb = m.files.iter().find(|f| f.path == "runbook.yaml").unwrap();
    assert_eq!(rb.size, RUNBOOK.len() as u64);
    assert_eq!(rb.sha256, hex::encode(Sha256::digest(RUNBOOK)));
    let j = m.journal.as_ref().unwrap();
    let last = journal_lines(&dir).pop().unwrap();
    assert_eq!((j.records, j.last_seq), (3, 3));
    assert_eq!(j.head_sha256, hex::encode(Sha256::digest(&last)));
    assert!(matches!(m.signer, SignerInfo::Ed25519 { .. }));

    let report = verify(&dir);
    assert!(report.intact(), "{:?}", report.problems);
    assert_eq!(report.files_checked, 8);
    assert_eq!(report.signature, SignatureStatus::Valid);
}

#[test]
fn sealing_twice_is_refused_and_leaves_the_manifest_alone() {
    let (_tmp, dir, key) = sealed_ed25519();
    let before = std::fs::read(dir.join(MANIFEST_FILE)).unwrap();
    let err = runtime()
        .block_on(evidence::seal(&dir, &Signer::Ed25519 { key_file: key }))
        .unwrap_err();
    assert!(err.to_string().contains("already sealed"), "{err}");
    assert_eq!(std::fs::read(dir.join(MANIFEST_FILE)).unwrap(), before);
}

#[test]
fn a_broken_journal_is_not_sealed() {
    let (tmp, dir) = run_dir();
    let mut lines = journal_lines(&dir);
    lines.swap(1, 2);
    write_journal_lines(&dir, &lines);
    let err = runtime()
        .block_on(evidence::seal(
            &dir,
            &Signer::Ed25519 {
                key_file: key_file(tmp.path()),
            },
        ))
        .unwrap_err();
    assert!(matches!(err, EvidenceError::Unsealable { .. }), "{err}");
    assert!(err.to_string().contains("hash chain is broken"), "{err}");
    assert!(!dir.join(MANIFEST_FILE).exists());
}

// ----------------------------------------------------------------------------- tampering

#[test]
fn changing_any_byte_of_any_file_is_detected() {
    let (_tmp, dir, _key) = sealed_ed25519();
    let mut files: Vec<String> = verify(&dir)
        .manifest
        .unwrap()
        .files
        .into_iter()
        .map(|f| f.path)
        .collect();
    files.push(MANIFEST_FILE.to_string());
    let mut cases = 0;
    for path in &files {
        let p = dir.join(path);
        let original = std::fs::read(&p).unwrap();
        let len = original.len();
        let mut offsets = vec![0, 1, len / 3, len / 2, 2 * len / 3, len - 2, len - 1];
        offsets.dedup();
        for off in offsets {
            for flip in [0x01u8, 0x80] {
                let mut bytes = original.clone();
                bytes[off] ^= flip;
                std::fs::write(&p, &bytes).unwrap();
                let report = verify(&dir);
                assert!(
                    !report.intact(),
                    "{path}: byte {off} ^ {flip:#x} went undetected"
                );
                if path != MANIFEST_FILE {
                    assert!(
                        report
                            .problems
                            .iter()
                            .any(|pr| matches!(pr, Problem::Changed { path: q, .. } if q == path)),
                        "{path}@{off}: {:?}",
                        report.problems
                    );
                }
                if path == "journal.jsonl" {
                    assert!(
                        report.problems.iter().any(|pr| matches!(
                            pr,
                            Problem::JournalChain { .. } | Problem::JournalHead { .. }
                        )),
                        "journal@{off}: {:?}",
                        report.problems
                    );
                }
                cases += 1;
            }
        }
        std::fs::write(&p, &original).unwrap();
        assert!(verify(&dir).intact(), "restoring {path} restores the seal");
    }
    assert!(cases >= 9 * 2 * 5, "only {cases} cases");
}

#[test]
fn removing_or_adding_a_file_is_detected() {
    let (_tmp, dir, _key) = sealed_ed25519();
    std::fs::remove_file(dir.join("report/report.md")).unwrap();
    std::fs::write(dir.join("extra.txt"), b"planted").unwrap();
    std::fs::create_dir(dir.join("report/more")).unwrap();
    std::fs::write(dir.join("report/more/notes.md"), b"").unwrap();
    let report = verify(&dir);
    assert_eq!(
        report.problems,
        vec![
            Problem::Extra {
                path: "extra.txt".into()
            },
            Problem::Extra {
                path: "report/more/notes.md".into()
            },
            Problem::Missing {
                path: "report/report.md".into()
            },
        ]
    );
    // The signature over the manifest itself still holds: only the files changed.
    assert_eq!(report.signature, SignatureStatus::Valid);
}

#[test]
fn removing_the_journal_is_detected() {
    let (_tmp, dir, _key) = sealed_ed25519();
    std::fs::remove_file(dir.join("journal.jsonl")).unwrap();
    let report = verify(&dir);
    assert_eq!(
        report.problems,
        vec![Problem::Missing {
            path: "journal.jsonl".into()
        }]
    );
}

#[test]
fn reordering_journal_lines_is_detected_with_the_broken_links() {
    let (_tmp, dir, _key) = sealed_ed25519();
    let mut lines = journal_lines(&dir);
    lines.swap(1, 2);
    write_journal_lines(&dir, &lines);
    let report = verify(&dir);
    assert!(
        matches!(&report.problems[0], Problem::Changed { path, .. } if path == "journal.jsonl")
    );
    let links: Vec<usize> = report
        .problems
        .iter()
        .filter_map(|p| match p {
            Problem::JournalChain { line, .. } => Some(*line),
            _ => None,
        })
        .collect();
    assert_eq!(links, vec![2, 2, 3, 3], "{:?}", report.problems);
    assert!(
        report.problems.iter().any(
            |p| matches!(p, Problem::JournalHead { reason } if reason.contains("chain ends at"))
        ),
        "{:?}",
        report.problems
    );
}

#[test]
fn truncating_the_journal_is_detected_even_when_the_chain_left_is_valid() {
    let (_tmp, dir, _key) = sealed_ed25519();
    let lines = journal_lines(&dir);
    write_journal_lines(&dir, &lines[..2]);
    let report = verify(&dir);
    // What is left is a valid chain of 2 records: only the sealed head and count reveal it.
    assert!(
        !report
            .problems
            .iter()
            .any(|p| matches!(p, Problem::JournalChain { .. })),
        "{:?}",
        report.problems
    );
    let heads: Vec<String> = report
        .problems
        .iter()
        .filter_map(|p| match p {
            Problem::JournalHead { reason } => Some(reason.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(heads.len(), 2, "{heads:?}");
    assert!(
        heads[0].starts_with("2 records where the manifest sealed 3"),
        "{heads:?}"
    );
}

#[test]
fn editing_the_manifest_to_match_a_changed_file_breaks_the_signature() {
    let (_tmp, dir, _key) = sealed_ed25519();
    // The attacker changes the report and updates its hash and size in the manifest.
    let forged = b"# Drill\n\nverdict: failed\n";
    std::fs::write(dir.join("report/report.md"), forged).unwrap();
    let mut v = manifest_value(&dir);
    for f in v["files"].as_array_mut().unwrap() {
        if f["path"] == "report/report.md" {
            f["sha256"] = hex::encode(Sha256::digest(forged)).into();
            f["size"] = forged.len().into();
        }
    }
    write_manifest_value(&dir, &v);
    let report = verify(&dir);
    assert_eq!(report.signature, SignatureStatus::Invalid);
    assert_eq!(
        report.problems,
        vec![Problem::Signature {
            reason: "the Ed25519 signature does not match the manifest".into()
        }]
    );

    // Editing any other member (the date) or adding one is caught the same way.
    for edit in [
        serde_json::json!({"created_at": "2020-01-01T00:00:00Z"}),
        serde_json::json!({"approved_by": "someone"}),
    ] {
        let (_tmp, dir, _key) = sealed_ed25519();
        let mut v = manifest_value(&dir);
        for (k, val) in edit.as_object().unwrap() {
            v[k] = val.clone();
        }
        write_manifest_value(&dir, &v);
        let report = verify(&dir);
        assert!(!report.intact(), "{edit}: undetected");
    }
}

#[test]
fn reformatting_the_manifest_keeps_it_valid() {
    // The signature covers the canonical body, not the whitespace.
    let (_tmp, dir, _key) = sealed_ed25519();
    let v = manifest_value(&dir);
    std::fs::write(dir.join(MANIFEST_FILE), serde_json::to_vec(&v).unwrap()).unwrap();
    assert!(verify(&dir).intact());
}

#[test]
fn swapping_the_signature_is_detected() {
    // Two seals of identical contents by the same key differ only in `created_at`: swapping
    // their signatures must fail.
    let (_tmp_a, dir_a, _) = sealed_ed25519();
    let (_tmp_b, dir_b, _) = sealed_ed25519();
    let mut a = manifest_value(&dir_a);
    let mut b = manifest_value(&dir_b);
    if a["created_at"] == b["created_at"] {
        b["created_at"] = "2000-01-01T00:00:00Z".into();
        // Re-sign b properly so it holds a valid signature over a different body.
        let key = evidence::load_ed25519_key(&_tmp_b.path().join("evidence.key")).unwrap();
        use ed25519_dalek::Signer as _;
        let sig = key.sign(&evidence::signing_message(&b));
        b["signature"] = aws_smithy_types::base64::encode(sig.to_bytes()).into();
        write_manifest_value(&dir_b, &b);
        assert!(verify(&dir_b).intact());
    }
    a["signature"] = b["signature"].clone();
    write_manifest_value(&dir_a, &a);
    let report = verify(&dir_a);
    assert!(
        matches!(report.problems.as_slice(), [Problem::Signature { .. }]),
        "{:?}",
        report.problems
    );

    // Removing the signature, or declaring the manifest unsigned, is caught too.
    let (_tmp, dir, _) = sealed_ed25519();
    let mut v = manifest_value(&dir);
    v["signature"] = serde_json::Value::Null;
    write_manifest_value(&dir, &v);
    assert!(!verify(&dir).intact());
}

#[test]
fn re_signing_with_another_key_is_caught_by_pinning_the_public_key() {
    let (tmp, dir, key) = sealed_ed25519();
    let trusted = public_key_file(tmp.path(), &key);
    // An attacker changes a file and re-seals with a key of their own.
    std::fs::write(
        dir.join("report/report.md"),
        b"# Drill\n\nverdict: failed\n",
    )
    .unwrap();
    std::fs::remove_file(dir.join(MANIFEST_FILE)).unwrap();
    let attacker = tmp.path().join("attacker.key");
    evidence::generate_ed25519_key(&attacker).unwrap();
    runtime()
        .block_on(evidence::seal(
            &dir,
            &Signer::Ed25519 { key_file: attacker },
        ))
        .unwrap();
    // Internally consistent...
    assert!(verify(&dir).intact());
    // ...but not signed by the trusted key.
    let report = evidence::verify_with(
        &dir,
        &VerifyOptions {
            trusted_keys: vec![TrustedKey::load(&trusted).unwrap()],
        },
    )
    .unwrap();
    assert!(report.key_pinned);
    assert!(
        matches!(report.problems.as_slice(), [Problem::UntrustedKey { .. }]),
        "{:?}",
        report.problems
    );
    let out = bin()
        .arg("verify-evidence")
        .arg(&dir)
        .arg("--public-key")
        .arg(&trusted)
        .output();
    out.assert_exit(1);
    assert!(String::from_utf8_lossy(&out.stdout).contains("not with the trusted key"));
}

// ----------------------------------------------------------------------------- the binary

#[test]
fn verify_evidence_exits_0_when_intact() {
    let (tmp, dir, key) = sealed_ed25519();
    let created_at = manifest_value(&dir)["created_at"]
        .as_str()
        .unwrap()
        .to_string();
    let out = bin()
        .arg("verify-evidence")
        .arg(&dir)
        .arg("--public-key")
        .arg(public_key_file(tmp.path(), &key))
        .output();
    out.assert_exit(0);
    let stdout = stable(&String::from_utf8_lossy(&out.stdout), &dir, &created_at);
    insta::assert_snapshot!("verify_evidence_intact", stdout);

    let out = bin().arg("verify-evidence").arg(&dir).output();
    out.assert_exit(0);
    assert!(String::from_utf8_lossy(&out.stdout).contains("--public-key FILE to prove who signed"));
}

#[test]
fn verify_evidence_exits_1_and_lists_every_problem() {
    let (_tmp, dir, _key) = sealed_ed25519();
    let mut html = std::fs::read(dir.join("report/report.html")).unwrap();
    let last = html.len() - 1;
    html[last] ^= 1;
    std::fs::write(dir.join("report/report.html"), html).unwrap();
    std::fs::remove_file(dir.join("vars.json")).unwrap();
    std::fs::write(dir.join("planted.sh"), b"#!/bin/sh\n").unwrap();
    let lines = journal_lines(&dir);
    write_journal_lines(
        &dir,
        &[lines[0].clone(), lines[2].clone(), lines[1].clone()],
    );
    let created_at = manifest_value(&dir)["created_at"]
        .as_str()
        .unwrap()
        .to_string();

    let out = bin().arg("verify-evidence").arg(&dir).output();
    out.assert_exit(1);
    let stdout = stable(&String::from_utf8_lossy(&out.stdout), &dir, &created_at);
    insta::assert_snapshot!("verify_evidence_tampered", stdout);
}

#[test]
fn verify_evidence_exits_1_when_the_manifest_is_damaged() {
    let (_tmp, dir, _key) = sealed_ed25519();
    let mut m = std::fs::read(dir.join(MANIFEST_FILE)).unwrap();
    m.truncate(m.len() / 2);
    std::fs::write(dir.join(MANIFEST_FILE), m).unwrap();
    let out = bin().arg("verify-evidence").arg(&dir).output();
    out.assert_exit(1);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("manifest.json: unreadable: not valid JSON"),
        "{stdout}"
    );
}

#[test]
fn verify_evidence_exits_2_when_the_directory_is_not_evidence() {
    let (_tmp, dir) = run_dir();
    let out = bin().arg("verify-evidence").arg(&dir).output();
    out.assert_exit(2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("is not an evidence directory: it has no manifest.json"),
        "{stderr}"
    );
    assert!(stderr.contains("help: "), "{stderr}");

    let out = bin()
        .arg("verify-evidence")
        .arg(dir.join("no-such-dir"))
        .output();
    out.assert_exit(2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a directory"));
}

#[test]
fn keygen_then_seal_then_verify_through_the_binary() {
    let (tmp, dir) = run_dir();
    let key = tmp.path().join("keys.key");
    let out = bin().args(["evidence", "keygen"]).arg(&key).output();
    out.assert_exit(0);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    // Never overwritten.
    let before = std::fs::read(&key).unwrap();
    let out = bin().args(["evidence", "keygen"]).arg(&key).output();
    out.assert_exit(2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    assert_eq!(std::fs::read(&key).unwrap(), before);

    let out = bin()
        .args(["evidence", "seal"])
        .arg(&dir)
        .arg(format!("--sign-with=ed25519:{}", key.display()))
        .output();
    out.assert_exit(0);
    assert!(String::from_utf8_lossy(&out.stdout).contains("8 files"));
    let out = bin()
        .arg("verify-evidence")
        .arg(&dir)
        .arg("--public-key")
        .arg(evidence::public_key_path(&key))
        .output();
    out.assert_exit(0);

    let out = bin()
        .args(["evidence", "seal"])
        .arg(tmp.path())
        .args(["--sign-with", "gpg:x"])
        .output();
    out.assert_exit(2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid signer `gpg:x`"));
}

/// Unsigned evidence that nobody touched is "intact (unsigned)", never TAMPERED, even with a
/// pinned key; `--require-signed` refuses it; TAMPERED means a mismatch and nothing else.
#[test]
fn unsigned_evidence_is_marked_never_called_tampered_and_require_signed_refuses_it() {
    let (tmp, dir) = run_dir();
    let m = runtime()
        .block_on(evidence::seal(&dir, &Signer::None))
        .unwrap();
    assert_eq!(m.signer, SignerInfo::None);
    assert_eq!(m.signature, None);
    let report = verify(&dir);
    assert!(report.intact());
    assert_eq!(report.signature, SignatureStatus::Unsigned);
    let out = bin().arg("verify-evidence").arg(&dir).output();
    out.assert_exit(0);
    assert!(String::from_utf8_lossy(&out.stdout).contains("signature: UNSIGNED"));

    let key = key_file(tmp.path());
    let pinned = public_key_file(tmp.path(), &key);
    let out = bin()
        .arg("verify-evidence")
        .arg(&dir)
        .arg("--public-key")
        .arg(&pinned)
        .output();
    out.assert_exit(0);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains("evidence intact (unsigned)"), "{text}");
    assert!(!text.contains("TAMPERED"), "{text}");
    let out = bin()
        .arg("verify-evidence")
        .arg(&dir)
        .arg("--public-key")
        .arg(&pinned)
        .arg("--require-signed")
        .output();
    out.assert_exit(1);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains("--require-signed"), "{text}");
    assert!(!text.contains("TAMPERED"), "{text}");

    std::fs::write(dir.join("runbook.yaml"), b"version: 1\n").unwrap();
    assert!(
        verify(&dir)
            .problems
            .iter()
            .any(|p| matches!(p, Problem::Changed { .. }))
    );
    let out = bin().arg("verify-evidence").arg(&dir).output();
    out.assert_exit(1);
    assert!(String::from_utf8_lossy(&out.stdout).contains("TAMPERED"));
}

// ----------------------------------------------------------------------------- KMS

async fn kms_signing_key(aws: &Aws, alias: &str, spec: KeySpec, usage: KeyUsageType) -> String {
    let kms = aws.kms(PRIMARY_REGION);
    let key = kms
        .create_key()
        .key_usage(usage)
        .key_spec(spec)
        .description("drillbook evidence test")
        .send()
        .await
        .unwrap();
    let id = key.key_metadata().unwrap().key_id().to_string();
    kms.create_alias()
        .alias_name(alias)
        .target_key_id(&id)
        .send()
        .await
        .unwrap();
    id
}

#[tokio::test(flavor = "multi_thread")]
async fn kms_signed_evidence_verifies_offline_and_with_the_kms_verify_api() {
    let emu = emulator();
    let aws = Aws::from_config(emu.sdk_config(PRIMARY_REGION).await, AwsOptions::default());
    let alias = format!("alias/{}evidence", unique_prefix("kms_signed"));
    let key_id =
        kms_signing_key(&aws, &alias, KeySpec::EccNistP256, KeyUsageType::SignVerify).await;
    let (tmp, dir) = run_dir();

    let signer = Signer::parse(&format!("kms:{alias}@{PRIMARY_REGION}")).unwrap();
    let m = evidence::seal_with_aws(&dir, &signer, &aws).await.unwrap();
    let SignerInfo::KmsEcdsaP256 {
        key_arn,
        public_key,
    } = &m.signer
    else {
        panic!("{:?}", m.signer)
    };
    assert!(key_arn.starts_with("arn:aws:kms:ca-central-1:") && key_arn.ends_with(&key_id));

    // Offline.
    let report = verify(&dir);
    assert!(report.intact(), "{:?}", report.problems);
    assert_eq!(report.signature, SignatureStatus::Valid);

    // KMS agrees with the offline check: Verify on the signed message.
    let message = evidence::signing_message(&manifest_value(&dir));
    let sig = aws_smithy_types::base64::decode(m.signature.as_deref().unwrap()).unwrap();
    let kms = aws.kms(PRIMARY_REGION);
    let kms_verify = |msg: Vec<u8>| {
        kms.verify()
            .key_id(key_arn)
            .message(Blob::new(msg))
            .message_type(MessageType::Raw)
            .signature(Blob::new(sig.clone()))
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
    };
    assert!(kms_verify(message.clone()).await.unwrap().signature_valid());
    let mut other = message.clone();
    other[0] ^= 1;
    assert!(
        !kms_verify(other)
            .await
            .map(|o| o.signature_valid())
            .unwrap_or(false)
    );

    // Pinned with the public key as `aws kms get-public-key --output text` prints it.
    let pk = kms.get_public_key().key_id(&key_id).send().await.unwrap();
    let pk_b64 = aws_smithy_types::base64::encode(pk.public_key().unwrap().as_ref());
    assert_eq!(&pk_b64, public_key);
    let pk_file = tmp.path().join("kms.pub");
    std::fs::write(&pk_file, format!("{pk_b64}\n")).unwrap();
    let out = bin()
        .arg("verify-evidence")
        .arg(&dir)
        .arg("--public-key")
        .arg(&pk_file)
        .output();
    out.assert_exit(0);
    assert!(String::from_utf8_lossy(&out.stdout).contains("(ECDSA P-256), the trusted key"));

    // Tampering is caught the same way.
    let mut lines = journal_lines(&dir);
    lines.pop();
    write_journal_lines(&dir, &lines);
    let mut v = manifest_value(&dir);
    v["journal"]["records"] = 2.into();
    write_manifest_value(&dir, &v);
    let report = verify(&dir);
    assert!(
        report
            .problems
            .iter()
            .any(|p| matches!(p, Problem::Signature { reason } if reason.contains("ECDSA")))
    );
    assert!(
        report
            .problems
            .iter()
            .any(|p| matches!(p, Problem::Changed { path, .. } if path == "journal.jsonl"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn kms_seal_through_the_binary_uses_the_standard_aws_configuration() {
    let emu = emulator();
    let aws = Aws::from_config(emu.sdk_config(PRIMARY_REGION).await, AwsOptions::default());
    let alias = format!("alias/{}evidence", unique_prefix("kms_binary"));
    kms_signing_key(&aws, &alias, KeySpec::EccNistP256, KeyUsageType::SignVerify).await;
    let (_tmp, dir) = run_dir();
    let out = bin()
        .args(["evidence", "seal"])
        .arg(&dir)
        .arg(format!("--sign-with=kms:{alias}"))
        .envs(emu.env())
        .output();
    out.assert_exit(0);
    assert!(String::from_utf8_lossy(&out.stdout).contains("signer kms-ecdsa-p256-sha256"));
    // Verification is offline: no AWS environment needed.
    let out = bin()
        .arg("verify-evidence")
        .arg(&dir)
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .output();
    out.assert_exit(0);
}

#[tokio::test(flavor = "multi_thread")]
async fn kms_keys_that_cannot_sign_are_refused_with_help() {
    let emu = emulator();
    let aws = Aws::from_config(emu.sdk_config(PRIMARY_REGION).await, AwsOptions::default());
    let p = unique_prefix("kms_refused");
    let (_tmp, dir) = run_dir();

    let rsa = format!("alias/{p}rsa");
    kms_signing_key(&aws, &rsa, KeySpec::Rsa2048, KeyUsageType::SignVerify).await;
    let sym = format!("alias/{p}sym");
    kms_signing_key(
        &aws,
        &sym,
        KeySpec::SymmetricDefault,
        KeyUsageType::EncryptDecrypt,
    )
    .await;

    let signer = |a: &str| Signer::parse(&format!("kms:{a}@{PRIMARY_REGION}")).unwrap();
    let err = evidence::seal_with_aws(&dir, &signer(&rsa), &aws)
        .await
        .unwrap_err();
    assert!(matches!(err, EvidenceError::KmsKey { .. }), "{err}");
    assert!(err.to_string().contains("key spec is RSA_2048"), "{err}");
    assert!(
        err.to_string().contains("help: create a signing key"),
        "{err}"
    );
    let err = evidence::seal_with_aws(&dir, &signer(&sym), &aws)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not SIGN_VERIFY"), "{err}");
    let err = evidence::seal_with_aws(&dir, &signer(&format!("alias/{p}missing")), &aws)
        .await
        .unwrap_err();
    assert!(matches!(err, EvidenceError::Kms { .. }), "{err}");
    assert!(err.to_string().contains("NotFound"), "{err}");
    assert!(!dir.join(MANIFEST_FILE).exists());
}
