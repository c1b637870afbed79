//! `s3.assert_versioning`, `s3.restore_object`, `s3.assert_object` and `s3.put_object` through
//! the binary against the emulator, and the Terraform state drill
//! (`scenarios/terraform-state-overwrite.yaml`): each test seeds its own versioned bucket,
//! state versions and lock table (with Terraform's digest item), and reads the outcome back from
//! the emulator (the object's body, its version list, the digest item).
//!
//! S3 lists LastModified to the second, so the seeding waits for the next second between
//! versions that a test tells apart by time.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};

use crate::drill::Drill;
use crate::support::{Ran, emulator, repo_root, unique_prefix};

const REGION: &str = "us-east-1";
/// The second system's Region.
const OTHER: &str = "eu-west-2";

async fn s3(region: &str) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(&emulator().sdk_config(region).await)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

async fn ddb(region: &str) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&emulator().sdk_config(region).await)
}

fn md5_hex(bytes: &[u8]) -> String {
    use md5::{Digest, Md5};
    hex::encode(Md5::digest(bytes).as_slice())
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Waits until the wall clock is in a later second than `t`'s (at most a second).
async fn next_second_after(t: DateTime<Utc>) {
    let next = t.timestamp() + 1;
    while Utc::now().timestamp() < next {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A Terraform state document, as the backend writes it.
fn state(serial: u32, lineage: &str) -> String {
    format!(
        "{{\n  \"version\": 4,\n  \"terraform_version\": \"1.9.8\",\n  \"serial\": {serial},\n  \"lineage\": \"{lineage}\",\n  \"outputs\": {{}},\n  \"resources\": []\n}}\n"
    )
}

/// What a test seeded: the bucket, the key, the lock table, and the versions written (oldest
/// first: id, body, LastModified as listed).
struct State {
    region: String,
    bucket: String,
    key: String,
    table: String,
    versions: Vec<(String, String, DateTime<Utc>)>,
}

/// A bucket `{p}tfstate` in `region` (versioned unless `versioned` is false), the lock table
/// `{p}locks` (partition key LockID, as Terraform's S3 backend requires), one version of `key`
/// per body (each in a later second than the one before), and the digest item of the last.
async fn seed(p: &str, region: &str, key: &str, bodies: &[String], versioned: bool) -> State {
    let c = s3(region).await;
    let bucket = format!("{p}tfstate");
    let mut create = c.create_bucket().bucket(&bucket);
    if region != "us-east-1" {
        create = create.create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(region))
                .build(),
        );
    }
    create.send().await.unwrap();
    if versioned {
        c.put_bucket_versioning()
            .bucket(&bucket)
            .versioning_configuration(
                aws_sdk_s3::types::VersioningConfiguration::builder()
                    .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
    let table = format!("{p}locks");
    ddb(region)
        .await
        .create_table()
        .table_name(&table)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("LockID")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("LockID")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    let mut versions = vec![];
    for body in bodies {
        if let Some((_, _, at)) = versions.last() {
            next_second_after(*at).await;
        }
        let out = c
            .put_object()
            .bucket(&bucket)
            .key(key)
            .body(body.clone().into_bytes().into())
            .send()
            .await
            .unwrap();
        let id = out.version_id().unwrap_or("null").to_string();
        let listed = list(region, &bucket, key)
            .await
            .into_iter()
            .find(|v| v.0 == id)
            .map(|v| v.1)
            .unwrap();
        versions.push((id, body.clone(), listed));
    }
    let last = versions.last().unwrap();
    put_digest(region, &table, &bucket, key, &md5_hex(last.1.as_bytes())).await;
    next_second_after(last.2).await;
    State {
        region: region.into(),
        bucket,
        key: key.into(),
        table,
        versions,
    }
}

/// The key's versions, newest first: (id, LastModified, IsLatest).
async fn list(region: &str, bucket: &str, key: &str) -> Vec<(String, DateTime<Utc>, bool)> {
    let out = s3(region)
        .await
        .list_object_versions()
        .bucket(bucket)
        .prefix(key)
        .send()
        .await
        .unwrap();
    out.versions()
        .iter()
        .filter(|v| v.key() == Some(key))
        .map(|v| {
            let t = v.last_modified().unwrap();
            (
                v.version_id().unwrap().to_string(),
                DateTime::from_timestamp(t.secs(), t.subsec_nanos()).unwrap(),
                v.is_latest().unwrap_or(false),
            )
        })
        .collect()
}

/// The current body and version id.
async fn current(s: &State) -> (String, String) {
    let out = s3(&s.region)
        .await
        .get_object()
        .bucket(&s.bucket)
        .key(&s.key)
        .send()
        .await
        .unwrap();
    let id = out.version_id().unwrap_or("null").to_string();
    let body = out.body.collect().await.unwrap().into_bytes();
    (String::from_utf8(body.to_vec()).unwrap(), id)
}

async fn put_digest(region: &str, table: &str, bucket: &str, key: &str, digest: &str) {
    ddb(region)
        .await
        .put_item()
        .table_name(table)
        .set_item(Some(HashMap::from([
            (
                "LockID".to_string(),
                AttributeValue::S(format!("{bucket}/{key}-md5")),
            ),
            ("Digest".to_string(), AttributeValue::S(digest.to_string())),
        ])))
        .send()
        .await
        .unwrap();
}

/// The digest item's `Digest` (Terraform's S3 backend: LockID `BUCKET/KEY-md5`).
async fn digest(s: &State) -> Option<String> {
    ddb(&s.region)
        .await
        .get_item()
        .table_name(&s.table)
        .key(
            "LockID",
            AttributeValue::S(format!("{}/{}-md5", s.bucket, s.key)),
        )
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item()
        .and_then(|i| i.get("Digest"))
        .and_then(|d| d.as_s().ok())
        .cloned()
}

/// A runbook of one step `id` running `action` in `region` with `with` (YAML flow mapping).
fn runbook(d: &Drill, id: &str, action: &str, region: &str, with: &str) -> String {
    let text = format!(
        "version: 1\nname: {id}\nsteps:\n  - id: {id}\n    action: {action}\n    region: {region}\n    timeout: 2m\n    with: {with}\n"
    );
    let path = d.dir().join(format!("{id}.yaml"));
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

fn restore_with(s: &State, restore_to: &str) -> String {
    format!(
        "{{ bucket: \"{}\", key: \"{}\", restore_to: \"{restore_to}\", lock_table: \"{}\" }}",
        s.bucket, s.key, s.table
    )
}

/// The step's `step_succeeded` record.
fn succeeded(journal: &[serde_json::Value], step: &str) -> serde_json::Value {
    journal
        .iter()
        .rev()
        .find(|r| r["type"] == "step_succeeded" && r["step"] == step)
        .cloned()
        .unwrap_or_else(|| panic!("no step_succeeded for {step}: {journal:?}"))
}

/// Restores the state `s` to `restore_to` through the binary (executed unless `dry`).
fn restore(s: &State, restore_to: &str, dry: bool) -> (Drill, std::process::Output) {
    let d = Drill::new();
    let rb = runbook(
        &d,
        "restore",
        "s3.restore_object",
        &s.region,
        &restore_with(s, restore_to),
    );
    let args: Vec<&str> = if dry {
        vec!["run", &rb]
    } else {
        vec!["run", &rb, "--execute", "--yes"]
    };
    let out = d.run(&args, &[]);
    (d, out)
}

#[tokio::test(flavor = "multi_thread")]
async fn restore_takes_the_version_of_the_time_keeps_history_updates_the_digest_and_runs_once() {
    let p = unique_prefix("s3_restore");
    let bodies = vec![
        state(1, "l-1"),
        state(2, "l-1"),
        "garbage: not a state".to_string(),
    ];
    let s = seed(
        &p,
        REGION,
        "env/production/terraform.tfstate",
        &bodies,
        true,
    )
    .await;
    let (v2_id, v2_body, v2_at) = s.versions[1].clone();
    // Between the second version and the garbage: the second version's listed second has passed.
    let restore_to = rfc3339(v2_at + TimeDelta::seconds(1));
    assert!(v2_at + TimeDelta::seconds(1) <= s.versions[2].2);

    // A dry run names the version and changes nothing.
    let (_, out) = restore(&s, &restore_to, true);
    out.assert_exit(0);
    assert!(out.text().contains(&v2_id), "{}", out.text());
    assert_eq!(list(REGION, &s.bucket, &s.key).await.len(), 3);
    assert_eq!(current(&s).await.0, bodies[2]);

    let (d, out) = restore(&s, &restore_to, false);
    out.assert_exit(0);
    let rec = succeeded(&d.journal(), "restore");
    let outputs = &rec["outcome"]["outputs"];
    let (body, now_id) = current(&s).await;
    assert_eq!(
        body, v2_body,
        "the second version's content is current again"
    );
    assert_eq!(outputs["restored_from"], v2_id.as_str(), "{rec}");
    assert_eq!(outputs["version_id"], now_id.as_str(), "{rec}");
    assert_eq!(
        outputs["restored_from_time"],
        rfc3339(v2_at).replace(".000", "")
    );
    assert_eq!(outputs["digest"], md5_hex(v2_body.as_bytes()).as_str());
    // History kept: a new current version on top of the three.
    let after = list(REGION, &s.bucket, &s.key).await;
    assert_eq!(after.len(), 4, "{after:?}");
    assert_eq!(after[0].0, now_id);
    assert!(after[0].2, "the copy is the latest");
    for (id, _, _) in &s.versions {
        assert!(after.iter().any(|v| &v.0 == id), "version {id} was lost");
    }
    assert_eq!(digest(&s).await, Some(md5_hex(v2_body.as_bytes())));

    // The same restore again changes nothing: no copy, no write.
    let (d, out) = restore(&s, &restore_to, false);
    out.assert_exit(0);
    let rec = succeeded(&d.journal(), "restore");
    assert!(
        rec["outcome"]["changes"]
            .as_array()
            .is_none_or(|c| c.is_empty()),
        "{rec}"
    );
    assert_eq!(rec["outcome"]["outputs"]["version_id"], now_id.as_str());
    assert_eq!(rec["outcome"]["outputs"]["restored_from"], v2_id.as_str());
    assert_eq!(list(REGION, &s.bucket, &s.key).await.len(), 4);
    assert_eq!(current(&s).await, (v2_body.clone(), now_id));

    // A digest item changed behind its back is set again, and only it.
    put_digest(REGION, &s.table, &s.bucket, &s.key, "0000").await;
    let (_, out) = restore(&s, &restore_to, false);
    out.assert_exit(0);
    assert_eq!(digest(&s).await, Some(md5_hex(v2_body.as_bytes())));
    assert_eq!(list(REGION, &s.bucket, &s.key).await.len(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_time_before_the_first_version_is_refused_and_nothing_changes() {
    let p = unique_prefix("s3_early");
    let bodies = vec![state(1, "l-2"), "garbage".to_string()];
    let s = seed(&p, REGION, "terraform.tfstate", &bodies, true).await;
    // The first version's own second: it may have been written after this time.
    let (out_dry, out) = (
        restore(&s, &rfc3339(s.versions[0].2), true).1,
        restore(&s, &rfc3339(s.versions[0].2), false).1,
    );
    for o in [&out_dry, &out] {
        assert_ne!(o.code(), 0, "{}", o.text());
        assert!(o.text().contains("no version of"), "{}", o.text());
        assert!(o.text().contains("help"), "{}", o.text());
    }
    assert_eq!(list(REGION, &s.bucket, &s.key).await.len(), 2);
    assert_eq!(current(&s).await.0, bodies[1]);
    assert_eq!(digest(&s).await, Some(md5_hex(bodies[1].as_bytes())));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unversioned_or_suspended_bucket_is_refused() {
    let p = unique_prefix("s3_unver");
    let s = seed(&p, REGION, "terraform.tfstate", &[state(1, "l-3")], false).await;
    let later = rfc3339(Utc::now() + TimeDelta::seconds(5));
    let (_, out) = restore(&s, &later, false);
    assert_eq!(out.code(), 1, "{}", out.text());
    assert!(
        out.text().contains("never had versioning enabled"),
        "{}",
        out.text()
    );
    assert!(
        out.text().contains("put-bucket-versioning"),
        "{}",
        out.text()
    );
    let d = Drill::new();
    let rb = runbook(
        &d,
        "versioning",
        "s3.assert_versioning",
        REGION,
        &format!("{{ bucket: {} }}", s.bucket),
    );
    let out = d.run(&["run", &rb], &[]);
    assert_eq!(out.code(), 1, "{}", out.text());
    assert!(out.text().contains("Unversioned"), "{}", out.text());

    // Enabled then suspended: refused too, named as such.
    let c = s3(REGION).await;
    for status in ["Enabled", "Suspended"] {
        c.put_bucket_versioning()
            .bucket(&s.bucket)
            .versioning_configuration(
                aws_sdk_s3::types::VersioningConfiguration::builder()
                    .status(aws_sdk_s3::types::BucketVersioningStatus::from(status))
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
    let (_, out) = restore(&s, &later, false);
    assert_eq!(out.code(), 1, "{}", out.text());
    assert!(out.text().contains("Suspended"), "{}", out.text());
    assert_eq!(current(&s).await.0, state(1, "l-3"));
}

#[tokio::test(flavor = "multi_thread")]
async fn assert_versioning_says_what_mfa_delete_and_object_lock_are() {
    let p = unique_prefix("s3_assertv");
    let s = seed(&p, REGION, "terraform.tfstate", &[state(1, "l-4")], true).await;
    let check = |bucket: String| async move {
        let d = Drill::new();
        let rb = runbook(
            &d,
            "versioning",
            "s3.assert_versioning",
            REGION,
            &format!("{{ bucket: {bucket} }}"),
        );
        let out = d.run(&["run", &rb], &[]);
        out.assert_exit(0);
        succeeded(&d.journal(), "versioning")["outcome"]["outputs"].clone()
    };
    let o = check(s.bucket.clone()).await;
    assert_eq!(o["status"], "Enabled");
    assert_eq!(o["mfa_delete"], "Disabled");
    assert_eq!(o["object_lock"], "none");

    // A bucket created with Object Lock (which turns versioning on) and a default retention.
    let locked = format!("{p}locked");
    let c = s3(REGION).await;
    c.create_bucket()
        .bucket(&locked)
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .unwrap();
    c.put_object_lock_configuration()
        .bucket(&locked)
        .object_lock_configuration(
            aws_sdk_s3::types::ObjectLockConfiguration::builder()
                .object_lock_enabled(aws_sdk_s3::types::ObjectLockEnabled::Enabled)
                .rule(
                    aws_sdk_s3::types::ObjectLockRule::builder()
                        .default_retention(
                            aws_sdk_s3::types::DefaultRetention::builder()
                                .mode(aws_sdk_s3::types::ObjectLockRetentionMode::Governance)
                                .days(30)
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let o = check(locked).await;
    assert_eq!(o["status"], "Enabled");
    assert_eq!(
        o["object_lock"],
        "Enabled (default retention GOVERNANCE, 30 days)"
    );
}

/// Another system: another Region, a key with characters a copy source must encode, another
/// lock table name, and a state deleted (a delete marker) after its last good version.
#[tokio::test(flavor = "multi_thread")]
async fn a_second_system_in_another_region_restores_a_deleted_state_with_an_encoded_key() {
    let p = unique_prefix("s3_other");
    let key = "states/core net+edge.tfstate";
    let bodies = vec![state(7, "l-5"), state(8, "l-5")];
    let s = seed(&p, OTHER, key, &bodies, true).await;
    s3(OTHER)
        .await
        .delete_object()
        .bucket(&s.bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    // Once the delete marker's listed second has passed.
    next_second_after(Utc::now()).await;
    let restore_to = rfc3339(Utc::now());
    let (d, out) = restore(&s, &restore_to, false);
    // The newest entry by then is the delete marker: there is nothing to restore at that time.
    assert_eq!(out.code(), 1, "{}", out.text());
    assert!(out.text().contains("was deleted"), "{}", out.text());
    drop(d);
    // Before the deletion: the second version comes back.
    let before_delete = rfc3339(s.versions[1].2 + TimeDelta::seconds(1));
    let (d, out) = restore(&s, &before_delete, false);
    out.assert_exit(0);
    let rec = succeeded(&d.journal(), "restore");
    assert_eq!(
        rec["outcome"]["outputs"]["restored_from"],
        s.versions[1].0.as_str()
    );
    assert_eq!(current(&s).await.0, bodies[1]);
    assert_eq!(digest(&s).await, Some(md5_hex(bodies[1].as_bytes())));
    // The assertion agrees, by MD5, by version and by time.
    let d = Drill::new();
    let with = format!(
        "{{ bucket: \"{}\", key: \"{key}\", md5: \"{}\", same_as: \"{}\", as_of: \"{before_delete}\", lock_table: \"{}\" }}",
        s.bucket,
        md5_hex(bodies[1].as_bytes()),
        s.versions[1].0,
        s.table
    );
    let rb = runbook(&d, "check", "s3.assert_object", OTHER, &with);
    d.run(&["run", &rb], &[]).assert_exit(0);
}

/// The drill's variables for the state `s`.
fn drill_vars(s: &State) -> Vec<String> {
    vec![
        format!("--var=bucket={}", s.bucket),
        format!("--var=key={}", s.key),
        format!("--var=lock_table={}", s.table),
        format!("--var=region={}", s.region),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn the_state_overwrite_drill_brings_the_good_state_back() {
    let p = unique_prefix("s3_drill");
    let good = state(42, "l-6");
    let s = seed(
        &p,
        REGION,
        "env/production/terraform.tfstate",
        &[state(41, "l-6"), good.clone()],
        true,
    )
    .await;
    let d = Drill::new();
    let scenario = repo_root().join("scenarios/terraform-state-overwrite.yaml");
    let out = d.run(
        &["drill", scenario.to_str().unwrap(), "--execute", "--yes"],
        &drill_vars(&s),
    );
    let all = out.text();
    out.assert_exit(0);
    for line in [
        "PASS  state-is-the-good-one",
        "PASS  restore-ran",
        "drill `terraform-state-overwrite` PASSED",
    ] {
        assert!(all.contains(line), "missing `{line}` in:\n{all}");
    }
    // The good state is current, the garbage kept as a noncurrent version, the digest matches.
    assert_eq!(current(&s).await.0, good);
    let versions = list(REGION, &s.bucket, &s.key).await;
    assert_eq!(
        versions.len(),
        4,
        "two seeded, the garbage, the copy: {versions:?}"
    );
    assert_eq!(digest(&s).await, Some(md5_hex(good.as_bytes())));
    let judged = d
        .journal()
        .into_iter()
        .find(|r| r["type"] == "drill_judged")
        .expect("a drill_judged record");
    assert!(
        judged["verdicts"]["expectations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["passed"] == true),
        "{judged}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_state_overwrite_drill_fails_when_the_restore_points_after_the_damage() {
    let p = unique_prefix("s3_drillbad");
    let good = state(5, "l-7");
    let s = seed(
        &p,
        REGION,
        "env/production/terraform.tfstate",
        std::slice::from_ref(&good),
        true,
    )
    .await;
    let d = Drill::new();
    let scenario = repo_root().join("scenarios/terraform-state-overwrite.yaml");
    let mut vars = drill_vars(&s);
    // An hour from now: the garbage is the newest version by then, so nothing comes back.
    vars.push(format!(
        "--var=restore_to={}",
        rfc3339(Utc::now() + TimeDelta::hours(1))
    ));
    let out = d.run(
        &["drill", scenario.to_str().unwrap(), "--execute", "--yes"],
        &vars,
    );
    let all = out.text();
    assert_eq!(out.code(), 1, "{all}");
    assert!(all.contains("FAIL  state-is-the-good-one"), "{all}");
    assert!(all.contains("verdict: failed"), "{all}");
    // The runbook's own check caught it too, before the expectations.
    assert!(
        all.contains("check-state  s3.assert_object  failed"),
        "{all}"
    );
    assert_ne!(current(&s).await.0, good, "the garbage is still current");
    let judged = d
        .journal()
        .into_iter()
        .find(|r| r["type"] == "drill_judged")
        .expect("a drill_judged record");
    let failed: Vec<&serde_json::Value> = judged["verdicts"]["expectations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["passed"] == false)
        .collect();
    assert!(!failed.is_empty(), "{judged}");
}

/// The runbook refuses to run without its bucket and time, calls the bucket's Region only, and
/// a dry run of the drill injects nothing and changes nothing.
#[tokio::test(flavor = "multi_thread")]
async fn the_state_runbook_needs_bucket_and_time_calls_one_region_and_a_dry_drill_changes_nothing()
{
    let rb = repo_root().join("runbooks/terraform-state-restore.yaml");
    let rb = rb.to_str().unwrap();
    let d = Drill::new();
    let out = crate::support::cli::bin().args(["validate", rb]).output();
    assert_eq!(out.code(), 2, "{}", out.text());
    for var in ["`bucket` is required", "`restore_to` is required"] {
        assert!(out.text().contains(var), "{}", out.text());
    }
    let out = crate::support::cli::bin()
        .args(["plan", rb, "--lost-region", OTHER])
        .args([
            "--var=bucket=docustack-terraform-state-111122223333",
            "--var=restore_to=2026-11-23T18:40:00Z",
        ])
        .output();
    out.assert_exit(0);
    let stdout = out.stdout_text();
    let calls: Vec<&str> = stdout.lines().filter(|l| l.contains(": calls ")).collect();
    assert_eq!(calls.len(), 3, "{}", out.text());
    assert!(
        calls.iter().all(|l| l.ends_with("calls us-east-1")),
        "{calls:?}"
    );

    let p = unique_prefix("s3_drydrill");
    let good = state(3, "l-8");
    let s = seed(
        &p,
        REGION,
        "env/production/terraform.tfstate",
        std::slice::from_ref(&good),
        true,
    )
    .await;
    let scenario = repo_root().join("scenarios/terraform-state-overwrite.yaml");
    let out = d.run(&["drill", scenario.to_str().unwrap()], &drill_vars(&s));
    out.assert_exit(0);
    assert_eq!(list(REGION, &s.bucket, &s.key).await.len(), 1);
    assert_eq!(current(&s).await.0, good);
    assert_eq!(digest(&s).await, Some(md5_hex(good.as_bytes())));
}

/// Through the fault proxy: the emulator makes the copy but its answer is lost (the connection
/// is reset after the response). The restore reads the key again instead of copying twice.
#[tokio::test(flavor = "multi_thread")]
async fn a_copy_whose_answer_is_lost_is_made_once() {
    use crate::support::faults::{Fault, FaultProxy, Rule};
    let p = unique_prefix("s3_lost");
    let bodies = vec![state(1, "l-9"), "garbage".to_string()];
    let s = seed(&p, REGION, "terraform.tfstate", &bodies, true).await;
    let proxy = FaultProxy::start(
        emulator().endpoint(),
        vec![Rule::new("x-amz-copy-source:", Fault::LostAfterEffect)],
    )
    .await;
    let d = Drill::new();
    let rb = runbook(
        &d,
        "restore",
        "s3.restore_object",
        REGION,
        &restore_with(&s, &rfc3339(s.versions[0].2 + TimeDelta::seconds(1))),
    );
    let out = crate::support::cli::bin()
        .args(["run", &rb, "--execute", "--yes", "--state-dir"])
        .arg(d.dir().join("state"))
        .envs(emulator().env())
        .env("AWS_ENDPOINT_URL", proxy.endpoint())
        .current_dir(d.dir())
        .output();
    out.assert_exit(0);
    assert_eq!(proxy.injected(), vec![1], "the copy's answer was not lost");
    let after = list(REGION, &s.bucket, &s.key).await;
    assert_eq!(after.len(), 3, "one copy, not two: {after:?}");
    let (body, id) = current(&s).await;
    assert_eq!(body, bodies[0]);
    let rec = succeeded(&d.journal(), "restore");
    assert_eq!(
        rec["outcome"]["outputs"]["version_id"],
        id.as_str(),
        "{rec}"
    );
    assert_eq!(digest(&s).await, Some(md5_hex(bodies[0].as_bytes())));
}

/// Killed after its copy, while the digest item's write hangs (the fault proxy holds the
/// PutItem): the resumed run finds the content current, copies nothing, and writes the digest.
#[tokio::test(flavor = "multi_thread")]
async fn a_restore_killed_after_its_copy_resumes_without_a_second_copy() {
    use crate::support::faults::{Fault, FaultProxy, Rule};
    let p = unique_prefix("s3_resume");
    let bodies = vec![state(1, "l-10"), "garbage".to_string()];
    let s = seed(&p, REGION, "terraform.tfstate", &bodies, true).await;
    let proxy = FaultProxy::start(
        emulator().endpoint(),
        vec![Rule::new(
            "DynamoDB_20120810.PutItem",
            Fault::Delay(Duration::from_secs(60)),
        )],
    )
    .await;
    let d = Drill::new();
    let rb = runbook(
        &d,
        "restore",
        "s3.restore_object",
        REGION,
        &restore_with(&s, &rfc3339(s.versions[0].2 + TimeDelta::seconds(1))),
    );
    let mut child = crate::support::cli::bin()
        .args(["run", &rb, "--execute", "--yes", "--state-dir"])
        .arg(d.dir().join("state"))
        .envs(emulator().env())
        .env("AWS_ENDPOINT_URL", proxy.endpoint())
        .current_dir(d.dir())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    let copied = crate::support::poll(Duration::from_secs(30), || {
        let s = &s;
        async move { (list(REGION, &s.bucket, &s.key).await.len() == 3).then_some(()) }
    })
    .await;
    // The digest write is held by the proxy: the process is killed in it.
    let held = crate::support::poll(Duration::from_secs(10), || async {
        (proxy.injected() == vec![1]).then_some(())
    })
    .await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        copied.is_some() && held.is_some(),
        "no copy, or no held PutItem"
    );
    assert_eq!(digest(&s).await, Some(md5_hex(bodies[1].as_bytes())));

    let runs: Vec<_> = std::fs::read_dir(d.dir().join("state").join("runs"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().into_string().unwrap())
        .collect();
    let out = d.run(&["resume", &runs[0]], &[]);
    out.assert_exit(0);
    let after = list(REGION, &s.bucket, &s.key).await;
    assert_eq!(after.len(), 3, "the resume copied again: {after:?}");
    let (body, id) = current(&s).await;
    assert_eq!(body, bodies[0]);
    assert_eq!(digest(&s).await, Some(md5_hex(bodies[0].as_bytes())));
    let rec = succeeded(&d.journal(), "restore");
    assert_eq!(
        rec["outcome"]["outputs"]["version_id"],
        id.as_str(),
        "{rec}"
    );
}
