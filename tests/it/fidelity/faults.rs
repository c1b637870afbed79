//! Region faults at the server (`POST /_drillbook/faults`): a Region that refuses connections,
//! hangs, answers 5xx or throttles, for every service or one, read from the call's SigV4
//! credential scope. The error shapes are each service's own, so the SDK parses them as it
//! would parse AWS's.
//!
//! Each test faults Regions no other test of this binary uses: faults hold emulator-wide.

use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::support::{self, emulator};

/// SDK configuration for `region` with no retries (so one call is one request) and a 1 s
/// attempt timeout (so a hang ends).
async fn one_shot(endpoint: &str, region: &str) -> SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_kms::config::Credentials::new(
            "test",
            "test",
            None,
            None,
            "drillbook-it",
        ))
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(1))
                .operation_attempt_timeout(Duration::from_secs(1))
                .build(),
        )
        .load()
        .await
}

/// What a failed call looked like to the SDK: HTTP status (when an answer came), error code,
/// and whether it was a timeout or a dispatch (connection) failure.
#[derive(Debug)]
struct Seen {
    status: Option<u16>,
    code: String,
    timeout: bool,
    dispatch: bool,
}

fn seen<T: std::fmt::Debug, E: ProvideErrorMetadata + std::fmt::Debug>(
    result: Result<T, SdkError<E, HttpResponse>>,
) -> Seen {
    let err = result.expect_err("the faulted call must fail");
    Seen {
        status: err.raw_response().map(|r| r.status().as_u16()),
        code: err.code().unwrap_or("").to_string(),
        timeout: matches!(err, SdkError::TimeoutError(_)),
        dispatch: matches!(err, SdkError::DispatchFailure(_)),
    }
}

/// One call per service whose SDK speaks a different protocol: DynamoDB (JSON 1.0), KMS
/// (JSON 1.1), API Gateway (REST-JSON), CloudWatch (Smithy RPC v2 CBOR), STS (query).
async fn call_each_service(conf: &SdkConfig) -> Vec<(&'static str, Seen)> {
    vec![
        (
            "dynamodb",
            seen(
                aws_sdk_dynamodb::Client::new(conf)
                    .list_tables()
                    .send()
                    .await,
            ),
        ),
        (
            "kms",
            seen(aws_sdk_kms::Client::new(conf).list_keys().send().await),
        ),
        (
            "apigateway",
            seen(
                aws_sdk_apigateway::Client::new(conf)
                    .get_rest_apis()
                    .send()
                    .await,
            ),
        ),
        (
            "monitoring",
            seen(
                aws_sdk_cloudwatch::Client::new(conf)
                    .describe_alarms()
                    .send()
                    .await,
            ),
        ),
        (
            "sts",
            seen(
                aws_sdk_sts::Client::new(conf)
                    .get_caller_identity()
                    .send()
                    .await,
            ),
        ),
    ]
}

/// `error`: HTTP 503 with the common error code `ServiceUnavailable` ("The request has failed
/// due to a temporary failure of the server", HTTP 503: AWS common errors, e.g.
/// https://docs.aws.amazon.com/kms/latest/APIReference/CommonErrors.html), in each service's
/// protocol; the other Regions keep answering.
#[tokio::test(flavor = "multi_thread")]
async fn error_fault_answers_503_in_each_services_own_format() {
    let emu = emulator();
    let region = "eu-south-2";
    emu.fault(region, None, "error");
    let conf = one_shot(emu.endpoint(), region).await;
    let got = call_each_service(&conf).await;
    let healthy = aws_sdk_dynamodb::Client::new(&one_shot(emu.endpoint(), "eu-west-3").await)
        .list_tables()
        .send()
        .await;
    emu.clear_faults(Some(region));
    for (service, seen) in got {
        assert_eq!(seen.status, Some(503), "{service}: {seen:?}");
        assert_eq!(seen.code, "ServiceUnavailable", "{service}: {seen:?}");
    }
    assert!(
        healthy.is_ok(),
        "another Region is not faulted: {healthy:?}"
    );
    // Cleared: the Region answers again.
    aws_sdk_dynamodb::Client::new(&conf)
        .list_tables()
        .send()
        .await
        .expect("the fault is cleared");
}

