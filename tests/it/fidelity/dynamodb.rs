//! DynamoDB point-in-time recovery with history and global tables (version 2019.11.21), as AWS
//! documents them (localstack/README.md, "DynamoDB: PITR history and global tables").
//!
//! Every test builds its own tables (names from `unique_prefix`) in Regions the project's seed
//! does not use, and sets the delays it studies for its prefix only. The test with a Region
//! fault uses Regions no other test of this binary uses (faults hold emulator-wide).
//!
//! No LocalStack variants: LocalStack serves DynamoDB through DynamoDB Local, a download that
//! is impossible here, so it is not started (localstack/README.md, "LocalStack").

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, CreateReplicationGroupMemberAction,
    GlobalSecondaryIndex, KeySchemaElement, KeyType, LocalSecondaryIndex,
    PointInTimeRecoverySpecification, PointInTimeRecoveryStatus, Projection, ProjectionType,
    ReplicationGroupUpdate, ScalarAttributeType, SseSpecification, SseStatus, SseType,
    StreamSpecification, StreamViewType, TableDescription, TableStatus, Tag,
    TimeToLiveSpecification, TimeToLiveStatus,
};
use aws_smithy_types::DateTime;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde_json::json;

use crate::support::{Emulator, SeedOptions, emulator, unique_prefix};

// ----------------------------------------------------------------------------- helpers

async fn ddb(emu: &Emulator, region: &str) -> Client {
    Client::new(&emu.sdk_config(region).await)
}

/// Seconds since the epoch (the emulator runs on this host: same clock).
fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn key(name: &str, kind: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .unwrap()
}

fn attr(name: &str) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .unwrap()
}

/// An on-demand table with hash key `pk` (S).
async fn create_table(c: &Client, table: &str) {
    c.create_table()
        .table_name(table)
        .attribute_definitions(attr("pk"))
        .key_schema(key("pk", KeyType::Hash))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
}

