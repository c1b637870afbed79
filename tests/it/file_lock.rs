//! The file store's runbook lock, through the binary: a second process on a running run (a
//! `resume` of it, or another `run` of the same runbook in the same state directory) exits 4
//! naming the holder and writes nothing; the kernel releases the lock when its holder is killed,
//! so a resume after SIGKILL needs no `--steal-lock`.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::support::Ran;

/// `s0`, then a wait long enough for the test to do its checks while the run holds the lock.
const RUNBOOK: &str = "version: 1\nname: locked-drill\nsteps:\n  - id: s0\n    action: wait\n    with: { duration: 0s }\n  - id: long\n    action: wait\n    needs: [s0]\n    with: { duration: 10m }\n";

fn drillbook(dir: &Path, args: &[&str]) -> crate::support::Drillbook {
    let mut c = crate::support::cli::bin();
    c.current_dir(dir).args(args).state_dir(dir.join("state"));
    c
}

fn spawn(dir: &Path, args: &[&str]) -> Child {
    drillbook(dir, args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
}

fn runs(dir: &Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(dir.join("state/runs"))
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

fn journal(dir: &Path, id: &str) -> PathBuf {
    dir.join("state/runs").join(id).join("journal.jsonl")
}

/// Polls `f` every 20 ms until it gives a value; fails after `limit`.
fn until<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            start.elapsed() < limit,
            "condition not reached in {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// How many records of `kind` the journal holds for `step` (any step when `None`).
fn count(dir: &Path, id: &str, kind: &str, step: Option<&str>) -> usize {
    let text = std::fs::read_to_string(journal(dir, id)).unwrap_or_default();
    let needle = match step {
        Some(s) => format!("\"type\":\"{kind}\",\"step\":\"{s}\""),
        None => format!("\"type\":\"{kind}\""),
    };
    text.matches(&needle).count()
}

#[test]
fn a_second_process_on_a_running_run_exits_4_and_a_killed_holder_frees_it() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(d.join("rb.yaml"), RUNBOOK).unwrap();
    let run = ["run", "rb.yaml", "--execute", "--yes"];
    let mut holder = spawn(d, &run);
    let id = until(Duration::from_secs(60), || {
        let id = runs(d).into_iter().next()?;
        (count(d, &id, "step_started", Some("long")) == 1).then_some(id)
    });
    let before = std::fs::read(journal(d, &id)).unwrap();

    // A second resume of the run: refused, naming the holder.
    let o = drillbook(d, &["resume", &id, "--yes"]).output();
    o.assert_exit(4);
    let err = o.stderr_text();
    assert!(
        err.contains("runbook `locked-drill` is locked by user"),
        "{err}"
    );
    assert!(
        err.contains(&format!("(pid {}, run {id})", holder.id())),
        "{err}"
    );
    assert!(err.contains("help: wait for that run to end"), "{err}");
    // So is a second run of the same runbook in the same state directory.
    drillbook(d, &run).output().assert_exit(4);
    assert_eq!(runs(d), vec![id.clone()], "no second run was created");
    assert_eq!(
        std::fs::read(journal(d, &id)).unwrap(),
        before,
        "the journal is untouched"
    );
    // Another runbook in the same state directory is not held up.
    std::fs::write(
        d.join("other.yaml"),
        RUNBOOK
            .replace("locked-drill", "another-drill")
            .replace("10m", "0s"),
    )
    .unwrap();
    drillbook(d, &["run", "other.yaml", "--execute", "--yes"])
        .output()
        .assert_exit(0);

    // The lock file says who holds it.
    let locks: Vec<PathBuf> = std::fs::read_dir(d.join("state/locks"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let held: Vec<serde_json::Value> = locks
        .iter()
        .filter_map(|p| serde_json::from_str(&std::fs::read_to_string(p).ok()?).ok())
        .collect();
    assert_eq!(held.len(), 1, "only the running one is held: {held:?}");
    assert_eq!(held[0]["pid"], holder.id());
    assert_eq!(held[0]["run_id"], id.as_str());
    assert_eq!(held[0]["runbook"], "locked-drill");

    // SIGKILL: the kernel releases the lock with the process; a plain resume takes over.
    holder.kill().unwrap();
    holder.wait().unwrap();
    let mut resumer = spawn(d, &["resume", &id, "--yes"]);
    until(Duration::from_secs(60), || {
        (count(d, &id, "run_resumed", None) == 1
            && count(d, &id, "step_started", Some("long")) == 2)
            .then_some(())
    });
    assert_eq!(
        count(d, &id, "step_succeeded", Some("s0")),
        1,
        "s0 ran once"
    );
    // Now the resumer holds it.
    let o = drillbook(d, &["resume", &id, "--yes"]).output();
    o.assert_exit(4);
    assert!(
        o.stderr_text()
            .contains(&format!("(pid {}, run {id})", resumer.id())),
        "{}",
        o.stderr_text()
    );
    resumer.kill().unwrap();
    resumer.wait().unwrap();
}

/// A lock held by a process that ended normally is free again, and the holder's record is
/// cleared.
#[test]
fn a_finished_run_leaves_its_lock_free() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(d.join("rb.yaml"), RUNBOOK.replace("10m", "0s")).unwrap();
    for _ in 0..2 {
        drillbook(d, &["run", "rb.yaml", "--execute", "--yes"])
            .output()
            .assert_exit(0);
    }
    assert_eq!(runs(d).len(), 2);
    for e in std::fs::read_dir(d.join("state/locks")).unwrap() {
        let p = e.unwrap().path();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "", "{}", p.display());
    }
}
