//! The engine through the binary: durable journal, kill -9 and resume, corruption, changed
//! runbooks, approvals. Only core `wait` and `approval` steps: no AWS needed.

use crate::support::Ran;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use drillbook::checkpoint::file::FileStore;
use drillbook::checkpoint::{CheckpointStore, Record};
use drillbook::event::Event;

pub(crate) struct Dir {
    tmp: tempfile::TempDir,
}

impl Dir {
    pub(crate) fn new() -> Dir {
        Dir {
            tmp: tempfile::tempdir().unwrap(),
        }
    }
    pub(crate) fn path(&self) -> &Path {
        self.tmp.path()
    }
    pub(crate) fn state(&self) -> PathBuf {
        self.path().join("state")
    }
    pub(crate) fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
    pub(crate) fn cmd(&self, args: &[&str]) -> crate::support::cli::Drillbook {
        let mut c = crate::support::cli::bin();
        c.args(args)
            .arg("--state-dir")
            .arg(self.state())
            .current_dir(self.path());
        c
    }
    pub(crate) fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output()
    }
    /// A command that takes no `--state-dir` (`evidence`, `verify-evidence`).
    pub(crate) fn offline(&self, args: &[&str]) -> Output {
        crate::support::cli::bin()
            .args(args)
            .current_dir(self.path())
            .output()
    }
    pub(crate) fn run_as(&self, arn: &str, args: &[&str]) -> Output {
        self.cmd(args).env("DRILLBOOK_IDENTITY_ARN", arn).output()
    }
    pub(crate) fn run_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = std::fs::read_dir(self.state().join("runs"))
            .map(|rd| {
                rd.map(|e| e.unwrap().file_name().into_string().unwrap())
                    .collect()
            })
            .unwrap_or_default();
        ids.sort();
        ids
    }
    pub(crate) fn journal_path(&self, id: &str) -> PathBuf {
        self.state().join("runs").join(id).join("journal.jsonl")
    }
    /// The verified journal (the store checks the hash chain and the sequence).
    pub(crate) fn records(&self, id: &str) -> Vec<Record> {
        let store = FileStore::new(self.state());
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(store.load(id)).unwrap().records
    }
}

pub(crate) fn succeeded_counts(records: &[Record]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for r in records {
        if let Event::StepSucceeded { step, .. } = &r.event {
            *m.entry(step.clone()).or_default() += 1;
        }
    }
    m
}

fn chain_of_waits(n: usize, wait: &str) -> String {
    let mut s = String::from("version: 1\nname: chain\nsteps:\n");
    for i in 0..n {
        s.push_str(&format!(
            "  - id: s{i}\n    action: wait\n    with: {{ duration: {wait} }}\n"
        ));
        if i > 0 {
            s.push_str(&format!("    needs: [s{}]\n", i - 1));
        }
    }
    s
}

#[test]
fn dry_run_is_the_default_and_journals_observations_only() {
    let d = Dir::new();
    let rb = d.write("rb.yaml", &chain_of_waits(3, "1h"));
    let o = d.run(&["run", rb.to_str().unwrap()]);
    o.assert_exit(0);
    let ids = d.run_ids();
    assert_eq!(ids.len(), 1);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains(&ids[0]), "the run id is printed: {stdout}");
    let recs = d.records(&ids[0]);
    assert!(
        matches!(&recs[0].event, Event::RunStarted { mode, .. } if *mode == drillbook::event::Mode::DryRun)
    );
    let dry: Vec<bool> = recs
        .iter()
        .filter_map(|r| match &r.event {
            Event::StepSucceeded { dry_run, .. } => Some(*dry_run),
            _ => None,
        })
        .collect();
    assert_eq!(
        dry,
        [true, true, true],
        "a 1h wait is not waited in dry-run"
    );
    // The run directory holds the runbook as run, its hash and the variables.
    let dir = d.state().join("runs").join(&ids[0]);
    let text = std::fs::read_to_string(dir.join("runbook.yaml")).unwrap();
    assert_eq!(text, chain_of_waits(3, "1h"));
    let sha = std::fs::read_to_string(dir.join("runbook.sha256")).unwrap();
    assert_eq!(
        sha.trim(),
        drillbook::runbook::load::sha256_hex(text.as_bytes())
    );
    assert!(dir.join("vars.json").exists());
}

