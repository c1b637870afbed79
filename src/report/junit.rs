//! The JUnit XML report, for CI dashboards: one `<testsuite>` per run, one `<testcase>` per
//! step (classname `drillbook.steps`), per expectation (`drillbook.expectations`) and per
//! objective (`drillbook.objectives`).
//!
//! A failed step, an expectation that did not hold and a missed objective are `<failure>`s;
//! a skipped, unstarted, in-doubt or awaiting step and an objective that was not assessed are
//! `<skipped>` (in a drill that ran to its end, an objective it could not measure is a failure,
//! as in its verdict).

use std::fmt::Write as _;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use super::document::{ObjectiveState, RunDocument};
use crate::event::StepStatus;

/// A failure with its message and text (the element's body).
fn failure(message: &str, ty: &str, text: &str) -> TestCaseStatus {
    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
    s.set_message(message).set_type(ty).set_description(text);
    s
}

fn skipped(message: &str) -> TestCaseStatus {
    let mut s = TestCaseStatus::skipped();
    s.set_message(message);
    s
}

fn case(classname: &str, name: &str, time_ms: u64, status: TestCaseStatus) -> TestCase {
    let mut c = TestCase::new(name, status);
    c.set_classname(classname)
        .set_time(Duration::from_millis(time_ms));
    c
}

fn step_status(s: &super::document::StepRow) -> TestCaseStatus {
    match s.status {
        StepStatus::Succeeded => TestCaseStatus::success(),
        StepStatus::Failed => {
            let message = s.error.clone().unwrap_or_else(|| "step failed".into());
            let mut text = message.clone();
            if let Some(h) = &s.hint {
                let _ = write!(text, "\nhelp: {h}");
            }
            for r in &s.retries {
                let _ = write!(text, "\nattempt {} failed: {}", r.attempt, r.error);
            }
            failure(&message, "steps", &text)
        }
        StepStatus::Skipped => skipped(s.reason.as_deref().unwrap_or("skipped")),
        StepStatus::Deferred => skipped(s.result.as_deref().unwrap_or("deferred")),
        StepStatus::AwaitingApproval => skipped("awaiting approval"),
        StepStatus::InDoubt => skipped("in doubt: started, no outcome recorded (resume the run)"),
        StepStatus::NotStarted => skipped("not started"),
    }
}

/// Renders the report as JUnit XML (written by `quick-junit`, which escapes every value and
/// drops the characters XML 1.0 forbids).
pub fn render(doc: &RunDocument) -> String {
    let name = format!(
        "drillbook.{}",
        doc.scenario
            .as_ref()
            .map(|s| s.name.as_str())
            .unwrap_or(doc.runbook.name.as_str())
    );
    let mut suite = TestSuite::new(name);
    suite.set_time(Duration::from_millis(doc.total_ms));
    if let Some(t) = doc.started_at {
        suite.set_timestamp(t);
    }
    suite.extra.insert("id".into(), doc.run_id.as_str().into());
    if !doc.ran_by.host.is_empty() {
        suite
            .extra
            .insert("hostname".into(), doc.ran_by.host.as_str().into());
    }

    let mut prop = |k: &str, v: &str| {
        suite.add_property(Property::new(k, v));
    };
    prop("verdict", doc.verdict.as_str());
    prop("run_id", &doc.run_id);
    prop("runbook", &doc.runbook.name);
    prop("runbook_sha256", &doc.runbook.sha256);
    if let Some(s) = &doc.scenario {
        prop("scenario", &s.name);
        prop("scenario_sha256", &s.sha256);
    }
    prop(
        "mode",
        match doc.mode {
            crate::event::Mode::DryRun => "dry-run",
            crate::event::Mode::Execute => "execute",
        },
    );
    if let Some(a) = &doc.ran_by.identity_arn {
        prop("identity_arn", a);
    }
    if let Some(a) = &doc.ran_by.account {
        prop("account", a);
    }
    for i in &doc.impaired {
        prop(
            "impaired",
            &match &i.service {
                Some(s) => format!("{} {s}", i.region),
                None => i.region.clone(),
            },
        );
    }
    prop("journal_head_sha256", &doc.journal.head_sha256);
    prop("drillbook_version", &doc.drillbook_version);

    for s in &doc.steps {
        suite.add_test_case(case(
            "drillbook.steps",
            &s.id,
            s.duration_ms.unwrap_or(0),
            step_status(s),
        ));
    }
    for x in &doc.expectations {
        let status = if x.passed {
            TestCaseStatus::success()
        } else {
            failure(
                x.reason.as_deref().unwrap_or("expectation did not hold"),
                "expectations",
                &format!("{}\nobserved: {}", x.description, x.observed),
            )
        };
        suite.add_test_case(case("drillbook.expectations", &x.id, 0, status));
    }
    // As in the verdict: an objective a drill that ran to its end could not measure is a
    // failure; one a failed or dry run did not assess is skipped (the run's failure is
    // already reported where it happened).
    let drill = doc.scenario.is_some()
        && doc.mode == crate::event::Mode::Execute
        && doc.status == crate::event::RunStatus::Succeeded;
    for r in &doc.objectives {
        let target = crate::duration::format_duration(Duration::from_millis(r.target_ms));
        let measured = r
            .measured_ms
            .map(|m| crate::duration::human(Duration::from_millis(m)))
            .unwrap_or_else(|| "not measured".into());
        let status = match r.verdict {
            ObjectiveState::Met => TestCaseStatus::success(),
            ObjectiveState::Missed => failure(
                &format!("{} missed: {measured} against {target}", r.objective),
                "objectives",
                &r.how,
            ),
            ObjectiveState::NotAssessed if drill => failure(
                &format!("{} not measured (target {target})", r.objective),
                "objectives",
                &r.how,
            ),
            ObjectiveState::NotAssessed => skipped(&format!("not assessed: {}", r.how)),
        };
        suite.add_test_case(case(
            "drillbook.objectives",
            &r.objective,
            r.measured_ms.unwrap_or(0),
            status,
        ));
    }

    let mut report = Report::new("drillbook");
    report.set_time(Duration::from_millis(doc.total_ms));
    report.add_test_suite(suite);
    match report.to_string() {
        Ok(xml) => xml,
        // Writing to a String fails only on a bug in the writer; say so in the report.
        Err(e) => format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- drillbook could not write this report: {} -->\n<testsuites/>\n",
            e.to_string().replace("--", "- -")
        ),
    }
}
