//! The team state store failing at the server, through the binary: before a run (named, with
//! where the store should live) and in the middle of one (the run pauses with exit 3 and the
//! resume command; the resume, once the store answers, finishes it without applying anything
//! twice, and its evidence verifies).
//!
//! The store's Region is one no other test faults (one per fault mode, so the two tests can
//! run at once); the runbook's own table is in the primary Region, which keeps answering.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    PointInTimeRecoverySpecification, ScalarAttributeType,
};
use drillbook::checkpoint::CheckpointStore;
use drillbook::checkpoint::dynamodb::{DynamoDbStore, StateUrl};
use drillbook::event::{Event, RunStatus};

use crate::support::{PRIMARY_REGION, Ran, emulator, unique_prefix};

const ONCALL: &str = "arn:aws:iam::123456789012:user/oncall";

fn bin(cwd: &Path, args: &[&str]) -> crate::support::Drillbook {
    let mut c = crate::support::cli::bin();
    c.args(args).current_dir(cwd).emulator().identity(ONCALL);
    c
}

/// Polls `f` every 100 ms until it returns Some (at most `limit`).
async fn until<T, Fut: std::future::Future<Output = Option<T>>>(
    limit: Duration,
    mut f: impl FnMut() -> Fut,
) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            start.elapsed() < limit,
            "condition not reached in {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A source table with point-in-time recovery on, in the primary Region.
