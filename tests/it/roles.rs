//! Identities in an organization, through the binary against the emulator: roles per step
//! (`role_arn` assumed with STS AssumeRole; the `accounts` guard checks every step's effective
//! account), with two accounts (the caller's, the emulator's default, and a second one whose
//! resources are reached only through the role: the emulator answers calls signed with
//! assumed-role credentials in the role's account); credentials that expire mid-run; and a
//! Region denied by a service control policy.

use crate::support::Ran;
use std::path::Path;
use std::process::Output;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};

use crate::support::{emulator, unique_prefix};

const REGION: &str = "eu-central-1";
const PROD: &str = "222233334444";

fn bin(dir: &Path, args: &[&str]) -> Output {
    crate::support::cli::bin()
        .args(args)
        .state_dir(dir.join("state"))
        .current_dir(dir)
        .envs(emulator().env_for_region(REGION))
        .output()
}

/// The id of the only run in `dir`'s state directory.
fn only_run_id(dir: &Path) -> String {
    std::fs::read_dir(dir.join("state/runs"))
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .file_name()
        .into_string()
        .unwrap()
}

/// A DynamoDB client in the caller's account (the emulator's default).
async fn caller_dynamodb() -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&emulator().sdk_config(REGION).await)
}

/// A DynamoDB client signed with `role`'s credentials (so in its account).
async fn dynamodb_as(role: &str) -> aws_sdk_dynamodb::Client {
    let conf = emulator().sdk_config(REGION).await;
    let creds = aws_sdk_sts::Client::new(&conf)
        .assume_role()
        .role_arn(role)
        .role_session_name("test-setup")
        .send()
        .await
        .unwrap()
        .credentials
        .unwrap();
    let conf = conf
        .to_builder()
        .credentials_provider(aws_sdk_sts::config::SharedCredentialsProvider::new(
            aws_sdk_sts::config::Credentials::new(
                creds.access_key_id(),
                creds.secret_access_key(),
                Some(creds.session_token().to_string()),
                None,
                "test",
            ),
        ))
        .build();
    aws_sdk_dynamodb::Client::new(&conf)
}

