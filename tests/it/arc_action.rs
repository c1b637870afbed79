//! `arc.set_routing_controls` and `arc.assert_routing_controls` against the emulator's ARC
//! through the real SDK: states set in one transaction and read back, no call when already set,
//! the cluster's endpoints tried in turn (client-side impairment, server-side faults), a safety
//! rule's refusal named and not retried, names resolved on the data plane, endpoints from
//! DescribeCluster when the step has none; and the shipped `us-east-1-and-primary-outage`
//! scenario end to end through the binary.
//!
//! The emulator's request recording does not see ARC's data plane (it is served beside moto), so
//! the in-process tests count calls with a proxy in front of the emulator.

use crate::support::Ran;
use std::collections::BTreeMap;
use std::sync::Arc;

use drillbook::actions::aws::{Aws, AwsOptions, Impairment};
use drillbook::actions::{
    Action, ActionError, Observation, Outcome, Params, Registry, StepContext, WaitMeter,
};
use serde_json::json;

use crate::support::faults::{Fault, FaultProxy, Rule};
use crate::support::{self, Emulator, SeedOptions, Seeded, emulator, unique_prefix};

// ------------------------------------------------------------------------------ the seed's ARC

/// What `seed --failover routing-control` built (`Seeded.raw["arc"]`).
#[derive(Debug, Clone)]
pub(crate) struct ArcSeed {
    pub cluster: String,
    /// (URL, Region), in DescribeCluster's order.
    pub endpoints: Vec<(String, String)>,
    /// Region -> routing control ARN.
    pub controls: BTreeMap<String, String>,
    pub rule_arn: String,
    pub rule_name: String,
    pub prefix: String,
}

impl ArcSeed {
    pub(crate) fn of(s: &Seeded) -> ArcSeed {
        let arc = &s.raw["arc"];
        assert!(arc.is_object(), "not seeded with routing controls: {arc}");
        ArcSeed {
            cluster: arc["cluster_arn"].as_str().unwrap().to_string(),
            endpoints: arc["cluster_endpoints"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    (
                        e["Endpoint"].as_str().unwrap().to_string(),
                        e["Region"].as_str().unwrap().to_string(),
                    )
                })
                .collect(),
            controls: serde_json::from_value(arc["routing_controls"].clone()).unwrap(),
            rule_arn: arc["safety_rule_arn"].as_str().unwrap().to_string(),
            rule_name: format!("{}unolock-at-least-one-on", s.prefix),
            prefix: s.prefix.clone(),
        }
    }

    /// The routing control's name for `region`, as the seed names it.
    pub(crate) fn name(&self, region: &str) -> String {
        format!("{}unolock-{region}", self.prefix)
    }

    pub(crate) fn urls(&self) -> Vec<String> {
        self.endpoints.iter().map(|(u, _)| u.clone()).collect()
    }

    pub(crate) fn url(&self, region: &str) -> String {
        self.endpoints
            .iter()
            .find(|(_, r)| r == region)
            .map(|(u, _)| u.clone())
            .unwrap_or_else(|| panic!("no endpoint in {region}"))
    }

    /// The state of `region`'s routing control, read at the ap-southeast-2 endpoint.
    pub(crate) async fn state(&self, emu: &Emulator, region: &str) -> String {
        let conf = aws_sdk_route53recoverycluster::config::Builder::from(
            &emu.sdk_config("ap-southeast-2").await,
        )
        .endpoint_url(self.url("ap-southeast-2"))
        .build();
        aws_sdk_route53recoverycluster::Client::from_conf(conf)
            .get_routing_control_state()
            .routing_control_arn(&self.controls[region])
            .send()
            .await
            .unwrap()
            .routing_control_state()
            .as_str()
            .to_string()
    }
}