#[test]
fn kill_9_mid_run_then_resume_runs_every_step_exactly_once() {
    let d = Dir::new();
    let rb = d.write("rb.yaml", &chain_of_waits(12, "150ms"));
    let mut child = d
        .cmd(&["run", rb.to_str().unwrap(), "--execute", "--yes"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    // Wait until the journal shows progress, then kill -9.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ids = d.run_ids();
        if let Some(id) = ids.first() {
            let text = std::fs::read_to_string(d.journal_path(id)).unwrap_or_default();
            if text.matches("\"type\":\"step_succeeded\"").count() >= 3 {
                break;
            }
        }
        assert!(Instant::now() < deadline, "no progress in the journal");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let id = d.run_ids().remove(0);
    let before = succeeded_counts(&d.records(&id));
    assert!(before.len() >= 3 && before.len() < 12, "{before:?}");

    let o = d.run(&["resume", &id]);
    o.assert_exit(0);
    let recs = d.records(&id);
    let counts = succeeded_counts(&recs);
    assert_eq!(counts.len(), 12, "{counts:?}");
    assert!(counts.values().all(|&c| c == 1), "{counts:?}");
    assert!(
        recs.iter()
            .any(|r| matches!(&r.event, Event::RunResumed { forced: false, .. }))
    );
    assert!(matches!(
        recs.last().map(|r| &r.event),
        Some(Event::RunFinished {
            status: drillbook::event::RunStatus::Succeeded
        })
    ));
    // Resuming a finished run runs nothing again.
    let o = d.run(&["resume", &id]);
    o.assert_exit(0);
    assert!(succeeded_counts(&d.records(&id)).values().all(|&c| c == 1));
}

/// Ctrl-C (SIGINT) mid-run: the running step finishes within the grace period, the journal
/// is flushed and says why the run paused, the exact resume command is printed, exit 3; the
/// resume then finishes the run with every step done once.
#[test]
fn ctrl_c_pauses_with_a_flushed_journal_and_the_resume_command() {
    let d = Dir::new();
    let rb = d.write("rb.yaml", &chain_of_waits(6, "300ms"));
    let child = d
        .cmd(&["run", rb.to_str().unwrap(), "--execute", "--yes"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let started = d.run_ids().first().is_some_and(|id| {
            std::fs::read_to_string(d.journal_path(id))
                .unwrap_or_default()
                .contains("\"type\":\"step_succeeded\",\"step\":\"s1\"")
        });
        if started {
            break;
        }
        assert!(Instant::now() < deadline, "no progress in the journal");
        std::thread::sleep(Duration::from_millis(5));
    }
    // SAFETY: kill(2) on the child's pid has no memory-safety preconditions.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let o = child.wait_with_output().unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(o.code(), 3, "{all}");
    let id = d.run_ids().remove(0);
    assert!(all.contains(&format!("drillbook resume {id}")), "{all}");
    let recs = d.records(&id);
    assert!(
        recs.iter()
            .any(|r| matches!(&r.event, Event::RunPaused { .. })),
        "the journal says the run paused"
    );
    let before = succeeded_counts(&recs);
    assert!(before.len() >= 2 && before.len() < 6, "{before:?}");
    // The step running at the interrupt finished (grace period), nothing new started.
    let started = recs
        .iter()
        .filter(|r| matches!(&r.event, Event::StepStarted { .. }))
        .count();
    assert_eq!(started, before.len(), "no step left in doubt: {recs:?}");

    let o = d.run(&["resume", &id]);
    o.assert_exit(0);
    let counts = succeeded_counts(&d.records(&id));
    assert_eq!(counts.len(), 6, "{counts:?}");
    assert!(counts.values().all(|&c| c == 1), "{counts:?}");
}

fn finished_run(d: &Dir) -> String {
    let rb = d.write("rb.yaml", &chain_of_waits(3, "0s"));
    let o = d.run(&["run", rb.to_str().unwrap(), "--execute", "--yes"]);
    o.assert_exit(0);
    d.run_ids().remove(0)
}

#[test]
fn a_truncated_journal_is_refused_with_a_clear_error() {
    let d = Dir::new();
    let id = finished_run(&d);
    let p = d.journal_path(&id);
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() - 7]).unwrap();
    let o = d.run(&["resume", &id]);
    o.assert_exit(2);
    let err = o.stderr_text();
    assert!(
        err.contains(&format!("journal of run `{id}` is corrupt")),
        "{err}"
    );
    assert!(err.contains("incomplete"), "{err}");
    assert!(err.contains("help:"), "{err}");
}

#[test]
fn a_byte_corrupted_journal_is_refused_with_a_clear_error() {
    let d = Dir::new();
    let id = finished_run(&d);
    let p = d.journal_path(&id);
    let mut bytes = std::fs::read(&p).unwrap();
    // Change one byte of the first record (its step list): `"s0"` becomes `"t0"`; the
    // line's own checksum (and the second line's `prev`) no longer match.
    let at = bytes.windows(4).position(|w| w == b"\"s0\"").unwrap();
    bytes[at + 1] = b't';
    std::fs::write(&p, &bytes).unwrap();
    let o = d.run(&["resume", &id]);
    o.assert_exit(2);
    let err = o.stderr_text();
    assert!(err.contains("checksum mismatch"), "{err}");
    assert!(err.contains("line 1"), "{err}");
    assert!(err.contains("help:"), "{err}");
}

#[test]
fn a_changed_runbook_is_refused_unless_forced() {
    let d = Dir::new();
    let rb = d.write(
        "rb.yaml",
        "version: 1\nname: gate\napprovers: { allow_unsigned: true }\nsteps:\n  - id: a\n    action: wait\n    with: { duration: 0s }\n  - id: gate\n    action: approval\n    needs: [a]\n  - id: b\n    action: wait\n    needs: [gate]\n    with: { duration: 0s }\n",
    );
    let o = d.run_as(
        "arn:aws:iam::111122223333:user/alice",
        &["run", rb.to_str().unwrap(), "--execute", "--yes"],
    );
    o.assert_exit(3);
    let id = d.run_ids().remove(0);
    std::fs::write(&rb, std::fs::read_to_string(&rb).unwrap() + "# edited\n").unwrap();
    let rb = rb.to_str().unwrap();
    let o = d.run_as(
        "arn:aws:iam::111122223333:user/alice",
        &["resume", &id, "--runbook", rb],
    );
    o.assert_exit(2);
    assert!(
        o.stderr_text().contains("the runbook given to resume run"),
        "{}",
        o.stderr_text()
    );
    // Without `--runbook` the run goes on with its own copy: the edit is not read.
    let o = d.run_as("arn:aws:iam::111122223333:user/alice", &["resume", &id]);
    o.assert_exit(3);
    assert!(
        !d.records(&id)
            .iter()
            .any(|r| matches!(&r.event, Event::RunResumed { forced: true, .. }))
    );
    // `--force` alone has nothing to go on with.
    let o = d.run_as(
        "arn:aws:iam::111122223333:user/alice",
        &["resume", &id, "--force"],
    );
    o.assert_exit(2);
    assert!(
        o.stderr_text().contains("--runbook FILE"),
        "{}",
        o.stderr_text()
    );
    let o = d.run_as(
        "arn:aws:iam::111122223333:user/alice",
        &["resume", &id, "--runbook", rb, "--force"],
    );
    assert_eq!(o.code(), 3, "still awaiting approval: {}", o.stderr_text());
    assert!(
        d.records(&id)
            .iter()
            .any(|r| matches!(&r.event, Event::RunResumed { forced: true, .. }))
    );
}

#[test]
fn approval_by_the_starter_is_refused_and_another_identity_unblocks_the_run() {
    let d = Dir::new();
    let alice = "arn:aws:iam::111122223333:user/alice";
    let bob = "arn:aws:iam::111122223333:user/bob";
    let rb = d.write(
        "rb.yaml",
        "version: 1\nname: gate\napprovers: { allow_unsigned: true }\nsteps:\n  - id: a\n    action: wait\n    with: { duration: 0s }\n  - id: gate\n    action: approval\n    needs: [a]\n    with: { message: check the dashboards }\n  - id: b\n    action: wait\n    needs: [gate]\n    with: { duration: 0s }\n",
    );
    let o = d.run_as(alice, &["run", rb.to_str().unwrap(), "--execute", "--yes"]);
    o.assert_exit(3);
    let id = d.run_ids().remove(0);
    let err = o.stderr_text();
    assert!(err.contains("check the dashboards"), "{err}");
    assert!(
        err.contains(&format!("drillbook approve {id} gate")),
        "{err}"
    );

    // Same identity: refused, exit 2 (the request is invalid), nothing journaled.
    let n = d.records(&id).len();
    let o = d.run_as(alice, &["approve", &id, "gate"]);
    o.assert_exit(2);
    assert!(
        o.stderr_text().contains("self-approval refused"),
        "{}",
        o.stderr_text()
    );
    assert_eq!(d.records(&id).len(), n);

    // Resuming without approval pauses again, and says again what it waits for.
    let o = d.run_as(alice, &["resume", &id]);
    o.assert_exit(3);
    let err = o.stderr_text();
    assert!(
        err.contains("gate  approval needed: check the dashboards"),
        "{err}"
    );
    assert!(
        err.contains(&format!("drillbook approve {id} gate")),
        "{err}"
    );

    let o = d.run_as(
        bob,
        &["approve", &id, "gate", "--comment", "dashboards green"],
    );
    o.assert_exit(0);
    let o = d.run_as(bob, &["approve", &id, "gate"]);
    assert_eq!(o.code(), 2, "approving twice is refused");

    let o = d.run_as(alice, &["resume", &id]);
    o.assert_exit(0);
    let recs = d.records(&id);
    assert!(recs.iter().any(|r| matches!(&r.event,
        Event::ApprovalGranted { step, approver, comment, .. }
            if step == "gate" && approver.arn == bob && comment == "dashboards green")));
    let starter = match &recs[0].event {
        Event::RunStarted { identity, .. } => identity.clone().unwrap().arn,
        _ => unreachable!(),
    };
    assert_eq!(starter, alice);
    let counts = succeeded_counts(&recs);
    assert_eq!(counts.get("b"), Some(&1));
    assert_eq!(counts.get("gate"), Some(&1));
    assert!(recs.iter().any(|r| matches!(&r.event,
        Event::StepSucceeded { step, outcome, .. }
            if step == "gate" && outcome.outputs.get("approved_by").map(String::as_str) == Some(bob))));
}

/// `--message-format json` streams the journal's own events: every line is a journal record's
/// event (the envelope aside), in the journal's order, for the run and for its resume.
#[test]
fn json_lines_are_the_journals_events() {
    let d = Dir::new();
    let alice = "arn:aws:iam::111122223333:user/alice";
    let bob = "arn:aws:iam::111122223333:user/bob";
    let rb = d.write(
        "rb.yaml",
        "version: 1\nname: stream\napprovers: { allow_unsigned: true }\nsteps:\n  - id: a\n    action: wait\n    with: { duration: 10ms }\n  - id: gate\n    action: approval\n    needs: [a]\n    with: { message: go? }\n  - id: b\n    action: wait\n    needs: [gate]\n    with: { duration: 10ms }\n",
    );
    let json = ["--message-format", "json"];
    let mut args = vec!["run", rb.to_str().unwrap(), "--execute", "--yes"];
    args.extend(json);
    let first = d.run_as(alice, &args);
    first.assert_exit(3);
    let id = d.run_ids().remove(0);
    d.run_as(bob, &["approve", &id, "gate"]).assert_exit(0);
    let mut args = vec!["resume", id.as_str()];
    args.extend(json);
    let second = d.run_as(alice, &args);
    second.assert_exit(0);

    let strip = |mut v: serde_json::Value, envelope: &[&str]| {
        for k in envelope {
            v.as_object_mut().unwrap().remove(*k);
        }
        v
    };
    let streamed: Vec<serde_json::Value> = [&first, &second]
        .iter()
        .flat_map(|o| {
            o.stdout_text()
                .lines()
                .map(|l| {
                    let v: serde_json::Value = serde_json::from_str(l).unwrap();
                    assert_eq!(v["v"], 2, "{l}");
                    assert!(v["at"].is_string(), "{l}");
                    strip(v, &["v", "at"])
                })
                .collect::<Vec<_>>()
        })
        .collect();
    // `approve` wrote one record between the two processes; nothing streamed it.
    let journal: Vec<serde_json::Value> = d
        .records(&id)
        .into_iter()
        .filter(|r| !matches!(r.event, Event::ApprovalGranted { .. }))
        .map(|r| strip(serde_json::to_value(&r).unwrap(), &["seq", "at", "prev"]))
        .collect();
    assert_eq!(streamed, journal);
    let kinds: Vec<&str> = streamed
        .iter()
        .map(|v| v["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"run_started"));
    assert!(kinds.contains(&"approval_requested") && kinds.contains(&"run_paused"));
    assert!(kinds.contains(&"run_resumed"));
    assert_eq!(kinds.last(), Some(&"run_finished"));
    let resumed = streamed
        .iter()
        .find(|v| v["type"] == "run_resumed")
        .unwrap();
    assert_eq!(resumed["run_id"], id.as_str());
    assert_eq!(resumed["mode"], "execute");
}

/// Whoever executed the run (resumed it, not only started it) cannot approve it, and the
/// runbook copy that says whether self-approval is allowed must be the one the run started with.
#[test]
fn an_identity_that_resumed_the_run_cannot_approve_it_nor_can_a_swapped_runbook_copy_allow_it() {
    let d = Dir::new();
    let alice = "arn:aws:iam::111122223333:user/alice";
    let carol = "arn:aws:iam::111122223333:user/carol";
    let bob = "arn:aws:iam::111122223333:user/bob";
    let gate = "version: 1\nname: gate2\napprovers: { allow_unsigned: true }\nsteps:\n  - id: gate\n    action: approval\n    with: { message: go? }\n  - id: b\n    action: wait\n    needs: [gate]\n    with: { duration: 0s }\n";
    let rb = d.write("rb.yaml", gate);
    let o = d.run_as(alice, &["run", rb.to_str().unwrap(), "--execute", "--yes"]);
    o.assert_exit(3);
    let id = d.run_ids().remove(0);
    // Carol resumes (and so executes) the run; it pauses at the gate again.
    let o = d.run_as(carol, &["resume", &id]);
    o.assert_exit(3);
    let n = d.records(&id).len();
    let o = d.run_as(carol, &["approve", &id, "gate"]);
    o.assert_exit(2);
    assert!(
        o.stderr_text().contains(&format!("`{carol}` resumed run")),
        "{}",
        o.stderr_text()
    );
    assert_eq!(d.records(&id).len(), n, "nothing journaled");

    // The run's copy of the runbook, swapped for one that allows self-approval (and its hash
    // beside it recomputed), is refused: the journal's first record hashed the original.
    let run_dir = d.state().join("runs").join(&id);
    let forged = gate.replace("name: gate2\n", "name: gate2\nallow_self_approval: true\n");
    std::fs::write(run_dir.join("runbook.yaml"), &forged).unwrap();
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(forged.as_bytes()))
    };
    std::fs::write(run_dir.join("runbook.sha256"), format!("{sha}\n")).unwrap();
    let o = d.run_as(alice, &["approve", &id, "gate"]);
    o.assert_exit(2);
    assert!(
        o.stderr_text()
            .contains("is not the one `run_started` hashed"),
        "{}",
        o.stderr_text()
    );
    // Every reader refuses the swapped copy, not only `approve`.
    let o = d.run_as(bob, &["report", &id]);
    assert_ne!(o.code(), 0, "{}", o.stderr_text());
    assert!(
        o.stderr_text()
            .contains("is not the one `run_started` hashed"),
        "{}",
        o.stderr_text()
    );
    std::fs::write(run_dir.join("runbook.yaml"), gate).unwrap();
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(gate.as_bytes()))
    };
    std::fs::write(run_dir.join("runbook.sha256"), format!("{sha}\n")).unwrap();
    assert_eq!(d.records(&id).len(), n, "nothing journaled");

    // Bob approves; Bob may not then resume it himself (he would have approved his own run).
    let o = d.run_as(bob, &["approve", &id, "gate"]);
    o.assert_exit(0);
    let o = d.run_as(bob, &["resume", &id]);
    o.assert_exit(2);
    assert!(
        o.stderr_text().contains("self-approval refused"),
        "{}",
        o.stderr_text()
    );
    let o = d.run_as(alice, &["resume", &id]);
    o.assert_exit(0);
    assert_eq!(succeeded_counts(&d.records(&id)).get("b"), Some(&1));
}

