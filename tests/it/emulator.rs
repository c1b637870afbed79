//! Tests that prove the emulator environment: the seed, drillbook's moto extensions
//! (UpdatePrimaryRegion, transitional states, failover evaluation), the request recorder,
//! and LocalStack compatibility.

use std::time::Duration;

use aws_sdk_apigateway::types::{Op, PatchOperation};
use aws_sdk_dynamodb::types::TableStatus;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeyState, MultiRegionKeyType};
use aws_sdk_route53::types::{ChangeStatus, RrType};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde_json::json;

use crate::support::{
    self, Emulator, PRIMARY_REGION, SECONDARY_REGION, SeedOptions, emulator, unique_prefix,
};

fn err_code<E: ProvideErrorMetadata>(e: &E) -> (String, String) {
    (
        e.code().unwrap_or("").to_string(),
        e.message().unwrap_or("").to_string(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn seed_creates_the_reference_system() {
    let emu = emulator();
    let p = unique_prefix("seed_creates");
    let seeded = emu.seed(&p);
    assert_eq!(seeded.prefix, p);

    for region in [PRIMARY_REGION, SECONDARY_REGION] {
        let s = &seeded.regions[region];
        let conf = emu.sdk_config(region).await;

        // DynamoDB: table, PITR (7 days), items
        let ddb = aws_sdk_dynamodb::Client::new(&conf);
        let table = ddb
            .describe_table()
            .table_name(format!("{p}vault"))
            .send()
            .await
            .unwrap();
        let table = table.table().unwrap();
        assert_eq!(table.table_status(), Some(&TableStatus::Active));
        assert_eq!(table.key_schema()[0].attribute_name(), "pk");
        let pitr = ddb
            .describe_continuous_backups()
            .table_name(format!("{p}vault"))
            .send()
            .await
            .unwrap();
        let pitr = pitr
            .continuous_backups_description()
            .unwrap()
            .point_in_time_recovery_description()
            .unwrap();
        assert_eq!(
            pitr.point_in_time_recovery_status().unwrap().as_str(),
            "ENABLED"
        );
        assert_eq!(pitr.recovery_period_in_days(), Some(7));
        let count = ddb
            .scan()
            .table_name(format!("{p}vault"))
            .send()
            .await
            .unwrap()
            .count();
        assert_eq!(count, 50);
        let ttl = ddb
            .describe_time_to_live()
            .table_name(format!("{p}vault"))
            .send()
            .await
            .unwrap();
        let ttl = ttl.time_to_live_description().unwrap();
        assert_eq!(
            ttl.time_to_live_status().map(|s| s.as_str()),
            Some("ENABLED")
        );
        assert_eq!(ttl.attribute_name(), Some("expires_at"));

        // KMS: alias in both Regions, primary in ca-central-1
        let kms = aws_sdk_kms::Client::new(&conf);
        let md = kms
            .describe_key()
            .key_id(format!("alias/{p}unolock-root"))
            .send()
            .await
            .unwrap();
        let md = md.key_metadata().unwrap();
        assert_eq!(md.key_id(), seeded.kms.key_id);
        assert!(md.multi_region().unwrap());
        let mrc = md.multi_region_configuration().unwrap();
        let expected = if region == PRIMARY_REGION {
            MultiRegionKeyType::Primary
        } else {
            MultiRegionKeyType::Replica
        };
        assert_eq!(mrc.multi_region_key_type(), Some(&expected));
        assert_eq!(mrc.primary_key().unwrap().region(), Some(PRIMARY_REGION));
        assert_eq!(mrc.replica_keys().len(), 1);
        assert_eq!(mrc.replica_keys()[0].region(), Some(SECONDARY_REGION));

        // API Gateway: API, prod stage with the table variable, custom domain, mapping
        let apigw = aws_sdk_apigateway::Client::new(&conf);
        let api = apigw
            .get_rest_api()
            .rest_api_id(&s.apigateway.rest_api_id)
            .send()
            .await
            .unwrap();
        assert_eq!(api.name(), Some(format!("{p}unolock-api").as_str()));
        let stage = apigw
            .get_stage()
            .rest_api_id(&s.apigateway.rest_api_id)
            .stage_name("prod")
            .send()
            .await
            .unwrap();
        assert_eq!(
            stage
                .variables()
                .and_then(|v| v.get("table"))
                .map(String::as_str),
            Some(format!("{p}vault").as_str())
        );
        let domain = apigw
            .get_domain_name()
            .domain_name(format!("api.{p}unolock.example"))
            .send()
            .await
            .unwrap();
        let regional = domain.regional_domain_name().unwrap();
        assert!(
            regional.contains(&format!(".execute-api.{region}.")),
            "{regional}"
        );
        assert_eq!(regional, s.apigateway.regional_domain_name);
        let mappings = apigw
            .get_base_path_mappings()
            .domain_name(format!("api.{p}unolock.example"))
            .send()
            .await
            .unwrap();
        assert_eq!(mappings.items().len(), 1);
        assert_eq!(
            mappings.items()[0].rest_api_id(),
            Some(s.apigateway.rest_api_id.as_str())
        );
        assert_eq!(mappings.items()[0].stage(), Some("prod"));

        // CloudWatch: the 5xx alarm, OK
        let cw = aws_sdk_cloudwatch::Client::new(&conf);
        let alarms = cw
            .describe_alarms()
            .alarm_names(format!("{p}unolock-api-5xx"))
            .send()
            .await
            .unwrap();
        let alarm = &alarms.metric_alarms()[0];
        assert_eq!(alarm.state_value().unwrap().as_str(), "OK");
        assert_eq!(alarm.namespace(), Some("AWS/ApiGateway"));
        assert_eq!(alarm.metric_name(), Some("5XXError"));
    }

    // Route 53: zone, health check on the primary, failover records
    let conf = emu.sdk_config(PRIMARY_REGION).await;
    let r53 = aws_sdk_route53::Client::new(&conf);
    let zone = r53
        .get_hosted_zone()
        .id(&seeded.route53.hosted_zone_id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        zone.hosted_zone().unwrap().name(),
        format!("{p}unolock.example.")
    );
    let hc = r53
        .get_health_check()
        .health_check_id(&seeded.route53.health_check_id)
        .send()
        .await
        .unwrap();
    // The PRIMARY record's check: the endpoint's HTTPS check AND the failover signal.
    let hc_conf = hc.health_check().unwrap().health_check_config().unwrap();
    assert_eq!(hc_conf.r#type().as_str(), "CALCULATED");
    assert_eq!(hc_conf.health_threshold(), Some(2));
    let endpoint = seeded.route53.endpoint_health_check_id.clone().unwrap();
    let signal = seeded.raw["route53"]["signal_health_check_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        hc_conf.child_health_checks(),
        [endpoint.clone(), signal.clone()]
    );
    let get = |id: String| {
        let r53 = r53.clone();
        async move {
            r53.get_health_check()
                .health_check_id(id)
                .send()
                .await
                .unwrap()
                .health_check()
                .unwrap()
                .clone()
        }
    };
    let ep = get(endpoint).await;
    let ep_conf = ep.health_check_config().unwrap();
    assert_eq!(ep_conf.r#type().as_str(), "HTTPS");
    assert_eq!(
        ep_conf.fully_qualified_domain_name(),
        Some(seeded.primary().apigateway.regional_domain_name.as_str())
    );
    let sig = get(signal).await;
    let sig_conf = sig.health_check_config().unwrap();
    assert_eq!(sig_conf.r#type().as_str(), "CLOUDWATCH_METRIC");
    let alarm = sig_conf.alarm_identifier().unwrap();
    assert_eq!(alarm.region().as_str(), SECONDARY_REGION);
    assert_eq!(alarm.name(), format!("{p}unolock-failover-signal"));
    // Route 53 copied the alarm's settings (CloudWatchAlarmConfiguration).
    let copied = sig.cloud_watch_alarm_configuration().unwrap();
    assert_eq!(copied.metric_name(), "FailoverRequested");
    assert_eq!(copied.namespace(), "Unolock/Failover");
    let records = r53
        .list_resource_record_sets()
        .hosted_zone_id(&seeded.route53.hosted_zone_id)
        .send()
        .await
        .unwrap();
    let failover: Vec<_> = records
        .resource_record_sets()
        .iter()
        .filter(|r| r.name() == format!("api.{p}unolock.example.") && r.failover().is_some())
        .collect();
    assert_eq!(failover.len(), 2, "{failover:?}");
    for r in failover {
        // Alias A records to the regional domain names (the seed's default).
        assert_eq!(r.r#type().as_str(), "A", "{r:?}");
        let value = r
            .alias_target()
            .map(|a| a.dns_name().trim_end_matches('.'))
            .unwrap_or_default();
        match r.failover().unwrap().as_str() {
            "PRIMARY" => {
                assert_eq!(value, seeded.primary().apigateway.regional_domain_name);
                assert_eq!(
                    r.health_check_id(),
                    Some(seeded.route53.health_check_id.as_str())
                );
            }
            "SECONDARY" => assert_eq!(value, seeded.secondary().apigateway.regional_domain_name),
            other => panic!("unexpected failover {other}"),
        }
    }

    // STS
    let sts = aws_sdk_sts::Client::new(&conf);
    let me = sts.get_caller_identity().send().await.unwrap();
    assert_eq!(me.account(), Some("123456789012"));

    // Re-running the seed reuses what exists.
    let again = emu.seed(&p);
    assert_eq!(again.kms.key_id, seeded.kms.key_id);
    assert_eq!(again.route53.hosted_zone_id, seeded.route53.hosted_zone_id);
    assert_eq!(
        again.primary().apigateway.rest_api_id,
        seeded.primary().apigateway.rest_api_id
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn update_primary_region_moves_the_primary_and_reports_updating() {
    let emu = emulator();
    let p = unique_prefix("promote");
    let seeded = emu.seed(&p);
    emu.configure(json!({"prefix": p, "kms_updating_seconds": 1.5}));
    let ca = aws_sdk_kms::Client::new(&emu.sdk_config(PRIMARY_REGION).await);
    let eu = aws_sdk_kms::Client::new(&emu.sdk_config(SECONDARY_REGION).await);
    let key = seeded.kms.key_id.clone();

    // data encrypted in ca-central-1 decrypts in eu-west-1 (multi-Region key material)
    let ct = ca
        .encrypt()
        .key_id(format!("alias/{p}unolock-root"))
        .plaintext(Blob::new(b"vault-secret".to_vec()))
        .send()
        .await
        .unwrap();
    let pt = eu
        .decrypt()
        .ciphertext_blob(ct.ciphertext_blob().unwrap().clone())
        .send()
        .await
        .unwrap();
    assert_eq!(pt.plaintext().unwrap().as_ref(), b"vault-secret");

    // called on the replica: rejected
    let e = eu
        .update_primary_region()
        .key_id(&key)
        .primary_region(PRIMARY_REGION)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err_code(e.as_service_error().unwrap()).0,
        "UnsupportedOperationException"
    );

    // target Region without a replica
    let e = ca
        .update_primary_region()
        .key_id(&key)
        .primary_region("us-east-1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err_code(e.as_service_error().unwrap()).0,
        "NotFoundException"
    );

    // promote eu-west-1
    ca.update_primary_region()
        .key_id(format!("alias/{p}unolock-root"))
        .primary_region(SECONDARY_REGION)
        .send()
        .await
        .unwrap();
    for (client, region, kind) in [
        (&ca, PRIMARY_REGION, MultiRegionKeyType::Replica),
        (&eu, SECONDARY_REGION, MultiRegionKeyType::Primary),
    ] {
        let d = client.describe_key().key_id(&key).send().await.unwrap();
        let md = d.key_metadata().unwrap();
        assert_eq!(md.key_state(), Some(&KeyState::Updating), "{region}");
        let mrc = md.multi_region_configuration().unwrap();
        assert_eq!(mrc.multi_region_key_type(), Some(&kind), "{region}");
        assert_eq!(mrc.primary_key().unwrap().region(), Some(SECONDARY_REGION));
        assert!(
            mrc.primary_key()
                .unwrap()
                .arn()
                .unwrap()
                .contains(":eu-west-1:")
        );
        let replicas: Vec<_> = mrc
            .replica_keys()
            .iter()
            .filter_map(|r| r.region())
            .collect();
        assert_eq!(replicas, vec![PRIMARY_REGION], "{region}");
    }

    // while Updating, another promotion is rejected
    let e = eu
        .update_primary_region()
        .key_id(&key)
        .primary_region(PRIMARY_REGION)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err_code(e.as_service_error().unwrap()).0,
        "KMSInvalidStateException"
    );

    // then both copies become Enabled
    let enabled = support::poll(Duration::from_secs(10), || async {
        let a = ca.describe_key().key_id(&key).send().await.ok()?;
        let b = eu.describe_key().key_id(&key).send().await.ok()?;
        let s = |o: &aws_sdk_kms::operation::describe_key::DescribeKeyOutput| {
            o.key_metadata().and_then(|m| m.key_state()).cloned()
        };
        (s(&a) == Some(KeyState::Enabled) && s(&b) == Some(KeyState::Enabled)).then_some(())
    })
    .await;
    assert!(enabled.is_some(), "keys did not leave Updating");

    // and the old primary can be promoted back from the new primary
    emu.configure(json!({"prefix": p, "kms_updating_seconds": 0}));
    eu.update_primary_region()
        .key_id(&key)
        .primary_region(PRIMARY_REGION)
        .send()
        .await
        .unwrap();
    let d = ca.describe_key().key_id(&key).send().await.unwrap();
    let md = d.key_metadata().unwrap();
    assert_eq!(md.key_state(), Some(&KeyState::Enabled));
    assert_eq!(
        md.multi_region_configuration()
            .unwrap()
            .multi_region_key_type(),
        Some(&MultiRegionKeyType::Primary)
    );

    // a single-Region key cannot be promoted
    let single = ca
        .create_key()
        .description(format!("{p}single"))
        .send()
        .await
        .unwrap();
    let e = ca
        .update_primary_region()
        .key_id(single.key_metadata().unwrap().key_id())
        .primary_region(SECONDARY_REGION)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err_code(e.as_service_error().unwrap()).0,
        "UnsupportedOperationException"
    );

    // a disabled key cannot be promoted
    ca.disable_key().key_id(&key).send().await.unwrap();
    let e = ca
        .update_primary_region()
        .key_id(&key)
        .primary_region(SECONDARY_REGION)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err_code(e.as_service_error().unwrap()).0,
        "DisabledException"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn restored_table_is_creating_then_active() {
    let emu = emulator();
    let p = unique_prefix("restore");
    emu.seed(&p);
    emu.configure(json!({"prefix": p, "dynamodb_restore_creating_seconds": 1.5}));
    let ddb = aws_sdk_dynamodb::Client::new(&emu.sdk_config(SECONDARY_REGION).await);
    let target = format!("{p}vault-restored");
    let out = ddb
        .restore_table_to_point_in_time()
        .source_table_name(format!("{p}vault"))
        .target_table_name(&target)
        .use_latest_restorable_time(true)
        .send()
        .await
        .unwrap();
    assert_eq!(
        out.table_description().unwrap().table_status(),
        Some(&TableStatus::Creating)
    );
    let started = std::time::Instant::now();
    let saw_creating = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let active = support::poll(Duration::from_secs(10), || {
        let ddb = ddb.clone();
        let target = target.clone();
        let saw = saw_creating.clone();
        async move {
            let d = ddb.describe_table().table_name(target).send().await.ok()?;
            match d.table().unwrap().table_status() {
                Some(TableStatus::Active) => Some(()),
                Some(TableStatus::Creating) => {
                    saw.store(true, std::sync::atomic::Ordering::SeqCst);
                    None
                }
                other => panic!("unexpected status {other:?}"),
            }
        }
    })
    .await;
    assert!(active.is_some(), "restored table never became ACTIVE");
    assert!(
        saw_creating.load(std::sync::atomic::Ordering::SeqCst),
        "DescribeTable never reported CREATING"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(1000),
        "{:?}",
        started.elapsed()
    );
    let count = ddb.scan().table_name(&target).send().await.unwrap().count();
    assert_eq!(count, 50);

    // another test's prefix is not affected: instant restore
    let other = unique_prefix("restore_other");
    emu.seed(&other);
    let out = ddb
        .restore_table_to_point_in_time()
        .source_table_name(format!("{other}vault"))
        .target_table_name(format!("{other}vault-restored"))
        .use_latest_restorable_time(true)
        .send()
        .await
        .unwrap();
    assert_eq!(
        out.table_description().unwrap().table_status(),
        Some(&TableStatus::Active)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn route53_change_is_pending_then_insync_and_failover_follows_health() {
    let emu = emulator();
    let p = unique_prefix("r53");
    // CNAME records: the answer is the regional domain name itself.
    let seeded = emu.seed_with(&p, &SeedOptions::default().dns("cname"));
    let r53 = aws_sdk_route53::Client::new(&emu.sdk_config(PRIMARY_REGION).await);
    let zone = &seeded.route53.hosted_zone_id;
    let hc = &seeded.route53.health_check_id;

    let answer = |r53: aws_sdk_route53::Client| {
        let zone = zone.clone();
        let name = format!("api.{p}unolock.example");
        async move {
            let a = r53
                .test_dns_answer()
                .hosted_zone_id(zone)
                .record_name(name)
                .record_type(RrType::Cname)
                .send()
                .await
                .unwrap();
            a.record_data().to_vec()
        }
    };
    assert_eq!(
        answer(r53.clone()).await,
        vec![seeded.route53.primary_target.clone()]
    );

    // primary unhealthy (inverting the health check is how the drill forces failover)
    r53.update_health_check()
        .health_check_id(hc)
        .inverted(true)
        .send()
        .await
        .unwrap();
    let status = r53
        .get_health_check_status()
        .health_check_id(hc)
        .send()
        .await
        .unwrap();
    let report = status.health_check_observations()[0]
        .status_report()
        .unwrap();
    assert!(
        report.status().unwrap().starts_with("Failure"),
        "{report:?}"
    );
    assert_eq!(
        answer(r53.clone()).await,
        vec![seeded.route53.secondary_target.clone()]
    );
    r53.update_health_check()
        .health_check_id(hc)
        .inverted(false)
        .send()
        .await
        .unwrap();
    assert_eq!(
        answer(r53.clone()).await,
        vec![seeded.route53.primary_target.clone()]
    );
    emu.set_health(hc, false);
    assert_eq!(
        answer(r53.clone()).await,
        vec![seeded.route53.secondary_target.clone()]
    );
    emu.set_health(hc, true);

    // PENDING -> INSYNC for this zone only
    emu.configure(json!({"prefix": p, "route53_change_pending_seconds": 1}));
    let change = r53
        .change_resource_record_sets()
        .hosted_zone_id(zone)
        .change_batch(
            aws_sdk_route53::types::ChangeBatch::builder()
                .changes(
                    aws_sdk_route53::types::Change::builder()
                        .action(aws_sdk_route53::types::ChangeAction::Upsert)
                        .resource_record_set(
                            aws_sdk_route53::types::ResourceRecordSet::builder()
                                .name(format!("drill.{p}unolock.example."))
                                .r#type(RrType::Txt)
                                .ttl(60)
                                .resource_records(
                                    aws_sdk_route53::types::ResourceRecord::builder()
                                        .value("\"drill\"")
                                        .build()
                                        .unwrap(),
                                )
                                .build()
                                .unwrap(),
                        )
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let info = change.change_info().unwrap();
    assert_eq!(info.status(), &ChangeStatus::Pending);
    let id = info.id().to_string();
    let now = r53.get_change().id(&id).send().await.unwrap();
    assert_eq!(now.change_info().unwrap().status(), &ChangeStatus::Pending);
    let insync = support::poll(Duration::from_secs(10), || {
        let r53 = r53.clone();
        let id = id.clone();
        async move {
            let c = r53.get_change().id(id).send().await.ok()?;
            (c.change_info()?.status() == &ChangeStatus::Insync).then_some(())
        }
    })
    .await;
    assert!(insync.is_some(), "change never became INSYNC");
}

#[tokio::test(flavor = "multi_thread")]
async fn api_gateway_stage_variables_and_base_path_mappings_can_be_switched() {
    let emu = emulator();
    let p = unique_prefix("apigw");
    let seeded = emu.seed(&p);
    let api = &seeded.secondary().apigateway;
    let apigw = aws_sdk_apigateway::Client::new(&emu.sdk_config(SECONDARY_REGION).await);
    let stage = apigw
        .update_stage()
        .rest_api_id(&api.rest_api_id)
        .stage_name("prod")
        .patch_operations(
            PatchOperation::builder()
                .op(Op::Replace)
                .path("/variables/table")
                .value(format!("{p}vault-restored"))
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        stage
            .variables()
            .and_then(|v| v.get("table"))
            .map(String::as_str),
        Some(format!("{p}vault-restored").as_str())
    );
    let m = apigw
        .update_base_path_mapping()
        .domain_name(&api.domain_name)
        .base_path("(none)")
        .patch_operations(
            PatchOperation::builder()
                .op(Op::Replace)
                .path("/stage")
                .value("prod")
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(m.stage(), Some("prod"));

    let cw = aws_sdk_cloudwatch::Client::new(&emu.sdk_config(SECONDARY_REGION).await);
    cw.set_alarm_state()
        .alarm_name(format!("{p}unolock-api-5xx"))
        .state_value(aws_sdk_cloudwatch::types::StateValue::Alarm)
        .state_reason("drill")
        .send()
        .await
        .unwrap();
    let alarms = cw
        .describe_alarms()
        .alarm_names(format!("{p}unolock-api-5xx"))
        .send()
        .await
        .unwrap();
    assert_eq!(alarms.metric_alarms().len(), 1);
    assert_eq!(
        alarms.metric_alarms()[0].state_value().unwrap().as_str(),
        "ALARM"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn recorder_sees_this_tests_mutating_calls_only() {
    let emu = emulator();
    let p = unique_prefix("recorder");
    let seeded = emu.seed(&p);
    let before = emu.mutating_calls_matching(&p).len();
    assert!(
        before > 10,
        "the seed's calls should be recorded, got {before}"
    );

    let ddb = aws_sdk_dynamodb::Client::new(&emu.sdk_config(PRIMARY_REGION).await);
    ddb.put_item()
        .table_name(format!("{p}vault"))
        .item(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("recorded".into()),
        )
        .send()
        .await
        .unwrap();
    ddb.get_item()
        .table_name(format!("{p}vault"))
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("recorded".into()),
        )
        .send()
        .await
        .unwrap();
    let r53 = aws_sdk_route53::Client::new(&emu.sdk_config(PRIMARY_REGION).await);
    r53.update_health_check()
        .health_check_id(&seeded.route53.health_check_id)
        .inverted(true)
        .send()
        .await
        .unwrap();

    let calls = emu.mutating_calls_matching(&p);
    let puts: Vec<_> = calls
        .iter()
        .filter(|c| c.operation.as_deref() == Some("PutItem") && c.body.contains("recorded"))
        .collect();
    assert_eq!(puts.len(), 1, "{puts:?}");
    assert_eq!(puts[0].region, PRIMARY_REGION);
    assert_eq!(puts[0].service, "dynamodb");
    assert!(
        !calls
            .iter()
            .any(|c| c.operation.as_deref() == Some("GetItem")),
        "GetItem is not mutating"
    );
    // REST calls that only carry an id are found through that id
    let hc_calls = emu.mutating_calls_matching_any(&[&seeded.route53.health_check_id]);
    assert!(
        hc_calls.iter().any(|c| c.method == "POST"
            && c.path
                .ends_with(&format!("/healthcheck/{}", seeded.route53.health_check_id))),
        "{hc_calls:?}"
    );
    // nothing from another prefix
    assert!(calls.iter().all(|c| c.mentions(&p)));
}

// ------------------------------------------------------------- both emulators, one check each

// Each check below runs against moto (drillbook's emulator) and against LocalStack: the calls
// drillbook makes behave the same on both, except where the check says otherwise.

#[tokio::test(flavor = "multi_thread")]
async fn moto_serves_route53_apigateway_cloudwatch() {
    serves_route53_apigateway_cloudwatch(emulator(), "moto_svc").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn localstack_serves_route53_apigateway_cloudwatch() {
    serves_route53_apigateway_cloudwatch(crate::require_localstack!(), "ls_svc").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn moto_kms_multi_region_keys_and_update_primary_region() {
    kms_multi_region_keys(emulator(), "moto_kms", Promotion::Moves).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn localstack_kms_multi_region_and_update_primary_region_unsupported() {
    kms_multi_region_keys(
        crate::require_localstack!(),
        "ls_kms",
        Promotion::Unsupported,
    )
    .await;
}

async fn serves_route53_apigateway_cloudwatch(emu: &Emulator, prefix: &str) {
    let p = unique_prefix(prefix);
    let conf = emu.sdk_config(PRIMARY_REGION).await;

    let r53 = aws_sdk_route53::Client::new(&conf);
    let zone = r53
        .create_hosted_zone()
        .name(format!("{p}unolock.example."))
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
    let hc = r53
        .create_health_check()
        .caller_reference(format!("{p}hc"))
        .health_check_config(
            aws_sdk_route53::types::HealthCheckConfig::builder()
                .r#type(aws_sdk_route53::types::HealthCheckType::Https)
                .fully_qualified_domain_name("d-primary.execute-api.ca-central-1.amazonaws.com")
                .port(443)
                .resource_path("/prod/health")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let hc_id = hc.health_check().unwrap().id().to_string();
    let record = |failover: &str, value: &str, hc: Option<&str>| {
        let mut b = aws_sdk_route53::types::ResourceRecordSet::builder()
            .name(format!("api.{p}unolock.example."))
            .r#type(RrType::Cname)
            .set_identifier(failover.to_lowercase())
            .failover(failover.into())
            .ttl(60)
            .resource_records(
                aws_sdk_route53::types::ResourceRecord::builder()
                    .value(value)
                    .build()
                    .unwrap(),
            );
        if let Some(hc) = hc {
            b = b.health_check_id(hc);
        }
        aws_sdk_route53::types::Change::builder()
            .action(aws_sdk_route53::types::ChangeAction::Upsert)
            .resource_record_set(b.build().unwrap())
            .build()
            .unwrap()
    };
    r53.change_resource_record_sets()
        .hosted_zone_id(&zone_id)
        .change_batch(
            aws_sdk_route53::types::ChangeBatch::builder()
                .changes(record("PRIMARY", "d-primary.example", Some(&hc_id)))
                .changes(record("SECONDARY", "d-secondary.example", None))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let sets = r53
        .list_resource_record_sets()
        .hosted_zone_id(&zone_id)
        .send()
        .await
        .unwrap();
    let failover = sets
        .resource_record_sets()
        .iter()
        .filter(|r| r.failover().is_some())
        .count();
    assert_eq!(failover, 2);
    r53.update_health_check()
        .health_check_id(&hc_id)
        .inverted(true)
        .send()
        .await
        .unwrap();
    let hc = r53
        .get_health_check()
        .health_check_id(&hc_id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        hc.health_check()
            .unwrap()
            .health_check_config()
            .unwrap()
            .inverted(),
        Some(true)
    );

    let apigw = aws_sdk_apigateway::Client::new(&conf);
    let api = apigw
        .create_rest_api()
        .name(format!("{p}unolock-api"))
        .send()
        .await
        .unwrap();
    let api_id = api.id().unwrap().to_string();
    let dep = apigw.create_deployment().rest_api_id(&api_id).send().await;
    // LocalStack refuses a deployment of an API without methods; add one if needed.
    let dep = match dep {
        Ok(d) => d,
        Err(_) => {
            let res = apigw
                .get_resources()
                .rest_api_id(&api_id)
                .send()
                .await
                .unwrap();
            let root = res
                .items()
                .iter()
                .find(|r| r.path() == Some("/"))
                .unwrap()
                .id()
                .unwrap()
                .to_string();
            apigw
                .put_method()
                .rest_api_id(&api_id)
                .resource_id(&root)
                .http_method("GET")
                .authorization_type("NONE")
                .send()
                .await
                .unwrap();
            apigw
                .put_integration()
                .rest_api_id(&api_id)
                .resource_id(&root)
                .http_method("GET")
                .r#type(aws_sdk_apigateway::types::IntegrationType::Mock)
                .send()
                .await
                .unwrap();
            apigw
                .create_deployment()
                .rest_api_id(&api_id)
                .send()
                .await
                .unwrap()
        }
    };
    apigw
        .create_stage()
        .rest_api_id(&api_id)
        .stage_name("prod")
        .deployment_id(dep.id().unwrap())
        .variables("table", format!("{p}vault"))
        .send()
        .await
        .unwrap();
    let stage = apigw
        .update_stage()
        .rest_api_id(&api_id)
        .stage_name("prod")
        .patch_operations(
            PatchOperation::builder()
                .op(Op::Replace)
                .path("/variables/table")
                .value(format!("{p}vault-restored"))
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        stage
            .variables()
            .and_then(|v| v.get("table"))
            .map(String::as_str),
        Some(format!("{p}vault-restored").as_str())
    );

    let cw = aws_sdk_cloudwatch::Client::new(&conf);
    cw.put_metric_alarm()
        .alarm_name(format!("{p}unolock-api-5xx"))
        .namespace("AWS/ApiGateway")
        .metric_name("5XXError")
        .statistic(aws_sdk_cloudwatch::types::Statistic::Sum)
        .period(60)
        .evaluation_periods(1)
        .threshold(1.0)
        .comparison_operator(
            aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanOrEqualToThreshold,
        )
        .send()
        .await
        .unwrap();
    cw.set_alarm_state()
        .alarm_name(format!("{p}unolock-api-5xx"))
        .state_value(aws_sdk_cloudwatch::types::StateValue::Alarm)
        .state_reason("drill")
        .send()
        .await
        .unwrap();
    let alarms = cw
        .describe_alarms()
        .alarm_name_prefix(&p)
        .send()
        .await
        .unwrap();
    assert_eq!(
        alarms.metric_alarms()[0].state_value().unwrap().as_str(),
        "ALARM"
    );
}

/// What an emulator does with KMS UpdatePrimaryRegion.
enum Promotion {
    /// The primary moves, as on AWS (moto with drillbook's extension).
    Moves,
    /// LocalStack's community edition answers 501, and nothing moves.
    Unsupported,
}

/// A multi-Region key's type in the client's Region, and the Region its primary is in.
async fn key_role(kms: &aws_sdk_kms::Client, key_id: &str) -> (MultiRegionKeyType, String) {
    let d = kms.describe_key().key_id(key_id).send().await.unwrap();
    let mrc = d
        .key_metadata()
        .unwrap()
        .multi_region_configuration()
        .unwrap()
        .clone();
    let primary = mrc
        .primary_key()
        .and_then(|p| p.region())
        .unwrap_or_default();
    (
        mrc.multi_region_key_type().unwrap().clone(),
        primary.to_string(),
    )
}

async fn kms_multi_region_keys(emu: &Emulator, prefix: &str, promotion: Promotion) {
    let p = unique_prefix(prefix);
    let ca = aws_sdk_kms::Client::new(&emu.sdk_config(PRIMARY_REGION).await);
    let eu = aws_sdk_kms::Client::new(&emu.sdk_config(SECONDARY_REGION).await);
    let key = ca
        .create_key()
        .multi_region(true)
        .description(format!("{p}unolock-root"))
        .send()
        .await
        .unwrap();
    let key_id = key.key_metadata().unwrap().key_id().to_string();
    assert!(key_id.starts_with("mrk-"), "{key_id}");
    ca.create_alias()
        .alias_name(format!("alias/{p}unolock-root"))
        .target_key_id(&key_id)
        .send()
        .await
        .unwrap();
    ca.replicate_key()
        .key_id(&key_id)
        .replica_region(SECONDARY_REGION)
        .send()
        .await
        .unwrap();
    assert_eq!(
        key_role(&eu, &key_id).await,
        (MultiRegionKeyType::Replica, PRIMARY_REGION.to_string())
    );
    assert_eq!(key_role(&ca, &key_id).await.0, MultiRegionKeyType::Primary);

    let result = ca
        .update_primary_region()
        .key_id(&key_id)
        .primary_region(SECONDARY_REGION)
        .send()
        .await;
    if let Promotion::Moves = promotion {
        result.unwrap();
        // AWS documents the new primary as the one DescribeKey names in both Regions (the
        // change is eventually consistent: moto makes it at once).
        assert_eq!(
            key_role(&eu, &key_id).await,
            (MultiRegionKeyType::Primary, SECONDARY_REGION.to_string())
        );
        return;
    }
    let err = result.expect_err("LocalStack (community) does not implement UpdatePrimaryRegion");
    let (code, message) = match err.as_service_error() {
        Some(e) => err_code(e),
        None => (format!("{err:?}"), String::new()),
    };
    let status = err.raw_response().map(|r| r.status().as_u16());
    eprintln!(
        "LocalStack UpdatePrimaryRegion -> HTTP {status:?} code={code:?} message={message:?}"
    );
    // what drillbook must turn into "this endpoint does not support UpdatePrimaryRegion"
    assert_eq!(status, Some(501), "{code} {message}");
    assert_eq!(code, "InternalFailure", "{message}");
    assert!(
        message.contains("not included in your current license plan"),
        "unexpected LocalStack message: {message}"
    );
    // the key did not move
    assert_eq!(key_role(&eu, &key_id).await.0, MultiRegionKeyType::Replica);
}
