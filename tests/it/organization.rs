//! The emulator's organization (`localstack/emulator seed --accounts N`): member accounts in an
//! OU, each with the role the management account assumes (`OrganizationAccountAccessRole`) and
//! its own copy of the reference system, reached only through that role; their status as
//! Organizations reports it, suspended accounts included; and a dry run of the region failover
//! that reads one member account's copy through its role.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::faults::{Fault, FaultProxy, Rule};
use crate::support::{emulator, emulator_script, repo_root, unique_prefix};

const PRIMARY: &str = "ca-central-1";

/// `localstack/emulator seed --accounts N --ou OU --prefix P --json` on the shared emulator, with
/// its delays set to 0 for `prefix` first.
pub(crate) fn seed_accounts(prefix: &str, accounts: usize, ou: &str) -> Value {
    emulator().fast(prefix);
    let out = Command::new(emulator_script())
        .args(["seed", "--json", "--prefix", prefix, "--ou", ou])
        .args(["--accounts", &accounts.to_string()])
        .arg("--state-file")
        .arg(emulator().state_file())
        .output()
        .expect("run localstack/emulator seed");
    assert!(
        out.status.success(),
        "seed --accounts {accounts} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("seed prints JSON")
}

/// An SDK configuration signed with `role_arn`'s credentials (STS AssumeRole as the caller).
async fn config_as(role_arn: &str, region: &str) -> aws_config::SdkConfig {
    let conf = emulator().sdk_config(region).await;
    let creds = aws_sdk_sts::Client::new(&conf)
        .assume_role()
        .role_arn(role_arn)
        .role_session_name("organization-test")
        .send()
        .await
        .unwrap()
        .credentials
        .unwrap();
    conf.to_builder()
        .credentials_provider(aws_sdk_sts::config::SharedCredentialsProvider::new(
            aws_sdk_sts::config::Credentials::new(
                creds.access_key_id(),
                creds.secret_access_key(),
                Some(creds.session_token().to_string()),
                None,
                "organization-test",
            ),
        ))
        .build()
}

/// One AWS Organizations call (JSON protocol, `AWSOrganizationsV20161128.<operation>`) as the
/// caller, the organization's management account; the crate has no Organizations SDK client.
fn organizations(operation: &str, body: Value) -> Value {
    let hostport = emulator()
        .endpoint()
        .trim_start_matches("http://")
        .to_string();
    let body = body.to_string();
    let mut stream = TcpStream::connect(&hostport).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let req = format!(
        "POST / HTTP/1.0\r\nHost: {hostport}\r\nContent-Type: application/x-amz-json-1.1\r\n\
         X-Amz-Target: AWSOrganizationsV20161128.{operation}\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=test/20261207/us-east-1/organizations/aws4_request, SignedHeaders=host, Signature=0\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(req.as_bytes()).unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let (head, rest) = raw.split_once("\r\n\r\n").unwrap();
    assert!(head.contains(" 200 "), "{operation}: {head}\n{rest}");
    serde_json::from_str(rest).unwrap()
}

fn accounts_for_parent(ou: &str) -> Vec<Value> {
    organizations("ListAccountsForParent", json!({"ParentId": ou}))["Accounts"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn each_seeded_account_has_its_own_copy_reached_only_through_its_role() {
    let prefix = unique_prefix("organization");
    let ou_name = format!("{prefix}workloads");
    let org = seed_accounts(&prefix, 3, &ou_name);
    let ou = org["ou"]["id"].as_str().unwrap().to_string();
    let accounts = org["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 3, "{org}");
    assert_eq!(org["role_name"], "OrganizationAccountAccessRole");
    let mgmt = org["organization"]["management_account_id"]
        .as_str()
        .unwrap();
    let table = format!("{prefix}vault");

    let mut ids = vec![];
    let mut zones = vec![];
    for a in accounts {
        let id = a["id"].as_str().unwrap();
        assert_ne!(id, mgmt);
        assert_eq!(
            a["role_arn"],
            format!("arn:aws:iam::{id}:role/OrganizationAccountAccessRole")
        );
        // Through the role: the account's own table and hosted zone.
        let conf = config_as(a["role_arn"].as_str().unwrap(), PRIMARY).await;
        let who = aws_sdk_sts::Client::new(&conf)
            .get_caller_identity()
            .send()
            .await
            .unwrap();
        assert_eq!(who.account(), Some(id));
        let t = aws_sdk_dynamodb::Client::new(&conf)
            .describe_table()
            .table_name(&table)
            .send()
            .await
            .unwrap()
            .table
            .unwrap();
        assert_eq!(
            t.table_arn(),
            Some(format!("arn:aws:dynamodb:{PRIMARY}:{id}:table/{table}").as_str())
        );
        let zone = a["seed"]["route53"]["hosted_zone_id"].as_str().unwrap();
        let z = aws_sdk_route53::Client::new(&conf)
            .get_hosted_zone()
            .id(zone)
            .send()
            .await
            .unwrap();
        assert_eq!(
            z.hosted_zone().map(|z| z.name()),
            Some(format!("{prefix}unolock.example.").as_str())
        );
        // Another account's zone is not visible from this one.
        for other in &zones {
            let err = aws_sdk_route53::Client::new(&conf)
                .get_hosted_zone()
                .id(other)
                .send()
                .await;
            assert!(err.is_err(), "account {id} sees zone {other}");
        }
        // The role has AWS's permissions: AdministratorAccess, as CreateAccount attaches it.
        let attached = aws_sdk_iam::Client::new(&conf)
            .list_attached_role_policies()
            .role_name("OrganizationAccountAccessRole")
            .send()
            .await
            .unwrap();
        assert_eq!(
            attached
                .attached_policies()
                .iter()
                .filter_map(|p| p.policy_arn())
                .collect::<Vec<_>>(),
            ["arn:aws:iam::aws:policy/AdministratorAccess"]
        );
        ids.push(id.to_string());
        zones.push(zone.to_string());
    }
    // Through the fault proxy the tests put in front of the emulator, the role's credentials
    // still land in the account (a throttled first attempt retried by the SDK included).
    let proxy = FaultProxy::start(
        emulator().endpoint(),
        vec![Rule::new("DynamoDB_20120810.DescribeTable", Fault::Throttle).times(1)],
    )
    .await;
    let conf = config_as(accounts[0]["role_arn"].as_str().unwrap(), PRIMARY)
        .await
        .to_builder()
        .endpoint_url(proxy.endpoint())
        .build();
    let t = aws_sdk_dynamodb::Client::new(&conf)
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    assert_eq!(
        t.table_arn(),
        Some(format!("arn:aws:dynamodb:{PRIMARY}:{}:table/{table}", ids[0]).as_str())
    );
    assert_eq!(proxy.injected(), vec![1]);

    // The management account's own credentials see none of it.
    let own = emulator().sdk_config(PRIMARY).await;
    let err = aws_sdk_dynamodb::Client::new(&own)
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_dynamodb::error::ProvideErrorMetadata::code(&err),
        Some("ResourceNotFoundException"),
        "{err:?}"
    );
    for zone in &zones {
        assert!(
            aws_sdk_route53::Client::new(&own)
                .get_hosted_zone()
                .id(zone)
                .send()
                .await
                .is_err(),
            "the management account sees zone {zone}"
        );
    }

    // Organizations lists the three under the OU, ACTIVE.
    let listed = accounts_for_parent(&ou);
    let mut listed_ids: Vec<&str> = listed.iter().map(|a| a["Id"].as_str().unwrap()).collect();
    listed_ids.sort_unstable();
    let mut want: Vec<&str> = ids.iter().map(String::as_str).collect();
    want.sort_unstable();
    assert_eq!(listed_ids, want, "{listed:?}");
    assert!(listed.iter().all(|a| a["Status"] == "ACTIVE"), "{listed:?}");
    let children = organizations(
        "ListChildren",
        json!({"ParentId": ou, "ChildType": "ACCOUNT"}),
    );
    assert_eq!(children["Children"].as_array().unwrap().len(), 3);

    // A suspended account reads SUSPENDED, in the OU's list and in DescribeAccount.
    let (status, text) = crate::support::http::request(
        emulator().endpoint(),
        "POST",
        "/_drillbook/organizations/accounts",
        Some(&json!({"account_id": ids[2], "status": "SUSPENDED"}).to_string()),
    )
    .unwrap();
    assert_eq!(status, 200, "{text}");
    let listed = accounts_for_parent(&ou);
    let status_of = |id: &str| {
        listed.iter().find(|a| a["Id"] == id).unwrap()["Status"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(status_of(&ids[2]), "SUSPENDED");
    assert_eq!(status_of(&ids[0]), "ACTIVE");
    let described = organizations("DescribeAccount", json!({"AccountId": ids[2]}));
    assert_eq!(described["Account"]["Status"], "SUSPENDED");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_of_the_failover_as_account_twos_role_reads_account_twos_copy() {
    let prefix = unique_prefix("orgfailover");
    let org = seed_accounts(&prefix, 2, &format!("{prefix}workloads"));
    let second = &org["accounts"][1];
    let id = second["id"].as_str().unwrap();
    let role = second["role_arn"].as_str().unwrap();

    // The shipped runbook, every step run as the account's role (`defaults.role_arn`).
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(repo_root().join("runbooks/region-failover.yaml")).unwrap();
    assert!(text.contains("\ndefaults:\n"));
    let text = text
        .replacen("\nvars:\n", "\nvars:\n  role: \"\"\n", 1)
        .replacen(
            "\ndefaults:\n",
            "\ndefaults:\n  role_arn: \"{{ vars.role }}\"\n",
            1,
        );
    let runbook = dir.path().join("region-failover.yaml");
    std::fs::write(&runbook, text).unwrap();

    let p = &prefix;
    let mut cmd = crate::support::cli::bin();
    cmd.arg("run")
        .arg(&runbook)
        .state_dir(dir.path().join("state"))
        .args(["--message-format", "json"])
        .envs(emulator().env());
    for (k, v) in [
        ("role", role.to_string()),
        ("table", format!("{p}vault")),
        ("key", format!("alias/{p}unolock-root")),
        ("api", format!("{p}unolock-api")),
        ("domain", format!("api.{p}unolock.example")),
        ("zone", format!("{p}unolock.example.")),
        ("record", format!("api.{p}unolock.example")),
        ("alarm", format!("{p}unolock-api-5xx")),
        ("signal_alarm", format!("{p}unolock-failover-signal")),
        ("dns_ttl", "0s".to_string()),
    ] {
        cmd.arg("--var").arg(format!("{k}={v}"));
    }
    let out = cmd.output();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    // It read account 2's copy (the management account has none of these names): its
    // table and key, in account 2, and its hosted zone's records (switch-dns observed them).
    let table_arn = format!("arn:aws:dynamodb:eu-west-1:{id}:table/{p}vault");
    assert!(stdout.contains(&table_arn), "no {table_arn} in:\n{stdout}");
    assert!(
        stdout.contains(&format!("arn:aws:kms:eu-west-1:{id}:key/")),
        "{stdout}"
    );
    let dns = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|e| e["type"] == "step_succeeded" && e["step"] == "switch-dns")
        .unwrap_or_else(|| panic!("switch-dns did not succeed:\n{stdout}\n{stderr}"));
    assert_eq!(dns["dry_run"], true, "{dns}");
    assert!(!stdout.contains("123456789012:table/"), "{stdout}");
}
