//! `http.probe`, the readiness gate on the data plane, against the emulator's stage endpoints:
//! a deployed stage's `/health` answers 200 at its invoke URL and at its custom domain's Regional
//! domain name, and stops answering under the Region's server-side faults (`fault add`, and the
//! FIS disrupt-connectivity experiment the seed prepares), on two Region pairs.

use std::sync::Arc;
use std::time::Duration;

use drillbook::actions::aws::{Aws, AwsOptions};
use drillbook::actions::{Observation, Params, Registry, StepContext, WaitMeter};
use serde_json::json;

use crate::support::{self, Emulator, Ran, SeedOptions, unique_prefix};

async fn aws(emu: &Emulator, region: &str) -> Arc<Aws> {
    Arc::new(Aws::from_config(
        emu.sdk_config(region).await,
        AwsOptions::default(),
    ))
}

async fn probe(aws: &Arc<Aws>, params: serde_json::Value) -> Observation {
    let serde_json::Value::Object(map) = params else {
        panic!("params must be a JSON object");
    };
    let ctx = StepContext {
        run_id: "run-test".into(),
        step_id: "probe".into(),
        region: None,
        params: Params(map.into_iter().collect()),
        objectives: Default::default(),
        role_arn: None,
        aws: aws.clone(),
        waits: WaitMeter::default(),
        earlier: None,
    };
    Registry::builtin()
        .get("http.probe")
        .expect("http.probe is registered")
        .observe(&ctx)
        .await
        .expect("the probe observes")
}

#[track_caller]
fn assert_passes(obs: &Observation) {
    assert!(obs.findings.is_empty(), "{obs:?}");
    assert_eq!(obs.outputs["status"], "200", "{obs:?}");
    assert!(obs.outputs["latency_ms"].parse::<u64>().is_ok(), "{obs:?}");
}

#[track_caller]
fn assert_fails(obs: &Observation, why: &str) {
    assert_eq!(obs.findings.len(), 1, "{obs:?}");
    assert!(
        obs.findings[0].message.contains(why),
        "`{why}` not in {:?}",
        obs.findings[0].message
    );
    assert_ne!(obs.outputs["status"], "200", "{obs:?}");
}

