//! The KMS, API Gateway and Route 53 actions against the emulator: observe on a correct and a
//! broken system, apply changes exactly what it should (read back through the SDK), a second
//! run makes no mutating call (request recording), verify catches a broken post-condition.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_apigateway::types::{Op, PatchOperation};
use aws_sdk_kms::types::{KeyState, MultiRegionKeyType};
use aws_sdk_route53::types::ResourceRecordSetFailover;
use drillbook::actions::aws::{Aws, AwsOptions, Impairment};
use drillbook::actions::{
    Action, ActionError, Observation, Outcome, Params, Registry, StepContext, WaitMeter,
};
use serde_json::json;

use crate::support::{PRIMARY_REGION, SECONDARY_REGION, Seeded, emulator, unique_prefix};

// ------------------------------------------------------------------------------ helpers

/// The emulator's AWS, asking its DNS server (alias records resolve through it).
async fn aws_with(mut options: AwsOptions) -> Arc<Aws> {
    options.dns_server = options.dns_server.or_else(|| emulator().dns_server());
    Arc::new(Aws::from_config(
        emulator().sdk_config(PRIMARY_REGION).await,
        options,
    ))
}

async fn aws() -> Arc<Aws> {
    aws_with(AwsOptions::default()).await
}

/// A step context for `region` with `with:` = `params` (a JSON object).
fn ctx(aws: &Arc<Aws>, region: Option<&str>, params: serde_json::Value) -> StepContext {
    let serde_json::Value::Object(map) = params else {
        panic!("params must be a JSON object");
    };
    StepContext {
        run_id: "run-test".into(),
        step_id: "step".into(),
        region: region.map(str::to_string),
        params: Params(map.into_iter().collect()),
        objectives: Default::default(),
        role_arn: None,
        aws: aws.clone(),
        waits: WaitMeter::default(),
        earlier: None,
    }
}

fn action(name: &str) -> Arc<dyn Action> {
    Registry::builtin()
        .get(name)
        .unwrap_or_else(|| panic!("{name} is not registered"))
}

/// What the engine does: observe, apply only when there are changes, verify.
async fn run(name: &str, ctx: &StepContext) -> Result<(Observation, Outcome), ActionError> {
    let a = action(name);
    let obs = a.observe(ctx).await?;
    if !obs.findings.is_empty() {
        return Err(ActionError::Precondition {
            findings: obs.findings.clone(),
        });
    }
    let out = if obs.changes.is_empty() {
        Outcome {
            summary: obs.summary.clone(),
            changes: vec![],
            outputs: obs.outputs.clone(),
        }
    } else {
        a.apply(ctx, &obs).await?
    };
    a.verify(ctx, &out).await?;
    Ok((obs, out))
}

fn findings(obs: &Observation) -> String {
    obs.findings
        .iter()
        .map(|f| format!("{} (help: {})", f.message, f.hint))
        .collect::<Vec<_>>()
        .join("\n")
}

fn mutations(needles: &[&str]) -> Vec<String> {
    emulator()
        .mutating_calls_matching_any(needles)
        .iter()
        .map(|r| r.label())
        .collect()
}

async fn kms(region: &str) -> aws_sdk_kms::Client {
    aws_sdk_kms::Client::new(&emulator().sdk_config(region).await)
}

async fn describe(region: &str, key: &str) -> aws_sdk_kms::types::KeyMetadata {
    kms(region)
        .await
        .describe_key()
        .key_id(key)
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .clone()
}

fn key_type(md: &aws_sdk_kms::types::KeyMetadata) -> MultiRegionKeyType {
    md.multi_region_configuration()
        .unwrap()
        .multi_region_key_type()
        .unwrap()
        .clone()
}

fn seed(name: &str) -> (String, Seeded) {
    let p = unique_prefix(name);
    let s = emulator().seed(&p);
    (p, s)
}

// ------------------------------------------------------------------------------ kms

