//! The fleet report a platform team reads: one line per target (account x Region: status,
//! verdict, recovery time, its own report), the totals, and JUnit with one test case per
//! target.

use std::fmt::Write as _;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::checkpoint::fleet::FleetRecord;
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

/// JUnit XML: one test suite for the fleet, one test case per target (`ACCOUNT REGION`).
pub fn junit(r: &FleetRecord) -> String {
    let mut suite = TestSuite::new(format!("fleet {}", r.runbook));
    for t in &r.targets {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::fleet::{Share, Skipped};

    #[test]
    fn skipped_accounts_are_listed_in_the_text_and_as_skipped_test_cases() {
        let r = FleetRecord {
            fleet_id: "fleet-1".into(),
            runbook_path: "/rb.yaml".into(),
            runbook: "rb".into(),
            runbook_sha256: String::new(),
            mode: crate::event::Mode::DryRun,
            vars: vec![],
            role_name: "R".into(),
            max_concurrency: Share::Count(1),
            max_errors: Share::Count(0),
            started_at: chrono::Utc::now(),
            targets: vec![],
            stopped: None,
            skipped: vec![Skipped {
                account: "222222222222".into(),
                name: "old".into(),
                reason: "SUSPENDED in AWS Organizations".into(),
            }],
        };
        let text = text(&r);
        assert!(
            text.contains("skipped account 222222222222 (old): SUSPENDED in AWS Organizations"),
            "{text}"
        );
        assert!(text.contains("; 1 account skipped"), "{text}");
        let xml = junit(&r);
        assert!(
            xml.contains("name=\"222222222222 (old)\"") && xml.contains("<skipped"),
            "{xml}"
        );
    }
}
