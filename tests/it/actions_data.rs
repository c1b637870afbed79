//! DynamoDB and CloudWatch actions against the emulator: each test seeds its own prefixed copy
//! of the reference system and calls the action faces directly.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_cloudwatch::types::{Dimension, DimensionFilter, StateValue, Statistic};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    PointInTimeRecoverySpecification, PointInTimeRecoveryStatus, ScalarAttributeType,
    StreamSpecification, StreamViewType, TableStatus, Tag, TimeToLiveSpecification,
    TimeToLiveStatus,
};
use drillbook::actions::ActionError;
use drillbook::actions::aws::{Aws, AwsOptions, Impairment};
use drillbook::actions::cloudwatch::publish_run_metrics;
use serde_json::json;

use crate::support::actions::{action, aws, ctx, dry_run, execute, findings_text as messages};
use crate::support::{PRIMARY_REGION, SECONDARY_REGION, emulator, unique_prefix};

const R: &str = PRIMARY_REGION;

/// Recorded mutating calls mentioning `needle`, optionally only operation `op`.
fn mutations(needle: &str, op: Option<&str>) -> usize {
    emulator()
        .mutating_calls_matching(needle)
        .iter()
        .filter(|r| op.is_none_or(|op| r.operation.as_deref() == Some(op)))
        .count()
}

/// Recorded calls of `op` mentioning `needle` (read-only ones included).
fn calls(needle: &str, op: &str) -> usize {
    emulator()
        .recorded_requests()
        .iter()
        .filter(|r| r.operation.as_deref() == Some(op) && r.mentions(needle))
        .count()
}

// ------------------------------------------------------------------------- dynamodb

