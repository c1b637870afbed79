//! The run document and its renderers (HTML, Markdown, JSON, JUnit), `report::write_all` and
//! `drillbook report --format html|markdown|junit|all --output DIR`, on a hand-built drill run:
//! succeeded, failed and skipped steps, a retry, an approval, a cleanup step, and a drill
//! verdict with one failed expectation and calls refused by an impaired Region.

use crate::support::Ran;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use chrono::{DateTime, Utc};
use drillbook::actions::aws::{Identity, ImpairedCall, Impairment};
use drillbook::actions::{ActionError, AwsFailure, Observation, Outcome};
use drillbook::checkpoint::{FORMAT_VERSION, GENESIS, Record, StoredRun};
use drillbook::event::Event;
use drillbook::event::StepStatus;
use drillbook::event::{Mode, RunStatus};
use drillbook::report::document::{ObjectiveState, Verdict};
use drillbook::report::{RunDocument, html, junit, markdown};
use drillbook::scenario::{ExpectationVerdict, ObjectiveVerdict, Verdicts};

const RUN_ID: &str = "20261123-184501-dr01";

const RUNBOOK: &str = r#"version: 1
name: region-failover
description: Move the payments API from ca-central-1 to eu-west-1.
objectives:
  rto: 2m
  rpo: 5m
approvers: { allow_unsigned: true }
steps:
  - id: check-pitr
    action: dynamodb.assert_pitr
    with: { table: vault }
    region: eu-west-1
  - id: restore-vault
    action: dynamodb.restore_pitr
    with: { source_table: vault, target_table: vault-copy }
    region: eu-west-1
    needs: [check-pitr]
  - id: promote-key
    action: kms.promote
    with: { key: alias/k }
    region: eu-west-1
  - id: approve-cutover
    action: approval
    with: { message: "Check the dashboards before DNS moves" }
    needs: [restore-vault]
  - id: update-stage
    action: apigateway.update_stage
    with: { rest_api: api, variables: { table: vault-copy } }
    region: eu-west-1
    needs: [approve-cutover]
  - id: switch-dns
    action: route53.failover
    with: { hosted_zone: example.com., record_name: api.example.com }
    needs: [update-stage, promote-key]
finally:
  - id: delete-restored
    action: dynamodb.delete_table
    with: { table: vault-copy }
    region: eu-west-1
"#;

fn at(secs: f64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-23T18:45:01Z")
        .unwrap()
        .with_timezone(&Utc)
        + chrono::Duration::milliseconds((secs * 1000.0).round() as i64)
}

fn oncall() -> Identity {
    Identity {
        account: "111122223333".into(),
        arn: "arn:aws:iam::111122223333:user/oncall".into(),
    }
}

fn start(step: &str, attempt: u32) -> Event {
    Event::StepStarted {
        action: String::new(),
        step: step.into(),
        attempt,
    }
}

fn ok(step: &str, attempts: u32, ms: u64, wait: u64, outcome: Outcome) -> Event {
    Event::StepSucceeded {
        step: step.into(),
        outcome,
        attempts,
        duration_ms: ms,
        aws_wait_ms: wait,
        dry_run: false,
    }
}

fn refused(step: Option<&str>, service: &str, operation: &str) -> ImpairedCall {
    ImpairedCall {
        step: step.map(str::to_string),
        region: "ca-central-1".into(),
        service: service.into(),
        operation: operation.into(),
    }
}

