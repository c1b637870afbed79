//! Recovering data, against the emulator's global tables and PITR history: `put_item` and
//! `assert_item`, the replication probe, `add_replica`, `assert_replica`'s peer check, and the
//! shipped data-corruption drill, which injects damage and must bring back the exact items in
//! both Regions. Tables other than the seed's (other Regions, numeric and composite keys) too.

use crate::support::Ran;
use std::collections::HashMap;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType, SseSpecification, SseType,
};
use drillbook::actions::ActionError;
use serde_json::json;

use crate::support::actions::{action, aws, ctx, execute, findings_text as findings};
use crate::support::{
    PRIMARY_REGION, SECONDARY_REGION, emulator, repo_root, unique_prefix, vars_for,
};

async fn ddb(region: &str) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&emulator().sdk_config(region).await)
}

/// A single-Region table with a numeric partition key and a string sort key.
async fn ledger(region: &str, name: &str) {
    let c = ddb(region).await;
    c.create_table()
        .table_name(name)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("acct")
                .attribute_type(ScalarAttributeType::N)
                .build()
                .unwrap(),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("ts")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("acct")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("ts")
                .key_type(KeyType::Range)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
}

async fn item(
    region: &str,
    table: &str,
    key: &[(&str, AttributeValue)],
) -> Option<HashMap<String, AttributeValue>> {
    ddb(region)
        .await
        .get_item()
        .table_name(table)
        .set_key(Some(
            key.iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        ))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
}

