//! Fidelity: Route 53 health checks that measure, and TestDNSAnswer as Route 53 answers (see
//! mod.rs and localstack/README.md, "Route 53 and ARC").
//!
//! Region faults hold for the whole shared emulator, so each test that adds one uses a Region
//! no other test uses: ap-south-2, il-central-1, me-central-1, ap-southeast-3 and ap-east-2 are
//! this file's.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, HealthCheckConfig, HealthCheckType,
    ResourceRecord, ResourceRecordSet, ResourceRecordSetFailover, RrType,
};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::support::{self, Emulator, SeedOptions, emulator, unique_prefix};

// ----------------------------------------------------------------------------- helpers

async fn r53(emu: &Emulator) -> aws_sdk_route53::Client {
    // Route 53's control plane is in us-east-1.
    aws_sdk_route53::Client::new(&emu.sdk_config("us-east-1").await)
}

async fn create_check(
    r53: &aws_sdk_route53::Client,
    caller_ref: &str,
    config: HealthCheckConfig,
) -> String {
    r53.create_health_check()
        .caller_reference(caller_ref)
        .health_check_config(config)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateHealthCheck {caller_ref}: {e:?}"))
        .health_check()
        .unwrap()
        .id()
        .to_string()
}

fn https_check(fqdn: &str) -> HealthCheckConfig {
    HealthCheckConfig::builder()
        .r#type(HealthCheckType::Https)
        .fully_qualified_domain_name(fqdn)
        .port(443)
        .resource_path("/prod/health")
        .build()
        .unwrap()
}

/// The StatusReport of the first health checker.
async fn status(r53: &aws_sdk_route53::Client, id: &str) -> String {
    let out = r53
        .get_health_check_status()
        .health_check_id(id)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetHealthCheckStatus {id}: {e:?}"));
    let obs = out.health_check_observations();
    assert!(!obs.is_empty(), "no health checker observations for {id}");
    obs[0]
        .status_report()
        .unwrap()
        .status()
        .unwrap()
        .to_string()
}

async fn healthy(r53: &aws_sdk_route53::Client, id: &str) -> bool {
    let s = status(r53, id).await;
    assert!(s.starts_with("Success") || s.starts_with("Failure"), "{s}");
    s.starts_with("Success")
}

/// Polls until the check reports `want`; returns how long that took.
async fn wait_health(
    r53: &aws_sdk_route53::Client,
    id: &str,
    want: bool,
    timeout: Duration,
) -> Duration {
    let start = Instant::now();
    let got = support::poll(timeout, || async {
        (healthy(r53, id).await == want).then_some(())
    })
    .await;
    assert!(
        got.is_some(),
        "health check {id} not {} within {timeout:?}",
        if want { "healthy" } else { "unhealthy" }
    );
    start.elapsed()
}

async fn create_zone(r53: &aws_sdk_route53::Client, name: &str) -> String {
    r53.create_hosted_zone()
        .name(name)
        .caller_reference(format!("{name}-zone"))
        .send()
        .await
        .unwrap()
        .hosted_zone()
        .unwrap()
        .id()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string()
}

async fn upsert(r53: &aws_sdk_route53::Client, zone: &str, sets: Vec<ResourceRecordSet>) {
    let mut batch = ChangeBatch::builder();
    for set in sets {
        batch = batch.changes(
            Change::builder()
                .action(ChangeAction::Upsert)
                .resource_record_set(set)
                .build()
                .unwrap(),
        );
    }
    r53.change_resource_record_sets()
        .hosted_zone_id(zone)
        .change_batch(batch.build().unwrap())
        .send()
        .await
        .unwrap_or_else(|e| panic!("ChangeResourceRecordSets: {e:?}"));
}

/// A record with values (`rtype` A, CNAME, TXT ...), optionally in a routing policy.
fn record(
    name: &str,
    rtype: RrType,
    value: &str,
) -> aws_sdk_route53::types::builders::ResourceRecordSetBuilder {
    ResourceRecordSet::builder()
        .name(name)
        .r#type(rtype)
        .ttl(60)
        .resource_records(ResourceRecord::builder().value(value).build().unwrap())
}

fn alias(
    name: &str,
    rtype: RrType,
    zone_id: &str,
    target: &str,
    evaluate: bool,
) -> aws_sdk_route53::types::builders::ResourceRecordSetBuilder {
    ResourceRecordSet::builder()
        .name(name)
        .r#type(rtype)
        .alias_target(
            AliasTarget::builder()
                .hosted_zone_id(zone_id)
                .dns_name(target)
                .evaluate_target_health(evaluate)
                .build()
                .unwrap(),
        )
}

/// TestDNSAnswer: (ResponseCode, RecordData).
async fn answer(
    r53: &aws_sdk_route53::Client,
    zone: &str,
    name: &str,
    rtype: RrType,
) -> (String, Vec<String>) {
    let out = r53
        .test_dns_answer()
        .hosted_zone_id(zone)
        .record_name(name)
        .record_type(rtype.clone())
        .send()
        .await
        .unwrap_or_else(|e| panic!("TestDNSAnswer {name} {rtype:?}: {e:?}"));
    assert_eq!(out.record_name(), name);
    assert_eq!(out.record_type(), &rtype);
    assert_eq!(out.protocol(), "UDP");
    assert!(!out.nameserver().is_empty());
    (out.response_code().to_string(), out.record_data().to_vec())
}

