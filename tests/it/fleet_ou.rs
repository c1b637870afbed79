//! A fleet's accounts from AWS Organizations (`run --ou`, `--include-child-ous`, `--exclude`,
//! or a file's `targets:`): the OUs are listed as drillbook's own identity, suspended accounts
//! are skipped and listed, never run; a bad OU or a bad `targets:` field stops everything
//! before any target starts. One organization, built once for the file: an OU with three
//! accounts (one suspended) and a child OU with one.

use std::sync::OnceLock;

use serde_json::{Value, json};

use crate::drill::Drill;
use crate::support::{Ran, emulator, unique_prefix};

struct Org {
    prefix: String,
    ou: String,
    dev: String,
    old: String,
    extra: String,
    team: String,
}

/// The organization of this file, made once (on its own runtime: each test has its own).
fn org() -> &'static Org {
    static ORG: OnceLock<Org> = OnceLock::new();
    ORG.get_or_init(|| {
        std::thread::spawn(|| {
            tokio::runtime::Runtime::new()
                .unwrap()
                .block_on(build_org())
        })
        .join()
        .unwrap()
    })
}

async fn build_org() -> Org {
    use aws_sdk_organizations::types::{CreateAccountState, OrganizationFeatureSet};
    let prefix = unique_prefix("fleetou");
    let conf = emulator().sdk_config("us-east-1").await;
    let o = aws_sdk_organizations::Client::new(&conf);
    // The emulator is shared: the organization may exist already.
    if o.describe_organization().send().await.is_err() {
        let _ = o
            .create_organization()
            .feature_set(OrganizationFeatureSet::All)
            .send()
            .await;
    }
    let root = o.list_roots().send().await.unwrap().roots()[0]
        .id()
        .unwrap()
        .to_string();
    let new_ou = |parent: String, name: String| {
        let o = o.clone();
        async move {
            o.create_organizational_unit()
                .parent_id(parent)
                .name(name)
                .send()
                .await
                .unwrap()
                .organizational_unit
                .unwrap()
                .id
                .unwrap()
        }
    };
    let ou = new_ou(root.clone(), format!("{prefix}workloads")).await;
    let child = new_ou(ou.clone(), format!("{prefix}team")).await;
    let mut ids = vec![];
    for (name, parent) in [("dev", &ou), ("old", &ou), ("extra", &ou), ("team", &child)] {
        let name = format!("{prefix}{name}");
        let mut status = o
            .create_account()
            .account_name(&name)
            .email(format!("{name}@example.com"))
            .send()
            .await
            .unwrap()
            .create_account_status
            .unwrap();
        while status.state() == Some(&CreateAccountState::InProgress) {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            status = o
                .describe_create_account_status()
                .create_account_request_id(status.id().unwrap())
                .send()
                .await
                .unwrap()
                .create_account_status
                .unwrap();
        }
        let id = status.account_id().unwrap().to_string();
        o.move_account()
            .account_id(&id)
            .source_parent_id(&root)
            .destination_parent_id(parent)
            .send()
            .await
            .unwrap();
        ids.push(id);
    }
    // One account suspended, as Organizations reports a closed one for 90 days.
    let (status, text) = crate::support::http::request(
        emulator().endpoint(),
        "POST",
        "/_drillbook/organizations/accounts",
        Some(&json!({"account_id": ids[1], "status": "SUSPENDED"}).to_string()),
    )
    .unwrap();
    assert_eq!(status, 200, "{text}");
    Org {
        prefix,
        ou,
        dev: ids[0].clone(),
        old: ids[1].clone(),
        extra: ids[2].clone(),
        team: ids[3].clone(),
    }
}

/// A runbook whose one step reads an SSM parameter in the target's account (a dry run of a
/// write), with `extra` added at its top (a `targets:` field).
fn runbook(d: &Drill, p: &str, extra: &str) -> String {
    let rb = d.dir().join("rb.yaml");
    std::fs::write(
        &rb,
        format!(
            "version: 1\nname: {p}ou\n{extra}steps:\n  - id: mark\n    action: ssm.put_parameter\n    with:\n      name: \"/{p}ou/marker\"\n      value: \"{{{{ target.account }}}}\"\n"
        ),
    )
    .unwrap();
    rb.display().to_string()
}

