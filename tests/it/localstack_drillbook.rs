//! drillbook itself against LocalStack (localstack/README.md, "LocalStack"): runbooks written
//! here, run through the binary as a dry run and with `--execute --yes`, pointed at the one
//! LocalStack of this test binary the way the moto tests point it at moto (`AWS_ENDPOINT_URL`,
//! test credentials, `AWS_REGION`; support::localstack). Each test builds its own resources
//! under a unique prefix with the SDK, and reads the state back with the SDK afterwards.
//!
//! What LocalStack 4.14.0 serves here, without Docker or downloads, and what drillbook runs on it:
//!
//! | service | drillbook actions | on LocalStack |
//! |---|---|---|
//! | KMS | `kms.assert_replica`, `kms.verify_crypto`, `kms.replicate_key` | run |
//! | KMS | `kms.promote` (UpdatePrimaryRegion) | not in the community edition: 501, the step fails as unsupported |
//! | API Gateway | `apigateway.assert_ready`, `apigateway.update_stage`, `apigateway.map_domain` | run |
//! | CloudWatch | `cloudwatch.wait_alarm`, `cloudwatch.set_alarm_state`, `cloudwatch.put_signal` | run (LocalStack evaluates alarms on their period) |
//! | SSM | `ssm.put_parameter`, `ssm.assert_parameter` | run |
//! | STS | the account guard (`accounts:`, GetCallerIdentity) | runs; LocalStack's account is 000000000000 |
//! | Route 53 | `route53.failover`, `route53.assert_records` | zones, records and health checks are served, but both actions read the answer with TestDNSAnswer, which the community edition lacks: they fail as unsupported before changing anything |
//! | DynamoDB | `dynamodb.*` | not started: LocalStack serves it through DynamoDB Local, a Java download impossible here |
//! | ARC | `arc.*` | not in the community edition |
//!
//! S3 is started too (for the S3 actions, which are not part of this file). RDS and ECS are not
//! served by LocalStack here.

use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};

use aws_sdk_kms::types::MultiRegionKeyType;
use serde_json::Value;

use crate::support::{Emulator, Ran, SECONDARY_REGION, unique_prefix};

/// The recovery Region of every runbook here (the reference pair's secondary).
const RECOVERY: &str = SECONDARY_REGION;
/// The Region a key starts primary in.
const HOME: &str = "ca-central-1";
/// The account LocalStack answers for (its default account id).
const LS_ACCOUNT: &str = "000000000000";

// ------------------------------------------------------------------------------- harness

/// A temporary directory holding the runbooks of one test and one state directory per run.
struct Work {
    dir: tempfile::TempDir,
    ls: &'static Emulator,
}

impl Work {
    fn new(ls: &'static Emulator) -> Work {
        Work {
            dir: tempfile::tempdir().unwrap(),
            ls,
        }
    }

    /// Writes `text` to `NAME.yaml` and returns its path.
    fn runbook(&self, name: &str, text: &str) -> String {
        let path = self.dir.path().join(format!("{name}.yaml"));
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    }

    fn state(&self, label: &str) -> PathBuf {
        self.dir.path().join(format!("state-{label}"))
    }

    /// `drillbook ARGS --state-dir DIR/state-LABEL` against LocalStack.
    fn run(&self, label: &str, args: &[&str]) -> Output {
        crate::support::cli::bin()
            .args(args)
            .arg("--state-dir")
            .arg(self.state(label))
            .envs(self.ls.env())
            .current_dir(self.dir.path())
            .output()
    }

    /// A dry run of `runbook` (state `LABEL`).
    fn dry_run(&self, label: &str, runbook: &str) -> Output {
        self.run(label, &["run", runbook])
    }

    /// An execution of `runbook` (state `LABEL`).
    fn execute(&self, label: &str, runbook: &str) -> Output {
        self.run(label, &["run", runbook, "--execute", "--yes"])
    }