/// `resume --force` with a changed runbook records the new text and hash, and asks again for
/// any approval whose step, or a step it depends on, changed: an approval given for one
/// runbook does not carry over to another.
#[test]
fn a_forced_resume_records_the_new_runbook_and_asks_again_for_changed_approvals() {
    let d = Dir::new();
    let alice = "arn:aws:iam::111122223333:user/alice";
    let bob = "arn:aws:iam::111122223333:user/bob";
    let v1 = "version: 1\nname: gate3\napprovers: { allow_unsigned: true }\nsteps:\n  - id: prepare\n    action: wait\n    with: { duration: 0s }\n  - id: gate\n    action: approval\n    needs: [prepare]\n    with: { message: switch DNS? }\n  - id: b\n    action: wait\n    needs: [gate]\n    with: { duration: 0s }\n";
    let rb = d.write("rb.yaml", v1);
    let o = d.run_as(alice, &["run", rb.to_str().unwrap(), "--execute", "--yes"]);
    o.assert_exit(3);
    let id = d.run_ids().remove(0);
    let o = d.run_as(bob, &["approve", &id, "gate"]);
    o.assert_exit(0);
    // After the approval, what the gate depends on changes.
    let v2 = v1.replace(
        "duration: 0s }\n  - id: gate",
        "duration: 1s }\n  - id: gate",
    );
    assert_ne!(v2, v1);
    std::fs::write(&rb, &v2).unwrap();
    let rb = rb.to_str().unwrap();
    let o = d.run_as(alice, &["resume", &id, "--runbook", rb]);
    assert_eq!(
        o.code(),
        2,
        "a changed runbook needs --force: {}",
        o.stderr_text()
    );
    let o = d.run_as(alice, &["resume", &id, "--runbook", rb, "--force"]);
    assert_eq!(o.code(), 3, "the gate is asked again: {}", o.stderr_text());
    assert!(
        o.stderr_text().contains("awaits approval of `gate`"),
        "{}",
        o.stderr_text()
    );
    let recs = d.records(&id);
    let forced = recs
        .iter()
        .find_map(|r| match &r.event {
            Event::RunResumed {
                forced: true,
                runbook_sha256,
                runbook_text,
                reapprove,
                ..
            } => Some((
                runbook_sha256.clone(),
                runbook_text.clone(),
                reapprove.clone(),
            )),
            _ => None,
        })
        .expect("a forced resume record");
    assert_eq!(forced.1.as_deref(), Some(v2.as_str()));
    assert_eq!(forced.0.unwrap().len(), 64);
    assert_eq!(forced.2, ["gate"]);
    assert_eq!(
        succeeded_counts(&recs).get("b"),
        None,
        "nothing past the gate ran"
    );
    // A new approval, for the new runbook, lets it go on; the next resume needs no --force.
    let o = d.run_as(bob, &["approve", &id, "gate"]);
    o.assert_exit(0);
    let o = d.run_as(alice, &["resume", &id]);
    o.assert_exit(0);
    assert_eq!(succeeded_counts(&d.records(&id)).get("b"), Some(&1));
}

