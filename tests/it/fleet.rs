//! A runbook across accounts and Regions (`run --accounts --regions`): each target is a run of
//! its own in its account (through the role drillbook assumes there), the fleet one record;
//! the rollout stops queueing past `--max-errors`, and `resume FLEET_ID` runs only what did not
//! succeed. The emulator keeps each account's resources apart: an assumed role's credentials
//! land the calls in the role's account.

use crate::drill::Drill;
use crate::support::{Ran, emulator, unique_prefix};

const ACCOUNTS: [&str; 3] = ["111111111111", "222222222222", "333333333333"];

/// An SSM client in `account`, through the role drillbook's targets assume there.
pub(crate) async fn ssm_in(account: &str, region: &str) -> aws_sdk_ssm::Client {
    let conf = emulator().sdk_config(region).await;
    let sts = aws_sdk_sts::Client::new(&conf);
    let creds = sts
        .assume_role()
        .role_arn(format!(
            "arn:aws:iam::{account}:role/OrganizationAccountAccessRole"
        ))
        .role_session_name("fleet-test")
        .send()
        .await
        .unwrap()
        .credentials
        .unwrap();
    let conf = conf
        .into_builder()
        .credentials_provider(aws_sdk_sts::config::SharedCredentialsProvider::new(
            aws_sdk_sts::config::Credentials::new(
                creds.access_key_id,
                creds.secret_access_key,
                Some(creds.session_token),
                None,
                "fleet-test",
            ),
        ))
        .build();
    aws_sdk_ssm::Client::new(&conf)
}

async fn parameter(account: &str, region: &str, name: &str) -> Option<String> {
    ssm_in(account, region)
        .await
        .get_parameter()
        .name(name)
        .send()
        .await
        .ok()
        .and_then(|o| o.parameter?.value)
}

