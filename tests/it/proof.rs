//! Proof of reliability: journal durability (every truncation and single-byte corruption is
//! detected), secrets never leak (canary credentials), and fault injection against the emulator
//! (throttling, 5xx, slow responses, connection resets, responses lost after the request took
//! effect) through the proxy in `support::faults`.

use crate::support::Ran;
use std::path::{Path, PathBuf};
use std::process::Output;

use drillbook::checkpoint::CheckpointError;
use drillbook::checkpoint::file::FileStore;
use drillbook::checkpoint::{CheckpointStore, Record};

// ----------------------------------------------------------------------- journal durability

const WAITS: &str = "version: 1\nname: waits\nsteps:\n  - id: a\n    action: wait\n    with: { duration: 0s }\n  - id: b\n    action: wait\n    needs: [a]\n    with: { duration: 0s }\n  - id: c\n    action: wait\n    needs: [a]\n    with: { duration: 0s }\n  - id: d\n    action: wait\n    needs: [b, c]\n    with: { duration: 0s }\n";

/// Runs the `WAITS` runbook for real with the binary; returns (state dir, run id).
fn real_journal(tmp: &Path) -> (PathBuf, String) {
    let rb = tmp.join("waits.yaml");
    std::fs::write(&rb, WAITS).unwrap();
    let state = tmp.join("state");
    let o = crate::support::cli::bin()
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
        .output();
    o.assert_exit(0);
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
        let o = crate::support::cli::bin()
            .args(["resume", &id, "--state-dir"])
            .arg(&copy)
            .current_dir(tmp.path())
            .env(
                "DRILLBOOK_IDENTITY_ARN",
                "arn:aws:iam::111122223333:user/alice",
            )
            .output();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.code(), 2, "{what}: {}", o.text());
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

// ---------------------------------------------------------------------- against the emulator

use crate::support::faults::{Fault, FaultProxy, Rule};
use crate::support::{Seeded, emulator, unique_prefix, vars_for};

const SECRET: &str = "wJalrCANARYsecretK7MDENG-e2b9c41f-do-not-leak";
const TOKEN: &str = "IQoJCANARYsessionTOKEN-7d1e0a6f-do-not-leak";

/// Runs the binary in `dir` (state in `dir/state`) against `endpoint`, off the async workers.
pub(crate) async fn drillbook_at(
    dir: &Path,
    endpoint: &str,
    extra_env: &[(&str, &str)],
    args: &[&str],
    vars: &[String],
) -> Output {
    let mut c = crate::support::cli::bin();
    c.args(args).args(vars);
    if args[0] != "plan" {
        c.arg("--state-dir").arg(dir.join("state"));
    }
    c.envs(emulator().env())
        .env("AWS_ENDPOINT_URL", endpoint)
        .current_dir(dir);
    for (k, v) in extra_env {
        c.env(k, v);
    }
    tokio::task::spawn_blocking(move || c.output())
        .await
        .unwrap()
}

pub(crate) fn failover_runbook() -> String {
    crate::support::repo_root()
        .join("runbooks/region-failover.yaml")
        .display()
        .to_string()
}

fn run_ids(dir: &Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(dir.join("state").join("runs"))
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

/// The verified journal of the only run in `dir`.
pub(crate) async fn journal(dir: &Path) -> (String, Vec<Record>) {
    let ids = run_ids(dir);
    assert_eq!(ids.len(), 1, "one run expected: {ids:?}");
    let store = FileStore::new(dir.join("state"));
    let run = store.load(&ids[0]).await.unwrap();
    (ids[0].clone(), run.records)
}

fn retries_of<'a>(records: &'a [Record], step: &str) -> Vec<&'a Record> {
    records
        .iter()
        .filter(|r| {
            matches!(&r.event, drillbook::event::Event::StepRetrying { step: s, .. } if s == step)
        })
        .collect()
}

async fn key_type(seed: &Seeded, region: &str) -> String {
    let conf = emulator().sdk_config(region).await;
    let out = aws_sdk_kms::Client::new(&conf)
        .describe_key()
        .key_id(format!("alias/{}unolock-root", seed.prefix))
        .send()
        .await
        .unwrap();
    out.key_metadata()
        .and_then(|m| m.multi_region_configuration())
        .and_then(|c| c.multi_region_key_type())
        .map(|t| t.as_str().to_string())
        .unwrap_or_default()
}