/// The drill: check-pitr observes, restore-vault is throttled once then restores,
/// promote-key fails (its call to the impaired ca-central-1 is refused), the cut-over is
/// approved by another engineer, update-stage succeeds, switch-dns is skipped, the cleanup
/// runs; the drill's verdict: RTO and RPO met, one expectation did not hold.
fn journal() -> Vec<(f64, Event)> {
    vec![
        (
            0.0,
            Event::RunStarted {
                format_version: FORMAT_VERSION,
                run_id: RUN_ID.into(),
                runbook: "runbooks/region-failover.yaml".into(),
                runbook_sha256: drillbook::runbook::load::sha256_hex(RUNBOOK.as_bytes()),
                mode: Mode::Execute,
                identity: Some(oncall()),
                host: "gameday-runner".into(),
                user: "oncall".into(),
                drillbook_version: "0.1.0".into(),
                steps: vec![],
                vars_sha256: None,
                sealed_by: None,
            },
        ),
        (0.0, start("check-pitr", 1)),
        (0.0, start("promote-key", 1)),
        (
            0.8,
            Event::StepObserved {
                step: "check-pitr".into(),
                observation: Observation {
                    summary: "table vault: PITR enabled, latest restorable 18:44:59".into(),
                    facts: BTreeMap::from([
                        ("pitr".into(), serde_json::json!("ENABLED")),
                        ("pitr_lag_seconds".into(), serde_json::json!(42)),
                    ]),
                    outputs: BTreeMap::from([("pitr_lag_seconds".into(), "42".into())]),
                    ..Default::default()
                },
            },
        ),
        (
            1.0,
            ok(
                "check-pitr",
                1,
                1000,
                0,
                Outcome {
                    summary: "PITR is on".into(),
                    changes: vec![],
                    outputs: BTreeMap::from([("pitr_lag_seconds".into(), "42".into())]),
                },
            ),
        ),
        (1.0, start("restore-vault", 1)),
        (
            2.0,
            Event::StepFailed {
                step: "promote-key".into(),
                error: ActionError::Impaired {
                    region: "ca-central-1".into(),
                    service: "kms".into(),
                    operation: "UpdatePrimaryRegion".into(),
                },
                attempts: 1,
                duration_ms: 2000,
            },
        ),
        (
            3.0,
            Event::StepRetrying {
                step: "restore-vault".into(),
                attempt: 1,
                error: ActionError::Aws(Box::new(AwsFailure {
                    service: "dynamodb".into(),
                    operation: "RestoreTableToPointInTime".into(),
                    region: "eu-west-1".into(),
                    code: "ThrottlingException".into(),
                    message: "rate exceeded".into(),
                    retryable: true,
                    request_id: Some("req-1".into()),
                    hint: String::new(),
                })),
                delay_ms: 2000,
            },
        ),
        (5.0, start("restore-vault", 2)),
        (
            5.5,
            Event::StepObserved {
                step: "restore-vault".into(),
                observation: Observation {
                    summary: "vault-restored-dr01 does not exist yet".into(),
                    changes: vec!["restore vault to vault-restored-dr01".into()],
                    ..Default::default()
                },
            },
        ),
        (
            40.0,
            ok(
                "restore-vault",
                2,
                39_000,
                30_000,
                Outcome {
                    summary: "restored vault as vault-restored-dr01 (1,204 items)".into(),
                    changes: vec![
                        "restored vault to vault-restored-dr01".into(),
                        "enabled PITR on vault-restored-dr01".into(),
                    ],
                    outputs: BTreeMap::from([
                        ("table_name".into(), "vault-restored-dr01".into()),
                        ("item_count".into(), "1204".into()),
                    ]),
                },
            ),
        ),
        (40.0, start("approve-cutover", 1)),
        (
            40.0,
            Event::ApprovalRequested {
                step: "approve-cutover".into(),
                message: "Check the dashboards before DNS moves".into(),
                nonce: String::new(),
            },
        ),
        (
            55.0,
            Event::ApprovalGranted {
                step: "approve-cutover".into(),
                approver: Identity {
                    account: "111122223333".into(),
                    arn: "arn:aws:iam::111122223333:user/lead <&>".into(),
                },
                comment: "dashboards green".into(),
                signed: None,
            },
        ),
        (55.0, ok("approve-cutover", 1, 15_000, 0, Outcome::default())),
        (55.0, start("update-stage", 1)),
        (
            61.0,
            ok(
                "update-stage",
                1,
                6000,
                1000,
                Outcome {
                    summary: "stage prod uses vault-restored-dr01".into(),
                    changes: vec!["set stage variable table=vault-restored-dr01".into()],
                    outputs: BTreeMap::new(),
                },
            ),
        ),
        (
            61.0,
            Event::StepSkipped {
                step: "switch-dns".into(),
                reason: "needs promote-key, which failed".into(),
            },
        ),
        (61.0, start("delete-restored", 1)),
        (
            70.0,
            ok(
                "delete-restored",
                1,
                9000,
                8000,
                Outcome {
                    summary: "deleted vault-restored-dr01".into(),
                    changes: vec!["deleted table vault-restored-dr01".into()],
                    outputs: BTreeMap::new(),
                },
            ),
        ),
        (
            70.0,
            Event::RunFinished {
                status: RunStatus::Failed,
            },
        ),
        (
            72.0,
            Event::DrillJudged {
                scenario: "ca-central-1-outage".into(),
                scenario_sha256: "5c".repeat(32),
                impaired: vec![Impairment {
                    region: "ca-central-1".into(),
                    service: None,
                }],
                refused_calls: vec![
                    refused(Some("promote-key"), "kms", "DescribeKey"),
                    refused(Some("promote-key"), "kms", "DescribeKey"),
                    refused(Some("promote-key"), "kms", "UpdatePrimaryRegion"),
                    refused(None, "sts", "GetCallerIdentity"),
                ],
                verdicts: Verdicts {
                    expectations: vec![
                        ExpectationVerdict {
                            id: "dns-on-eu".into(),
                            description: "The API name answers from eu-west-1".into(),
                            passed: false,
                            observed: "api.example.com answers ca-central-1".into(),
                            reason: Some(
                                "answer is `d-1.execute-api.ca-central-1.amazonaws.com`, expected `~eu-west-1`"
                                    .into(),
                            ),
                        },
                        ExpectationVerdict {
                            id: "vault-restored".into(),
                            description: "The restored table holds at least 1,000 items".into(),
                            passed: true,
                            observed: "vault-restored-dr01: 1204 items".into(),
                            reason: None,
                        },
                    ],
                    objectives: vec![
                        ObjectiveVerdict {
                            objective: "rto".into(),
                            target: Duration::from_secs(120),
                            measured: Some(Duration::from_secs(70)),
                            met: true,
                            how: "time from the run's start to its last recovery step".into(),
                        },
                        ObjectiveVerdict {
                            objective: "rpo".into(),
                            target: Duration::from_secs(300),
                            measured: Some(Duration::from_secs(42)),
                            met: true,
                            how: "largest gap between now and the latest restorable time".into(),
                        },
                    ],
                },
            },
        ),
    ]
}

