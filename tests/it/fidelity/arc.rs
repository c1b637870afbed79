//! Fidelity: Route 53 Application Recovery Controller (ARC) routing control — clusters with
//! five Regional endpoints, routing control states, safety rules, and the Route 53 health checks
//! that follow them (see mod.rs and localstack/README.md, "Route 53 and ARC").
//!
//! The cluster endpoints are in us-east-1, us-west-2, eu-west-1, ap-northeast-1 and
//! ap-southeast-2; faulting any of them would disturb the shared emulator (Route 53's control
//! plane, the seed's secondary), so the fault test uses an isolated emulator. The seeded test
//! uses ap-southeast-7 and eu-central-2 (no faults).

use aws_sdk_route53recoverycluster::types::{RoutingControlState, UpdateRoutingControlStateEntry};
use aws_sdk_route53recoverycontrolconfig::types::{
    NewAssertionRule, NewGatingRule, RuleConfig, RuleType, Status,
};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde_json::json;

use crate::support::{self, Emulator, SeedOptions, emulator, unique_prefix};

/// The five Regions of a cluster's endpoints.
const CLUSTER_REGIONS: [&str; 5] = [
    "us-east-1",
    "us-west-2",
    "eu-west-1",
    "ap-northeast-1",
    "ap-southeast-2",
];

// ----------------------------------------------------------------------------- helpers

/// The Recovery Control Config client: "you must specify the US West (Oregon) Region" (ARC
/// developer guide, "Set up routing control components").
async fn config_client(emu: &Emulator) -> aws_sdk_route53recoverycontrolconfig::Client {
    aws_sdk_route53recoverycontrolconfig::Client::new(&emu.sdk_config("us-west-2").await)
}