/// An approval message cannot rewrite the terminal: its escape sequences are shown, not sent.
#[test]
fn control_characters_in_runbook_text_never_reach_the_terminal() {
    let d = Dir::new();
    let rb = d.write(
        "rb.yaml",
        "version: 1\nname: inject\napprovers: { allow_unsigned: true }\nsteps:\n  - id: gate\n    action: approval\n    with: { message: \"check\\r\\e[32mAPPROVED\\e[0m\" }\n",
    );
    let o = d.run_as(
        "arn:aws:iam::111122223333:user/alice",
        &["run", rb.to_str().unwrap(), "--execute", "--yes"],
    );
    o.assert_exit(3);
    let all = format!("{}{}", String::from_utf8_lossy(&o.stdout), o.stderr_text());
    assert!(!all.contains('\u{1b}') && !all.contains('\r'), "{all:?}");
    assert!(all.contains("\\x1b[32mAPPROVED"), "{all}");
}

#[test]
fn bad_arguments_and_unknown_runs_exit_2() {
    let d = Dir::new();
    let rb = d.write("rb.yaml", &chain_of_waits(1, "0s"));
    let o = d.run(&["run", rb.to_str().unwrap(), "--var", "novalue"]);
    o.assert_exit(2);
    let o = d.run(&["resume", "20990101-000000-abcd"]);
    o.assert_exit(2);
    assert!(o.stderr_text().contains("not found"), "{}", o.stderr_text());
}