/// Journal lines with a correct hash chain, as the file store writes them.
fn journal_lines(entries: Vec<(f64, Event)>) -> Vec<String> {
    let mut prev = GENESIS.to_string();
    let mut lines = Vec::new();
    for (seq, (secs, entry)) in entries.into_iter().enumerate() {
        let rec = Record {
            seq: seq as u64 + 1,
            at: at(secs),
            prev: prev.clone(),
            event: entry,
        };
        let line = serde_json::to_string(&rec).unwrap();
        prev = drillbook::runbook::load::sha256_hex(line.as_bytes());
        lines.push(line);
    }
    lines
}

fn stored_run() -> StoredRun {
    StoredRun {
        head_sha256: String::new(),
        run_id: RUN_ID.into(),
        runbook_text: RUNBOOK.into(),
        runbook_path: "runbooks/region-failover.yaml".into(),
        runbook_sha256: drillbook::runbook::load::sha256_hex(RUNBOOK.as_bytes()),
        vars: Default::default(),
        records: journal_lines(journal())
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
    }
}

fn runbook() -> drillbook::runbook::Runbook {
    drillbook::runbook::load_str(Path::new("region-failover.yaml"), RUNBOOK, &[])
        .unwrap_or_else(|d| panic!("{d}"))
        .runbook
}

fn document() -> RunDocument {
    RunDocument::build(&stored_run(), &runbook())
}