/// `throttle`: each service's own throttling error and status. DynamoDB and KMS:
/// `ThrottlingException`, HTTP 400 (DynamoDB developer guide, "Error handling with DynamoDB";
/// KMS API reference, common errors); API Gateway: `TooManyRequestsException`, HTTP 429 (API
/// Gateway API reference, e.g. GetRestApis errors); CloudWatch: `ThrottlingException`, STS (query
/// protocol): `Throttling`, HTTP 400. Route 53: see
/// `route53_throttle_is_http_400_with_code_throttling`.
#[tokio::test(flavor = "multi_thread")]
async fn throttle_fault_answers_each_services_throttling_error() {
    let emu = emulator();
    let region = "ca-west-1";
    emu.fault(region, None, "throttle");
    let got = call_each_service(&one_shot(emu.endpoint(), region).await).await;
    emu.clear_faults(Some(region));
    let want = [
        ("dynamodb", 400, "ThrottlingException"),
        ("kms", 400, "ThrottlingException"),
        ("apigateway", 429, "TooManyRequestsException"),
        ("monitoring", 400, "ThrottlingException"),
        ("sts", 400, "Throttling"),
    ];
    for ((service, seen), (s, status, code)) in got.into_iter().zip(want) {
        assert_eq!(service, s);
        assert_eq!(seen.status, Some(status), "{service}: {seen:?}");
        assert_eq!(seen.code, code, "{service}: {seen:?}");
    }
}

/// Route 53 throttling: "Amazon Route 53 returns an HTTP 400 error (Bad request). The response
/// header also includes a Code element with a value of Throttling and a Message element with a
/// value of Rate exceeded" (Route 53 developer guide, "Throttling for Amazon Route 53 API
/// requests", https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/throttling-api-requests.html).
/// Route 53's API is signed for us-east-1, so this runs on an emulator of its own.
#[tokio::test(flavor = "multi_thread")]
async fn route53_throttle_is_http_400_with_code_throttling() {
    let emu = support::isolated_emulator("r53-throttle");
    emu.fault("us-east-1", Some("route53"), "throttle");
    let r53 = aws_sdk_route53::Client::new(&one_shot(emu.endpoint(), "us-east-1").await);
    let got = seen(r53.list_hosted_zones().send().await);
    assert_eq!(got.status, Some(400), "{got:?}");
    assert_eq!(got.code, "Throttling", "{got:?}");
    // The fault is for route53 only: DynamoDB in us-east-1 answers.
    let ddb = aws_sdk_dynamodb::Client::new(&one_shot(emu.endpoint(), "us-east-1").await);
    ddb.list_tables()
        .send()
        .await
        .expect("dynamodb is not faulted");
    emu.clear_faults(None);
    r53.list_hosted_zones().send().await.expect("cleared");
}

/// `reset`: the connection is closed without an answer, as when a Region's endpoint is gone.
/// The SDK sees a dispatch failure at once (no timeout), and nothing reached the service.
#[tokio::test(flavor = "multi_thread")]
async fn reset_fault_closes_the_connection_without_an_answer() {
    let emu = emulator();
    let region = "ap-northeast-3";
    let p = support::unique_prefix("reset_fault");
    emu.fault(region, Some("dynamodb"), "reset");
    let conf = one_shot(emu.endpoint(), region).await;
    let ddb = aws_sdk_dynamodb::Client::new(&conf);
    let started = Instant::now();
    let got = seen(
        ddb.create_table()
            .table_name(format!("{p}never"))
            .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
            .attribute_definitions(
                aws_sdk_dynamodb::types::AttributeDefinition::builder()
                    .attribute_name("pk")
                    .attribute_type(aws_sdk_dynamodb::types::ScalarAttributeType::S)
                    .build()
                    .unwrap(),
            )
            .key_schema(
                aws_sdk_dynamodb::types::KeySchemaElement::builder()
                    .attribute_name("pk")
                    .key_type(aws_sdk_dynamodb::types::KeyType::Hash)
                    .build()
                    .unwrap(),
            )
            .send()
            .await,
    );
    let elapsed = started.elapsed();
    // Service-scoped: KMS in the same Region answers.
    aws_sdk_kms::Client::new(&conf)
        .list_keys()
        .send()
        .await
        .expect("kms is not faulted");
    emu.clear_faults(Some(region));
    assert!(got.dispatch, "a reset is a dispatch failure: {got:?}");
    assert!(got.status.is_none(), "no answer: {got:?}");
    assert!(elapsed < Duration::from_millis(900), "no wait: {elapsed:?}");
    let tables = ddb.list_tables().send().await.unwrap();
    assert!(
        !tables.table_names().iter().any(|t| t.starts_with(&p)),
        "the refused CreateTable must not have taken effect: {tables:?}"
    );
}

