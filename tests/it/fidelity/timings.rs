//! AWS's documented delays are the emulator's defaults; tests shorten them per name prefix
//! through `/_drillbook/config`, and a deployment sets them at start with `DRILLBOOK_*`.

use std::time::{Duration, Instant};

use aws_sdk_kms::types::KeyState;
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ChangeStatus, ResourceRecord, ResourceRecordSet, RrType,
};
use serde_json::json;

use crate::support::{self, DELAY_SETTINGS, emulator, unique_prefix};

/// The defaults every test starts from, without a prefix's settings:
/// Route 53 PENDING 60 s (Route 53 "is designed to propagate updates you make to your DNS records
/// to its world-wide network of authoritative DNS servers within 60 seconds under normal
/// conditions. A change is successfully propagated world-wide when the API call returns an INSYNC
/// status listing.", Amazon Route 53 FAQ, https://aws.amazon.com/route53/faqs/),
/// KMS `Updating` 5 s ("might still be in progress for a few more seconds", KMS developer guide,
/// "Change the primary key in a set of multi-Region keys"), PITR lag 300 s
/// ("LatestRestorableDateTime is typically 5 minutes before the current time", DynamoDB API
/// reference, PointInTimeRecoveryDescription), global-table replication 1 s ("usually propagated
/// to all replica tables within a second", DynamoDB developer guide, global tables), health
/// checks per check (FailureThreshold x RequestInterval: null), restores CREATING 30 s.
#[tokio::test(flavor = "multi_thread")]
async fn defaults_are_awss_documented_delays() {
    let emu = support::isolated_emulator("defaults");
    let config = emu.reset_config(None);
    let global = &config["global"];
    assert_eq!(global["route53_change_pending_seconds"], json!(60.0));
    assert_eq!(global["kms_updating_seconds"], json!(5.0));
    assert_eq!(global["pitr_lag_seconds"], json!(300.0));
    assert_eq!(global["global_table_replication_seconds"], json!(1.0));
    assert_eq!(global["route53_health_seconds"], json!(null));
    assert_eq!(global["dynamodb_restore_creating_seconds"], json!(30.0));
    // RDS: "typically within the last 5 minutes" (RDS user guide, "Restoring a DB instance to
    // a specified time"); failovers "typically complete within one to two minutes" (RDS user
    // guide, "Failover process for Amazon RDS"); restores: no figure given.
    assert_eq!(global["rds_pitr_lag_seconds"], json!(300.0));
    assert_eq!(global["rds_failover_seconds"], json!(60.0));
    assert_eq!(global["rds_restore_creating_seconds"], json!(60.0));
    // An Aurora global switchover or failover: no figure given (localstack/drillbook_ext/
    // config.py): 30 s.
    assert_eq!(global["rds_global_switchover_seconds"], json!(30.0));
    // ECS gives no figure for a deployment (localstack/drillbook_ext/ecs.py): 60 s.
    assert_eq!(global["ecs_deployment_seconds"], json!(60.0));
    for name in DELAY_SETTINGS {
        assert!(global.get(name).is_some(), "{name} is a setting");
    }
}

/// `DRILLBOOK_*` variables set the global values at start; `DELETE /_drillbook/config` goes
/// back to them, not to 0.
#[tokio::test(flavor = "multi_thread")]
async fn variables_at_start_set_the_global_values() {
    let emu = support::isolated_emulator_with_env(
        "env-knobs",
        &[
            ("DRILLBOOK_PITR_LAG_SECONDS", "42"),
            ("DRILLBOOK_ROUTE53_HEALTH_SECONDS", "7"),
            ("DRILLBOOK_GLOBAL_TABLE_REPLICATION_SECONDS", "0.5"),
        ],
    );
    let config = emu.configure(json!({"pitr_lag_seconds": 1}));
    assert_eq!(config["global"]["pitr_lag_seconds"], json!(1.0));
    let config = emu.reset_config(None);
    assert_eq!(config["global"]["pitr_lag_seconds"], json!(42.0));
    assert_eq!(config["global"]["route53_health_seconds"], json!(7.0));
    assert_eq!(
        config["global"]["global_table_replication_seconds"],
        json!(0.5)
    );
    assert_eq!(
        config["global"]["route53_change_pending_seconds"],
        json!(60.0)
    );
}

/// A prefix's setting wins over the global one for resources named with it (longest prefix
/// first); `null` drops it; unknown settings and negative values are refused.
#[tokio::test(flavor = "multi_thread")]
async fn settings_per_prefix_override_the_global_value() {
    let emu = emulator();
    let p = unique_prefix("knobs");
    let config =
        emu.configure(json!({"prefix": p, "pitr_lag_seconds": 2, "route53_health_seconds": 3}));
    assert_eq!(config["prefixes"][&p]["pitr_lag_seconds"], json!(2.0));
    let config = emu.configure(json!({"prefix": p, "pitr_lag_seconds": null}));
    assert!(config["prefixes"][&p].get("pitr_lag_seconds").is_none());
    assert_eq!(config["prefixes"][&p]["route53_health_seconds"], json!(3.0));
    for bad in [
        json!({"prefix": p, "pitr_lag": 1}),
        json!({"prefix": p, "pitr_lag_seconds": -1}),
    ] {
        let (status, text) = support::http::request(
            emu.endpoint(),
            "POST",
            "/_drillbook/config",
            Some(&bad.to_string()),
        )
        .unwrap();
        assert_eq!(status, 400, "{bad} -> {text}");
    }
    emu.reset_config(Some(&p));
}