/// Mutations of this seeded copy that reached the emulator, by label.
fn mutations(seed: &Seeded) -> std::collections::BTreeMap<String, usize> {
    let needles = [
        seed.prefix.as_str(),
        seed.kms.key_id.as_str(),
        seed.route53.hosted_zone_id.as_str(),
        seed.route53.health_check_id.as_str(),
    ];
    let mut m = std::collections::BTreeMap::new();
    for r in emulator().mutating_calls_matching_any(&needles) {
        let label = if r.path.contains("/healthcheck/") && r.method == "POST" {
            "UpdateHealthCheck".to_string()
        } else {
            r.label()
        };
        *m.entry(label).or_default() += 1;
    }
    m
}

/// Mutations made since `before` (the seed itself makes some).
fn mutations_since(
    seed: &Seeded,
    before: &std::collections::BTreeMap<String, usize>,
) -> std::collections::BTreeMap<String, usize> {
    let mut m = mutations(seed);
    for (k, n) in before {
        if let Some(v) = m.get_mut(k) {
            *v -= (*n).min(*v);
        }
    }
    m.retain(|_, v| *v > 0);
    m
}

/// Asserts the system is failed over and each failover mutation reached the emulator exactly
/// once since `before` (and nothing else was mutated).
pub(crate) async fn assert_failed_over_once(
    seed: &Seeded,
    before: &std::collections::BTreeMap<String, usize>,
    context: &str,
) {
    let dns = seed.dns_answer().await;
    assert!(dns.contains("eu-west-1"), "{context}: DNS answers {dns}");
    assert_eq!(key_type(seed, "eu-west-1").await, "PRIMARY", "{context}");
    let m = mutations_since(seed, before);
    assert_eq!(
        m.len(),
        2,
        "{context}: only the two failover mutations: {m:?}"
    );
    assert_eq!(m.get("UpdatePrimaryRegion"), Some(&1), "{context}: {m:?}");
    assert_eq!(m.get("PutMetricData"), Some(&1), "{context}: {m:?}");
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn canary_credentials_never_appear_in_any_file_or_stream_drillbook_writes() {
    let seed = emulator().seed(&unique_prefix("canary"));
    let dir = tempfile::tempdir().unwrap();
    let creds = [
        ("AWS_ACCESS_KEY_ID", "AKIACANARY7Q2ZEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", SECRET),
        ("AWS_SESSION_TOKEN", TOKEN),
        ("RUST_LOG", "trace"),
    ];
    let vars = vars_for(&seed);
    let rb = failover_runbook();
    let mut streams = Vec::new();
    let plan = drillbook_at(
        dir.path(),
        emulator().endpoint(),
        &creds,
        &["plan", &rb],
        &vars,
    )
    .await;
    plan.assert_exit(0);
    streams.push(("plan", plan.text()));
    let dry = drillbook_at(
        dir.path(),
        emulator().endpoint(),
        &creds,
        &["run", &rb],
        &vars,
    )
    .await;
    dry.assert_exit(0);
    streams.push(("dry run", dry.text()));
    let exec = drillbook_at(
        dir.path(),
        emulator().endpoint(),
        &creds,
        &["run", &rb, "--execute", "--yes"],
        &vars,
    )
    .await;
    exec.assert_exit(0);
    streams.push(("execute", exec.text()));
    let scenario = crate::support::repo_root().join("scenarios/ca-central-1-outage.yaml");
    let drill = drillbook_at(
        dir.path(),
        emulator().endpoint(),
        &creds,
        &["drill", scenario.to_str().unwrap(), "--execute", "--yes"],
        &vars_for(&emulator().seed(&unique_prefix("canarydrill"))),
    )
    .await;
    drill.assert_exit(0);
    streams.push(("drill", drill.text()));
    for id in run_ids(dir.path()) {
        let o = drillbook_at(
            dir.path(),
            emulator().endpoint(),
            &creds,
            &["report", &id],
            &[],
        )
        .await;
        streams.push(("report", o.text()));
    }
    // The state dir holds runs, reports and sealed evidence; the working dir anything else.
    let files = files_under(dir.path());
    assert!(files.len() >= 8, "drillbook wrote files: {files:?}");
    assert!(
        files
            .iter()
            .any(|f| f.components().any(|c| c.as_os_str() == "reports")),
        "reports were written: {files:?}"
    );
    for (what, s) in &streams {
        assert!(s.len() > 50, "{what} printed something");
        for canary in [SECRET, TOKEN, "CANARYsecret", "CANARYsession"] {
            assert!(!s.contains(canary), "{what} output leaks `{canary}`:\n{s}");
        }
    }
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        for canary in [SECRET, TOKEN, "CANARYsecret", "CANARYsession"] {
            assert!(
                !bytes.windows(canary.len()).any(|w| w == canary.as_bytes()),
                "{} leaks `{canary}`",
                f.display()
            );
        }
    }
}