/// A state directory holding the drill's run, as the file store lays it out.
fn state_dir() -> tempfile::TempDir {
    let state = tempfile::tempdir().unwrap();
    let dir = state.path().join("runs").join(RUN_ID);
    std::fs::create_dir_all(&dir).unwrap();
    let mut j = journal_lines(journal()).join("\n");
    j.push('\n');
    std::fs::write(dir.join("journal.jsonl"), j).unwrap();
    std::fs::write(dir.join("runbook.yaml"), RUNBOOK).unwrap();
    std::fs::write(
        dir.join("runbook.sha256"),
        drillbook::runbook::load::sha256_hex(RUNBOOK.as_bytes()),
    )
    .unwrap();
    std::fs::write(dir.join("vars.json"), "{}").unwrap();
    state
}

fn drillbook(args: &[&str], cwd: &Path) -> (i32, String, String) {
    let o = crate::support::cli::bin()
        .args(args)
        .current_dir(cwd)
        .output();
    (o.code(), o.stdout_text(), o.stderr_text())
}

#[test]
fn document_gathers_the_whole_drill() {
    let d = document();
    assert_eq!(d.format_version, 1);
    assert_eq!(d.verdict, Verdict::Failed);
    assert_eq!(
        d.headline,
        "Step `promote-key` failed; expectation `dns-on-eu` did not hold."
    );
    assert_eq!(d.status, drillbook::event::RunStatus::Failed);
    assert_eq!(d.scenario.as_ref().unwrap().name, "ca-central-1-outage");
    assert_eq!(
        d.ran_by.identity_arn.as_deref(),
        Some("arn:aws:iam::111122223333:user/oncall")
    );
    assert_eq!(d.ran_by.account.as_deref(), Some("111122223333"));
    assert_eq!(d.drillbook_version, "0.1.0");
    assert_eq!(
        (
            d.counts.total,
            d.counts.succeeded,
            d.counts.failed,
            d.counts.skipped
        ),
        (7, 5, 1, 1)
    );
    // Objectives from the drill's verdicts, judged by the one rule: the run failed, so it met
    // none (the drill's record said the RTO was met).
    let rto = &d.objectives[0];
    assert_eq!(
        (
            rto.objective.as_str(),
            rto.target_ms,
            rto.measured_ms,
            rto.verdict
        ),
        ("rto", 120_000, None, ObjectiveState::NotAssessed)
    );
    assert_eq!(d.objectives[1].verdict, ObjectiveState::NotAssessed);
    assert_eq!(d.recovery_ms, None, "a failed run has no recovery time");
    // Impaired calls grouped by step, duplicates counted.
    assert_eq!(d.impaired[0].region, "ca-central-1");
    assert_eq!(d.impaired_steps.len(), 2);
    assert_eq!(d.impaired_steps[0].step.as_deref(), Some("promote-key"));
    let calls: Vec<(&str, u32)> = d.impaired_steps[0]
        .calls
        .iter()
        .map(|c| (c.operation.as_str(), c.count))
        .collect();
    assert_eq!(calls, [("DescribeKey", 2), ("UpdatePrimaryRegion", 1)]);
    assert_eq!(d.impaired_steps[1].step, None);
    // The approval: who, when, comment.
    assert_eq!(d.approvals.len(), 1);
    let a = &d.approvals[0];
    assert_eq!(
        a.approver.as_ref().unwrap().arn,
        "arn:aws:iam::111122223333:user/lead <&>"
    );
    assert_eq!(a.granted_at, Some(at(55.0)));
    assert_eq!(a.comment, "dashboards green");
    // Steps: timings, attempts, observations, changes, retries, errors.
    let step = |id: &str| d.steps.iter().find(|s| s.id == id).unwrap();
    let rv = step("restore-vault");
    assert_eq!((rv.attempts, rv.aws_wait_ms), (2, 30_000));
    assert_eq!(rv.region.as_deref(), Some("eu-west-1"));
    assert_eq!(rv.retries.len(), 1);
    assert!(rv.retries[0].error.contains("ThrottlingException"));
    assert_eq!(rv.changed.len(), 2);
    assert_eq!(rv.outputs["item_count"], "1204");
    assert!(rv.critical);
    let cp = step("check-pitr");
    assert_eq!(cp.observed.as_ref().unwrap().facts["pitr"], "ENABLED");
    let pk = step("promote-key");
    assert_eq!(pk.status, StepStatus::Failed);
    assert!(
        pk.error
            .as_deref()
            .unwrap()
            .contains("ca-central-1 is impaired")
    );
    assert!(pk.hint.as_deref().unwrap().contains("impaired Region"));
    assert_eq!(step("switch-dns").status, StepStatus::Skipped);
    assert!(step("delete-restored").cleanup);
    assert_eq!(
        d.critical_path,
        [
            "check-pitr",
            "restore-vault",
            "approve-cutover",
            "update-stage",
            "delete-restored"
        ]
    );
    // The head of the chain is the hash of the journal's last line.
    let lines = journal_lines(journal());
    assert_eq!(d.journal.records, lines.len() as u64);
    assert_eq!(
        d.journal.head_sha256,
        drillbook::runbook::load::sha256_hex(lines.last().unwrap().as_bytes())
    );
}