async fn probe_a_region_pair(name: &str, primary: &str, secondary: &str) {
    let emu = support::isolated_emulator(name);
    let p = unique_prefix(name);
    let seed = emu.seed_with(&p, &SeedOptions::regions(primary, secondary));
    let aws = aws(&emu, secondary).await;
    let health = |region: &str| format!("{}/health", seed.regions[region].apigateway.invoke_url);
    let api = &seed.secondary().apigateway;
    assert!(health(secondary).contains(&format!(".execute-api.{secondary}.amazonaws.com/prod")));

    // Healthy: the invoke URL, the custom domain's Regional domain name (its base path mapping
    // `(none)` -> prod), and the endpoint named by `host` at the emulator's own address.
    let obs = probe(&aws, json!({"url": health(secondary), "max_latency": "5s"})).await;
    assert_passes(&obs);
    assert_eq!(obs.facts["region"], json!(secondary));
    assert_passes(
        &probe(
            &aws,
            json!({"url": format!("https://{}/health", api.regional_domain_name)}),
        )
        .await,
    );
    let by_host = json!({
        "url": format!("{}/prod/health", emu.endpoint()),
        "host": format!("{}.execute-api.{secondary}.amazonaws.com", api.rest_api_id),
    });
    assert_passes(&probe(&aws, by_host).await);
    // A path the API does not have answers 403 (Missing Authentication Token), and a stage that
    // is not deployed 403 too: the probe fails unless told to expect it.
    let missing = format!("{}/nope", api.invoke_url);
    assert_fails(
        &probe(&aws, json!({"url": missing, "attempts": 1})).await,
        "answered 403, not 200",
    );
    let obs = probe(&aws, json!({"url": missing, "expect_status": 403})).await;
    assert!(obs.findings.is_empty(), "{obs:?}");
    assert_eq!(obs.outputs["status"], "403");

    // The secondary Region faulted at the server (`fault add --region R`): 503, every attempt.
    emu.fault(secondary, None, "error");
    let obs = probe(&aws, json!({"url": health(secondary), "attempts": 2})).await;
    assert_fails(&obs, "answered 503, not 200 (attempt 2 of 2)");
    // ... and the other Region still answers.
    assert_passes(&probe(&aws, json!({"url": health(primary)})).await);
    emu.clear_faults(Some(secondary));
    assert_passes(&probe(&aws, json!({"url": health(secondary)})).await);

    // A reset connection, and an API Gateway fault (which fails Route 53's checks of the
    // endpoint too).
    emu.fault(secondary, None, "reset");
    assert_fails(
        &probe(&aws, json!({"url": health(secondary), "attempts": 1})).await,
        "no answer",
    );
    emu.clear_faults(Some(secondary));
    emu.fault(secondary, Some("apigateway"), "error");
    assert_fails(
        &probe(&aws, json!({"url": health(secondary), "attempts": 1})).await,
        "answered 503",
    );
    emu.clear_faults(Some(secondary));

    // AWS FIS disrupts the primary's subnets (the seed's template): its endpoints hang; the
    // probe gives up after twice `max_latency`.
    let fis = aws_sdk_fis::Client::new(&emu.sdk_config(primary).await);
    let template = seed.raw["fis"]["experiment_template_id"]
        .as_str()
        .expect("the seed prints its FIS template")
        .to_string();
    let experiment = fis
        .start_experiment()
        .experiment_template_id(&template)
        .send()
        .await
        .unwrap()
        .experiment()
        .unwrap()
        .id()
        .unwrap()
        .to_string();
    let cut = support::poll(Duration::from_secs(20), || async {
        let obs = probe(
            &aws,
            json!({"url": health(primary), "attempts": 1, "max_latency": "300ms"}),
        )
        .await;
        (!obs.findings.is_empty()).then_some(obs)
    })
    .await
    .expect("the FIS experiment took the primary's endpoints down");
    assert_fails(&cut, "read timeout occurred after 1s");
    assert_passes(&probe(&aws, json!({"url": health(secondary)})).await);
    fis.stop_experiment().id(&experiment).send().await.unwrap();
    let back = support::poll(Duration::from_secs(20), || async {
        let obs = probe(&aws, json!({"url": health(primary), "attempts": 1})).await;
        obs.findings.is_empty().then_some(())
    })
    .await;
    assert!(
        back.is_some(),
        "the primary's endpoints came back after the experiment"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn http_probe_passes_on_a_healthy_stage_and_fails_under_region_faults() {
    probe_a_region_pair("probe-ca-eu", "ca-central-1", "eu-west-1").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn http_probe_on_another_region_pair() {
    probe_a_region_pair("probe-ap-sa", "ap-southeast-2", "sa-east-1").await;
}

/// Through the real binary: the shipped failover runbook gates its DNS switch on the probe, so
/// with the secondary's endpoints down at the server (the Region's `execute-api` fault, an
/// error) the run fails at `api-probe` and never touches DNS, on another Region pair.
#[tokio::test(flavor = "multi_thread")]
async fn failover_run_stops_at_the_probe_when_the_secondary_does_not_serve() {
    let emu = support::isolated_emulator("probe-gate");
    let (primary, secondary) = ("us-west-2", "eu-central-1");
    let p = unique_prefix("probe_gate");
    let seed = emu.seed_with(&p, &SeedOptions::regions(primary, secondary));
    emu.fault(secondary, Some("execute-api"), "error");
    let dir = tempfile::tempdir().unwrap();
    let vars = [
        ("primary", primary.to_string()),
        ("secondary", secondary.to_string()),
        ("table", format!("{p}vault")),
        ("key", format!("alias/{p}unolock-root")),
        ("api", format!("{p}unolock-api")),
        ("domain", format!("api.{p}unolock.example")),
        ("zone", format!("{p}unolock.example.")),
        ("record", format!("api.{p}unolock.example")),
        ("alarm", format!("{p}unolock-api-5xx")),
        ("signal_alarm", format!("{p}unolock-failover-signal")),
        ("dns_ttl", "0s".to_string()),
    ];
    let out = crate::support::cli::bin()
        .arg("run")
        .arg(support::repo_root().join("runbooks/region-failover.yaml"))
        .args(["--execute", "--yes", "--state-dir"])
        .arg(dir.path().join("state"))
        .args(
            vars.iter()
                .flat_map(|(k, v)| ["--var".to_string(), format!("{k}={v}")]),
        )
        .envs(emu.env())
        .current_dir(dir.path())
        .output();
    let all = out.text();
    out.assert_exit(1);
    assert!(all.contains("api-probe"), "{all}");
    assert!(all.contains("answered 503, not 200"), "{all}");
    emu.clear_faults(None);
    // DNS was not touched: the name still answers the primary.
    assert_eq!(
        seed.dns_answer_at(&emu).await,
        seed.route53.primary_target,
        "{all}"
    );
}