/// An executed failover on a fresh seeded copy.
pub(crate) struct FailoverRun {
    pub(crate) seed: Seeded,
    /// Mutations of the seeded copy before the run (made by the seed).
    pub(crate) before: std::collections::BTreeMap<String, usize>,
    pub(crate) dir: tempfile::TempDir,
    pub(crate) out: Output,
}

/// Runs the failover runbook (execute) on a fresh seeded copy against `endpoint`, with `env`.
pub(crate) async fn failover_run(name: &str, endpoint: &str, env: &[(&str, &str)]) -> FailoverRun {
    let seed = emulator().seed(&unique_prefix(name));
    let before = mutations(&seed);
    let dir = tempfile::tempdir().unwrap();
    let out = drillbook_at(
        dir.path(),
        endpoint,
        env,
        &["run", &failover_runbook(), "--execute", "--yes"],
        &vars_for(&seed),
    )
    .await;
    FailoverRun {
        seed,
        before,
        dir,
        out,
    }
}

struct Failover {
    seed: Seeded,
    before: std::collections::BTreeMap<String, usize>,
    dir: tempfile::TempDir,
    out: Output,
    proxy: FaultProxy,
}

/// The failover through a proxy with `rules`.
async fn failover_through(name: &str, rules: Vec<Rule>) -> Failover {
    let proxy = FaultProxy::start(emulator().endpoint(), rules).await;
    let FailoverRun {
        seed,
        before,
        dir,
        out,
    } = failover_run(name, proxy.endpoint(), &[]).await;
    Failover {
        seed,
        before,
        dir,
        out,
        proxy,
    }
}

const PROMOTE: &str = "TrentService.UpdatePrimaryRegion";
/// The failover signal (`switch-dns`, cloudwatch.put_signal): CloudWatch over Smithy RPC v2.
const SIGNAL: &str = "/operation/PutMetricData";