#[test]
fn json_round_trips_with_its_version() {
    let d = document();
    let json = serde_json::to_string_pretty(&d).unwrap();
    let back: RunDocument = serde_json::from_str(&json).unwrap();
    assert_eq!(back, d);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["format_version"], 1);
    assert_eq!(v["verdict"], "failed");
    assert_eq!(v["mode"], "execute");
    assert_eq!(v["objectives"][0]["verdict"], "not_assessed");
    assert_eq!(v["steps"][0]["status"], "succeeded");
    assert_eq!(v["impaired_steps"][0]["calls"][0]["count"], 2);
}

/// Parses JUnit XML and checks that every count attribute matches the test cases.
fn check_junit(xml: &str) -> roxmltree::Document<'_> {
    let doc = roxmltree::Document::parse(xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let suites: Vec<_> = root
        .children()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    assert_eq!(suites.len(), 1, "one testsuite per run");
    for node in [root, suites[0]] {
        let cases: Vec<_> = suites[0]
            .children()
            .filter(|n| n.has_tag_name("testcase"))
            .collect();
        let count = |tag: &str| {
            cases
                .iter()
                .filter(|c| c.children().any(|k| k.has_tag_name(tag)))
                .count()
                .to_string()
        };
        assert_eq!(
            node.attribute("tests"),
            Some(cases.len().to_string().as_str())
        );
        assert_eq!(node.attribute("failures"), Some(count("failure").as_str()));
        assert_eq!(node.attribute("skipped"), Some(count("skipped").as_str()));
        assert_eq!(node.attribute("errors"), Some(count("error").as_str()));
    }
    doc
}

#[test]
fn junit_parses_and_counts() {
    let xml = junit::render(&document());
    let doc = check_junit(&xml);
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    // 7 steps, 2 expectations, 2 objectives; promote-key and dns-on-eu fail; switch-dns is
    // skipped, and so are the objectives: a failed run meets none, and its failure is counted.
    assert_eq!(suite.attribute("tests"), Some("11"));
    assert_eq!(suite.attribute("failures"), Some("2"));
    assert_eq!(suite.attribute("skipped"), Some("3"));
    assert_eq!(
        suite.attribute("name"),
        Some("drillbook.ca-central-1-outage")
    );
    assert_eq!(
        suite.attribute("timestamp"),
        Some("2026-11-23T18:45:01.000+00:00")
    );
    assert_eq!(suite.attribute("id"), Some(RUN_ID));
    let case = |class: &str, name: &str| {
        doc.descendants()
            .find(|n| {
                n.has_tag_name("testcase")
                    && n.attribute("classname") == Some(class)
                    && n.attribute("name") == Some(name)
            })
            .unwrap_or_else(|| panic!("no testcase {class} {name}"))
    };
    let failure = |n: roxmltree::Node| {
        n.children()
            .find(|k| k.has_tag_name("failure"))
            .and_then(|f| f.attribute("message").map(str::to_string))
    };
    assert!(
        failure(case("drillbook.steps", "promote-key"))
            .unwrap()
            .contains("ca-central-1 is impaired")
    );
    assert_eq!(failure(case("drillbook.steps", "restore-vault")), None);
    assert_eq!(
        case("drillbook.steps", "restore-vault").attribute("time"),
        Some("39.000")
    );
    assert!(
        case("drillbook.steps", "switch-dns")
            .children()
            .any(|k| k.has_tag_name("skipped"))
    );
    assert_eq!(
        failure(case("drillbook.expectations", "dns-on-eu")).as_deref(),
        Some("answer is `d-1.execute-api.ca-central-1.amazonaws.com`, expected `~eu-west-1`")
    );
    assert_eq!(
        failure(case("drillbook.expectations", "vault-restored")),
        None
    );
    assert_eq!(failure(case("drillbook.objectives", "rto")), None);
    assert_eq!(failure(case("drillbook.objectives", "rpo")), None);
    let prop = |k: &str| {
        doc.descendants()
            .find(|n| n.has_tag_name("property") && n.attribute("name") == Some(k))
            .and_then(|n| n.attribute("value").map(str::to_string))
    };
    assert_eq!(prop("verdict").as_deref(), Some("failed"));
    assert_eq!(prop("account").as_deref(), Some("111122223333"));
    assert_eq!(prop("impaired").as_deref(), Some("ca-central-1"));
}