/// `--var` arguments pointing `runbooks/region-failover-arc.yaml` at a seeded copy; the cluster
/// endpoints' `http://127.0.0.1:PORT` replaced by `base` when given (a proxy).
pub(crate) fn arc_vars(seed: &Seeded, base: Option<&str>) -> Vec<String> {
    let p = &seed.prefix;
    let arc = ArcSeed::of(seed);
    let endpoints = arc
        .urls()
        .iter()
        .map(|u| match base {
            Some(b) => u.replacen(seed.endpoint.trim_end_matches('/'), b, 1),
            None => u.clone(),
        })
        .collect::<Vec<_>>()
        .join(",");
    [
        ("primary", seed.primary_region.clone()),
        ("secondary", seed.secondary_region.clone()),
        ("table", format!("{p}vault")),
        ("key", format!("alias/{p}unolock-root")),
        ("api", format!("{p}unolock-api")),
        ("domain", format!("api.{p}unolock.example")),
        ("alarm", format!("{p}unolock-api-5xx")),
        ("dns_ttl", "0s".to_string()),
        ("cluster", arc.cluster.clone()),
        ("cluster_endpoints", endpoints),
        ("rc_primary", arc.name(&seed.primary_region)),
        ("rc_secondary", arc.name(&seed.secondary_region)),
    ]
    .into_iter()
    .flat_map(|(k, v)| ["--var".to_string(), format!("{k}={v}")])
    .collect()
}

// ------------------------------------------------------------------------------ counting

/// What the counting proxy counts: requests whose head or body contains the needle.
const NEEDLES: &[&str] = &[
    "UpdateRoutingControlStates",
    "GetRoutingControlState",
    "ListRoutingControls",
    // DescribeCluster (REST: GET /cluster/ARN), and every config call signed for us-west-2
    "GET /cluster/",
    "/route53-recovery-control-config/aws4_request",
    "/us-west-2/route53-recovery-control-config/aws4_request",
    // calls to each cluster endpoint
    "/arc/",
    "/us-east-1/v1",
    "/us-west-2/v1",
    "/eu-west-1/v1",
    "/ap-northeast-1/v1",
    "/ap-southeast-2/v1",
];

/// `Aws` pointed at the emulator through a proxy that counts requests (the emulator's request
/// recording does not see ARC's data plane, served beside moto).
struct Harness {
    aws: Arc<Aws>,
    proxy: FaultProxy,
    upstream: String,
}

/// Counter values at one moment.
type Mark = Vec<usize>;

impl Harness {
    async fn new(emu: &Emulator, impaired: Vec<Impairment>) -> Harness {
        let rules = NEEDLES
            .iter()
            .map(|n| Rule::new(n, Fault::Status(500)).times(0))
            .collect();
        let proxy = FaultProxy::start(emu.endpoint(), rules).await;
        let conf = emu
            .sdk_config(support::PRIMARY_REGION)
            .await
            .to_builder()
            .endpoint_url(proxy.endpoint())
            .build();
        let aws = Arc::new(Aws::from_config(
            conf,
            AwsOptions {
                profile: None,
                impaired,
                dns_server: emu.dns_server(),
            },
        ));
        Harness {
            aws,
            proxy,
            upstream: emu.endpoint().trim_end_matches('/').to_string(),
        }
    }

    /// A seeded endpoint URL, through the proxy.
    fn via(&self, url: &str) -> String {
        url.replacen(&self.upstream, self.proxy.endpoint(), 1)
    }

    fn urls(&self, arc: &ArcSeed) -> Vec<String> {
        arc.urls().iter().map(|u| self.via(u)).collect()
    }

    fn ctx(&self, params: serde_json::Value) -> StepContext {
        let serde_json::Value::Object(map) = params else {
            panic!("params must be a JSON object");
        };
        StepContext {
            run_id: "run-arc".into(),
            step_id: "switch".into(),
            region: None,
            params: Params(map.into_iter().collect()),
            objectives: Default::default(),
            role_arn: None,
            aws: self.aws.clone(),
            waits: WaitMeter::default(),
            earlier: None,
        }
    }

    fn mark(&self) -> Mark {
        self.proxy.seen()
    }

    /// Requests matching `needle` (one of [`NEEDLES`]) since `mark`.
    fn since(&self, mark: &Mark, needle: &str) -> usize {
        let i = NEEDLES
            .iter()
            .position(|n| *n == needle)
            .unwrap_or_else(|| panic!("`{needle}` is not counted"));
        self.proxy.seen()[i] - mark[i]
    }

