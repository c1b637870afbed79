//! Drills that pause and resume as drills: the binary against the emulator, on the file store
//! and on the DynamoDB store, on a Region pair other than the reference one.
//!
//! The runbook is the shipped failover with an approval gate in front of every step, so that
//! everything that needs the impairment runs in the resumed process: the KMS promotion is
//! deferred only if the resume impairs the primary again.

use crate::support::Ran;
use std::path::Path;
use std::process::Output;

use crate::support::{self, SeedOptions, Seeded, emulator, unique_prefix, vars_for};

const PRIMARY: &str = "ap-southeast-2";
const SECONDARY: &str = "eu-central-1";
const RUNNER: &str = "arn:aws:iam::000000000000:user/oncall";
const APPROVER: &str = "arn:aws:iam::000000000000:user/incident-commander";
/// The shipped scenario's name, with its Regions replaced.
const SCENARIO: &str = "ap-southeast-2-outage";

/// The shipped failover runbook with `gate` (an approval) before every step, and the shipped
/// outage scenario moved to the PRIMARY/SECONDARY pair, written into `dir`.
/// `approvers` (a top-level `approvers:` block) is appended to the runbook.
fn write_drill(dir: &Path, approvers: &str) -> std::path::PathBuf {
    let runbook =
        std::fs::read_to_string(support::repo_root().join("runbooks/region-failover.yaml"))
            .unwrap();
    let gated = runbook.replacen(
        "  - id: secondary-healthy\n    action: cloudwatch.wait_alarm\n",
        "  - id: gate\n    action: approval\n    with:\n      message: Fail over to the secondary?\n  - id: secondary-healthy\n    action: cloudwatch.wait_alarm\n    needs: [gate]\n",
        1,
    );
    assert_ne!(gated, runbook, "the runbook's first step moved");
    let gated = format!("{gated}{approvers}");
    std::fs::write(dir.join("gated-failover.yaml"), gated).unwrap();
    let scenario =
        std::fs::read_to_string(support::repo_root().join("scenarios/ca-central-1-outage.yaml"))
            .unwrap()
            .replace("../runbooks/region-failover.yaml", "gated-failover.yaml")
            .replace("ca-central-1", PRIMARY)
            .replace("eu-west-1", SECONDARY);
    let path = dir.join("outage.yaml");
    std::fs::write(&path, scenario).unwrap();
    path
}

fn bin(dir: &Path, who: &str, location: &[String], args: &[&str]) -> Output {
    crate::support::cli::bin()
        .args(args)
        .args(location)
        .current_dir(dir)
        .emulator()
        .identity(who)
        .output()
}