/// A Route 53 change stays PENDING for `route53_change_pending_seconds` of its zone's prefix
/// (default 60, above), then INSYNC ("PENDING indicates that the changes in this request have
/// not propagated to all Amazon Route 53 DNS servers managing the hosted zone. This is the initial
/// status of all change batch requests.", Route 53 API reference, GetChange,
/// https://docs.aws.amazon.com/Route53/latest/APIReference/API_GetChange.html).
#[tokio::test(flavor = "multi_thread")]
async fn route53_change_is_pending_for_the_zones_delay() {
    let emu = emulator();
    let p = unique_prefix("pending");
    let r53 = aws_sdk_route53::Client::new(&emu.sdk_config("us-east-1").await);
    let zone = r53
        .create_hosted_zone()
        .name(format!("{p}timing.example."))
        .caller_reference(format!("{p}zone"))
        .send()
        .await
        .unwrap();
    let zone_id = zone
        .hosted_zone()
        .unwrap()
        .id()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let change = |value: &'static str| {
        let r53 = r53.clone();
        let (zone_id, name) = (zone_id.clone(), format!("www.{p}timing.example."));
        async move {
            let set = ResourceRecordSet::builder()
                .name(name)
                .r#type(RrType::A)
                .ttl(60)
                .resource_records(ResourceRecord::builder().value(value).build().unwrap())
                .build()
                .unwrap();
            let batch = ChangeBatch::builder()
                .changes(
                    Change::builder()
                        .action(ChangeAction::Upsert)
                        .resource_record_set(set)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap();
            let out = r53
                .change_resource_record_sets()
                .hosted_zone_id(zone_id)
                .change_batch(batch)
                .send()
                .await
                .unwrap();
            out.change_info().unwrap().clone()
        }
    };
    // No setting for this prefix: the 60 s default.
    let first = change("192.0.2.1").await;
    assert_eq!(first.status(), &ChangeStatus::Pending);
    emu.configure(json!({"prefix": p, "route53_change_pending_seconds": 1}));
    let second = change("192.0.2.2").await;
    assert_eq!(second.status(), &ChangeStatus::Pending);
    let started = Instant::now();
    let insync = support::poll(Duration::from_secs(5), || {
        let (r53, id) = (r53.clone(), second.id().to_string());
        async move {
            let c = r53.get_change().id(id).send().await.unwrap();
            (c.change_info().unwrap().status() == &ChangeStatus::Insync).then_some(())
        }
    })
    .await;
    assert!(insync.is_some(), "INSYNC after the prefix's 1 s");
    assert!(started.elapsed() >= Duration::from_millis(700));
    // The first change was made under the 60 s default and is still PENDING.
    let c = r53.get_change().id(first.id()).send().await.unwrap();
    assert_eq!(c.change_info().unwrap().status(), &ChangeStatus::Pending);
    emu.reset_config(Some(&p));
}

/// After UpdatePrimaryRegion both keys are `Updating` for `kms_updating_seconds` (default 5:
/// "the process of updating the primary Region might still be in progress for a few more
/// seconds. During this time, the old and new primary keys have a transient key state of
/// Updating", KMS developer guide,
/// https://docs.aws.amazon.com/kms/latest/developerguide/multi-region-update.html), then Enabled.
/// Tried on a us-east-1 primary.
#[tokio::test(flavor = "multi_thread")]
async fn kms_keys_are_updating_for_the_default_few_seconds() {
    let emu = emulator();
    let p = unique_prefix("updating");
    let (from, to) = ("us-east-1", "ap-southeast-2");
    let a = aws_sdk_kms::Client::new(&emu.sdk_config(from).await);
    let b = aws_sdk_kms::Client::new(&emu.sdk_config(to).await);
    let key = a
        .create_key()
        .multi_region(true)
        .description(format!("{p}key"))
        .send()
        .await
        .unwrap();
    let key_id = key.key_metadata().unwrap().key_id().to_string();
    a.replicate_key()
        .key_id(&key_id)
        .replica_region(to)
        .send()
        .await
        .unwrap();
    let started = Instant::now();
    a.update_primary_region()
        .key_id(&key_id)
        .primary_region(to)
        .send()
        .await
        .unwrap();
    let state = |c: aws_sdk_kms::Client| {
        let id = key_id.clone();
        async move {
            let d = c.describe_key().key_id(id).send().await.unwrap();
            d.key_metadata().unwrap().key_state().cloned()
        }
    };
    assert_eq!(state(a.clone()).await, Some(KeyState::Updating));
    assert_eq!(state(b.clone()).await, Some(KeyState::Updating));
    let enabled = support::poll(Duration::from_secs(8), || {
        let b = b.clone();
        let st = state(b);
        async move { (st.await == Some(KeyState::Enabled)).then_some(()) }
    })
    .await;
    let waited = started.elapsed();
    assert!(enabled.is_some(), "Enabled again after a few seconds");
    assert!(
        waited >= Duration::from_secs(4),
        "Updating lasted the 5 s default: {waited:?}"
    );
    assert_eq!(state(a).await, Some(KeyState::Enabled));
}