#[tokio::test(flavor = "multi_thread")]
async fn assert_pitr_reports_the_pitr_lag_and_judges_it_against_aws_s_normal_lag() {
    let p = unique_prefix("assert_pitr");
    emulator().seed(&p);
    let aws = aws().await;
    let act = action("dynamodb.assert_pitr");
    let table = format!("{p}vault");

    let c = ctx(&aws, R, json!({"table": table, "max_lag": "1h"}));
    let obs = act.observe(&c).await.unwrap();
    assert!(obs.findings.is_empty(), "{}", messages(&obs));
    assert!(obs.changes.is_empty());
    for k in [
        "latest_restorable_time",
        "earliest_restorable_time",
        "pitr_lag_seconds",
    ] {
        assert!(obs.outputs.contains_key(k), "missing output {k}: {obs:?}");
    }
    let lag: u64 = obs.outputs["pitr_lag_seconds"].parse().unwrap();
    assert!(lag < 3600, "{lag}");
    assert_eq!(obs.facts["pitr_status"], "ENABLED");
    assert_eq!(obs.facts["recovery_period_days"], 7);
    assert!(obs.summary.contains("PITR lag"), "{}", obs.summary);
    assert!(obs.summary.contains("limit 1h"), "{}", obs.summary);
    let out = act.apply(&c, &obs).await.unwrap();
    act.verify(&c, &out).await.unwrap();

    // The RPO is not the limit: a 1 ms RPO does not make AWS's normal lag a finding; the
    // default limit is 15 minutes.
    let mut c = ctx(&aws, R, json!({"table": table}));
    c.objectives.rpo = Some(Duration::from_millis(1));
    let obs = act.observe(&c).await.unwrap();
    assert!(obs.findings.is_empty(), "{}", messages(&obs));
    assert_eq!(obs.facts["max_lag_seconds"], 900);

    // A lag above `max_lag` is a finding that says what AWS documents.
    let c = ctx(&aws, R, json!({"table": table, "max_lag": "1ms"}));
    let obs = act.observe(&c).await.unwrap();
    assert_eq!(obs.findings.len(), 1, "{obs:?}");
    assert!(
        obs.findings[0]
            .message
            .contains("more than the 1ms allowed")
            && obs.findings[0].hint.contains("typically 5 minutes"),
        "{}",
        messages(&obs)
    );

    // An impaired Region: the call is refused before it is sent, and says so.
    let impaired = std::sync::Arc::new(Aws::from_config(
        emulator().sdk_config(R).await,
        AwsOptions {
            profile: None,
            impaired: vec![Impairment {
                region: R.into(),
                service: Some("dynamodb".into()),
            }],
            ..Default::default()
        },
    ));
    let err = act
        .observe(&ctx(&impaired, R, json!({"table": table})))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ActionError::Impaired { region, operation, .. }
            if region == R && operation == "DescribeContinuousBackups"),
        "{err:?}"
    );

    // A missing table is a finding, not an error.
    let c = ctx(&aws, R, json!({"table": format!("{p}nope")}));
    let obs = act.observe(&c).await.unwrap();
    assert!(
        messages(&obs).contains("not found in ca-central-1"),
        "{obs:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn pitr_off_fails_assert_and_restore_observe_without_mutating() {
    let p = unique_prefix("pitr_off");
    emulator().seed(&p);
    let aws = aws().await;
    let table = format!("{p}vault");
    aws.dynamodb(R)
        .update_continuous_backups()
        .table_name(&table)
        .point_in_time_recovery_specification(
            PointInTimeRecoverySpecification::builder()
                .point_in_time_recovery_enabled(false)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let before = mutations(&p, None);

    let c = ctx(&aws, R, json!({"table": table}));
    let obs = action("dynamodb.assert_pitr").observe(&c).await.unwrap();
    assert_eq!(obs.findings.len(), 1, "{obs:?}");
    assert!(
        obs.findings[0]
            .message
            .contains("point-in-time recovery is off"),
        "{}",
        messages(&obs)
    );
    assert!(obs.findings[0].hint.contains("update-continuous-backups"));
    assert!(obs.outputs.is_empty());

    let c = ctx(
        &aws,
        R,
        json!({"source_table": table, "target_table": format!("{p}restored")}),
    );
    let obs = action("dynamodb.restore_pitr").observe(&c).await.unwrap();
    assert_eq!(obs.findings.len(), 1, "{obs:?}");
    assert!(
        obs.findings[0]
            .message
            .contains("point-in-time recovery is off"),
        "{}",
        messages(&obs)
    );
    assert_eq!(mutations(&p, None), before, "observe must not mutate");
}

#[tokio::test(flavor = "multi_thread")]
async fn restore_waits_for_creating_then_reapplies_settings_once() {
    let p = unique_prefix("restore_wait");
    let emu = emulator();
    emu.seed(&p);
    emu.configure(json!({"prefix": p, "dynamodb_restore_creating_seconds": 2}));
    let aws = aws().await;
    let act = action("dynamodb.restore_pitr");
    let target = format!("{p}vault-restored");
    let c = ctx(
        &aws,
        R,
        json!({
            "source_table": format!("{p}vault"),
            "target_table": target,
            "ttl_attribute": "expires_at",
            "tags": {"drill": "yes", "app": "unolock"},
        }),
    );

    // Dry run: the plan, and no mutating call.
    let before = mutations(&p, None);
    let obs = act.observe(&c).await.unwrap();
    assert!(obs.findings.is_empty(), "{}", messages(&obs));
    assert_eq!(
        obs.changes,
        vec![
            format!("restore `{p}vault` to new table `{target}` at the latest restorable time"),
            format!(
                "turn on point-in-time recovery for `{target}` with a recovery period of 7 days"
            ),
            format!("enable TTL on attribute `expires_at` of `{target}`"),
            format!("tag `{target}` with app=unolock, drill=yes"),
            format!("enable the stream of `{target}` (NEW_AND_OLD_IMAGES)"),
        ]
    );
    assert_eq!(obs.facts["target_status"], "ABSENT");
    assert_eq!(mutations(&p, None), before, "observe must not mutate");

    let out = act.apply(&c, &obs).await.unwrap();
    assert!(
        c.waits.total() >= Duration::from_millis(1500),
        "the CREATING wait must be recorded, got {:?}",
        c.waits.total()
    );
    assert_eq!(out.outputs["table_name"], target);
    assert!(out.outputs["table_arn"].ends_with(&format!("table/{target}")));
    assert_eq!(out.outputs["item_count"], "50");
    assert!(!out.outputs["restored_to"].is_empty());
    assert_eq!(out.changes.len(), 5, "{:?}", out.changes);
    act.verify(&c, &out).await.unwrap();

    // Read back what apply did.
    let ddb = aws.dynamodb(R);
    let desc = ddb
        .describe_table()
        .table_name(&target)
        .send()
        .await
        .unwrap();
    assert_eq!(
        desc.table().unwrap().table_status(),
        Some(&TableStatus::Active)
    );
    let pitr = ddb
        .describe_continuous_backups()
        .table_name(&target)
        .send()
        .await
        .unwrap();
    assert_eq!(
        pitr.continuous_backups_description()
            .unwrap()
            .point_in_time_recovery_description()
            .unwrap()
            .point_in_time_recovery_status(),
        Some(&PointInTimeRecoveryStatus::Enabled)
    );
    let ttl = ddb
        .describe_time_to_live()
        .table_name(&target)
        .send()
        .await
        .unwrap();
    let ttl = ttl.time_to_live_description().unwrap();
    assert_eq!(ttl.time_to_live_status(), Some(&TimeToLiveStatus::Enabled));
    assert_eq!(ttl.attribute_name(), Some("expires_at"));
    let tags = ddb
        .list_tags_of_resource()
        .resource_arn(&out.outputs["table_arn"])
        .send()
        .await
        .unwrap();
    assert!(
        tags.tags()
            .iter()
            .any(|t| t.key() == "drill" && t.value() == "yes")
    );

    // Second run: nothing to do, outputs known from observe, zero mutating calls.
    let after_first = mutations(&target, None);
    assert_eq!(mutations(&target, Some("RestoreTableToPointInTime")), 1);
    let obs = act.observe(&c).await.unwrap();
    assert!(obs.changes.is_empty(), "{:?}", obs.changes);
    assert!(obs.findings.is_empty(), "{}", messages(&obs));
    assert_eq!(obs.outputs["item_count"], "50");
    assert_eq!(obs.outputs["table_arn"], out.outputs["table_arn"]);
    let again = act.apply(&c, &obs).await.unwrap();
    assert!(again.changes.is_empty(), "{:?}", again.changes);
    assert_eq!(
        mutations(&target, None),
        after_first,
        "second apply mutated"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn resume_waits_for_the_restore_already_in_progress() {
    let p = unique_prefix("restore_resume");
    let emu = emulator();
    emu.seed(&p);
    emu.configure(json!({"prefix": p, "dynamodb_restore_creating_seconds": 1.5}));
    let aws = aws().await;
    let target = format!("{p}resumed");
    // The "crashed" first attempt: the restore was started, then the process died.
    aws.dynamodb(R)
        .restore_table_to_point_in_time()
        .source_table_name(format!("{p}vault"))
        .target_table_name(&target)
        .use_latest_restorable_time(true)
        .send()
        .await
        .unwrap();

    let act = action("dynamodb.restore_pitr");
    let c = ctx(
        &aws,
        R,
        json!({"source_table": format!("{p}vault"), "target_table": target, "min_items": 50}),
    );
    let obs = act.observe(&c).await.unwrap();
    assert!(obs.findings.is_empty(), "{}", messages(&obs));
    assert_eq!(obs.facts["target_status"], "CREATING");
    assert_eq!(
        obs.changes[0],
        format!("wait for the restore already in progress into `{target}`")
    );
    let out = act.apply(&c, &obs).await.unwrap();
    assert_eq!(
        out.changes,
        vec![
            format!("waited for the restore already in progress into `{target}`"),
            format!(
                "turned on point-in-time recovery for `{target}` with a recovery period of 7 days"
            ),
            format!("enabled TTL on attribute `expires_at` of `{target}`"),
            format!("tagged `{target}` with app=unolock"),
            format!("enabled the stream of `{target}` (NEW_AND_OLD_IMAGES)"),
        ]
    );
    assert!(c.waits.total() > Duration::ZERO);
    act.verify(&c, &out).await.unwrap();
    assert_eq!(
        mutations(&target, Some("RestoreTableToPointInTime")),
        1,
        "apply must not start a second restore"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn restore_checks_the_window_the_target_and_the_item_count() {
    let p = unique_prefix("restore_checks");
    emulator().seed(&p);
    let aws = aws().await;
    let act = action("dynamodb.restore_pitr");
    let source = format!("{p}vault");
    let target = format!("{p}checked");

    // A time outside the window is a finding; the earliest restorable time is fine.
    let c = ctx(
        &aws,
        R,
        json!({"source_table": source, "target_table": target, "restore_to": "2001-01-01T00:00:00Z"}),
    );
    let obs = act.observe(&c).await.unwrap();
    assert!(
        messages(&obs).contains("outside the restorable window"),
        "{obs:?}"
    );
    let pitr = action("dynamodb.assert_pitr")
        .observe(&ctx(&aws, R, json!({"table": source})))
        .await
        .unwrap();
    let earliest = pitr.outputs["earliest_restorable_time"].clone();
    let c = ctx(
        &aws,
        R,
        json!({"source_table": source, "target_table": target, "restore_to": earliest, "enable_pitr": false}),
    );
    let obs = act.observe(&c).await.unwrap();
    assert!(obs.findings.is_empty(), "{}", messages(&obs));
    // The restore, then the source's TTL, tags and stream (PITR stays off).
    assert_eq!(obs.changes.len(), 4, "{:?}", obs.changes);
    assert!(obs.changes[0].contains(&earliest));
    assert!(
        !obs.changes.iter().any(|c| c.contains("point-in-time")),
        "{:?}",
        obs.changes
    );

    // A target that exists and is not a restore is refused.
    let c = ctx(
        &aws,
        R,
        json!({"source_table": source, "target_table": source}),
    );
    let obs = act.observe(&c).await.unwrap();
    assert!(
        messages(&obs).contains("is not a restored table"),
        "{obs:?}"
    );
    let before = mutations(&source, None);
    let err = act.apply(&c, &obs).await.unwrap_err();
    assert!(matches!(err, ActionError::Precondition { .. }), "{err:?}");
    assert_eq!(
        mutations(&source, None),
        before,
        "apply touched an unrelated table"
    );

    // A bad restore_to is an invalid parameter.
    let c = ctx(
        &aws,
        R,
        json!({"source_table": source, "target_table": target, "restore_to": "yesterday"}),
    );
    let err = act.observe(&c).await.unwrap_err();
    assert!(matches!(err, ActionError::Invalid { .. }), "{err:?}");

    // Restore, then verify against min_items.
    let c = ctx(
        &aws,
        R,
        json!({"source_table": source, "target_table": target, "restore_to": earliest, "enable_pitr": false}),
    );
    let obs = act.observe(&c).await.unwrap();
    let out = act.apply(&c, &obs).await.unwrap();
    assert_eq!(out.outputs["item_count"], "50");
    act.verify(&c, &out).await.unwrap(); // default: the source's 50 items
    let strict = ctx(
        &aws,
        R,
        json!({"source_table": source, "target_table": target, "min_items": 51, "enable_pitr": false}),
    );
    let err = act.verify(&strict, &out).await.unwrap_err();
    match &err {
        ActionError::Verification { message, hint } => {
            assert!(
                message.contains("holds 50 items, fewer than 51"),
                "{message}"
            );
            assert!(hint.contains("min_items"), "{hint}");
        }
        other => panic!("expected a verification error, got {other:?}"),
    }
    // Verify also holds PITR to the runbook: asked for but not on -> failure.
    let wants_pitr = ctx(
        &aws,
        R,
        json!({"source_table": source, "target_table": target}),
    );
    let err = act.verify(&wants_pitr, &out).await.unwrap_err();
    assert!(
        err.to_string().contains(&format!(
            "lacks settings of `{source}`: turn on point-in-time recovery for `{target}` with a recovery period of 7 days"
        )),
        "{err}"
    );
}

/// A table's settings that a point-in-time restore does not carry over, read through the SDK.
#[derive(Debug, PartialEq)]
struct NotCarried {
    ttl_status: Option<TimeToLiveStatus>,
    ttl_attribute: Option<String>,
    pitr: Option<PointInTimeRecoveryStatus>,
    recovery_period_days: Option<i32>,
    tags: BTreeMap<String, String>,
    stream_enabled: bool,
    stream_view_type: Option<StreamViewType>,
}

async fn not_carried(ddb: &aws_sdk_dynamodb::Client, table: &str) -> NotCarried {
    let desc = ddb.describe_table().table_name(table).send().await.unwrap();
    let desc = desc.table().unwrap();
    let ttl = ddb
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .unwrap();
    let ttl = ttl.time_to_live_description().unwrap();
    let pitr = ddb
        .describe_continuous_backups()
        .table_name(table)
        .send()
        .await
        .unwrap();
    let pitr = pitr
        .continuous_backups_description()
        .unwrap()
        .point_in_time_recovery_description()
        .unwrap();
    let tags = ddb
        .list_tags_of_resource()
        .resource_arn(desc.table_arn().unwrap())
        .send()
        .await
        .unwrap();
    let stream = desc.stream_specification();
    NotCarried {
        ttl_status: ttl.time_to_live_status().cloned(),
        ttl_attribute: ttl.attribute_name().map(str::to_string),
        pitr: pitr.point_in_time_recovery_status().cloned(),
        recovery_period_days: pitr.recovery_period_in_days(),
        tags: tags
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect(),
        stream_enabled: stream.is_some_and(|s| s.stream_enabled()),
        stream_view_type: stream.and_then(|s| s.stream_view_type()).cloned(),
    }
}

/// Field by field, so that a failure names the setting that was not carried over.
fn assert_carried(source: &NotCarried, restored: &NotCarried) {
    assert_eq!(restored.ttl_status, source.ttl_status, "TTL status");
    assert_eq!(
        restored.ttl_attribute, source.ttl_attribute,
        "TTL attribute"
    );
    assert_eq!(restored.pitr, source.pitr, "PITR status");
    assert_eq!(
        restored.recovery_period_days, source.recovery_period_days,
        "PITR recovery period"
    );
    assert_eq!(restored.tags, source.tags, "tags");
    assert_eq!(restored.stream_enabled, source.stream_enabled, "stream");
    assert_eq!(
        restored.stream_view_type, source.stream_view_type,
        "stream view type"
    );
}

/// Restores `source` (a name or an ARN) in `region` into `target` with the step alone, checks
/// the restored table against `source_settings` field by field, then runs the step again: no
/// second restore, no mutating call, the same outputs.
async fn restore_carries_over_once(
    region: &str,
    source: &str,
    target: &str,
    source_settings: &NotCarried,
    items: &str,
) {
    let aws = aws().await;
    let act = action("dynamodb.restore_pitr");
    let c = ctx(
        &aws,
        region,
        json!({"source_table": source, "target_table": target}),
    );
    let obs = act.observe(&c).await.unwrap();
    assert!(obs.findings.is_empty(), "{}", messages(&obs));
    assert_eq!(
        obs.facts["carry_over"],
        json!(["pitr", "ttl", "tags", "stream"])
    );
    assert_eq!(
        obs.facts["source_settings"]["recovery_period_days"],
        json!(source_settings.recovery_period_days)
    );
    assert_eq!(obs.changes.len(), 5, "{:?}", obs.changes);
    let out = act.apply(&c, &obs).await.unwrap();
    assert_eq!(out.outputs["carried_over"], "pitr,ttl,tags,stream");
    assert_eq!(out.outputs["item_count"], items);
    act.verify(&c, &out).await.unwrap();

    let restored = not_carried(&aws.dynamodb(region), target).await;
    assert_carried(source_settings, &restored);

    // The same step again (a retry, a resume, a second run): nothing left to do.
    let before = mutations(target, None);
    let obs2 = act.observe(&c).await.unwrap();
    assert!(obs2.changes.is_empty(), "{:?}", obs2.changes);
    assert!(obs2.findings.is_empty(), "{}", messages(&obs2));
    assert_eq!(obs2.outputs["carried_over"], "pitr,ttl,tags,stream");
    let again = act.apply(&c, &obs2).await.unwrap();
    assert!(again.changes.is_empty(), "{:?}", again.changes);
    act.verify(&c, &again).await.unwrap();
    assert_eq!(mutations(target, None), before, "the second run mutated");
    assert_eq!(
        mutations(target, Some("RestoreTableToPointInTime")),
        1,
        "restored twice"
    );
    assert_eq!(not_carried(&aws.dynamodb(region), target).await, restored);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restore_gets_the_source_s_ttl_pitr_period_tags_and_stream_and_a_second_run_changes_nothing()
 {
    let p = unique_prefix("restore_carry");
    let emu = emulator();
    emu.seed(&p);
    emu.configure(json!({"prefix": p, "dynamodb_restore_creating_seconds": 0.5}));
    let aws = aws().await;
    let source = format!("{p}vault");
    let src = not_carried(&aws.dynamodb(SECONDARY_REGION), &source).await;
    // The seed's source, so that every setting is there to carry over.
    assert_eq!(src.recovery_period_days, Some(7));
    assert_eq!(src.ttl_attribute.as_deref(), Some("expires_at"));
    assert_eq!(src.tags["app"], "unolock");
    assert_eq!(src.stream_view_type, Some(StreamViewType::NewAndOldImages));
    restore_carries_over_once(
        SECONDARY_REGION,
        &source,
        &format!("{p}vault-dr-copy"),
        &src,
        "50",
    )
    .await;
}

/// Another Region pair and other values: a source in ap-southeast-1 with a 12-day recovery
/// period, TTL on `purge_after`, two tags and a KEYS_ONLY stream, restored by ARN in us-east-2
/// (a cross-Region restore).
#[tokio::test(flavor = "multi_thread")]
async fn a_cross_region_restore_by_arn_carries_the_source_s_own_settings_over() {
    let p = unique_prefix("restore_carry_x");
    let emu = emulator();
    emu.fast(&p);
    let aws = aws().await;
    let (src_region, step_region) = ("ap-southeast-1", "us-east-2");
    let ddb = aws.dynamodb(src_region);
    let source = format!("{p}ledger");
    let created = ddb
        .create_table()
        .table_name(&source)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::KeysOnly)
                .build()
                .unwrap(),
        )
        .tags(
            Tag::builder()
                .key("team")
                .value("payments")
                .build()
                .unwrap(),
        )
        .tags(Tag::builder().key("tier").value("1").build().unwrap())
        .send()
        .await
        .unwrap();
    let arn = created.table_description().unwrap().table_arn().unwrap();
    for i in 0..5 {
        ddb.put_item()
            .table_name(&source)
            .item("id", AttributeValue::S(format!("entry-{i}")))
            .send()
            .await
            .unwrap();
    }
    ddb.update_time_to_live()
        .table_name(&source)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name("purge_after")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    ddb.update_continuous_backups()
        .table_name(&source)
        .point_in_time_recovery_specification(
            PointInTimeRecoverySpecification::builder()
                .point_in_time_recovery_enabled(true)
                .recovery_period_in_days(12)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let src = not_carried(&ddb, &source).await;
    assert_eq!(src.recovery_period_days, Some(12));
    assert_eq!(src.tags.len(), 2);
    restore_carries_over_once(step_region, arn, &format!("{p}ledger-restored"), &src, "5").await;
}

/// Without the carry-over, the emulator's restore (as AWS's) leaves the new table without the
/// source's TTL, PITR, tags and stream; the step's verify says so, and the step then sets only
/// what is still missing (here a tag set by hand stays untouched).
#[tokio::test(flavor = "multi_thread")]
async fn a_plain_restore_lacks_the_source_s_settings_and_the_step_sets_only_what_is_missing() {
    let p = unique_prefix("restore_plain");
    let emu = emulator();
    emu.seed(&p);
    emu.configure(json!({"prefix": p, "dynamodb_restore_creating_seconds": 0}));
    let aws = aws().await;
    let ddb = aws.dynamodb(R);
    let source = format!("{p}vault");
    let target = format!("{p}vault-plain");
    ddb.restore_table_to_point_in_time()
        .source_table_name(&source)
        .target_table_name(&target)
        .use_latest_restorable_time(true)
        .send()
        .await
        .unwrap();
    let src = not_carried(&ddb, &source).await;
    let plain = not_carried(&ddb, &target).await;
    assert_ne!(plain.ttl_attribute, src.ttl_attribute, "TTL was carried");
    assert_eq!(plain.ttl_status, Some(TimeToLiveStatus::Disabled));
    assert_eq!(plain.pitr, Some(PointInTimeRecoveryStatus::Disabled));
    assert!(plain.tags.is_empty(), "{:?}", plain.tags);
    assert!(!plain.stream_enabled);

    let act = action("dynamodb.restore_pitr");
    let c = ctx(
        &aws,
        R,
        json!({"source_table": source, "target_table": target}),
    );
    let err = act.verify(&c, &Default::default()).await.unwrap_err();
    let text = err.to_string();
    for missing in [
        "with a recovery period of 7 days",
        "enable TTL on attribute `expires_at`",
        "with app=unolock",
        "enable the stream",
    ] {
        assert!(text.contains(missing), "{missing} not in: {text}");
    }

    // By hand: the tag, and PITR with AWS's default period (35 days, not the source's 7).
    let desc = ddb
        .describe_table()
        .table_name(&target)
        .send()
        .await
        .unwrap();
    let arn = desc.table().unwrap().table_arn().unwrap();
    ddb.tag_resource()
        .resource_arn(arn)
        .tags(Tag::builder().key("app").value("unolock").build().unwrap())
        .send()
        .await
        .unwrap();
    ddb.update_continuous_backups()
        .table_name(&target)
        .point_in_time_recovery_specification(
            PointInTimeRecoverySpecification::builder()
                .point_in_time_recovery_enabled(true)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        not_carried(&ddb, &target).await.recovery_period_days,
        Some(35),
        "AWS's default recovery period"
    );

    let obs = act.observe(&c).await.unwrap();
    assert!(obs.findings.is_empty(), "{}", messages(&obs));
    assert_eq!(
        obs.changes,
        vec![
            format!(
                "turn on point-in-time recovery for `{target}` with a recovery period of 7 days"
            ),
            format!("enable TTL on attribute `expires_at` of `{target}`"),
            format!("enable the stream of `{target}` (NEW_AND_OLD_IMAGES)"),
        ]
    );
    let tagged = mutations(&target, Some("TagResource"));
    let out = act.apply(&c, &obs).await.unwrap();
    assert_eq!(out.changes.len(), 3, "{:?}", out.changes);
    assert_eq!(
        mutations(&target, Some("TagResource")),
        tagged,
        "the tag was already there"
    );
    assert_eq!(
        mutations(&target, Some("RestoreTableToPointInTime")),
        1,
        "the table was restored again"
    );
    act.verify(&c, &out).await.unwrap();
    assert_carried(&src, &not_carried(&ddb, &target).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn assert_replica_and_delete_table() {
    let p = unique_prefix("replica_delete");
    let seeded = emulator().seed(&p);
    let aws = aws().await;

    let act = action("dynamodb.assert_replica");
    let c = ctx(
        &aws,
        SECONDARY_REGION,
        json!({"table": format!("{p}vault")}),
    );
    let obs = act.observe(&c).await.unwrap();
    assert!(obs.findings.is_empty(), "{}", messages(&obs));
    assert_eq!(obs.outputs["table_arn"], seeded.secondary().dynamodb.arn);
    assert!(obs.outputs["table_arn"].contains(":eu-west-1:"));
    assert_eq!(obs.outputs["item_count"], "50");
    act.verify(&c, &Default::default()).await.unwrap();
    let c = ctx(&aws, SECONDARY_REGION, json!({"table": format!("{p}gone")}));
    let obs = act.observe(&c).await.unwrap();
    assert!(messages(&obs).contains("not found in eu-west-1"), "{obs:?}");
    assert!(act.verify(&c, &Default::default()).await.is_err());

    // delete_table: a scratch restore, deleted once; a missing table is nothing to do.
    let scratch = format!("{p}scratch");
    aws.dynamodb(R)
        .restore_table_to_point_in_time()
        .source_table_name(format!("{p}vault"))
        .target_table_name(&scratch)
        .use_latest_restorable_time(true)
        .send()
        .await
        .unwrap();
    let c = ctx(&aws, R, json!({"table": scratch}));
    let would = dry_run("dynamodb.delete_table", &c).await.unwrap();
    assert_eq!(
        would.changes,
        vec![format!("delete table `{scratch}` in {R}")]
    );
    assert_eq!(
        mutations(&scratch, Some("DeleteTable")),
        0,
        "a dry run deletes nothing"
    );
    execute("dynamodb.delete_table", &c).await.unwrap();
    // Run once, as the engine would on a resume: nothing left to do.
    let again = execute("dynamodb.delete_table", &c).await.unwrap();
    assert!(again.changes.is_empty(), "{again:?}");
    assert!(
        again.summary.contains("nothing to delete"),
        "{}",
        again.summary
    );
    assert_eq!(mutations(&scratch, Some("DeleteTable")), 1);
    let gone = aws
        .dynamodb(R)
        .describe_table()
        .table_name(&scratch)
        .send()
        .await;
    assert!(gone.is_err());
}

// ------------------------------------------------------------------------- cloudwatch

#[tokio::test(flavor = "multi_thread")]
async fn wait_alarm_waits_until_another_task_sets_it_ok() {
    let p = unique_prefix("wait_alarm");
    let seeded = emulator().seed(&p);
    let alarm = seeded.primary().cloudwatch.name.clone();
    let aws = aws().await;
    let cw = aws.cloudwatch(R);
    cw.set_alarm_state()
        .alarm_name(&alarm)
        .state_value(StateValue::Alarm)
        .state_reason("test: broken")
        .send()
        .await
        .unwrap();

    let act = action("cloudwatch.wait_alarm");
    let c = ctx(&aws, R, json!({"alarms": [alarm]}));
    let before = mutations(&p, None);
    let obs = act.observe(&c).await.unwrap();
    assert_eq!(mutations(&p, None), before, "observe must not mutate");
    assert!(obs.findings.is_empty(), "{}", messages(&obs));
    assert_eq!(
        obs.changes,
        vec![format!("wait until `{alarm}` is OK (now ALARM)")]
    );
    assert_eq!(obs.outputs["states"], format!("{alarm}=ALARM"));

    // Another task turns the alarm OK once the action has seen it in ALARM while applying.
    let seen = calls(&alarm, "DescribeAlarms");
    let setter = {
        let (cw, alarm) = (cw.clone(), alarm.clone());
        tokio::spawn(async move {
            let polled = crate::support::poll(Duration::from_secs(20), || async {
                (calls(&alarm, "DescribeAlarms") > seen).then_some(())
            })
            .await;
            assert!(polled.is_some(), "wait_alarm never polled");
            cw.set_alarm_state()
                .alarm_name(&alarm)
                .state_value(StateValue::Ok)
                .state_reason("test: recovered")
                .send()
                .await
                .unwrap();
        })
    };
    let out = act.apply(&c, &obs).await.unwrap();
    setter.await.unwrap();
    assert_eq!(out.outputs["states"], format!("{alarm}=OK"));
    assert_eq!(out.changes, vec![format!("waited for `{alarm}` to be OK")]);
    assert!(c.waits.total() > Duration::ZERO);
    act.verify(&c, &out).await.unwrap();

    // A misspelt alarm: a finding with a suggestion.
    let c = ctx(&aws, R, json!({"alarms": [alarm, format!("{alarm}x")]}));
    let obs = act.observe(&c).await.unwrap();
    assert_eq!(obs.findings.len(), 1, "{obs:?}");
    assert_eq!(
        obs.findings[0].message,
        format!("alarm `{alarm}x` not found in {R}")
    );
    assert_eq!(obs.findings[0].hint, format!("did you mean `{alarm}`?"));
}

#[tokio::test(flavor = "multi_thread")]
async fn set_alarm_state_sets_once_and_verifies() {
    let p = unique_prefix("set_alarm");
    let seeded = emulator().seed(&p);
    let alarm = seeded.primary().cloudwatch.name.clone();
    let aws = aws().await;
    let act = action("cloudwatch.set_alarm_state");
    let c = ctx(
        &aws,
        R,
        json!({"alarm": alarm, "state": "ALARM", "reason": "drill"}),
    );

    let before = mutations(&alarm, Some("SetAlarmState"));
    let obs = act.observe(&c).await.unwrap();
    assert_eq!(
        obs.changes,
        vec![format!("set alarm `{alarm}` to ALARM (now OK)")]
    );
    // Verify fails before apply: the post-condition does not hold yet.
    assert!(matches!(
        act.verify(&c, &Default::default()).await,
        Err(ActionError::Verification { .. })
    ));
    let out = act.apply(&c, &obs).await.unwrap();
    act.verify(&c, &out).await.unwrap();
    let desc = aws
        .cloudwatch(R)
        .describe_alarms()
        .alarm_names(&alarm)
        .send()
        .await
        .unwrap();
    let a = &desc.metric_alarms()[0];
    assert_eq!(a.state_value(), Some(&StateValue::Alarm));
    assert_eq!(a.state_reason(), Some("drill"));
    let obs = act.observe(&c).await.unwrap();
    assert!(obs.changes.is_empty(), "{obs:?}");
    assert_eq!(mutations(&alarm, Some("SetAlarmState")), before + 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn run_metrics_are_published_with_runbook_and_step_dimensions() {
    let p = unique_prefix("metrics");
    let aws = aws().await;
    let namespace = format!("Drillbook/{p}");
    let runbook = format!("{p}failover");
    publish_run_metrics(
        &aws,
        R,
        &namespace,
        &runbook,
        Duration::from_millis(12_500),
        &[
            ("restore-vault".to_string(), Duration::from_secs(9)),
            ("promote-key".to_string(), Duration::from_secs(2)),
        ],
        Some(true),
    )
    .await
    .unwrap();

    let cw = aws.cloudwatch(R);
    let listed = cw
        .list_metrics()
        .namespace(&namespace)
        .send()
        .await
        .unwrap();
    let mut seen: Vec<String> = listed
        .metrics()
        .iter()
        .map(|m| {
            let mut dims: Vec<String> = m
                .dimensions()
                .iter()
                .map(|d| format!("{}={}", d.name().unwrap_or(""), d.value().unwrap_or("")))
                .collect();
            dims.sort();
            format!("{} {}", m.metric_name().unwrap_or(""), dims.join(","))
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        vec![
            format!("ObjectivesMet Runbook={runbook}"),
            format!("RunDuration Runbook={runbook}"),
            format!("StepDuration Runbook={runbook},Step=promote-key"),
            format!("StepDuration Runbook={runbook},Step=restore-vault"),
        ]
    );
    let listed = cw
        .list_metrics()
        .namespace(&namespace)
        .metric_name("StepDuration")
        .dimensions(
            DimensionFilter::builder()
                .name("Step")
                .value("restore-vault")
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(listed.metrics().len(), 1);

    let now = std::time::SystemTime::now();
    let stats = cw
        .get_metric_statistics()
        .namespace(&namespace)
        .metric_name("RunDuration")
        .dimensions(Dimension::builder().name("Runbook").value(&runbook).build())
        .start_time((now - Duration::from_secs(600)).into())
        .end_time((now + Duration::from_secs(60)).into())
        .period(60)
        .statistics(Statistic::Maximum)
        .send()
        .await
        .unwrap();
    let max: Vec<f64> = stats
        .datapoints()
        .iter()
        .filter_map(|d| d.maximum())
        .collect();
    assert_eq!(max, vec![12.5]);
}