/// A data-plane client for one cluster endpoint, signed for that endpoint's Region, no retries.
async fn endpoint_client(
    emu: &Emulator,
    endpoint: &str,
    region: &str,
) -> aws_sdk_route53recoverycluster::Client {
    let conf = aws_sdk_route53recoverycluster::config::Builder::from(&emu.sdk_config(region).await)
        .endpoint_url(endpoint)
        .retry_config(aws_sdk_route53recoverycluster::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_route53recoverycluster::Client::from_conf(conf)
}

struct Fixture {
    cluster_arn: String,
    panel_arn: String,
    controls: Vec<String>,
    /// (endpoint URL, Region)
    endpoints: Vec<(String, String)>,
}

impl Fixture {
    async fn client(&self, emu: &Emulator, i: usize) -> aws_sdk_route53recoverycluster::Client {
        let (endpoint, region) = &self.endpoints[i];
        endpoint_client(emu, endpoint, region).await
    }
}

/// A cluster, a control panel with `n` routing controls, and the cluster's endpoints.
async fn fixture(emu: &Emulator, p: &str, n: usize) -> Fixture {
    let cfg = config_client(emu).await;
    let cluster_arn = cfg
        .create_cluster()
        .cluster_name(format!("{p}cluster"))
        .send()
        .await
        .unwrap()
        .cluster()
        .unwrap()
        .cluster_arn()
        .unwrap()
        .to_string();
    let cluster = cfg
        .describe_cluster()
        .cluster_arn(&cluster_arn)
        .send()
        .await
        .unwrap();
    let endpoints = cluster
        .cluster()
        .unwrap()
        .cluster_endpoints()
        .iter()
        .map(|e| {
            (
                e.endpoint().unwrap().to_string(),
                e.region().unwrap().to_string(),
            )
        })
        .collect();
    let panel_arn = cfg
        .create_control_panel()
        .cluster_arn(&cluster_arn)
        .control_panel_name(format!("{p}panel"))
        .send()
        .await
        .unwrap()
        .control_panel()
        .unwrap()
        .control_panel_arn()
        .unwrap()
        .to_string();
    let mut controls = Vec::new();
    for i in 0..n {
        let rc = cfg
            .create_routing_control()
            .cluster_arn(&cluster_arn)
            .control_panel_arn(&panel_arn)
            .routing_control_name(format!("{p}cell{i}"))
            .send()
            .await
            .unwrap();
        controls.push(
            rc.routing_control()
                .unwrap()
                .routing_control_arn()
                .unwrap()
                .to_string(),
        );
    }
    Fixture {
        cluster_arn,
        panel_arn,
        controls,
        endpoints,
    }
}

async fn assertion_rule(
    emu: &Emulator,
    f: &Fixture,
    name: &str,
    controls: &[String],
    kind: RuleType,
    threshold: i32,
    inverted: bool,
) -> String {
    let cfg = config_client(emu).await;
    let mut rule = NewAssertionRule::builder()
        .control_panel_arn(&f.panel_arn)
        .name(name)
        .rule_config(
            RuleConfig::builder()
                .r#type(kind)
                .threshold(threshold)
                .inverted(inverted)
                .build(),
        )
        .wait_period_ms(5000);
    for c in controls {
        rule = rule.asserted_controls(c);
    }
    let out = cfg
        .create_safety_rule()
        .assertion_rule(rule.build())
        .send()
        .await
        .unwrap();
    out.assertion_rule()
        .unwrap()
        .safety_rule_arn()
        .unwrap()
        .to_string()
}

fn entry(arn: &str, on: bool) -> UpdateRoutingControlStateEntry {
    UpdateRoutingControlStateEntry::builder()
        .routing_control_arn(arn)
        .routing_control_state(if on {
            RoutingControlState::On
        } else {
            RoutingControlState::Off
        })
        .build()
        .unwrap()
}

/// Sets states in one transaction; Err(code) when refused.
async fn set(
    c: &aws_sdk_route53recoverycluster::Client,
    states: &[(&str, bool)],
    overrides: &[&str],
) -> Result<(), String> {
    let mut req = c.update_routing_control_states();
    for (arn, on) in states {
        req = req.update_routing_control_state_entries(entry(arn, *on));
    }
    for o in overrides {
        req = req.safety_rules_to_override(*o);
    }
    req.send()
        .await
        .map(|_| ())
        .map_err(|e| match e.as_service_error() {
            Some(se) => se.code().unwrap_or("").to_string(),
            None => format!("{e:?}"),
        })
}

async fn state(c: &aws_sdk_route53recoverycluster::Client, arn: &str) -> RoutingControlState {
    c.get_routing_control_state()
        .routing_control_arn(arn)
        .send()
        .await
        .unwrap()
        .routing_control_state()
        .clone()
}

// ----------------------------------------------------------------------------- tests

/// CreateCluster answers PENDING; DescribeCluster then shows DEPLOYED with five endpoints, one
/// per Region, each its own URL; the cluster has a default control panel. ARC developer guide,
/// "Set up routing control components"
/// (https://docs.aws.amazon.com/r53recovery/latest/dg/getting-started-cli-routing-config.html):
/// "An ARC cluster is a set of five endpoints, one in each of five different AWS Regions";
/// "When you first create a ARC resource, it has a status of PENDING ... When the status is
/// DEPLOYED, ARC has successfully created the cluster".
#[tokio::test(flavor = "multi_thread")]
async fn cluster_is_pending_then_deployed_with_five_regional_endpoints() {
    let emu = emulator();
    let p = unique_prefix("arc_cluster");
    let cfg = config_client(emu).await;
    let created = cfg
        .create_cluster()
        .cluster_name(format!("{p}cluster"))
        .send()
        .await
        .unwrap();
    let created = created.cluster().unwrap();
    assert_eq!(created.status(), Some(&Status::Pending));
    let arn = created.cluster_arn().unwrap();
    assert!(
        arn.starts_with("arn:aws:route53-recovery-control::"),
        "{arn}"
    );
    let described = cfg
        .describe_cluster()
        .cluster_arn(arn)
        .send()
        .await
        .unwrap();
    let cluster = described.cluster().unwrap();
    assert_eq!(cluster.status(), Some(&Status::Deployed));
    let mut regions: Vec<&str> = cluster
        .cluster_endpoints()
        .iter()
        .map(|e| e.region().unwrap())
        .collect();
    regions.sort();
    let mut want = CLUSTER_REGIONS.to_vec();
    want.sort();
    assert_eq!(regions, want);
    let mut urls: Vec<&str> = cluster
        .cluster_endpoints()
        .iter()
        .map(|e| e.endpoint().unwrap())
        .collect();
    urls.sort();
    urls.dedup();
    assert_eq!(urls.len(), 5, "five distinct endpoint URLs: {urls:?}");
    let panels = cfg
        .list_control_panels()
        .cluster_arn(arn)
        .send()
        .await
        .unwrap();
    assert!(
        panels
            .control_panels()
            .iter()
            .any(|p| p.default_control_panel() == Some(true)),
        "no default control panel: {panels:?}"
    );
}

/// Control panels and routing controls are PENDING when created and DEPLOYED afterwards;
/// ListRoutingControls (configuration API) lists a panel's controls. Recovery Control Config API
/// reference, Status: "PENDING: Amazon Route 53 Application Recovery Controller is creating the
/// resource. DEPLOYED: The resource is deployed and ready to use."
#[tokio::test(flavor = "multi_thread")]
async fn control_panels_and_routing_controls_deploy() {
    let emu = emulator();
    let p = unique_prefix("arc_panel");
    let f = fixture(emu, &p, 2).await;
    let cfg = config_client(emu).await;
    let panel = cfg
        .describe_control_panel()
        .control_panel_arn(&f.panel_arn)
        .send()
        .await
        .unwrap();
    let panel = panel.control_panel().unwrap();
    assert_eq!(panel.status(), Some(&Status::Deployed));
    assert_eq!(panel.routing_control_count(), Some(2));
    assert_eq!(panel.cluster_arn(), Some(f.cluster_arn.as_str()));
    let rc = cfg
        .describe_routing_control()
        .routing_control_arn(&f.controls[0])
        .send()
        .await
        .unwrap();
    assert_eq!(
        rc.routing_control().unwrap().status(),
        Some(&Status::Deployed)
    );
    let listed = cfg
        .list_routing_controls()
        .control_panel_arn(&f.panel_arn)
        .send()
        .await
        .unwrap();
    let mut names: Vec<&str> = listed
        .routing_controls()
        .iter()
        .filter_map(|r| r.name())
        .collect();
    names.sort();
    assert_eq!(names, vec![format!("{p}cell0"), format!("{p}cell1")]);
}

/// A state set through one cluster endpoint is what every other endpoint reads, and the data
/// plane's ListRoutingControls shows it. ARC developer guide, "List and update routing controls
/// and states with the AWS CLI"
/// (https://docs.aws.amazon.com/r53recovery/latest/dg/getting-started-cli-routing.control-state.html):
/// "You can use any of the Regional cluster endpoints."
#[tokio::test(flavor = "multi_thread")]
async fn every_cluster_endpoint_reads_the_same_state() {
    let emu = emulator();
    let p = unique_prefix("arc_state");
    let f = fixture(emu, &p, 1).await;
    let rc = f.controls[0].as_str();
    let first = f.client(emu, 0).await;
    assert_eq!(
        state(&first, rc).await,
        RoutingControlState::Off,
        "a new routing control is Off"
    );
    set(&f.client(emu, 3).await, &[(rc, true)], &[])
        .await
        .unwrap();
    for i in 0..5 {
        assert_eq!(
            state(&f.client(emu, i).await, rc).await,
            RoutingControlState::On,
            "endpoint {}",
            f.endpoints[i].1
        );
    }
    let listed = f
        .client(emu, 1)
        .await
        .list_routing_controls()
        .control_panel_arn(&f.panel_arn)
        .send()
        .await
        .unwrap();
    let listed = listed.routing_controls();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed[0].routing_control_state(),
        Some(&RoutingControlState::On)
    );
    assert_eq!(
        listed[0].control_panel_name(),
        Some(format!("{p}panel").as_str())
    );
}

