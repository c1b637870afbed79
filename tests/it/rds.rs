//! The RDS actions through the binary against the emulator: `rds.assert_pitr`,
//! `rds.assert_ready`, `rds.restore_pitr` (every setting a restore does not carry over by
//! itself, compared field by field with the source; a resumed restore waits for the one in
//! progress; a target that is not a restore of the source is refused) and `rds.failover` (once
//! across a kill and a resume, and across a timeout and a resume; an Aurora global database's
//! switchover and failover, us-east-2 to us-west-2, with global clusters made with the SDK).
//!
//! The instances come from `localstack/seed.py --rds REGION[:ENGINE]` (a Multi-AZ instance with
//! its own subnet, parameter and option groups, security group, KMS key and tags). Regions no
//! other test faults: ap-southeast-7 (PostgreSQL), and ap-southeast-5 (MySQL) for the failover.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use aws_sdk_rds::types::DbInstance;

use crate::support::{Ran, emulator, repo_root, unique_prefix};

const REGION: &str = "ap-southeast-7";
const OTHER_REGION: &str = "ap-southeast-5";

/// What `seed.py --rds` made.
struct Db {
    instance: String,
    subnet_group: String,
    parameter_group: String,
    option_group: String,
    security_group: String,
    kms_key: String,
}

/// Seeds `{prefix}docustack-db` in `region` with `engine`, the emulator's delays for `prefix`
/// set as given (seconds).
fn seed(prefix: &str, region: &str, engine: &str, restore_s: u64, failover_s: u64) -> Db {
    emulator().configure(serde_json::json!({
        "prefix": prefix,
        "rds_restore_creating_seconds": restore_s,
        "rds_failover_seconds": failover_s,
        "rds_pitr_lag_seconds": 300,
    }));
    let out = Command::new(repo_root().join("localstack/.venv/bin/python"))
        .arg(repo_root().join("localstack/seed.py"))
        .args(["--endpoint", emulator().endpoint(), "--prefix", prefix])
        .args(["--rds", &format!("{region}:{engine}"), "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "seed --rds: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = |k: &str| doc[k].as_str().unwrap().to_string();
    Db {
        instance: s("instance"),
        subnet_group: s("subnet_group"),
        parameter_group: s("parameter_group"),
        option_group: s("option_group"),
        security_group: s("security_group_id"),
        kms_key: s("kms_key_arn"),
    }
}

async fn rds(region: &str) -> aws_sdk_rds::Client {
    aws_sdk_rds::Client::new(&emulator().sdk_config(region).await)
}

async fn describe(region: &str, id: &str) -> DbInstance {
    rds(region)
        .await
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
        .unwrap()
        .db_instances()[0]
        .clone()
}

/// A working directory with a state directory and a runbook.
struct Work {
    dir: tempfile::TempDir,
}

impl Work {
    fn new(runbook: &str) -> Work {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("rb.yaml"), runbook).unwrap();
        Work { dir }
    }
    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }
    fn drillbook(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = crate::support::cli::bin();
        cmd.args(args)
            .arg("--state-dir")
            .arg(self.state())
            .envs(emulator().env())
            .current_dir(self.dir.path());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output()
    }
    fn run(&self, extra: &[&str], env: &[(&str, &str)]) -> Output {
        let mut args = vec!["run", "rb.yaml"];
        args.extend(extra);
        self.drillbook(&args, env)
    }
    /// The only run's id.
    fn run_id(&self) -> String {
        let runs: Vec<_> = std::fs::read_dir(self.state().join("runs"))
            .unwrap()
            .flatten()
            .collect();
        assert_eq!(runs.len(), 1, "one run expected");
        runs[0].file_name().to_string_lossy().to_string()
    }
    fn journal(&self) -> Vec<serde_json::Value> {
        journal(&self.state().join("runs").join(self.run_id()))
    }
}