#[tokio::test(flavor = "multi_thread")]
async fn put_item_and_assert_item_type_keys_from_the_table_on_a_composite_numeric_key() {
    let p = unique_prefix("items");
    let region = "us-east-1";
    let table = format!("{p}ledger");
    ledger(region, &table).await;
    let aws = aws().await;
    let put = action("dynamodb.put_item");
    let params = json!({
        "table": table,
        "item": {"acct": "42", "ts": "2026-12-01", "amount": "10.5", "ok": "true", "note": "x"},
        "types": {"amount": "N", "ok": "BOOL"},
    });
    let c = ctx(&aws, region, params.clone());
    let out = execute("dynamodb.put_item", &c).await.unwrap();
    assert_eq!(out.changes.len(), 1, "{out:?}");
    assert!(out.outputs.contains_key("written_at"));
    let got = item(
        region,
        &table,
        &[
            ("acct", AttributeValue::N("42".into())),
            ("ts", AttributeValue::S("2026-12-01".into())),
        ],
    )
    .await
    .expect("the item was written with a numeric key");
    assert_eq!(got["amount"], AttributeValue::N("10.5".into()));
    assert_eq!(got["ok"], AttributeValue::Bool(true));
    // Idempotent: the same item again is nothing to do.
    assert!(put.observe(&c).await.unwrap().changes.is_empty());

    let check = action("dynamodb.assert_item");
    let key = json!({"acct": "42", "ts": "2026-12-01"});
    let ok = check
        .observe(&ctx(
            &aws,
            region,
            json!({"table": table, "key": key, "expect": {"amount": "10.50", "ok": "true"}}),
        ))
        .await
        .unwrap();
    assert!(ok.findings.is_empty(), "{}", findings(&ok));
    assert_eq!(ok.outputs["found"], "true");
    let wrong = check
        .observe(&ctx(
            &aws,
            region,
            json!({"table": table, "key": key, "expect": {"note": "y", "gone": "z"}}),
        ))
        .await
        .unwrap();
    let f = findings(&wrong);
    assert!(
        f.contains("`note` is `x`, expected `y`") && f.contains("`gone` is missing"),
        "{f}"
    );
    let present = check
        .observe(&ctx(
            &aws,
            region,
            json!({"table": table, "key": key, "absent": true}),
        ))
        .await
        .unwrap();
    assert!(findings(&present).contains("must be absent"), "{present:?}");
    let absent = check
        .observe(&ctx(
            &aws,
            region,
            json!({"table": table, "key": {"acct": "43", "ts": "x"}, "absent": true}),
        ))
        .await
        .unwrap();
    assert!(absent.findings.is_empty(), "{}", findings(&absent));
    // A key attribute missing, or a number that is not one: clear errors, nothing written.
    let err = check
        .observe(&ctx(
            &aws,
            region,
            json!({"table": table, "key": {"acct": "42"}}),
        ))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("needs attribute `ts`"), "{err}");
    let err = put
        .observe(&ctx(
            &aws,
            region,
            json!({"table": table, "item": {"acct": "forty", "ts": "t"}}),
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ActionError::Invalid { .. }) && err.to_string().contains("is a number (N)"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn assert_replication_measures_the_lag_of_a_probe_and_removes_it() {
    let p = unique_prefix("replication");
    emulator().seed(&p);
    let table = format!("{p}vault");
    let aws = aws().await;
    let act = action("dynamodb.assert_replication");
    let c = ctx(
        &aws,
        PRIMARY_REGION,
        json!({"table": table, "peer_region": SECONDARY_REGION, "max_lag": "30s"}),
    );
    let obs = act.observe(&c).await.unwrap();
    assert!(obs.findings.is_empty(), "{}", findings(&obs));
    assert_eq!(obs.changes.len(), 1, "the probe is a write: {obs:?}");
    let out = act.apply(&c, &obs).await.unwrap();
    act.verify(&c, &out).await.unwrap();
    let lag: f64 = out.outputs["replication_lag_seconds"].parse().unwrap();
    assert!((0.0..30.0).contains(&lag), "{lag}");
    // The probe is gone from the primary (its deletion replicates too).
    let key = out.outputs["probe_key"]
        .strip_prefix("pk=")
        .unwrap()
        .to_string();
    assert!(
        item(PRIMARY_REGION, &table, &[("pk", AttributeValue::S(key))])
            .await
            .is_none()
    );

    // A Region that holds no replica is a finding: nothing replicates there.
    let obs = act
        .observe(&ctx(
            &aws,
            PRIMARY_REGION,
            json!({"table": table, "peer_region": "us-east-1"}),
        ))
        .await
        .unwrap();
    assert!(
        findings(&obs).contains("has no replica in us-east-1"),
        "{obs:?}"
    );

    // Replication slower than the limit fails the step and says what a failover would lose.
    emulator().configure(json!({"prefix": p, "global_table_replication_seconds": 3}));
    let slow = ctx(
        &aws,
        PRIMARY_REGION,
        json!({"table": table, "peer_region": SECONDARY_REGION, "max_lag": "500ms"}),
    );
    let obs = act.observe(&slow).await.unwrap();
    let err = act.apply(&slow, &obs).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("had not reached eu-west-1 after 500ms"),
        "{err}"
    );
    emulator().fast(&p);
}

#[tokio::test(flavor = "multi_thread")]
async fn add_replica_makes_a_single_region_table_global_and_assert_replica_checks_the_peer() {
    let p = unique_prefix("add_replica");
    emulator().fast(&p);
    let (home, away) = ("us-east-1", "us-west-2");
    let table = format!("{p}ledger");
    ledger(home, &table).await;
    ddb(home)
        .await
        .put_item()
        .table_name(&table)
        .item("acct", AttributeValue::N("1".into()))
        .item("ts", AttributeValue::S("a".into()))
        .send()
        .await
        .unwrap();
    let aws = aws().await;
    let check = action("dynamodb.assert_replica");
    let peer = ctx(&aws, away, json!({"table": table, "peer_region": home}));
    // Not there yet.
    let obs = check.observe(&peer).await.unwrap();
    assert!(findings(&obs).contains("not found in us-west-2"), "{obs:?}");

    let add = action("dynamodb.add_replica");
    let c = ctx(&aws, home, json!({"table": table, "replica_region": away}));
    let obs = add.observe(&c).await.unwrap();
    assert!(obs.findings.is_empty(), "{}", findings(&obs));
    assert!(obs.changes[0].contains("add a replica"), "{obs:?}");
    let out = add.apply(&c, &obs).await.unwrap();
    add.verify(&c, &out).await.unwrap();
    assert!(out.outputs["replica_arn"].contains("us-west-2"), "{out:?}");
    // Done is done: a second run changes nothing.
    assert!(add.observe(&c).await.unwrap().changes.is_empty());
    // The replica holds the items and is a replica of the home table.
    assert!(
        item(
            away,
            &table,
            &[
                ("acct", AttributeValue::N("1".into())),
                ("ts", AttributeValue::S("a".into()))
            ]
        )
        .await
        .is_some()
    );
    let obs = check.observe(&peer).await.unwrap();
    assert!(obs.findings.is_empty(), "{}", findings(&obs));
    assert_eq!(obs.outputs["replica_regions"], "us-east-1");

    // A same-named table that is not a replica is refused by the peer check.
    let loner = format!("{p}loner");
    ledger(home, &loner).await;
    ledger(away, &loner).await;
    let obs = check
        .observe(&ctx(
            &aws,
            away,
            json!({"table": loner, "peer_region": home}),
        ))
        .await
        .unwrap();
    assert!(
        findings(&obs).contains("is not a global-table replica"),
        "{obs:?}"
    );
    // And add_replica will not build a replica over it.
    let obs = add
        .observe(&ctx(
            &aws,
            home,
            json!({"table": loner, "replica_region": away}),
        ))
        .await
        .unwrap();
    assert!(
        findings(&obs).contains("already has a table named"),
        "{obs:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_data_corruption_drill_brings_back_the_clean_items_in_both_regions() {
    let seed = emulator().seed(&unique_prefix("corruption"));
    let p = &seed.prefix;
    let d = crate::drill::Drill::new();
    let scenario = repo_root().join("scenarios/data-corruption.yaml");
    let mut args = vec![
        "drill".to_string(),
        scenario.to_str().unwrap().to_string(),
        "--execute".into(),
        "--yes".into(),
    ];
    args.extend(vars_for(&seed));
    args.extend(["--var".into(), format!("app_role={p}unolock-app")]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = d.run(&args, &[]);
    let all = out.text();
    out.assert_exit(0);
    assert!(all.contains("injected `overwrite-item-007`"), "{all}");
    for e in [
        "item-007-clean-in-primary",
        "item-007-clean-in-secondary",
        "bad-item-gone",
        "restored-table-is-global",
    ] {
        assert!(all.contains(&format!("PASS  {e}")), "{e}: {all}");
    }
    // The damage is in the original table, in both Regions (the global table replicated it)...
    let vault = format!("{p}vault");
    for region in [PRIMARY_REGION, SECONDARY_REGION] {
        let bad = item(
            region,
            &vault,
            &[("pk", AttributeValue::S("item-007".into()))],
        )
        .await
        .unwrap();
        assert_eq!(
            bad["secret"],
            AttributeValue::S("CORRUPTED-BY-BATCH".into()),
            "{region}"
        );
    }
    // ...and not in the restored one, which both APIs now use.
    let journal = d.journal();
    let restored = journal
        .iter()
        .find(|r| r["type"] == "step_succeeded" && r["step"] == "restore-vault")
        .and_then(|r| r["outcome"]["outputs"]["table_name"].as_str())
        .expect("restore-vault succeeded")
        .to_string();
    for region in [PRIMARY_REGION, SECONDARY_REGION] {
        let clean = item(
            region,
            &restored,
            &[("pk", AttributeValue::S("item-007".into()))],
        )
        .await
        .unwrap();
        assert_eq!(
            clean["secret"],
            AttributeValue::S("ciphertext-7".into()),
            "{region}"
        );
        assert!(
            item(
                region,
                &restored,
                &[("pk", AttributeValue::S("bad-batch-001".into()))]
            )
            .await
            .is_none()
        );
        let apigw = aws_sdk_apigateway::Client::new(&emulator().sdk_config(region).await);
        let api = &seed.regions[region].apigateway.rest_api_id;
        let stage = apigw
            .get_stage()
            .rest_api_id(api)
            .stage_name("prod")
            .send()
            .await
            .unwrap();
        assert_eq!(stage.variables().unwrap()["table"], restored, "{region}");
    }
    // The journal says what was injected, and when, before the first step.
    let at = journal
        .iter()
        .position(|r| r["type"] == "drill_started")
        .expect("the drill is recorded");
    let started = &journal[at];
    assert_eq!(
        started["injections"].as_array().unwrap().len(),
        2,
        "{started}"
    );
    assert!(started["injected_at"].is_string(), "{started}");
    assert!(
        journal[..at].iter().all(|r| r["type"] != "step_started"),
        "the injections are recorded before any step"
    );
    // The two writes the batch job made after the restore point are counted from the table's
    // stream and reported before the switch: they are what the switch leaves behind.
    let counted = journal
        .iter()
        .find(|r| r["type"] == "step_succeeded" && r["step"] == "count-lost-writes")
        .map(|r| r["outcome"]["outputs"].clone())
        .expect("count-lost-writes succeeded");
    assert_eq!(counted["writes"], "2", "{counted}");
    assert_eq!(counted["items"], "2", "{counted}");
    assert_eq!(counted["complete"], "true", "{counted}");
    let report = std::fs::read_to_string(d.report_dir().join("report.md")).unwrap();
    assert!(
        report.contains("complete=`true`, items=`2`") && report.contains("writes=`2`"),
        "{report}"
    );
    // The application's role may use the restored table and its replica (the seed's policy
    // allows `{p}vault*`).
    for step in ["app-may-use-restored", "app-may-use-replica"] {
        let decisions = journal
            .iter()
            .find(|r| r["type"] == "step_succeeded" && r["step"] == step)
            .and_then(|r| r["outcome"]["outputs"]["decisions"].as_str())
            .unwrap_or_else(|| panic!("{step} succeeded"))
            .to_string();
        assert!(
            decisions.contains(&format!("table/{restored}=allowed")),
            "{step}: {decisions}"
        );
        assert!(!decisions.contains("Deny"), "{step}: {decisions}");
    }

    // A failover after the restore checks the table the API reads now (its stage variable),
    // not the corrupted one its variables name.
    let failover = repo_root().join("runbooks/region-failover.yaml");
    let mut args = vec!["run".to_string(), failover.to_str().unwrap().to_string()];
    args.extend(vars_for(&seed));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let dry = d.run(&args, &[]);
    let text = dry.text();
    dry.assert_exit(0);
    let replica_line = text
        .lines()
        .find(|l| l.contains("vault-replica") && l.contains(&restored))
        .unwrap_or_else(|| panic!("vault-replica checked `{restored}`:\n{text}"));
    assert!(
        !replica_line.contains(&format!("`{vault}`")),
        "{replica_line}"
    );
}

/// `max_lost_writes` stops the recovery before the switch when more writes than that landed in
/// the table after the restore point: the drill's two injected writes exceed a limit of 1, the
/// API keeps the old table, and the step names the count.
#[tokio::test(flavor = "multi_thread")]
async fn more_lost_writes_than_allowed_stop_the_corruption_restore_before_the_switch() {
    let seed = emulator().seed(&unique_prefix("lostwrites"));
    let p = &seed.prefix;
    let d = crate::drill::Drill::new();
    let scenario = repo_root().join("scenarios/data-corruption.yaml");
    let mut args = vec![
        "drill".to_string(),
        scenario.to_str().unwrap().to_string(),
        "--execute".into(),
        "--yes".into(),
    ];
    args.extend(vars_for(&seed));
    args.extend([
        "--var".into(),
        format!("app_role={p}unolock-app"),
        "--var".into(),
        "max_lost_writes=1".into(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = d.run(&args, &[]);
    let all = out.text();
    out.assert_exit(1);
    assert!(
        all.contains(&format!("2 write(s) landed in `{p}vault` since"))
            && all.contains("(limit 1)"),
        "{all}"
    );
    let journal = d.journal();
    assert!(
        journal
            .iter()
            .any(|r| r["type"] == "step_failed" && r["step"] == "count-lost-writes"),
        "count-lost-writes failed"
    );
    assert!(
        !journal
            .iter()
            .any(|r| r["type"] == "step_started" && r["step"] == "point-api-primary"),
        "the switch did not start"
    );
    let apigw = aws_sdk_apigateway::Client::new(&emulator().sdk_config(PRIMARY_REGION).await);
    let stage = apigw
        .get_stage()
        .rest_api_id(&seed.regions[PRIMARY_REGION].apigateway.rest_api_id)
        .stage_name("prod")
        .send()
        .await
        .unwrap();
    assert_eq!(stage.variables().unwrap()["table"], format!("{p}vault"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_data_corruption_runbook_refuses_to_run_without_a_restore_point() {
    let seed = emulator().seed(&unique_prefix("no_restore_to"));
    let d = crate::drill::Drill::new();
    let runbook = repo_root().join("runbooks/data-corruption-restore.yaml");
    let mut args = vec!["run".to_string(), runbook.to_str().unwrap().to_string()];
    args.extend(vars_for(&seed));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = d.run(&args, &[]);
    let all = out.text();
    assert_ne!(out.status.code(), Some(0), "{all}");
    assert!(all.contains("restore_to"), "{all}");
}

/// A step's `call_timeout` bounds each AWS call: against a Region that accepts the connection
/// and never answers (the emulator's `hang` fault), the call gives up after the step's 1 s, not
/// the 20 s default, and the error says that Region is not answering (so an optional step defers).
#[tokio::test(flavor = "multi_thread")]
async fn a_step_s_call_timeout_bounds_each_call_to_a_hanging_region() {
    let region = "us-gov-west-1"; // faulted here only: no other test uses it
    emulator().fault(region, Some("dynamodb"), "hang");
    let aws = aws().await;
    let act = action("dynamodb.assert_replica");
    let c = ctx(&aws, region, json!({"table": "anything"}));
    let timeouts = drillbook::runbook::CallTimeouts {
        connect: None,
        attempt: Some(std::time::Duration::from_secs(1)),
    };
    let start = std::time::Instant::now();
    let err = drillbook::actions::aws::in_step_with("probe", timeouts, act.observe(&c))
        .await
        .unwrap_err();
    let took = start.elapsed();
    emulator().clear_faults(Some(region));
    assert!(err.region_unreachable(), "{err:?}");
    // Three attempts of 1 s each and their backoff; the default would be 3 x 20 s.
    assert!(
        took < std::time::Duration::from_secs(15),
        "took {took:?}: {err}"
    );
}

#[test]
fn call_timeouts_are_validated_and_inherited_from_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.yaml");
    std::fs::write(
        &path,
        "version: 1\nname: t\ndefaults: { region: eu-west-1, call_timeout: 5s, connect_timeout: 2s }\nsteps:\n  - id: a\n    action: dynamodb.assert_replica\n    with: { table: t }\n  - id: b\n    action: dynamodb.assert_replica\n    call_timeout: 45s\n    with: { table: t }\n",
    )
    .unwrap();
    let loaded = drillbook::runbook::load_file(&path, &[]).unwrap();
    let steps = &loaded.runbook.steps;
    assert_eq!(
        steps[0].call_timeouts.attempt,
        Some(std::time::Duration::from_secs(5))
    );
    assert_eq!(
        steps[0].call_timeouts.connect,
        Some(std::time::Duration::from_secs(2))
    );
    assert_eq!(
        steps[1].call_timeouts.attempt,
        Some(std::time::Duration::from_secs(45))
    );
    assert_eq!(
        steps[1].call_timeouts.connect,
        Some(std::time::Duration::from_secs(2))
    );
    std::fs::write(
        &path,
        "version: 1\nname: t\nsteps:\n  - id: a\n    action: dynamodb.assert_replica\n    region: eu-west-1\n    call_timeout: 0s\n    with: { table: t }\n",
    )
    .unwrap();
    let err = drillbook::runbook::load_file(&path, &[])
        .unwrap_err()
        .render(false);
    assert!(
        err.contains("`call_timeout` must be more than 0 and at most 1h") && err.contains(":7:"),
        "{err}"
    );
}

/// A table with a numeric key, encrypted with a customer managed key of `region`.
async fn encrypted_table(region: &str, name: &str, key_arn: &str) {
    ddb(region)
        .await
        .create_table()
        .table_name(name)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("acct")
                .attribute_type(ScalarAttributeType::N)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("acct")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .sse_specification(
            SseSpecification::builder()
                .enabled(true)
                .sse_type(SseType::Kms)
                .kms_master_key_id(key_arn)
                .build(),
        )
        .send()
        .await
        .unwrap();
}

async fn replica_key(region: &str, table: &str) -> Option<String> {
    ddb(region)
        .await
        .describe_table()
        .table_name(table)
        .send()
        .await
        .unwrap()
        .table()
        .and_then(|t| t.sse_description())
        .and_then(|s| s.kms_master_key_arn())
        .map(str::to_string)
}

/// A KMS key is Regional: the replica of a table encrypted with a customer managed key names
/// its own Region's key (DynamoDB API reference, CreateReplicationGroupMemberAction,
/// KMSMasterKeyId), here by alias; without `kms_key` the replica is not on that key, and
/// `verify` says so.
#[tokio::test(flavor = "multi_thread")]
async fn add_replica_with_kms_key_encrypts_the_replica_with_its_region_s_key() {
    let p = unique_prefix("add_replica_kms");
    emulator().fast(&p);
    let (home, away) = ("ap-southeast-1", "us-east-2");
    let aws = aws().await;
    let new_key = |region: &'static str| {
        let kms = aws.kms(region);
        async move {
            kms.create_key()
                .send()
                .await
                .unwrap()
                .key_metadata()
                .unwrap()
                .arn()
                .unwrap()
                .to_string()
        }
    };
    let home_key = new_key(home).await;
    let away_key = new_key(away).await;
    let alias = format!("alias/{p}vault");
    aws.kms(away)
        .create_alias()
        .alias_name(&alias)
        .target_key_id(&away_key)
        .send()
        .await
        .unwrap();

    let table = format!("{p}vault");
    encrypted_table(home, &table, &home_key).await;
    let add = action("dynamodb.add_replica");
    let c = ctx(
        &aws,
        home,
        json!({"table": table, "replica_region": away, "kms_key": alias}),
    );
    let obs = add.observe(&c).await.unwrap();
    assert!(obs.findings.is_empty(), "{}", findings(&obs));
    assert!(
        obs.changes[0].contains(&format!("encrypted with KMS key `{alias}`")),
        "{:?}",
        obs.changes
    );
    let out = add.apply(&c, &obs).await.unwrap();
    assert_eq!(
        out.changes,
        vec![format!(
            "added a replica of `{table}` in {away} with KMS key `{alias}`"
        )]
    );
    add.verify(&c, &out).await.unwrap();
    assert_eq!(replica_key(away, &table).await, Some(away_key.clone()));
    assert_eq!(replica_key(home, &table).await, Some(home_key.clone()));
    assert!(add.observe(&c).await.unwrap().changes.is_empty());

    // Without `kms_key`, the replica does not get the away key: verify asking for it fails.
    let other = format!("{p}other");
    encrypted_table(home, &other, &home_key).await;
    let plain = ctx(&aws, home, json!({"table": other, "replica_region": away}));
    let obs = add.observe(&plain).await.unwrap();
    let out = add.apply(&plain, &obs).await.unwrap();
    add.verify(&plain, &out).await.unwrap();
    assert_ne!(replica_key(away, &other).await, Some(away_key.clone()));
    let wants_key = ctx(
        &aws,
        home,
        json!({"table": other, "replica_region": away, "kms_key": away_key}),
    );
    let err = add.verify(&wants_key, &out).await.unwrap_err();
    assert!(
        matches!(&err, ActionError::Verification { message, .. }
            if message.contains(&format!("not with `{away_key}`"))),
        "{err:?}"
    );
}