fn fleet_record(d: &Drill) -> serde_json::Value {
    let fleets: Vec<_> = std::fs::read_dir(d.dir().join("state/fleets"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(fleets.len(), 1, "one fleet expected");
    serde_json::from_slice(&std::fs::read(fleets[0].path().join("fleet.json")).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_runbook_runs_in_every_account_and_region_each_target_its_own_run() {
    let p = unique_prefix("fleet_all");
    let d = Drill::new();
    let rb = d.dir().join("rb.yaml");
    std::fs::write(
        &rb,
        format!(
            "version: 1\nname: {p}fleet\nsteps:\n  - id: mark\n    action: ssm.put_parameter\n    with:\n      name: \"/{p}fleet/marker\"\n      value: \"{{{{ target.account }}}} in {{{{ target.region }}}}\"\n"
        ),
    )
    .unwrap();
    let accounts = ACCOUNTS[..2].join(",");
    let out = d.run(
        &[
            "run",
            rb.to_str().unwrap(),
            "--execute",
            "--yes",
            "--accounts",
            &accounts,
            "--regions",
            "eu-west-1,ca-central-1",
            "--max-concurrency",
            "2",
        ],
        &[],
    );
    out.assert_exit(0);
    let text = out.text();
    assert!(text.contains("4 targets: 4 succeeded, 0 failed"), "{text}");
    // Each target wrote in its own account and Region, through the role it assumed there.
    for account in &ACCOUNTS[..2] {
        for region in ["eu-west-1", "ca-central-1"] {
            assert_eq!(
                parameter(account, region, &format!("/{p}fleet/marker")).await,
                Some(format!("{account} in {region}")),
                "{account} {region}"
            );
        }
    }
    // Not in the account drillbook itself ran as.
    assert_eq!(
        parameter_as_caller("eu-west-1", &format!("/{p}fleet/marker")).await,
        None
    );
    let record = fleet_record(&d);
    let targets = record["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 4);
    let mut runs: Vec<&str> = targets
        .iter()
        .map(|t| t["run_id"].as_str().unwrap())
        .collect();
    runs.sort();
    runs.dedup();
    assert_eq!(runs.len(), 4, "one run per target: {record}");
    for t in targets {
        assert_eq!(t["status"], "succeeded", "{t}");
        // Each target's evidence is its own, sealed; the fleet's manifest seals its manifest.
        let dir = std::path::Path::new(t["report_dir"].as_str().unwrap());
        let manifest = std::fs::read(dir.join("manifest.json")).unwrap();
        use sha2::Digest as _;
        assert_eq!(
            t["manifest_sha256"].as_str().unwrap(),
            hex::encode(sha2::Sha256::digest(&manifest))
        );
        let verified = crate::support::cli::bin()
            .args(["verify-evidence", dir.to_str().unwrap()])
            .output();
        verified.assert_exit(0);
        // The target's journal says which target it is.
        let journal = std::fs::read_to_string(
            d.dir()
                .join("state/runs")
                .join(t["run_id"].as_str().unwrap())
                .join("journal.jsonl"),
        )
        .unwrap();
        assert!(
            journal.contains("\"type\":\"fleet_target\"")
                && journal.contains(t["account"].as_str().unwrap()),
            "{journal}"
        );
    }
    // `runs` lists the fleet.
    let runs = d.run(&["runs"], &[]);
    runs.assert_exit(0);
    assert!(
        runs.text().contains(record["fleet_id"].as_str().unwrap()),
        "{}",
        runs.text()
    );
}

async fn parameter_as_caller(region: &str, name: &str) -> Option<String> {
    aws_sdk_ssm::Client::new(&emulator().sdk_config(region).await)
        .get_parameter()
        .name(name)
        .send()
        .await
        .ok()
        .and_then(|o| o.parameter?.value)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_rollout_stops_past_max_errors_and_resume_runs_only_what_did_not_succeed() {
    let p = unique_prefix("fleet_err");
    let name = format!("/{p}fleet/ready");
    // Only the first account is ready: the check fails in the others.
    ssm_in(ACCOUNTS[0], "eu-west-1")
        .await
        .put_parameter()
        .name(&name)
        .value("yes")
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .send()
        .await
        .unwrap();
    let d = Drill::new();
    let rb = d.dir().join("rb.yaml");
    std::fs::write(
        &rb,
        format!(
            "version: 1\nname: {p}fleet\nsteps:\n  - id: ready\n    action: ssm.assert_parameter\n    with:\n      name: \"{name}\"\n      expect: \"yes\"\n    retry: {{ attempts: 1 }}\n"
        ),
    )
    .unwrap();
    let accounts = ACCOUNTS.join(",");
    let out = d.run(
        &[
            "run",
            rb.to_str().unwrap(),
            "--execute",
            "--yes",
            "--accounts",
            &accounts,
            "--regions",
            "eu-west-1",
            "--max-concurrency",
            "1",
            "--max-errors",
            "0",
        ],
        &[],
    );
    out.assert_exit(1);
    let text = out.text();
    // max_errors 0: the first failure stops the queue; the third account never started.
    assert!(
        text.contains("3 targets: 1 succeeded, 1 failed, 0 paused, 1 not started"),
        "{text}"
    );
    assert!(text.contains("stopped queueing"), "{text}");
    let before = fleet_record(&d);
    let fleet_id = before["fleet_id"].as_str().unwrap().to_string();
    assert!(
        text.contains(&format!("drillbook resume {fleet_id}")),
        "{text}"
    );
    let first_run = before["targets"][0]["run_id"].as_str().unwrap().to_string();
    let failed_run = before["targets"][1]["run_id"].as_str().unwrap().to_string();
    assert!(before["targets"][2]["run_id"].is_null(), "{before}");
    // The cause is fixed in the other accounts; the resume runs those two and nothing else.
    for account in &ACCOUNTS[1..] {
        ssm_in(account, "eu-west-1")
            .await
            .put_parameter()
            .name(&name)
            .value("yes")
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .send()
            .await
            .unwrap();
    }
    // A changed runbook is refused: the targets not started yet run the fleet's text or none.
    let original = std::fs::read_to_string(&rb).unwrap();
    std::fs::write(&rb, original.replace("expect: \"yes\"", "expect: \"no\"")).unwrap();
    let refused = d.run(&["resume", &fleet_id], &[]);
    refused.assert_exit(2);
    assert!(
        refused.text().contains("changed since fleet"),
        "{}",
        refused.text()
    );
    assert_eq!(
        fleet_record(&d)["targets"][2]["run_id"],
        serde_json::Value::Null
    );
    std::fs::write(&rb, original).unwrap();
    let again = d.run(&["resume", &fleet_id], &[]);
    again.assert_exit(0);
    assert!(
        again.text().contains("3 targets: 3 succeeded"),
        "{}",
        again.text()
    );
    assert!(
        !again.text().contains(&format!("[{} ", ACCOUNTS[0])),
        "the target that had succeeded ran again: {}",
        again.text()
    );
    let after = fleet_record(&d);
    // The succeeded target keeps its run; the failed one went on in the same run.
    assert_eq!(after["targets"][0]["run_id"], first_run.as_str());
    assert_eq!(after["targets"][1]["run_id"], failed_run.as_str());
    assert!(after["targets"][2]["run_id"].is_string(), "{after}");
}

/// The stop alarm (`--stop-alarm`, Systems Manager's `TargetLocationAlarmConfiguration`): an
/// alarm of the caller's account that goes into ALARM while a target runs stops the rollout:
/// the running target finishes, no new one starts; `resume FLEET_ID` starts the rest once the
/// alarm is OK again. A missing alarm is refused before any target starts.
#[tokio::test(flavor = "multi_thread")]
async fn a_stop_alarm_in_alarm_stops_the_rollout_and_resume_goes_on_once_it_is_ok() {
    use aws_sdk_cloudwatch::types::{ComparisonOperator, StateValue, Statistic};
    let p = unique_prefix("fleet_alarm");
    let alarm = format!("{p}guardrail");
    let cw = aws_sdk_cloudwatch::Client::new(&emulator().sdk_config("eu-west-1").await);
    cw.put_metric_alarm()
        .alarm_name(&alarm)
        .namespace("Drill")
        .metric_name("Errors")
        .statistic(Statistic::Sum)
        .period(60)
        .evaluation_periods(1)
        .threshold(1.0)
        .comparison_operator(ComparisonOperator::GreaterThanOrEqualToThreshold)
        .send()
        .await
        .unwrap();
    let set = |state: StateValue| {
        let cw = cw.clone();
        let alarm = alarm.clone();
        async move {
            cw.set_alarm_state()
                .alarm_name(alarm)
                .state_value(state)
                .state_reason("test")
                .send()
                .await
                .unwrap();
        }
    };
    set(StateValue::Ok).await;
    let d = Drill::new();
    std::fs::write(
        d.dir().join("rb.yaml"),
        format!("version: 1\nname: {p}fleet\nsteps:\n  - id: hold\n    action: wait\n    with: {{ duration: 2s }}\n"),
    )
    .unwrap();
    let args = |alarm: &str| {
        let mut a: Vec<String> = ["run", "rb.yaml", "--execute", "--yes", "--accounts"]
            .map(String::from)
            .to_vec();
        a.push(ACCOUNTS.join(","));
        a.extend(
            [
                "--regions",
                "eu-west-1",
                "--max-concurrency",
                "1",
                "--stop-alarm",
            ]
            .map(String::from),
        );
        a.push(alarm.to_string());
        a
    };

    // A stop alarm that does not exist: nothing starts.
    let missing = d.run(
        &args(&format!("{p}nope"))
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        &[],
    );
    missing.assert_exit(2);
    assert!(
        missing.text().contains("not found in eu-west-1"),
        "{}",
        missing.text()
    );
    assert!(!d.dir().join("state/runs").exists(), "a target ran");

    let child = crate::support::cli::bin()
        .args(args(&alarm))
        .arg("--state-dir")
        .arg(d.dir().join("state"))
        .envs(emulator().env())
        .current_dir(d.dir())
        .spawn();
    // The first target is running: the alarm goes off.
    let runs = d.dir().join("state/runs");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::fs::read_dir(&runs).map_or(0, |r| r.count()) == 0 {
        assert!(std::time::Instant::now() < deadline, "no target started");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    set(StateValue::Alarm).await;
    let out = child.wait_with_output().unwrap();
    out.assert_exit(1);
    let text = out.text();
    assert!(
        text.contains("3 targets: 1 succeeded, 0 failed, 0 paused, 2 not started"),
        "{text}"
    );
    let record = fleet_record(&d);
    let stopped = record["stopped"].as_str().unwrap_or_default();
    assert!(
        stopped.contains(&format!("stop alarm `{alarm}` (eu-west-1) is in ALARM")),
        "{record}"
    );
    assert_eq!(
        std::fs::read_dir(&runs).unwrap().count(),
        1,
        "a second target started"
    );

    // Still in ALARM: the resume starts nothing. OK again: it runs the two not started.
    let fleet_id = record["fleet_id"].as_str().unwrap().to_string();
    d.run(&["resume", &fleet_id], &[]).assert_exit(1);
    assert_eq!(std::fs::read_dir(&runs).unwrap().count(), 1);
    set(StateValue::Ok).await;
    let again = d.run(&["resume", &fleet_id], &[]);
    again.assert_exit(0);
    assert!(
        again.text().contains("3 targets: 3 succeeded"),
        "{}",
        again.text()
    );
    assert_eq!(std::fs::read_dir(&runs).unwrap().count(), 3);
}

/// With the DynamoDB store (`--state dynamodb://...`), each target's run is in the table, under
/// its own lock; the fleet's record stays in `--state-dir`.
#[test]
fn a_fleet_on_the_dynamodb_store_keeps_each_targets_run_in_the_table() {
    let p = unique_prefix("fleet_ddb");
    let url = format!("dynamodb://{p}state?region=eu-west-1");
    let d = Drill::new();
    crate::support::cli::bin()
        .args(["state", "init", "--state", &url])
        .envs(emulator().env())
        .output()
        .assert_exit(0);
    std::fs::write(
        d.dir().join("rb.yaml"),
        format!("version: 1\nname: {p}fleet\nsteps:\n  - id: hold\n    action: wait\n    with: {{ duration: 0s }}\n"),
    )
    .unwrap();
    let out = d.run(
        &[
            "run",
            "rb.yaml",
            "--execute",
            "--yes",
            "--state",
            &url,
            "--accounts",
            &ACCOUNTS[..2].join(","),
            "--regions",
            "eu-west-1",
        ],
        &[],
    );
    out.assert_exit(0);
    assert!(
        out.text().contains("2 targets: 2 succeeded"),
        "{}",
        out.text()
    );
    let record = fleet_record(&d);
    let ids: Vec<String> = (0..2)
        .map(|k| record["targets"][k]["run_id"].as_str().unwrap().to_string())
        .collect();
    // The runs are in the table, none in the state directory's files.
    assert!(
        !d.dir().join("state/runs").exists(),
        "a run was kept in the files"
    );
    let runs = d.run(&["runs", "--state", &url], &[]);
    runs.assert_exit(0);
    for id in &ids {
        assert!(runs.text().contains(id.as_str()), "{}", runs.text());
    }
}