// ----------------------------------------------------------------------------- signed approvals

pub(crate) const ALICE: &str = "arn:aws:iam::111122223333:user/alice";
pub(crate) const BOB: &str = "arn:aws:iam::111122223333:user/bob";
pub(crate) const CAROL: &str = "arn:aws:iam::111122223333:user/carol";

/// `drillbook evidence keygen DIR/NAME`: the key file and its public key (hex).
pub(crate) fn keygen(d: &Dir, name: &str) -> (String, String) {
    let key = d.path().join(name);
    let o = d.offline(&["evidence", "keygen", key.to_str().unwrap()]);
    o.assert_exit(0);
    let public = std::fs::read_to_string(drillbook::evidence::public_key_path(&key)).unwrap();
    (key.to_str().unwrap().to_string(), public.trim().to_string())
}

/// A gate that trusts Bob's key for Bob and Alice's key for Alice, and only users.
fn signed_gate(alice_pub: &str, bob_pub: &str) -> String {
    format!(
        "version: 1\nname: signed-gate\napprovers:\n  principals: [\"arn:aws:iam::111122223333:user/*\"]\n  keys:\n    - key: \"ed25519:{bob_pub}\"\n      principal: \"{BOB}\"\n    - key: \"ed25519:{alice_pub}\"\n      principal: \"{ALICE}\"\nsteps:\n  - id: gate\n    action: approval\n    with: {{ message: go? }}\n  - id: b\n    action: wait\n    needs: [gate]\n    with: {{ duration: 0s }}\n"
    )
}