    /// Every counter since `mark`, for messages.
    fn counts(&self, mark: &Mark) -> BTreeMap<&'static str, usize> {
        NEEDLES.iter().map(|n| (*n, self.since(mark, n))).collect()
    }
}

fn impaired(region: &str, service: Option<&str>) -> Impairment {
    Impairment {
        region: region.into(),
        service: service.map(str::to_string),
    }
}

fn action(name: &str) -> Arc<dyn Action> {
    Registry::builtin()
        .get(name)
        .unwrap_or_else(|| panic!("{name} is not registered"))
}

/// What the engine does: observe, fail on findings, apply only when there are changes, verify.
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

fn seed_arc(emu: &Emulator, name: &str) -> (Seeded, ArcSeed) {
    let s = emu.seed_with(
        &unique_prefix(name),
        &SeedOptions::default().failover("routing-control"),
    );
    let arc = ArcSeed::of(&s);
    (s, arc)
}

/// The failover's states (secondary On, primary Off) by ARN.
fn failover_states(s: &Seeded, arc: &ArcSeed) -> serde_json::Value {
    json!({
        arc.controls[&s.secondary_region].clone(): "On",
        arc.controls[&s.primary_region].clone(): "Off",
    })
}

// ------------------------------------------------------------------------------ tests

#[tokio::test(flavor = "multi_thread")]
async fn sets_every_state_in_one_call_reads_them_back_and_a_second_run_makes_no_call() {
    let emu = emulator();
    let (s, arc) = seed_arc(emu, "arc_set");
    let (p, sec) = (s.primary_region.as_str(), s.secondary_region.as_str());
    assert_eq!(arc.state(emu, p).await, "On");
    assert_eq!(arc.state(emu, sec).await, "Off");
    let h = Harness::new(emu, vec![]).await;
    let urls = h.urls(&arc);
    let ctx = h.ctx(json!({
        "cluster": arc.cluster,
        "endpoints": urls,
        "states": failover_states(&s, &arc),
    }));

    let m = h.mark();
    let (obs, out) = run("arc.set_routing_controls", &ctx).await.unwrap();
    assert_eq!(obs.changes.len(), 1, "{obs:?}");
    assert!(obs.changes[0].contains("Off -> On"), "{obs:?}");
    assert!(
        obs.outputs.is_empty(),
        "endpoint is known after the change: {obs:?}"
    );
    assert_eq!(out.changes.len(), 1, "{out:?}");
    let n = h.counts(&m);
    assert_eq!(n["UpdateRoutingControlStates"], 1, "{n:?}");
    // the first endpoint answered and is named
    assert_eq!(out.outputs["endpoint"], urls[0]);
    assert_eq!(out.outputs["endpoint_region"], arc.endpoints[0].1);
    assert!(
        out.outputs["states"].contains(&format!("{}=On", arc.controls[sec])),
        "{out:?}"
    );
    // read back with GetRoutingControlState (observe, apply's re-read, verify)
    assert_eq!(n["GetRoutingControlState"], 6, "{n:?}");
    // the data plane only: no control-config call, every call at a cluster endpoint
    assert_eq!(
        n["/route53-recovery-control-config/aws4_request"], 0,
        "{n:?}"
    );
    assert_eq!(n["/arc/"], 7, "{n:?}");
    assert_eq!(n["/us-east-1/v1"], 7, "{n:?}");
    assert_eq!(arc.state(emu, p).await, "Off");
    assert_eq!(arc.state(emu, sec).await, "On");

    // Second run: already set, so no mutating call; the same outputs.
    let m = h.mark();
    let (obs2, out2) = run("arc.set_routing_controls", &ctx).await.unwrap();
    assert!(obs2.changes.is_empty(), "{obs2:?}");
    assert!(out2.changes.is_empty());
    assert_eq!(
        h.since(&m, "UpdateRoutingControlStates"),
        0,
        "{:?}",
        h.counts(&m)
    );
    assert_eq!(out2.outputs["states"], out.outputs["states"]);
    assert_eq!(out2.outputs["endpoint"], urls[0]);
    // apply itself re-reads first: called again (a resumed in-doubt step), it makes no call
    let m = h.mark();
    let again = action("arc.set_routing_controls")
        .apply(&ctx, &obs)
        .await
        .unwrap();
    assert!(again.changes.is_empty(), "{again:?}");
    assert_eq!(h.since(&m, "UpdateRoutingControlStates"), 0);

    // arc.assert_routing_controls holds now, and names what differs otherwise.
    let a = action("arc.assert_routing_controls");
    let ok = a.observe(&ctx).await.unwrap();
    assert!(ok.findings.is_empty(), "{ok:?}");
    let wrong = a
        .observe(&h.ctx(json!({
            "cluster": arc.cluster,
            "endpoints": urls,
            "states": { arc.controls[p].clone(): "On" },
        })))
        .await
        .unwrap();
    assert_eq!(wrong.findings.len(), 1, "{wrong:?}");
    assert!(
        wrong.findings[0].message.contains("is Off, not On"),
        "{wrong:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn names_resolve_through_the_cluster_endpoint_and_unknown_names_are_findings() {
    let emu = emulator();
    let (s, arc) = seed_arc(emu, "arc_names");
    let h = Harness::new(emu, vec![]).await;
    let (p, sec) = (s.primary_region.as_str(), s.secondary_region.as_str());
    let m = h.mark();
    let ctx = h.ctx(json!({
        "cluster": arc.cluster,
        "endpoints": h.urls(&arc).join(","),
        "states": { arc.name(sec): "on", arc.name(p): "OFF" },
    }));
    let (_, out) = run("arc.set_routing_controls", &ctx).await.unwrap();
    assert_eq!(out.changes.len(), 1, "{out:?}");
    let n = h.counts(&m);
    assert!(n["ListRoutingControls"] >= 1, "{n:?}");
    assert_eq!(
        n["/route53-recovery-control-config/aws4_request"], 0,
        "a name must resolve on the data plane, not the config API: {n:?}"
    );
    assert_eq!(arc.state(emu, sec).await, "On");
    assert_eq!(arc.state(emu, p).await, "Off");
    assert_eq!(
        out.outputs["states"],
        format!("{}=Off,{}=On", arc.name(p), arc.name(sec))
    );

    let missing = action("arc.set_routing_controls")
        .observe(&h.ctx(json!({
            "cluster": arc.cluster,
            "endpoints": h.urls(&arc),
            "states": { format!("{}nope", arc.prefix): "On" },
        })))
        .await
        .unwrap();
    assert_eq!(missing.findings.len(), 1, "{missing:?}");
    assert!(
        missing.findings[0]
            .message
            .contains("no routing control named"),
        "{missing:?}"
    );
    assert!(missing.changes.is_empty());
    let bad = action("arc.set_routing_controls")
        .observe(&h.ctx(json!({
            "cluster": arc.cluster,
            "endpoints": h.urls(&arc),
            "states": { arc.name(p): "toggle" },
        })))
        .await
        .unwrap_err();
    assert!(matches!(bad, ActionError::Invalid { .. }), "{bad:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn endpoints_come_from_describe_cluster_in_us_west_2_when_the_step_has_none() {
    let emu = emulator();
    let (s, arc) = seed_arc(emu, "arc_describe");
    let h = Harness::new(emu, vec![]).await;
    let ctx = h.ctx(json!({
        "cluster": arc.cluster,
        "states": failover_states(&s, &arc),
    }));
    let m = h.mark();
    let obs = action("arc.set_routing_controls")
        .observe(&ctx)
        .await
        .unwrap();
    let n = h.counts(&m);
    assert_eq!(n["GET /cluster/"], 1, "{n:?}");
    assert_eq!(
        n["/us-west-2/route53-recovery-control-config/aws4_request"], 1,
        "DescribeCluster is signed for us-west-2: {n:?}"
    );
    // The dry run prints them, ready to paste into `endpoints:` (DescribeCluster names them
    // at the host it was asked through: here the proxy).
    assert!(obs.summary.contains("DescribeCluster"), "{}", obs.summary);
    for url in h.urls(&arc) {
        assert!(obs.summary.contains(&url), "{url} not in {}", obs.summary);
    }
    assert_eq!(obs.facts["cluster_endpoints"].as_array().unwrap().len(), 5);
    assert_eq!(obs.facts["endpoints_from"], "DescribeCluster");
    assert_eq!(obs.changes.len(), 1);
    let (_, out) = run("arc.set_routing_controls", &ctx).await.unwrap();
    assert_eq!(out.outputs["endpoint"], h.urls(&arc)[0]);

    // With us-west-2 lost, DescribeCluster cannot be called: the error says to write them down.
    let lost = Harness::new(emu, vec![impaired("us-west-2", None)]).await;
    let m = lost.mark();
    let err = action("arc.set_routing_controls")
        .observe(&lost.ctx(json!({
            "cluster": arc.cluster,
            "states": failover_states(&s, &arc),
        })))
        .await
        .unwrap_err();
    assert!(matches!(&err, ActionError::Impaired { .. }), "{err:?}");
    assert_eq!(lost.proxy.seen(), m, "nothing was sent");
}

#[tokio::test(flavor = "multi_thread")]
async fn endpoints_in_impaired_regions_are_passed_over() {
    let emu = emulator();
    let (s, arc) = seed_arc(emu, "arc_impair");
    // us-east-1 lost (every service): the next endpoint takes the switch.
    let h = Harness::new(emu, vec![impaired("us-east-1", None)]).await;
    let params = json!({
        "cluster": arc.cluster,
        "endpoints": h.urls(&arc),
        "states": failover_states(&s, &arc),
    });
    let m = h.mark();
    let (obs, out) = run("arc.set_routing_controls", &h.ctx(params.clone()))
        .await
        .unwrap();
    assert_eq!(out.outputs["endpoint_region"], "us-west-2", "{out:?}");
    assert_eq!(out.outputs["endpoint"], h.via(&arc.url("us-west-2")));
    let n = h.counts(&m);
    assert_eq!(
        n["/us-east-1/v1"], 0,
        "a call went to the impaired Region: {n:?}"
    );
    assert_eq!(n["UpdateRoutingControlStates"], 1, "{n:?}");
    assert!(
        obs.summary.contains("passed over: us-east-1"),
        "{}",
        obs.summary
    );
    assert!(
        h.aws.refused_calls().is_empty(),
        "passed over, not refused: {:?}",
        h.aws.refused_calls()
    );
    assert_eq!(arc.state(emu, &s.secondary_region).await, "On");

    // ARC impaired in us-west-2 as well (service-scoped): eu-west-1 answers.
    let h2 = Harness::new(
        emu,
        vec![
            impaired("us-east-1", None),
            impaired("us-west-2", Some("arc")),
        ],
    )
    .await;
    let obs = action("arc.assert_routing_controls")
        .observe(&h2.ctx(params.clone()))
        .await
        .unwrap();
    assert!(obs.findings.is_empty(), "{obs:?}");
    assert_eq!(obs.outputs["endpoint_region"], "eu-west-1", "{obs:?}");

    // Route 53 impaired in us-east-1 is not ARC: the us-east-1 cluster endpoint still serves.
    let h3 = Harness::new(emu, vec![impaired("us-east-1", Some("route53"))]).await;
    let obs = action("arc.assert_routing_controls")
        .observe(&h3.ctx(params.clone()))
        .await
        .unwrap();
    assert_eq!(obs.outputs["endpoint_region"], "us-east-1", "{obs:?}");

    // Every endpoint impaired: nothing to try, and nothing to retry.
    let all = arc
        .endpoints
        .iter()
        .map(|(_, r)| impaired(r, None))
        .collect();
    let h4 = Harness::new(emu, all).await;
    let m = h4.mark();
    let err = action("arc.assert_routing_controls")
        .observe(&h4.ctx(params))
        .await
        .unwrap_err();
    match &err {
        ActionError::Aws(f) => {
            assert_eq!(f.code, "NoClusterEndpointAnswered", "{err:?}");
            assert!(!f.retryable, "{err:?}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(h4.proxy.seen(), m, "nothing was sent");
}

/// Server-side faults on shared Regions (us-east-1, us-west-2), so an emulator of its own.
#[tokio::test(flavor = "multi_thread")]
async fn endpoints_that_do_not_answer_are_moved_on_from() {
    let emu = support::isolated_emulator("arc-action-faults");
    let (s, arc) = seed_arc(&emu, "arc_faults");
    emu.fault("us-east-1", None, "error");
    emu.fault("us-west-2", Some("route53-recovery-cluster"), "reset");
    let h = Harness::new(&emu, vec![]).await;
    let ctx = h.ctx(json!({
        "cluster": arc.cluster,
        "endpoints": h.urls(&arc),
        "states": failover_states(&s, &arc),
    }));
    let m = h.mark();
    let (obs, out) = run("arc.set_routing_controls", &ctx).await.unwrap();
    assert_eq!(out.outputs["endpoint_region"], "eu-west-1", "{out:?}");
    let passed = obs.facts["endpoints_passed_over"].as_array().unwrap();
    assert_eq!(passed.len(), 2, "{obs:?}");
    let n = h.counts(&m);
    // Each faulted endpoint tried once by observe and once by apply (no SDK retries); verify
    // starts at the endpoint that took the update.
    assert_eq!(n["/us-east-1/v1"], 2, "{n:?}");
    assert_eq!(n["/us-west-2/v1"], 2, "{n:?}");
    assert_eq!(arc.state(&emu, &s.secondary_region).await, "On");
    assert_eq!(arc.state(&emu, &s.primary_region).await, "Off");

    // None answering: a retryable error that names every endpoint.
    for (_, r) in &arc.endpoints {
        emu.fault(r, Some("route53-recovery-cluster"), "error");
    }
    let err = action("arc.assert_routing_controls")
        .observe(&ctx)
        .await
        .unwrap_err();
    match &err {
        ActionError::Aws(f) => {
            assert_eq!(f.code, "NoClusterEndpointAnswered", "{err:?}");
            assert!(f.retryable, "{err:?}");
            for (_, r) in &arc.endpoints {
                assert!(f.message.contains(r.as_str()), "{r}: {err:?}");
            }
        }
        other => panic!("{other:?}"),
    }
    emu.clear_faults(None);
}

/// A refusal that persists past `conflict_retry` names the rule (by the error's `resourceId`
/// and DescribeSafetyRule, never by parsing its message) and changes nothing.
#[tokio::test(flavor = "multi_thread")]
async fn a_safety_rule_refusal_that_persists_names_the_rule() {
    let emu = emulator();
    let (s, arc) = seed_arc(emu, "arc_rule");
    let h = Harness::new(emu, vec![]).await;
    // Both Off breaks "at least one On".
    let both_off = json!({
        "cluster": arc.cluster,
        "endpoints": h.urls(&arc),
        "states": { arc.name(&s.primary_region): "Off", arc.name(&s.secondary_region): "Off" },
        "conflict_retry": "1s",
    });
    let ctx = h.ctx(both_off.clone());
    let m = h.mark();
    let err = run("arc.set_routing_controls", &ctx).await.unwrap_err();
    let ActionError::Precondition { findings } = &err else {
        panic!("a finding, not {err:?}");
    };
    assert!(!err.retryable());
    assert_eq!(findings.len(), 1);
    assert!(
        findings[0]
            .message
            .contains(&format!("`{}`", arc.rule_name)),
        "{findings:?}"
    );
    assert!(findings[0].message.contains(&arc.rule_arn), "{findings:?}");
    assert!(
        findings[0].message.contains("ConflictException"),
        "{findings:?}"
    );
    assert!(
        findings[0].hint.contains("safety_rules_to_override"),
        "{findings:?}"
    );
    // Retried within the window, always at the first endpoint: a refusal is not an
    // unreachable endpoint.
    let n = h.counts(&m);
    assert!(n["UpdateRoutingControlStates"] >= 2, "{n:?}");
    assert_eq!(n["/us-west-2/v1"], 0, "{n:?}");
    assert_eq!(arc.state(emu, &s.primary_region).await, "On");

    // Breaking glass on purpose is a deliberate parameter.
    let mut p = both_off;
    p["safety_rules_to_override"] = json!([arc.rule_arn]);
    run("arc.set_routing_controls", &h.ctx(p)).await.unwrap();
    assert_eq!(arc.state(emu, &s.primary_region).await, "Off");
    assert_eq!(arc.state(emu, &s.secondary_region).await, "Off");
}

/// A safety rule's WaitPeriodMs refuses updates for a while after a change
/// (ConflictException: "try again"). A failback right after the failover is retried with
/// backoff and goes through once the period has passed. The emulator's wait is 6 s for this
/// test's rule (AWS's default is 5000 ms).
#[tokio::test(flavor = "multi_thread")]
async fn a_failback_inside_the_wait_period_is_retried_until_it_goes_through() {
    let emu = emulator();
    let prefix = unique_prefix("arc_wait");
    let s = emu.seed_with(&prefix, &SeedOptions::default().failover("routing-control"));
    let arc = ArcSeed::of(&s);
    emu.configure(json!({"prefix": prefix, "arc_wait_period_seconds": 6}));
    let h = Harness::new(emu, vec![]).await;
    let states = |primary: &str, secondary: &str| {
        json!({
            "cluster": arc.cluster,
            "endpoints": h.urls(&arc),
            "states": { arc.name(&s.primary_region): primary, arc.name(&s.secondary_region): secondary },
        })
    };
    run("arc.set_routing_controls", &h.ctx(states("Off", "On")))
        .await
        .unwrap();
    let m = h.mark();
    let started = std::time::Instant::now();
    run("arc.set_routing_controls", &h.ctx(states("On", "Off")))
        .await
        .unwrap();
    let n = h.counts(&m);
    assert!(
        n["UpdateRoutingControlStates"] >= 2,
        "refused, then retried: {n:?}"
    );
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(arc.state(emu, &s.primary_region).await, "On");
    assert_eq!(arc.state(emu, &s.secondary_region).await, "Off");
}

// ------------------------------------------------------------------------------ the shipped scenario

/// A team whose primary is us-east-1 loses it: `scenarios/us-east-1-and-primary-outage.yaml`
/// through the binary fails over to us-west-2 without Route 53's control plane, and the
/// routing controls in the emulator show it.
#[tokio::test(flavor = "multi_thread")]
async fn us_east_1_and_primary_outage_drill_fails_a_us_east_1_primary_over() {
    let emu = emulator();
    let seed = emu.seed_with(
        &unique_prefix("arc_drill"),
        &SeedOptions::regions("us-east-1", "us-west-2").failover("routing-control"),
    );
    let arc = ArcSeed::of(&seed);
    let dir = tempfile::tempdir().unwrap();
    let scenario = support::repo_root().join("scenarios/us-east-1-and-primary-outage.yaml");
    let out = tokio::task::spawn_blocking({
        let state = dir.path().join("state");
        let vars = arc_vars(&seed, None);
        move || {
            crate::support::cli::bin()
                .args(["drill", scenario.to_str().unwrap(), "--execute", "--yes"])
                .args(&vars)
                .arg("--state-dir")
                .arg(&state)
                .envs(emulator().env())
                .output()
        }
    })
    .await
    .unwrap();
    let all = out.text();
    out.assert_exit(0);
    for line in [
        "PASS  switch-made",
        "PASS  routing-controls-switched",
        "PASS  dns-answers-over-dns",
        "PASS  promotion-deferred",
        "PASS  key-works-in-secondary",
        "PASS  data-in-secondary",
        "drill `us-east-1-and-primary-outage` PASSED",
    ] {
        assert!(all.contains(line), "missing `{line}` in:\n{all}");
    }
    // The only call refused in the lost Regions is the KMS promotion's.
    let refused: Vec<&str> = all
        .lines()
        .skip_while(|l| !l.contains("steps that needed an impaired Region"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .collect();
    assert!(
        !refused.is_empty() && refused.iter().all(|l| l.contains("promote-key")),
        "{refused:?}\n{all}"
    );
    assert_eq!(arc.state(emu, "us-west-2").await, "On");
    assert_eq!(arc.state(emu, "us-east-1").await, "Off");
    // DNS follows the routing controls (RECOVERY_CONTROL health checks).
    let answer = seed.dns_answer().await;
    assert!(answer.contains("us-west-2"), "DNS answers {answer}");
}