/// One fault on each mutation and on a read (the key-crypto probe's Encrypt). The mutations are
/// sent with the SDK's retries off and re-sent by the action only after it re-read the state
/// (UpdatePrimaryRegion, PutMetricData); the read is retried by the SDK (standard retry,
/// 3 attempts). Either way the steps succeed on their first attempt: no `step_retrying`.
async fn completes_after_transient_faults(name: &str, fault: Fault) {
    let Failover {
        seed,
        before,
        dir,
        out: o,
        proxy,
    } = failover_through(
        name,
        vec![
            Rule::new(PROMOTE, fault.clone()),
            Rule::new(SIGNAL, fault.clone()),
            Rule::new("TrentService.Encrypt", fault.clone()),
        ],
    )
    .await;
    assert_eq!(o.code(), 0, "{fault:?}: {}", o.text());
    assert_eq!(proxy.injected(), [1, 1, 1], "{fault:?}: every fault fired");
    assert_failed_over_once(&seed, &before, &format!("{fault:?}")).await;
    let (_, records) = journal(dir.path()).await;
    assert!(retries_of(&records, "promote-key").is_empty(), "{fault:?}");
    assert!(retries_of(&records, "switch-dns").is_empty(), "{fault:?}");
    assert!(retries_of(&records, "key-crypto").is_empty(), "{fault:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn failover_completes_once_under_throttling() {
    completes_after_transient_faults("fthrottle", Fault::Throttle).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn failover_completes_once_under_http_500() {
    completes_after_transient_faults("f500", Fault::Status(500)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn failover_completes_once_under_http_503() {
    completes_after_transient_faults("f503", Fault::Status(503)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn failover_completes_once_under_connection_resets() {
    completes_after_transient_faults("freset", Fault::Reset).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn failover_completes_once_under_slow_responses() {
    let slow = Fault::Delay(std::time::Duration::from_millis(1500));
    let Failover {
        seed,
        before,
        out: o,
        proxy,
        ..
    } = failover_through(
        "fslow",
        vec![
            Rule::new(PROMOTE, slow.clone()),
            Rule::new(SIGNAL, slow.clone()),
            Rule::new("DescribeKey", slow).forever().every(2),
        ],
    )
    .await;
    o.assert_exit(0);
    assert!(
        proxy.injected().iter().all(|n| *n >= 1),
        "{:?}",
        proxy.injected()
    );
    assert_failed_over_once(&seed, &before, "slow").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn failover_completes_once_when_responses_are_lost_after_the_request_took_effect() {
    let Failover {
        seed,
        before,
        dir,
        out: o,
        proxy,
    } = failover_through(
        "flost",
        vec![
            Rule::new(PROMOTE, Fault::LostAfterEffect),
            Rule::new(SIGNAL, Fault::LostAfterEffect),
        ],
    )
    .await;
    o.assert_exit(0);
    assert_eq!(proxy.injected(), [1, 1]);
    let (_, records) = journal(dir.path()).await;
    eprintln!(
        "lost-response retries: promote-key {}, switch-dns {}",
        retries_of(&records, "promote-key").len(),
        retries_of(&records, "switch-dns").len()
    );
    assert_failed_over_once(&seed, &before, "lost after effect").await;
}

/// Three faults in a row exhaust the 3 sends (the SDK's for Encrypt, the action's for
/// PutMetricData): the step fails once, the engine retries it (visible as `step_retrying`),
/// and the second step attempt goes through.
#[tokio::test(flavor = "multi_thread")]
async fn step_level_retries_are_journaled_when_the_sdk_gives_up() {
    let Failover {
        seed,
        before,
        dir,
        out: o,
        proxy,
    } = failover_through(
        "fstep",
        vec![
            Rule::new(SIGNAL, Fault::Status(503)).times(3),
            Rule::new("TrentService.Encrypt", Fault::Throttle).times(3),
        ],
    )
    .await;
    o.assert_exit(0);
    assert_eq!(proxy.injected(), [3, 3]);
    let (_, records) = journal(dir.path()).await;
    assert_eq!(retries_of(&records, "switch-dns").len(), 1, "{records:#?}");
    assert_eq!(retries_of(&records, "key-crypto").len(), 1);
    // The timing report printed at the end shows the second attempt too.
    let out = o.text();
    for (step, action) in [
        ("switch-dns", "cloudwatch.put_signal"),
        ("key-crypto", "kms.verify_crypto"),
    ] {
        let row: Vec<&str> = out
            .lines()
            .find(|l| l.contains(step) && l.contains(action))
            .unwrap_or_else(|| panic!("no report row for {step}:\n{out}"))
            .split_whitespace()
            .filter(|t| *t != "*")
            .collect();
        assert_eq!(row[4], "2", "attempts column of {step}: {row:?}");
    }
    assert_failed_over_once(&seed, &before, "step-level retries").await;
}

/// A fault that never clears: the run fails cleanly (exit 1) with a resumable journal; once
/// the fault is gone, `resume` finishes the failover without repeating a mutation.
#[tokio::test(flavor = "multi_thread")]
async fn a_fault_that_never_clears_fails_cleanly_and_resume_finishes_the_failover() {
    let Failover {
        seed,
        before,
        dir,
        out: o,
        proxy,
    } = failover_through(
        "fnever",
        vec![Rule::new("TrentService.Encrypt", Fault::Status(500)).forever()],
    )
    .await;
    o.assert_exit(1);
    assert!(!o.text().contains("panicked"), "{}", o.text());
    let (id, records) = journal(dir.path()).await;
    assert_eq!(
        retries_of(&records, "key-crypto").len(),
        2,
        "3 step attempts"
    );
    assert!(
        o.text().contains(&format!("drillbook resume {id}")),
        "{}",
        o.text()
    );
    // Nothing was switched: switch-dns needs key-crypto.
    assert!(seed.dns_answer().await.contains("ca-central-1"));
    proxy.set_rules(vec![]);
    let o = drillbook_at(dir.path(), proxy.endpoint(), &[], &["resume", &id], &[]).await;
    o.assert_exit(0);
    assert_failed_over_once(&seed, &before, "after resume").await;
}