#[test]
fn junit_escapes_hostile_text() {
    let mut d = document();
    d.steps[0].id = "a\"<b>&'c\u{1}\nd".into();
    d.steps[0].status = StepStatus::Failed;
    d.steps[0].error = Some("]]></failure><x y=\"".into());
    let xml = junit::render(&d);
    let doc = check_junit(&xml);
    let case = doc
        .descendants()
        .find(|n| n.has_tag_name("testcase"))
        .unwrap();
    // XML normalises a line break in an attribute to a space; the forbidden U+0001 is dropped.
    assert_eq!(case.attribute("name"), Some("a\"<b>&'c d"));
    assert_eq!(
        case.children()
            .find(|k| k.has_tag_name("failure"))
            .unwrap()
            .attribute("message"),
        Some("]]></failure><x y=\"")
    );
}

#[test]
fn markdown_has_the_verdict_tables() {
    let md = markdown::render(&document());
    assert!(md.starts_with("# ❌ FAILED: region-failover\n"), "{md}");
    assert!(
        md.contains("> Step `promote-key` failed; expectation `dns-on-eu` did not hold."),
        "{md}"
    );
    for row in [
        "| Verdict | **FAILED** |",
        "| Scenario | ca-central-1-outage |",
        "| AWS account | 111122223333 |",
        // The run failed: it met no objective, whatever the drill's record says.
        "| RTO | 2m | - | ➖ not assessed | the run failed |",
        "| RPO | 5m | - | ➖ not assessed | the run failed |",
        "| `dns-on-eu` | The API name answers from eu-west-1 | api.example.com answers ca-central-1<br>**answer is `d-1.execute-api.ca-central-1.amazonaws.com`, expected `~eu-west-1`** | ❌ did not hold |",
        "| `vault-restored` | The restored table holds at least 1,000 items | vault-restored-dr01: 1204 items | ✅ held |",
        "| `promote-key` | kms `DescribeKey` in ca-central-1 ×2<br>kms `UpdatePrimaryRegion` in ca-central-1 |",
        // Inside a code span nothing is escaped: the ARN is shown as it is.
        "| `approve-cutover` | Check the dashboards before DNS moves | `arn:aws:iam::111122223333:user/lead <&>` (account 111122223333), **unsigned** | 2026-11-23 18:45:56 UTC | dashboards green |",
        "| `restore-vault` | `dynamodb.restore_pitr` | eu-west-1 | ✅ succeeded | +1.0s | 39.0s | 2 | 30.0s | ● |",
        "| `promote-key` | `kms.promote` | eu-west-1 | ❌ failed |",
        "| `switch-dns` | `route53.failover` | - | ⏭ skipped |",
        "| `delete-restored` (cleanup) |",
    ] {
        assert!(md.contains(row), "missing `{row}` in\n{md}");
    }
    assert!(md.contains("- **Skipped because:** needs promote-key, which failed"));
    assert!(md.contains("- **Retried:** attempt 1 failed: dynamodb RestoreTableToPointInTime"));
    assert!(md.contains("  - restored vault to vault-restored-dr01\n"));
}

