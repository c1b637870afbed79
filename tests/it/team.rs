//! Team state on the emulator: the DynamoDB checkpoint store, the runbook lock, and the binary
//! with `--state dynamodb://...` (concurrent runs, kill -9 and resume elsewhere, stolen leases,
//! forged records).

use crate::support::Ran;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use drillbook::checkpoint::dynamodb::{DynamoDbStore, StateUrl};
use drillbook::checkpoint::file::{FileStore, line_hash};
use drillbook::checkpoint::lock::{LockError, acquire};
use drillbook::checkpoint::{CheckpointError, CheckpointStore, GENESIS, NewRun};
use drillbook::event::Event;
use drillbook::event::Mode;

use crate::support::{PRIMARY_REGION, emulator, unique_prefix};

const ALICE: &str = "arn:aws:iam::123456789012:user/alice";
const BOB: &str = "arn:aws:iam::123456789012:user/bob";

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A fresh state table (created through the store, as `state init` does).
async fn new_table(test: &str) -> DynamoDbStore {
    let url = StateUrl {
        table: format!("{}state", unique_prefix(test)),
        region: PRIMARY_REGION.into(),
    };
    let client = aws_sdk_dynamodb::Client::new(&emulator().sdk_config(PRIMARY_REGION).await);
    let store = DynamoDbStore::new(client, url);
    assert!(store.create_table().await.unwrap(), "a new table");
    store
}

async fn reopen(store: &DynamoDbStore) -> DynamoDbStore {
    let client = aws_sdk_dynamodb::Client::new(&emulator().sdk_config(PRIMARY_REGION).await);
    DynamoDbStore::new(client, store.url().clone())
}

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
        format_version: drillbook::checkpoint::FORMAT_VERSION,
        run_id: id.into(),
        runbook: "t.yaml".into(),
        // The SHA-256 of new_run's runbook text: every reader checks the copy against it.
        runbook_sha256: {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest("name: t\nsteps: []\n".as_bytes()))
        },
        mode: Mode::Execute,
        identity: None,
        host: String::new(),
        user: String::new(),
        drillbook_version: "0".into(),
        steps: vec![],
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

fn chain_of_waits(name: &str, n: usize, wait: &str) -> String {
    let mut s = format!("version: 1\nname: {name}\nsteps:\n");
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

/// The binary in `cwd` against the emulator, as `who`, with nothing inherited about state.
fn bin(cwd: &Path, who: &str, args: &[&str]) -> crate::support::Drillbook {
    let mut c = crate::support::cli::bin();
    c.args(args).current_dir(cwd).emulator().identity(who);
    c
}

/// Polls `f` every 50 ms until it returns Some (at most `limit`).
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
        std::thread::sleep(Duration::from_millis(50));
    }
}