fn control(
    emu: &Emulator,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> serde_json::Value {
    let body = body.map(|b| b.to_string());
    let (code, text) = support::http::request(emu.endpoint(), method, path, body.as_deref())
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    assert_eq!(code, 200, "{method} {path} -> {code}: {text}");
    serde_json::from_str(&text).unwrap()
}

/// A REGIONAL API Gateway custom domain in `region`: its regional domain name.
async fn regional_domain(emu: &Emulator, region: &str, p: &str) -> String {
    let apigw = aws_sdk_apigateway::Client::new(&emu.sdk_config(region).await);
    apigw
        .create_domain_name()
        .domain_name(format!("api.{p}{region}.example"))
        .regional_certificate_arn(format!("arn:aws:acm:{region}:123456789012:certificate/{p}"))
        .endpoint_configuration(
            aws_sdk_apigateway::types::EndpointConfiguration::builder()
                .types(aws_sdk_apigateway::types::EndpointType::Regional)
                .build(),
        )
        .send()
        .await
        .unwrap()
        .regional_domain_name()
        .unwrap()
        .to_string()
}

// ----------------------------------------------------------------------------- health checks

/// An HTTPS health check on an API Gateway regional endpoint fails while that endpoint's Region
/// has a fault for API Gateway, and recovers after the fault is cleared, each after the
/// measuring delay (here `route53_health_seconds` = 1 for the check's prefix). Route 53
/// developer guide, "How Amazon Route 53 determines whether a health check is healthy"
/// (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-determining-health-of-endpoints.html):
/// each health checker evaluates "Whether the endpoint responds to a number of consecutive
/// health checks that you specify (the failure threshold)".
#[tokio::test(flavor = "multi_thread")]
async fn endpoint_check_fails_with_its_region_and_recovers_after_the_delay() {
    let emu = emulator();
    let region = "ap-south-2";
    let p = unique_prefix("r53_endpoint");
    let target = regional_domain(emu, region, &p).await;
    let r53 = r53(emu).await;
    emu.configure(json!({"prefix": p, "route53_health_seconds": 1}));
    let id = create_check(&r53, &format!("{p}hc"), https_check(&target)).await;
    tokio::time::sleep(Duration::from_millis(1100)).await; // past "new health check" time
    assert!(healthy(&r53, &id).await, "{}", status(&r53, &id).await);

    emu.fault(region, Some("apigateway"), "error");
    assert!(
        healthy(&r53, &id).await,
        "failed before FailureThreshold x RequestInterval"
    );
    let took = wait_health(&r53, &id, false, Duration::from_secs(10)).await;
    emu.clear_faults(Some(region));
    assert!(
        took >= Duration::from_millis(900),
        "failed after {took:?}, before the 1 s delay"
    );
    assert!(
        status(&r53, &id).await.contains("503"),
        "{}",
        status(&r53, &id).await
    );

    assert!(!healthy(&r53, &id).await, "recovered before the delay");
    let took = wait_health(&r53, &id, true, Duration::from_secs(10)).await;
    assert!(
        took >= Duration::from_millis(900),
        "recovered after {took:?}, before the delay"
    );
}

/// Without a setting, the measuring delay is the check's own FailureThreshold x
/// RequestInterval (here 1 x 10 s), for an IP-address check whose address is registered as
/// served from il-central-1 (`POST /_drillbook/targets`). Route 53 API reference,
/// HealthCheckConfig (https://docs.aws.amazon.com/Route53/latest/APIReference/API_HealthCheckConfig.html):
/// FailureThreshold is "The number of consecutive health checks that an endpoint must pass or
/// fail for Amazon Route 53 to change the current status of the endpoint"; RequestInterval is
/// "The number of seconds between the time that Amazon Route 53 gets a response from your
/// endpoint and the time that it sends the next health check request".
#[tokio::test(flavor = "multi_thread")]
async fn endpoint_check_delay_defaults_to_failure_threshold_times_request_interval() {
    let emu = emulator();
    let region = "il-central-1";
    let p = unique_prefix("r53_default_delay");
    let ip = "192.0.2.77";
    control(
        emu,
        "POST",
        "/_drillbook/targets",
        Some(json!({"name": ip, "region": region})),
    );
    let r53 = r53(emu).await;
    // no route53_health_seconds for this prefix: the documented default applies
    let config = HealthCheckConfig::builder()
        .r#type(HealthCheckType::Tcp)
        .ip_address(ip)
        .port(443)
        .request_interval(10)
        .failure_threshold(1)
        .build()
        .unwrap();
    let id = create_check(&r53, &format!("{p}hc"), config).await;
    emu.fault(region, None, "reset");
    tokio::time::sleep(Duration::from_secs(5)).await;
    let early = healthy(&r53, &id).await;
    let took = wait_health(&r53, &id, false, Duration::from_secs(20)).await;
    emu.clear_faults(Some(region));
    assert!(early, "unhealthy 5 s into a 1 x 10 s failure threshold");
    assert!(
        took >= Duration::from_secs(4),
        "unhealthy {took:?} after the 5 s check"
    );
    assert!(
        status(&r53, &id).await.starts_with("Failure: Connection"),
        "TCP check"
    );
}

/// A health check created while its endpoint is down is healthy until it has measured.
/// Route 53 developer guide, "How Amazon Route 53 determines whether a health check is
/// healthy": "Route 53 considers a new health check to be healthy until there's enough data to
/// determine the actual status, healthy or unhealthy."
#[tokio::test(flavor = "multi_thread")]
async fn new_health_check_is_healthy_until_it_has_measured() {
    let emu = emulator();
    let region = "me-central-1";
    let p = unique_prefix("r53_new_check");
    let target = regional_domain(emu, region, &p).await;
    let r53 = r53(emu).await;
    emu.configure(json!({"prefix": p, "route53_health_seconds": 1}));
    emu.fault(region, Some("apigateway"), "hang");
    let id = create_check(&r53, &format!("{p}hc"), https_check(&target)).await;
    let first = healthy(&r53, &id).await;
    let took = wait_health(&r53, &id, false, Duration::from_secs(10)).await;
    emu.clear_faults(Some(region));
    assert!(first, "a new health check started unhealthy");
    assert!(
        took >= Duration::from_millis(800),
        "unhealthy after {took:?}"
    );
}

/// Only the endpoint's own service makes it fail: a fault for DynamoDB in the endpoint's
/// Region leaves an API Gateway endpoint healthy (the health checker's request goes to the
/// endpoint, "Route 53 tries to establish a TCP connection. If successful, Route 53 submits an
/// HTTPS request and waits for an HTTP status code of 200 or greater and less than 400" —
/// Route 53 API reference, HealthCheckConfig `Type`).
#[tokio::test(flavor = "multi_thread")]
async fn fault_of_another_service_leaves_the_endpoint_healthy() {
    let emu = emulator();
    let region = "ap-southeast-3";
    let p = unique_prefix("r53_other_service");
    let target = regional_domain(emu, region, &p).await;
    let r53 = r53(emu).await;
    emu.configure(json!({"prefix": p, "route53_health_seconds": 0}));
    let id = create_check(&r53, &format!("{p}hc"), https_check(&target)).await;
    emu.fault(region, Some("dynamodb"), "error");
    let with_ddb_fault = healthy(&r53, &id).await;
    emu.fault(region, Some("apigateway"), "error");
    let with_apigw_fault = healthy(&r53, &id).await;
    emu.clear_faults(Some(region));
    assert!(
        with_ddb_fault,
        "a DynamoDB fault failed an API Gateway endpoint"
    );
    assert!(
        !with_apigw_fault,
        "an API Gateway fault left its endpoint healthy"
    );
}

/// A CALCULATED check counts its healthy children against HealthThreshold; 0 means always
/// healthy, more than the children always unhealthy. Route 53 API reference, HealthCheckConfig
/// `HealthThreshold`: "If you specify a number greater than the number of child health checks,
/// Route 53 always considers this health check to be unhealthy. If you specify 0, Route 53
/// always considers this health check to be healthy."
#[tokio::test(flavor = "multi_thread")]
async fn calculated_check_counts_healthy_children_against_health_threshold() {
    let emu = emulator();
    let p = unique_prefix("r53_calculated");
    let r53 = r53(emu).await;
    let a = create_check(&r53, &format!("{p}a"), https_check("a.example.test")).await;
    let b = create_check(&r53, &format!("{p}b"), https_check("b.example.test")).await;
    let calc = HealthCheckConfig::builder()
        .r#type(HealthCheckType::Calculated)
        .child_health_checks(&a)
        .child_health_checks(&b)
        .health_threshold(2)
        .build()
        .unwrap();
    let id = create_check(&r53, &format!("{p}calc"), calc).await;
    assert!(healthy(&r53, &id).await, "2 of 2 healthy, threshold 2");
    emu.set_health(&b, false);
    assert!(!healthy(&r53, &id).await, "1 of 2 healthy, threshold 2");
    let set_threshold = |n: i32| {
        let r53 = r53.clone();
        let id = id.clone();
        async move {
            r53.update_health_check()
                .health_check_id(id)
                .health_threshold(n)
                .send()
                .await
                .unwrap();
        }
    };
    set_threshold(1).await;
    assert!(healthy(&r53, &id).await, "1 of 2 healthy, threshold 1");
    emu.set_health(&a, false);
    assert!(!healthy(&r53, &id).await, "0 of 2 healthy, threshold 1");
    set_threshold(0).await;
    assert!(healthy(&r53, &id).await, "threshold 0 is always healthy");
    emu.set_health(&a, true);
    emu.set_health(&b, true);
    set_threshold(3).await;
    assert!(
        !healthy(&r53, &id).await,
        "threshold above the children is always unhealthy"
    );
}

/// UpdateHealthCheck changes only what the request names (here Inverted): a CALCULATED check
/// keeps ChildHealthChecks and HealthThreshold, and HealthCheckVersion goes up. Route 53 API
/// reference, UpdateHealthCheck
/// (https://docs.aws.amazon.com/Route53/latest/APIReference/API_UpdateHealthCheck.html):
/// ChildHealthChecks is reset only through ResetElements ("ChildHealthChecks: Amazon Route 53
/// resets ChildHealthChecks to null"). moto 5.2.5 dropped the children on every update.
#[tokio::test(flavor = "multi_thread")]
async fn update_health_check_keeps_what_it_does_not_name() {
    let emu = emulator();
    let r53 = r53(emu).await;
    let (id, version) = calculated_children_round_trip(&r53, &unique_prefix("r53_update")).await;
    let hc = r53
        .get_health_check()
        .health_check_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        hc.health_check().unwrap().health_check_version(),
        version + 1
    );
    r53.update_health_check()
        .health_check_id(&id)
        .reset_elements(aws_sdk_route53::types::ResettableElementName::ChildHealthChecks)
        .send()
        .await
        .unwrap();
    let hc = r53
        .get_health_check()
        .health_check_id(&id)
        .send()
        .await
        .unwrap();
    let config = hc.health_check().unwrap().health_check_config().unwrap();
    assert!(config.child_health_checks().is_empty(), "{config:?}");
}