fn journal(run_dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run_dir.join("journal.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The outputs of `step`'s last success.
fn outputs(journal: &[serde_json::Value], step: &str) -> serde_json::Value {
    journal
        .iter()
        .rev()
        .find(|r| r["type"] == "step_succeeded" && r["step"] == step)
        .map(|r| r["outcome"]["outputs"].clone())
        .unwrap_or_else(|| panic!("`{step}` did not succeed: {journal:#?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn assert_pitr_and_assert_ready_check_retention_lag_status_and_multi_az() {
    let p = unique_prefix("rds_checks");
    let db = seed(&p, REGION, "postgres", 0, 0);
    let rb = |min: &str, lag: &str, multi_az: bool| {
        format!(
            "version: 1\nname: rds checks\ndefaults:\n  region: {REGION}\nsteps:\n  - id: pitr\n    action: rds.assert_pitr\n    with: {{ instance: {i}, min_retention: {min}, max_lag: {lag} }}\n  - id: ready\n    action: rds.assert_ready\n    with: {{ instance: {i}, multi_az: {multi_az} }}\n",
            i = db.instance
        )
    };
    // Seven days kept, the emulator's lag is AWS's "typically within the last 5 minutes".
    let w = Work::new(&rb("7d", "15m", true));
    w.run(&[], &[]).assert_exit(0);
    let j = w.journal();
    let pitr = outputs(&j, "pitr");
    assert_eq!(pitr["retention_days"], "7");
    let lag: u64 = pitr["lag_seconds"].as_str().unwrap().parse().unwrap();
    assert!((299..=330).contains(&lag), "lag {lag}");
    assert!(
        pitr["latest_restorable_time"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    let ready = outputs(&j, "ready");
    assert_eq!(ready["status"], "available");
    assert_eq!(ready["multi_az"], "true");
    assert_eq!(ready["availability_zone"], format!("{REGION}a"));

    // More retention than kept, a lag tighter than AWS's, single-AZ asked: each named.
    let w = Work::new(&rb("8d", "2m", false));
    let out = w.run(&[], &[]);
    out.assert_exit(1);
    let text = out.text();
    assert!(
        text.contains("keeps automated backups 7 day(s), fewer than the 8 asked"),
        "{text}"
    );
    assert!(text.contains("more than the 2m00s allowed"), "{text}");
    assert!(
        text.contains("is Multi-AZ, not single-AZ as asked"),
        "{text}"
    );

    // Automated backups off: no point-in-time restore possible.
    rds(REGION)
        .await
        .modify_db_instance()
        .db_instance_identifier(&db.instance)
        .backup_retention_period(0)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    let w = Work::new(&rb("1d", "15m", true));
    let out = w.run(&[], &[]);
    out.assert_exit(1);
    assert!(
        out.text().contains("automated backups are off"),
        "{}",
        out.text()
    );
}

/// The settings compared, as DescribeDBInstances shows them.
fn settings(i: &DbInstance) -> Vec<(&'static str, String)> {
    let mut sgs: Vec<_> = i
        .vpc_security_groups()
        .iter()
        .filter_map(|g| g.vpc_security_group_id())
        .collect();
    sgs.sort();
    let mut tags: Vec<_> = i
        .tag_list()
        .iter()
        .filter(|t| !t.key().unwrap_or("").starts_with("drillbook:"))
        .map(|t| format!("{}={}", t.key().unwrap_or(""), t.value().unwrap_or("")))
        .collect();
    tags.sort();
    vec![
        (
            "subnet group",
            format!(
                "{:?}",
                i.db_subnet_group().and_then(|g| g.db_subnet_group_name())
            ),
        ),
        ("security groups", sgs.join(",")),
        (
            "parameter groups",
            i.db_parameter_groups()
                .iter()
                .filter_map(|g| g.db_parameter_group_name())
                .collect::<Vec<_>>()
                .join(","),
        ),
        (
            "option groups",
            i.option_group_memberships()
                .iter()
                .filter_map(|g| g.option_group_name())
                .collect::<Vec<_>>()
                .join(","),
        ),
        ("multi-az", format!("{:?}", i.multi_az())),
        ("storage type", format!("{:?}", i.storage_type())),
        (
            "deletion protection",
            format!("{:?}", i.deletion_protection()),
        ),
        ("tags", tags.join(",")),
        (
            "iam auth",
            format!("{:?}", i.iam_database_authentication_enabled()),
        ),
        ("log exports", i.enabled_cloudwatch_logs_exports().join(",")),
        ("kms key", format!("{:?}", i.kms_key_id())),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restore_carries_every_setting_over_and_a_resumed_restore_waits_for_the_one_in_progress()
{
    let p = unique_prefix("rds_restore");
    // The restore stays `creating` for 4 s: longer than the first attempt's timeout.
    let db = seed(&p, REGION, "postgres", 4, 0);
    let target = format!("{p}docustack-db-restored");
    let rb = |timeout: &str| {
        format!(
            "version: 1\nname: rds restore\ndefaults:\n  region: {REGION}\nsteps:\n  - id: restore\n    action: rds.restore_pitr\n    timeout: {timeout}\n    retry: {{ attempts: 1 }}\n    with: {{ instance: {}, target: {target}, restore_to: latest, instance_class: db.t3.small }}\n  - id: ready\n    action: rds.assert_ready\n    needs: [restore]\n    with: {{ instance: \"{{{{ steps.restore.identifier }}}}\", multi_az: true }}\n",
            db.instance
        )
    };
    // The first attempt times out while the target is `creating`.
    let w = Work::new(&rb("2s"));
    let out = w.run(&["--execute", "--yes"], &[]);
    assert_ne!(out.code(), 0, "{}", out.text());
    assert_eq!(
        describe(REGION, &target).await.db_instance_status(),
        Some("creating")
    );
    // The resume finds it and waits for it: no second restore.
    std::fs::write(w.dir.path().join("rb.yaml"), rb("5m")).unwrap();
    let out = w.drillbook(
        &[
            "resume",
            &w.run_id(),
            "--yes",
            "--runbook",
            "rb.yaml",
            "--force",
        ],
        &[],
    );
    out.assert_exit(0);
    let j = w.journal();
    let text = serde_json::to_string(&j).unwrap();
    assert!(
        text.contains("wait for the restore of"),
        "the resume waited for the restore in progress: {text}"
    );
    assert_eq!(
        text.matches("\"RestoreDBInstanceToPointInTime\"").count(),
        1,
        "one restore, journaled once: {text}"
    );
    let out = outputs(&j, "restore");
    assert_eq!(out["identifier"], target.as_str());
    assert_eq!(
        out["endpoint"],
        format!("{target}.aaaaaaaaaa.{REGION}.rds.amazonaws.com")
    );
    assert_eq!(out["port"], "5432");
    assert!(
        out["arn"]
            .as_str()
            .unwrap()
            .ends_with(&format!(":db:{target}"))
    );

    // Field by field: the restore has the source's settings, which are the seed's own (not
    // AWS's defaults, which the emulator gives a restore that names none).
    let (source, restored) = (
        describe(REGION, &db.instance).await,
        describe(REGION, &target).await,
    );
    assert_eq!(restored.db_instance_status(), Some("available"));
    assert_eq!(restored.db_instance_class(), Some("db.t3.small"));
    assert_eq!(source.db_instance_class(), Some("db.t3.micro"));
    for ((field, want), (_, got)) in settings(&source).into_iter().zip(settings(&restored)) {
        assert_eq!(got, want, "{field}");
    }
    let s = settings(&restored);
    assert_eq!(s[0].1, format!("{:?}", Some(db.subnet_group.as_str())));
    assert_eq!(s[1].1, db.security_group);
    assert_eq!(s[2].1, db.parameter_group);
    assert_eq!(s[3].1, db.option_group);
    assert_eq!(s[4].1, "Some(true)");
    assert_eq!(s[6].1, "Some(true)");
    assert_eq!(s[7].1, "app=docustack,env=production");
    assert_eq!(s[10].1, format!("{:?}", Some(db.kms_key.as_str())));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restore_naming_no_settings_gets_aws_defaults_and_an_unrelated_target_is_refused() {
    let p = unique_prefix("rds_defaults");
    let db = seed(&p, REGION, "postgres", 0, 0);
    let bare = format!("{p}bare");
    // What RestoreDBInstanceToPointInTime does on its own (RDS API reference): the default
    // groups, single-AZ, none of the source's tags; the source's KMS key.
    rds(REGION)
        .await
        .restore_db_instance_to_point_in_time()
        .source_db_instance_identifier(&db.instance)
        .target_db_instance_identifier(&bare)
        .use_latest_restorable_time(true)
        .send()
        .await
        .unwrap();
    let (source, restored) = (
        describe(REGION, &db.instance).await,
        describe(REGION, &bare).await,
    );
    let differ: Vec<&str> = settings(&source)
        .into_iter()
        .zip(settings(&restored))
        .filter(|(a, b)| a.1 != b.1)
        .map(|(a, _)| a.0)
        .collect();
    assert_eq!(
        differ,
        [
            "subnet group",
            "security groups",
            "parameter groups",
            "option groups",
            "multi-az",
            "storage type",
            "deletion protection",
            "tags",
            "iam auth",
            "log exports"
        ]
    );

    // That instance is not drillbook's restore of the source: the step refuses it, in a dry
    // run already, and changes nothing.
    let w = Work::new(&format!(
        "version: 1\nname: rds refuse\ndefaults:\n  region: {REGION}\nsteps:\n  - id: restore\n    action: rds.restore_pitr\n    with: {{ instance: {}, target: {bare}, restore_to: \"2026-01-01T00:00:00Z\" }}\n",
        db.instance
    ));
    let out = w.run(&[], &[]);
    out.assert_exit(1);
    assert!(
        out.text().contains(&format!(
            "`{bare}` already exists in {REGION} and is not a restore of"
        )),
        "{}",
        out.text()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn failover_happens_once_across_a_kill_and_a_resume_and_across_a_retry() {
    let p = unique_prefix("rds_failover");
    let db = seed(&p, OTHER_REGION, "mysql", 0, 6);
    let (a, b) = (format!("{OTHER_REGION}a"), format!("{OTHER_REGION}b"));
    assert_eq!(
        describe(OTHER_REGION, &db.instance)
            .await
            .secondary_availability_zone(),
        Some(b.as_str())
    );
    let rb = |timeout: &str| {
        format!(
            "version: 1\nname: rds failover\ndefaults:\n  region: {OTHER_REGION}\nsteps:\n  - id: failover\n    action: rds.failover\n    timeout: {timeout}\n    retry: {{ attempts: 5 }}\n    with: {{ instance: {} }}\n",
            db.instance
        )
    };
    // Killed right after the failover reached AWS, before its outcome was journaled.
    let w = Work::new(&rb("5m"));
    let crash = drillbook::engine::CRASH_ENV;
    let out = w.run(&["--execute", "--yes"], &[(crash, "after-apply:failover")]);
    assert_ne!(out.code(), 0, "killed: {}", out.text());
    let out = w.drillbook(&["resume", &w.run_id(), "--yes"], &[]);
    out.assert_exit(0);
    let i = describe(OTHER_REGION, &db.instance).await;
    // Twice would have brought it back to `a`.
    assert_eq!(i.availability_zone(), Some(b.as_str()));
    assert_eq!(i.secondary_availability_zone(), Some(a.as_str()));
    let j = w.journal();
    assert_eq!(outputs(&j, "failover")["availability_zone"], b.as_str());
    assert_eq!(outputs(&j, "failover")["writer"], db.instance.as_str());
    let resumed = j
        .iter()
        .rev()
        .find(|r| r["type"] == "step_succeeded")
        .unwrap();
    assert!(
        resumed["outcome"]["changes"]
            .as_array()
            .is_none_or(|c| c.is_empty()),
        "the resume changed nothing: {resumed}"
    );

    // A new run fails over again (back to `a`); its first attempt gives up while the
    // instance is `rebooting`, and the retries wait for that failover instead of starting one
    // (five attempts of 1 s with their backoff outlast the emulator's 6 s reboot whatever the
    // load; three could end just before it).
    let w = Work::new(&rb("1s"));
    let out = w.run(&["--execute", "--yes"], &[]);
    out.assert_exit(0);
    let j = w.journal();
    let observed: Vec<String> = j
        .iter()
        .filter(|r| r["type"] == "step_observed")
        .map(|r| r["observation"]["changes"].to_string())
        .collect();
    assert!(observed.len() >= 2, "retried: {observed:?}");
    assert!(observed[0].contains("reboot"), "{observed:?}");
    assert!(observed[1].contains("in progress"), "{observed:?}");
    assert!(
        observed[1..].iter().all(|o| !o.contains("reboot")),
        "no attempt after the first reboots: {observed:?}"
    );
    assert_eq!(outputs(&j, "failover")["availability_zone"], a.as_str());
    assert_eq!(
        describe(OTHER_REGION, &db.instance)
            .await
            .availability_zone(),
        Some(a.as_str())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn failover_of_a_single_az_instance_is_refused_before_anything_changes() {
    let p = unique_prefix("rds_single");
    let db = seed(&p, REGION, "postgres", 0, 0);
    rds(REGION)
        .await
        .modify_db_instance()
        .db_instance_identifier(&db.instance)
        .multi_az(false)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    let w = Work::new(&format!(
        "version: 1\nname: rds single\ndefaults:\n  region: {REGION}\nsteps:\n  - id: failover\n    action: rds.failover\n    with: {{ instance: {} }}\n",
        db.instance
    ));
    let out = w.run(&["--execute", "--yes"], &[]);
    out.assert_exit(1);
    assert!(out.text().contains("is not Multi-AZ"), "{}", out.text());
    assert_eq!(
        describe(REGION, &db.instance).await.availability_zone(),
        Some(format!("{REGION}a").as_str())
    );
}

/// The read-only checks on an Aurora DB cluster (DescribeDBClusters): its status, Multi-AZ and
/// backups. (A cluster's restore and failover are not supported yet.)
#[tokio::test(flavor = "multi_thread")]
async fn assert_pitr_and_assert_ready_read_a_db_cluster() {
    let p = unique_prefix("rds_cluster");
    let cluster = format!("{p}aurora");
    let c = rds(REGION).await;
    c.create_db_cluster()
        .db_cluster_identifier(&cluster)
        .engine("aurora-postgresql")
        .master_username("docustack")
        .master_user_password("not-a-secret-1")
        .backup_retention_period(3)
        .send()
        .await
        .unwrap();
    // moto answers `creating` once, then `available`.
    let _ = c
        .describe_db_clusters()
        .db_cluster_identifier(&cluster)
        .send()
        .await
        .unwrap();
    let rb = |min: &str| {
        format!(
            "version: 1\nname: rds cluster\ndefaults:\n  region: {REGION}\nsteps:\n  - id: pitr\n    action: rds.assert_pitr\n    with: {{ cluster: {cluster}, min_retention: {min} }}\n  - id: ready\n    action: rds.assert_ready\n    with: {{ cluster: {cluster} }}\n"
        )
    };
    let w = Work::new(&rb("3d"));
    w.run(&[], &[]).assert_exit(0);
    let j = w.journal();
    assert_eq!(outputs(&j, "pitr")["retention_days"], "3");
    assert_eq!(outputs(&j, "ready")["status"], "available");
    let w = Work::new(&rb("4d"));
    let out = w.run(&[], &[]);
    out.assert_exit(1);
    assert!(
        out.text().contains(&format!(
            "DB cluster `{cluster}` keeps automated backups 3 day(s), fewer than the 4 asked"
        )),
        "{}",
        out.text()
    );
    // Both named: refused as invalid input before any call.
    let w = Work::new(&format!(
        "version: 1\nname: rds both\ndefaults:\n  region: {REGION}\nsteps:\n  - id: ready\n    action: rds.assert_ready\n    with: {{ cluster: {cluster}, instance: {cluster} }}\n"
    ));
    let out = w.run(&[], &[]);
    assert_ne!(out.code(), 0);
    assert!(
        out.text().contains("`instance` and `cluster` are both set"),
        "{}",
        out.text()
    );
}

/// An Aurora DB cluster fails over once (FailoverDBCluster) across a kill and a resume: with two
/// instances, a second failover would bring the writer back.
#[tokio::test(flavor = "multi_thread")]
async fn a_cluster_fails_over_once_across_a_kill_and_a_resume() {
    let p = unique_prefix("rds_clfail");
    let cluster = format!("{p}aurora");
    let c = rds(OTHER_REGION).await;
    c.create_db_cluster()
        .db_cluster_identifier(&cluster)
        .engine("aurora-mysql")
        .master_username("docustack")
        .master_user_password("not-a-secret-1")
        .backup_retention_period(1)
        .send()
        .await
        .unwrap();
    for (n, az) in [("one", "a"), ("two", "b")] {
        c.create_db_instance()
            .db_instance_identifier(format!("{p}{n}"))
            .db_cluster_identifier(&cluster)
            .engine("aurora-mysql")
            .db_instance_class("db.r6g.large")
            .availability_zone(format!("{OTHER_REGION}{az}"))
            .send()
            .await
            .unwrap();
    }
    let writer = || async {
        let cl = rds(OTHER_REGION)
            .await
            .describe_db_clusters()
            .db_cluster_identifier(&cluster)
            .send()
            .await
            .unwrap()
            .db_clusters()[0]
            .clone();
        cl.db_cluster_members()
            .iter()
            .find(|m| m.is_cluster_writer() == Some(true))
            .and_then(|m| m.db_instance_identifier())
            .map(str::to_string)
    };
    // moto answers `creating` once, then `available`.
    let before = writer().await.expect("a writer");
    let other = if before == format!("{p}one") {
        format!("{p}two")
    } else {
        format!("{p}one")
    };
    let w = Work::new(&format!(
        "version: 1\nname: rds cluster failover\ndefaults:\n  region: {OTHER_REGION}\nsteps:\n  - id: failover\n    action: rds.failover\n    with: {{ cluster: {cluster} }}\n"
    ));
    let crash = drillbook::engine::CRASH_ENV;
    let out = w.run(&["--execute", "--yes"], &[(crash, "after-apply:failover")]);
    assert_ne!(out.code(), 0, "killed: {}", out.text());
    assert_eq!(writer().await.as_deref(), Some(other.as_str()));
    let out = w.drillbook(&["resume", &w.run_id(), "--yes"], &[]);
    out.assert_exit(0);
    assert_eq!(writer().await.as_deref(), Some(other.as_str()));
    let j = w.journal();
    assert_eq!(outputs(&j, "failover")["writer"], other.as_str());
    let az = if other.ends_with("one") { "a" } else { "b" };
    assert_eq!(
        outputs(&j, "failover")["availability_zone"],
        format!("{OTHER_REGION}{az}")
    );
}

/// An Aurora DB cluster restored to a point in time: a new cluster with the source's settings
/// (AWS: "created with the default DB security group", RestoreDBClusterToPointInTime) and its
/// writer instance, which the restore does not create by itself.
#[tokio::test(flavor = "multi_thread")]
async fn a_cluster_restore_carries_the_settings_over_and_creates_the_writer() {
    let p = unique_prefix("rds_clrest");
    // The seed's VPC, subnet group and security group serve the cluster too.
    let db = seed(&p, REGION, "mysql", 0, 0);
    let c = rds(REGION).await;
    let (src, dst) = (format!("{p}aurora"), format!("{p}aurora-restored"));
    c.create_db_cluster_parameter_group()
        .db_cluster_parameter_group_name(format!("{p}cluster-params"))
        .db_parameter_group_family("aurora-mysql8.0")
        .description("docustack")
        .send()
        .await
        .unwrap();
    c.create_db_cluster()
        .db_cluster_identifier(&src)
        .engine("aurora-mysql")
        .master_username("docustack")
        .master_user_password("not-a-secret-1")
        .backup_retention_period(7)
        .db_subnet_group_name(&db.subnet_group)
        .vpc_security_group_ids(&db.security_group)
        .db_cluster_parameter_group_name(format!("{p}cluster-params"))
        .deletion_protection(true)
        .enable_iam_database_authentication(true)
        .enable_cloudwatch_logs_exports("error")
        .storage_encrypted(true)
        .kms_key_id(&db.kms_key)
        .tags(
            aws_sdk_rds::types::Tag::builder()
                .key("app")
                .value("docustack")
                .build(),
        )
        .send()
        .await
        .unwrap();
    c.create_db_instance()
        .db_instance_identifier(format!("{p}aurora-1"))
        .db_cluster_identifier(&src)
        .engine("aurora-mysql")
        .db_instance_class("db.r6g.large")
        .send()
        .await
        .unwrap();
    let w = Work::new(&format!(
        "version: 1\nname: rds cluster restore\ndefaults:\n  region: {REGION}\nsteps:\n  - id: restore\n    action: rds.restore_pitr\n    with: {{ cluster: {src}, target: {dst}, restore_to: latest }}\n"
    ));
    let out = w.run(&["--execute", "--yes"], &[]);
    out.assert_exit(0);
    let o = outputs(&w.journal(), "restore");
    assert_eq!(o["identifier"], dst.as_str());
    assert!(
        o["arn"]
            .as_str()
            .unwrap()
            .ends_with(&format!(":cluster:{dst}"))
    );
    let describe_cluster = |id: String| {
        let c = c.clone();
        async move {
            c.describe_db_clusters()
                .db_cluster_identifier(id)
                .send()
                .await
                .unwrap()
                .db_clusters()[0]
                .clone()
        }
    };
    let (s, t) = (
        describe_cluster(src.clone()).await,
        describe_cluster(dst.clone()).await,
    );
    assert_eq!(t.db_subnet_group(), Some(db.subnet_group.as_str()));
    assert_eq!(t.db_subnet_group(), s.db_subnet_group());
    let sgs = |c: &aws_sdk_rds::types::DbCluster| {
        c.vpc_security_groups()
            .iter()
            .filter_map(|g| g.vpc_security_group_id().map(str::to_string))
            .collect::<Vec<_>>()
    };
    assert_eq!(sgs(&t), vec![db.security_group.clone()]);
    assert_eq!(
        t.db_cluster_parameter_group(),
        Some(format!("{p}cluster-params").as_str())
    );
    assert_eq!(t.deletion_protection(), Some(true));
    assert_eq!(t.iam_database_authentication_enabled(), Some(true));
    assert_eq!(t.enabled_cloudwatch_logs_exports(), ["error".to_string()]);
    assert_eq!(t.kms_key_id(), Some(db.kms_key.as_str()));
    assert!(
        t.tag_list()
            .iter()
            .any(|g| g.key() == Some("app") && g.value() == Some("docustack"))
    );
    let writer = t
        .db_cluster_members()
        .iter()
        .find(|m| m.is_cluster_writer() == Some(true))
        .and_then(|m| m.db_instance_identifier())
        .map(str::to_string);
    assert_eq!(writer, Some(format!("{dst}-1")));
    assert_eq!(
        describe(REGION, &format!("{dst}-1"))
            .await
            .db_instance_class(),
        Some("db.r6g.large")
    );
    // Run again: everything is there, nothing changes.
    let w = Work::new(&format!(
        "version: 1\nname: rds cluster restore\ndefaults:\n  region: {REGION}\nsteps:\n  - id: restore\n    action: rds.restore_pitr\n    with: {{ cluster: {src}, target: {dst}, restore_to: latest }}\n"
    ));
    w.run(&["--execute", "--yes"], &[]).assert_exit(0);
    let text = serde_json::to_string(&w.journal()).unwrap();
    assert!(!text.contains("RestoreDBClusterToPointInTime"), "{text}");
    assert!(!text.contains("CreateDBInstance"), "{text}");
}

// ------------------------------------------------------------------------- global databases

/// The Region pair of the Aurora global database tests: no other test faults either.
const GLOBAL_PRIMARY: &str = "us-east-2";
const GLOBAL_SECONDARY: &str = "us-west-2";

/// An Aurora PostgreSQL global database `{p}gdb`: its primary cluster `{p}east` in
/// us-east-2 and a secondary `{p}west` in us-west-2; a switchover or failover lasts
/// `switch_s` seconds. Returns the global cluster's identifier.
async fn global_database(p: &str, switch_s: u64) -> String {
    emulator().configure(serde_json::json!({
        "prefix": p,
        "rds_global_switchover_seconds": switch_s,
    }));
    let gdb = format!("{p}gdb");
    rds(GLOBAL_PRIMARY)
        .await
        .create_global_cluster()
        .global_cluster_identifier(&gdb)
        .engine("aurora-postgresql")
        .send()
        .await
        .unwrap();
    rds(GLOBAL_PRIMARY)
        .await
        .create_db_cluster()
        .db_cluster_identifier(format!("{p}east"))
        .engine("aurora-postgresql")
        .global_cluster_identifier(&gdb)
        .master_username("docustack")
        .master_user_password("not-a-secret-1")
        .send()
        .await
        .unwrap();
    rds(GLOBAL_SECONDARY)
        .await
        .create_db_cluster()
        .db_cluster_identifier(format!("{p}west"))
        .engine("aurora-postgresql")
        .global_cluster_identifier(&gdb)
        .send()
        .await
        .unwrap();
    assert_eq!(
        global_writer(&gdb).await.0,
        format!("{p}east"),
        "the first member is the primary"
    );
    gdb
}

/// The global cluster's writer member (the cluster identifier) and status.
async fn global_writer(gdb: &str) -> (String, String) {
    let g = rds(GLOBAL_SECONDARY)
        .await
        .describe_global_clusters()
        .global_cluster_identifier(gdb)
        .send()
        .await
        .unwrap()
        .global_clusters()[0]
        .clone();
    let writer = g
        .global_cluster_members()
        .iter()
        .find(|m| m.is_writer() == Some(true))
        .and_then(|m| m.db_cluster_arn())
        .map(|a| a.rsplit(':').next().unwrap().to_string())
        .unwrap_or_default();
    (writer, g.status().unwrap_or_default().to_string())
}

/// The emulator's recorded calls of `op` naming `gdb`, with their bodies.
fn global_calls(gdb: &str, op: &str) -> Vec<String> {
    emulator()
        .recorded_requests()
        .into_iter()
        .filter(|r| r.operation.as_deref() == Some(op) && r.mentions(gdb))
        .map(|r| r.body)
        .collect()
}

fn global_runbook(gdb: &str, with: &str, timeout: &str) -> String {
    format!(
        "version: 1\nname: rds global {gdb}\ndefaults:\n  region: {GLOBAL_SECONDARY}\nsteps:\n  - id: switch\n    action: rds.failover\n    timeout: {timeout}\n    retry: {{ attempts: 1 }}\n    with: {{ global_cluster: {gdb}, to_region: {GLOBAL_SECONDARY}{with} }}\n"
    )
}

/// A switchover (SwitchoverGlobalCluster, the default mode) moves the writer to `to_region`
/// and waits out `switching-over`; a dry run before it only says what it would do, and a
/// second run finds the writer there and sends nothing.
#[tokio::test(flavor = "multi_thread")]
async fn a_global_switchover_moves_the_writer_to_to_region_and_a_second_run_makes_no_call() {
    let p = unique_prefix("rds_gswitch");
    let gdb = global_database(&p, 2).await;
    let rb = global_runbook(&gdb, "", "5m");

    // Dry run: observed, nothing sent.
    let w = Work::new(&rb);
    let out = w.run(&[], &[]);
    out.assert_exit(0);
    let text = serde_json::to_string(&w.journal()).unwrap();
    assert!(
        text.contains(&format!(
            "switch over global cluster `{gdb}` (SwitchoverGlobalCluster) from `arn:aws:rds:{GLOBAL_PRIMARY}:"
        )),
        "the dry run says what would change: {text}"
    );
    assert!(global_calls(&gdb, "SwitchoverGlobalCluster").is_empty());
    assert_eq!(global_writer(&gdb).await.0, format!("{p}east"));

    let w = Work::new(&rb);
    let t0 = std::time::Instant::now();
    w.run(&["--execute", "--yes"], &[]).assert_exit(0);
    assert!(
        t0.elapsed() >= std::time::Duration::from_secs(2),
        "waited out `switching-over`"
    );
    assert_eq!(
        global_writer(&gdb).await,
        (format!("{p}west"), "available".to_string())
    );
    let o = outputs(&w.journal(), "switch");
    assert_eq!(
        o["writer"].as_str().unwrap(),
        format!("arn:aws:rds:{GLOBAL_SECONDARY}:123456789012:cluster:{p}west")
    );
    assert_eq!(o["region"], GLOBAL_SECONDARY);
    let sent = global_calls(&gdb, "SwitchoverGlobalCluster");
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(
        sent[0].contains(&format!("{p}west")) && sent[0].contains("TargetDbClusterIdentifier"),
        "{sent:?}"
    );
    assert!(global_calls(&gdb, "FailoverGlobalCluster").is_empty());

    // Again: the writer is in us-west-2 already, nothing is sent.
    let w = Work::new(&rb);
    w.run(&["--execute", "--yes"], &[]).assert_exit(0);
    assert_eq!(global_calls(&gdb, "SwitchoverGlobalCluster").len(), 1);
    let j = w.journal();
    let done = j
        .iter()
        .rev()
        .find(|r| r["type"] == "step_succeeded")
        .unwrap();
    assert!(
        done["outcome"]["changes"]
            .as_array()
            .is_none_or(|c| c.is_empty()),
        "the second run changed nothing: {done}"
    );
    assert_eq!(outputs(&j, "switch")["region"], GLOBAL_SECONDARY);
}

/// Killed right after the switchover reached AWS, then resumed: one switchover. And a run
/// whose first attempt times out while the global cluster is `switching-over`: the resume
/// waits for it instead of sending another.
#[tokio::test(flavor = "multi_thread")]
async fn a_global_switchover_is_sent_once_across_a_kill_and_a_resume_and_across_a_timeout() {
    let p = unique_prefix("rds_gresume");
    let gdb = global_database(&p, 1).await;
    let w = Work::new(&global_runbook(&gdb, "", "5m"));
    let crash = drillbook::engine::CRASH_ENV;
    let out = w.run(&["--execute", "--yes"], &[(crash, "after-apply:switch")]);
    assert_ne!(out.code(), 0, "killed: {}", out.text());
    let out = w.drillbook(&["resume", &w.run_id(), "--yes"], &[]);
    out.assert_exit(0);
    assert_eq!(global_writer(&gdb).await.0, format!("{p}west"));
    assert_eq!(global_calls(&gdb, "SwitchoverGlobalCluster").len(), 1);
    let j = w.journal();
    let resumed = j
        .iter()
        .rev()
        .find(|r| r["type"] == "step_succeeded")
        .unwrap();
    assert!(
        resumed["outcome"]["changes"]
            .as_array()
            .is_none_or(|c| c.is_empty()),
        "the resume changed nothing: {resumed}"
    );

    // Back to us-east-2, 4 s long; the first attempt gives up after 2 s.
    emulator().configure(serde_json::json!({"prefix": p, "rds_global_switchover_seconds": 4}));
    let back = |timeout: &str| {
        global_runbook(&gdb, "", timeout).replace(
            &format!("to_region: {GLOBAL_SECONDARY}"),
            &format!("to_region: {GLOBAL_PRIMARY}"),
        )
    };
    let w = Work::new(&back("2s"));
    let out = w.run(&["--execute", "--yes"], &[]);
    assert_ne!(out.code(), 0, "{}", out.text());
    assert_eq!(global_writer(&gdb).await.1, "switching-over");
    std::fs::write(w.dir.path().join("rb.yaml"), back("5m")).unwrap();
    let out = w.drillbook(
        &[
            "resume",
            &w.run_id(),
            "--yes",
            "--runbook",
            "rb.yaml",
            "--force",
        ],
        &[],
    );
    out.assert_exit(0);
    let text = serde_json::to_string(&w.journal()).unwrap();
    assert!(
        text.contains("in progress (no second request)"),
        "the resume waited for the switchover in progress: {text}"
    );
    assert_eq!(
        global_writer(&gdb).await,
        (format!("{p}east"), "available".to_string())
    );
    assert_eq!(
        global_calls(&gdb, "SwitchoverGlobalCluster").len(),
        2,
        "one each way"
    );
}

/// `mode: failover` is FailoverGlobalCluster with AllowDataLoss, never a switchover.
#[tokio::test(flavor = "multi_thread")]
async fn a_global_failover_uses_failover_global_cluster_with_allow_data_loss() {
    let p = unique_prefix("rds_gfail");
    let gdb = global_database(&p, 1).await;
    let w = Work::new(&global_runbook(&gdb, ", mode: failover", "5m"));
    w.run(&["--execute", "--yes"], &[]).assert_exit(0);
    assert_eq!(
        global_writer(&gdb).await,
        (format!("{p}west"), "available".to_string())
    );
    let sent = global_calls(&gdb, "FailoverGlobalCluster");
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].contains("AllowDataLoss=true"), "{sent:?}");
    assert!(global_calls(&gdb, "SwitchoverGlobalCluster").is_empty());
    assert_eq!(outputs(&w.journal(), "switch")["region"], GLOBAL_SECONDARY);
}

/// Forms mixed or incomplete: invalid input (exit 2) before any call, each named.
#[tokio::test(flavor = "multi_thread")]
async fn rds_failover_refuses_a_bad_combination_of_its_forms_as_invalid_input() {
    let p = unique_prefix("rds_gcombo");
    let gdb = format!("{p}gdb");
    for (with, said) in [
        (
            format!("instance: {p}db, global_cluster: {gdb}, to_region: {GLOBAL_SECONDARY}"),
            "takes one of `instance`, `cluster` and `global_cluster`, not `instance` and `global_cluster`",
        ),
        (
            format!("global_cluster: {gdb}"),
            "`global_cluster` needs `to_region`",
        ),
        (
            format!("cluster: {p}aurora, mode: failover"),
            "`mode` does not go with `cluster`",
        ),
        (
            format!("instance: {p}db, to_region: {GLOBAL_SECONDARY}"),
            "`to_region` does not go with `instance`",
        ),
        (
            format!("target_instance: {p}db"),
            "needs one of `instance`, `cluster` and `global_cluster`",
        ),
    ] {
        let w = Work::new(&format!(
            "version: 1\nname: rds combo\ndefaults:\n  region: {GLOBAL_SECONDARY}\nsteps:\n  - id: switch\n    action: rds.failover\n    with: {{ {with} }}\n"
        ));
        let out = w.run(&["--execute", "--yes"], &[]);
        out.assert_exit(2);
        // The diagnostic wraps long lines behind a `│` margin.
        let flat = out
            .text()
            .split_whitespace()
            .filter(|w| *w != "│")
            .collect::<Vec<_>>()
            .join(" ");
        assert!(flat.contains(said), "{with}: {}", out.text());
        // Refused when the runbook is read: no run was started.
        assert!(!w.state().join("runs").exists(), "{}", out.text());
    }
}