#[test]
fn html_is_self_contained_and_escaped() {
    let page = html::render(&document());
    assert!(page.starts_with("<!DOCTYPE html>"));
    for bad in [
        "<script", "http://", "https://", "<link", "@import", "url(http",
    ] {
        // The SVG namespace is the one URL allowed: it is an identifier, never fetched.
        let n = page.matches(bad).count();
        let allowed = if bad == "http://" { 1 } else { 0 };
        assert_eq!(n, allowed, "`{bad}` in the page");
    }
    assert!(page.contains("lead &lt;&amp;&gt;"));
    assert!(!page.contains("lead <&>"));
    assert!(page.contains("data-verdict=\"failed\""));
    assert!(
        page.contains("class=\"bar critical\" data-step=\"restore-vault\" data-critical=\"true\"")
    );
    assert!(page.contains("class=\"bar failed\" data-step=\"promote-key\""));
    assert!(page.contains("<g class=\"skipped\" data-step=\"switch-dns\">"));
    // The demo-size page stays small.
    assert!(page.len() < 100_000, "{} bytes", page.len());
}

#[test]
fn write_all_writes_the_four_reports() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("reports").join(RUN_ID);
    let d = document();
    let paths = drillbook::report::write_all(&out, &d).unwrap();
    let names: Vec<String> = paths
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        ["report.html", "report.md", "report.json", "junit.xml"]
    );
    assert_eq!(
        std::fs::read_to_string(&paths[0]).unwrap(),
        html::render(&d)
    );
    assert_eq!(
        std::fs::read_to_string(&paths[1]).unwrap(),
        markdown::render(&d)
    );
    let back: RunDocument =
        serde_json::from_str(&std::fs::read_to_string(&paths[2]).unwrap()).unwrap();
    assert_eq!(back, d);
    check_junit(&std::fs::read_to_string(&paths[3]).unwrap());
    // No temporary file left behind.
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 4);
}

#[test]
fn cli_writes_each_format() {
    let state = state_dir();
    let sd = state.path().to_str().unwrap();
    let cwd = tempfile::tempdir().unwrap();

    let (code, out, err) = drillbook(
        &["report", RUN_ID, "--format", "junit", "--state-dir", sd],
        cwd.path(),
    );
    assert_eq!(code, 0, "{err}");
    let xml = check_junit(&out);
    let root = xml.root_element();
    let counts = ["tests", "failures", "errors", "skipped"].map(|a| root.attribute(a));
    assert_eq!(
        counts,
        [Some("11"), Some("2"), Some("0"), Some("3")],
        "{out}"
    );

    let (code, out, err) = drillbook(
        &["report", RUN_ID, "--format", "markdown", "--state-dir", sd],
        cwd.path(),
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, markdown::render(&document()));

    let (code, out, err) = drillbook(
        &["report", RUN_ID, "--format", "json", "--state-dir", sd],
        cwd.path(),
    );
    assert_eq!(code, 0, "{err}");
    let back: RunDocument = serde_json::from_str(&out).unwrap();
    assert_eq!(back, document());

    // html without --output: a file in the working directory, its path printed.
    let (code, out, err) = drillbook(
        &["report", RUN_ID, "--format", "html", "--state-dir", sd],
        cwd.path(),
    );
    assert_eq!(code, 0, "{err}");
    let name = format!("drillbook-report-{RUN_ID}.html");
    assert_eq!(out, format!("wrote {name}\n"));
    assert_eq!(
        std::fs::read_to_string(cwd.path().join(&name)).unwrap(),
        html::render(&document())
    );

    // --output DIR: the usual file names, the directory created.
    let dir = cwd.path().join("out/nested");
    let d = dir.to_str().unwrap();
    for (format, file) in [
        ("html", "report.html"),
        ("junit", "junit.xml"),
        ("text", "report.txt"),
    ] {
        let (code, out, err) = drillbook(
            &[
                "report",
                RUN_ID,
                "--format",
                format,
                "--output",
                d,
                "--state-dir",
                sd,
            ],
            cwd.path(),
        );
        assert_eq!(code, 0, "{err}");
        assert_eq!(out, format!("wrote {}\n", dir.join(file).display()));
        assert!(dir.join(file).is_file());
    }
    let (code, out, err) = drillbook(
        &[
            "report",
            RUN_ID,
            "--format",
            "all",
            "--output",
            d,
            "--state-dir",
            sd,
        ],
        cwd.path(),
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 4, "{out}");
    assert!(dir.join("report.md").is_file() && dir.join("report.json").is_file());

    // An unwritable destination is an error with a help line.
    let blocker = cwd.path().join("file");
    std::fs::write(&blocker, "").unwrap();
    let (code, _, err) = drillbook(
        &[
            "report",
            RUN_ID,
            "--format",
            "html",
            "--output",
            blocker.to_str().unwrap(),
            "--state-dir",
            sd,
        ],
        cwd.path(),
    );
    assert_eq!(code, 1);
    assert!(err.contains("error: cannot write the report to"), "{err}");
    assert!(err.contains("help: choose a writable directory"), "{err}");
}

