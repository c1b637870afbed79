//! The fleet report a platform team reads: one line per target (account x Region: status,
//! verdict, recovery time, its own report), the totals; the same as JSON and as one HTML page
//! (an account x Region table, then each target's objectives, expectations and slowest
//! steps, linked to its own report); and JUnit with one test case per target and per
//! expectation of a drill.

use std::fmt::Write as _;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use maud::{DOCTYPE, PreEscaped, html};
use serde::Serialize;

use crate::checkpoint::fleet::{FleetRecord, TargetRecord};
use crate::duration::human;
use crate::report::sanitize::one_line;

/// `3 targets: 2 succeeded, 1 failed, 0 paused, 0 not started`.
pub fn totals(r: &FleetRecord) -> String {
    let (ok, failed, paused, queued) = r.counts();
    let skipped = match r.skipped.len() {
        0 => String::new(),
        1 => "; 1 account skipped".to_string(),
        n => format!("; {n} accounts skipped"),
    };
    format!(
        "{} target{}: {ok} succeeded, {failed} failed, {paused} paused, {queued} not started{skipped}",
        r.targets.len(),
        if r.targets.len() == 1 { "" } else { "s" }
    )
}

/// The fleet report as text.
pub fn text(r: &FleetRecord) -> String {
    let mut out = String::new();
    let mode = match r.mode {
        crate::event::Mode::DryRun => "dry run",
        crate::event::Mode::Execute => "execute",
    };
    let _ = writeln!(
        out,
        "fleet {} of `{}` ({mode}), started {}",
        r.fleet_id,
        r.runbook,
        r.started_at.format("%Y-%m-%d %H:%M:%S UTC")
    );
    let rows: Vec<[String; 6]> = r
        .targets
        .iter()
        .map(|t| {
            [
                if t.name == t.account {
                    t.account.clone()
                } else {
                    format!("{} ({})", t.account, t.name)
                },
                t.region.clone(),
                t.status.clone(),
                t.verdict.clone().unwrap_or_else(|| "-".into()),
                t.recovery_ms
                    .map(|m| human(Duration::from_millis(m)))
                    .unwrap_or_else(|| "-".into()),
                t.run_id.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let head = ["ACCOUNT", "REGION", "STATUS", "VERDICT", "RECOVERY", "RUN"];
    let mut w = head.map(str::len);
    for row in &rows {
        for (k, c) in row.iter().enumerate() {
            w[k] = w[k].max(c.chars().count());
        }
    }
    let mut line = |cells: [&str; 6]| {
        let mut s = String::new();
        for (k, c) in cells.iter().enumerate() {
            let _ = write!(s, "{c:<width$}  ", width = w[k]);
        }
        let _ = writeln!(out, "{}", s.trim_end());
    };
    line(head);
    for row in &rows {
        line(row.each_ref().map(String::as_str));
    }
    for t in r.targets.iter().filter(|t| t.reason.is_some()) {
        let _ = writeln!(
            out,
            "{} {}: {}",
            t.account,
            t.region,
            t.reason.as_deref().unwrap_or_default()
        );
    }
    for t in r.targets.iter().filter(|t| t.report_dir.is_some()) {
        let _ = writeln!(
            out,
            "report of {} {}: {}",
            t.account,
            t.region,
            t.report_dir.as_deref().unwrap_or_default()
        );
    }
    for s in &r.skipped {
        let _ = writeln!(
            out,
            "skipped account {} ({}): {}",
            one_line(&s.account),
            one_line(&s.name),
            one_line(&s.reason)
        );
    }
    if let Some(s) = &r.stopped {
        let _ = writeln!(out, "stopped queueing: {s}");
    }
    let _ = writeln!(out, "{}", totals(r));
    out
}

/// JUnit XML: one test suite for the fleet, one test case per target (`ACCOUNT REGION`), and
/// for a drill one per expectation each target judged (`ACCOUNT REGION: ID`).
pub fn junit(r: &FleetRecord, details: &[TargetDetail]) -> String {
    let mut suite = TestSuite::new(format!("fleet {}", r.runbook));
    for (k, t) in r.targets.iter().enumerate() {
        let status = match t.status.as_str() {
            "succeeded" => TestCaseStatus::success(),
            "failed" => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(t.reason.as_deref().unwrap_or("the target's run failed"));
                s
            }
            other => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(other);
                s
            }
        };
        let mut c = TestCase::new(format!("{} {}", t.account, t.region), status);
        c.set_classname("drillbook.targets");
        if let Some(m) = t.recovery_ms {
            c.set_time(Duration::from_millis(m));
        }
        suite.add_test_case(c);
        for e in details
            .get(k)
            .map(|d| d.expectations.as_slice())
            .unwrap_or_default()
        {
            let status = if e.passed {
                TestCaseStatus::success()
            } else {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(e.reason.as_deref().unwrap_or(&e.observed));
                s
            };
            let mut c = TestCase::new(format!("{} {}: {}", t.account, t.region, e.id), status);
            c.set_classname("drillbook.expectations");
            suite.add_test_case(c);
        }
    }
    // An account of the fleet's OUs that was not run (suspended or closed): a skipped case.
    for a in &r.skipped {
        let mut s = TestCaseStatus::skipped();
        s.set_message(format!("skipped: {}", a.reason));
        let mut c = TestCase::new(format!("{} ({})", a.account, a.name), s);
        c.set_classname("drillbook.targets");
        suite.add_test_case(c);
    }
    let mut report = Report::new(format!("drillbook fleet {}", r.fleet_id));
    report.add_test_suite(suite);
    report.to_string().unwrap_or_default()
}

/// What a target's own report (its `report.json`, docs/report-json.md) says, for the fleet's.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TargetDetail {
    /// The RTO and RPO, each against its objective.
    pub objectives: Vec<ObjectiveDetail>,
    /// A drill's expectations, as judged.
    pub expectations: Vec<ExpectationDetail>,
    /// The three slowest steps, slowest first.
    pub slowest_steps: Vec<SlowStep>,
    /// The target's `report.html`: relative to the fleet's directory when both are in one
    /// tree, else absolute.
    pub report_html: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObjectiveDetail {
    /// `rto` or `rpo`.
    pub objective: String,
    pub target_ms: Option<u64>,
    /// What was achieved, when measured.
    pub measured_ms: Option<u64>,
    /// `met`, `missed` or `not_assessed`.
    pub verdict: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExpectationDetail {
    pub id: String,
    pub description: String,
    pub passed: bool,
    pub observed: String,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlowStep {
    pub id: String,
    pub duration_ms: u64,
}

impl TargetDetail {
    /// From a target's `report.json` (fields it does not have are left empty).
    pub fn from_report(doc: &serde_json::Value, report_html: Option<String>) -> TargetDetail {
        let list = |k: &str| doc[k].as_array().cloned().unwrap_or_default();
        let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
        let mut steps: Vec<SlowStep> = list("steps")
            .iter()
            .filter_map(|s| {
                Some(SlowStep {
                    id: text(&s["id"]),
                    duration_ms: s["duration_ms"].as_u64()?,
                })
            })
            .collect();
        steps.sort_by_key(|s| std::cmp::Reverse(s.duration_ms));
        steps.truncate(3);
        TargetDetail {
            objectives: list("objectives")
                .iter()
                .map(|o| ObjectiveDetail {
                    objective: text(&o["objective"]),
                    target_ms: o["target_ms"].as_u64(),
                    measured_ms: o["measured_ms"].as_u64(),
                    verdict: text(&o["verdict"]),
                })
                .collect(),
            expectations: list("expectations")
                .iter()
                .map(|e| ExpectationDetail {
                    id: text(&e["id"]),
                    description: text(&e["description"]),
                    passed: e["passed"].as_bool().unwrap_or(false),
                    observed: text(&e["observed"]),
                    reason: e["reason"].as_str().map(str::to_string),
                })
                .collect(),
            slowest_steps: steps,
            report_html,
        }
    }

    fn objective(&self, which: &str) -> Option<&ObjectiveDetail> {
        self.objectives.iter().find(|o| o.objective == which)
    }
}

/// The fleet report as JSON (`report.json` in the fleet's directory): the record, the
/// totals, and per target its status, verdict, RTO and RPO against the objectives, slowest
/// steps, expectations and its own report.
pub fn json(r: &FleetRecord, details: &[TargetDetail]) -> String {
    let (succeeded, failed, paused, not_started) = r.counts();
    let empty = TargetDetail::default();
    let targets: Vec<serde_json::Value> = r
        .targets
        .iter()
        .enumerate()
        .map(|(k, t)| {
            let d = details.get(k).unwrap_or(&empty);
            serde_json::json!({
                "account": t.account,
                "name": t.name,
                "region": t.region,
                "run_id": t.run_id,
                "status": t.status,
                "verdict": t.verdict,
                "reason": t.reason,
                "recovery_ms": t.recovery_ms,
                "rto": d.objective("rto"),
                "rpo": d.objective("rpo"),
                "expectations": d.expectations,
                "slowest_steps": d.slowest_steps,
                "report_dir": t.report_dir,
                "report_html": d.report_html,
                "manifest_sha256": t.manifest_sha256,
            })
        })
        .collect();
    let doc = serde_json::json!({
        "kind": "drillbook-fleet-report",
        "format_version": 1,
        "record": r,
        "counts": {
            "targets": r.targets.len(),
            "succeeded": succeeded,
            "failed": failed,
            "paused": paused,
            "not_started": not_started,
        },
        "targets": targets,
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

fn ms(v: Option<u64>) -> String {
    v.map(|m| human(Duration::from_millis(m)))
        .unwrap_or_else(|| "-".into())
}

/// `achieved / objective (verdict)`, or `-`.
fn against(o: Option<&ObjectiveDetail>) -> String {
    match o {
        None => "-".into(),
        Some(o) => format!(
            "{} / {} ({})",
            ms(o.measured_ms),
            ms(o.target_ms),
            o.verdict.replace('_', " ")
        ),
    }
}

/// The fleet report as one self-contained page (`report.html`): an account x Region table of
/// statuses and verdicts, each cell linked to the target's own report, then one row per
/// target. maud escapes every value.
pub fn html(r: &FleetRecord, details: &[TargetDetail]) -> String {
    let mut accounts: Vec<(&str, &str)> = vec![];
    let mut regions: Vec<&str> = vec![];
    for t in &r.targets {
        if !accounts.iter().any(|(a, _)| *a == t.account) {
            accounts.push((&t.account, &t.name));
        }
        if !regions.contains(&t.region.as_str()) {
            regions.push(&t.region);
        }
    }
    let cell = |a: &str, region: &str| -> Option<(usize, &TargetRecord)> {
        r.targets
            .iter()
            .enumerate()
            .find(|(_, t)| t.account == a && t.region == region)
    };
    let link = |k: usize| details.get(k).and_then(|d| d.report_html.clone());
    let class = |t: &TargetRecord| match t.status.as_str() {
        "succeeded" => "ok",
        "failed" => "bad",
        _ => "other",
    };
    let empty = TargetDetail::default();
    let mode = match r.mode {
        crate::event::Mode::DryRun => "dry run",
        crate::event::Mode::Execute => "execute",
    };
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "drillbook fleet " (r.fleet_id) }
                style { (PreEscaped("body{font-family:system-ui,sans-serif;margin:2rem}table{border-collapse:collapse;margin-bottom:1.5rem}td,th{border-bottom:1px solid #ccc;padding:.3rem .6rem;text-align:left;vertical-align:top}.ok{background:#e6f4ea}.bad{background:#fce8e6}.other{background:#f1f3f4}")) }
            }
            body {
                h1 { "Fleet " code { (r.fleet_id) } }
                p {
                    @if let Some(s) = &r.scenario { "Drill " code { (s.name) } " of runbook " } @else { "Runbook " }
                    code { (r.runbook) } " (" (mode) "), started "
                    (r.started_at.format("%Y-%m-%d %H:%M:%S UTC").to_string()) ". " (totals(r)) "."
                }
                @if let Some(s) = &r.stopped { p { strong { "Stopped queueing: " } (s) } }
                h2 { "Accounts x Regions" }
                table {
                    thead { tr { th { "Account" } @for region in &regions { th { (region) } } } }
                    tbody {
                        @for (a, name) in &accounts {
                            tr {
                                th { code { (a) } @if name != a { " " (name) } }
                                @for region in &regions {
                                    @match cell(a, region) {
                                        Some((k, t)) => {
                                            td class=(class(t)) {
                                                @if let Some(href) = link(k) {
                                                    a href=(href) { (t.status) }
                                                } @else { (t.status) }
                                                @if let Some(v) = &t.verdict { br; small { (v) } }
                                            }
                                        }
                                        None => { td { "-" } }
                                    }
                                }
                            }
                        }
                    }
                }
                h2 { "Targets" }
                table {
                    thead { tr {
                        th { "Account" } th { "Region" } th { "Status" } th { "Verdict" }
                        th { "RTO achieved / objective" } th { "RPO achieved / objective" }
                        th { "Expectations" } th { "Slowest steps" } th { "Run" }
                    } }
                    tbody {
                        @for (k, t) in r.targets.iter().enumerate() {
                            @let d = details.get(k).unwrap_or(&empty);
                            tr class=(class(t)) {
                                td { code { (t.account) } }
                                td { (t.region) }
                                td { (t.status) @if let Some(why) = &t.reason { br; small { (why) } } }
                                td { (t.verdict.as_deref().unwrap_or("-")) }
                                td { (against(d.objective("rto"))) }
                                td { (against(d.objective("rpo"))) }
                                td {
                                    @if d.expectations.is_empty() { "-" }
                                    @for e in &d.expectations {
                                        (if e.passed { "held: " } else { "DID NOT HOLD: " }) code { (e.id) } br;
                                    }
                                }
                                td {
                                    @if d.slowest_steps.is_empty() { "-" }
                                    @for s in &d.slowest_steps {
                                        code { (s.id) } " " (ms(Some(s.duration_ms))) br;
                                    }
                                }
                                td {
                                    @match (&t.run_id, link(k)) {
                                        (Some(id), Some(href)) => { a href=(href) { code { (id) } } }
                                        (Some(id), None) => { code { (id) } }
                                        _ => { "-" }
                                    }
                                }
                            }
                        }
                    }
                }
                p {
                    "Each target's evidence is sealed in its own directory; this fleet's "
                    code { "manifest.json" } " seals this page, the record and each target's manifest: "
                    code { "drillbook verify-evidence " (r.fleet_id) } " checks them all."
                }
            }
        }
    };
    let mut out = page.into_string();
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::fleet::{Share, TargetRecord};

    fn record() -> FleetRecord {
        let target = |account: &str, region: &str, status: &str| TargetRecord {
            account: account.into(),
            name: if account == "111111111111" {
                "<prod>".into()
            } else {
                account.into()
            },
            region: region.into(),
            run_id: (status != "not started").then(|| format!("run-{account}-{region}")),
            status: status.into(),
            verdict: (status == "succeeded").then(|| "passed".into()),
            recovery_ms: None,
            report_dir: None,
            manifest_sha256: None,
            reason: (status == "failed").then(|| "step `ready` failed".into()),
        };
        FleetRecord {
            fleet_id: "fleet-1".into(),
            runbook_path: "/rb.yaml".into(),
            runbook: "rb".into(),
            runbook_sha256: String::new(),
            scenario: None,
            mode: crate::event::Mode::Execute,
            vars: vec![],
            role_name: "R".into(),
            max_concurrency: Share::Count(1),
            max_errors: Share::Count(0),
            started_at: chrono::DateTime::UNIX_EPOCH,
            targets: vec![
                target("111111111111", "ca-central-1", "succeeded"),
                target("111111111111", "eu-west-1", "failed"),
                target("222222222222", "ca-central-1", "not started"),
            ],
            stopped: None,
            stop_alarm: None,
            skipped: vec![],
        }
    }

    fn detail() -> TargetDetail {
        TargetDetail::from_report(
            &serde_json::json!({
                "objectives": [{"objective": "rto", "target_ms": 60000, "measured_ms": 1500, "verdict": "met"}],
                "expectations": [
                    {"id": "healthy", "description": "d", "passed": true, "observed": "ok"},
                    {"id": "dns", "description": "d", "passed": false, "observed": "x", "reason": "still on the primary"}
                ],
                "steps": [
                    {"id": "a", "duration_ms": 5}, {"id": "b", "duration_ms": 50},
                    {"id": "c", "duration_ms": 20}, {"id": "d", "duration_ms": 1}, {"id": "e"}
                ],
            }),
            Some("../../reports/run-1/report.html".into()),
        )
    }

    #[test]
    fn a_targets_report_gives_its_objectives_expectations_and_three_slowest_steps() {
        let d = detail();
        assert_eq!(
            d.slowest_steps
                .iter()
                .map(|s| s.id.as_str())
                .collect::<Vec<_>>(),
            ["b", "c", "a"]
        );
        assert_eq!(d.objective("rto").unwrap().measured_ms, Some(1500));
        assert!(d.objective("rpo").is_none());
        assert_eq!(d.expectations.len(), 2);
    }

    #[test]
    fn junit_has_a_case_per_target_and_per_expectation() {
        let r = record();
        let xml = junit(&r, &[detail()]);
        assert_eq!(xml.matches("<testcase ").count(), 3 + 2, "{xml}");
        assert!(
            xml.contains("name=\"111111111111 ca-central-1: dns\""),
            "{xml}"
        );
        assert!(xml.contains("still on the primary"), "{xml}");
        assert!(xml.contains("step `ready` failed"), "{xml}");
    }

    #[test]
    fn the_page_is_an_account_by_region_table_linking_each_report_with_values_escaped() {
        let r = record();
        let page = html(&r, &[detail()]);
        assert!(page.contains("<th>eu-west-1</th>"), "{page}");
        assert!(
            page.contains("href=\"../../reports/run-1/report.html\""),
            "{page}"
        );
        // The second account has no target in eu-west-1: a dash, not a missing cell.
        assert!(page.contains("<td>-</td>"), "{page}");
        assert!(page.contains("&lt;prod&gt;") && !page.contains("<prod>"));
        let doc: serde_json::Value = serde_json::from_str(&json(&r, &[detail()])).unwrap();
        assert_eq!(doc["counts"]["not_started"], 1);
        assert_eq!(doc["targets"][0]["rto"]["verdict"], "met");
        assert_eq!(doc["targets"][1]["rto"], serde_json::Value::Null);
        assert_eq!(doc["record"]["fleet_id"], "fleet-1");
    }

    #[test]
    fn skipped_accounts_are_listed_in_the_text_and_as_skipped_test_cases() {
        let mut r = record();
        r.targets.clear();
        r.skipped = vec![crate::checkpoint::fleet::Skipped {
            account: "222222222222".into(),
            name: "old".into(),
            reason: "SUSPENDED in AWS Organizations".into(),
        }];
        let text = text(&r);
        assert!(
            text.contains("skipped account 222222222222 (old): SUSPENDED in AWS Organizations"),
            "{text}"
        );
        assert!(text.contains("; 1 account skipped"), "{text}");
        let xml = junit(&r, &[]);
        assert!(
            xml.contains("name=\"222222222222 (old)\"") && xml.contains("<skipped"),
            "{xml}"
        );
    }
}
