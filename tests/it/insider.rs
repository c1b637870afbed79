//! The attacks of an insider: an executor who can write the run's state (the state directory,
//! or the state table) and the evidence directory, but holds no approver's key. Each test is one
//! attack through the binary; each asserts that the gated change was not made and that
//! `resume` or `verify-evidence` names what is wrong. Only core `wait` and `approval` steps:
//! no AWS needed (the caller identity comes from `DRILLBOOK_IDENTITY_ARN`, a test hook).

use std::path::{Path, PathBuf};

use drillbook::checkpoint::file::{encode_line, line_hash, verify_journal};
use drillbook::checkpoint::{GENESIS, Record};
use drillbook::event::{Event, SignedApproval, SignerInfo};
use drillbook::evidence::approval::{Binding, Statement};

use crate::engine::{ALICE, BOB, Dir, bob_identity, forge, keygen, succeeded_counts};
use crate::support::Ran;

/// A gate in front of `b`, a wait of `pause`; `approvers` as given.
fn gated(approvers: &str, pause: &str) -> String {
    format!(
        "version: 1\nname: insider\ndescription: pause is {{{{ vars.pause }}}}\n{approvers}vars:\n  pause: {pause}\nsteps:\n  - id: a\n    action: wait\n    with: {{ duration: 0s }}\n  - id: gate\n    action: approval\n    needs: [a]\n    with: {{ message: fail over? }}\n  - id: b\n    action: wait\n    needs: [gate]\n    with: {{ duration: \"{{{{ vars.pause }}}}\" }}\n"
    )
}

const UNSIGNED_OK: &str = "approvers: { allow_unsigned: true }\n";

/// Starts the run as Alice; it pauses at the gate. Returns the run id and the runbook file.
fn paused(d: &Dir, runbook: &str) -> (String, PathBuf) {
    let rb = d.write("rb.yaml", runbook);
    let o = d.run_as(ALICE, &["run", rb.to_str().unwrap(), "--execute", "--yes"]);
    o.assert_exit(3);
    (d.run_ids().remove(0), rb)
}

/// Rewrites the run's journal as anyone who can write the directory can: records edited,
/// removed or added, the hash chain recomputed.
fn rewrite(d: &Dir, id: &str, edit: impl FnOnce(&mut Vec<Record>)) {
    let path = d.journal_path(id);
    let (mut records, _) = verify_journal(id, &std::fs::read(&path).unwrap()).unwrap();
    edit(&mut records);
    let mut out = Vec::new();
    let mut prev = GENESIS.to_string();
    for (i, r) in records.into_iter().enumerate() {
        let line = encode_line(i as u64 + 1, r.at, prev, r.event).unwrap();
        prev = line_hash(&line);
        out.extend_from_slice(&line);
        out.push(b'\n');
    }
    std::fs::write(&path, out).unwrap();
}

