//! The DocuStack system end to end: `localstack/emulator seed --system docustack` (us-east-1, a
//! Multi-AZ PostgreSQL instance, ECS services that read their database host from an SSM
//! parameter, the Region-deny SCP for the recovery role), its two scenarios as drills through
//! the binary, each failing with a clear verdict when its recovery step is removed or pointed
//! at the wrong time, and the dry runs that prove no step needs a Region the SCP denies.
//!
//! One prefixed copy of the system per test, every emulator delay 0 for it
//! ([`crate::support::Emulator::fast`]). The SCP faults are narrowed to each copy's recovery
//! role, so they deny nothing to the other tests of this binary.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::{Ran, emulator, http, repo_root, unique_prefix};

const REGION: &str = "us-east-1";

/// What the seed made, from its JSON.
struct System {
    prefix: String,
    doc: serde_json::Value,
}

impl System {
    /// Seeds a DocuStack copy named with `prefix`, its delays 0 first.
    fn seed(test: &str) -> System {
        let prefix = unique_prefix(test);
        emulator().fast(&prefix);
        let out = std::process::Command::new(crate::support::emulator_script())
            .args([
                "seed",
                "--json",
                "--system",
                "docustack",
                "--prefix",
                &prefix,
            ])
            .arg("--state-file")
            .arg(emulator().state_file())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "seed --system docustack: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(doc["system"], "docustack");
        System { prefix, doc }
    }

    fn s(&self, path: &[&str]) -> String {
        let mut v = &self.doc;
        for k in path {
            v = &v[*k];
        }
        v.as_str()
            .unwrap_or_else(|| panic!("no {path:?} in the seed's output"))
            .to_string()
    }

    /// `--var` arguments pointing the DocuStack runbooks at this copy.
    fn vars(&self) -> Vec<String> {
        [
            ("db_instance", self.s(&["rds", "instance"])),
            ("db_host_parameter", self.s(&["ssm", "db_host_parameter"])),
            ("cluster", self.s(&["ecs", "cluster"])),
            ("service", self.s(&["ecs", "service"])),
            ("batch_service", self.s(&["ecs", "batch_service"])),
            ("api", self.s(&["api", "name"])),
            ("role_arn", self.s(&["role_arn"])),
            ("fis_template", self.s(&["fis", "experiment_template_id"])),
        ]
        .into_iter()
        .flat_map(|(k, v)| ["--var".to_string(), format!("{k}={v}")])
        .collect()
    }

    /// What the emulator's stand-in for the application says of the web service's tasks.
    fn workload(&self) -> serde_json::Value {
        let path = format!(
            "/_drillbook/workloads?region={REGION}&cluster={}&service={}",
            self.s(&["ecs", "cluster"]),
            self.s(&["ecs", "service"])
        );
        control_get(&path)
    }
}

fn control_get(path: &str) -> serde_json::Value {
    let (status, text) = http::request(emulator().endpoint(), "GET", path, None).unwrap();
    assert_eq!(status, 200, "GET {path}: {text}");
    serde_json::from_str(&text).unwrap()
}