pub(crate) async fn create_table(client: &aws_sdk_dynamodb::Client, name: &str) {
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

fn runbook(name: &str, defaults_role: &str, table: &str) -> String {
    format!(
        r#"version: 1
name: {name}
accounts: {{ prod: "{PROD}" }}
defaults:
  region: {REGION}
  role_arn: "{defaults_role}"
  external_id: drill-2026
  role_duration: 30m
steps:
  - id: mark-recovered
    action: dynamodb.put_item
    with:
      table: {table}
      item: {{ pk: order-1, state: recovered }}
  - id: check-recovered
    action: dynamodb.assert_item
    needs: [mark-recovered]
    with:
      table: {table}
      key: {{ pk: order-1 }}
      expect: {{ state: recovered }}
"#
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn steps_act_in_the_roles_account_through_assume_role_with_the_runs_session_name() {
    let p = unique_prefix("roles");
    let role = format!("arn:aws:iam::{PROD}:role/{p}recovery");
    let table = format!("{p}orders");
    let prod = dynamodb_as(&role).await;
    create_table(&prod, &table).await;
    let dir = tempfile::tempdir().unwrap();
    let rb = dir.path().join("rb.yaml");
    std::fs::write(&rb, runbook(&format!("{p}roles"), &role, &table)).unwrap();

    let out = bin(
        dir.path(),
        &["run", rb.to_str().unwrap(), "--execute", "--yes"],
    );
    out.assert_exit(0);
    let run_id = only_run_id(dir.path());

    // The item is in the second account's table...
    let item = prod
        .get_item()
        .table_name(&table)
        .key("pk", AttributeValue::S("order-1".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        item.item().and_then(|i| i.get("state")),
        Some(&AttributeValue::S("recovered".into()))
    );
    // ... and the caller's account has no such table: nothing ran as the caller.
    let caller = caller_dynamodb().await;
    assert!(
        caller
            .describe_table()
            .table_name(&table)
            .send()
            .await
            .is_err(),
        "the table exists only in {PROD}"
    );
    // AssumeRole was called with the run's session name, the step's tags, the external id and
    // the duration.
    let assumed: Vec<_> = emulator()
        .recorded_requests()
        .into_iter()
        .filter(|r| {
            r.operation.as_deref() == Some("AssumeRole")
                && r.body.contains(&format!("drillbook-{run_id}"))
        })
        .collect();
    assert!(!assumed.is_empty(), "no AssumeRole for run {run_id}");
    let body = assumed
        .iter()
        .map(|r| r.body.clone())
        .collect::<Vec<_>>()
        .join("\n");
    for want in [
        "drillbook%3Astep",
        "mark-recovered",
        "ExternalId=drill-2026",
        "DurationSeconds=1800",
    ] {
        assert!(body.contains(want), "missing {want} in:\n{body}");
    }
    // Credentials are never written: not in the journal, not in the reports.
    let journal = std::fs::read_to_string(
        dir.path()
            .join("state/runs")
            .join(&run_id)
            .join("journal.jsonl"),
    )
    .unwrap();
    assert!(
        !journal.contains("SessionToken") && !journal.contains("secret"),
        "{journal}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_role_outside_the_runbooks_accounts_is_refused_before_any_step() {
    let p = unique_prefix("roles_guard");
    let other = format!("arn:aws:iam::999988887777:role/{p}recovery");
    let table = format!("{p}orders");
    let dir = tempfile::tempdir().unwrap();
    let rb = dir.path().join("rb.yaml");
    std::fs::write(&rb, runbook(&format!("{p}guard"), &other, &table)).unwrap();
    for mode in [&[][..], &["--execute", "--yes"][..]] {
        let mut args = vec!["run", rb.to_str().unwrap()];
        args.extend_from_slice(mode);
        let out = bin(dir.path(), &args);
        let all = out.text();
        assert_ne!(out.status.code(), Some(0), "{all}");
        assert!(
            all.contains("in account 999988887777, which is not one of the runbook's accounts"),
            "{all}"
        );
    }
    assert!(
        emulator().mutating_calls_matching(&table).is_empty(),
        "nothing was changed"
    );
    // `iam-policy` says what the role needs, in its account, and what the caller needs to
    // assume it (with session tags and the external id).
    let out = crate::support::cli::bin()
        .args(["iam-policy", rb.to_str().unwrap()])
        .output();
    out.assert_exit(0);
    let policy: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let role = &policy["roles"][&other];
    assert_eq!(role["account"], "999988887777", "{policy:#}");
    let actions = role["policy"]["Statement"].to_string();
    assert!(
        actions.contains("dynamodb:PutItem") && actions.contains("dynamodb:GetItem"),
        "{policy:#}"
    );
    assert!(
        role["policy"]["Statement"]
            .to_string()
            .contains(&format!("999988887777:table/{table}")),
        "{policy:#}"
    );
    assert_eq!(
        role["trust_policy_statement"]["Condition"]["StringEquals"]["sts:ExternalId"],
        "drill-2026"
    );
    let assume = policy["caller"]["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == "AssumeRunbookRoles")
        .unwrap_or_else(|| panic!("{policy:#}"));
    assert_eq!(assume["Resource"][0], other.as_str());
    assert!(assume["Action"].to_string().contains("sts:TagSession"));
}

/// Credentials that expire in the middle of a run pause it (exit 3): nothing is marked failed,
/// the step caught mid-call stays in doubt, the message says what to run; after new
/// credentials, `resume` finishes the run. The emulator expires this test's own access key.
#[tokio::test(flavor = "multi_thread")]
async fn credentials_that_expire_mid_run_pause_it_and_resume_finishes_it() {
    let p = unique_prefix("expiring");
    let key = format!("AKIA{}", p.to_uppercase().replace(['-', '_'], ""));
    let table = format!("{p}orders");
    create_table(&caller_dynamodb().await, &table).await;
    let dir = tempfile::tempdir().unwrap();
    let rb = dir.path().join("rb.yaml");
    std::fs::write(
        &rb,
        format!(
            r#"version: 1
name: {p}expiring
defaults: {{ region: {REGION} }}
steps:
  - id: mark
    action: dynamodb.put_item
    with: {{ table: {table}, item: {{ pk: order-1, state: recovered }} }}
  - id: restore-takes-long
    action: wait
    needs: [mark]
    with: {{ duration: 3s }}
  - id: check
    action: dynamodb.assert_item
    needs: [restore-takes-long]
    with: {{ table: {table}, key: {{ pk: order-1 }}, expect: {{ state: recovered }} }}
"#
        ),
    )
    .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    emulator().expire_credentials(&key, now + 1.5);
    let run = |args: &[&str]| {
        crate::support::cli::bin()
            .args(args)
            .arg("--state-dir")
            .arg(dir.path().join("state"))
            .current_dir(dir.path())
            .envs(emulator().env_for_region(REGION))
            .env("AWS_ACCESS_KEY_ID", &key)
            .env("AWS_PROFILE", "oncall-prod")
            .env(
                "DRILLBOOK_IDENTITY_ARN",
                "arn:aws:iam::000000000000:user/oncall",
            )
            .output()
    };
    let out = run(&["run", rb.to_str().unwrap(), "--execute", "--yes"]);
    let all = out.text();
    out.assert_exit(3);
    assert!(all.contains("expired, missing or not valid"), "{all}");
    assert!(all.contains("aws sso login --profile oncall-prod"), "{all}");
    let run_id = only_run_id(dir.path());
    assert!(all.contains(&format!("drillbook resume {run_id}")), "{all}");
    let journal = || -> Vec<serde_json::Value> {
        std::fs::read_to_string(
            dir.path()
                .join("state/runs")
                .join(&run_id)
                .join("journal.jsonl"),
        )
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
    };
    let records = journal();
    assert!(
        !records.iter().any(|r| r["type"] == "step_failed"),
        "nothing is marked failed: {records:#?}"
    );
    assert!(
        records
            .iter()
            .any(|r| r["type"] == "step_started" && r["step"] == "check")
    );
    let paused = records.last().unwrap();
    assert_eq!(paused["type"], "run_paused", "{paused}");
    assert!(
        paused["reason"]
            .as_str()
            .unwrap()
            .contains("ExpiredTokenException"),
        "{paused}"
    );

    emulator().renew_credentials(&key);
    let out = run(&["resume", &run_id, "--yes"]);
    out.assert_exit(0);
    let records = journal();
    let resumed = records.iter().find(|r| r["type"] == "run_resumed").unwrap();
    assert_eq!(
        resumed["in_doubt"],
        serde_json::json!(["check"]),
        "{resumed}"
    );
    let succeeded: Vec<_> = records
        .iter()
        .filter(|r| r["type"] == "step_succeeded")
        .map(|r| r["step"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(succeeded, ["mark", "restore-takes-long", "check"]);
}

/// An organization's Region-deny SCP is named for what it is, and a dry run names every step it
/// would stop, before any change. The emulator answers the SCP's denial for one Region (a
/// Region no other test uses, since faults are shared by the tests of this binary).
#[tokio::test(flavor = "multi_thread")]
async fn a_region_denied_by_an_scp_is_reported_as_such_on_every_affected_step_of_a_dry_run() {
    let region = "ap-southeast-6";
    let p = unique_prefix("scp");
    emulator().fault(region, Some("dynamodb"), "scp_deny");
    let dir = tempfile::tempdir().unwrap();
    let rb = dir.path().join("rb.yaml");
    std::fs::write(
        &rb,
        format!(
            r#"version: 1
name: {p}scp
defaults: {{ region: {region} }}
steps:
  - id: vault-replica
    action: dynamodb.assert_replica
    with: {{ table: {p}vault }}
  - id: orders-pitr
    action: dynamodb.assert_pitr
    with: {{ table: {p}orders }}
  - id: settle
    action: wait
    with: {{ duration: 0s }}
"#
        ),
    )
    .unwrap();
    let out = bin(dir.path(), &["run", rb.to_str().unwrap()]);
    emulator().clear_faults(Some(region));
    let all = out.text();
    out.assert_exit(1);
    for step in ["vault-replica", "orders-pitr"] {
        let line = all
            .lines()
            .find(|l| l.starts_with(&format!("error: step `{step}` failed")))
            .unwrap_or_else(|| panic!("no failure of `{step}` in:\n{all}"));
        assert!(
            line.contains("explicit deny in a service control policy"),
            "{line}"
        );
    }
    assert!(
        all.contains(
            "service control policy (SCP) denies dynamodb:DescribeTable in ap-southeast-6"
        ),
        "{all}"
    );
    assert!(all.contains("allow ap-southeast-6"), "{all}");
    // The dry run went on: the independent step ran.
    let journal = dir
        .path()
        .join("state/runs")
        .join(only_run_id(dir.path()))
        .join("journal.jsonl");
    let journal = std::fs::read_to_string(journal).unwrap();
    assert!(
        journal.contains(r#""type":"step_succeeded","step":"settle""#),
        "{journal}"
    );
}

/// Evidence CloudTrail can confirm: every AWS call that changed something is journaled with
/// its request id, operation, Region, account and role, listed in the reports, and
/// `verify-evidence --cloudtrail` finds each in the emulator's CloudTrail event history (through
/// the role for the call made with it): pending before the delivery delay, found after it.
#[tokio::test(flavor = "multi_thread")]
async fn changes_are_journaled_with_request_ids_and_verify_evidence_finds_them_in_cloudtrail() {
    let p = unique_prefix("trail");
    let role = format!("arn:aws:iam::{PROD}:role/{p}recovery");
    let prod_table = format!("{p}prod");
    let own_table = format!("{p}own");
    create_table(&dynamodb_as(&role).await, &prod_table).await;
    create_table(&caller_dynamodb().await, &own_table).await;
    let dir = tempfile::tempdir().unwrap();
    let rb = dir.path().join("rb.yaml");
    std::fs::write(
        &rb,
        format!(
            r#"version: 1
name: {p}trail
defaults: {{ region: {REGION} }}
steps:
  - id: mark-prod
    action: dynamodb.put_item
    role_arn: "{role}"
    with: {{ table: {prod_table}, item: {{ pk: order-1, state: recovered }} }}
  - id: mark-own
    action: dynamodb.put_item
    with: {{ table: {own_table}, item: {{ pk: order-1, state: recovered }} }}
"#
        ),
    )
    .unwrap();
    // CloudTrail delivers late: nothing is in the event history yet.
    emulator().configure(serde_json::json!({"cloudtrail_delivery_seconds": 3600}));
    let out = bin(
        dir.path(),
        &["run", rb.to_str().unwrap(), "--execute", "--yes"],
    );
    out.assert_exit(0);
    let reports = std::fs::read_dir(dir.path().join("state/reports"))
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(reports.join("report.json")).unwrap()).unwrap();
    let calls = doc["aws_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 2, "{calls:#?}");
    let by_step = |s: &str| calls.iter().find(|c| c["step"] == s).unwrap().clone();
    let prod = by_step("mark-prod");
    assert_eq!(prod["operation"], "PutItem");
    assert_eq!(prod["region"], REGION);
    assert_eq!(prod["role_arn"], role.as_str());
    assert_eq!(prod["account"], PROD);
    assert!(
        prod["request_id"].as_str().is_some_and(|r| !r.is_empty()),
        "{prod}"
    );
    let own = by_step("mark-own");
    assert!(own.get("role_arn").is_none(), "{own}");
    assert!(own["account"].is_string(), "the caller's account: {own}");
    let md = std::fs::read_to_string(reports.join("report.md")).unwrap();
    assert!(md.contains("## AWS changes (for CloudTrail)"), "{md}");
    assert!(md.contains(prod["request_id"].as_str().unwrap()));
    let html = std::fs::read_to_string(reports.join("report.html")).unwrap();
    assert!(html.contains("id=\"aws-calls\""));

    let verify = || {
        crate::support::cli::bin()
            .args(["verify-evidence", reports.to_str().unwrap(), "--cloudtrail"])
            .envs(emulator().env_for_region(REGION))
            .env_remove("AWS_PROFILE")
            .output()
    };
    let out = verify();
    let all = out.text();
    out.assert_exit(0);
    assert_eq!(all.matches("  pending ").count(), 2, "{all}");

    emulator().configure(serde_json::json!({"cloudtrail_delivery_seconds": 0}));
    let out = verify();
    let all = out.text();
    out.assert_exit(0);
    assert_eq!(all.matches("  found ").count(), 2, "{all}");
    assert!(all.contains("2 changes checked, none missing"), "{all}");

    // A change CloudTrail never saw, older than the delivery delay, is missing.
    let aws = drillbook::actions::aws::Aws::from_config(
        emulator().sdk_config(REGION).await,
        Default::default(),
    );
    let forged: drillbook::actions::aws::AwsCall = serde_json::from_value(serde_json::json!({
        "step": "mark-own", "service": "DynamoDB", "operation": "PutItem", "region": REGION,
        "request_id": "not-a-real-request", "status": 200,
        "at": (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339(),
    }))
    .unwrap();
    let checks = drillbook::evidence::cloudtrail::check(&aws, "run", &[forged], chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(
        checks[0].status,
        drillbook::evidence::cloudtrail::TrailStatus::Missing
    );
}