// ---- the HTML page in a real browser -------------------------------------------------------

pub(crate) fn chromium() -> Option<PathBuf> {
    let fixed = Path::new("/usr/bin/chromium");
    if fixed.is_file() {
        return Some(fixed.to_path_buf());
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("chromium"))
            .find(|p| p.is_file())
    })
}

/// Runs headless Chromium on `page` with `args`, killed after 120 s.
pub(crate) fn run_chromium(
    chromium: &Path,
    profile: &Path,
    args: &[String],
    page: &Path,
) -> std::process::Output {
    Command::new("timeout")
        .arg("120")
        .arg(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium")
}

#[test]
fn html_renders_in_headless_chromium() {
    let Some(chromium) = chromium() else {
        println!("SKIPPED: chromium not installed (scripts/test installs it)");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let paths = drillbook::report::write_all(&tmp.path().join("report"), &document()).unwrap();
    let page = &paths[0];

    // The rendered DOM: the verdict, every step, the Gantt chart with its critical path.
    let out = run_chromium(
        &chromium,
        &tmp.path().join("profile-dom"),
        &["--dump-dom".to_string()],
        page,
    );
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && dom.contains("</html>"),
        "chromium --dump-dom failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        dom.contains("data-verdict=\"failed\">FAILED</div>"),
        "{dom}"
    );
    for step in [
        "check-pitr",
        "restore-vault",
        "promote-key",
        "approve-cutover",
        "update-stage",
        "switch-dns",
        "delete-restored",
    ] {
        assert!(
            dom.contains(&format!("id=\"step-{step}\"")),
            "step {step} missing"
        );
    }
    let svg_start = dom.find("<svg").expect("an inline SVG");
    let svg = &dom[svg_start..dom[svg_start..].find("</svg>").unwrap() + svg_start];
    assert!(svg.contains("data-critical=\"true\""), "{svg}");
    assert_eq!(svg.matches("class=\"bar critical\"").count(), 4, "{svg}");
    assert!(dom.contains("critical path</span>"));
    assert!(dom.contains("ca-central-1"));

    // The screenshot: a real, non-trivial PNG of the requested size.
    let png_path = tmp.path().join("page.png");
    let out = run_chromium(
        &chromium,
        &tmp.path().join("profile-shot"),
        &[
            format!("--screenshot={}", png_path.display()),
            "--window-size=1280,2000".to_string(),
            "--hide-scrollbars".to_string(),
        ],
        page,
    );
    assert!(
        png_path.is_file(),
        "no screenshot ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&png_path).unwrap();
    assert!(
        bytes.len() > 10_000,
        "screenshot is only {} bytes",
        bytes.len()
    );
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let reader = decoder.read_info().unwrap();
    let info = reader.info();
    assert_eq!((info.width, info.height), (1280, 2000));
    if let Ok(keep) = std::env::var("DRILLBOOK_KEEP_SCREENSHOT") {
        // For looking at the page: the screenshot and the page beside it.
        std::fs::copy(&png_path, &keep).unwrap();
        std::fs::copy(page, Path::new(&keep).with_extension("html")).unwrap();
    }
}