/// Appends `entry` to the run's journal as its writer would: the next `seq`, `prev` the hash of
/// the last line, the line's checksum. What anyone who can write the run directory can do.
pub(crate) fn forge(d: &Dir, id: &str, entry: Event) {
    use drillbook::checkpoint::file::{encode_line, verify_journal};
    let path = d.journal_path(id);
    let mut bytes = std::fs::read(&path).unwrap();
    let (records, head) = verify_journal(id, &bytes).unwrap();
    let line = encode_line(records.len() as u64 + 1, chrono::Utc::now(), head, entry).unwrap();
    bytes.extend_from_slice(&line);
    bytes.push(b'\n');
    std::fs::write(&path, bytes).unwrap();
}

pub(crate) fn bob_identity() -> drillbook::actions::aws::Identity {
    drillbook::actions::aws::Identity {
        account: "111122223333".into(),
        arn: BOB.into(),
    }
}

/// A statement claiming Bob approved, signed with the key in `key_file`.
fn signed_as_bob(d: &Dir, id: &str, key_file: &str) -> drillbook::event::SignedApproval {
    use drillbook::evidence::approval::Statement;
    use ed25519_dalek::Signer as _;
    let store = FileStore::new(d.state());
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let run = rt.block_on(store.load(id)).unwrap();
    let effect = run.in_effect();
    let runbook =
        drillbook::runbook::load_str(Path::new(&run.runbook_path), effect.runbook_text, &[])
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
    let binding = drillbook::evidence::approval::Binding::of(id, "gate", &runbook, &effect, &nonce);
    let st = Statement::new(&binding, &bob_identity(), "", chrono::Utc::now());
    let text = serde_json::to_string(&st).unwrap();
    let key = drillbook::evidence::load_ed25519_key(Path::new(key_file)).unwrap();
    drillbook::event::SignedApproval {
        signature: aws_smithy_types::base64::encode(key.sign(text.as_bytes()).to_bytes()),
        signer: drillbook::evidence::SignerInfo::Ed25519 {
            public_key: hex::encode(key.verifying_key().as_bytes()),
        },
        statement: text,
    }
}