/// The run id printed in `resume with: drillbook resume ID`.
fn run_id(out: &str) -> String {
    let at = out
        .find("drillbook resume ")
        .unwrap_or_else(|| panic!("no resume hint in:\n{out}"));
    out[at + "drillbook resume ".len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// The run's journal, read through `drillbook runs export` (the same for both stores).
fn journal(dir: &Path, location: &[String], id: &str) -> Vec<serde_json::Value> {
    let export = dir.join(format!("export-{}", rand_suffix()));
    let out = bin(
        dir,
        RUNNER,
        location,
        &["runs", "export", id, export.to_str().unwrap()],
    );
    out.assert_exit(0);
    std::fs::read_to_string(export.join("runs").join(id).join("journal.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

async fn key_type(seed: &Seeded, region: &str) -> String {
    let conf = emulator().sdk_config(region).await;
    aws_sdk_kms::Client::new(&conf)
        .describe_key()
        .key_id(format!("alias/{}unolock-root", seed.prefix))
        .send()
        .await
        .unwrap()
        .key_metadata()
        .and_then(|m| m.multi_region_configuration())
        .and_then(|c| c.multi_region_key_type())
        .map(|t| t.as_str().to_string())
        .unwrap_or_default()
}

/// How the approver signs.
enum ApproverKey {
    /// A key file from `drillbook evidence keygen`.
    Ed25519,
    /// An emulator KMS key in the secondary Region (the resumed drill impairs the primary, so
    /// a key there could not be checked).
    Kms,
}

/// The runbook's `approvers:` block and the approver's `--sign-with`.
async fn approver_key(d: &Path, kind: ApproverKey) -> (String, String) {
    match kind {
        ApproverKey::Ed25519 => {
            let key = d.join("approver.key");
            let out = crate::support::cli::bin()
                .args(["evidence", "keygen"])
                .arg(&key)
                .output();
            out.assert_exit(0);
            let public =
                std::fs::read_to_string(drillbook::evidence::public_key_path(&key)).unwrap();
            (
                format!("approvers:\n  keys: [\"ed25519:{}\"]\n", public.trim()),
                format!("ed25519:{}", key.display()),
            )
        }
        ApproverKey::Kms => {
            use aws_sdk_kms::types::{KeySpec, KeyUsageType};
            let kms = aws_sdk_kms::Client::new(&emulator().sdk_config(SECONDARY).await);
            let arn = kms
                .create_key()
                .key_usage(KeyUsageType::SignVerify)
                .key_spec(KeySpec::EccNistP256)
                .description("incident commander's approval key")
                .send()
                .await
                .unwrap()
                .key_metadata()
                .unwrap()
                .arn()
                .unwrap()
                .to_string();
            // The runbook pins the key by its public key's hash, as `evidence pin` prints it.
            let out = crate::support::cli::bin()
                .args(["evidence", "pin", &format!("kms:{arn}")])
                .emulator()
                .output();
            out.assert_exit(0);
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            let pin = stdout.lines().next().unwrap().trim().to_string();
            assert_eq!(pin.len(), 64, "{stdout}");
            assert!(stdout.contains(&format!("sha256: \"{pin}\"")), "{stdout}");
            (
                format!(
                    "approvers:\n  keys:\n    - key: \"kms:{arn}\"\n      sha256: \"{pin}\"\n      principal: \"{APPROVER}\"\n"
                ),
                format!("kms:{arn}"),
            )
        }
    }
}

/// Drill until the approval, approve as someone else (signed with `key`), resume: the resumed
/// process impairs the primary again, judges the scenario, records and seals the verdicts, and
/// exits by them.
async fn paused_drill_resumes_to_a_sealed_verdict(
    seed: &Seeded,
    location: Vec<String>,
    key: ApproverKey,
) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (approvers, sign_with) = approver_key(d, key).await;
    let scenario = write_drill(d, &approvers);
    let mut vars = vars_for(seed);
    vars.extend(
        [
            format!("primary={PRIMARY}"),
            format!("secondary={SECONDARY}"),
        ]
        .into_iter()
        .flat_map(|v| ["--var".to_string(), v]),
    );
    let mut args = vec!["drill", scenario.to_str().unwrap(), "--execute", "--yes"];
    args.extend(vars.iter().map(String::as_str));
    let out = bin(d, RUNNER, &location, &args);
    let all = out.text();
    assert_eq!(
        out.status.code(),
        Some(3),
        "the drill pauses at the gate:\n{all}"
    );
    assert!(
        all.contains("its verdicts come when it is resumed"),
        "{all}"
    );
    let id = run_id(&all);
    let records = journal(d, &location, &id);
    let started = records
        .iter()
        .find(|r| r["type"] == "drill_started")
        .expect("the scenario is recorded with the run");
    assert_eq!(started["scenario"], SCENARIO);
    assert_eq!(started["impaired"][0]["region"], PRIMARY);
    assert_eq!(
        started["scenario_sha256"].as_str().unwrap().len(),
        64,
        "{started}"
    );
    assert!(!records.iter().any(|r| r["type"] == "drill_judged"));
    let listed = bin(d, RUNNER, &location, &["runs"]).text();
    let row = listed.lines().find(|l| l.contains(&id)).unwrap();
    assert!(
        row.contains(SCENARIO) && row.contains("pending"),
        "{listed}"
    );

    // The scenario is part of the run: a changed scenario is refused, nothing runs.
    let original = std::fs::read_to_string(&scenario).unwrap();
    std::fs::write(
        &scenario,
        format!("{original}\n# edited during the pause\n"),
    )
    .unwrap();
    let out = bin(d, RUNNER, &location, &["resume", &id, "--yes"]);
    out.assert_exit(2);
    assert!(out.text().contains("changed since drill"), "{}", out.text());
    std::fs::write(&scenario, &original).unwrap();

    let out = bin(d, APPROVER, &location, &["approve", &id, "gate"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unsigned approval does not count: {}",
        out.text()
    );
    let out = bin(
        d,
        APPROVER,
        &location,
        &["approve", &id, "gate", "--sign-with", &sign_with],
    );
    out.assert_exit(0);

    let out = bin(d, RUNNER, &location, &["resume", &id, "--yes"]);
    let all = out.text();
    out.assert_exit(0);
    for want in [
        format!("resuming drill `{SCENARIO}`"),
        "PASS  promotion-deferred".into(),
        "PASS  dns-answers-over-dns".into(),
        format!("drill `{SCENARIO}` PASSED"),
    ] {
        assert!(all.contains(&want), "missing `{want}` in:\n{all}");
    }
    // The impairment held in the resumed process: the promotion could not reach the primary.
    assert_eq!(key_type(seed, PRIMARY).await, "PRIMARY");
    let records = journal(d, &location, &id);
    let judged = records
        .iter()
        .find(|r| r["type"] == "drill_judged")
        .expect("the resumed drill records its verdicts");
    assert!(
        judged["refused_calls"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["step"] == "promote-key" && c["region"] == PRIMARY),
        "{judged}"
    );
    assert!(
        judged["verdicts"]["expectations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["passed"] == true),
        "{judged}"
    );
    // Sealed evidence with the verdict in it.
    let report = d.join(".drillbook/reports").join(&id);
    let manifest = std::fs::read_to_string(report.join("manifest.json")).unwrap();
    assert!(manifest.contains("report.json"), "{manifest}");
    let doc = std::fs::read_to_string(report.join("report.json")).unwrap();
    assert!(
        doc.contains("promotion-deferred"),
        "the report carries the verdicts"
    );
    // With the emulator's credentials: a KMS-signed approval is checked with GetPublicKey.
    let v = crate::support::cli::bin()
        .arg("verify-evidence")
        .arg(&report)
        .envs(emulator().env())
        .output();
    v.assert_exit(0);
    assert!(
        v.text()
            .contains(&format!("approval:  `gate` by {APPROVER}: signed with")),
        "{}",
        v.text()
    );
    let listed = bin(d, RUNNER, &location, &["runs"]).text();
    let row = listed.lines().find(|l| l.contains(&id)).unwrap();
    assert!(row.contains(SCENARIO) && row.contains("passed"), "{listed}");
}

fn pair() -> SeedOptions {
    SeedOptions::regions(PRIMARY, SECONDARY)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_drill_paused_for_approval_resumes_as_a_drill_on_the_file_store() {
    let seed = emulator().seed_with(&unique_prefix("drill_pause"), &pair());
    paused_drill_resumes_to_a_sealed_verdict(&seed, vec![], ApproverKey::Ed25519).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_drill_on_the_dynamodb_store_pauses_and_resumes_under_its_lock() {
    let prefix = unique_prefix("drill_pause_ddb");
    let seed = emulator().seed_with(&prefix, &pair());
    let url = format!("dynamodb://{prefix}state?region={SECONDARY}");
    let location = vec!["--state".to_string(), url.clone()];
    let dir = tempfile::tempdir().unwrap();
    let out = bin(dir.path(), RUNNER, &[], &["state", "init", "--state", &url]);
    out.assert_exit(0);
    paused_drill_resumes_to_a_sealed_verdict(&seed, location, ApproverKey::Kms).await;
}
