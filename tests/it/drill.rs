//! Drills and the shipped runbooks end to end: the binary against the emulator's seeded
//! reference system (one prefixed copy per test).

use crate::support::Ran;
use std::path::PathBuf;
use std::process::Output;

use crate::support::{self, Seeded, emulator, unique_prefix, vars_for};

fn repo(path: &str) -> PathBuf {
    support::repo_root().join(path)
}

pub(crate) struct Drill {
    dir: tempfile::TempDir,
}

impl Drill {
    pub(crate) fn new() -> Drill {
        Drill {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }
    /// The drill's working directory (a temporary directory), for files a test writes.
    pub(crate) fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }
    pub(crate) fn run(&self, args: &[&str], vars: &[String]) -> Output {
        crate::support::cli::bin()
            .args(args)
            .args(vars)
            .arg("--state-dir")
            .arg(self.state())
            .envs(emulator().env())
            .current_dir(self.dir.path())
            .output()
    }
    /// The only run directory's journal records, parsed.
    pub(crate) fn journal(&self) -> Vec<serde_json::Value> {
        let runs: Vec<_> = std::fs::read_dir(self.state().join("runs"))
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
    pub(crate) fn report_dir(&self) -> PathBuf {
        let dirs: Vec<_> = std::fs::read_dir(self.state().join("reports"))
            .unwrap()
            .flatten()
            .collect();
        assert_eq!(dirs.len(), 1);
        dirs[0].path()
    }
}

async fn key_type(seed: &Seeded, region: &str) -> String {
    let conf = emulator().sdk_config(region).await;
    let kms = aws_sdk_kms::Client::new(&conf);
    let out = kms
        .describe_key()
        .key_id(format!("alias/{}unolock-root", seed.prefix))
        .send()
        .await
        .unwrap();
    out.key_metadata()
        .and_then(|m| m.multi_region_configuration())
        .and_then(|c| c.multi_region_key_type())
        .map(|t| t.as_str().to_string())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn outage_drill_passes_with_the_primary_impaired_and_names_the_steps_that_needed_it() {
    let seed = emulator().seed(&unique_prefix("drill_outage"));
    let d = Drill::new();
    let scenario = repo("scenarios/ca-central-1-outage.yaml");
    let out = d.run(
        &["drill", scenario.to_str().unwrap(), "--execute", "--yes"],
        &vars_for(&seed),
    );
    let all = out.text();
    out.assert_exit(0);
    for id in [
        "PASS  dns-answers-from-secondary",
        "PASS  key-works-in-secondary",
        "PASS  promotion-deferred",
        "PASS  data-in-secondary",
        "promote-key: kms UpdatePrimaryRegion in ca-central-1",
        "drill `ca-central-1-outage` PASSED",
    ] {
        assert!(all.contains(id), "missing `{id}` in:\n{all}");
    }
    // The timing report says what the verdicts say: the promotion was deferred.
    let row = all
        .lines()
        .find(|l| l.contains("promote-key") && l.contains("kms.promote"))
        .unwrap_or_else(|| panic!("no timing row for promote-key in:\n{all}"));
    assert!(row.trim_end().ends_with("deferred"), "{row}");
    // The system: DNS answers from eu-west-1; the key stayed primary in ca-central-1 (deferred).
    assert!(seed.dns_answer().await.contains("eu-west-1"));
    assert_eq!(key_type(&seed, "ca-central-1").await, "PRIMARY");
    // The journal records the verdicts and the refused call, attributed to its step.
    let journal = d.journal();
    let judged = journal
        .iter()
        .find(|r| r["type"] == "drill_judged")
        .expect("a drill_judged record");
    assert_eq!(judged["impaired"][0]["region"], "ca-central-1");
    assert!(
        judged["refused_calls"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["step"] == "promote-key")
    );
    assert!(
        judged["verdicts"]["expectations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["passed"] == true)
    );
    // Evidence: sealed and intact.
    let dir = d.report_dir();
    assert!(dir.join("manifest.json").exists());
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(
        html.contains("ca-central-1-outage"),
        "the HTML report names the scenario"
    );
    assert!(html.contains("promote-key"));
    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    assert!(junit.contains("dns-answers-from-secondary"));
    let v = crate::support::cli::bin()
        .arg("verify-evidence")
        .arg(&dir)
        .output();
    v.assert_exit(0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_drill_whose_expectation_does_not_hold_exits_1_and_names_it() {
    let seed = emulator().seed(&unique_prefix("drill_fail"));
    let d = Drill::new();
    let scenario = d.dir.path().join("wrong.yaml");
    // A scenario names only runbooks in its own tree: the runbook goes beside it.
    std::fs::copy(
        repo("runbooks/region-failover.yaml"),
        d.dir.path().join("region-failover.yaml"),
    )
    .unwrap();
    std::fs::write(
        &scenario,
        format!(
            r#"version: 1
name: wrong-expectation
runbook: {}
impair: [{{ region: ca-central-1 }}]
expect:
  - id: dns-still-on-primary
    description: The API name still resolves to ca-central-1 (it cannot, after a failover)
    action: route53.assert_records
    with: {{ hosted_zone: "{{{{ vars.zone }}}}", record_name: "{{{{ vars.record }}}}" }}
    outputs: {{ answer: "~ca-central-1" }}
  - id: promotion-succeeded
    step: promote-key
    status: succeeded
"#,
            "region-failover.yaml"
        ),
    )
    .unwrap();
    let out = d.run(
        &["drill", scenario.to_str().unwrap(), "--execute", "--yes"],
        &vars_for(&seed),
    );
    let all = out.text();
    out.assert_exit(1);
    assert!(all.contains("FAIL  dns-still-on-primary"), "{all}");
    assert!(all.contains("FAIL  promotion-succeeded"), "{all}");
    assert!(
        all.contains("expected `promote-key` to be succeeded, it is deferred"),
        "{all}"
    );
    assert!(all.contains("drill `wrong-expectation` FAILED"), "{all}");
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_runs_of_the_shipped_runbooks_make_no_mutating_call() {
    let seed = emulator().seed(&unique_prefix("drill_dry"));
    let needles = [seed.prefix.as_str(), seed.route53.health_check_id.as_str()];
    // The recording of the seed's own calls may land a moment after it returns: wait until the
    // count is stable before taking the baseline.
    let mut seeded = emulator().mutating_calls_matching_any(&needles).len();
    for _ in 0..50 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        let now = emulator().mutating_calls_matching_any(&needles).len();
        if now == seeded && now > 0 {
            break;
        }
        seeded = now;
    }
    let d = Drill::new();
    for runbook in [
        "runbooks/region-failover.yaml",
        "runbooks/data-corruption-restore.yaml",
        "runbooks/switchover-rehearsal.yaml",
    ] {
        let mut vars = vars_for(&seed);
        if runbook.contains("data-corruption") {
            // It has no default restore point: a corruption restore must name one.
            vars.extend([
                "--var".into(),
                format!("restore_to={}", chrono::Utc::now().to_rfc3339()),
                "--var".into(),
                format!("app_role={}unolock-app", seed.prefix),
            ]);
        }
        let out = d.run(&["run", repo(runbook).to_str().unwrap()], &vars);
        assert_eq!(out.status.code(), Some(0), "{runbook}: {}", out.text());
    }
    let mutating = emulator().mutating_calls_matching_any(&needles);
    assert_eq!(
        mutating.len(),
        seeded,
        "dry runs made mutating calls: {:?}",
        mutating[seeded.min(mutating.len())..]
            .iter()
            .map(|r| r.label())
            .collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn executing_the_failover_runbook_fails_over_and_a_second_run_changes_nothing() {
    let seed = emulator().seed(&unique_prefix("drill_exec"));
    let d = Drill::new();
    let runbook = repo("runbooks/region-failover.yaml");
    let out = d.run(
        &["run", runbook.to_str().unwrap(), "--execute", "--yes"],
        &vars_for(&seed),
    );
    out.assert_exit(0);
    assert_eq!(key_type(&seed, "eu-west-1").await, "PRIMARY");
    assert_eq!(key_type(&seed, "ca-central-1").await, "REPLICA");
    assert!(seed.dns_answer().await.contains("eu-west-1"));
    let needles = [seed.prefix.as_str(), seed.route53.health_check_id.as_str()];
    let before = emulator().mutating_calls_matching_any(&needles).len();
    assert!(before >= 2, "the first run changed the key and DNS");
    let out = d.run(
        &["run", runbook.to_str().unwrap(), "--execute", "--yes"],
        &vars_for(&seed),
    );
    out.assert_exit(0);
    let after = emulator().mutating_calls_matching_any(&needles);
    assert_eq!(
        after.len(),
        before,
        "the second run mutated: {:?}",
        after.iter().map(|r| r.label()).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn executing_the_data_corruption_runbook_points_the_api_at_the_restored_table() {
    let seed = emulator().seed(&unique_prefix("drill_restore"));
    let d = Drill::new();
    let out = d.run(
        &[
            "run",
            repo("runbooks/data-corruption-restore.yaml")
                .to_str()
                .unwrap(),
            "--execute",
            "--yes",
        ],
        &[
            vars_for(&seed),
            vec!["--var".into(), "restore_to=latest".into()],
            vec![
                "--var".into(),
                format!("app_role={}unolock-app", seed.prefix),
            ],
        ]
        .concat(),
    );
    out.assert_exit(0);
    let restored = d
        .journal()
        .iter()
        .find(|r| r["type"] == "step_succeeded" && r["step"] == "restore-vault")
        .map(|r| {
            r["outcome"]["outputs"]["table_name"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .expect("restore-vault succeeded");
    assert!(restored.starts_with(&format!("{}vault-restored-", seed.prefix)));
    let conf = emulator().sdk_config("ca-central-1").await;
    let apigw = aws_sdk_apigateway::Client::new(&conf);
    let stage = apigw
        .get_stage()
        .rest_api_id(&seed.primary().apigateway.rest_api_id)
        .stage_name("prod")
        .send()
        .await
        .unwrap();
    assert_eq!(
        stage.variables().and_then(|v| v.get("table")),
        Some(&restored)
    );
    let ddb = aws_sdk_dynamodb::Client::new(&conf);
    let count = ddb
        .scan()
        .table_name(&restored)
        .select(aws_sdk_dynamodb::types::Select::Count)
        .send()
        .await
        .unwrap()
        .count();
    assert_eq!(count as usize, seed.primary().dynamodb.item_count);
}

#[test]
fn a_scenario_with_an_unknown_action_is_rejected_with_exit_2() {
    let d = Drill::new();
    let scenario = d.dir.path().join("bad.yaml");
    std::fs::write(
        &scenario,
        format!(
            "version: 1\nname: bad\nrunbook: {}\nexpect:\n  - id: x\n    action: route53.assert_recrds\n",
            repo("runbooks/region-failover.yaml").display()
        ),
    )
    .unwrap();
    let out = crate::support::cli::bin()
        .args(["drill", scenario.to_str().unwrap()])
        .output();
    out.assert_exit(2);
    assert!(
        out.text()
            .contains("unknown action `route53.assert_recrds`")
    );
}