fn fleet_record(d: &Drill) -> Value {
    let fleets: Vec<_> = std::fs::read_dir(d.dir().join("state/fleets"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(fleets.len(), 1, "one fleet expected");
    serde_json::from_slice(&std::fs::read(fleets[0].path().join("fleet.json")).unwrap()).unwrap()
}

/// The fleet's targets, `ACCOUNT REGION`, sorted.
fn targets(record: &Value) -> Vec<String> {
    let mut t: Vec<String> = record["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            format!(
                "{} {}",
                t["account"].as_str().unwrap(),
                t["region"].as_str().unwrap()
            )
        })
        .collect();
    t.sort();
    t
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Every run journal of the drill's state, concatenated.
fn journals(d: &Drill) -> String {
    std::fs::read_dir(d.dir().join("state/runs"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("journal.jsonl")).ok())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn ou_targets_follow_child_ous_exclusions_and_skip_suspended_accounts() {
    let org = org();
    let p = unique_prefix("fleetou_run");

    // The OU alone: its direct accounts; the suspended one is skipped, listed, never run.
    let d = Drill::new();
    let rb = runbook(&d, &p, "");
    let out = d.run(
        &["run", &rb, "--ou", &org.ou, "--regions", "eu-west-1"],
        &[],
    );
    out.assert_exit(0);
    let record = fleet_record(&d);
    assert_eq!(
        targets(&record),
        sorted(vec![
            format!("{} eu-west-1", org.dev),
            format!("{} eu-west-1", org.extra)
        ]),
        "{record}"
    );
    let old_name = format!("{}old", org.prefix);
    assert_eq!(
        record["skipped"],
        json!([{"account": org.old, "name": old_name, "reason": "SUSPENDED in AWS Organizations"}])
    );
    let stdout = out.stdout_text();
    assert!(
        stdout.contains(&format!(
            "skipped account {} ({old_name}): SUSPENDED",
            org.old
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("2 targets: 2 succeeded") && stdout.contains("1 account skipped"),
        "{stdout}"
    );
    assert!(
        out.stderr_text()
            .contains(&format!("[{} ({old_name})] skipped", org.old)),
        "{}",
        out.stderr_text()
    );
    let all = journals(&d);
    assert!(all.contains(&org.dev) && all.contains(&org.extra), "{all}");
    assert!(!all.contains(&org.old), "the suspended account ran: {all}");
    let junit = std::fs::read_to_string(
        d.dir()
            .join("state/fleets")
            .join(record["fleet_id"].as_str().unwrap())
            .join("junit.xml"),
    )
    .unwrap();
    assert!(
        junit.contains(&format!("{} ({old_name})", org.old)) && junit.contains("<skipped"),
        "{junit}"
    );

    // With its child OU, less one account.
    let d = Drill::new();
    let rb = runbook(&d, &p, "");
    let out = d.run(
        &[
            "run",
            &rb,
            "--ou",
            &org.ou,
            "--include-child-ous",
            "--exclude",
            &org.extra,
            "--regions",
            "eu-west-1",
        ],
        &[],
    );
    out.assert_exit(0);
    assert_eq!(
        targets(&fleet_record(&d)),
        sorted(vec![
            format!("{} eu-west-1", org.dev),
            format!("{} eu-west-1", org.team)
        ])
    );
    assert!(!journals(&d).contains(&org.extra));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_runbooks_targets_run_it_as_a_fleet_and_a_flag_overrides_one_field() {
    let org = org();
    let p = unique_prefix("fleetou_file");
    let d = Drill::new();
    let rb = runbook(
        &d,
        &p,
        &format!(
            "targets:\n  organizational_units: [{}]\n  include_child_ous: true\n  regions: [eu-west-1]\n  max_concurrency: 2\n",
            org.ou
        ),
    );
    // No target flag but `--regions`, which replaces the file's.
    let out = d.run(&["run", &rb, "--regions", "ca-central-1"], &[]);
    out.assert_exit(0);
    let record = fleet_record(&d);
    assert_eq!(
        targets(&record),
        sorted(vec![
            format!("{} ca-central-1", org.dev),
            format!("{} ca-central-1", org.extra),
            format!("{} ca-central-1", org.team),
        ]),
        "{record}"
    );
    assert_eq!(record["max_concurrency"], json!({"Count": 2}), "{record}");
    assert_eq!(record["skipped"][0]["account"], org.old.as_str());
}

#[test]
fn a_bad_ou_or_targets_field_stops_everything_before_any_target() {
    let p = unique_prefix("fleetou_bad");
    // An OU id of no OU in the organization.
    let d = Drill::new();
    let rb = runbook(&d, &p, "");
    let out = d.run(
        &[
            "run",
            &rb,
            "--ou",
            "ou-zzzz-zzzzzzzz",
            "--regions",
            "eu-west-1",
            "--execute",
            "--yes",
        ],
        &[],
    );
    out.assert_exit(2);
    let text = out.text();
    assert!(
        text.contains("no OU or root `ou-zzzz-zzzzzzzz` in this organization"),
        "{text}"
    );
    assert!(text.contains("help:"), "{text}");
    assert!(!d.dir().join("state/runs").exists(), "a target ran");
    assert!(
        !d.dir().join("state/fleets").exists(),
        "a fleet was recorded"
    );

    // A `targets:` field with an OU name for an id and an unknown key: each at its line and
    // column.
    let d = Drill::new();
    let rb = runbook(
        &d,
        &p,
        "targets:\n  organizational_units: [Workloads]\n  regions: [eu-west-1]\n  max_error: 1\n",
    );
    let out = d.run(&["run", &rb], &[]);
    out.assert_exit(2);
    let text = out.text();
    assert!(
        text.contains("`Workloads` in `targets.organizational_units` is not an OU id"),
        "{text}"
    );
    assert!(text.contains("rb.yaml:4:26"), "{text}");
    assert!(
        text.contains("unknown field `max_error` in `targets`") && text.contains("rb.yaml:6:3"),
        "{text}"
    );
    assert!(text.contains("did you mean `max_errors`?"), "{text}");
    assert!(!d.dir().join("state/runs").exists());
}