/// Creates a CALCULATED check with two children, inverts it, and checks that the children,
/// the threshold and Inverted are all there. Returns (id, version before the update).
async fn calculated_children_round_trip(r53: &aws_sdk_route53::Client, p: &str) -> (String, i64) {
    let a = create_check(r53, &format!("{p}a"), https_check("a.example.test")).await;
    let b = create_check(r53, &format!("{p}b"), https_check("b.example.test")).await;
    let calc = HealthCheckConfig::builder()
        .r#type(HealthCheckType::Calculated)
        .child_health_checks(&a)
        .child_health_checks(&b)
        .health_threshold(1)
        .build()
        .unwrap();
    let id = create_check(r53, &format!("{p}calc"), calc).await;
    let before = r53
        .get_health_check()
        .health_check_id(&id)
        .send()
        .await
        .unwrap();
    let version = before.health_check().unwrap().health_check_version();
    r53.update_health_check()
        .health_check_id(&id)
        .inverted(true)
        .send()
        .await
        .unwrap();
    let hc = r53
        .get_health_check()
        .health_check_id(&id)
        .send()
        .await
        .unwrap();
    let config = hc.health_check().unwrap().health_check_config().unwrap();
    assert_eq!(config.r#type(), &HealthCheckType::Calculated);
    assert_eq!(config.inverted(), Some(true));
    assert_eq!(config.health_threshold(), Some(1));
    let mut children = config.child_health_checks().to_vec();
    children.sort();
    let mut want = vec![a, b];
    want.sort();
    assert_eq!(
        children, want,
        "UpdateHealthCheck(Inverted) dropped the children"
    );
    (id, version)
}

/// Disabled: "After you disable a health check, Route 53 considers the status of the health
/// check to always be healthy ... If you want to stop routing traffic to a resource, change the
/// value of Inverted." Inverted: "invert the status of a health check, for example, to consider
/// a health check unhealthy when it otherwise would be considered healthy." (Route 53 API
/// reference, HealthCheckConfig.)
#[tokio::test(flavor = "multi_thread")]
async fn disabled_is_always_healthy_and_inverted_flips_the_status() {
    let emu = emulator();
    let p = unique_prefix("r53_disabled");
    let r53 = r53(emu).await;
    let id = create_check(&r53, &format!("{p}hc"), https_check("down.example.test")).await;
    emu.set_health(&id, false);
    assert!(!healthy(&r53, &id).await);
    let update = |disabled: bool, inverted: bool| {
        let r53 = r53.clone();
        let id = id.clone();
        async move {
            r53.update_health_check()
                .health_check_id(id)
                .disabled(disabled)
                .inverted(inverted)
                .send()
                .await
                .unwrap();
        }
    };
    update(true, false).await;
    assert!(
        healthy(&r53, &id).await,
        "a disabled check is always healthy"
    );
    update(true, true).await;
    assert!(
        !healthy(&r53, &id).await,
        "disabled + inverted is unhealthy"
    );
    update(false, true).await;
    assert!(
        healthy(&r53, &id).await,
        "inverted failing endpoint reads healthy"
    );
    emu.set_health(&id, true);
    assert!(
        !healthy(&r53, &id).await,
        "inverted healthy endpoint reads unhealthy"
    );
}

/// A CLOUDWATCH_METRIC check follows the alarm's data stream, not the alarm state: SetAlarmState
/// does not change it, metric data does. The check keeps AlarmIdentifier and shows the alarm's
/// settings in CloudWatchAlarmConfiguration. Route 53 developer guide, "How Amazon Route 53
/// determines whether a health check is healthy": "Route 53 monitors the data stream for the
/// corresponding alarm instead of monitoring the alarm state ... you can't force the status of a
/// health check to change by using the CloudWatch SetAlarmState API operation."
#[tokio::test(flavor = "multi_thread")]
async fn cloudwatch_check_follows_the_alarm_data_not_set_alarm_state() {
    use aws_sdk_cloudwatch::types::{
        ComparisonOperator, Dimension, MetricDatum, StateValue, Statistic,
    };
    let emu = emulator();
    let region = "af-south-1";
    let p = unique_prefix("r53_cloudwatch");
    let cw = aws_sdk_cloudwatch::Client::new(&emu.sdk_config(region).await);
    let alarm = format!("{p}errors");
    let dim = Dimension::builder()
        .name("ApiName")
        .value(format!("{p}api"))
        .build();
    cw.put_metric_alarm()
        .alarm_name(&alarm)
        .namespace("AWS/ApiGateway")
        .metric_name("5XXError")
        .dimensions(dim.clone())
        .statistic(Statistic::Sum)
        .period(60)
        .evaluation_periods(1)
        .threshold(1.0)
        .comparison_operator(ComparisonOperator::GreaterThanOrEqualToThreshold)
        .send()
        .await
        .unwrap();
    let r53 = r53(emu).await;
    let config = HealthCheckConfig::builder()
        .r#type(HealthCheckType::CloudwatchMetric)
        .alarm_identifier(
            aws_sdk_route53::types::AlarmIdentifier::builder()
                .region(aws_sdk_route53::types::CloudWatchRegion::from(region))
                .name(&alarm)
                .build()
                .unwrap(),
        )
        .insufficient_data_health_status(
            aws_sdk_route53::types::InsufficientDataHealthStatus::Unhealthy,
        )
        .build()
        .unwrap();
    let id = create_check(&r53, &format!("{p}hc"), config).await;
    let hc = r53
        .get_health_check()
        .health_check_id(&id)
        .send()
        .await
        .unwrap();
    let hc = hc.health_check().unwrap();
    let ident = hc
        .health_check_config()
        .unwrap()
        .alarm_identifier()
        .expect("AlarmIdentifier kept");
    assert_eq!(
        (ident.region().as_str(), ident.name()),
        (region, alarm.as_str())
    );
    let cfg = hc
        .cloud_watch_alarm_configuration()
        .expect("CloudWatchAlarmConfiguration");
    assert_eq!(cfg.metric_name(), "5XXError");
    assert_eq!(cfg.period(), 60);

    assert!(
        !healthy(&r53, &id).await,
        "no data: InsufficientDataHealthStatus Unhealthy"
    );
    cw.set_alarm_state()
        .alarm_name(&alarm)
        .state_value(StateValue::Ok)
        .state_reason("forced")
        .send()
        .await
        .unwrap();
    assert!(
        !healthy(&r53, &id).await,
        "SetAlarmState changed a Route 53 health check"
    );
    let put = |value: f64| {
        let cw = cw.clone();
        let dim = dim.clone();
        async move {
            cw.put_metric_data()
                .namespace("AWS/ApiGateway")
                .metric_data(
                    MetricDatum::builder()
                        .metric_name("5XXError")
                        .dimensions(dim)
                        .value(value)
                        .build(),
                )
                .send()
                .await
                .unwrap();
        }
    };
    put(0.0).await;
    assert!(healthy(&r53, &id).await, "data within the threshold: OK");
    put(3.0).await;
    assert!(!healthy(&r53, &id).await, "Sum 3 >= 1: ALARM");
}

/// InsufficientDataHealthStatus decides a CLOUDWATCH_METRIC check without data: Healthy,
/// Unhealthy, or LastKnownStatus, which for a new check is healthy. Route 53 API reference,
/// HealthCheckConfig `InsufficientDataHealthStatus`: "For new health checks that have no last
/// known status, the default status for the health check is healthy."
#[tokio::test(flavor = "multi_thread")]
async fn cloudwatch_check_without_data_follows_insufficient_data_health_status() {
    use aws_sdk_route53::types::InsufficientDataHealthStatus as Ids;
    let emu = emulator();
    let region = "af-south-1";
    let p = unique_prefix("r53_insufficient");
    let cw = aws_sdk_cloudwatch::Client::new(&emu.sdk_config(region).await);
    let alarm = format!("{p}latency");
    cw.put_metric_alarm()
        .alarm_name(&alarm)
        .namespace(format!("{p}App"))
        .metric_name("Latency")
        .statistic(aws_sdk_cloudwatch::types::Statistic::Average)
        .period(60)
        .evaluation_periods(1)
        .threshold(100.0)
        .comparison_operator(aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold)
        .send()
        .await
        .unwrap();
    let r53 = r53(emu).await;
    for (mode, want) in [
        (Some(Ids::Healthy), true),
        (Some(Ids::Unhealthy), false),
        (Some(Ids::LastKnownStatus), true),
        (None, true),
    ] {
        let config = HealthCheckConfig::builder()
            .r#type(HealthCheckType::CloudwatchMetric)
            .alarm_identifier(
                aws_sdk_route53::types::AlarmIdentifier::builder()
                    .region(aws_sdk_route53::types::CloudWatchRegion::from(region))
                    .name(&alarm)
                    .build()
                    .unwrap(),
            )
            .set_insufficient_data_health_status(mode.clone())
            .build()
            .unwrap();
        let id = create_check(&r53, &format!("{p}{mode:?}"), config).await;
        assert_eq!(
            healthy(&r53, &id).await,
            want,
            "InsufficientDataHealthStatus {mode:?}: {}",
            status(&r53, &id).await
        );
    }
}

// ----------------------------------------------------------------------------- TestDNSAnswer

/// Failover records: the primary while it is healthy, the secondary when the primary is
/// unhealthy and the secondary healthy, and the primary again when both are unhealthy.
/// Route 53 developer guide, "How Amazon Route 53 chooses records when health checking is
/// configured"
/// (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/health-checks-how-route-53-chooses-records.html):
/// "If Route 53 considers both the primary and secondary records unhealthy, Route 53 returns
/// the primary record."
#[tokio::test(flavor = "multi_thread")]
async fn failover_answers_primary_secondary_and_primary_when_both_fail() {
    let emu = emulator();
    let p = unique_prefix("dns_failover");
    let r53 = r53(emu).await;
    let zone = create_zone(&r53, &format!("{p}zone.example.")).await;
    let hp = create_check(&r53, &format!("{p}hp"), https_check("p.example.test")).await;
    let hs = create_check(&r53, &format!("{p}hs"), https_check("s.example.test")).await;
    let name = format!("www.{p}zone.example");
    upsert(
        &r53,
        &zone,
        vec![
            record(&name, RrType::A, "192.0.2.1")
                .set_identifier("p")
                .failover(ResourceRecordSetFailover::Primary)
                .health_check_id(&hp)
                .build()
                .unwrap(),
            record(&name, RrType::A, "192.0.2.2")
                .set_identifier("s")
                .failover(ResourceRecordSetFailover::Secondary)
                .health_check_id(&hs)
                .build()
                .unwrap(),
        ],
    )
    .await;
    let a = || answer(&r53, &zone, &name, RrType::A);
    assert_eq!(a().await, ("NOERROR".into(), vec!["192.0.2.1".into()]));
    emu.set_health(&hp, false);
    assert_eq!(
        a().await.1,
        vec!["192.0.2.2"],
        "primary unhealthy, secondary healthy"
    );
    emu.set_health(&hs, false);
    assert_eq!(
        a().await.1,
        vec!["192.0.2.1"],
        "both unhealthy: the primary"
    );
    emu.set_health(&hp, true);
    assert_eq!(
        a().await.1,
        vec!["192.0.2.1"],
        "primary healthy, secondary unhealthy"
    );
}

/// A secondary without a health check answers whenever the primary is unhealthy. Route 53 API
/// reference, ResourceRecordSet `Failover`
/// (https://docs.aws.amazon.com/Route53/latest/APIReference/API_ResourceRecordSet.html): "If you
/// omit the HealthCheckId element for the secondary resource record set, and if the primary
/// resource record set is unhealthy, Route 53 always responds to DNS queries with the applicable
/// value from the secondary resource record set."
#[tokio::test(flavor = "multi_thread")]
async fn failover_secondary_without_health_check_answers_when_primary_fails() {
    let emu = emulator();
    let p = unique_prefix("dns_secondary");
    let r53 = r53(emu).await;
    let zone = create_zone(&r53, &format!("{p}zone.example.")).await;
    let hp = create_check(&r53, &format!("{p}hp"), https_check("p.example.test")).await;
    let name = format!("api.{p}zone.example");
    upsert(
        &r53,
        &zone,
        vec![
            record(&name, RrType::Cname, "primary.example.test")
                .set_identifier("p")
                .failover(ResourceRecordSetFailover::Primary)
                .health_check_id(&hp)
                .build()
                .unwrap(),
            record(&name, RrType::Cname, "secondary.example.test")
                .set_identifier("s")
                .failover(ResourceRecordSetFailover::Secondary)
                .build()
                .unwrap(),
        ],
    )
    .await;
    assert_eq!(
        answer(&r53, &zone, &name, RrType::Cname).await.1,
        vec!["primary.example.test"]
    );
    emu.set_health(&hp, false);
    assert_eq!(
        answer(&r53, &zone, &name, RrType::Cname).await.1,
        vec!["secondary.example.test"]
    );
}

/// Weighted records, made deterministic: the healthy record with the highest weight; a record
/// of weight 0 only when every nonzero record is unhealthy; all unhealthy: as if all healthy.
/// Route 53 developer guide, "How Amazon Route 53 chooses records when health checking is
/// configured": "If all the records that have a weight greater than 0 are unhealthy, then
/// Route 53 considers the zero-weighted records"; "If no record is healthy, all records are
/// healthy".
#[tokio::test(flavor = "multi_thread")]
async fn weighted_answers_the_heaviest_healthy_record() {
    let emu = emulator();
    let p = unique_prefix("dns_weighted");
    let r53 = r53(emu).await;
    let zone = create_zone(&r53, &format!("{p}zone.example.")).await;
    let name = format!("w.{p}zone.example");
    let mut checks = Vec::new();
    let mut sets = Vec::new();
    for (i, weight) in [10, 5, 0].into_iter().enumerate() {
        let hc = create_check(&r53, &format!("{p}w{i}"), https_check("w.example.test")).await;
        sets.push(
            record(&name, RrType::A, &format!("192.0.2.{}", 10 + i))
                .set_identifier(format!("w{i}"))
                .weight(weight)
                .health_check_id(&hc)
                .build()
                .unwrap(),
        );
        checks.push(hc);
    }
    upsert(&r53, &zone, sets).await;
    let a = || answer(&r53, &zone, &name, RrType::A);
    assert_eq!(a().await.1, vec!["192.0.2.10"]);
    emu.set_health(&checks[0], false);
    assert_eq!(a().await.1, vec!["192.0.2.11"], "next heaviest healthy");
    emu.set_health(&checks[1], false);
    assert_eq!(
        a().await.1,
        vec!["192.0.2.12"],
        "zero weight when the others are unhealthy"
    );
    emu.set_health(&checks[2], false);
    assert_eq!(
        a().await.1,
        vec!["192.0.2.10"],
        "none healthy: all considered healthy"
    );
}

/// An alias A (or AAAA) record answers with addresses, as dig does: the emulator's documented,
/// stable address for the alias target (SHA-256 of the lowercased name, in 198.18.0.0/15 or
/// 2001:db8::/32), also given by `GET /_drillbook/resolve`. Route 53 API reference, TestDNSAnswer
/// (https://docs.aws.amazon.com/Route53/latest/APIReference/API_TestDNSAnswer.html): "The
/// TestDnsAnswer returns information similar to what you would expect from the answer section
/// of the dig command."
#[tokio::test(flavor = "multi_thread")]
async fn alias_record_answers_with_the_documented_address() {
    let emu = emulator();
    let p = unique_prefix("dns_alias");
    let target = regional_domain(emu, "eu-central-2", &p).await;
    let r53 = r53(emu).await;
    let zone = create_zone(&r53, &format!("{p}zone.example.")).await;
    let name = format!("api.{p}zone.example");
    upsert(
        &r53,
        &zone,
        vec![
            alias(&name, RrType::A, "Z3EXAMPLE", &target, false)
                .build()
                .unwrap(),
            alias(&name, RrType::Aaaa, "Z3EXAMPLE", &target, false)
                .build()
                .unwrap(),
        ],
    )
    .await;
    let (code, a) = answer(&r53, &zone, &name, RrType::A).await;
    assert_eq!(code, "NOERROR");
    // An API Gateway Regional name has three addresses, SHA-256 of the name, of `NAME#1` and
    // of `NAME#2`; each answer is two of them.
    let key = target.to_lowercase();
    let hashed = |i: usize| {
        let k = if i == 0 {
            key.clone()
        } else {
            format!("{key}#{i}")
        };
        Sha256::digest(k.as_bytes())
    };
    let want_a: Vec<String> = (0..3)
        .map(|i| {
            let m: u64 = (1 << 17) - 2;
            let host = hashed(i)
                .iter()
                .fold(0u64, |r, b| (r * 256 + u64::from(*b)) % m);
            Ipv4Addr::from(u32::from(Ipv4Addr::new(198, 18, 0, 0)) + 1 + host as u32).to_string()
        })
        .collect();
    let want_aaaa: Vec<Ipv6Addr> = (0..3)
        .map(|i| {
            let low = hashed(i)[20..]
                .iter()
                .fold(0u128, |r, b| (r << 8) | u128::from(*b));
            Ipv6Addr::from((0x2001_0db8u128 << 96) | low)
        })
        .collect();
    assert_eq!(a.len(), 2, "{a:?}");
    assert!(
        a[0] != a[1] && a.iter().all(|x| want_a.contains(x)),
        "{a:?} of {want_a:?}"
    );
    let (_, aaaa) = answer(&r53, &zone, &name, RrType::Aaaa).await;
    assert_eq!(aaaa.len(), 2);
    assert!(
        aaaa.iter()
            .all(|x| want_aaaa.contains(&x.parse::<Ipv6Addr>().unwrap())),
        "{aaaa:?}"
    );
    let resolved = control(
        emu,
        "GET",
        &format!("/_drillbook/resolve?name={target}&type=A"),
        None,
    );
    assert_eq!(resolved["addresses"], json!(want_a));
    assert_eq!(resolved["region"], json!("eu-central-2"));
}

/// An alias with EvaluateTargetHealth to an API Gateway regional endpoint is as healthy as the
/// endpoint's Region, and both its health check and its target must be healthy: with the
/// primary's health check forced healthy, a Region fault still fails the primary over. Seeded
/// system (`--dns alias`) on another Region pair. Route 53 API reference, AliasTarget
/// (https://docs.aws.amazon.com/Route53/latest/APIReference/API_AliasTarget.html): "When
/// EvaluateTargetHealth is true, an alias resource record set inherits the health of the
/// referenced Amazon Web Services resource"; developer guide, "How health checks work in complex
/// Amazon Route 53 configurations": "both of the following must be true".
#[tokio::test(flavor = "multi_thread")]
async fn alias_evaluate_target_health_follows_the_target_region() {
    let emu = emulator();
    let (primary, secondary) = ("ap-east-2", "me-south-1");
    let p = unique_prefix("dns_eth");
    let seeded = emu.seed_with(&p, &SeedOptions::regions(primary, secondary).dns("alias"));
    let s = &seeded.route53;
    assert_eq!(seeded.raw["route53"]["record_type"], json!("A"));
    let answers = &seeded.raw["route53"]["answers"];
    let want =
        |side: &str| -> Vec<String> { serde_json::from_value(answers[side].clone()).unwrap() };
    let r53 = r53(emu).await;
    let name = s.record_name.trim_end_matches('.').to_string();
    // Each answer is a rotating subset of the side's addresses (an API Gateway Regional name).
    let from = |data: &[String], side: &str| {
        !data.is_empty() && data.iter().all(|a| want(side).contains(a))
    };
    assert!(from(
        &answer(&r53, &s.hosted_zone_id, &name, RrType::A).await.1,
        "primary"
    ));
    emu.set_health(&s.health_check_id, true); // the record's own health check passes
    emu.fault(primary, Some("apigateway"), "error");
    let during = answer(&r53, &s.hosted_zone_id, &name, RrType::A).await.1;
    emu.clear_faults(Some(primary));
    let after = answer(&r53, &s.hosted_zone_id, &name, RrType::A).await.1;
    assert!(
        from(&during, "secondary"),
        "target Region down, alias should fail over: {during:?}"
    );
    assert!(from(&after, "primary"), "{after:?}");
}

/// An alias with EvaluateTargetHealth to records in the same zone is healthy while at least one
/// of them is: when every record of the target group is unhealthy, the failover alias falls
/// over to the secondary. Route 53 developer guide, "How Amazon Route 53 chooses records when
/// health checking is configured": "As long as at least one of the weighted records is healthy,
/// Route 53 considers the alias record to be healthy. If none of the weighted records is
/// healthy, Route 53 considers the alias record to be unhealthy."
#[tokio::test(flavor = "multi_thread")]
async fn alias_to_records_in_the_zone_inherits_their_health() {
    let emu = emulator();
    let p = unique_prefix("dns_alias_tree");
    let r53 = r53(emu).await;
    let zone_name = format!("{p}zone.example");
    let zone = create_zone(&r53, &format!("{zone_name}.")).await;
    let pool = format!("pool.{zone_name}");
    let name = format!("app.{zone_name}");
    let h1 = create_check(&r53, &format!("{p}h1"), https_check("one.example.test")).await;
    let h2 = create_check(&r53, &format!("{p}h2"), https_check("two.example.test")).await;
    upsert(
        &r53,
        &zone,
        vec![
            record(&pool, RrType::A, "192.0.2.31")
                .set_identifier("one")
                .weight(1)
                .health_check_id(&h1)
                .build()
                .unwrap(),
            record(&pool, RrType::A, "192.0.2.32")
                .set_identifier("two")
                .weight(1)
                .health_check_id(&h2)
                .build()
                .unwrap(),
            alias(&name, RrType::A, &zone, &pool, true)
                .set_identifier("p")
                .failover(ResourceRecordSetFailover::Primary)
                .build()
                .unwrap(),
            record(&name, RrType::A, "192.0.2.99")
                .set_identifier("s")
                .failover(ResourceRecordSetFailover::Secondary)
                .build()
                .unwrap(),
        ],
    )
    .await;
    assert_eq!(
        answer(&r53, &zone, &name, RrType::A).await.1,
        vec!["192.0.2.31"]
    );
    emu.set_health(&h1, false);
    assert_eq!(
        answer(&r53, &zone, &name, RrType::A).await.1,
        vec!["192.0.2.32"],
        "one target record healthy"
    );
    emu.set_health(&h2, false);
    assert_eq!(
        answer(&r53, &zone, &name, RrType::A).await.1,
        vec!["192.0.2.99"],
        "no target record healthy"
    );
}

/// A CNAME answers with the name it points to (also for a query of another type at that
/// name); a name that does not exist is NXDOMAIN; a name that exists without the asked type is
/// NOERROR with no data. Route 53 API reference, TestDNSAnswer `ResponseCode`: "The most common
/// response code is NOERROR ... see DNS RCODES on the IANA website."
#[tokio::test(flavor = "multi_thread")]
async fn cname_answers_with_the_name_and_missing_names_are_nxdomain() {
    let emu = emulator();
    let p = unique_prefix("dns_cname");
    let r53 = r53(emu).await;
    let zone = create_zone(&r53, &format!("{p}zone.example.")).await;
    let c = format!("c.{p}zone.example");
    let t = format!("t.{p}zone.example");
    upsert(
        &r53,
        &zone,
        vec![
            record(&c, RrType::Cname, "target.example.test")
                .build()
                .unwrap(),
            record(&t, RrType::Txt, "\"hello\"").build().unwrap(),
        ],
    )
    .await;
    assert_eq!(
        answer(&r53, &zone, &c, RrType::Cname).await,
        ("NOERROR".into(), vec!["target.example.test".into()])
    );
    assert_eq!(
        answer(&r53, &zone, &c, RrType::A).await.1,
        vec!["target.example.test"]
    );
    assert_eq!(
        answer(&r53, &zone, &format!("nope.{p}zone.example"), RrType::A).await,
        ("NXDOMAIN".into(), vec![])
    );
    assert_eq!(
        answer(&r53, &zone, &t, RrType::A).await,
        ("NOERROR".into(), vec![])
    );
}