async fn set_pitr(c: &Client, table: &str, on: bool) {
    c.update_continuous_backups()
        .table_name(table)
        .point_in_time_recovery_specification(
            PointInTimeRecoverySpecification::builder()
                .point_in_time_recovery_enabled(on)
                .recovery_period_in_days(7)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

async fn put(c: &Client, table: &str, pk: &str, v: &str) {
    c.put_item()
        .table_name(table)
        .item("pk", AttributeValue::S(pk.into()))
        .item("v", AttributeValue::S(v.into()))
        .send()
        .await
        .unwrap();
}

/// `v` of item `pk`, if the item exists.
async fn get(c: &Client, table: &str, pk: &str) -> Option<String> {
    let out = c
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S(pk.into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    out.item().map(|i| match i.get("v") {
        Some(AttributeValue::S(s)) => s.clone(),
        _ => String::new(),
    })
}

/// Every item of a (small) table: pk -> v.
async fn items(c: &Client, table: &str) -> BTreeMap<String, String> {
    let out = c.scan().table_name(table).send().await.unwrap();
    out.items()
        .iter()
        .map(|i| {
            let s = |k: &str| match i.get(k) {
                Some(AttributeValue::S(s)) => s.clone(),
                _ => String::new(),
            };
            (s("pk"), s("v"))
        })
        .collect()
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// (EarliestRestorableDateTime, LatestRestorableDateTime) in epoch seconds.
async fn window(c: &Client, table: &str) -> (f64, f64) {
    let out = c
        .describe_continuous_backups()
        .table_name(table)
        .send()
        .await
        .unwrap();
    let d = out
        .continuous_backups_description()
        .and_then(|d| d.point_in_time_recovery_description())
        .expect("a PITR description");
    assert_eq!(
        d.point_in_time_recovery_status(),
        Some(&PointInTimeRecoveryStatus::Enabled)
    );
    (
        d.earliest_restorable_date_time().unwrap().as_secs_f64(),
        d.latest_restorable_date_time().unwrap().as_secs_f64(),
    )
}

async fn pitr_status(c: &Client, table: &str) -> PointInTimeRecoveryStatus {
    c.describe_continuous_backups()
        .table_name(table)
        .send()
        .await
        .unwrap()
        .continuous_backups_description()
        .and_then(|d| d.point_in_time_recovery_description())
        .and_then(|d| d.point_in_time_recovery_status())
        .cloned()
        .unwrap_or(PointInTimeRecoveryStatus::Disabled)
}

async fn restore_at(c: &Client, source: &str, target: &str, t: f64) -> TableDescription {
    c.restore_table_to_point_in_time()
        .source_table_name(source)
        .target_table_name(target)
        .restore_date_time(DateTime::from_secs_f64(t))
        .send()
        .await
        .unwrap()
        .table_description()
        .cloned()
        .unwrap()
}

async fn restore_latest(c: &Client, source: &str, target: &str) -> TableDescription {
    c.restore_table_to_point_in_time()
        .source_table_name(source)
        .target_table_name(target)
        .use_latest_restorable_time(true)
        .send()
        .await
        .unwrap()
        .table_description()
        .cloned()
        .unwrap()
}

async fn describe(c: &Client, table: &str) -> TableDescription {
    c.describe_table()
        .table_name(table)
        .send()
        .await
        .unwrap()
        .table()
        .cloned()
        .unwrap()
}

/// Region -> ReplicaStatus, as DescribeTable lists the other Regions' replicas.
fn replicas(desc: &TableDescription) -> BTreeMap<String, String> {
    desc.replicas()
        .iter()
        .map(|r| {
            (
                r.region_name().unwrap_or_default().to_string(),
                r.replica_status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
            )
        })
        .collect()
}

/// UpdateTable ReplicaUpdates [{Create: {RegionName: region}}]; returns the description.
async fn add_replica(c: &Client, table: &str, region: &str) -> TableDescription {
    c.update_table()
        .table_name(table)
        .replica_updates(
            ReplicationGroupUpdate::builder()
                .create(
                    CreateReplicationGroupMemberAction::builder()
                        .region_name(region)
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap()
        .table_description()
        .cloned()
        .unwrap()
}

/// Polls until `$cond` (an expression that may `.await`) holds, every 100 ms for at most
/// `$secs` seconds; fails the test with `$what` otherwise.
macro_rules! wait_until {
    ($secs:expr, $what:expr, $cond:expr) => {{
        let deadline = Instant::now() + Duration::from_secs_f64($secs);
        loop {
            if $cond {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {} s waiting for {}",
                $secs,
                $what
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }};
}

// ----------------------------------------------------------------------------- PITR

/// A restore to a time T holds the table as it was at T: writes after T (a new item, an
/// overwrite, a delete) are not in it; a restore to the latest restorable time has them.
/// DynamoDB API reference, RestoreTableToPointInTime
/// (<https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_RestoreTableToPointInTime.html>):
/// "When you restore using point in time recovery, DynamoDB restores your table data to the
/// state based on the selected date and time (day:hour:minute:second) to a new table."
#[tokio::test(flavor = "multi_thread")]
async fn a_restore_to_a_time_excludes_the_writes_after_it() {
    let emu = emulator();
    let p = unique_prefix("pitr_at_t");
    emu.fast(&p); // PITR lag 0: every past time up to now is restorable
    let c = ddb(emu, "eu-central-1").await;
    let table = format!("{p}orders");
    create_table(&c, &table).await;
    set_pitr(&c, &table, true).await;
    put(&c, &table, "a", "1").await;
    put(&c, &table, "c", "kept").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t = now();
    tokio::time::sleep(Duration::from_millis(300)).await;
    put(&c, &table, "b", "late").await;
    put(&c, &table, "a", "2").await;
    c.delete_item()
        .table_name(&table)
        .key("pk", AttributeValue::S("c".into()))
        .send()
        .await
        .unwrap();

    let at_t = restore_at(&c, &table, &format!("{p}at-t"), t).await;
    assert_eq!(
        items(&c, &format!("{p}at-t")).await,
        map(&[("a", "1"), ("c", "kept")]),
        "the table as it was at T"
    );
    let summary = at_t.restore_summary().expect("a RestoreSummary");
    assert_eq!(
        summary.source_table_arn(),
        describe(&c, &table).await.table_arn()
    );
    let restored_to = summary.restore_date_time().as_secs_f64();
    assert!(
        (restored_to - t).abs() < 0.01,
        "RestoreDateTime {restored_to} != {t}"
    );

    restore_latest(&c, &table, &format!("{p}latest")).await;
    assert_eq!(
        items(&c, &format!("{p}latest")).await,
        map(&[("a", "2"), ("b", "late")]),
        "the table at the latest restorable time"
    );
}

/// LatestRestorableDateTime trails now by `pitr_lag_seconds` (AWS: about 5 minutes), so a
/// write newer than that is not in a restore to the latest restorable time yet; it is once the
/// lag has passed. DynamoDB API reference, PointInTimeRecoveryDescription
/// (<https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_PointInTimeRecoveryDescription.html>):
/// "LatestRestorableDateTime is typically 5 minutes before the current time."
#[tokio::test(flavor = "multi_thread")]
async fn the_latest_restorable_time_lags_by_pitr_lag_seconds() {
    let emu = emulator();
    let p = unique_prefix("pitr_lag");
    emu.fast(&p);
    emu.configure(json!({"prefix": p, "pitr_lag_seconds": 2}));
    let c = ddb(emu, "ap-northeast-2").await;
    let table = format!("{p}ledger");
    create_table(&c, &table).await;
    set_pitr(&c, &table, true).await;
    put(&c, &table, "old", "1").await;
    tokio::time::sleep(Duration::from_millis(2500)).await; // PITR is on for longer than the lag

    let asked = now();
    let (_, latest) = window(&c, &table).await;
    assert!(
        (asked - 2.0 - latest).abs() < 0.5,
        "LatestRestorableDateTime {latest} should be now ({asked}) - 2 s"
    );
    put(&c, &table, "new", "2").await;
    restore_latest(&c, &table, &format!("{p}early")).await;
    assert_eq!(
        items(&c, &format!("{p}early")).await,
        map(&[("old", "1")]),
        "a write younger than the lag is not restorable yet"
    );
    tokio::time::sleep(Duration::from_millis(2300)).await;
    restore_latest(&c, &table, &format!("{p}later")).await;
    assert_eq!(
        items(&c, &format!("{p}later")).await,
        map(&[("new", "2"), ("old", "1")]),
        "once the lag has passed the write is restorable"
    );
}

/// EarliestRestorableDateTime is when PITR was turned on: the table can be restored to its
/// state at that moment (items written before PITR included), not before; right after PITR is
/// turned on, Latest equals Earliest; turning PITR off and on again resets Earliest.
/// DynamoDB developer guide, "Point-in-time recovery: How it works"
/// (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/PointInTimeRecovery_Howitworks.html>):
/// "If you disable point-in-time recovery and later enable it on a table, you reset the start
/// time for which you can recover that table. As a result, you can only immediately restore
/// that table using the LatestRestorableDateTime."
#[tokio::test(flavor = "multi_thread")]
async fn the_earliest_restorable_time_is_when_pitr_was_turned_on() {
    let emu = emulator();
    let p = unique_prefix("pitr_earliest");
    emu.fast(&p);
    emu.configure(json!({"prefix": p, "pitr_lag_seconds": 300}));
    let c = ddb(emu, "sa-east-1").await;
    let table = format!("{p}accounts");
    create_table(&c, &table).await;
    put(&c, &table, "before", "x").await;
    let t0 = now();
    set_pitr(&c, &table, true).await;
    let t1 = now();
    put(&c, &table, "after", "y").await;

    let (earliest, latest) = window(&c, &table).await;
    assert!(
        t0 - 0.01 <= earliest && earliest <= t1 + 0.01,
        "EarliestRestorableDateTime {earliest} should be when PITR was turned on ({t0}..{t1})"
    );
    assert_eq!(
        latest, earliest,
        "with a 300 s lag, right after PITR is on only one time is restorable"
    );
    restore_at(&c, &table, &format!("{p}first"), earliest).await;
    assert_eq!(
        items(&c, &format!("{p}first")).await,
        map(&[("before", "x")]),
        "the state when PITR was turned on"
    );

    tokio::time::sleep(Duration::from_millis(200)).await;
    set_pitr(&c, &table, false).await;
    set_pitr(&c, &table, true).await;
    let (again, _) = window(&c, &table).await;
    assert!(
        again > earliest + 0.15,
        "re-enabling PITR resets EarliestRestorableDateTime ({earliest} -> {again})"
    );
}

/// A restore time outside [EarliestRestorableDateTime, LatestRestorableDateTime] (before PITR
/// was on, inside the lag, in the future) is refused with InvalidRestoreTimeException (HTTP 400)
/// and creates no table. DynamoDB API reference, RestoreTableToPointInTime, Errors
/// (<https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_RestoreTableToPointInTime.html>):
/// "InvalidRestoreTimeException: An invalid restore time was specified. RestoreDateTime must
/// be between EarliestRestorableDateTime and LatestRestorableDateTime. HTTP Status Code: 400"
#[tokio::test(flavor = "multi_thread")]
async fn a_restore_time_outside_the_window_is_invalid_restore_time_exception() {
    let emu = emulator();
    let p = unique_prefix("pitr_window");
    emu.fast(&p);
    let c = ddb(emu, "us-east-2").await;
    let table = format!("{p}payments");
    create_table(&c, &table).await;
    set_pitr(&c, &table, true).await;
    put(&c, &table, "a", "1").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    emu.configure(json!({"prefix": p, "pitr_lag_seconds": 30}));
    let (earliest, latest) = window(&c, &table).await;

    for (label, t) in [
        ("before PITR was on", earliest - 60.0),
        ("inside the lag", now() - 0.5),
        ("in the future", now() + 60.0),
    ] {
        assert!(
            t < earliest || t > latest,
            "{label}: {t} is inside the window"
        );
        let target = format!("{p}refused");
        let err = c
            .restore_table_to_point_in_time()
            .source_table_name(&table)
            .target_table_name(&target)
            .restore_date_time(DateTime::from_secs_f64(t))
            .send()
            .await
            .expect_err(label);
        assert_eq!(
            err.raw_response().map(|r| r.status().as_u16()),
            Some(400),
            "{label}"
        );
        assert_eq!(err.code(), Some("InvalidRestoreTimeException"), "{label}");
        assert_eq!(
            err.message(),
            Some(
                "An invalid restore time was specified. RestoreDateTime must be between \
                 EarliestRestorableDateTime and LatestRestorableDateTime."
            ),
            "{label}"
        );
        assert!(
            err.into_service_error().is_invalid_restore_time_exception(),
            "{label}"
        );
        assert!(
            c.describe_table().table_name(&target).send().await.is_err(),
            "{label}: a refused restore creates no table"
        );
    }
    // The window's own ends are fine.
    restore_at(&c, &table, &format!("{p}at-latest"), latest).await;
}

/// The restored table has the source's indexes, billing mode and encryption, and none of its
/// PITR, TTL, tags, stream or replicas: it is a new single-Region table. DynamoDB API
/// reference, RestoreTableToPointInTime
/// (<https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_RestoreTableToPointInTime.html>):
/// "Along with data, the following are also included on the new restored table using point in
/// time recovery: Global secondary indexes (GSIs), Local secondary indexes (LSIs), Provisioned
/// read and write capacity, Encryption settings [...] You must manually set up the following on
/// the restored table: Auto scaling policies, IAM policies, Amazon CloudWatch metrics and
/// alarms, Tags, Stream settings, Time to Live (TTL) settings, Point in time recovery settings".
#[tokio::test(flavor = "multi_thread")]
async fn the_restored_table_keeps_indexes_and_encryption_but_not_pitr_ttl_tags_streams_replicas() {
    let emu = emulator();
    let p = unique_prefix("pitr_carry");
    emu.fast(&p);
    let (region, other) = ("eu-west-2", "ap-south-1");
    let c = ddb(emu, region).await;
    let table = format!("{p}vault");
    let all = Projection::builder()
        .projection_type(ProjectionType::All)
        .build();
    c.create_table()
        .table_name(&table)
        .attribute_definitions(attr("pk"))
        .attribute_definitions(attr("sk"))
        .attribute_definitions(attr("owner"))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("by-owner")
                .key_schema(key("owner", KeyType::Hash))
                .projection(all.clone())
                .build()
                .unwrap(),
        )
        .local_secondary_indexes(
            LocalSecondaryIndex::builder()
                .index_name("by-owner-local")
                .key_schema(key("pk", KeyType::Hash))
                .key_schema(key("owner", KeyType::Range))
                .projection(all)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .sse_specification(
            SseSpecification::builder()
                .enabled(true)
                .sse_type(SseType::Kms)
                .build(),
        )
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .unwrap(),
        )
        .tags(Tag::builder().key("app").value("vault").build().unwrap())
        .send()
        .await
        .unwrap();
    set_pitr(&c, &table, true).await;
    c.update_time_to_live()
        .table_name(&table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name("expires_at")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    add_replica(&c, &table, other).await;
    c.put_item()
        .table_name(&table)
        .item("pk", AttributeValue::S("k".into()))
        .item("sk", AttributeValue::S("1".into()))
        .item("owner", AttributeValue::S("ana".into()))
        .send()
        .await
        .unwrap();
    let source = describe(&c, &table).await;
    assert_eq!(replicas(&source).len(), 1, "the source is a global table");

    let target = format!("{p}restored");
    restore_latest(&c, &table, &target).await;
    let d = describe(&c, &target).await;
    // Kept: indexes, billing mode, encryption.
    assert_eq!(
        d.global_secondary_indexes()
            .iter()
            .map(|i| i.index_name().unwrap_or_default())
            .collect::<Vec<_>>(),
        vec!["by-owner"]
    );
    assert_eq!(
        d.local_secondary_indexes()
            .iter()
            .map(|i| i.index_name().unwrap_or_default())
            .collect::<Vec<_>>(),
        vec!["by-owner-local"]
    );
    assert_eq!(
        d.billing_mode_summary().and_then(|b| b.billing_mode()),
        Some(&BillingMode::PayPerRequest)
    );
    assert_eq!(
        d.sse_description().and_then(|s| s.status()),
        Some(&SseStatus::Enabled)
    );
    assert_eq!(d.item_count(), Some(1));
    // Not carried: PITR, TTL, tags, stream, replicas.
    assert_eq!(
        pitr_status(&c, &target).await,
        PointInTimeRecoveryStatus::Disabled
    );
    let ttl = c
        .describe_time_to_live()
        .table_name(&target)
        .send()
        .await
        .unwrap();
    assert_ne!(
        ttl.time_to_live_description()
            .and_then(|t| t.time_to_live_status()),
        Some(&TimeToLiveStatus::Enabled)
    );
    let tags = c
        .list_tags_of_resource()
        .resource_arn(d.table_arn().unwrap())
        .send()
        .await
        .unwrap();
    assert!(tags.tags().is_empty(), "{:?}", tags.tags());
    assert!(
        !d.stream_specification().is_some_and(|s| s.stream_enabled()),
        "{:?}",
        d.stream_specification()
    );
    assert_eq!(d.latest_stream_arn(), None);
    assert!(d.replicas().is_empty(), "{:?}", d.replicas());
    assert_eq!(d.global_table_version(), None);
    assert!(
        ddb(emu, other)
            .await
            .describe_table()
            .table_name(&target)
            .send()
            .await
            .is_err(),
        "the restored table exists in {region} only"
    );
}

// ----------------------------------------------------------------------------- global tables

/// UpdateTable with ReplicaUpdates Create adds a replica: CREATING, then ACTIVE (after
/// `global_table_replication_seconds`), shown as `Replicas` with GlobalTableVersion 2019.11.21
/// in both Regions, holding the items the table had. DynamoDB developer guide, "DynamoDB global
/// tables versions" (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/V2globaltables_versions.html>):
/// "If the output contains the GlobalTableVersion attribute with a value of "2019.11.21", the
/// table is a version 2019.11.21 (Current) global table replica"; API reference,
/// ReplicaDescription: "CREATING - The replica is being created. [...] ACTIVE - The replica is
/// ready for use."
#[tokio::test(flavor = "multi_thread")]
async fn a_new_replica_is_creating_then_active_with_the_tables_items() {
    let emu = emulator();
    let p = unique_prefix("gt_create");
    emu.fast(&p);
    emu.configure(json!({"prefix": p, "global_table_replication_seconds": 2}));
    let (home, far) = ("us-west-1", "ap-east-1");
    let (a, b) = (ddb(emu, home).await, ddb(emu, far).await);
    let table = format!("{p}profiles");
    create_table(&a, &table).await;
    for i in 0..3 {
        put(&a, &table, &format!("k{i}"), "v").await;
    }
    assert_eq!(describe(&a, &table).await.global_table_version(), None);

    let started = Instant::now();
    let d = add_replica(&a, &table, far).await;
    assert_eq!(replicas(&d), map(&[(far, "CREATING")]));
    assert_eq!(d.global_table_version(), Some("2019.11.21"));
    let r = describe(&b, &table).await;
    assert_eq!(r.table_status(), Some(&TableStatus::Creating));
    assert_eq!(replicas(&r), map(&[(home, "ACTIVE")]));
    assert_eq!(r.global_table_version(), Some("2019.11.21"));

    wait_until!(6.0, "the replica to be ACTIVE", {
        replicas(&describe(&a, &table).await)
            .get(far)
            .map(String::as_str)
            == Some("ACTIVE")
    });
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "ACTIVE after {:?}, before the 2 s replication delay",
        started.elapsed()
    );
    assert_eq!(
        describe(&b, &table).await.table_status(),
        Some(&TableStatus::Active)
    );
    assert_eq!(
        items(&b, &table).await,
        map(&[("k0", "v"), ("k1", "v"), ("k2", "v")])
    );
}

/// A write in one Region reaches every other replica after the replication delay, not before,
/// whichever Region it was written in. DynamoDB developer guide, "How DynamoDB global tables
/// work" (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/V2globaltables_HowItWorks.html>):
/// "When an application writes data to a replica table in one Region, DynamoDB propagates the
/// write to the other replica tables in the other AWS Regions automatically" ... "a newly
/// written item is usually propagated to all replica tables within a second."
#[tokio::test(flavor = "multi_thread")]
async fn a_write_reaches_every_replica_after_the_replication_delay() {
    let emu = emulator();
    let p = unique_prefix("gt_delay");
    emu.fast(&p);
    let regions = ["ap-southeast-1", "me-south-1", "eu-west-2"];
    let mut c = Vec::new();
    for r in regions {
        c.push(ddb(emu, r).await);
    }
    let table = format!("{p}sessions");
    create_table(&c[0], &table).await;
    add_replica(&c[0], &table, regions[1]).await;
    add_replica(&c[0], &table, regions[2]).await;
    assert_eq!(
        replicas(&describe(&c[1], &table).await),
        map(&[(regions[0], "ACTIVE"), (regions[2], "ACTIVE")])
    );
    emu.configure(json!({"prefix": p, "global_table_replication_seconds": 1.5}));

    let written = Instant::now();
    put(&c[0], &table, "s1", "from-first").await;
    assert_eq!(
        get(&c[1], &table, "s1").await,
        None,
        "not replicated at once"
    );
    assert_eq!(
        get(&c[2], &table, "s1").await,
        None,
        "not replicated at once"
    );
    wait_until!(6.0, "s1 in every replica", {
        get(&c[1], &table, "s1").await.is_some() && get(&c[2], &table, "s1").await.is_some()
    });
    assert!(
        written.elapsed() >= Duration::from_millis(1200),
        "replicated after {:?}, before the 1.5 s delay",
        written.elapsed()
    );

    // Any replica takes writes; an overwrite in the last Region flows back to the first.
    put(&c[2], &table, "s1", "from-last").await;
    wait_until!(6.0, "the overwrite in the first Region", {
        get(&c[0], &table, "s1").await.as_deref() == Some("from-last")
    });
    assert_eq!(get(&c[1], &table, "s1").await.as_deref(), Some("from-last"));
}

/// Two Regions writing one item at about the same time converge on the later write in every
/// replica. DynamoDB developer guide, "How DynamoDB global tables work"
/// (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/V2globaltables_HowItWorks.html>):
/// "DynamoDB global tables use a last writer wins reconciliation between concurrent updates
/// [...] all the replicas will agree on the latest update and converge toward a state in which
/// they all have identical data."
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_writes_converge_on_the_last_writer() {
    let emu = emulator();
    let p = unique_prefix("gt_lww");
    emu.fast(&p);
    let (ra, rb) = ("ca-central-1", "ap-northeast-1");
    let (a, b) = (ddb(emu, ra).await, ddb(emu, rb).await);
    let table = format!("{p}carts");
    create_table(&a, &table).await;
    add_replica(&a, &table, rb).await;
    emu.configure(json!({"prefix": p, "global_table_replication_seconds": 1}));
    put(&a, &table, "cart", "first").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    put(&b, &table, "cart", "second").await;
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert_eq!(get(&a, &table, "cart").await.as_deref(), Some("second"));
    assert_eq!(get(&b, &table, "cart").await.as_deref(), Some("second"));
}

/// While a Region has a fault, nothing replicates to or from it: what was written there just
/// before stays missing elsewhere (the RPO of a Region loss), and what is written elsewhere
/// does not reach it; once the fault is cleared both flow. DynamoDB developer guide, "How
/// DynamoDB global tables work"
/// (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/V2globaltables_HowItWorks.html>):
/// "If a Region becomes isolated or degraded, DynamoDB keeps track of any writes that have been
/// performed but have not yet been propagated to all of the replica tables. When the Region
/// comes back online, DynamoDB resumes propagating any pending writes from that Region to the
/// replica tables in other Regions. It also resumes propagating writes from other replica
/// tables to the Region that is now back online."
#[tokio::test(flavor = "multi_thread")]
async fn nothing_replicates_during_a_region_fault_and_it_catches_up_after() {
    let emu = emulator();
    let p = unique_prefix("gt_fault");
    emu.fast(&p);
    // Regions no other test of this binary uses: the fault holds for the whole emulator.
    let (healthy, lost) = ("ap-southeast-4", "eu-south-1");
    let (a, b) = (ddb(emu, healthy).await, ddb(emu, lost).await);
    let table = format!("{p}wallets");
    create_table(&a, &table).await;
    add_replica(&a, &table, lost).await;
    emu.configure(json!({"prefix": p, "global_table_replication_seconds": 1}));

    put(&b, &table, "written-in-lost", "x").await;
    emu.fault(lost, None, "error"); // within the replication delay of that write
    put(&a, &table, "written-in-healthy", "y").await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let during = get(&a, &table, "written-in-lost").await;
    let refused = b
        .get_item()
        .table_name(&table)
        .key("pk", AttributeValue::S("written-in-healthy".into()))
        .send()
        .await;
    emu.clear_faults(Some(lost));
    assert_eq!(
        during, None,
        "a write in the faulted Region must not replicate during the fault"
    );
    let err = refused.expect_err("the faulted Region refuses calls");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(503));

    wait_until!(6.0, "the held writes to flow after the fault", {
        get(&a, &table, "written-in-lost").await.as_deref() == Some("x")
            && get(&b, &table, "written-in-healthy").await.as_deref() == Some("y")
    });
}

/// A write that arrives in a replica by replication is a write to that replica: its PITR
/// history has it, at the time it arrived. DynamoDB developer guide, "How DynamoDB global
/// tables work": "Any changes made to any item in any replica table are replicated to all the
/// other replicas within the same global table"; API reference, RestoreTableToPointInTime:
/// "DynamoDB restores your table data to the state based on the selected date and time".
#[tokio::test(flavor = "multi_thread")]
async fn replicated_writes_are_in_the_replicas_pitr_history() {
    let emu = emulator();
    let p = unique_prefix("gt_pitr");
    emu.fast(&p);
    let (ra, rb) = ("us-west-1", "eu-central-1");
    let (a, b) = (ddb(emu, ra).await, ddb(emu, rb).await);
    let table = format!("{p}notes");
    create_table(&a, &table).await;
    add_replica(&a, &table, rb).await;
    set_pitr(&b, &table, true).await;
    emu.configure(json!({"prefix": p, "global_table_replication_seconds": 1}));
    put(&a, &table, "n1", "replicated").await;
    let before_arrival = now() + 0.3;
    wait_until!(5.0, "n1 in the replica", {
        get(&b, &table, "n1").await.is_some()
    });
    restore_at(&b, &table, &format!("{p}before"), before_arrival).await;
    assert_eq!(items(&b, &format!("{p}before")).await, map(&[]));
    restore_latest(&b, &table, &format!("{p}after")).await;
    assert_eq!(
        items(&b, &format!("{p}after")).await,
        map(&[("n1", "replicated")])
    );
}

/// DeleteTable of one replica removes that Region from the global table (its items go with it)
/// and leaves the other replica a single-Region table that still takes writes. DynamoDB
/// developer guide, "How DynamoDB global tables work", Common tasks: "You can delete a global
/// table's replica table the same way you would delete a regular table. This will stop
/// replication to that Region and delete the table copy kept in that Region."
#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_replica_table_stops_replication_to_that_region() {
    let emu = emulator();
    let p = unique_prefix("gt_delete");
    emu.fast(&p);
    let (ra, rb) = ("ap-south-1", "sa-east-1");
    let (a, b) = (ddb(emu, ra).await, ddb(emu, rb).await);
    let table = format!("{p}events");
    create_table(&a, &table).await;
    add_replica(&a, &table, rb).await;
    b.delete_table().table_name(&table).send().await.unwrap();
    let d = describe(&a, &table).await;
    assert!(d.replicas().is_empty(), "{:?}", d.replicas());
    assert_eq!(d.global_table_version(), None);
    put(&a, &table, "e1", "1").await;
    assert_eq!(get(&a, &table, "e1").await.as_deref(), Some("1"));
    assert!(b.describe_table().table_name(&table).send().await.is_err());
}

// ----------------------------------------------------------------------------- the seed

/// The seed builds `{prefix}vault` as ONE global table over its two Regions (here another pair
/// than the reference one): a replica in each, PITR (7 days) and TTL in both, the 50 items in
/// both, and a write in one Region reaching the other. DynamoDB developer guide, "DynamoDB
/// global tables versions" (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/V2globaltables_versions.html>):
/// "GlobalTableVersion [...] "2019.11.21"" with "Replicas": [{"RegionName": ..., "ReplicaStatus":
/// "ACTIVE"}].
#[tokio::test(flavor = "multi_thread")]
async fn the_seed_builds_the_vault_as_one_global_table() {
    let emu = emulator();
    let p = unique_prefix("gt_seed");
    let (ra, rb) = ("us-east-1", "us-west-2");
    let seeded = emu.seed_with(&p, &SeedOptions::regions(ra, rb));
    let table = format!("{p}vault");
    for (here, there) in [(ra, rb), (rb, ra)] {
        let doc = &seeded.raw["regions"][here]["dynamodb"];
        assert_eq!(doc["global_table"], json!(true), "{doc}");
        assert_eq!(doc["item_count"], json!(50));
        assert_eq!(doc["pitr_status"], json!("ENABLED"));
        let c = ddb(emu, here).await;
        let d = describe(&c, &table).await;
        assert_eq!(d.global_table_version(), Some("2019.11.21"));
        assert_eq!(replicas(&d), map(&[(there, "ACTIVE")]));
        assert_eq!(items(&c, &table).await.len(), 50);
        assert_eq!(
            pitr_status(&c, &table).await,
            PointInTimeRecoveryStatus::Enabled
        );
        let ttl = c
            .describe_time_to_live()
            .table_name(&table)
            .send()
            .await
            .unwrap();
        assert_eq!(
            ttl.time_to_live_description()
                .and_then(|t| t.time_to_live_status()),
            Some(&TimeToLiveStatus::Enabled)
        );
    }
    let (a, b) = (ddb(emu, ra).await, ddb(emu, rb).await);
    put(&a, &table, "drill-marker", "east").await;
    wait_until!(5.0, "the marker in the other Region", {
        get(&b, &table, "drill-marker").await.is_some()
    });
}

/// The PITR recovery period is set and read back: UpdateContinuousBackups with
/// `RecoveryPeriodInDays`, DescribeContinuousBackups returning it, 35 days when none is given,
/// and changed while PITR stays on. DynamoDB API reference, PointInTimeRecoverySpecification
/// (<https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_PointInTimeRecoverySpecification.html>):
/// "RecoveryPeriodInDays: The number of preceding days for which continuous backups are taken
/// and maintained. [...] If no value is provided, the value will default to 35."
#[tokio::test(flavor = "multi_thread")]
async fn the_recovery_period_is_set_read_back_and_defaults_to_35_days() {
    let emu = emulator();
    let p = unique_prefix("pitr_period");
    emu.fast(&p);
    let c = ddb(emu, "eu-west-2").await;
    let table = format!("{p}vault");
    create_table(&c, &table).await;
    let period = |days: Option<i32>| {
        let c = c.clone();
        let table = table.clone();
        async move {
            let out = c
                .update_continuous_backups()
                .table_name(&table)
                .point_in_time_recovery_specification(
                    PointInTimeRecoverySpecification::builder()
                        .point_in_time_recovery_enabled(true)
                        .set_recovery_period_in_days(days)
                        .build()
                        .unwrap(),
                )
                .send()
                .await
                .unwrap();
            let set = out
                .continuous_backups_description()
                .and_then(|d| d.point_in_time_recovery_description())
                .and_then(|d| d.recovery_period_in_days());
            let read = c
                .describe_continuous_backups()
                .table_name(&table)
                .send()
                .await
                .unwrap()
                .continuous_backups_description()
                .and_then(|d| d.point_in_time_recovery_description())
                .and_then(|d| d.recovery_period_in_days());
            assert_eq!(set, read, "UpdateContinuousBackups and Describe disagree");
            read
        }
    };
    assert_eq!(period(None).await, Some(35));
    assert_eq!(period(Some(7)).await, Some(7));
    assert_eq!(period(Some(12)).await, Some(12));
    assert_eq!(
        pitr_status(&c, &table).await,
        PointInTimeRecoveryStatus::Enabled
    );
}

/// A replica created with `KMSMasterKeyId` is encrypted with that key of its Region, named by
/// alias here; DescribeTable reports the key's ARN. DynamoDB API reference,
/// CreateReplicationGroupMemberAction
/// (<https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_CreateReplicationGroupMemberAction.html>):
/// "KMSMasterKeyId: The KMS key that should be used for KMS encryption in the new replica. To
/// specify a key, use its key ID, Amazon Resource Name (ARN), alias name, or alias ARN."; an
/// unknown key is refused and no replica is made.
#[tokio::test(flavor = "multi_thread")]
async fn a_replica_with_kms_master_key_id_uses_that_key_of_its_region() {
    let emu = emulator();
    let p = unique_prefix("replica_kms");
    emu.fast(&p);
    let (home, away) = ("eu-west-2", "ap-south-1");
    let c = ddb(emu, home).await;
    let kms = aws_sdk_kms::Client::new(&emu.sdk_config(away).await);
    let key = kms
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .arn()
        .unwrap()
        .to_string();
    let alias = format!("alias/{p}replica");
    kms.create_alias()
        .alias_name(&alias)
        .target_key_id(&key)
        .send()
        .await
        .unwrap();
    let table = format!("{p}vault");
    create_table(&c, &table).await;
    let create = |k: &str| {
        c.update_table().table_name(&table).replica_updates(
            ReplicationGroupUpdate::builder()
                .create(
                    CreateReplicationGroupMemberAction::builder()
                        .region_name(away)
                        .kms_master_key_id(k)
                        .build()
                        .unwrap(),
                )
                .build(),
        )
    };
    let err = create("alias/no-such-key").send().await.unwrap_err();
    assert_eq!(err.code(), Some("ValidationException"), "{err:?}");
    assert!(replicas(&describe(&c, &table).await).is_empty());

    create(&alias).send().await.unwrap();
    let replica = describe(&ddb(emu, away).await, &table).await;
    let sse = replica.sse_description().unwrap();
    assert_eq!(sse.sse_type(), Some(&SseType::Kms));
    assert_eq!(sse.kms_master_key_arn(), Some(key.as_str()));
}