#[tokio::test(flavor = "multi_thread")]
async fn kms_assert_replica_finds_missing_single_region_and_disabled_keys() {
    let (_p, s) = seed("kmsassert");
    let aws = aws().await;
    let a = action("kms.assert_replica");

    let obs = a
        .observe(&ctx(
            &aws,
            Some(SECONDARY_REGION),
            json!({"key": s.kms.alias}),
        ))
        .await
        .unwrap();
    assert!(obs.findings.is_empty(), "{}", findings(&obs));
    assert!(obs.changes.is_empty());
    assert_eq!(obs.outputs["key_arn"], s.secondary().kms.arn);
    assert_eq!(obs.outputs["primary_region"], PRIMARY_REGION);

    // a Region without a replica
    let obs = a
        .observe(&ctx(&aws, Some("us-east-1"), json!({"key": s.kms.key_id})))
        .await
        .unwrap();
    assert_eq!(obs.findings.len(), 1, "{obs:?}");
    assert!(obs.findings[0].message.contains("no copy in us-east-1"));
    assert!(obs.findings[0].hint.contains("kms.replicate_key"));

    // a single-Region key
    let single = kms(SECONDARY_REGION)
        .await
        .create_key()
        .description(format!("{}single", s.prefix))
        .send()
        .await
        .unwrap();
    let single_id = single.key_metadata().unwrap().key_id().to_string();
    let obs = a
        .observe(&ctx(
            &aws,
            Some(SECONDARY_REGION),
            json!({"key": single_id}),
        ))
        .await
        .unwrap();
    assert_eq!(obs.findings.len(), 1, "{obs:?}");
    assert!(obs.findings[0].message.contains("not a multi-Region key"));

    // the replica disabled
    kms(SECONDARY_REGION)
        .await
        .disable_key()
        .key_id(&s.kms.key_id)
        .send()
        .await
        .unwrap();
    let obs = a
        .observe(&ctx(
            &aws,
            Some(SECONDARY_REGION),
            json!({"key": s.kms.alias}),
        ))
        .await
        .unwrap();
    assert_eq!(obs.findings.len(), 1, "{obs:?}");
    assert!(obs.findings[0].message.contains("Disabled"), "{obs:?}");
    assert!(obs.findings[0].hint.contains("enable-key"), "{obs:?}");
    // and crypto with it fails its precondition
    let obs = action("kms.verify_crypto")
        .observe(&ctx(
            &aws,
            Some(SECONDARY_REGION),
            json!({"key": s.kms.alias}),
        ))
        .await
        .unwrap();
    assert_eq!(obs.findings.len(), 1, "{obs:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn kms_replicate_key_creates_the_replica_and_alias_once() {
    let (p, _s) = seed("kmsrepl");
    let aws = aws().await;
    let ca = kms(PRIMARY_REGION).await;
    let key = ca
        .create_key()
        .multi_region(true)
        .description(format!("{p}extra"))
        .send()
        .await
        .unwrap();
    let key_id = key.key_metadata().unwrap().key_id().to_string();
    let alias = format!("alias/{p}extra");
    ca.create_alias()
        .alias_name(&alias)
        .target_key_id(&key_id)
        .send()
        .await
        .unwrap();
    let c = ctx(
        &aws,
        Some(PRIMARY_REGION),
        json!({"key": alias, "replica_region": SECONDARY_REGION}),
    );
    let before = mutations(&[&key_id]).len();

    let obs = action("kms.replicate_key").observe(&c).await.unwrap();
    assert!(obs.findings.is_empty(), "{}", findings(&obs));
    assert_eq!(obs.changes.len(), 2, "{:?}", obs.changes);
    assert!(obs.changes[0].starts_with("ReplicateKey"));
    assert_eq!(mutations(&[&key_id]).len(), before, "observe is read-only");

    let (_, out) = run("kms.replicate_key", &c).await.unwrap();
    let replica = describe(SECONDARY_REGION, &alias).await;
    assert_eq!(replica.key_id(), key_id);
    assert_eq!(key_type(&replica), MultiRegionKeyType::Replica);
    assert_eq!(replica.key_state(), Some(&KeyState::Enabled));
    assert_eq!(out.outputs["replica_key_arn"], replica.arn().unwrap());

    // second run: nothing to do
    let (obs, out2) = run("kms.replicate_key", &c).await.unwrap();
    assert!(obs.changes.is_empty(), "{:?}", obs.changes);
    assert_eq!(out2.outputs["replica_key_arn"], replica.arn().unwrap());
    let calls = mutations(&[&key_id]);
    assert_eq!(
        calls
            .iter()
            .filter(|c| c.as_str() == "ReplicateKey")
            .count(),
        1,
        "{calls:?}"
    );

    // on a replica Region: a finding that names the primary
    let obs = action("kms.replicate_key")
        .observe(&ctx(
            &aws,
            Some(SECONDARY_REGION),
            json!({"key": alias, "replica_region": "us-east-1"}),
        ))
        .await
        .unwrap();
    assert!(
        obs.findings[0].hint.contains(PRIMARY_REGION),
        "{}",
        findings(&obs)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn kms_promote_moves_the_primary_once() {
    let (p, s) = seed("kmspromote");
    emulator().configure(json!({"prefix": p, "kms_updating_seconds": 1}));
    let aws = aws().await;
    let c = ctx(&aws, Some(SECONDARY_REGION), json!({"key": s.kms.alias}));
    let key_id = s.kms.key_id.clone();
    let base = mutations(&[&key_id]).len();

    let obs = action("kms.promote").observe(&c).await.unwrap();
    assert!(obs.findings.is_empty(), "{}", findings(&obs));
    assert_eq!(
        obs.changes,
        vec![format!(
            "UpdatePrimaryRegion in {PRIMARY_REGION} to {SECONDARY_REGION}"
        )]
    );
    assert_eq!(mutations(&[&key_id]).len(), base, "observe is read-only");

    let (_, out) = run("kms.promote", &c).await.unwrap();
    assert_eq!(out.outputs["primary_region"], SECONDARY_REGION);
    assert_eq!(out.outputs["key_arn"], s.secondary().kms.arn);
    assert!(
        c.waits.total() >= Duration::from_millis(200),
        "waited out Updating: {:?}",
        c.waits.total()
    );
    let eu = describe(SECONDARY_REGION, &key_id).await;
    let ca = describe(PRIMARY_REGION, &key_id).await;
    assert_eq!(key_type(&eu), MultiRegionKeyType::Primary);
    assert_eq!(key_type(&ca), MultiRegionKeyType::Replica);
    assert_eq!(eu.key_state(), Some(&KeyState::Enabled));
    assert_eq!(ca.key_state(), Some(&KeyState::Enabled));

    // twice: no second UpdatePrimaryRegion
    let (obs, out) = run("kms.promote", &c).await.unwrap();
    assert!(obs.changes.is_empty(), "{:?}", obs.changes);
    assert_eq!(out.outputs["primary_region"], SECONDARY_REGION);
    assert_eq!(
        mutations(&[&key_id])[base..].to_vec(),
        vec!["UpdatePrimaryRegion".to_string()]
    );

    // crypto works in the new primary and in the (now replica) old one
    for region in [SECONDARY_REGION, PRIMARY_REGION] {
        let obs = action("kms.verify_crypto")
            .observe(&ctx(&aws, Some(region), json!({"key": s.kms.alias})))
            .await
            .unwrap();
        assert!(obs.findings.is_empty(), "{region}: {}", findings(&obs));
    }

    // verify fails when the post-condition does not hold (the primary moved back)
    kms(SECONDARY_REGION)
        .await
        .update_primary_region()
        .key_id(&key_id)
        .primary_region(PRIMARY_REGION)
        .send()
        .await
        .unwrap();
    let err = action("kms.promote").verify(&c, &out).await.unwrap_err();
    assert!(matches!(err, ActionError::Verification { .. }), "{err:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn kms_promote_with_the_primary_region_impaired_fails_or_is_deferred() {
    let (_p, s) = seed("kmsimpair");
    let aws = aws_with(AwsOptions {
        impaired: vec![Impairment {
            region: PRIMARY_REGION.into(),
            service: None,
        }],
        ..Default::default()
    })
    .await;
    let key_id = s.kms.key_id.clone();
    let base = mutations(&[&key_id]).len();

    // observe only needs the step Region (eu-west-1), which works
    let c = ctx(&aws, Some(SECONDARY_REGION), json!({"key": s.kms.alias}));
    let a = action("kms.promote");
    let obs = a.observe(&c).await.unwrap();
    assert_eq!(obs.changes.len(), 1, "{obs:?}");

    let err = a.apply(&c, &obs).await.unwrap_err();
    let hint = err.hint().unwrap_or_default().to_string();
    assert!(err.to_string().contains(PRIMARY_REGION), "{err}");
    assert!(hint.contains("still encrypts and decrypts"), "{hint}");
    assert!(hint.contains("optional: true"), "{hint}");
    assert!(!err.retryable());
    let refused = aws.refused_calls();
    assert!(
        refused
            .iter()
            .any(|r| r.operation == "UpdatePrimaryRegion" && r.region == PRIMARY_REGION),
        "{refused:?}"
    );

    let c = ctx(
        &aws,
        Some(SECONDARY_REGION),
        json!({"key": s.kms.alias, "optional": true}),
    );
    let (_, out) = run("kms.promote", &c).await.unwrap();
    assert!(out.summary.starts_with("deferred:"), "{}", out.summary);
    assert!(out.summary.contains("still encrypts and decrypts"));
    assert_eq!(out.outputs["primary_region"], PRIMARY_REGION);
    assert!(out.changes.is_empty());
    // nothing reached the emulator, the key did not move
    assert_eq!(mutations(&[&key_id]).len(), base);
    let eu = describe(SECONDARY_REGION, &key_id).await;
    assert_eq!(key_type(&eu), MultiRegionKeyType::Replica);
    // the replica still encrypts and decrypts
    let obs = action("kms.verify_crypto").observe(&c).await.unwrap();
    assert!(obs.findings.is_empty(), "{}", findings(&obs));
}

/// A primary Region that is lost at the server, in each way a Region stops answering
/// (connections reset, requests hang, HTTP 503, throttling past the retries): an optional
/// promotion is deferred, never failed, and costs seconds (the attempt timeout), not the step's
/// timeout. Tried on a pair other than the reference one (sa-east-1 primary), whose Regions no
/// other test faults.
#[tokio::test(flavor = "multi_thread")]
async fn kms_promote_is_deferred_for_every_way_the_primary_stops_answering() {
    let emu = emulator();
    let p = unique_prefix("kmsfaults");
    let (primary, secondary) = ("sa-east-1", "eu-central-2");
    let s = emu.seed_with(
        &p,
        &crate::support::SeedOptions::regions(primary, secondary),
    );
    let conf = emu
        .sdk_config(secondary)
        .await
        .to_builder()
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_attempt_timeout(Duration::from_secs(1))
                .build(),
        )
        .build();
    let aws = Arc::new(Aws::from_config(
        conf,
        AwsOptions {
            dns_server: emulator().dns_server(),
            ..Default::default()
        },
    ));
    let c = ctx(
        &aws,
        Some(secondary),
        json!({"key": s.kms.alias, "optional": true}),
    );
    let strict = ctx(&aws, Some(secondary), json!({"key": s.kms.alias}));
    for mode in ["reset", "hang", "error", "throttle"] {
        emu.fault(primary, None, mode);
        let started = std::time::Instant::now();
        let result = run("kms.promote", &c).await;
        let elapsed = started.elapsed();
        let strict_err = action("kms.promote")
            .apply(&strict, &Observation::default())
            .await;
        emu.clear_faults(Some(primary));
        let (_, out) = result.unwrap_or_else(|e| panic!("{mode}: {e}"));
        assert!(
            out.summary.starts_with("deferred:"),
            "{mode}: {}",
            out.summary
        );
        assert_eq!(out.outputs["primary_region"], primary, "{mode}");
        assert!(
            elapsed < Duration::from_secs(15),
            "{mode}: took {elapsed:?}"
        );
        // Not optional: it fails, saying the promotion can wait.
        let err = strict_err.expect_err(mode);
        assert!(
            err.hint().unwrap_or_default().contains("optional: true"),
            "{mode}: {err}"
        );
    }
    // The key never moved, and with the Region back the promotion goes through.
    let md = describe(secondary, &s.kms.key_id).await;
    assert_eq!(key_type(&md), MultiRegionKeyType::Replica);
    let (_, out) = run("kms.promote", &c).await.unwrap();
    assert_eq!(out.outputs["primary_region"], secondary, "{}", out.summary);
}

#[tokio::test(flavor = "multi_thread")]
async fn kms_promote_on_localstack_is_unsupported() {
    let ls = crate::require_localstack!();
    let p = unique_prefix("lspromote");
    let ca = aws_sdk_kms::Client::new(&ls.sdk_config(PRIMARY_REGION).await);
    let key = ca
        .create_key()
        .multi_region(true)
        .description(format!("{p}root"))
        .send()
        .await
        .unwrap();
    let key_id = key.key_metadata().unwrap().key_id().to_string();
    ca.replicate_key()
        .key_id(&key_id)
        .replica_region(SECONDARY_REGION)
        .send()
        .await
        .unwrap();
    let aws = Arc::new(Aws::from_config(
        ls.sdk_config(PRIMARY_REGION).await,
        AwsOptions::default(),
    ));
    let c = ctx(
        &aws,
        Some(SECONDARY_REGION),
        json!({"key": key_id, "optional": true}),
    );
    let obs = action("kms.promote").observe(&c).await.unwrap();
    assert_eq!(obs.changes.len(), 1, "{obs:?}");
    let err = action("kms.promote").apply(&c, &obs).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "this endpoint does not support UpdatePrimaryRegion"
    );
    assert!(matches!(err, ActionError::Unsupported { .. }));
}

#[tokio::test(flavor = "multi_thread")]
async fn kms_verify_crypto_round_trips_in_eu_west_1() {
    let (_p, s) = seed("kmscrypto");
    let aws = aws().await;
    let c = ctx(&aws, Some(SECONDARY_REGION), json!({"key": s.kms.alias}));
    let base = mutations(&[&s.kms.key_id]).len();
    let (obs, _) = run("kms.verify_crypto", &c).await.unwrap();
    assert!(
        obs.summary.contains("encrypts and decrypts"),
        "{}",
        obs.summary
    );
    assert!(obs.facts["ciphertext_bytes"].as_u64().unwrap() > 0);
    assert_eq!(
        mutations(&[&s.kms.key_id]).len(),
        base,
        "Encrypt/Decrypt only"
    );
    // a key that does not exist there
    let obs = action("kms.verify_crypto")
        .observe(&ctx(&aws, Some("us-east-1"), json!({"key": s.kms.alias})))
        .await
        .unwrap();
    assert_eq!(obs.findings.len(), 1, "{obs:?}");
}

// ------------------------------------------------------------------------------ apigateway

async fn apigw(region: &str) -> aws_sdk_apigateway::Client {
    aws_sdk_apigateway::Client::new(&emulator().sdk_config(region).await)
}

#[tokio::test(flavor = "multi_thread")]
async fn apigateway_assert_ready_finds_missing_stage_and_mapping() {
    let (_p, s) = seed("apiready");
    let aws = aws().await;
    let api = &s.secondary().apigateway;
    let a = action("apigateway.assert_ready");
    let params =
        json!({"rest_api": api.rest_api_name, "stage": "prod", "domain_name": api.domain_name});

    let obs = a
        .observe(&ctx(&aws, Some(SECONDARY_REGION), params.clone()))
        .await
        .unwrap();
    assert!(obs.findings.is_empty(), "{}", findings(&obs));
    assert_eq!(obs.outputs["rest_api_id"], api.rest_api_id);
    assert_eq!(
        obs.outputs["regional_domain_name"],
        api.regional_domain_name
    );
    assert_eq!(obs.outputs["invoke_url"], api.invoke_url);
    assert!(obs.outputs["regional_domain_name"].contains(SECONDARY_REGION));

    // a stage that does not exist
    let obs = a
        .observe(&ctx(
            &aws,
            Some(SECONDARY_REGION),
            json!({"rest_api": api.rest_api_id, "stage": "staging"}),
        ))
        .await
        .unwrap();
    assert_eq!(obs.findings.len(), 1, "{obs:?}");
    assert!(
        obs.findings[0]
            .message
            .contains("stage `staging` not found")
    );

    // an unknown API
    let obs = a
        .observe(&ctx(
            &aws,
            Some(SECONDARY_REGION),
            json!({"rest_api": format!("{}nope", s.prefix)}),
        ))
        .await
        .unwrap();
    assert_eq!(obs.findings.len(), 1, "{obs:?}");

    // the mapping removed
    apigw(SECONDARY_REGION)
        .await
        .delete_base_path_mapping()
        .domain_name(&api.domain_name)
        .base_path("(none)")
        .send()
        .await
        .unwrap();
    let obs = a
        .observe(&ctx(&aws, Some(SECONDARY_REGION), params))
        .await
        .unwrap();
    assert_eq!(obs.findings.len(), 1, "{obs:?}");
    assert!(
        obs.findings[0].message.contains("no base path mapping"),
        "{}",
        findings(&obs)
    );
    assert!(obs.findings[0].hint.contains("apigateway.map_domain"));
}

#[tokio::test(flavor = "multi_thread")]
async fn apigateway_update_stage_changes_exactly_the_variable() {
    let (p, s) = seed("apistage");
    let aws = aws().await;
    let api = &s.secondary().apigateway;
    let client = apigw(SECONDARY_REGION).await;
    client
        .update_stage()
        .rest_api_id(&api.rest_api_id)
        .stage_name("prod")
        .patch_operations(
            PatchOperation::builder()
                .op(Op::Replace)
                .path("/variables/color")
                .value("blue")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let before = mutations(&[&api.rest_api_id]).len();
    let restored = format!("{p}vault-restored");
    let c = ctx(
        &aws,
        Some(SECONDARY_REGION),
        json!({"rest_api": api.rest_api_name, "variables": {"table": restored, "color": "blue"}}),
    );

    let obs = action("apigateway.update_stage").observe(&c).await.unwrap();
    assert_eq!(obs.changes.len(), 1, "{:?}", obs.changes);
    assert!(obs.changes[0].contains("table"), "{:?}", obs.changes);
    let (_, out) = run("apigateway.update_stage", &c).await.unwrap();
    assert_eq!(out.outputs["rest_api_id"], api.rest_api_id);
    let stage = client
        .get_stage()
        .rest_api_id(&api.rest_api_id)
        .stage_name("prod")
        .send()
        .await
        .unwrap();
    let vars = stage.variables().unwrap();
    assert_eq!(vars["table"], restored);
    assert_eq!(vars["color"], "blue");
    assert_eq!(vars.len(), 2, "{vars:?}");

    // second run: no mutation
    let (obs, _) = run("apigateway.update_stage", &c).await.unwrap();
    assert!(obs.changes.is_empty());
    let calls = emulator().mutating_calls_matching(&api.rest_api_id);
    assert_eq!(calls.len() - before, 1, "{calls:?}");
    let patch = calls.last().unwrap();
    assert!(patch.body.contains("/variables/table") && !patch.body.contains("color"));

    // verify catches a stage changed behind its back
    client
        .update_stage()
        .rest_api_id(&api.rest_api_id)
        .stage_name("prod")
        .patch_operations(
            PatchOperation::builder()
                .op(Op::Replace)
                .path("/variables/table")
                .value(format!("{p}vault"))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let err = action("apigateway.update_stage")
        .verify(&c, &out)
        .await
        .unwrap_err();
    assert!(matches!(err, ActionError::Verification { .. }), "{err:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn apigateway_map_domain_creates_or_updates_the_mapping_once() {
    let (_p, s) = seed("apimap");
    let aws = aws().await;
    let api = &s.secondary().apigateway;
    let client = apigw(SECONDARY_REGION).await;
    let dep = client
        .create_deployment()
        .rest_api_id(&api.rest_api_id)
        .send()
        .await
        .unwrap();
    client
        .create_stage()
        .rest_api_id(&api.rest_api_id)
        .stage_name("green")
        .deployment_id(dep.id().unwrap())
        .send()
        .await
        .unwrap();

    let on_mappings = || {
        emulator()
            .mutating_calls_matching(&format!("domainnames/{}/basepathmappings", api.domain_name))
            .into_iter()
            .filter(|r| r.region == SECONDARY_REGION)
            .map(|r| r.method)
            .collect::<Vec<_>>()
    };
    let base = on_mappings().len();
    // already right: nothing to do
    let c = ctx(
        &aws,
        Some(SECONDARY_REGION),
        json!({"domain_name": api.domain_name, "rest_api": api.rest_api_id}),
    );
    let obs = action("apigateway.map_domain").observe(&c).await.unwrap();
    assert!(obs.changes.is_empty(), "{obs:?}");

    // (none) -> green: update; v2 -> green: create
    for base_path in ["(none)", "v2"] {
        let c = ctx(
            &aws,
            Some(SECONDARY_REGION),
            json!({"domain_name": api.domain_name, "rest_api": api.rest_api_name, "stage": "green", "base_path": base_path}),
        );
        let (obs, _) = run("apigateway.map_domain", &c).await.unwrap();
        assert_eq!(obs.changes.len(), 1, "{obs:?}");
        let m = client
            .get_base_path_mapping()
            .domain_name(&api.domain_name)
            .base_path(base_path)
            .send()
            .await
            .unwrap();
        assert_eq!(m.rest_api_id(), Some(api.rest_api_id.as_str()));
        assert_eq!(m.stage(), Some("green"));
        let (obs, _) = run("apigateway.map_domain", &c).await.unwrap();
        assert!(obs.changes.is_empty(), "{base_path}: {obs:?}");
    }
    // our PATCH of (none) and our POST of v2, nothing else
    assert_eq!(on_mappings()[base..].to_vec(), vec!["PATCH", "POST"]);

    // a domain that does not exist
    let obs = action("apigateway.map_domain")
        .observe(&ctx(
            &aws,
            Some(SECONDARY_REGION),
            json!({"domain_name": format!("nope.{}", api.domain_name), "rest_api": api.rest_api_id}),
        ))
        .await
        .unwrap();
    assert_eq!(obs.findings.len(), 1, "{obs:?}");
}

// ------------------------------------------------------------------------------ route53

async fn r53() -> aws_sdk_route53::Client {
    aws_sdk_route53::Client::new(&emulator().sdk_config(PRIMARY_REGION).await)
}

/// Asserts that a route53 action's `answer` output names `target`: the name itself (CNAME),
/// or the alias target with the addresses it answers, `TARGET (ADDR, ...)`.
#[track_caller]
fn assert_answers(answer: &str, target: &str) {
    assert!(
        answer == target || answer.starts_with(&format!("{target} (")),
        "answer `{answer}` does not name `{target}`"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn route53_failover_by_health_check_answers_eu_west_1_and_switches_back() {
    let (_p, s) = seed("r53hc");
    let aws = aws().await;
    let r = &s.route53;
    let eu = s.secondary().apigateway.regional_domain_name.clone();
    assert_eq!(r.secondary_target, eu);
    let c = ctx(
        &aws,
        None,
        json!({"hosted_zone": r.zone_name, "record_name": r.record_name}),
    );

    let needles = [r.health_check_id.as_str(), r.hosted_zone_id.as_str()];
    let base = mutations(&needles).len();
    let obs = action("route53.failover").observe(&c).await.unwrap();
    assert!(obs.findings.is_empty(), "{}", findings(&obs));
    assert_eq!(obs.changes.len(), 1);
    assert!(
        obs.changes[0].contains("Disabled=true and Inverted=true"),
        "{:?}",
        obs.changes
    );
    assert_eq!(mutations(&needles).len(), base, "observe is read-only");

    let (_, out) = run("route53.failover", &c).await.unwrap();
    assert_answers(&out.outputs["answer"], &eu);
    assert_eq!(out.outputs["change_id"], "");
    assert_eq!(s.dns_answer().await, eu);
    let hc = r53()
        .await
        .get_health_check()
        .health_check_id(&r.health_check_id)
        .send()
        .await
        .unwrap();
    let config = hc.health_check().unwrap().health_check_config().unwrap();
    assert_eq!(
        (config.disabled(), config.inverted()),
        (Some(true), Some(true))
    );

    // The trap: the seed's check is HTTPS on the primary endpoint itself. Inverted alone, it
    // would read healthy once that endpoint really fails, and traffic would return to the
    // failed Region. Disabled and inverted, it stays unhealthy whatever the endpoint does
    // (UpdateHealthCheck, `Disabled`; "Inverting health checks").
    emulator().set_health(&r.health_check_id, false);
    assert_eq!(
        s.dns_answer().await,
        eu,
        "the primary endpoint failing keeps the secondary"
    );
    emulator().set_health(&r.health_check_id, true);
    assert_eq!(
        s.dns_answer().await,
        eu,
        "the primary recovering does not take traffic back"
    );

    // second run: no mutation
    let (obs, out) = run("route53.failover", &c).await.unwrap();
    assert!(obs.changes.is_empty(), "{:?}", obs.changes);
    assert_answers(&out.outputs["answer"], &eu);
    let calls = mutations(&needles)[base..].to_vec();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(
        calls[0].starts_with("POST") && calls[0].contains("healthcheck"),
        "{calls:?}"
    );

    // the records name answer checks
    let ok = action("route53.assert_records")
        .observe(&ctx(
            &aws,
            None,
            json!({"hosted_zone": r.hosted_zone_id, "record_name": r.record_name, "expect": SECONDARY_REGION}),
        ))
        .await
        .unwrap();
    assert!(ok.findings.is_empty(), "{}", findings(&ok));
    assert_answers(&ok.outputs["answer"], &eu);

    // switch back (rehearsal)
    let back = ctx(
        &aws,
        None,
        json!({"hosted_zone": r.zone_name, "record_name": r.record_name, "to": "primary"}),
    );
    let (obs, out) = run("route53.failover", &back).await.unwrap();
    assert!(
        obs.changes[0].contains("Disabled=false and Inverted=false"),
        "{:?}",
        obs.changes
    );
    assert_answers(&out.outputs["answer"], &r.primary_target);
    assert_eq!(s.dns_answer().await, r.primary_target);

    // verify fails when the answer is not the target
    emulator().set_health(&r.health_check_id, false);
    let err = action("route53.failover")
        .verify(&back, &out)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("unhealthy"), "{err}");
    // and a switch back to an unhealthy primary is refused
    let obs = action("route53.failover").observe(&back).await.unwrap();
    assert_eq!(obs.findings.len(), 1, "{obs:?}");
    emulator().set_health(&r.health_check_id, true);
}

/// `route53.failover` sets the wanted configuration, never a toggle of the current one: a check
/// already pinned by an earlier attempt is left as it is, a check left inverted alone (the trap
/// an older drillbook walked into) is pinned, and failing back sets both flags back even when
/// the name already answers with the primary.
#[tokio::test(flavor = "multi_thread")]
async fn route53_failover_sets_the_wanted_state_and_never_toggles() {
    let (_p, s) = seed("r53notoggle");
    let aws = aws().await;
    let r = &s.route53;
    let flags = || async {
        let out = r53()
            .await
            .get_health_check()
            .health_check_id(&r.health_check_id)
            .send()
            .await
            .unwrap();
        let c = out.health_check().unwrap().health_check_config().unwrap();
        (c.disabled().unwrap_or(false), c.inverted().unwrap_or(false))
    };
    let set = |disabled: bool, inverted: bool| async move {
        r53()
            .await
            .update_health_check()
            .health_check_id(&r.health_check_id)
            .disabled(disabled)
            .inverted(inverted)
            .send()
            .await
            .unwrap();
    };
    let over = ctx(
        &aws,
        None,
        json!({"hosted_zone": r.zone_name, "record_name": r.record_name}),
    );
    let back = ctx(
        &aws,
        None,
        json!({"hosted_zone": r.zone_name, "record_name": r.record_name, "to": "primary"}),
    );

    // Pinned already: nothing to change.
    set(true, true).await;
    let obs = action("route53.failover").observe(&over).await.unwrap();
    assert!(obs.findings.is_empty(), "{}", findings(&obs));
    assert!(obs.changes.is_empty(), "no toggle back: {:?}", obs.changes);
    // Inverted alone: pinned, not left in the trap.
    set(false, true).await;
    let obs = action("route53.failover").observe(&over).await.unwrap();
    assert_eq!(obs.changes.len(), 1, "{obs:?}");
    assert!(
        obs.changes[0].contains("Disabled=true"),
        "{:?}",
        obs.changes
    );

    // Failing back while the name already answers with the primary still un-pins.
    set(true, false).await;
    assert_eq!(s.dns_answer().await, r.primary_target);
    let obs = action("route53.failover").observe(&back).await.unwrap();
    assert_eq!(obs.changes.len(), 1, "{obs:?}");
    let (_, out) = run("route53.failover", &back).await.unwrap();
    assert_answers(&out.outputs["answer"], &r.primary_target);
    assert_eq!(flags().await, (false, false));

    // Twice over, then twice back: each ends in the requested state.
    for _ in 0..2 {
        run("route53.failover", &over).await.unwrap();
        assert_eq!(flags().await, (true, true));
        assert_eq!(s.dns_answer().await, r.secondary_target);
    }
    for _ in 0..2 {
        run("route53.failover", &back).await.unwrap();
        assert_eq!(flags().await, (false, false));
        assert_eq!(s.dns_answer().await, r.primary_target);
    }
}

/// Alias A records (as AWS recommends for API Gateway custom domains) answer with the alias
/// target's addresses ("returns information similar to what you would expect from the answer
/// section of the dig command", Route 53 API reference, TestDNSAnswer). `route53.failover` and
/// `route53.assert_records` tell which record set answers by resolving the alias targets over
/// DNS, and `dns.resolve` asks the zone's name servers (the data plane) directly. Tried on a
/// us-east-1 primary.
#[tokio::test(flavor = "multi_thread")]
async fn alias_records_fail_over_and_answer_over_dns() {
    let emu = emulator();
    let p = unique_prefix("alias");
    let s = emu.seed_with(
        &p,
        &crate::support::SeedOptions::regions("us-east-1", "us-west-2").dns("alias"),
    );
    let dns = emu.dns_server().expect("the emulator serves DNS");
    let aws = Arc::new(Aws::from_config(
        emu.sdk_config("us-east-1").await,
        AwsOptions {
            dns_server: Some(dns.clone()),
            ..Default::default()
        },
    ));
    let r = &s.route53;
    let zone = json!({"hosted_zone": r.zone_name, "record_name": r.record_name});
    let with = |extra: serde_json::Value| {
        let mut v = zone.clone();
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        ctx(&aws, None, v)
    };
    // Every address each target answers from (an API Gateway Regional name answers a rotating
    // two of its three): an answer is a side's when it holds only that side's addresses.
    let set = |side: &str| -> Vec<String> {
        s.raw["route53"]["answers"][side]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect()
    };
    let primary_addresses = set("primary");
    let secondary_addresses = set("secondary");
    assert_eq!(primary_addresses.len(), 3, "{primary_addresses:?}");
    assert!(
        secondary_addresses
            .iter()
            .all(|a| !primary_addresses.contains(a))
    );
    let holds = |answer: &str, addresses: &[String]| addresses.iter().any(|a| answer.contains(a));

    // Before: the name answers the primary's addresses, recognised as the primary's target.
    let obs = action("route53.assert_records")
        .observe(&with(json!({"expect": "us-east-1"})))
        .await
        .unwrap();
    assert!(obs.findings.is_empty(), "{}", findings(&obs));
    assert!(
        holds(&obs.outputs["answer"], &primary_addresses)
            && obs.outputs["answer"].starts_with(&r.primary_target),
        "{:?}",
        obs.outputs
    );

    // Fail over: the answer becomes the secondary's addresses, and the step knows it.
    let (_, out) = run("route53.failover", &with(json!({}))).await.unwrap();
    assert!(
        out.outputs["answer"].contains(&r.secondary_target)
            && holds(&out.outputs["answer"], &secondary_addresses)
            && !holds(&out.outputs["answer"], &primary_addresses),
        "{:?}",
        out.outputs
    );
    let obs = action("route53.assert_records")
        .observe(&with(json!({"expect": "us-west-2"})))
        .await
        .unwrap();
    assert!(obs.findings.is_empty(), "{}", findings(&obs));

    // Over DNS, as clients see it: the answer shares the secondary's addresses and not the
    // primary's, though no two lookups need be equal.
    let over_dns = |same_as: &str, not: &str| {
        ctx(
            &aws,
            None,
            json!({"name": r.record_name, "same_as": same_as, "not_same_as": not}),
        )
    };
    for _ in 0..4 {
        let obs = action("dns.resolve")
            .observe(&over_dns(&r.secondary_target, &r.primary_target))
            .await
            .unwrap();
        assert!(obs.findings.is_empty(), "{}", findings(&obs));
        assert_eq!(obs.outputs["same"], "true");
        assert_eq!(obs.outputs["server"], dns);
        assert!(holds(&obs.outputs["answer"], &secondary_addresses));
    }
    let obs = action("dns.resolve")
        .observe(&over_dns(&r.primary_target, &r.secondary_target))
        .await
        .unwrap();
    assert_eq!(obs.outputs["same"], "false");
    assert_eq!(
        obs.findings.len(),
        1,
        "the primary no longer answers: {obs:?}"
    );
    assert!(obs.findings[0].message.contains("not `"), "{obs:?}");
    // Against itself on both sides: it shares both, so it is ambiguous and says so.
    let obs = action("dns.resolve")
        .observe(&over_dns(&r.secondary_target, &r.secondary_target))
        .await
        .unwrap();
    assert_eq!(obs.outputs["same"], "false");
    assert!(
        obs.findings.len() == 1 && obs.findings[0].message.contains("ambiguous"),
        "{obs:?}"
    );

    // And back.
    let (_, out) = run("route53.failover", &with(json!({"to": "primary"})))
        .await
        .unwrap();
    assert!(
        holds(&out.outputs["answer"], &primary_addresses)
            && out.outputs["answer"].starts_with(&r.primary_target),
        "{:?}",
        out.outputs
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn route53_failover_by_records_waits_for_insync() {
    let (p, s) = seed("r53rec");
    emulator().configure(json!({"prefix": p, "route53_change_pending_seconds": 1}));
    let aws = aws().await;
    let r = &s.route53;
    let c = ctx(
        &aws,
        None,
        json!({"hosted_zone": r.hosted_zone_id, "record_name": r.record_name, "mode": "records"}),
    );
    let needles = [r.health_check_id.as_str(), r.hosted_zone_id.as_str()];
    let base = mutations(&needles).len();
    let obs = action("route53.failover").observe(&c).await.unwrap();
    assert_eq!(obs.changes.len(), 1, "{obs:?}");
    assert!(obs.changes[0].starts_with("swap"), "{:?}", obs.changes);

    let (_, out) = run("route53.failover", &c).await.unwrap();
    let change_id = out.outputs["change_id"].clone();
    assert!(!change_id.is_empty());
    assert_answers(&out.outputs["answer"], &r.secondary_target);
    assert!(
        c.waits.total() >= Duration::from_millis(600),
        "waited for INSYNC: {:?}",
        c.waits.total()
    );
    let change = r53()
        .await
        .get_change()
        .id(&change_id)
        .send()
        .await
        .unwrap();
    assert_eq!(change.change_info().unwrap().status().as_str(), "INSYNC");
    // the values swapped, each keeping its health check
    let sets = r53()
        .await
        .list_resource_record_sets()
        .hosted_zone_id(&r.hosted_zone_id)
        .send()
        .await
        .unwrap();
    let by_role = |f: ResourceRecordSetFailover| {
        sets.resource_record_sets()
            .iter()
            .find(|x| x.failover() == Some(&f))
            .unwrap()
            .clone()
    };
    let primary = by_role(ResourceRecordSetFailover::Primary);
    let secondary = by_role(ResourceRecordSetFailover::Secondary);
    // Alias records (the seed's default): the alias targets swapped.
    let target = |x: &aws_sdk_route53::types::ResourceRecordSet| {
        x.alias_target()
            .map(|a| a.dns_name().trim_end_matches('.').to_string())
            .unwrap_or_default()
    };
    assert_eq!(target(&primary), r.secondary_target);
    assert_eq!(primary.health_check_id(), None);
    assert_eq!(target(&secondary), r.primary_target);
    assert_eq!(
        secondary.health_check_id(),
        Some(r.health_check_id.as_str())
    );
    assert_eq!(s.dns_answer().await, r.secondary_target);

    // second run: no mutation (one ChangeResourceRecordSets in all)
    let (obs, out) = run("route53.failover", &c).await.unwrap();
    assert!(obs.changes.is_empty(), "{:?}", obs.changes);
    assert_eq!(out.outputs["change_id"], "");
    let calls = mutations(&needles)[base..].to_vec();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(calls[0].contains("/rrset"), "{calls:?}");

    // switch back
    let back = ctx(
        &aws,
        None,
        json!({"hosted_zone": r.zone_name, "record_name": r.record_name, "mode": "records", "to": "primary"}),
    );
    let (obs, out) = run("route53.failover", &back).await.unwrap();
    assert_eq!(obs.changes.len(), 1);
    assert_answers(&out.outputs["answer"], &r.primary_target);
    assert_eq!(s.dns_answer().await, r.primary_target);
}

#[tokio::test(flavor = "multi_thread")]
async fn route53_assert_records_with_a_wrong_expect_is_a_finding() {
    let (_p, s) = seed("r53assert");
    let aws = aws().await;
    let r = &s.route53;
    let a = action("route53.assert_records");
    let obs = a
        .observe(&ctx(
            &aws,
            None,
            json!({"hosted_zone": r.zone_name, "record_name": r.record_name, "expect": SECONDARY_REGION}),
        ))
        .await
        .unwrap();
    assert_eq!(obs.findings.len(), 1, "{obs:?}");
    assert!(obs.findings[0].message.contains(&r.primary_target));
    assert!(obs.findings[0].hint.contains("route53.failover"));
    assert_answers(&obs.outputs["answer"], &r.primary_target);

    let obs = a
        .observe(&ctx(
            &aws,
            None,
            json!({"hosted_zone": r.zone_name, "record_name": r.record_name, "expect": PRIMARY_REGION}),
        ))
        .await
        .unwrap();
    assert!(obs.findings.is_empty(), "{}", findings(&obs));

    let obs = a
        .observe(&ctx(
            &aws,
            None,
            json!({"hosted_zone": r.zone_name, "record_name": format!("nope.{}", r.zone_name)}),
        ))
        .await
        .unwrap();
    assert_eq!(obs.findings.len(), 1, "{obs:?}");
    let obs = a
        .observe(&ctx(
            &aws,
            None,
            json!({"hosted_zone": format!("nope-{}", r.zone_name), "record_name": r.record_name}),
        ))
        .await
        .unwrap();
    assert_eq!(obs.findings.len(), 1, "{obs:?}");
}

// ------------------------------------------------------------------------------ rate limits

/// Every request of the service clients passes the run's rate limit, also on a configuration
/// loaded without an HTTP client (as `aws_config::defaults` loads it). A run keeps Route 53 to
/// half the account's bucket, a burst of 25 then 5 requests per second (the account's bucket is
/// 50 refilled at 10 per second, "Throttling for Amazon Route 53 API requests", Route 53
/// developer guide), so 35 calls take at least two seconds (25 at once, then five per second).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route53_requests_are_paced_by_the_runs_limits() {
    let aws = aws().await;
    let client = aws.route53();
    let start = std::time::Instant::now();
    for _ in 0..35 {
        client.list_hosted_zones().send().await.unwrap();
    }
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(1900),
        "35 Route 53 calls took {took:?}: the limit of a burst of 25 then 5/s was not applied"
    );
}

/// A hosted zone's id is looked up once per run (and role): its steps spend the run's Route 53
/// requests (a burst of 25, then 5 per second) on what changes. Another run looks it up again.
#[tokio::test(flavor = "multi_thread")]
async fn route53_zone_ids_are_looked_up_once_per_run() {
    let (_p, s) = seed("r53zonememo");
    let r = &s.route53;
    let params = json!({"hosted_zone": r.zone_name, "record_name": r.record_name});
    let zone = r.zone_name.trim_end_matches('.').to_string();
    let lookups = || {
        emulator()
            .recorded_requests()
            .into_iter()
            .filter(|q| q.path.contains("hostedzonesbyname") && q.path.contains(&zone))
            .count()
    };
    let a = action("route53.assert_records");
    let first_run = aws().await;
    for _ in 0..3 {
        a.observe(&ctx(&first_run, None, params.clone()))
            .await
            .unwrap();
    }
    assert_eq!(lookups(), 1, "three observations of one run");
    a.observe(&ctx(&aws().await, None, params)).await.unwrap();
    assert_eq!(lookups(), 2, "another run looks the zone up again");
}

/// `mode: records` makes the answer stick. When health checks already moved the name to the
/// secondary (the primary endpoint failing), the step still swaps the records, so the primary
/// recovering does not take traffic back without an operator's decision; failing back restores
/// exactly the records that were there. Tried on another Region pair.
#[tokio::test(flavor = "multi_thread")]
async fn route53_failover_by_records_holds_when_the_primary_recovers() {
    let emu = emulator();
    let p = unique_prefix("r53stick");
    let s = emu.seed_with(
        &p,
        &crate::support::SeedOptions::regions("us-west-2", "ap-southeast-2"),
    );
    emu.fast(&p);
    let aws = aws().await;
    let r = &s.route53;
    let records = || async {
        let mut sets = r53()
            .await
            .list_resource_record_sets()
            .hosted_zone_id(&r.hosted_zone_id)
            .send()
            .await
            .unwrap()
            .resource_record_sets()
            .to_vec();
        sets.sort_by_key(|x| format!("{:?}", x.failover()));
        sets
    };
    let before = records().await;
    let c = ctx(
        &aws,
        None,
        json!({"hosted_zone": r.hosted_zone_id, "record_name": r.record_name, "mode": "records"}),
    );
    // The primary endpoint fails: Route 53's health check moves the answer by itself.
    emu.set_health(&r.health_check_id, false);
    assert_eq!(s.dns_answer().await, r.secondary_target);
    let obs = action("route53.failover").observe(&c).await.unwrap();
    assert_eq!(
        obs.changes.len(),
        1,
        "the answer alone is no failover: {obs:?}"
    );
    run("route53.failover", &c).await.unwrap();
    // The primary endpoint recovers: the name stays on the secondary.
    emu.set_health(&r.health_check_id, true);
    assert_eq!(s.dns_answer().await, r.secondary_target);
    // Failing back restores exactly what was there.
    let back = ctx(
        &aws,
        None,
        json!({"hosted_zone": r.hosted_zone_id, "record_name": r.record_name, "mode": "records", "to": "primary"}),
    );
    run("route53.failover", &back).await.unwrap();
    assert_eq!(s.dns_answer().await, r.primary_target);
    assert_eq!(records().await, before);
}