async fn lock_item(store: &DynamoDbStore, name: &str) -> Option<BTreeMap<String, String>> {
    let out = store
        .client()
        .get_item()
        .table_name(&store.url().table)
        .key("run_id", AttributeValue::S(format!("lock#{name}")))
        .key("seq", AttributeValue::N("0".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    out.item().map(|i| {
        i.iter()
            .map(|(k, v)| {
                let v = v.as_s().or_else(|_| v.as_n()).cloned().unwrap_or_default();
                (k.clone(), v)
            })
            .collect()
    })
}

async fn put_line(store: &DynamoDbStore, run_id: &str, seq: u64, line: &str) {
    store
        .client()
        .put_item()
        .table_name(&store.url().table)
        .item("run_id", AttributeValue::S(run_id.into()))
        .item("seq", AttributeValue::N(seq.to_string()))
        .item("line", AttributeValue::S(line.into()))
        .send()
        .await
        .unwrap();
}

/// Rewrites a run's journal items as one item per record.
async fn one_record_per_item(store: &DynamoDbStore, run_id: &str, lines: &[&str]) {
    let items = store
        .client()
        .query()
        .table_name(&store.url().table)
        .key_condition_expression("run_id = :r AND seq > :z")
        .expression_attribute_values(":r", AttributeValue::S(run_id.into()))
        .expression_attribute_values(":z", AttributeValue::N("0".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    assert!(
        items.items().len() < lines.len(),
        "a batch of records is one item"
    );
    for item in items.items() {
        store
            .client()
            .delete_item()
            .table_name(&store.url().table)
            .key("run_id", AttributeValue::S(run_id.into()))
            .key("seq", item["seq"].clone())
            .send()
            .await
            .unwrap();
    }
    for (i, line) in lines.iter().enumerate() {
        put_line(store, run_id, i as u64 + 1, line).await;
    }
}

fn run_ids(rt: &tokio::runtime::Runtime, store: &DynamoDbStore) -> Vec<String> {
    rt.block_on(store.list())
        .unwrap()
        .into_iter()
        .map(|r| r.run_id)
        .collect()
}

fn successes(records: &[drillbook::checkpoint::Record]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for r in records {
        if let Event::StepSucceeded { step, .. } = &r.event {
            *m.entry(step.clone()).or_default() += 1;
        }
    }
    m
}

#[tokio::test(flavor = "multi_thread")]
async fn append_load_round_trip_keeps_the_file_store_chain() {
    let store = new_table("team_roundtrip").await;
    // Idempotent: a second init finds the table.
    assert!(!store.create_table().await.unwrap());
    store.create(&new_run("r1"), started("r1")).await.unwrap();
    store
        .append("r1", vec![note("one"), note("two")])
        .await
        .unwrap();
    // Another process continues the chain.
    let other = reopen(&store).await;
    other.append("r1", vec![note("three")]).await.unwrap();
    let run = other.load("r1").await.unwrap();
    let seqs: Vec<u64> = run.records.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4]);
    assert_eq!(run.records[0].prev, GENESIS);
    assert_eq!(run.vars["a"], "1");

    // Exported, it is a file-store run directory whose chain verifies offline.
    let dir = tempfile::tempdir().unwrap();
    store
        .export("r1", &dir.path().join("runs").join("r1"))
        .await
        .unwrap();
    let files = FileStore::new(dir.path());
    let text = std::fs::read_to_string(files.journal_path("r1")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4);
    for i in 1..lines.len() {
        assert_eq!(run.records[i].prev, line_hash(lines[i - 1].as_bytes()));
    }
    let offline = files.load("r1").await.unwrap();
    assert_eq!(offline.records, run.records);
    assert_eq!(offline.runbook_sha256, run.runbook_sha256);

    let list = store.list().await.unwrap();
    assert_eq!(list.len(), 1, "the lock and record items are not runs");
    assert_eq!(list[0].run_id, "r1");
    assert_eq!(list[0].status, Some(drillbook::event::RunStatus::Running));
}

#[tokio::test(flavor = "multi_thread")]
async fn two_writers_of_one_record_exactly_one_wins() {
    let store = new_table("team_race").await;
    // Both writers know the journal's tail (record 2 is next) before either writes; many
    // rounds, so the two puts of record 2 really race at the emulator.
    for round in 0..50 {
        let run_id = format!("r{round}");
        store
            .create(&new_run(&run_id), started(&run_id))
            .await
            .unwrap();
        let a = reopen(&store).await;
        let b = reopen(&store).await;
        assert_eq!(a.load(&run_id).await.unwrap().records.len(), 1);
        assert_eq!(b.load(&run_id).await.unwrap().records.len(), 1);
        let (ra, rb) = tokio::join!(
            a.append(&run_id, vec![note("from a")]),
            b.append(&run_id, vec![note("from b")])
        );
        let oks = [ra.is_ok(), rb.is_ok()];
        assert_eq!(
            oks.iter().filter(|ok| **ok).count(),
            1,
            "round {round}: {ra:?} {rb:?}"
        );
        let err = ra.err().or(rb.err()).unwrap();
        match &err {
            CheckpointError::Store(m) => assert!(
                m.contains("record 2") && m.contains("another process"),
                "{m}"
            ),
            other => panic!("{other:?}"),
        }
        let run = store.load(&run_id).await.unwrap();
        assert_eq!(run.records.len(), 2);
        // The loser re-reads the journal and continues after the winner.
        let loser = if oks[0] { &b } else { &a };
        loser.append(&run_id, vec![note("after")]).await.unwrap();
        assert_eq!(store.load(&run_id).await.unwrap().records.len(), 3);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_lease_can_only_be_stolen_explicitly() {
    let store = new_table("team_lease").await;
    let (client, url) = (store.client().clone(), store.url().clone());
    let short = Duration::from_millis(300);
    let first = acquire(
        client.clone(),
        url.clone(),
        "rb",
        ALICE,
        "run-a",
        short,
        false,
    )
    .await
    .unwrap();
    // Live: neither a plain acquire nor a steal gets it.
    for steal in [false, true] {
        match acquire(client.clone(), url.clone(), "rb", BOB, "", short, steal).await {
            Err(LockError::Held { holder, .. }) => {
                assert_eq!(holder.identity, ALICE);
                assert_eq!(holder.run_id, "run-a");
            }
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("a live lease was taken (steal: {steal})"),
        }
    }
    // The holder dies: its renewal stops, the lease runs out.
    drop(first);
    let start = Instant::now();
    loop {
        let l = lock_item(&store, "rb").await.unwrap();
        if l["lease_expires_at"].parse::<i64>().unwrap() < chrono::Utc::now().timestamp_millis() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the lease never expired"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let err = match acquire(client.clone(), url.clone(), "rb", BOB, "", short, false).await {
        Err(e) => e,
        Ok(_) => panic!("an expired lease was taken without --steal-lock"),
    };
    assert!(matches!(err, LockError::Expired { .. }), "{err}");
    assert!(err.to_string().contains("--steal-lock"), "{err}");
    let stolen = acquire(client, url, "rb", BOB, "", short, true)
        .await
        .unwrap();
    let prev = stolen.stolen_from.clone().unwrap();
    assert_eq!(prev.identity, ALICE);
    match stolen.steal_note().unwrap() {
        Event::Note { message, data } => {
            assert_eq!(message, "lock stolen");
            assert_eq!(data["previous_holder"]["identity"], ALICE);
        }
        other => panic!("{other:?}"),
    }
    stolen.release().await.unwrap();
    assert!(lock_item(&store, "rb").await.is_none(), "released");
}

#[test]
fn two_concurrent_runs_of_one_runbook_exactly_one_proceeds() {
    let rt = rt();
    let store = rt.block_on(new_table("team_concurrent"));
    let url = store.url().to_string();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rb.yaml"),
        chain_of_waits("failover", 2, "1s"),
    )
    .unwrap();
    let args = ["run", "rb.yaml", "--execute", "--yes", "--state", &url];
    let first = bin(dir.path(), ALICE, &args).spawn();
    // Wait for the lock to be taken (and to name its run) rather than for a fixed time.
    until(Duration::from_secs(20), || {
        rt.block_on(lock_item(&store, "failover"))
            .filter(|l| !l["lock_run_id"].is_empty())
    });
    let t = Instant::now();
    let second = bin(dir.path(), BOB, &args).output();
    second.assert_exit(4);
    assert!(t.elapsed() < Duration::from_secs(10), "fails at once");
    let err = second.stderr_text();
    assert!(
        err.contains("locked by arn:aws:iam::123456789012:user/alice"),
        "{err}"
    );
    assert!(err.contains("on host") && err.contains("since"), "{err}");
    let first = first.wait_with_output().unwrap();
    first.assert_exit(0);
    let ids = run_ids(&rt, &store);
    assert_eq!(ids.len(), 1, "only one run was created: {ids:?}");
    let run = rt.block_on(store.load(&ids[0])).unwrap();
    assert_eq!(
        successes(&run.records),
        BTreeMap::from([("s0".into(), 1), ("s1".into(), 1)])
    );
    assert!(
        rt.block_on(lock_item(&store, "failover")).is_none(),
        "released at the end"
    );
    // The sealed evidence holds the journal exported from the table, chain intact.
    let evidence = dir.path().join(".drillbook/reports").join(&ids[0]);
    let bytes = std::fs::read(evidence.join("journal.jsonl")).unwrap();
    let (records, _) = drillbook::checkpoint::file::verify_journal(&ids[0], &bytes).unwrap();
    assert_eq!(records, run.records);
    assert!(
        !dir.path().join(".drillbook/runs").exists(),
        "no local run directory"
    );

    // Listing and reporting work through the URL only, from another directory.
    let elsewhere = tempfile::tempdir().unwrap();
    let out = bin(elsewhere.path(), BOB, &["runs", "--state", &url]).output();
    out.assert_exit(0);
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(
        list.contains(&ids[0]) && list.contains("succeeded"),
        "{list}"
    );
    let out = bin(elsewhere.path(), BOB, &["report", &ids[0], "--state", &url]).output();
    out.assert_exit(0);
    // Exported, it reads back with --state-dir.
    let out = bin(
        elsewhere.path(),
        BOB,
        &["runs", "export", &ids[0], "copy", "--state", &url],
    )
    .output();
    out.assert_exit(0);
    let offline = rt
        .block_on(FileStore::new(elsewhere.path().join("copy")).load(&ids[0]))
        .unwrap();
    assert_eq!(offline.records, run.records);
    let out = bin(
        elsewhere.path(),
        BOB,
        &["report", &ids[0], "--state-dir", "copy"],
    )
    .output();
    out.assert_exit(0);
}

#[test]
fn a_killed_run_is_taken_over_from_another_machine_with_the_url_only() {
    let rt = rt();
    let store = rt.block_on(new_table("team_kill"));
    let url = store.url().to_string();
    let machine_a = tempfile::tempdir().unwrap();
    std::fs::write(
        machine_a.path().join("rb.yaml"),
        chain_of_waits("takeover", 4, "700ms"),
    )
    .unwrap();
    let mut child = bin(
        machine_a.path(),
        ALICE,
        &[
            "run",
            "rb.yaml",
            "--execute",
            "--yes",
            "--state",
            &url,
            "--lock-lease",
            "4s",
        ],
    )
    .spawn();
    let run_id = until(Duration::from_secs(20), || {
        let id = run_ids(&rt, &store).into_iter().next()?;
        let run = rt.block_on(store.load(&id)).ok()?;
        successes(&run.records).contains_key("s0").then_some(id)
    });
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(
        !machine_a.path().join(".drillbook").join("runs").exists(),
        "state only in DynamoDB"
    );

    let machine_b = tempfile::tempdir().unwrap();
    let resume = [
        "resume",
        &run_id,
        "--yes",
        "--state",
        &url,
        "--lock-lease",
        "1s",
    ];
    // Before the lease runs out, a take-over is refused.
    let early = bin(
        machine_b.path(),
        BOB,
        &[&resume[..], &["--steal-lock"]].concat(),
    )
    .output();
    early.assert_exit(4);
    until(Duration::from_secs(10), || {
        let l = rt.block_on(lock_item(&store, "takeover"))?;
        let expires: i64 = l["lease_expires_at"].parse().ok()?;
        (expires < chrono::Utc::now().timestamp_millis()).then_some(())
    });
    // Expired but not stolen: still refused, with the way out.
    let plain = bin(machine_b.path(), BOB, &resume).output();
    plain.assert_exit(4);
    assert!(
        plain.stderr_text().contains("--steal-lock"),
        "{}",
        plain.stderr_text()
    );
    let out = bin(
        machine_b.path(),
        BOB,
        &[&resume[..], &["--steal-lock"]].concat(),
    )
    .output();
    out.assert_exit(0);

    let run = rt.block_on(store.load(&run_id)).unwrap();
    let want: BTreeMap<String, usize> = (0..4).map(|i| (format!("s{i}"), 1)).collect();
    assert_eq!(
        successes(&run.records),
        want,
        "every step succeeded exactly once"
    );
    let stolen: Vec<_> = run
        .records
        .iter()
        .filter_map(|r| match &r.event {
            Event::Note { message, data } if message == "lock stolen" => Some(data.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(stolen.len(), 1, "the take-over is journaled");
    assert_eq!(stolen[0]["previous_holder"]["identity"], ALICE);
    assert_eq!(stolen[0]["previous_holder"]["run_id"], run_id.as_str());
}

#[test]
fn forged_or_reordered_items_are_detected() {
    let rt = rt();
    let store = rt.block_on(new_table("team_forged"));
    let url = store.url().to_string();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rb.yaml"),
        chain_of_waits("forged", 3, "0s"),
    )
    .unwrap();
    let out = bin(
        dir.path(),
        ALICE,
        &["run", "rb.yaml", "--execute", "--yes", "--state", &url],
    )
    .output();
    out.assert_exit(0);
    let id = run_ids(&rt, &store).remove(0);
    let dir_copy = tempfile::tempdir().unwrap();
    rt.block_on(store.export(&id, dir_copy.path())).unwrap();
    let text = std::fs::read_to_string(dir_copy.path().join("journal.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 4);

    let resume =
        |who: &str| bin(dir.path(), who, &["resume", &id, "--yes", "--state", &url]).output();
    // The store writes a batch of records as one item; laid out one record per item (item N
    // holding record N, as a journal written one record at a time is), single records can be
    // forged and swapped below. The layout itself changes nothing: the run loads.
    rt.block_on(one_record_per_item(&store, &id, &lines));
    assert!(rt.block_on(reopen_load(&store, &id)).is_ok());
    // Forged: one record's content changed.
    let forged = lines[2].replacen("\"at\":\"2", "\"at\":\"1", 1);
    assert_ne!(forged, lines[2]);
    rt.block_on(put_line(&store, &id, 3, &forged));
    match rt.block_on(reopen_load(&store, &id)) {
        // The record's own checksum catches the edit at the forged record itself.
        Err(CheckpointError::Corrupt { seq, reason, .. }) => {
            assert_eq!(seq, 3, "{reason}");
            assert!(reason.contains("checksum mismatch"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let out = resume(BOB);
    out.assert_exit(2);
    assert!(
        out.stderr_text().contains("corrupt"),
        "{}",
        out.stderr_text()
    );

    // Reordered: records 2 and 3 swapped.
    rt.block_on(put_line(&store, &id, 2, lines[2]));
    rt.block_on(put_line(&store, &id, 3, lines[1]));
    match rt.block_on(reopen_load(&store, &id)) {
        Err(CheckpointError::Corrupt { seq, reason, .. }) => {
            assert_eq!(seq, 2, "{reason}");
            assert!(reason.contains("sequence number"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let out = resume(BOB);
    out.assert_exit(2);

    // Restored byte for byte, the chain verifies again.
    rt.block_on(put_line(&store, &id, 2, lines[1]));
    rt.block_on(put_line(&store, &id, 3, lines[2]));
    assert!(rt.block_on(reopen_load(&store, &id)).is_ok());
}

async fn reopen_load(
    store: &DynamoDbStore,
    id: &str,
) -> Result<drillbook::checkpoint::StoredRun, CheckpointError> {
    reopen(store).await.load(id).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_is_written_whole_or_not_at_all() {
    let store = new_table("team_batch").await;
    store.create(&new_run("r1"), started("r1")).await.unwrap();
    let a = reopen(&store).await;
    let b = reopen(&store).await;
    // b writes record 2 and remembers that 3 comes next.
    b.append("r1", vec![note("b0")]).await.unwrap();
    // a writes 3..5 in one batch.
    a.append("r1", vec![note("a1"), note("a2"), note("a3")])
        .await
        .unwrap();
    assert_eq!(store.load("r1").await.unwrap().records.len(), 5);
    // b's batch (3, 4) clashes with a's records: none of it is written.
    let err = b
        .append("r1", vec![note("b1"), note("b2")])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("record 3"), "{err}");
    let run = store.load("r1").await.unwrap();
    assert_eq!(run.records.len(), 5);
    assert!(matches!(&run.records[3].event, Event::Note { message, .. } if message == "a2"));
    // 250 records in one append: three transactions, one chain.
    b.append("r1", (0..250).map(|i| note(&format!("n{i}"))).collect())
        .await
        .unwrap();
    let run = reopen(&store).await.load("r1").await.unwrap();
    assert_eq!(run.records.len(), 255);
    assert_eq!(run.records[254].seq, 255);
}

#[test]
fn state_init_creates_a_protected_table_and_prints_the_policy() {
    let rt = rt();
    let table = format!("{}state", unique_prefix("team_init"));
    let url = format!("dynamodb://{table}?region={PRIMARY_REGION}");
    let dir = tempfile::tempdir().unwrap();
    for word in ["created", "found"] {
        let out = bin(dir.path(), ALICE, &["state", "init", "--state", &url]).output();
        out.assert_exit(0);
        assert!(out.stderr_text().starts_with(word), "{}", out.stderr_text());
        let policy: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let actions = &policy["Statement"][0]["Action"];
        assert!(
            actions
                .as_array()
                .unwrap()
                .contains(&"dynamodb:PutItem".into())
        );
        assert_eq!(
            policy["Statement"][0]["Resource"],
            format!("arn:aws:dynamodb:{PRIMARY_REGION}:*:table/{table}")
        );
    }
    let client = rt.block_on(async {
        aws_sdk_dynamodb::Client::new(&emulator().sdk_config(PRIMARY_REGION).await)
    });
    let desc = rt
        .block_on(client.describe_table().table_name(&table).send())
        .unwrap();
    let t = desc.table().unwrap();
    assert_eq!(t.deletion_protection_enabled(), Some(true));
    let keys: Vec<&str> = t.key_schema().iter().map(|k| k.attribute_name()).collect();
    assert_eq!(keys, ["run_id", "seq"]);
    let backups = rt
        .block_on(
            client
                .describe_continuous_backups()
                .table_name(&table)
                .send(),
        )
        .unwrap();
    let pitr = backups
        .continuous_backups_description()
        .and_then(|c| c.point_in_time_recovery_description())
        .and_then(|p| p.point_in_time_recovery_status())
        .map(|s| s.as_str().to_string());
    assert_eq!(pitr.as_deref(), Some("ENABLED"));
    // A bad URL is invalid input.
    let out = bin(
        dir.path(),
        ALICE,
        &["state", "init", "--state", "s3://bucket"],
    )
    .output();
    out.assert_exit(2);
    assert!(
        out.stderr_text().contains("help: write the state location"),
        "{}",
        out.stderr_text()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_live_holder_keeps_renewing_its_lease() {
    let store = new_table("team_renew").await;
    let (client, url) = (store.client().clone(), store.url().clone());
    let lease = Duration::from_millis(300);
    let held = acquire(
        client.clone(),
        url.clone(),
        "rb",
        ALICE,
        "run-a",
        lease,
        false,
    )
    .await
    .unwrap();
    let first: i64 = lock_item(&store, "rb").await.unwrap()["lease_expires_at"]
        .parse()
        .unwrap();
    // Wait for renewals to push the expiry well past the first lease.
    let start = Instant::now();
    loop {
        let now: i64 = lock_item(&store, "rb").await.unwrap()["lease_expires_at"]
            .parse()
            .unwrap();
        if now >= first + 600 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "never renewed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Three leases later it is still held: even --steal-lock is refused.
    match acquire(client, url, "rb", BOB, "", lease, true).await {
        Err(LockError::Held { holder, .. }) => assert_eq!(holder.identity, ALICE),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("a renewed lease was stolen"),
    }
    assert!(!held.is_lost());
    held.release().await.unwrap();
}

/// One malformed item in the shared table (a bad run id, a run item without its runbook) is
/// flagged by name in `drillbook runs`; the team's other runs are still listed.
#[test]
fn malformed_items_are_flagged_and_do_not_hide_the_other_runs() {
    let rt = rt();
    let store = rt.block_on(new_table("team_malformed"));
    let url = store.url().to_string();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rb.yaml"), chain_of_waits("fine", 1, "0s")).unwrap();
    let out = bin(
        dir.path(),
        ALICE,
        &["run", "rb.yaml", "--execute", "--yes", "--state", &url],
    )
    .output();
    out.assert_exit(0);
    let good = run_ids(&rt, &store).remove(0);
    for bad in ["not a run id!", "20990101-000000-dead"] {
        rt.block_on(async {
            store
                .client()
                .put_item()
                .table_name(&store.url().table)
                .item("run_id", AttributeValue::S(bad.into()))
                .item("seq", AttributeValue::N("0".into()))
                .item("kind", AttributeValue::S("run".into()))
                .send()
                .await
                .unwrap();
        });
    }
    let out = bin(dir.path(), ALICE, &["runs", "--state", &url]).output();
    let listed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{listed}{}", out.stderr_text());
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with(&good) && l.contains("succeeded")),
        "{listed}"
    );
    for bad in ["not a run id!", "20990101-000000-dead"] {
        assert!(
            listed
                .lines()
                .any(|l| l.starts_with(bad) && l.contains("corrupt")),
            "{bad} is flagged: {listed}"
        );
    }
}

/// Any runner can PutItem into the state table. An approval item written that way, with the
/// chain recomputed and the approver's name in it, is not signed by a trusted key: `resume`
/// refuses it and nothing past the gate runs; the approver's real, signed approval works on a
/// clean run.
#[test]
fn a_forged_approval_item_stops_the_resume_and_a_signed_one_passes() {
    let rt = rt();
    let store = rt.block_on(new_table("team_forged_approval"));
    let url = store.url().to_string();
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("bob.key");
    let out = bin(
        dir.path(),
        BOB,
        &["evidence", "keygen", key.to_str().unwrap()],
    )
    .output();
    out.assert_exit(0);
    let public = std::fs::read_to_string(drillbook::evidence::public_key_path(&key)).unwrap();
    std::fs::write(
        dir.path().join("rb.yaml"),
        format!(
            "version: 1\nname: gated\napprovers:\n  keys: [\"ed25519:{}\"]\nsteps:\n  - id: gate\n    action: approval\n  - id: after\n    action: wait\n    needs: [gate]\n    with: {{ duration: 0s }}\n",
            public.trim()
        ),
    )
    .unwrap();
    let run = || {
        let out = bin(
            dir.path(),
            ALICE,
            &["run", "rb.yaml", "--execute", "--yes", "--state", &url],
        )
        .output();
        out.assert_exit(3);
    };
    run();
    let forged_id = run_ids(&rt, &store).remove(0);
    let stored = rt.block_on(reopen_load(&store, &forged_id)).unwrap();
    let seq = stored.records.len() as u64 + 1;
    let line = drillbook::checkpoint::file::encode_line(
        seq,
        chrono::Utc::now(),
        stored.head_sha256.clone(),
        Event::ApprovalGranted {
            step: "gate".into(),
            approver: drillbook::actions::aws::Identity {
                account: "123456789012".into(),
                arn: BOB.into(),
            },
            comment: String::new(),
            signed: None,
        },
    )
    .unwrap();
    rt.block_on(put_line(
        &store,
        &forged_id,
        seq,
        std::str::from_utf8(&line).unwrap(),
    ));
    let resume =
        |id: &str| bin(dir.path(), ALICE, &["resume", id, "--yes", "--state", &url]).output();
    let out = resume(&forged_id);
    out.assert_exit(2);
    assert!(
        out.stderr_text().contains("does not count"),
        "{}",
        out.stderr_text()
    );
    let records = rt
        .block_on(reopen_load(&store, &forged_id))
        .unwrap()
        .records;
    assert_eq!(
        successes(&records).get("after"),
        None,
        "nothing ran past the gate"
    );

    // The same gate, approved by Bob with his key, through the table.
    run();
    let id = run_ids(&rt, &store)
        .into_iter()
        .find(|i| *i != forged_id)
        .unwrap();
    let out = bin(
        dir.path(),
        BOB,
        &[
            "approve",
            &id,
            "gate",
            "--state",
            &url,
            "--sign-with",
            &format!("ed25519:{}", key.display()),
        ],
    )
    .output();
    out.assert_exit(0);
    let out = resume(&id);
    out.assert_exit(0);
    let records = rt.block_on(reopen_load(&store, &id)).unwrap().records;
    assert_eq!(successes(&records).get("after"), Some(&1));
}

/// The insider's attacks on the DynamoDB store, through PutItem: a forged dry-run success of the
/// approval step in an executed run, and the run's variables edited after it started. Both are
/// refused by name; nothing runs past the gate.
#[test]
fn the_table_refuses_a_record_of_the_other_mode_and_edited_variables() {
    let rt = rt();
    let store = rt.block_on(new_table("team_insider"));
    let url = store.url().to_string();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rb.yaml"),
        "version: 1\nname: gated-insider\napprovers: { allow_unsigned: true }\nvars:\n  pause: 0s\nsteps:\n  - id: gate\n    action: approval\n  - id: after\n    action: wait\n    needs: [gate]\n    with: { duration: \"{{ vars.pause }}\" }\n",
    )
    .unwrap();
    let out = bin(
        dir.path(),
        ALICE,
        &["run", "rb.yaml", "--execute", "--yes", "--state", &url],
    )
    .output();
    out.assert_exit(3);
    let id = run_ids(&rt, &store).remove(0);
    let stored = rt.block_on(reopen_load(&store, &id)).unwrap();
    let seq = stored.records.len() as u64 + 1;
    let line = drillbook::checkpoint::file::encode_line(
        seq,
        chrono::Utc::now(),
        stored.head_sha256.clone(),
        Event::StepSucceeded {
            step: "gate".into(),
            outcome: Default::default(),
            attempts: 1,
            duration_ms: 0,
            aws_wait_ms: 0,
            dry_run: true,
        },
    )
    .unwrap();
    rt.block_on(put_line(
        &store,
        &id,
        seq,
        std::str::from_utf8(&line).unwrap(),
    ));
    let resume = || {
        bin(
            dir.path(),
            ALICE,
            &["resume", &id, "--yes", "--state", &url],
        )
        .output()
    };
    let out = resume();
    out.assert_exit(2);
    assert!(
        out.stderr_text()
            .contains("a dry-run record of step `gate` in an executed run"),
        "{}",
        out.stderr_text()
    );
    // The forged item removed, the variables edited instead.
    rt.block_on(
        store
            .client()
            .delete_item()
            .table_name(&store.url().table)
            .key("run_id", AttributeValue::S(id.clone()))
            .key("seq", AttributeValue::N(seq.to_string()))
            .send(),
    )
    .unwrap();
    rt.block_on(
        store
            .client()
            .update_item()
            .table_name(&store.url().table)
            .key("run_id", AttributeValue::S(id.clone()))
            .key("seq", AttributeValue::N("0".into()))
            .update_expression("SET vars_json = :v")
            .expression_attribute_values(":v", AttributeValue::S("{\"pause\":\"2s\"}".into()))
            .send(),
    )
    .unwrap();
    let out = resume();
    out.assert_exit(2);
    assert!(
        out.stderr_text()
            .contains("the stored variables are not the ones `run_started` hashed"),
        "{}",
        out.stderr_text()
    );
}