/// A safety rule's WaitPeriodMs: "an evaluation period, in milliseconds (ms), during which any
/// request against the target routing controls will fail. This helps prevent flapping of state.
/// The wait period is 5000 ms by default" (CloudFormation, AWS::Route53RecoveryControl::SafetyRule
/// AssertionRule). The emulator answers such a request with ConflictException (the service
/// model's shape: a message, `resourceId` and `resourceType`), the rule's ARN as `resourceId`;
/// once the period has passed the same update goes through. Shortened to 1 s here.
#[tokio::test(flavor = "multi_thread")]
async fn wait_period_refuses_updates_until_it_has_passed() {
    let emu = emulator();
    let p = unique_prefix("arc_wait");
    emu.configure(serde_json::json!({"prefix": p, "arc_wait_period_seconds": 1}));
    let f = fixture(emu, &p, 2).await;
    let (a, b) = (f.controls[0].as_str(), f.controls[1].as_str());
    let rule = assertion_rule(
        emu,
        &f,
        &format!("{p}at-least-one"),
        &f.controls,
        RuleType::Atleast,
        1,
        false,
    )
    .await;
    let c = f.client(emu, 2).await;
    set(&c, &[(a, true)], &[]).await.unwrap();
    let refused = c
        .update_routing_control_states()
        .update_routing_control_state_entries(
            aws_sdk_route53recoverycluster::types::UpdateRoutingControlStateEntry::builder()
                .routing_control_arn(b)
                .routing_control_state(RoutingControlState::On)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err();
    let se = refused.into_service_error();
    let aws_sdk_route53recoverycluster::operation::update_routing_control_states::UpdateRoutingControlStatesError::ConflictException(conflict) = se else {
        panic!("a ConflictException, not {se:?}");
    };
    assert_eq!(conflict.resource_id(), rule);
    assert_eq!(state(&c, b).await, RoutingControlState::Off);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    set(&c, &[(b, true)], &[])
        .await
        .expect("the wait period has passed");
    assert_eq!(state(&c, b).await, RoutingControlState::On);
}

/// An assertion rule "at least one On" refuses an update that would turn the last one Off
/// (ConflictException), allows a swap in one UpdateRoutingControlStates transaction, and is
/// bypassed by SafetyRulesToOverride. Routing Control API reference, UpdateRoutingControlState
/// (https://docs.aws.amazon.com/routing-control/latest/APIReference/API_UpdateRoutingControlState.html):
/// "you can override one or more safety rules to change a routing control state and fail over
/// your application"; CreateSafetyRule: "the criteria might be that at least one routing control
/// state is On after the transaction ... This ensures that you avoid a fail-open scenario."
#[tokio::test(flavor = "multi_thread")]
async fn assertion_rule_refuses_breaking_updates_unless_overridden() {
    let emu = emulator();
    let p = unique_prefix("arc_assert");
    // These tests study the rules themselves, not their wait period (see
    // `wait_period_refuses_updates_until_it_has_passed`).
    emu.configure(serde_json::json!({"prefix": p, "arc_wait_period_seconds": 0}));
    let f = fixture(emu, &p, 2).await;
    let (a, b) = (f.controls[0].as_str(), f.controls[1].as_str());
    let rule = assertion_rule(
        emu,
        &f,
        &format!("{p}at-least-one"),
        &f.controls,
        RuleType::Atleast,
        1,
        false,
    )
    .await;
    let c = f.client(emu, 2).await;
    set(&c, &[(a, true)], &[]).await.unwrap();
    assert_eq!(
        set(&c, &[(a, false)], &[]).await,
        Err("ConflictException".into()),
        "last On turned Off"
    );
    assert_eq!(
        state(&c, a).await,
        RoutingControlState::On,
        "a refused update changed the state"
    );
    set(&c, &[(a, false), (b, true)], &[])
        .await
        .expect("a swap in one transaction keeps one On");
    assert_eq!(
        (state(&c, a).await, state(&c, b).await),
        (RoutingControlState::Off, RoutingControlState::On)
    );
    set(&c, &[(b, false)], &[&rule])
        .await
        .expect("SafetyRulesToOverride bypasses the rule");
    assert_eq!(state(&c, b).await, RoutingControlState::Off);
}

/// AND, OR and Inverted assertion rules. Recovery Control Config API reference, RuleType: "AND -
/// All routing controls must be set ... OR - Any control must be set"; RuleConfig `Inverted`:
/// "Logical negation of the rule. If the rule would usually evaluate true, it's evaluated as
/// false, and vice versa."
#[tokio::test(flavor = "multi_thread")]
async fn and_or_and_inverted_assertion_rules() {
    let emu = emulator();
    let p = unique_prefix("arc_rules");
    // These tests study the rules themselves, not their wait period (see
    // `wait_period_refuses_updates_until_it_has_passed`).
    emu.configure(serde_json::json!({"prefix": p, "arc_wait_period_seconds": 0}));
    let f = fixture(emu, &p, 5).await;
    let c = f.client(emu, 4).await;
    let [a, b, x, y, z] = [0, 1, 2, 3, 4].map(|i| f.controls[i].as_str());
    set(&c, &[(a, true), (b, true), (x, true)], &[])
        .await
        .unwrap();
    // AND over a, b: both must stay On
    assertion_rule(
        emu,
        &f,
        &format!("{p}and"),
        &[a.into(), b.into()],
        RuleType::And,
        0,
        false,
    )
    .await;
    assert_eq!(
        set(&c, &[(b, false)], &[]).await,
        Err("ConflictException".into()),
        "AND broken"
    );
    // OR over x, y: one must stay On
    assertion_rule(
        emu,
        &f,
        &format!("{p}or"),
        &[x.into(), y.into()],
        RuleType::Or,
        0,
        false,
    )
    .await;
    set(&c, &[(y, true)], &[]).await.unwrap();
    set(&c, &[(x, false)], &[])
        .await
        .expect("OR holds with y On");
    assert_eq!(
        set(&c, &[(y, false)], &[]).await,
        Err("ConflictException".into()),
        "OR broken"
    );
    // inverted ATLEAST 1 over z: z must stay Off ("not at least one On")
    assertion_rule(
        emu,
        &f,
        &format!("{p}never"),
        &[z.into()],
        RuleType::Atleast,
        1,
        true,
    )
    .await;
    assert_eq!(
        set(&c, &[(z, true)], &[]).await,
        Err("ConflictException".into()),
        "inverted rule broken"
    );
    assert_eq!(state(&c, z).await, RoutingControlState::Off);
}

/// A gating rule lets its target controls change only while the gating controls meet the rule.
/// Recovery Control Config API reference, CreateSafetyRule: "A gating rule lets you configure a
/// gating routing control as an overall \"on/off\" switch for a group of routing controls."
#[tokio::test(flavor = "multi_thread")]
async fn gating_rule_gates_its_target_controls() {
    let emu = emulator();
    let p = unique_prefix("arc_gating");
    // These tests study the rules themselves, not their wait period (see
    // `wait_period_refuses_updates_until_it_has_passed`).
    emu.configure(serde_json::json!({"prefix": p, "arc_wait_period_seconds": 0}));
    let f = fixture(emu, &p, 2).await;
    let (gate, target) = (f.controls[0].as_str(), f.controls[1].as_str());
    let cfg = config_client(emu).await;
    cfg.create_safety_rule()
        .gating_rule(
            NewGatingRule::builder()
                .control_panel_arn(&f.panel_arn)
                .name(format!("{p}gate"))
                .gating_controls(gate)
                .target_controls(target)
                .rule_config(
                    RuleConfig::builder()
                        .r#type(RuleType::Or)
                        .threshold(1)
                        .inverted(false)
                        .build(),
                )
                .wait_period_ms(5000)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let c = f.client(emu, 0).await;
    assert_eq!(
        set(&c, &[(target, true)], &[]).await,
        Err("ConflictException".into()),
        "gate Off"
    );
    set(&c, &[(gate, true)], &[]).await.unwrap();
    set(&c, &[(target, true)], &[])
        .await
        .expect("gate On lets the target change");
}

/// A Region fault takes out that Region's cluster endpoint only: the others still answer, so a
/// client that tries each endpoint in turn gets through. ARC developer guide, "List and update
/// routing controls and states with the AWS CLI": "We recommend that your systems be prepared to
/// retry with each of the available endpoints."
#[tokio::test(flavor = "multi_thread")]
async fn a_faulted_cluster_endpoint_fails_and_the_others_answer() {
    let emu = support::isolated_emulator("arc-endpoint-faults");
    let p = unique_prefix("arc_faults");
    let f = fixture(&emu, &p, 1).await;
    let rc = f.controls[0].as_str();
    let region = |r: &str| f.endpoints.iter().position(|(_, reg)| reg == r).unwrap();
    emu.fault("us-east-1", None, "error");
    emu.fault("us-west-2", Some("route53-recovery-cluster"), "reset");
    let east = set(
        &f.client(&emu, region("us-east-1")).await,
        &[(rc, true)],
        &[],
    )
    .await;
    assert!(east.is_err(), "the faulted us-east-1 endpoint answered");
    let west = f
        .client(&emu, region("us-west-2"))
        .await
        .get_routing_control_state()
        .routing_control_arn(rc)
        .send()
        .await;
    assert!(west.is_err(), "the faulted us-west-2 endpoint answered");
    // try each endpoint in turn, as AWS recommends
    let mut done = None;
    for (i, (_, r)) in f.endpoints.iter().enumerate() {
        if set(&f.client(&emu, i).await, &[(rc, true)], &[])
            .await
            .is_ok()
        {
            done = Some(r.clone());
            break;
        }
    }
    let done = done.expect("no cluster endpoint answered");
    assert!(
        !["us-east-1", "us-west-2"].contains(&done.as_str()),
        "{done}"
    );
    assert_eq!(
        state(&f.client(&emu, region("ap-southeast-2")).await, rc).await,
        RoutingControlState::On
    );
    emu.clear_faults(None);
    assert_eq!(
        state(&f.client(&emu, region("us-east-1")).await, rc).await,
        RoutingControlState::On
    );
}

/// The data plane answers only at a cluster endpoint, signed for that endpoint's Region. ARC
/// developer guide, "List and update routing controls and states with the AWS CLI": "You must
/// specify one of these Regional endpoints (the AWS Region and the endpoint URL) ... you must
/// also specify the --region of the Regional endpoint".
#[tokio::test(flavor = "multi_thread")]
async fn data_plane_needs_a_cluster_endpoint_and_its_region() {
    let emu = emulator();
    let p = unique_prefix("arc_endpoint");
    let f = fixture(emu, &p, 1).await;
    let rc = f.controls[0].as_str();
    let root = aws_sdk_route53recoverycluster::Client::new(&emu.sdk_config("us-east-1").await);
    let err = root
        .get_routing_control_state()
        .routing_control_arn(rc)
        .send()
        .await
        .unwrap_err();
    assert!(err.as_service_error().is_some(), "{err:?}");
    let (url, region) = &f.endpoints[0];
    let other = CLUSTER_REGIONS
        .iter()
        .find(|r| **r != region.as_str())
        .unwrap();
    let wrong = endpoint_client(emu, url, other).await;
    let err = wrong
        .get_routing_control_state()
        .routing_control_arn(rc)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.as_service_error().and_then(|e| e.code()),
        Some("InvalidSignatureException"),
        "{err:?}"
    );
    let missing = f
        .client(emu, 0)
        .await
        .get_routing_control_state()
        .routing_control_arn(format!("{rc}0"))
        .send()
        .await
        .unwrap_err();
    assert!(
        missing
            .as_service_error()
            .is_some_and(|e| e.is_resource_not_found_exception()),
        "{missing:?}"
    );
}

/// A RECOVERY_CONTROL health check follows its routing control at once (AWS documents no
/// delay): Off is unhealthy, On healthy; GetHealthCheck keeps RoutingControlArn and ARC lists
/// the check as associated. Route 53 API reference, HealthCheckConfig `Type`
/// (https://docs.aws.amazon.com/Route53/latest/APIReference/API_HealthCheckConfig.html):
/// "RECOVERY_CONTROL: ... If the routing control state is ON, the health check is considered
/// healthy. If the state is OFF, the health check is considered unhealthy."
#[tokio::test(flavor = "multi_thread")]
async fn recovery_control_health_check_follows_the_routing_control() {
    let emu = emulator();
    let p = unique_prefix("arc_health");
    let f = fixture(emu, &p, 1).await;
    let rc = f.controls[0].as_str();
    let r53 = aws_sdk_route53::Client::new(&emu.sdk_config("us-east-1").await);
    let id = r53
        .create_health_check()
        .caller_reference(format!("{p}rc-hc"))
        .health_check_config(
            aws_sdk_route53::types::HealthCheckConfig::builder()
                .r#type(aws_sdk_route53::types::HealthCheckType::RecoveryControl)
                .routing_control_arn(rc)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .health_check()
        .unwrap()
        .id()
        .to_string();
    let status = || async {
        let out = r53
            .get_health_check_status()
            .health_check_id(&id)
            .send()
            .await
            .unwrap();
        out.health_check_observations()[0]
            .status_report()
            .unwrap()
            .status()
            .unwrap()
            .to_string()
    };
    assert!(
        status().await.starts_with("Failure"),
        "Off: {}",
        status().await
    );
    set(&f.client(emu, 1).await, &[(rc, true)], &[])
        .await
        .unwrap();
    assert!(
        status().await.starts_with("Success"),
        "On: {}",
        status().await
    );
    let hc = r53
        .get_health_check()
        .health_check_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        hc.health_check()
            .unwrap()
            .health_check_config()
            .unwrap()
            .routing_control_arn(),
        Some(rc)
    );
    let cfg = config_client(emu).await;
    let assoc = cfg
        .list_associated_route53_health_checks()
        .routing_control_arn(rc)
        .send()
        .await
        .unwrap();
    assert_eq!(assoc.health_check_ids(), std::slice::from_ref(&id));
}

/// The seed's `--failover routing-control --dns alias`, on another Region pair: primary On,
/// secondary Off (active/passive), an "at least one On" rule, RECOVERY_CONTROL checks on both
/// failover alias A records; flipping the controls through a cluster endpoint moves DNS, and
/// turning both Off is refused. Routing Control API reference (introduction): "To implement
/// failover, you set one routing control to ON and another one to OFF, to reroute traffic from
/// one Availability Zone or Amazon Web Services Region to another."
#[tokio::test(flavor = "multi_thread")]
async fn seeded_routing_control_failover_moves_dns() {
    let emu = emulator();
    let (primary, secondary) = ("ap-southeast-7", "eu-central-2");
    let p = unique_prefix("arc_seed");
    let seeded = emu.seed_with(
        &p,
        &SeedOptions::regions(primary, secondary)
            .failover("routing-control")
            .dns("alias"),
    );
    let arc = &seeded.raw["arc"];
    assert_eq!(arc["states"][primary], json!("On"), "{arc}");
    assert_eq!(arc["states"][secondary], json!("Off"), "{arc}");
    let rule = arc["safety_rule_arn"].as_str().unwrap().to_string();
    assert!(!rule.is_empty());
    let controls = &arc["routing_controls"];
    let (rc_p, rc_s) = (
        controls[primary].as_str().unwrap(),
        controls[secondary].as_str().unwrap(),
    );
    let ep = &arc["cluster_endpoints"][2];
    let c = endpoint_client(
        emu,
        ep["Endpoint"].as_str().unwrap(),
        ep["Region"].as_str().unwrap(),
    )
    .await;
    let r53 = aws_sdk_route53::Client::new(&emu.sdk_config("us-east-1").await);
    let s = &seeded.route53;
    assert!(seeded.raw["route53"]["secondary_health_check_id"].is_string());
    let answers = &seeded.raw["route53"]["answers"];
    let want =
        |side: &str| -> Vec<String> { serde_json::from_value(answers[side].clone()).unwrap() };
    let dns = || async {
        r53.test_dns_answer()
            .hosted_zone_id(&s.hosted_zone_id)
            .record_name(s.record_name.trim_end_matches('.'))
            .record_type(aws_sdk_route53::types::RrType::A)
            .send()
            .await
            .unwrap()
            .record_data()
            .to_vec()
    };
    // Each answer is a rotating subset of the side's addresses (an API Gateway Regional name).
    let from = |data: Vec<String>, side: &str| {
        !data.is_empty() && data.iter().all(|a| want(side).contains(a))
    };
    assert!(from(dns().await, "primary"));
    set(&c, &[(rc_p, false), (rc_s, true)], &[]).await.unwrap();
    assert!(
        from(dns().await, "secondary"),
        "failover by routing control"
    );
    assert_eq!(
        set(&c, &[(rc_s, false)], &[]).await,
        Err("ConflictException".into()),
        "both Off refused"
    );
    set(&c, &[(rc_p, true), (rc_s, false)], &[]).await.unwrap();
    assert!(from(dns().await, "primary"), "failback");
    let again = emu.seed_with(
        &p,
        &SeedOptions::regions(primary, secondary)
            .failover("routing-control")
            .dns("alias"),
    );
    assert_eq!(
        again.raw["arc"]["cluster_arn"], arc["cluster_arn"],
        "re-seeding reuses the cluster"
    );
}
