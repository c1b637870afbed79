//! Proof of reliability: journal durability (every truncation and single-byte corruption is
//! detected), secrets never leak (canary credentials), and fault injection against the emulator
//! (throttling, 5xx, slow responses, connection resets, responses lost after the request took
//! effect) through the proxy in `support::faults`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use drillbook::checkpoint::CheckpointError;
use drillbook::checkpoint::file::FileStore;
use drillbook::checkpoint::{CheckpointStore, Record};

const BIN: &str = env!("CARGO_BIN_EXE_drillbook");

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

// ----------------------------------------------------------------------- journal durability

const WAITS: &str = "name: waits\nsteps:\n  - id: a\n    action: wait\n    with: { duration: 0s }\n  - id: b\n    action: wait\n    needs: [a]\n    with: { duration: 0s }\n  - id: c\n    action: wait\n    needs: [a]\n    with: { duration: 0s }\n  - id: d\n    action: wait\n    needs: [b, c]\n    with: { duration: 0s }\n";

/// Runs the `WAITS` runbook for real with the binary; returns (state dir, run id).
fn real_journal(tmp: &Path) -> (PathBuf, String) {
    let rb = tmp.join("waits.yaml");
    std::fs::write(&rb, WAITS).unwrap();
    let state = tmp.join("state");
    let o = Command::new(BIN)
        .args([
            "run",
            rb.to_str().unwrap(),
            "--execute",
            "--yes",
            "--state-dir",
        ])
        .arg(&state)
        .current_dir(tmp)
        .env(
            "DRILLBOOK_IDENTITY_ARN",
            "arn:aws:iam::111122223333:user/alice",
        )
        .env_remove("DRILLBOOK_STATE_DIR")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", text(&o));
    let ids: Vec<String> = std::fs::read_dir(state.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(ids.len(), 1);
    (state, ids[0].clone())
}

/// Copies a run directory into a fresh state dir under `root` and writes `journal` into it.
fn state_with_journal(root: &Path, state: &Path, run_id: &str, journal: &[u8]) -> PathBuf {
    let copy = root.join("state");
    let _ = std::fs::remove_dir_all(&copy);
    let dst = copy.join("runs").join(run_id);
    std::fs::create_dir_all(&dst).unwrap();
    for f in ["runbook.yaml", "runbook.sha256", "vars.json"] {
        std::fs::copy(state.join("runs").join(run_id).join(f), dst.join(f)).unwrap();
    }
    std::fs::write(dst.join("journal.jsonl"), journal).unwrap();
    copy
}

enum Loaded {
    Ok(Vec<Record>),
    Corrupt(String),
}

fn load(rt: &tokio::runtime::Runtime, state: &Path, run_id: &str) -> Loaded {
    let store = FileStore::new(state);
    // A panic is a failure of the test (and of the product): never caught here.
    match rt.block_on(store.load(run_id)) {
        Ok(run) => Loaded::Ok(run.records),
        Err(e @ CheckpointError::Corrupt { .. }) => Loaded::Corrupt(e.to_string()),
        Err(e) => panic!("unexpected error kind (want Corrupt): {e}"),
    }
}

/// The store's verification of journal bytes (what `load` runs before anything else).
fn verify(run_id: &str, bytes: &[u8]) -> Loaded {
    match drillbook::checkpoint::file::verify_journal(run_id, bytes) {
        Ok((records, _)) => Loaded::Ok(records),
        Err(e @ CheckpointError::Corrupt { .. }) => Loaded::Corrupt(e.to_string()),
        Err(e) => panic!("unexpected error kind (want Corrupt): {e}"),
    }
}

/// Byte offsets just after each `\n` (record boundaries), with 0.
fn boundaries(journal: &[u8]) -> Vec<usize> {
    journal
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .map(|(i, _)| i + 1)
        .collect()
}

#[test]
fn journal_truncated_at_every_byte_offset_is_detected_or_is_a_valid_prefix() {
    let tmp = tempfile::tempdir().unwrap();
    let (state, id) = real_journal(tmp.path());
    let journal = std::fs::read(state.join("runs").join(&id).join("journal.jsonl")).unwrap();
    let full = match load(&rt(), &state, &id) {
        Loaded::Ok(r) => r,
        Loaded::Corrupt(e) => panic!("the untouched journal must load: {e}"),
    };
    assert!(full.len() >= 10, "a real journal: {} records", full.len());
    let bounds = boundaries(&journal);
    let rt = rt();
    let scratch = tempfile::tempdir().unwrap();
    let (mut prefixes, mut detected) = (0, 0);
    for cut in 0..journal.len() {
        let loaded = if bounds.contains(&cut) || cut % 97 == 0 {
            // Record boundaries (and a sample) go through the store, files and all.
            let copy = state_with_journal(scratch.path(), &state, &id, &journal[..cut]);
            load(&rt, &copy, &id)
        } else {
            verify(&id, &journal[..cut])
        };
        match loaded {
            Loaded::Ok(records) => {
                assert!(
                    bounds.contains(&cut),
                    "truncation at byte {cut} (not a record boundary) was accepted"
                );
                let n = bounds.iter().position(|b| *b == cut).unwrap() + 1;
                assert_eq!(records.len(), n, "cut at {cut}");
                assert_eq!(
                    serde_json::to_value(&records).unwrap(),
                    serde_json::to_value(&full[..n]).unwrap(),
                    "a boundary truncation must load exactly the records before it"
                );
                prefixes += 1;
            }
            Loaded::Corrupt(e) => {
                assert!(!bounds.contains(&cut) || cut == 0, "cut {cut}: {e}");
                assert!(e.contains("is corrupt at record"), "{e}");
                if cut > 0 {
                    assert!(e.contains("help:"), "no help line: {e}");
                }
                detected += 1;
            }
        }
    }
    assert_eq!(
        prefixes,
        bounds.len() - 1,
        "every inner boundary loads a prefix"
    );
    assert_eq!(detected + prefixes, journal.len());
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn journal_with_any_single_byte_flipped_is_detected() {
    let tmp = tempfile::tempdir().unwrap();
    let (state, id) = real_journal(tmp.path());
    let journal = std::fs::read(state.join("runs").join(&id).join("journal.jsonl")).unwrap();
    let rt = rt();
    let scratch = tempfile::tempdir().unwrap();
    let mut accepted = Vec::new();
    for at in 0..journal.len() {
        for pattern in [0x01u8, 0x20, 0x80, 0xff] {
            let mut damaged = journal.clone();
            damaged[at] ^= pattern;
            let loaded = if at % 101 == 0 {
                let copy = state_with_journal(scratch.path(), &state, &id, &damaged);
                load(&rt, &copy, &id)
            } else {
                verify(&id, &damaged)
            };
            match loaded {
                Loaded::Ok(_) => accepted.push((at, pattern, damaged[at] as char)),
                Loaded::Corrupt(e) => assert!(e.contains("is corrupt at record"), "{e}"),
            }
        }
    }
    assert!(
        accepted.is_empty(),
        "{} damaged journals were accepted (offset, xor, new byte), first ones: {:?}",
        accepted.len(),
        &accepted[..accepted.len().min(20)]
    );
}

#[test]
fn resume_of_a_damaged_journal_exits_2_with_a_clear_error_on_a_sample_of_offsets() {
    let tmp = tempfile::tempdir().unwrap();
    let (state, id) = real_journal(tmp.path());
    let journal = std::fs::read(state.join("runs").join(&id).join("journal.jsonl")).unwrap();
    let bounds = boundaries(&journal);
    let mut cases: Vec<(String, Vec<u8>)> = Vec::new();
    // Truncations: inside the first, a middle and the last record.
    for cut in [1, bounds[0] + 7, journal.len() / 2 + 3, journal.len() - 2] {
        if !bounds.contains(&cut) {
            cases.push((format!("truncated at {cut}"), journal[..cut].to_vec()));
        }
    }
    // Flips: first record, middle, last record.
    for at in [5, journal.len() / 2, journal.len() - 10] {
        let mut d = journal.clone();
        d[at] ^= 0x01;
        cases.push((format!("byte {at} flipped"), d));
    }
    let scratch = tempfile::tempdir().unwrap();
    for (what, bytes) in cases {
        let copy = state_with_journal(scratch.path(), &state, &id, &bytes);
        let o = Command::new(BIN)
            .args(["resume", &id, "--state-dir"])
            .arg(&copy)
            .current_dir(tmp.path())
            .env(
                "DRILLBOOK_IDENTITY_ARN",
                "arn:aws:iam::111122223333:user/alice",
            )
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(code(&o), 2, "{what}: {}", text(&o));
        assert!(
            err.contains(&format!("journal of run `{id}` is corrupt at record")),
            "{what}: {err}"
        );
        assert!(err.contains("help:"), "{what}: {err}");
        assert!(!err.contains("panicked"), "{what}: {err}");
        // Nothing was appended to a journal that cannot be trusted.
        let after = std::fs::read(copy.join("runs").join(&id).join("journal.jsonl")).unwrap();
        assert_eq!(after, bytes, "{what}: resume wrote to a damaged journal");
    }
}