async fn pitr_table(name: &str) {
    let ddb = aws_sdk_dynamodb::Client::new(&emulator().sdk_config(PRIMARY_REGION).await);
    ddb.create_table()
        .table_name(name)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    ddb.update_continuous_backups()
        .table_name(name)
        .point_in_time_recovery_specification(
            PointInTimeRecoverySpecification::builder()
                .point_in_time_recovery_enabled(true)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    ddb.put_item()
        .table_name(name)
        .item("pk", AttributeValue::S("a".into()))
        .send()
        .await
        .unwrap();
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

/// The command printed after `continue the run ... with:`.
fn resume_command(err: &str) -> Vec<String> {
    let at = err
        .find("  drillbook resume ")
        .unwrap_or_else(|| panic!("no resume command in: {err}"));
    let line = err[at..].lines().next().unwrap().trim();
    // `--state 'URL'`: the URL is quoted for the shell.
    line.split_whitespace()
        .skip(1)
        .map(|w| w.trim_matches('\'').to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_store_that_stops_answering_pauses_the_run_and_the_resume_finishes_it() {
    store_outage("ap-southeast-7", "error", "ServiceUnavailable").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_store_that_hangs_pauses_the_run_within_its_call_timeout() {
    store_outage("mx-central-1", "hang", "Timeout").await;
}

/// The state table in `store_region` (which no other test faults) fails as `mode` says, first
/// before a run, then in the middle of one; `code` is what the error names.
async fn store_outage(store_region: &str, mode: &str, code: &str) {
    let emu = emulator();
    let p = unique_prefix(&format!("store_{mode}"));
    let url = StateUrl {
        table: format!("{p}state"),
        region: store_region.into(),
    };
    let store = DynamoDbStore::new(
        aws_sdk_dynamodb::Client::new(&emu.sdk_config(store_region).await),
        url.clone(),
    );
    assert!(store.create_table().await.unwrap());
    let state = url.to_string();
    pitr_table(&format!("{p}src")).await;
    // The restore stays CREATING for a while: the store fails while it is being applied.
    emu.configure(serde_json::json!({
        "prefix": p,
        "pitr_lag_seconds": 0,
        "dynamodb_restore_creating_seconds": 4,
    }));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rb.yaml"),
        format!(
            "version: 1\nname: {p}restore\nsteps:\n  - id: check\n    action: wait\n    with: {{ duration: 0s }}\n  - id: restore\n    action: dynamodb.restore_pitr\n    region: {PRIMARY_REGION}\n    needs: [check]\n    with: {{ source_table: {p}src, target_table: {p}restored }}\n  - id: after\n    action: wait\n    needs: [restore]\n    with: {{ duration: 0s }}\n"
        ),
    )
    .unwrap();
    let run = [
        "run",
        "rb.yaml",
        "--execute",
        "--yes",
        "--state",
        &state,
        "--lock-lease",
        "3s",
    ];

    // The store's Region down before the run: named, with where the store should live.
    emu.fault(store_region, Some("dynamodb"), mode);
    let t = Instant::now();
    let before = bin(dir.path(), &run).output();
    emu.clear_faults(Some(store_region));
    before.assert_exit(1);
    let err = before.stderr_text();
    assert!(
        err.contains("checkpoint store error")
            && err.contains(&format!("{state} is not answering"))
            && err.contains(code),
        "{err}"
    );
    assert!(
        err.contains("help:") && err.contains("docs/team-state.md"),
        "{err}"
    );
    assert!(t.elapsed() < Duration::from_secs(30), "{:?}", t.elapsed());
    assert!(store.list().await.unwrap().is_empty(), "nothing was run");

    // The store's Region fails while `restore` is being applied.
    let child = bin(dir.path(), &run).spawn();
    let run_id = until(Duration::from_secs(60), || async {
        let id = store.list().await.ok()?.into_iter().next()?.run_id;
        let stored = store.load(&id).await.ok()?;
        stored
            .records
            .iter()
            .any(|r| matches!(&r.event, Event::StepObserved { step, .. } if step == "restore"))
            .then_some(id)
    })
    .await;
    emu.fault(store_region, Some("dynamodb"), mode);
    let t = Instant::now();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let elapsed = t.elapsed();
    emu.clear_faults(Some(store_region));
    out.assert_exit(3);
    let err = out.stderr_text();
    assert!(
        err.contains(&format!(
            "run {run_id} paused: the state store stopped answering"
        )) && err.contains(code),
        "{err}"
    );
    assert!(
        err.contains("step `restore` succeeded") && err.contains("could not be recorded"),
        "the applied step whose outcome was lost is named: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        elapsed < Duration::from_secs(40),
        "the pause is bounded: {elapsed:?}"
    );
    let command = resume_command(&err);
    assert_eq!(
        command[..4],
        [
            "resume".to_string(),
            run_id.clone(),
            "--state".into(),
            state.clone()
        ],
        "{err}"
    );
    // The lock could not be released either: the resume takes it over after its lease.
    assert!(
        err.contains("lock could not be released") && command.contains(&"--steal-lock".into()),
        "{err}"
    );

    // What the store holds: a valid journal up to the failed write, no end, no garbage.
    let stored = store.load(&run_id).await.unwrap();
    assert_eq!(
        drillbook::checkpoint::status_of(&stored.records),
        RunStatus::Running
    );
    assert_eq!(
        successes(&stored.records),
        BTreeMap::from([("check".into(), 1)])
    );
    let restores = || {
        emu.recorded_requests()
            .iter()
            .filter(|r| {
                r.operation.as_deref() == Some("RestoreTableToPointInTime")
                    && r.mentions(&format!("{p}restored"))
            })
            .count()
    };
    assert_eq!(restores(), 1);

    // Once the lease has run out, the printed command finishes the run.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let args: Vec<&str> = command.iter().map(String::as_str).collect();
    let resumed = bin(dir.path(), &[&args[..], &["--yes"]].concat()).output();
    resumed.assert_exit(0);
    let stored = store.load(&run_id).await.unwrap();
    assert_eq!(
        drillbook::checkpoint::status_of(&stored.records),
        RunStatus::Succeeded
    );
    assert_eq!(
        successes(&stored.records),
        BTreeMap::from([
            ("after".into(), 1),
            ("check".into(), 1),
            ("restore".into(), 1)
        ]),
        "every step succeeded exactly once"
    );
    assert_eq!(restores(), 1, "the restore was observed again, not redone");

    let evidence = dir.path().join(".drillbook/reports").join(&run_id);
    let v = crate::support::cli::bin()
        .arg("verify-evidence")
        .arg(&evidence)
        .envs(emu.env())
        .output();
    v.assert_exit(0);
}

/// An append whose answer was lost after it took effect (the connection reset once the item
/// was written) is retried by the SDK, which then finds the item there: it is recognised as
/// this process's own write, not another writer's, and the journal holds it once.
#[tokio::test(flavor = "multi_thread")]
async fn a_write_whose_answer_was_lost_is_recognised_as_its_own() {
    use crate::support::faults::{Fault, FaultProxy, Rule};
    use drillbook::checkpoint::NewRun;
    let emu = emulator();
    let p = unique_prefix("store_lost_answer");
    let proxy = FaultProxy::start(
        emu.endpoint(),
        vec![Rule::new("lost-answer", Fault::LostAfterEffect)],
    )
    .await;
    let conf = emu
        .sdk_config(PRIMARY_REGION)
        .await
        .to_builder()
        .endpoint_url(proxy.endpoint())
        .build();
    let url = StateUrl {
        table: format!("{p}state"),
        region: PRIMARY_REGION.into(),
    };
    let store = DynamoDbStore::new(aws_sdk_dynamodb::Client::new(&conf), url.clone());
    assert!(store.create_table().await.unwrap());
    let text = "name: t\nsteps: []\n";
    let id = "20261207-000000-0001";
    let run = NewRun {
        run_id: id.into(),
        runbook_text: text.into(),
        runbook_path: "t.yaml".into(),
        vars: BTreeMap::new(),
        identity: None,
    };
    let started = Event::RunStarted {
        format_version: drillbook::checkpoint::FORMAT_VERSION,
        run_id: id.into(),
        runbook: "t.yaml".into(),
        runbook_sha256: {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(text.as_bytes()))
        },
        mode: drillbook::event::Mode::Execute,
        identity: None,
        host: String::new(),
        user: String::new(),
        drillbook_version: "0".into(),
        steps: vec![],
        vars_sha256: None,
        sealed_by: None,
    };
    let note = |m: &str| Event::Note {
        message: m.into(),
        data: BTreeMap::new(),
    };
    store.create(&run, started).await.unwrap();
    store.append(id, vec![note("before")]).await.unwrap();
    store
        .append(id, vec![note("lost-answer")])
        .await
        .expect("the write that took effect is this process's own");
    assert_eq!(proxy.injected(), vec![1], "the answer was lost once");
    store.append(id, vec![note("after")]).await.unwrap();

    let direct = DynamoDbStore::new(
        aws_sdk_dynamodb::Client::new(&emu.sdk_config(PRIMARY_REGION).await),
        url,
    );
    let notes: Vec<String> = direct
        .load(id)
        .await
        .unwrap()
        .records
        .iter()
        .filter_map(|r| match &r.event {
            Event::Note { message, .. } => Some(message.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(notes, ["before", "lost-answer", "after"]);
}

/// A drill whose state store stops answering pauses as a drill (exit 3, the resume command),
/// and the resume continues it as a drill to its verdict.
#[tokio::test(flavor = "multi_thread")]
async fn a_drill_whose_store_stops_answering_resumes_as_a_drill() {
    let emu = emulator();
    let store_region = "ap-southeast-5";
    let p = unique_prefix("store_drill");
    let url = StateUrl {
        table: format!("{p}state"),
        region: store_region.into(),
    };
    let store = DynamoDbStore::new(
        aws_sdk_dynamodb::Client::new(&emu.sdk_config(store_region).await),
        url.clone(),
    );
    assert!(store.create_table().await.unwrap());
    let state = url.to_string();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rb.yaml"),
        format!(
            "version: 1\nname: {p}drill\nsteps:\n  - id: slow\n    action: wait\n    with: {{ duration: 3s }}\n  - id: after\n    action: wait\n    needs: [slow]\n    with: {{ duration: 0s }}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("scenario.yaml"),
        "version: 1\nname: store-outage\nrunbook: rb.yaml\nexpect:\n  - { id: after-ran, step: after }\n",
    )
    .unwrap();
    let child = bin(
        dir.path(),
        &[
            "drill",
            "scenario.yaml",
            "--execute",
            "--yes",
            "--state",
            &state,
            "--lock-lease",
            "3s",
        ],
    )
    .spawn();
    let run_id = until(Duration::from_secs(60), || async {
        let id = store.list().await.ok()?.into_iter().next()?.run_id;
        let stored = store.load(&id).await.ok()?;
        stored
            .records
            .iter()
            .any(|r| matches!(&r.event, Event::StepStarted { step, .. } if step == "slow"))
            .then_some(id)
    })
    .await;
    emu.fault(store_region, Some("dynamodb"), "error");
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    emu.clear_faults(Some(store_region));
    out.assert_exit(3);
    let err = out.stderr_text();
    assert!(
        err.contains(&format!(
            "run {run_id} paused: the state store stopped answering"
        )),
        "{err}"
    );
    assert!(err.contains("step `slow` succeeded"), "{err}");
    let command = resume_command(&err);
    assert_eq!(command[1], run_id);

    tokio::time::sleep(Duration::from_secs(4)).await;
    let args: Vec<&str> = command.iter().map(String::as_str).collect();
    let resumed = bin(dir.path(), &[&args[..], &["--yes"]].concat()).output();
    resumed.assert_exit(0);
    assert!(
        resumed
            .stderr_text()
            .contains("resuming drill `store-outage`"),
        "{}",
        resumed.stderr_text()
    );
    let stored = store.load(&run_id).await.unwrap();
    assert_eq!(
        successes(&stored.records),
        BTreeMap::from([("after".into(), 1), ("slow".into(), 1)])
    );
    assert!(
        stored
            .records
            .iter()
            .any(|r| matches!(&r.event, Event::DrillJudged { .. })),
        "the resumed drill was judged"
    );
}