/// Only the trusted approver's own key makes an approval that `approve`, `resume` and
/// `verify-evidence` accept; the report says who signed.
#[test]
fn only_the_approvers_own_key_makes_an_approval() {
    let d = Dir::new();
    let (alice_key, alice_pub) = keygen(&d, "alice.key");
    let (bob_key, bob_pub) = keygen(&d, "bob.key");
    let (carol_key, _) = keygen(&d, "carol.key");
    let rb = d.write("rb.yaml", &signed_gate(&alice_pub, &bob_pub));
    let o = d.run_as(ALICE, &["run", rb.to_str().unwrap(), "--execute", "--yes"]);
    o.assert_exit(3);
    let id = d.run_ids().remove(0);

    let refused = |who: &str, extra: &[&str], why: &str| {
        let mut args = vec!["approve", &id, "gate"];
        args.extend_from_slice(extra);
        let o = d.run_as(who, &args);
        assert_eq!(o.code(), 2, "{who} {extra:?}: {}", o.stderr_text());
        assert!(
            o.stderr_text().contains(why),
            "{who} {extra:?}: {}",
            o.stderr_text()
        );
        assert!(o.stderr_text().contains("help:"), "{}", o.stderr_text());
    };
    refused(BOB, &[], "accepts only signed");
    refused(
        BOB,
        &["--sign-with", &format!("ed25519:{alice_key}")],
        "belongs to",
    );
    refused(
        CAROL,
        &["--sign-with", &format!("ed25519:{carol_key}")],
        "does not list",
    );
    refused(
        "arn:aws:sts::111122223333:assumed-role/Ops/bob",
        &["--sign-with", &format!("ed25519:{bob_key}")],
        "matches none",
    );
    assert!(
        !d.records(&id)
            .iter()
            .any(|r| matches!(r.event, Event::ApprovalGranted { .. })),
        "a refused approval writes nothing"
    );

    let o = d.run_as(
        BOB,
        &[
            "approve",
            &id,
            "gate",
            "--sign-with",
            &format!("ed25519:{bob_key}"),
        ],
    );
    o.assert_exit(0);
    assert!(
        o.stderr_text().contains("signed with ed25519:"),
        "{}",
        o.stderr_text()
    );
    let o = d.run_as(ALICE, &["resume", &id]);
    o.assert_exit(0);
    let signed = d.records(&id).into_iter().find_map(|r| match r.event {
        Event::ApprovalGranted { signed, .. } => signed,
        _ => None,
    });
    let signed = signed.expect("the approval is signed");
    let st: serde_json::Value = serde_json::from_str(&signed.statement).unwrap();
    assert_eq!(st["run_id"], id.as_str());
    assert_eq!(st["step"], "gate");
    assert_eq!(st["approver"]["arn"], BOB);
    assert_eq!(st["nonce"].as_str().unwrap().len(), 32);
    assert_eq!(st["vars_sha256"].as_str().unwrap().len(), 64);
    assert_eq!(st["guards"]["b"].as_str().unwrap().len(), 64);

    let evidence = d.state().join("reports").join(&id);
    let md = std::fs::read_to_string(evidence.join("report.md")).unwrap();
    assert!(
        md.contains(&format!("signed with ed25519 key {bob_pub}")),
        "{md}"
    );
    let o = d.offline(&["verify-evidence", evidence.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.code(), 0, "{out}{}", o.stderr_text());
    assert!(
        out.contains(&format!(
            "approval:  `gate` by {BOB}: signed with ed25519 key {bob_pub}, trusted"
        )),
        "{out}"
    );

    // The executor rewrites the sealed evidence: the approval now claims Carol, the chain is
    // recomputed and the directory re-sealed. The hashes all match; the approval does not.
    let forged = d.path().join("forged");
    std::fs::create_dir(&forged).unwrap();
    for e in std::fs::read_dir(&evidence).unwrap() {
        let e = e.unwrap();
        if e.file_name() != "manifest.json" {
            std::fs::copy(e.path(), forged.join(e.file_name())).unwrap();
        }
    }
    let journal = forged.join("journal.jsonl");
    let bytes = std::fs::read(&journal).unwrap();
    let (records, _) = drillbook::checkpoint::file::verify_journal(&id, &bytes).unwrap();
    let mut out_bytes = Vec::new();
    let mut prev = drillbook::checkpoint::GENESIS.to_string();
    for mut r in records {
        if let Event::ApprovalGranted { approver, .. } = &mut r.event {
            approver.arn = CAROL.into();
        }
        let line = drillbook::checkpoint::file::encode_line(r.seq, r.at, prev, r.event).unwrap();
        prev = drillbook::checkpoint::file::line_hash(&line);
        out_bytes.extend_from_slice(&line);
        out_bytes.push(b'\n');
    }
    std::fs::write(&journal, out_bytes).unwrap();
    let o = d.offline(&["evidence", "seal", forged.to_str().unwrap()]);
    o.assert_exit(0);
    let o = d.offline(&["verify-evidence", forged.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.code(), 1, "{out}");
    assert!(out.contains("approval of `gate`"), "{out}");
    assert!(out.contains("does not count"), "{out}");
}

/// Records appended to the journal by whoever can write it (recomputed chain and all): an
/// unsigned approval, one signed with the executor's own key in someone else's name, and a
/// passed approval step with no approval. `resume` refuses each; nothing runs.
#[test]
fn forged_approvals_in_the_journal_stop_the_resume() {
    let d = Dir::new();
    let (alice_key, alice_pub) = keygen(&d, "alice.key");
    let (_, bob_pub) = keygen(&d, "bob.key");
    let rb = d.write("rb.yaml", &signed_gate(&alice_pub, &bob_pub));
    let o = d.run_as(ALICE, &["run", rb.to_str().unwrap(), "--execute", "--yes"]);
    o.assert_exit(3);
    let id = d.run_ids().remove(0);
    let original = std::fs::read(d.journal_path(&id)).unwrap();

    let forgeries: Vec<(Event, &str)> = vec![
        (
            Event::ApprovalGranted {
                step: "gate".into(),
                approver: bob_identity(),
                comment: String::new(),
                signed: None,
            },
            "no approval statement",
        ),
        (
            Event::ApprovalGranted {
                step: "gate".into(),
                approver: bob_identity(),
                comment: String::new(),
                signed: Some(signed_as_bob(&d, &id, &alice_key)),
            },
            "belongs to",
        ),
        (
            Event::StepSucceeded {
                step: "gate".into(),
                outcome: Default::default(),
                attempts: 1,
                duration_ms: 0,
                aws_wait_ms: 0,
                dry_run: false,
            },
            "no approval statement matches it",
        ),
    ];
    for (entry, why) in forgeries {
        std::fs::write(d.journal_path(&id), &original).unwrap();
        forge(&d, &id, entry);
        let o = d.run_as(ALICE, &["resume", &id]);
        assert_eq!(o.code(), 2, "{why}: {}", o.stderr_text());
        assert!(
            o.stderr_text().contains("does not count"),
            "{}",
            o.stderr_text()
        );
        assert!(o.stderr_text().contains(why), "{}", o.stderr_text());
        let counts = succeeded_counts(&d.records(&id));
        assert_eq!(counts.get("b"), None, "nothing ran past the gate");
    }
}