    /// The journal of the only run in state `LABEL`.
    fn journal(&self, label: &str) -> Vec<Value> {
        let runs: Vec<_> = std::fs::read_dir(self.state(label).join("runs"))
            .unwrap()
            .flatten()
            .collect();
        assert_eq!(runs.len(), 1, "one run expected in state-{label}");
        std::fs::read_to_string(runs[0].path().join("journal.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The only report directory of state `LABEL`.
    fn report_dir(&self, label: &str) -> PathBuf {
        let dirs: Vec<_> = std::fs::read_dir(self.state(label).join("reports"))
            .unwrap()
            .flatten()
            .collect();
        assert_eq!(dirs.len(), 1, "one report expected in state-{label}");
        dirs[0].path()
    }
}

/// The last record of `kind` for `step`.
fn record(journal: &[Value], kind: &str, step: &str) -> Value {
    journal
        .iter()
        .rev()
        .find(|r| r["type"] == kind && r["step"] == step)
        .cloned()
        .unwrap_or_else(|| panic!("no {kind} for {step}:\n{}", lines(journal)))
}

fn lines(journal: &[Value]) -> String {
    journal
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The outcome of the step's `step_succeeded` record.
fn outcome(journal: &[Value], step: &str) -> Value {
    record(journal, "step_succeeded", step)["outcome"].clone()
}

/// The step's changes in its outcome (execute) or observation (dry run).
fn changes(v: &Value) -> Vec<String> {
    v["changes"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The observed changes of the step (what a dry run says it would do).
fn would_change(journal: &[Value], step: &str) -> Vec<String> {
    changes(&record(journal, "step_observed", step)["observation"])
}

fn run_status(journal: &[Value]) -> (String, String) {
    let started = journal
        .iter()
        .find(|r| r["type"] == "run_started")
        .expect("run_started");
    let finished = journal
        .iter()
        .rev()
        .find(|r| r["type"] == "run_finished")
        .expect("run_finished");
    (
        started["mode"].as_str().unwrap_or_default().to_string(),
        finished["status"].as_str().unwrap_or_default().to_string(),
    )
}

/// Steps whose last record is `step_succeeded`, in journal order.
fn succeeded_steps(journal: &[Value]) -> Vec<String> {
    journal
        .iter()
        .filter(|r| r["type"] == "step_succeeded")
        .filter_map(|r| r["step"].as_str().map(str::to_string))
        .collect()
}

// ------------------------------------------------------------------------------ resources

/// A multi-Region key primary in [`HOME`] with a replica in [`RECOVERY`], `alias/{p}root` in
/// both; returns its key id.
async fn multi_region_key(ls: &Emulator, p: &str) -> String {
    let home = aws_sdk_kms::Client::new(&ls.sdk_config(HOME).await);
    let key = home
        .create_key()
        .multi_region(true)
        .description(format!("{p}root"))
        .send()
        .await
        .unwrap();
    let id = key.key_metadata().unwrap().key_id().to_string();
    home.create_alias()
        .alias_name(format!("alias/{p}root"))
        .target_key_id(&id)
        .send()
        .await
        .unwrap();
    home.replicate_key()
        .key_id(&id)
        .replica_region(RECOVERY)
        .send()
        .await
        .unwrap();
    aws_sdk_kms::Client::new(&ls.sdk_config(RECOVERY).await)
        .create_alias()
        .alias_name(format!("alias/{p}root"))
        .target_key_id(&id)
        .send()
        .await
        .unwrap();
    id
}

/// The key's multi-Region type in `region` (`None`: no such key there).
async fn key_type(ls: &Emulator, region: &str, key_id: &str) -> Option<MultiRegionKeyType> {
    let kms = aws_sdk_kms::Client::new(&ls.sdk_config(region).await);
    let md = kms.describe_key().key_id(key_id).send().await.ok()?;
    md.key_metadata()?
        .multi_region_configuration()?
        .multi_region_key_type()
        .cloned()
}

/// A REST API `{p}api` in [`RECOVERY`] with `GET /health` (a mock integration), deployed to
/// stage `prod` with the stage variable `table={p}vault`, and a Regional custom domain
/// `api.{p}example.com` with no base path mapping yet; returns the API id.
async fn rest_api(ls: &Emulator, p: &str) -> String {
    use aws_sdk_apigateway::types::{EndpointConfiguration, EndpointType, IntegrationType};
    let c = aws_sdk_apigateway::Client::new(&ls.sdk_config(RECOVERY).await);
    let api = c
        .create_rest_api()
        .name(format!("{p}api"))
        .send()
        .await
        .unwrap();
    let id = api.id().unwrap().to_string();
    let resources = c.get_resources().rest_api_id(&id).send().await.unwrap();
    let root = resources
        .items()
        .iter()
        .find(|r| r.path() == Some("/"))
        .and_then(|r| r.id())
        .unwrap()
        .to_string();
    let health = c
        .create_resource()
        .rest_api_id(&id)
        .parent_id(root)
        .path_part("health")
        .send()
        .await
        .unwrap();
    let health = health.id().unwrap();
    c.put_method()
        .rest_api_id(&id)
        .resource_id(health)
        .http_method("GET")
        .authorization_type("NONE")
        .send()
        .await
        .unwrap();
    c.put_integration()
        .rest_api_id(&id)
        .resource_id(health)
        .http_method("GET")
        .r#type(IntegrationType::Mock)
        .request_templates("application/json", "{\"statusCode\": 200}")
        .send()
        .await
        .unwrap();
    c.create_deployment()
        .rest_api_id(&id)
        .stage_name("prod")
        .variables("table", format!("{p}vault"))
        .send()
        .await
        .unwrap();
    c.create_domain_name()
        .domain_name(format!("api.{p}example.com"))
        .regional_certificate_arn(format!(
            "arn:aws:acm:{RECOVERY}:{LS_ACCOUNT}:certificate/{p}cert"
        ))
        .endpoint_configuration(
            EndpointConfiguration::builder()
                .types(EndpointType::Regional)
                .build(),
        )
        .send()
        .await
        .unwrap();
    id
}

/// The stage variables of `prod`.
async fn stage_variables(ls: &Emulator, api_id: &str) -> std::collections::HashMap<String, String> {
    let c = aws_sdk_apigateway::Client::new(&ls.sdk_config(RECOVERY).await);
    let stage = c
        .get_stage()
        .rest_api_id(api_id)
        .stage_name("prod")
        .send()
        .await
        .unwrap();
    stage.variables().cloned().unwrap_or_default()
}

/// `(base path, API id, stage)` of every mapping of the domain.
async fn mappings(ls: &Emulator, domain: &str) -> Vec<(String, String, String)> {
    let c = aws_sdk_apigateway::Client::new(&ls.sdk_config(RECOVERY).await);
    let out = c
        .get_base_path_mappings()
        .domain_name(domain)
        .send()
        .await
        .unwrap();
    out.items()
        .iter()
        .map(|m| {
            (
                m.base_path().unwrap_or_default().to_string(),
                m.rest_api_id().unwrap_or_default().to_string(),
                m.stage().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// In [`RECOVERY`]: `{p}failover-signal`, a signal alarm on a metric only the runbook publishes
/// (10 s period, TreatMissingData `ignore`, as `cloudwatch.put_signal` requires), and
/// `{p}api-5xx`, an alarm on the API's 5XX errors.
async fn alarms(ls: &Emulator, p: &str) {
    use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, Statistic};
    let c = aws_sdk_cloudwatch::Client::new(&ls.sdk_config(RECOVERY).await);
    c.put_metric_alarm()
        .alarm_name(format!("{p}failover-signal"))
        .namespace("Drillbook/Failover")
        .metric_name("FailoverSignal")
        .dimensions(Dimension::builder().name("System").value(p).build())
        .statistic(Statistic::Maximum)
        .period(10)
        .evaluation_periods(1)
        .threshold(1.0)
        .comparison_operator(ComparisonOperator::GreaterThanOrEqualToThreshold)
        .treat_missing_data("ignore")
        .send()
        .await
        .unwrap();
    c.put_metric_alarm()
        .alarm_name(format!("{p}api-5xx"))
        .namespace("AWS/ApiGateway")
        .metric_name("5XXError")
        .dimensions(
            Dimension::builder()
                .name("ApiName")
                .value(format!("{p}api"))
                .build(),
        )
        .statistic(Statistic::Sum)
        .period(60)
        .evaluation_periods(1)
        .threshold(1.0)
        .comparison_operator(ComparisonOperator::GreaterThanOrEqualToThreshold)
        .send()
        .await
        .unwrap();
}

async fn alarm_state(ls: &Emulator, name: &str) -> String {
    let c = aws_sdk_cloudwatch::Client::new(&ls.sdk_config(RECOVERY).await);
    let out = c.describe_alarms().alarm_names(name).send().await.unwrap();
    out.metric_alarms()
        .first()
        .and_then(|a| a.state_value())
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|| "MISSING".into())
}

async fn put_param(ls: &Emulator, name: &str, value: &str) {
    aws_sdk_ssm::Client::new(&ls.sdk_config(RECOVERY).await)
        .put_parameter()
        .name(name)
        .value(value)
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .send()
        .await
        .unwrap();
}

/// `(value, version, type)` of the parameter, decrypted.
async fn param(ls: &Emulator, name: &str) -> (String, i64, String) {
    let out = aws_sdk_ssm::Client::new(&ls.sdk_config(RECOVERY).await)
        .get_parameter()
        .name(name)
        .with_decryption(true)
        .send()
        .await
        .unwrap();
    let p = out.parameter().unwrap();
    (
        p.value().unwrap_or_default().to_string(),
        p.version(),
        p.r#type()
            .map(|t| t.as_str().to_string())
            .unwrap_or_default(),
    )
}

/// A public zone `{p}example.com.` with failover CNAME records for `api.{p}example.com`
/// (PRIMARY in [`HOME`] with an HTTPS health check, SECONDARY in [`RECOVERY`]); returns
/// (zone id, health check id).
async fn failover_zone(ls: &Emulator, p: &str) -> (String, String) {
    use aws_sdk_route53::types::{
        Change, ChangeAction, ChangeBatch, HealthCheckConfig, HealthCheckType, ResourceRecord,
        ResourceRecordSet, RrType,
    };
    let r53 = aws_sdk_route53::Client::new(&ls.sdk_config("us-east-1").await);
    let zone = r53
        .create_hosted_zone()
        .name(format!("{p}example.com."))
        .caller_reference(format!("{p}zone"))
        .send()
        .await
        .unwrap();
    let zone_id = zone
        .hosted_zone()
        .unwrap()
        .id()
        .trim_start_matches("/hostedzone/")
        .to_string();
    let hc = r53
        .create_health_check()
        .caller_reference(format!("{p}hc"))
        .health_check_config(
            HealthCheckConfig::builder()
                .r#type(HealthCheckType::Https)
                .fully_qualified_domain_name(primary_target(p))
                .port(443)
                .resource_path("/prod/health")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let hc_id = hc.health_check().unwrap().id().to_string();
    let record = |failover: &str, value: String, hc: Option<&str>| {
        let set = ResourceRecordSet::builder()
            .name(format!("api.{p}example.com."))
            .r#type(RrType::Cname)
            .set_identifier(failover.to_lowercase())
            .failover(failover.into())
            .ttl(60)
            .set_health_check_id(hc.map(str::to_string))
            .resource_records(ResourceRecord::builder().value(value).build().unwrap())
            .build()
            .unwrap();
        Change::builder()
            .action(ChangeAction::Upsert)
            .resource_record_set(set)
            .build()
            .unwrap()
    };
    r53.change_resource_record_sets()
        .hosted_zone_id(&zone_id)
        .change_batch(
            ChangeBatch::builder()
                .changes(record("PRIMARY", primary_target(p), Some(&hc_id)))
                .changes(record("SECONDARY", secondary_target(p), None))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    (zone_id, hc_id)
}

fn primary_target(p: &str) -> String {
    format!("{p}primary.execute-api.{HOME}.amazonaws.com")
}

fn secondary_target(p: &str) -> String {
    format!("{p}secondary.execute-api.{RECOVERY}.amazonaws.com")
}

/// `(Disabled, Inverted)` of the health check, absent flags read as false.
async fn health_check_flags(ls: &Emulator, id: &str) -> (bool, bool) {
    let r53 = aws_sdk_route53::Client::new(&ls.sdk_config("us-east-1").await);
    let hc = r53
        .get_health_check()
        .health_check_id(id)
        .send()
        .await
        .unwrap();
    let c = hc.health_check().unwrap().health_check_config().unwrap();
    (c.disabled().unwrap_or(false), c.inverted().unwrap_or(false))
}

/// `FAILOVER=value` of each failover record of the name.
async fn failover_values(ls: &Emulator, zone_id: &str, p: &str) -> Vec<String> {
    let r53 = aws_sdk_route53::Client::new(&ls.sdk_config("us-east-1").await);
    let sets = r53
        .list_resource_record_sets()
        .hosted_zone_id(zone_id)
        .send()
        .await
        .unwrap();
    let mut out: Vec<String> = sets
        .resource_record_sets()
        .iter()
        .filter(|s| s.name().starts_with(&format!("api.{p}")))
        .filter_map(|s| {
            let f = s.failover()?.as_str().to_string();
            let v = s.resource_records().first()?.value().to_string();
            Some(format!("{f}={v}"))
        })
        .collect();
    out.sort();
    out
}

// ---------------------------------------------------------------------------------- tests

#[tokio::test(flavor = "multi_thread")]
async fn kms_reads_crypto_and_replication_run_through_drillbook_on_localstack() {
    let ls = crate::require_localstack!();
    let p = unique_prefix("lsdb_kms");
    let key_id = multi_region_key(ls, &p).await;
    let w = Work::new(ls);
    let rb = w.runbook(
        "kms",
        &format!(
            "version: 1
name: {p}kms
defaults: {{ region: {RECOVERY}, timeout: 60s }}
steps:
  - id: key-ready
    action: kms.assert_replica
    with: {{ key: alias/{p}root }}
  - id: key-works
    action: kms.verify_crypto
    with: {{ key: alias/{p}root }}
  - id: replicate
    action: kms.replicate_key
    region: {HOME}
    with: {{ key: alias/{p}root, replica_region: us-west-2 }}
"
        ),
    );

    // A dry run reads the key in both Regions and says what it would replicate, creating nothing.
    let out = w.dry_run("dry", &rb);
    out.assert_exit(0);
    let j = w.journal("dry");
    assert_eq!(
        run_status(&j),
        ("dry_run".into(), "succeeded".into()),
        "{}",
        lines(&j)
    );
    assert_eq!(
        would_change(&j, "replicate"),
        vec![
            format!("ReplicateKey {key_id} to us-west-2"),
            format!("create alias/{p}root in us-west-2"),
        ]
    );
    assert!(would_change(&j, "key-ready").is_empty());
    assert_eq!(key_type(ls, "us-west-2", &key_id).await, None);

    // Executed: the replica exists in us-west-2, the key is still primary at home.
    let out = w.execute("exec", &rb);
    out.assert_exit(0);
    let j = w.journal("exec");
    assert_eq!(run_status(&j), ("execute".into(), "succeeded".into()));
    let ready = outcome(&j, "key-ready");
    assert_eq!(ready["outputs"]["primary_region"], HOME);
    assert_eq!(
        ready["outputs"]["key_arn"],
        format!("arn:aws:kms:{RECOVERY}:{LS_ACCOUNT}:key/{key_id}")
    );
    assert!(
        outcome(&j, "key-works")["summary"]
            .as_str()
            .unwrap()
            .contains("encrypts and decrypts"),
        "{}",
        lines(&j)
    );
    let replicate = outcome(&j, "replicate");
    assert_eq!(changes(&replicate).len(), 2, "{replicate}");
    assert_eq!(
        replicate["outputs"]["replica_key_arn"],
        format!("arn:aws:kms:us-west-2:{LS_ACCOUNT}:key/{key_id}")
    );
    assert_eq!(
        key_type(ls, "us-west-2", &key_id).await,
        Some(MultiRegionKeyType::Replica)
    );
    assert_eq!(
        key_type(ls, HOME, &key_id).await,
        Some(MultiRegionKeyType::Primary)
    );

    // A second execution finds the replica and changes nothing.
    w.execute("again", &rb).assert_exit(0);
    assert!(changes(&outcome(&w.journal("again"), "replicate")).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn apigateway_stage_variables_and_domain_mappings_run_through_drillbook_on_localstack() {
    let ls = crate::require_localstack!();
    let p = unique_prefix("lsdb_api");
    let api_id = rest_api(ls, &p).await;
    let domain = format!("api.{p}example.com");
    let w = Work::new(ls);
    let rb = w.runbook(
        "api",
        &format!(
            "version: 1
name: {p}api
defaults: {{ region: {RECOVERY}, timeout: 60s }}
steps:
  - id: api-ready
    action: apigateway.assert_ready
    with: {{ rest_api: {p}api, stage: prod, stage_variable: table }}
  - id: point-at-restored
    action: apigateway.update_stage
    needs: [api-ready]
    with: {{ rest_api: \"{{{{ steps.api-ready.rest_api_id }}}}\", stage: prod, variables: {{ table: {p}vault-restored }} }}
  - id: map-domain
    action: apigateway.map_domain
    needs: [point-at-restored]
    with: {{ domain_name: {domain}, rest_api: {p}api, stage: prod }}
  - id: domain-ready
    action: apigateway.assert_ready
    needs: [map-domain]
    with: {{ rest_api: {p}api, stage: prod, domain_name: {domain} }}
"
        ),
    );

    // The dry run names both changes and makes neither. The last step reads the domain before
    // the mapping exists, so a dry run reports it as a finding of that step (nothing fails).
    let out = w.dry_run("dry", &rb);
    out.assert_exit(0);
    let j = w.journal("dry");
    assert_eq!(run_status(&j), ("dry_run".into(), "succeeded".into()));
    assert_eq!(
        would_change(&j, "point-at-restored"),
        vec![format!(
            "set stage variable table = \"{p}vault-restored\" (was \"{p}vault\")"
        )]
    );
    assert_eq!(would_change(&j, "map-domain").len(), 1, "{}", lines(&j));
    assert_eq!(
        stage_variables(ls, &api_id).await.get("table"),
        Some(&format!("{p}vault"))
    );
    assert!(mappings(ls, &domain).await.is_empty());
    let pending = outcome(&j, "domain-ready")["summary"].to_string();
    assert!(
        pending.contains("not checkable before `map-domain`"),
        "{pending}"
    );

    let out = w.execute("exec", &rb);
    out.assert_exit(0);
    let j = w.journal("exec");
    assert_eq!(run_status(&j), ("execute".into(), "succeeded".into()));
    let ready = outcome(&j, "api-ready");
    assert_eq!(ready["outputs"]["rest_api_id"], api_id.as_str());
    assert_eq!(ready["outputs"]["stage_variable"], format!("{p}vault"));
    // The invoke URL is built as AWS documents it (API Gateway DG, "Invoke REST APIs in API
    // Gateway"): https://ID.execute-api.REGION.amazonaws.com/STAGE.
    assert_eq!(
        ready["outputs"]["invoke_url"],
        format!("https://{api_id}.execute-api.{RECOVERY}.amazonaws.com/prod")
    );
    assert_eq!(changes(&outcome(&j, "point-at-restored")).len(), 1);
    assert_eq!(changes(&outcome(&j, "map-domain")).len(), 1);
    // Known LocalStack difference: a Regional custom domain's regional domain name is
    // `d-ID.execute-api.localhost.localstack.cloud` there; AWS gives
    // `d-ID.execute-api.REGION.amazonaws.com` (API Gateway DG, "Set up a Regional custom domain
    // name in API Gateway"). drillbook passes the name through as read.
    let regional = outcome(&j, "domain-ready")["outputs"]["regional_domain_name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        regional.starts_with("d-") && regional.contains(".execute-api."),
        "{regional}"
    );
    assert_eq!(
        stage_variables(ls, &api_id).await.get("table"),
        Some(&format!("{p}vault-restored"))
    );
    let mapped = mappings(ls, &domain).await;
    assert_eq!(mapped.len(), 1, "{mapped:?}");
    assert_eq!((&mapped[0].1, mapped[0].2.as_str()), (&api_id, "prod"));

    // A second execution changes nothing.
    w.execute("again", &rb).assert_exit(0);
    let j = w.journal("again");
    for step in ["point-at-restored", "map-domain"] {
        assert!(
            changes(&outcome(&j, step)).is_empty(),
            "{step}: {}",
            lines(&j)
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn cloudwatch_alarm_actions_and_the_failover_signal_run_through_drillbook_on_localstack() {
    let ls = crate::require_localstack!();
    let p = unique_prefix("lsdb_cw");
    alarms(ls, &p).await;
    let w = Work::new(ls);
    let rb = w.runbook(
        "cw",
        &format!(
            "version: 1
name: {p}cw
defaults: {{ region: {RECOVERY}, timeout: 60s }}
steps:
  - id: force-5xx-alarm
    action: cloudwatch.set_alarm_state
    with: {{ alarm: {p}api-5xx, state: ALARM, reason: game day }}
  - id: alarm-seen
    action: cloudwatch.wait_alarm
    needs: [force-5xx-alarm]
    with: {{ alarms: [{p}api-5xx], state: ALARM }}
  - id: signal
    action: cloudwatch.put_signal
    with: {{ alarm: {p}failover-signal, state: ALARM }}
"
        ),
    );

    let out = w.dry_run("dry", &rb);
    out.assert_exit(0);
    let j = w.journal("dry");
    assert_eq!(run_status(&j), ("dry_run".into(), "succeeded".into()));
    assert_eq!(
        would_change(&j, "signal"),
        vec![format!(
            "publish 1 to Drillbook/Failover/FailoverSignal [System={p}] so `{p}failover-signal` goes ALARM"
        )]
    );
    assert_eq!(would_change(&j, "force-5xx-alarm").len(), 1);
    assert_eq!(
        alarm_state(ls, &format!("{p}api-5xx")).await,
        "INSUFFICIENT_DATA"
    );
    assert_eq!(
        alarm_state(ls, &format!("{p}failover-signal")).await,
        "INSUFFICIENT_DATA"
    );

    // Executed: LocalStack evaluates the signal alarm on its 10 s period, as CloudWatch does
    // (CloudWatch user guide, "Using Amazon CloudWatch alarms"), so put_signal waits for it.
    let out = w.execute("exec", &rb);
    out.assert_exit(0);
    let j = w.journal("exec");
    assert_eq!(run_status(&j), ("execute".into(), "succeeded".into()));
    assert_eq!(
        outcome(&j, "alarm-seen")["outputs"]["states"],
        format!("{p}api-5xx=ALARM")
    );
    let signal = outcome(&j, "signal");
    assert_eq!(signal["outputs"]["state"], "ALARM");
    assert_eq!(signal["outputs"]["value"], "1");
    assert_eq!(alarm_state(ls, &format!("{p}api-5xx")).await, "ALARM");
    assert_eq!(
        alarm_state(ls, &format!("{p}failover-signal")).await,
        "ALARM"
    );

    // A second execution finds both set and publishes nothing.
    w.execute("again", &rb).assert_exit(0);
    let j = w.journal("again");
    for step in ["force-5xx-alarm", "signal"] {
        assert!(
            changes(&outcome(&j, step)).is_empty(),
            "{step}: {}",
            lines(&j)
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ssm_parameters_are_set_and_asserted_through_drillbook_on_localstack() {
    let ls = crate::require_localstack!();
    let p = unique_prefix("lsdb_ssm");
    let host = format!("/{p}app/db/host");
    let password = format!("/{p}app/db/password");
    let secret = format!("{p}Sw0rdfish-Secret");
    put_param(ls, &host, "db-primary.internal").await;
    let w = Work::new(ls);
    let put = w.runbook(
        "put",
        &format!(
            "version: 1
name: {p}ssm
defaults: {{ region: {RECOVERY}, timeout: 60s }}
steps:
  - id: repoint
    action: ssm.put_parameter
    with: {{ name: \"{host}\", value: db-restored.internal }}
  - id: password
    action: ssm.put_parameter
    with: {{ name: \"{password}\", value: \"{secret}\", type: SecureString }}
"
        ),
    );
    let check = |expect: &str| {
        w.runbook(
            &format!("check-{expect}"),
            &format!(
                "version: 1
name: {p}ssm-check
steps:
  - id: check
    action: ssm.assert_parameter
    region: {RECOVERY}
    with: {{ name: \"{host}\", expect: {expect} }}
"
            ),
        )
    };

    let out = w.dry_run("dry", &put);
    out.assert_exit(0);
    let j = w.journal("dry");
    assert_eq!(
        would_change(&j, "repoint"),
        vec![format!(
            "PutParameter `{host}` = `db-restored.internal` (String, overwrite)"
        )]
    );
    assert_eq!(
        param(ls, &host).await,
        ("db-primary.internal".into(), 1, "String".into())
    );

    let out = w.execute("exec", &put);
    out.assert_exit(0);
    let j = w.journal("exec");
    assert_eq!(outcome(&j, "repoint")["outputs"]["version"], "2");
    assert_eq!(outcome(&j, "password")["outputs"]["version"], "1");
    assert_eq!(
        param(ls, &host).await,
        ("db-restored.internal".into(), 2, "String".into())
    );
    assert_eq!(
        param(ls, &password).await,
        (secret.clone(), 1, "SecureString".into())
    );
    // A SecureString's value is in neither the journal nor the output.
    assert!(!lines(&j).contains(&secret));
    assert!(!out.text().contains(&secret));

    // The assertion passes on the value set, and fails (exit 1) on another, naming both.
    w.dry_run("check-ok", &check("db-restored.internal"))
        .assert_exit(0);
    let out = w.execute("check-bad", &check("db-primary.internal"));
    out.assert_exit(1);
    assert!(
        out.text().contains("db-restored.internal"),
        "{}",
        out.text()
    );
    let failed = record(&w.journal("check-bad"), "step_failed", "check");
    assert!(
        failed["error"].to_string().contains("db-primary.internal"),
        "{failed}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_account_guard_asks_localstack_sts_and_refuses_the_wrong_account() {
    let ls = crate::require_localstack!();
    let p = unique_prefix("lsdb_sts");
    let name = format!("/{p}guarded");
    put_param(ls, &name, "before").await;
    let w = Work::new(ls);
    let guarded = |account: &str| {
        w.runbook(
            account,
            &format!(
                "version: 1
name: {p}guarded
accounts: {{ production: \"{account}\" }}
steps:
  - id: set
    action: ssm.put_parameter
    region: {RECOVERY}
    with: {{ name: \"{name}\", value: after }}
"
            ),
        )
    };
    // LocalStack's GetCallerIdentity answers its default account: the run goes ahead.
    let out = w.execute("right", &guarded(LS_ACCOUNT));
    out.assert_exit(0);
    let j = w.journal("right");
    let started = j.iter().find(|r| r["type"] == "run_started").unwrap();
    assert_eq!(started["identity"]["account"], LS_ACCOUNT, "{started}");
    assert_eq!(param(ls, &name).await.0, "after");

    // Another account: refused before any step (exit 2, invalid input), nothing changed.
    put_param_overwrite(ls, &name, "before").await;
    let out = w.execute("wrong", &guarded("111122223333"));
    out.assert_exit(2);
    let text = out.text();
    assert!(
        text.contains("wrong AWS account")
            && text.contains(LS_ACCOUNT)
            && text.contains("111122223333"),
        "{text}"
    );
    assert!(
        !w.state("wrong").join("runs").exists() || {
            std::fs::read_dir(w.state("wrong").join("runs"))
                .unwrap()
                .next()
                .is_none()
        }
    );
    assert_eq!(param(ls, &name).await.0, "before");
}

async fn put_param_overwrite(ls: &Emulator, name: &str, value: &str) {
    aws_sdk_ssm::Client::new(&ls.sdk_config(RECOVERY).await)
        .put_parameter()
        .name(name)
        .value(value)
        .overwrite(true)
        .send()
        .await
        .unwrap();
}

/// A failover runbook shaped like the shipped ones, made only of what LocalStack serves: the
/// key works in the recovery Region, the API is ready there and pointed at it, its custom
/// domain is mapped, the application's parameter is repointed and checked, and the failover
/// signal is set and holds. Route 53 is the next test's: its actions stop at TestDNSAnswer.
#[tokio::test(flavor = "multi_thread")]
async fn a_localstack_failover_runbook_dry_runs_then_executes_and_a_second_execution_changes_nothing()
 {
    let ls = crate::require_localstack!();
    let started = Instant::now();
    let p = unique_prefix("lsdb_fail");
    let key_id = multi_region_key(ls, &p).await;
    let api_id = rest_api(ls, &p).await;
    alarms(ls, &p).await;
    let api_url = format!("/{p}app/api-url");
    let primary_url = format!("https://{p}primary.execute-api.{HOME}.amazonaws.com/prod");
    put_param(ls, &api_url, &primary_url).await;
    let domain = format!("api.{p}example.com");
    let w = Work::new(ls);
    let rb = w.runbook(
        "failover",
        &format!(
            "version: 1
name: {p}localstack-failover
description: Fail {p} over to {{{{ vars.recovery }}}} on LocalStack
accounts: {{ production: \"{LS_ACCOUNT}\" }}
objectives: {{ rto: 5m }}
vars:
  recovery: {RECOVERY}
defaults: {{ region: \"{{{{ vars.recovery }}}}\", timeout: 60s }}
steps:
  - id: key-ready
    action: kms.assert_replica
    with: {{ key: alias/{p}root }}
  - id: key-works
    action: kms.verify_crypto
    needs: [key-ready]
    with: {{ key: \"{{{{ steps.key-ready.key_arn }}}}\" }}
  - id: api-ready
    action: apigateway.assert_ready
    with: {{ rest_api: {p}api, stage: prod, stage_variable: table }}
  - id: point-api
    action: apigateway.update_stage
    needs: [api-ready, key-works]
    with: {{ rest_api: \"{{{{ steps.api-ready.rest_api_id }}}}\", stage: prod, variables: {{ region: \"{{{{ vars.recovery }}}}\" }} }}
  - id: map-domain
    action: apigateway.map_domain
    needs: [point-api]
    with: {{ domain_name: {domain}, rest_api: \"{{{{ steps.api-ready.rest_api_id }}}}\", stage: prod }}
  - id: repoint-app
    action: ssm.put_parameter
    needs: [api-ready]
    with: {{ name: \"{api_url}\", value: \"{{{{ steps.api-ready.invoke_url }}}}\" }}
  - id: app-points-at-recovery
    action: ssm.assert_parameter
    needs: [repoint-app]
    with: {{ name: \"{api_url}\", expect: \"{{{{ steps.api-ready.invoke_url }}}}\" }}
  - id: signal-failover
    action: cloudwatch.put_signal
    needs: [map-domain, app-points-at-recovery]
    with: {{ alarm: {p}failover-signal, state: ALARM }}
  - id: signal-holds
    action: cloudwatch.wait_alarm
    needs: [signal-failover]
    with: {{ alarms: [{p}failover-signal], state: ALARM }}
"
        ),
    );
    let recovery_url = format!("https://{api_id}.execute-api.{RECOVERY}.amazonaws.com/prod");
    let all_steps = [
        "key-ready",
        "key-works",
        "api-ready",
        "point-api",
        "map-domain",
        "repoint-app",
        "app-points-at-recovery",
        "signal-failover",
        "signal-holds",
    ];

    // Dry run: every step observed, the changes named, nothing changed.
    let out = w.dry_run("dry", &rb);
    out.assert_exit(0);
    let j = w.journal("dry");
    assert_eq!(run_status(&j), ("dry_run".into(), "succeeded".into()));
    let mut seen = succeeded_steps(&j);
    seen.sort();
    let mut want: Vec<String> = all_steps.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(seen, want, "{}", lines(&j));
    assert_eq!(
        would_change(&j, "point-api"),
        vec![format!(
            "set stage variable region = \"{RECOVERY}\" (unset)"
        )],
        "{}",
        lines(&j)
    );
    assert_eq!(
        would_change(&j, "repoint-app"),
        vec![format!(
            "PutParameter `{api_url}` = `{recovery_url}` (String, overwrite)"
        )]
    );
    assert_eq!(would_change(&j, "map-domain").len(), 1);
    assert_eq!(would_change(&j, "signal-failover").len(), 1);
    assert!(!stage_variables(ls, &api_id).await.contains_key("region"));
    assert!(mappings(ls, &domain).await.is_empty());
    assert_eq!(param(ls, &api_url).await.0, primary_url);
    assert_eq!(
        alarm_state(ls, &format!("{p}failover-signal")).await,
        "INSUFFICIENT_DATA"
    );
    assert!(out.text().contains("dry-run"), "{}", out.text());

    // Executed: everything the dry run named is done, read back from LocalStack.
    let out = w.execute("exec", &rb);
    out.assert_exit(0);
    let text = out.text();
    assert!(
        text.contains("steps: 9 succeeded, 0 failed, 0 skipped"),
        "{text}"
    );
    let j = w.journal("exec");
    assert_eq!(run_status(&j), ("execute".into(), "succeeded".into()));
    let started_rec = j.iter().find(|r| r["type"] == "run_started").unwrap();
    assert_eq!(started_rec["identity"]["account"], LS_ACCOUNT);
    assert_eq!(
        outcome(&j, "key-ready")["outputs"]["key_arn"],
        format!("arn:aws:kms:{RECOVERY}:{LS_ACCOUNT}:key/{key_id}")
    );
    assert_eq!(outcome(&j, "repoint-app")["outputs"]["version"], "2");
    assert_eq!(
        stage_variables(ls, &api_id).await.get("region"),
        Some(&RECOVERY.to_string())
    );
    let mapped = mappings(ls, &domain).await;
    assert_eq!(mapped.len(), 1, "{mapped:?}");
    assert_eq!(mapped[0].1, api_id);
    assert_eq!(
        param(ls, &api_url).await,
        (recovery_url, 2, "String".into())
    );
    assert_eq!(
        alarm_state(ls, &format!("{p}failover-signal")).await,
        "ALARM"
    );
    // The key was read, not moved.
    assert_eq!(
        key_type(ls, HOME, &key_id).await,
        Some(MultiRegionKeyType::Primary)
    );
    // The report and its evidence are written for the run.
    let report = w.report_dir("exec");
    let html = std::fs::read_to_string(report.join("report.html")).unwrap();
    assert!(html.contains(&format!("{p}localstack-failover")));
    assert!(report.join("manifest.json").exists());

    // Executed again: every step finds its state and changes nothing.
    w.execute("again", &rb).assert_exit(0);
    let j = w.journal("again");
    for step in all_steps {
        assert!(
            changes(&outcome(&j, step)).is_empty(),
            "{step}: {}",
            lines(&j)
        );
    }
    eprintln!(
        "localstack failover runbook: dry run, execution and re-execution in {:?}",
        started.elapsed()
    );
}

/// LocalStack serves hosted zones, records and health checks, but not TestDNSAnswer (not in
/// its community edition), and both Route 53 actions read the answer with it (Route 53 API
/// reference, "TestDNSAnswer": the answer with failover routing and health applied). They stop
/// there, before any change: the health check is not pinned and the records are not swapped.
#[tokio::test(flavor = "multi_thread")]
async fn route53_actions_stop_at_testdnsanswer_on_localstack_before_changing_anything() {
    let ls = crate::require_localstack!();
    let p = unique_prefix("lsdb_r53");
    let (zone_id, hc_id) = failover_zone(ls, &p).await;
    let records_before = failover_values(ls, &zone_id, &p).await;
    assert_eq!(
        records_before,
        vec![
            format!("PRIMARY={}", primary_target(&p)),
            format!("SECONDARY={}", secondary_target(&p)),
        ]
    );
    let w = Work::new(ls);
    let rb = w.runbook(
        "r53",
        &format!(
            "version: 1
name: {p}r53
defaults: {{ timeout: 60s }}
steps:
  - id: answers
    action: route53.assert_records
    with: {{ hosted_zone: {p}example.com., record_name: api.{p}example.com }}
  - id: pin-primary-unhealthy
    action: route53.failover
    with: {{ hosted_zone: {p}example.com., record_name: api.{p}example.com, to: secondary }}
  - id: swap-records
    action: route53.failover
    with: {{ hosted_zone: \"{zone_id}\", record_name: api.{p}example.com, mode: records, to: secondary }}
"
        ),
    );
    for (label, out) in [
        ("dry", w.dry_run("dry", &rb)),
        ("exec", w.execute("exec", &rb)),
    ] {
        out.assert_exit(1);
        let text = out.text();
        assert!(
            text.contains("this endpoint does not support TestDNSAnswer"),
            "{label}: {text}"
        );
        let j = w.journal(label);
        assert_eq!(run_status(&j).1, "failed", "{label}");
        for step in ["answers", "pin-primary-unhealthy", "swap-records"] {
            let failed = record(&j, "step_failed", step);
            assert_eq!(
                failed["error"]["kind"], "unsupported",
                "{label} {step}: {failed}"
            );
            assert_eq!(failed["error"]["operation"], "TestDNSAnswer", "{failed}");
            // Not retried: an endpoint that lacks an operation will not grow it.
            assert_eq!(failed["attempts"], 1, "{failed}");
        }
    }
    assert_eq!(health_check_flags(ls, &hc_id).await, (false, false));
    assert_eq!(failover_values(ls, &zone_id, &p).await, records_before);
}

/// DynamoDB (LocalStack serves it through DynamoDB Local, a Java download impossible here, so it
/// is not started), UpdatePrimaryRegion and ARC (not in LocalStack's community edition): each
/// step fails on its own, at once, as unsupported, naming the operation; none hangs or is
/// retried (the runbook allows 3 attempts), none is deferred, and nothing changes.
#[tokio::test(flavor = "multi_thread")]
async fn services_localstack_cannot_serve_here_fail_their_steps_clearly_and_at_once() {
    let ls = crate::require_localstack!();
    let p = unique_prefix("lsdb_uns");
    let key_id = multi_region_key(ls, &p).await;
    let w = Work::new(ls);
    let rb = w.runbook(
        "unserved",
        &format!(
            "version: 1
name: {p}unserved
defaults: {{ region: {RECOVERY}, timeout: 60s, retry: {{ attempts: 3, backoff: 1s }} }}
steps:
  - id: pitr
    action: dynamodb.assert_pitr
    with: {{ table: {p}vault }}
  - id: promote-key
    action: kms.promote
    with: {{ key: alias/{p}root }}
  - id: promote-key-optional
    action: kms.promote
    with: {{ key: alias/{p}root, optional: true }}
  - id: routing
    action: arc.assert_routing_controls
    with:
      cluster: arn:aws:route53-recovery-control::{LS_ACCOUNT}:cluster/{p}cluster
      states: {{ {p}rc-{RECOVERY}: \"On\" }}
      endpoints: [\"us-east-1={endpoint}\"]
",
            endpoint = ls.endpoint()
        ),
    );
    let expected = [
        ("pitr", "DescribeContinuousBackups"),
        ("promote-key", "UpdatePrimaryRegion"),
        // `optional` defers a promotion whose current primary's Region cannot be reached; an
        // endpoint that lacks the operation is not an outage, so it is not deferred: a drill
        // that never promoted must not read as one that did.
        ("promote-key-optional", "UpdatePrimaryRegion"),
        ("routing", "ListRoutingControls"),
    ];

    // A dry run makes no mutating call: the promotion's observation (DescribeKey) works and
    // names the change, so only an execution meets the missing UpdatePrimaryRegion.
    let t = Instant::now();
    let out = w.dry_run("dry", &rb);
    out.assert_exit(1);
    let j = w.journal("dry");
    assert_eq!(
        would_change(&j, "promote-key"),
        vec![format!("UpdatePrimaryRegion in {HOME} to {RECOVERY}")]
    );
    for (step, op) in [expected[0], expected[3]] {
        let failed = record(&j, "step_failed", step);
        assert_eq!(failed["error"]["kind"], "unsupported", "{failed}");
        assert_eq!(failed["error"]["operation"], op, "{failed}");
    }

    let out = w.execute("exec", &rb);
    out.assert_exit(1);
    let elapsed = t.elapsed();
    let text = out.text();
    let j = w.journal("exec");
    assert_eq!(run_status(&j), ("execute".into(), "failed".into()));
    for (step, op) in expected {
        let failed = record(&j, "step_failed", step);
        assert_eq!(failed["error"]["kind"], "unsupported", "{step}: {failed}");
        assert_eq!(failed["error"]["operation"], op, "{step}: {failed}");
        assert_eq!(failed["attempts"], 1, "{step} is not retried: {failed}");
        assert!(
            text.contains(&format!("this endpoint does not support {op}")),
            "{text}"
        );
    }
    // The help line says what to do.
    assert!(
        text.contains("run against AWS, or an emulator that supports it"),
        "{text}"
    );
    assert!(
        elapsed < Duration::from_secs(30),
        "both runs took {elapsed:?}"
    );
    // The key did not move.
    assert_eq!(
        key_type(ls, HOME, &key_id).await,
        Some(MultiRegionKeyType::Primary)
    );
    assert_eq!(
        key_type(ls, RECOVERY, &key_id).await,
        Some(MultiRegionKeyType::Replica)
    );
}