/// The state of a DB instance's data (`clean`, or what damaged it).
fn data_of(instance: &str) -> String {
    control_get(&format!(
        "/_drillbook/rds-data?region={REGION}&instance={instance}"
    ))["data"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn rds() -> aws_sdk_rds::Client {
    aws_sdk_rds::Client::new(&emulator().sdk_config(REGION).await)
}

async fn instance(id: &str) -> aws_sdk_rds::types::DbInstance {
    rds()
        .await
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
        .unwrap()
        .db_instances()[0]
        .clone()
}

async fn parameter(name: &str) -> (String, i64) {
    let ssm = aws_sdk_ssm::Client::new(&emulator().sdk_config(REGION).await);
    let p = ssm.get_parameter().name(name).send().await.unwrap();
    let p = p.parameter().unwrap();
    (p.value().unwrap().to_string(), p.version())
}

/// A working directory for one drill or run.
struct Work {
    dir: tempfile::TempDir,
}

impl Work {
    fn new() -> Work {
        Work {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn drillbook(&self, args: &[&str], vars: &[String]) -> Output {
        crate::support::cli::bin()
            .args(args)
            .args(vars)
            .arg("--state-dir")
            .arg(self.path("state"))
            .envs(emulator().env())
            .current_dir(self.dir.path())
            .output()
    }
    fn journal(&self) -> Vec<serde_json::Value> {
        let runs: Vec<_> = std::fs::read_dir(self.path("state").join("runs"))
            .unwrap()
            .flatten()
            .collect();
        assert_eq!(runs.len(), 1, "one run expected");
        std::fs::read_to_string(runs[0].path().join("journal.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
    /// The drill's verdicts on its expectations: id -> passed.
    fn expectations(&self) -> Vec<(String, bool)> {
        let j = self.journal();
        let judged = j
            .iter()
            .find(|r| r["type"] == "drill_judged")
            .expect("a drill_judged record");
        judged["verdicts"]["expectations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["id"].as_str().unwrap().to_string(),
                    e["passed"].as_bool().unwrap(),
                )
            })
            .collect()
    }
    /// The outputs of `step`'s success.
    fn outputs(&self, step: &str) -> serde_json::Value {
        self.journal()
            .iter()
            .rev()
            .find(|r| r["type"] == "step_succeeded" && r["step"] == step)
            .map(|r| r["outcome"]["outputs"].clone())
            .unwrap_or_else(|| panic!("`{step}` did not succeed"))
    }
    /// A copy of a shipped runbook, changed by `edit`, and a copy of a shipped scenario that
    /// runs it; returns the scenario's path.
    fn scenario_with_runbook(
        &self,
        scenario: &str,
        runbook: &str,
        edit: impl Fn(String) -> String,
    ) -> PathBuf {
        let rb = edit(std::fs::read_to_string(repo_root().join(runbook)).unwrap());
        std::fs::write(self.path("runbook.yaml"), rb).unwrap();
        let name = Path::new(runbook).file_name().unwrap().to_str().unwrap();
        let sc = std::fs::read_to_string(repo_root().join(scenario))
            .unwrap()
            .replace(&format!("../runbooks/{name}"), "runbook.yaml");
        assert!(sc.contains("runbook: runbook.yaml"));
        std::fs::write(self.path("scenario.yaml"), sc).unwrap();
        self.path("scenario.yaml")
    }
}

/// `text` without the step `id` (from its `- id:` line to the next step's).
fn without_step(text: &str, id: &str) -> String {
    let start = text
        .find(&format!("  - id: {id}\n"))
        .unwrap_or_else(|| panic!("no step {id}"));
    let end = text[start + 1..]
        .find("\n  - id: ")
        .map_or(text.len(), |e| start + 1 + e + 1);
    format!("{}{}", &text[..start], &text[end..])
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_db_corruption_drill_restores_to_before_the_batch_job_repoints_the_parameter_and_redeploys()
 {
    let sys = System::seed("dcorrupt");
    let source = sys.s(&["rds", "instance"]);
    let before = sys.workload();
    assert_eq!(before["data"], "clean");
    let w = Work::new();
    let scenario = repo_root().join("scenarios/docustack-db-corruption.yaml");
    let out = w.drillbook(
        &["drill", path_str(&scenario), "--execute", "--yes"],
        &sys.vars(),
    );
    out.assert_exit(0);
    let text = out.text();
    assert!(
        text.contains("drill `docustack-db-corruption` PASSED"),
        "{text}"
    );
    assert!(w.expectations().iter().all(|(_, passed)| *passed));
    // The batch job damaged the source; the restore holds the data from before it.
    assert!(data_of(&source).starts_with("corrupted by"), "source");
    let restored = w.outputs("restore-db");
    let target = restored["identifier"].as_str().unwrap().to_string();
    assert!(target.starts_with(&format!("{}docustack-db-r-", sys.prefix)));
    assert_eq!(data_of(&target), "clean");
    // The restored instance carries the source's settings (AWS would give it the defaults).
    let (src, dst) = (instance(&source).await, instance(&target).await);
    assert_eq!(dst.db_instance_status(), Some("available"));
    assert_eq!(dst.multi_az(), Some(true));
    let subnet_group = |i: &aws_sdk_rds::types::DbInstance| {
        i.db_subnet_group()
            .and_then(|g| g.db_subnet_group_name())
            .map(str::to_string)
    };
    assert_eq!(subnet_group(&dst), subnet_group(&src));
    assert_eq!(subnet_group(&dst).unwrap(), sys.s(&["rds", "subnet_group"]));
    let groups = |i: &aws_sdk_rds::types::DbInstance| -> Vec<String> {
        i.db_parameter_groups()
            .iter()
            .filter_map(|g| g.db_parameter_group_name().map(str::to_string))
            .collect()
    };
    assert_eq!(groups(&dst), vec![sys.s(&["rds", "parameter_group"])]);
    let sgs = |i: &aws_sdk_rds::types::DbInstance| -> Vec<String> {
        i.vpc_security_groups()
            .iter()
            .filter_map(|g| g.vpc_security_group_id().map(str::to_string))
            .collect()
    };
    assert_eq!(sgs(&dst), sgs(&src));
    assert_eq!(dst.storage_type(), src.storage_type());
    assert_eq!(dst.deletion_protection(), src.deletion_protection());
    assert_eq!(dst.kms_key_id(), src.kms_key_id());
    // The parameter points at the restored instance; the tasks were replaced to read it.
    let (value, version) = parameter(&sys.s(&["ssm", "db_host_parameter"])).await;
    assert_eq!(value, restored["endpoint"].as_str().unwrap());
    assert!(version >= 2, "version {version}");
    let after = sys.workload();
    assert_ne!(
        after["deployment"], before["deployment"],
        "a new deployment"
    );
    assert_eq!(after["db_instance"], target.as_str());
    assert_eq!(after["data"], "clean");
    assert_eq!(
        w.outputs("redeploy-service")["deployment_id"],
        after["deployment"]
    );
    // The drill's RPO is the restore point's lag (rds.assert_pitr), judged.
    let j = w.journal();
    let judged = j.iter().find(|r| r["type"] == "drill_judged").unwrap();
    let rpo = judged["verdicts"]["objectives"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["objective"] == "rpo")
        .unwrap();
    assert_eq!(rpo["met"], true, "{rpo}");
    assert!(rpo["how"].as_str().unwrap().contains("rds.assert_pitr"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_db_corruption_drill_fails_when_the_service_is_not_repointed_at_the_restore() {
    let sys = System::seed("dnorepnt");
    let w = Work::new();
    // The recovery step that moves the application to the clean data, removed.
    let scenario = w.scenario_with_runbook(
        "scenarios/docustack-db-corruption.yaml",
        "runbooks/docustack-db-restore.yaml",
        |rb| without_step(&rb, "repoint-db-host").replace("[repoint-db-host]", "[restored-ready]"),
    );
    let out = w.drillbook(
        &["drill", path_str(&scenario), "--execute", "--yes"],
        &sys.vars(),
    );
    out.assert_exit(1);
    let text = out.text();
    assert!(text.contains("verdict: failed"), "{text}");
    // The drill says so in its last words too, whether a step or an expectation failed.
    assert!(text.contains("` FAILED: "), "{text}");
    assert!(
        text.contains("FAIL  data-clean-through-the-service")
            && text.contains("/health/data answered 500, not 200"),
        "{text}"
    );
    assert!(
        text.contains("FAIL  parameter-points-at-restored"),
        "{text}"
    );
    let verdicts = w.expectations();
    assert!(verdicts.contains(&("data-clean-through-the-service".into(), false)));
    assert!(verdicts.contains(&("restored-instance-ready".into(), true)));
    // The tasks still use the damaged source, though a clean restore exists.
    let now = sys.workload();
    assert_eq!(now["db_instance"], sys.s(&["rds", "instance"]).as_str());
    assert!(now["data"].as_str().unwrap().starts_with("corrupted by"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_db_corruption_drill_fails_when_restored_to_a_time_after_the_corruption() {
    let sys = System::seed("dlatest");
    let w = Work::new();
    let scenario = repo_root().join("scenarios/docustack-db-corruption.yaml");
    let mut vars = sys.vars();
    // The latest restorable time (0 s of lag here) is after the batch job's damage.
    vars.extend(["--var".to_string(), "restore_to=latest".to_string()]);
    let out = w.drillbook(&["drill", path_str(&scenario), "--execute", "--yes"], &vars);
    out.assert_exit(1);
    let text = out.text();
    assert!(
        text.contains("FAIL  data-clean-through-the-service")
            && text.contains("/health/data answered 500, not 200"),
        "{text}"
    );
    let target = w.outputs("restore-db")["identifier"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(data_of(&target).starts_with("corrupted by"));
    // Everything else went as asked: the service runs on the (damaged) restore.
    assert_eq!(sys.workload()["db_instance"], target.as_str());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_az_outage_drill_fails_the_database_over_to_the_other_zone_while_fis_cuts_one_off() {
    let sys = System::seed("dazout");
    let db = sys.s(&["rds", "instance"]);
    assert_eq!(sys.s(&["rds", "availability_zone"]), "us-east-1a");
    let w = Work::new();
    let scenario = repo_root().join("scenarios/docustack-az-outage.yaml");
    let out = w.drillbook(
        &["drill", path_str(&scenario), "--execute", "--yes"],
        &sys.vars(),
    );
    out.assert_exit(0);
    let text = out.text();
    assert!(
        text.contains("drill `docustack-az-outage` PASSED"),
        "{text}"
    );
    // FIS ran the zone's disruption, and took no Region away (no lost-Region verdict).
    let j = w.journal();
    let injected = j
        .iter()
        .find(|r| r["type"] == "fault_injected")
        .expect("a fault_injected record");
    assert_eq!(injected["experiment"]["zones"][0], "us-east-1a");
    let verdicts = w.expectations();
    assert!(verdicts.iter().all(|(_, passed)| *passed), "{verdicts:?}");
    assert!(
        !verdicts
            .iter()
            .any(|(id, _)| id == "no-lost-region-dependency")
    );
    // The writer is in the other zone; the service runs the tasks asked for.
    let i = instance(&db).await;
    assert_eq!(i.availability_zone(), Some("us-east-1b"));
    assert_eq!(i.secondary_availability_zone(), Some("us-east-1a"));
    assert_eq!(w.outputs("failover-db")["availability_zone"], "us-east-1b");
    let now = sys.workload();
    assert_eq!(now["running"], 4);
    assert_eq!(now["db_availability_zone"], "us-east-1b");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_az_outage_drill_fails_without_the_database_failover() {
    let sys = System::seed("dnofail");
    let w = Work::new();
    let scenario = w.scenario_with_runbook(
        "scenarios/docustack-az-outage.yaml",
        "runbooks/docustack-az-failover.yaml",
        |rb| {
            without_step(&rb, "failover-db").replace("needs: [failover-db]", "needs: [db-multi-az]")
        },
    );
    let out = w.drillbook(
        &["drill", path_str(&scenario), "--execute", "--yes"],
        &sys.vars(),
    );
    out.assert_exit(1);
    let text = out.text();
    assert!(text.contains("verdict: failed"), "{text}");
    // The drill says so in its last words too, whether a step or an expectation failed.
    assert!(text.contains("` FAILED: "), "{text}");
    assert!(text.contains("FAIL  writer-in-other-zone"), "{text}");
    assert!(
        text.contains("FAIL  service-healthy-through-its-api")
            && text.contains("/health answered 503, not 200"),
        "{text}"
    );
    let i = instance(&sys.s(&["rds", "instance"])).await;
    assert_eq!(i.availability_zone(), Some("us-east-1a"));
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_runs_of_the_docustack_runbooks_need_only_us_east_1_and_a_step_elsewhere_is_the_scps_denial()
 {
    let sys = System::seed("dscp");
    let mut vars = sys.vars();
    let restore_to = (chrono::Utc::now() - chrono::Duration::minutes(10))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    vars.extend(["--var".to_string(), format!("restore_to={restore_to}")]);
    let (value_before, version_before) = parameter(&sys.s(&["ssm", "db_host_parameter"])).await;
    for rb in [
        "runbooks/docustack-db-restore.yaml",
        "runbooks/docustack-az-failover.yaml",
    ] {
        let w = Work::new();
        let out = w.drillbook(&["run", path_str(&repo_root().join(rb))], &vars);
        out.assert_exit(0);
        assert!(out.text().contains("verdict: dry-run"), "{}", out.text());
    }
    // One step moved to eu-west-1: the SCP's denial, named, and the dry run fails.
    let w = Work::new();
    let rb = std::fs::read_to_string(repo_root().join("runbooks/docustack-db-restore.yaml"))
        .unwrap()
        .replace(
            "    action: rds.assert_pitr\n",
            "    action: rds.assert_pitr\n    region: eu-west-1\n",
        );
    std::fs::write(w.path("rb.yaml"), rb).unwrap();
    let out = w.drillbook(&["run", "rb.yaml"], &vars);
    out.assert_exit(1);
    let text = out.text();
    let line = text
        .lines()
        .find(|l| l.starts_with("error: step `check-pitr` failed"))
        .unwrap_or_else(|| panic!("no failure of check-pitr in:\n{text}"));
    assert!(
        line.contains("in eu-west-1 with an explicit deny in a service control policy"),
        "{line}"
    );
    assert!(
        text.contains(
            "the organization's service control policy (SCP) denies rds:DescribeDBInstances in eu-west-1"
        ),
        "{text}"
    );
    // Nothing changed: no restore, the parameter as it was.
    let (value, version) = parameter(&sys.s(&["ssm", "db_host_parameter"])).await;
    assert_eq!((value, version), (value_before, version_before));
    let restores = rds()
        .await
        .describe_db_instances()
        .send()
        .await
        .unwrap()
        .db_instances()
        .iter()
        .filter(|i| {
            i.db_instance_identifier()
                .is_some_and(|id| id.starts_with(&format!("{}docustack-db-r-", sys.prefix)))
        })
        .count();
    assert_eq!(restores, 0);
    // The seed's SCP denies every Region but us-east-1.
    let denied = sys.doc["scp"]["denied_regions"].as_array().unwrap();
    assert!(denied.iter().any(|r| r == "eu-west-1"));
    assert!(!denied.iter().any(|r| r == REGION));
}