/// `hang`: the connection is accepted and never answered, until the client gives up; the
/// SDK's attempt timeout ends the call.
#[tokio::test(flavor = "multi_thread")]
async fn hang_fault_holds_the_call_until_the_client_gives_up() {
    let emu = emulator();
    let region = "eu-north-1";
    emu.fault(region, Some("kms"), "hang");
    let conf = one_shot(emu.endpoint(), region).await;
    let started = Instant::now();
    let got = seen(aws_sdk_kms::Client::new(&conf).list_keys().send().await);
    let elapsed = started.elapsed();
    emu.clear_faults(Some(region));
    assert!(got.timeout, "a hang ends in the client's timeout: {got:?}");
    assert!(
        elapsed >= Duration::from_millis(950),
        "it waited for the timeout: {elapsed:?}"
    );
    aws_sdk_kms::Client::new(&conf)
        .list_keys()
        .send()
        .await
        .expect("cleared");
}

/// The control endpoint lists the active faults, rejects unknown modes and Regions, and
/// `DELETE ?region=R` clears only that Region's faults; `localstack/emulator fault add|clear`
/// drive the same endpoint.
#[tokio::test(flavor = "multi_thread")]
async fn faults_are_listed_cleared_per_region_and_driven_by_the_script() {
    let emu = emulator();
    // Regions no other test faults (the emulator is shared): a Region-wide DELETE here must
    // not clear another test's fault.
    let (a, b) = ("ap-southeast-6", "eu-central-3");
    let script = |args: &[&str]| {
        std::process::Command::new(support::emulator_script())
            .arg("fault")
            .args(args)
            .arg("--state-file")
            .arg(emu.state_file())
            .output()
            .expect("run localstack/emulator fault")
    };
    let out = script(&["add", "--region", a, "--mode", "error"]);
    assert!(out.status.success(), "{out:?}");
    emu.fault(b, Some("cloudwatch"), "throttle");
    let bad = script(&["add", "--region", a, "--mode", "sometimes"]);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("mode must be one of"),
        "{bad:?}"
    );

    let listed = emu.faults();
    let active: Vec<(String, Option<String>)> = listed["faults"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| [a, b].contains(&f["region"].as_str().unwrap()))
        // Faults narrowed to some roles (a seeded Region-deny SCP) are other tests'.
        .filter(|f| f.get("roles").is_none_or(|r| r.is_null()))
        .map(|f| {
            (
                f["region"].as_str().unwrap().to_string(),
                f["service"].as_str().map(str::to_string),
            )
        })
        .collect();
    // `cloudwatch` is stored as its signing name.
    assert_eq!(
        active,
        vec![
            (a.to_string(), None),
            (b.to_string(), Some("monitoring".to_string()))
        ]
    );

    let out = script(&["clear", "--region", a]);
    assert!(out.status.success(), "{out:?}");
    let conf_a = one_shot(emu.endpoint(), a).await;
    aws_sdk_dynamodb::Client::new(&conf_a)
        .list_tables()
        .send()
        .await
        .expect("a is cleared");
    let conf_b = one_shot(emu.endpoint(), b).await;
    let still = seen(
        aws_sdk_cloudwatch::Client::new(&conf_b)
            .describe_alarms()
            .send()
            .await,
    );
    assert_eq!(still.code, "ThrottlingException", "b still faulted");
    emu.clear_faults(Some(b));
}