/// The run's state directory copied into a fresh directory and sealed (as an executor who
/// rewrote the evidence would do), then checked with `verify-evidence`.
fn sealed_copy(d: &Dir, id: &str, name: &str) -> PathBuf {
    let from = d.state().join("runs").join(id);
    let to = d.path().join(name);
    std::fs::create_dir_all(&to).unwrap();
    for f in [
        "runbook.yaml",
        "runbook.sha256",
        "vars.json",
        "journal.jsonl",
    ] {
        std::fs::copy(from.join(f), to.join(f)).unwrap();
    }
    d.offline(&["evidence", "seal", to.to_str().unwrap()])
        .assert_exit(0);
    to
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn b_ran(d: &Dir, id: &str) -> bool {
    succeeded_counts(&d.records(id)).contains_key("b")
}

/// The binding of the gate's current request, for a forged statement.
fn binding_now(d: &Dir, id: &str) -> Binding {
    use drillbook::checkpoint::CheckpointStore;
    let store = drillbook::checkpoint::file::FileStore::new(d.state());
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let run = rt.block_on(store.load(id)).unwrap();
    let effect = run.in_effect();
    let vars: Vec<(String, String)> = effect.vars.clone().into_iter().collect();
    let runbook =
        drillbook::runbook::load_str(Path::new(&run.runbook_path), effect.runbook_text, &vars)
            .unwrap()
            .runbook;
    let nonce = run
        .records
        .iter()
        .rev()
        .find_map(|r| match &r.event {
            Event::ApprovalRequested { nonce, .. } => Some(nonce.clone()),
            _ => None,
        })
        .unwrap();
    Binding::of(id, "gate", &runbook, &effect, &nonce)
}

fn grant(signed: Option<SignedApproval>) -> Event {
    Event::ApprovalGranted {
        step: "gate".into(),
        approver: bob_identity(),
        comment: String::new(),
        signed,
    }
}

/// One forged `step_succeeded` for the approval step (a dry run's, or an execution's) used to
/// make `resume` run the gated change. Now: a record of the other mode is corruption, refused
/// by name by every reader, and no record of the step passes the gate.
#[test]
fn a_forged_success_of_the_approval_step_runs_nothing() {
    let d = Dir::new();
    let (id, _) = paused(&d, &gated(UNSIGNED_OK, "0s"));
    let original = std::fs::read(d.journal_path(&id)).unwrap();
    let passed = |dry_run| Event::StepSucceeded {
        step: "gate".into(),
        outcome: Default::default(),
        attempts: 1,
        duration_ms: 0,
        aws_wait_ms: 0,
        dry_run,
    };

    forge(&d, &id, passed(true));
    let o = d.run_as(ALICE, &["resume", &id]);
    o.assert_exit(2);
    assert!(
        o.stderr_text()
            .contains("a dry-run record of step `gate` in an executed run"),
        "{}",
        o.stderr_text()
    );
    let evidence = sealed_copy(&d, &id, "forged-dry");
    let o = d.offline(&["verify-evidence", evidence.to_str().unwrap()]);
    o.assert_exit(1);
    assert!(
        stdout(&o).contains("dry-run record of step `gate`"),
        "{}",
        stdout(&o)
    );

    std::fs::write(d.journal_path(&id), &original).unwrap();
    forge(&d, &id, passed(false));
    let o = d.run_as(ALICE, &["resume", &id]);
    o.assert_exit(2);
    assert!(
        o.stderr_text()
            .contains("passes the step, but no approval statement matches it"),
        "{}",
        o.stderr_text()
    );
    let evidence = sealed_copy(&d, &id, "forged-exec");
    let o = d.offline(&["verify-evidence", evidence.to_str().unwrap()]);
    o.assert_exit(1);
    assert!(
        stdout(&o).contains("no approval statement matches it"),
        "{}",
        stdout(&o)
    );
    std::fs::write(d.journal_path(&id), &original).unwrap();
    assert!(!b_ran(&d, &id), "the gated step never ran");
}

/// After `resume --force` changed the gated step and asked again, the executor deletes the new
/// records and re-appends the old signed approval. Revocation is by binding: the old statement
/// names the old runbook and request, so it passes nothing, and the changed step never runs.
#[test]
fn a_revoked_approval_replayed_after_a_forced_change_runs_nothing() {
    let d = Dir::new();
    let (bob_key, bob_pub) = keygen(&d, "bob.key");
    let approvers = format!("approvers:\n  keys: [\"ed25519:{bob_pub}\"]\n");
    let v1 = gated(&approvers, "0s");
    let (id, rb) = paused(&d, &v1);
    let sign = format!("ed25519:{bob_key}");
    d.run_as(BOB, &["approve", &id, "gate", "--sign-with", &sign])
        .assert_exit(0);
    let old_grant = d.records(&id).pop().unwrap().event;
    assert!(matches!(old_grant, Event::ApprovalGranted { .. }));

    // The gated step changes; the forced resume asks again.
    let v2 = v1.replace("duration: \"{{ vars.pause }}\"", "duration: 1ms");
    std::fs::write(&rb, &v2).unwrap();
    let rb = rb.to_str().unwrap();
    let o = d.run_as(ALICE, &["resume", &id, "--runbook", rb, "--force"]);
    assert_eq!(o.code(), 3, "{}", o.stderr_text());
    let after_force = std::fs::read(d.journal_path(&id)).unwrap();

    // 1. The old approval appended again after the change.
    forge(&d, &id, old_grant.clone());
    let o = d.run_as(ALICE, &["resume", &id]);
    o.assert_exit(2);
    assert!(
        o.stderr_text().contains("does not count"),
        "{}",
        o.stderr_text()
    );
    let evidence = sealed_copy(&d, &id, "replayed");
    let o = d.offline(&["verify-evidence", evidence.to_str().unwrap()]);
    o.assert_exit(1);
    let out = stdout(&o);
    assert!(out.contains("goes on with runbook"), "{out}");
    assert!(out.contains("the files match their seal"), "{out}");

    // 2. The new request deleted too, then the old approval appended: it answers no request
    //    of the runbook in effect.
    std::fs::write(d.journal_path(&id), &after_force).unwrap();
    rewrite(&d, &id, |recs| {
        let last_request = recs
            .iter()
            .rposition(|r| matches!(r.event, Event::ApprovalRequested { .. }))
            .unwrap();
        recs.truncate(last_request);
        recs.push(Record {
            seq: 0,
            at: chrono::Utc::now(),
            prev: String::new(),
            event: old_grant.clone(),
        });
    });
    let o = d.run_as(ALICE, &["resume", &id]);
    o.assert_exit(2);
    assert!(o.stderr_text().contains("replayed"), "{}", o.stderr_text());

    // 3. The forced resume deleted as well: the run goes on with the runbook Bob approved, and
    //    the changed one needs `--force` and a new approval.
    rewrite(&d, &id, |recs| {
        let forced = recs
            .iter()
            .position(|r| matches!(r.event, Event::RunResumed { forced: true, .. }))
            .unwrap();
        recs.truncate(forced);
    });
    let o = d.run_as(ALICE, &["resume", &id, "--runbook", rb]);
    o.assert_exit(2);
    assert!(!b_ran(&d, &id), "the changed step never ran");
    let o = d.run_as(ALICE, &["resume", &id, "--runbook", rb, "--force"]);
    assert_eq!(o.code(), 3, "asked again: {}", o.stderr_text());
    assert!(!b_ran(&d, &id), "the changed step never ran");
}

/// A forged `run_resumed` that swaps the runbook (to one that accepts unsigned approvals)
/// without `forced`, followed by an unsigned approval: corruption, refused by name.
#[test]
fn a_forged_resume_record_cannot_change_the_runbook() {
    let d = Dir::new();
    let (_, bob_pub) = keygen(&d, "bob.key");
    let signed_only = gated(
        &format!("approvers:\n  keys: [\"ed25519:{bob_pub}\"]\n"),
        "0s",
    );
    let (id, _) = paused(&d, &signed_only);
    let open = gated(UNSIGNED_OK, "1ms");
    let forged = |forced: bool| Event::RunResumed {
        run_id: id.clone(),
        runbook: String::new(),
        mode: None,
        steps: vec![],
        identity: None,
        host: String::new(),
        in_doubt: vec![],
        forced,
        runbook_sha256: Some(drillbook::runbook::load::sha256_hex(open.as_bytes())),
        runbook_text: Some(open.clone()),
        reapprove: vec![],
        vars: None,
        vars_sha256: None,
    };
    forge(&d, &id, forged(false));
    forge(
        &d,
        &id,
        Event::ApprovalRequested {
            step: "gate".into(),
            message: String::new(),
            nonce: "00".repeat(16),
        },
    );
    let st = Statement::new(
        &binding_now_unchecked(&d, &id, &open),
        &bob_identity(),
        "",
        chrono::Utc::now(),
    );
    forge(
        &d,
        &id,
        grant(Some(drillbook::evidence::approval::unsigned(&st))),
    );
    let o = d.run_as(ALICE, &["resume", &id]);
    o.assert_exit(2);
    assert!(
        o.stderr_text()
            .contains("a resume that changes the runbook or variables without `--force`"),
        "{}",
        o.stderr_text()
    );
    let evidence = sealed_copy(&d, &id, "forged-resume");
    let o = d.offline(&["verify-evidence", evidence.to_str().unwrap()]);
    o.assert_exit(1);
    assert!(stdout(&o).contains("without `--force`"), "{}", stdout(&o));
}

/// The binding a forged statement would need for `text` at the journal's last request
/// (computed by hand: the store refuses to load the forged journal).
fn binding_now_unchecked(d: &Dir, id: &str, text: &str) -> Binding {
    let (records, _) = verify_journal(id, &std::fs::read(d.journal_path(id)).unwrap()).unwrap();
    let runbook = drillbook::runbook::load_str(Path::new("rb.yaml"), text, &[])
        .unwrap()
        .runbook;
    let vars = runbook.shown_vars();
    let effect = drillbook::checkpoint::InEffect {
        runbook_text: text,
        runbook_sha256: drillbook::runbook::load::sha256_hex(text.as_bytes()),
        vars_sha256: drillbook::checkpoint::vars_sha256_of(&vars),
        vars,
        since: records.len() - 1,
    };
    Binding::of(id, "gate", &runbook, &effect, &"00".repeat(16))
}

/// Variables edited after an approval (the gated step would wait 2 s instead of 0 s): refused
/// by every reader; `resume --force --var` is the one way to change them, and it asks again.
#[test]
fn variables_are_bound_like_the_runbook() {
    let d = Dir::new();
    let (id, _) = paused(&d, &gated(UNSIGNED_OK, "0s"));
    d.run_as(BOB, &["approve", &id, "gate"]).assert_exit(0);
    let vars = d.state().join("runs").join(&id).join("vars.json");
    let original = std::fs::read_to_string(&vars).unwrap();
    assert!(original.contains("\"0s\""), "{original}");
    std::fs::write(&vars, original.replace("\"0s\"", "\"2s\"")).unwrap();
    for args in [vec!["resume", id.as_str()], vec!["report", id.as_str()]] {
        let o = d.run_as(ALICE, &args);
        assert_ne!(o.code(), 0, "{args:?}");
        assert!(
            o.stderr_text()
                .contains("the stored variables are not the ones `run_started` hashed"),
            "{args:?}: {}",
            o.stderr_text()
        );
    }
    std::fs::write(&vars, &original).unwrap();

    let o = d.run_as(ALICE, &["resume", &id, "--var", "pause=1ms"]);
    o.assert_exit(2);
    assert!(
        o.stderr_text().contains("the variables given"),
        "{}",
        o.stderr_text()
    );
    let o = d.run_as(ALICE, &["resume", &id, "--var", "pause=1ms", "--force"]);
    assert_eq!(o.code(), 3, "the gate is asked again: {}", o.stderr_text());
    let recs = d.records(&id);
    let changed = recs.iter().find_map(|r| match &r.event {
        Event::RunResumed {
            forced: true,
            vars: Some(v),
            vars_sha256: Some(_),
            runbook_text: None,
            ..
        } => Some(v.clone()),
        _ => None,
    });
    assert_eq!(
        changed.and_then(|v| v.get("pause").cloned()).as_deref(),
        Some("1ms")
    );
    assert!(!b_ran(&d, &id));
    d.run_as(BOB, &["approve", &id, "gate"]).assert_exit(0);
    d.run_as(ALICE, &["resume", &id]).assert_exit(0);
    assert!(b_ran(&d, &id));
    // Every reader judges the run by what it goes on with: `report` renders the runbook with
    // the variables the forced resume recorded.
    let o = d.run(&["report", &id, "--format", "json"]);
    assert!(
        stdout(&o).contains("\"description\": \"pause is 1ms\""),
        "{}",
        stdout(&o)
    );
    // The evidence shows the first approval as revoked by the change, not as tampering.
    let evidence = d.state().join("reports").join(&id);
    let o = d.offline(&["verify-evidence", evidence.to_str().unwrap()]);
    assert_eq!(o.code(), 0, "{}", stdout(&o));
    let out = stdout(&o);
    assert!(out.contains("evidence intact (unsigned)"), "{out}");
    assert!(
        out.contains("revoked (the forced resume at record"),
        "{out}"
    );
    assert!(
        out.contains("UNSIGNED (the runbook accepts unsigned approvals)"),
        "{out}"
    );
}

/// The executor signs with his own P-256 key and names the approver's real KMS key as signer
/// (an endpoint he controls would answer GetPublicKey with his key). The runbook pins the real
/// key's public key by its SHA-256, and nothing is fetched: refused.
#[test]
fn a_kms_approval_is_checked_against_the_runbooks_pin_not_an_endpoint() {
    use p256::ecdsa::signature::Signer as _;
    let d = Dir::new();
    let arn = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let real_pin = "ab".repeat(32);
    let approvers =
        format!("approvers:\n  keys:\n    - key: \"kms:{arn}\"\n      sha256: \"{real_pin}\"\n");
    let (id, _) = paused(&d, &gated(&approvers, "0s"));
    let executor = p256::ecdsa::SigningKey::from_slice(&[9u8; 32]).unwrap();
    let point = executor.verifying_key().to_sec1_point(false);
    // SubjectPublicKeyInfo of a P-256 key, as KMS GetPublicKey returns it.
    let mut der = hex::decode("3059301306072a8648ce3d020106082a8648ce3d030107034200").unwrap();
    der.extend_from_slice(point.as_bytes());
    let st = Statement::new(
        &binding_now(&d, &id),
        &bob_identity(),
        "",
        chrono::Utc::now(),
    );
    let text = st.text();
    let sig: p256::ecdsa::Signature = executor.sign(text.as_bytes());
    forge(
        &d,
        &id,
        grant(Some(SignedApproval {
            statement: text,
            signer: SignerInfo::KmsEcdsaP256 {
                key_arn: arn.into(),
                public_key: aws_smithy_types::base64::encode(&der),
            },
            signature: aws_smithy_types::base64::encode(sig.to_der().as_bytes()),
        })),
    );
    let o = d
        .cmd(&["resume", &id])
        .env("DRILLBOOK_IDENTITY_ARN", ALICE)
        .env("AWS_ENDPOINT_URL_KMS", "http://127.0.0.1:9")
        .output();
    o.assert_exit(2);
    assert!(
        o.stderr_text().contains("is not the one the runbook pins"),
        "{}",
        o.stderr_text()
    );
    assert!(!b_ran(&d, &id));
}

/// The evidence's copy of the runbook swapped for one that trusts the executor's key, and the
/// directory re-sealed with that key: the copy is checked against `run_started`'s hash before
/// any approval is judged against it.
#[test]
fn evidence_is_judged_against_the_runbook_run_started_hashed() {
    let d = Dir::new();
    let (bob_key, bob_pub) = keygen(&d, "bob.key");
    let (exec_key, exec_pub) = keygen(&d, "exec.key");
    let runbook = gated(
        &format!("approvers:\n  keys: [\"ed25519:{bob_pub}\"]\n"),
        "0s",
    );
    let (id, _) = paused(&d, &runbook);
    d.run_as(
        BOB,
        &[
            "approve",
            &id,
            "gate",
            "--sign-with",
            &format!("ed25519:{bob_key}"),
        ],
    )
    .assert_exit(0);
    d.run_as(ALICE, &["resume", &id]).assert_exit(0);
    let copy = sealed_copy(&d, &id, "evidence");
    std::fs::remove_file(copy.join("manifest.json")).unwrap();
    let swapped = runbook.replace(&bob_pub, &exec_pub);
    std::fs::write(copy.join("runbook.yaml"), &swapped).unwrap();
    std::fs::write(
        copy.join("runbook.sha256"),
        format!(
            "{}\n",
            drillbook::runbook::load::sha256_hex(swapped.as_bytes())
        ),
    )
    .unwrap();
    d.offline(&[
        "evidence",
        "seal",
        copy.to_str().unwrap(),
        "--sign-with",
        &format!("ed25519:{exec_key}"),
    ])
    .assert_exit(0);
    let exec_pub_file = format!("{exec_key}.pub");
    let o = d.offline(&[
        "verify-evidence",
        copy.to_str().unwrap(),
        "--public-key",
        &exec_pub_file,
    ]);
    o.assert_exit(1);
    assert!(
        stdout(&o).contains("the stored runbook is not the one `run_started` hashed"),
        "{}",
        stdout(&o)
    );
}

/// A run that began signed stays signed: a resume without the key refuses (exit 3, nothing
/// written), a scheduled one takes the key from DRILLBOOK_SIGN_WITH, and the sealed evidence
/// verifies with the key pinned.
#[test]
fn a_run_that_began_signed_is_never_sealed_unsigned() {
    let d = Dir::new();
    let (seal_key, _) = keygen(&d, "seal.key");
    let (other_key, _) = keygen(&d, "other.key");
    let rb = d.write("rb.yaml", &gated(UNSIGNED_OK, "0s"));
    let sign = format!("ed25519:{seal_key}");
    let o = d.run_as(
        ALICE,
        &[
            "run",
            rb.to_str().unwrap(),
            "--execute",
            "--yes",
            "--sign-with",
            &sign,
        ],
    );
    o.assert_exit(3);
    let id = d.run_ids().remove(0);
    assert!(matches!(
        &d.records(&id)[0].event,
        Event::RunStarted {
            sealed_by: Some(SignerInfo::Ed25519 { .. }),
            ..
        }
    ));
    d.run_as(BOB, &["approve", &id, "gate"]).assert_exit(0);
    let n = d.records(&id).len();
    let o = d.run_as(ALICE, &["resume", &id]);
    o.assert_exit(3);
    assert!(
        o.stderr_text().contains("began signed by"),
        "{}",
        o.stderr_text()
    );
    assert!(
        o.stderr_text().contains("--sign-with"),
        "{}",
        o.stderr_text()
    );
    let o = d.run_as(
        ALICE,
        &[
            "resume",
            &id,
            "--sign-with",
            &format!("ed25519:{other_key}"),
        ],
    );
    o.assert_exit(2);
    assert_eq!(d.records(&id).len(), n, "nothing written");
    let o = d
        .cmd(&["resume", &id])
        .env("DRILLBOOK_IDENTITY_ARN", ALICE)
        .env("DRILLBOOK_SIGN_WITH", &sign)
        .output();
    o.assert_exit(0);
    let evidence = d.state().join("reports").join(&id);
    let o = d.offline(&[
        "verify-evidence",
        evidence.to_str().unwrap(),
        "--public-key",
        &format!("{seal_key}.pub"),
        "--require-signed",
    ]);
    assert_eq!(o.code(), 0, "{}", stdout(&o));
    assert!(stdout(&o).contains("the trusted key"), "{}", stdout(&o));
}

/// A bundle's own key and its runs' keys are pinned separately: an untouched bundle verifies
/// with both pinned, and one re-sealed with another key does not.
#[test]
fn a_bundle_verifies_with_its_own_key_and_the_run_keys_pinned() {
    let d = Dir::new();
    let (run_key, _) = keygen(&d, "run.key");
    let (bundle_key, _) = keygen(&d, "bundle.key");
    let (other_key, _) = keygen(&d, "other.key");
    let rb = d.write("rb.yaml", "version: 1\nname: plain\nsteps:\n  - id: a\n    action: wait\n    with: { duration: 0s }\n");
    d.run_as(
        ALICE,
        &[
            "run",
            rb.to_str().unwrap(),
            "--execute",
            "--yes",
            "--sign-with",
            &format!("ed25519:{run_key}"),
        ],
    )
    .assert_exit(0);
    let out = d.path().join("bundle");
    d.run(&[
        "evidence",
        "export",
        "--since",
        "2000-01-01",
        "--out",
        out.to_str().unwrap(),
        "--sign-with",
        &format!("ed25519:{bundle_key}"),
    ])
    .assert_exit(0);
    let verify = |bundle_pub: &str| {
        d.offline(&[
            "verify-evidence",
            out.to_str().unwrap(),
            "--public-key",
            &format!("{run_key}.pub"),
            "--bundle-key",
            bundle_pub,
            "--require-signed",
        ])
    };
    let o = verify(&format!("{bundle_key}.pub"));
    assert_eq!(o.code(), 0, "{}{}", stdout(&o), o.stderr_text());
    assert!(
        stdout(&o).contains("bundle: 1 runs' evidence intact"),
        "{}",
        stdout(&o)
    );
    // Re-sealed by someone else: the bundle's pin fails.
    std::fs::remove_file(out.join("manifest.json")).unwrap();
    d.offline(&[
        "evidence",
        "seal",
        out.to_str().unwrap(),
        "--sign-with",
        &format!("ed25519:{other_key}"),
    ])
    .assert_exit(0);
    let o = verify(&format!("{bundle_key}.pub"));
    o.assert_exit(1);
    assert!(stdout(&o).contains("TAMPERED"), "{}", stdout(&o));
}

/// `run_started.runbook` rewritten to point at a credentials file: no resume reads it (the run
/// goes on with its own copy; `--force` takes the new runbook from `--runbook` only), so
/// nothing of the file reaches an error message.
#[test]
fn resume_never_reads_a_path_from_the_journal() {
    let d = Dir::new();
    let (id, _) = paused(&d, &gated(UNSIGNED_OK, "0s"));
    let secrets = d.write(
        "credentials",
        "[default]\naws_secret_access_key = wJalrXUtnFEMIK7MDENGbPxRfiCYSECRETKEY\n",
    );
    rewrite(&d, &id, |recs| {
        if let Event::RunStarted { runbook, .. } = &mut recs[0].event {
            *runbook = secrets.display().to_string();
        }
    });
    for args in [
        vec!["resume", id.as_str(), "--force"],
        vec!["resume", id.as_str()],
    ] {
        let o = d.run_as(ALICE, &args);
        assert!(
            o.code() == 2 || o.code() == 3,
            "{args:?}: {}",
            o.stderr_text()
        );
        assert!(
            !o.stderr_text().contains("SECRETKEY") && !stdout(&o).contains("SECRETKEY"),
            "{args:?}: {}",
            o.stderr_text()
        );
    }
    assert!(!b_ran(&d, &id));
}

/// A drill whose team state table lives in the Region the scenario takes away is refused
/// before anything runs (the recovery would depend on the Region it recovers from), and a dry
/// run names each required step that needs the lost Region. No AWS call is needed for either.
#[test]
fn a_drill_refuses_state_in_the_lost_region_and_names_steps_that_need_it() {
    let d = Dir::new();
    d.write(
        "rb.yaml",
        "version: 1\nname: needs-lost\nsteps:\n  - id: restore\n    action: dynamodb.assert_pitr\n    region: us-west-2\n    with: { table: orders }\n",
    );
    let scenario = d.write(
        "outage.yaml",
        "version: 1\nname: us-west-2-outage\nrunbook: rb.yaml\nimpair:\n  - region: us-west-2\n",
    );
    let o = d.run_as(
        ALICE,
        &[
            "drill",
            scenario.to_str().unwrap(),
            "--execute",
            "--yes",
            "--state",
            "dynamodb://drillbook-state?region=us-west-2",
        ],
    );
    o.assert_exit(2);
    assert!(
        o.stderr_text().contains(
            "the team state table is in us-west-2, which scenario `us-west-2-outage` takes away"
        ),
        "{}",
        o.stderr_text()
    );
    assert!(o.stderr_text().contains("help:"), "{}", o.stderr_text());
    assert!(d.run_ids().is_empty(), "nothing ran");

    // The dry run (files store) warns about the step before it observes anything.
    let o = d
        .cmd(&["drill", scenario.to_str().unwrap()])
        .env("DRILLBOOK_IDENTITY_ARN", ALICE)
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_ACCESS_KEY_ID", "x")
        .env("AWS_SECRET_ACCESS_KEY", "x")
        .env("AWS_MAX_ATTEMPTS", "1")
        .output();
    assert!(
        o.stderr_text().contains(
            "warning: required step `restore` (dynamodb.assert_pitr) needs us-west-2, which this scenario takes away"
        ),
        "{}",
        o.stderr_text()
    );
}

/// A dry run observes its approval steps and records them as passed: that gates nothing, so
/// its evidence verifies intact (no "approval statement" problem) and says it is unsigned.
#[test]
fn a_dry_run_with_an_approval_step_verifies_intact() {
    let d = Dir::new();
    let rb = d.write("rb.yaml", &gated(UNSIGNED_OK, "0s"));
    d.run_as(ALICE, &["run", rb.to_str().unwrap()])
        .assert_exit(0);
    let id = d.run_ids().remove(0);
    let evidence = d.state().join("reports").join(&id);
    let o = d.offline(&["verify-evidence", evidence.to_str().unwrap()]);
    assert_eq!(o.code(), 0, "{}", stdout(&o));
    assert!(
        stdout(&o).contains("evidence intact (unsigned)"),
        "{}",
        stdout(&o)
    );
}
