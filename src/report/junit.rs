//! The JUnit XML report, for CI dashboards: one `<testsuite>` per run, one `<testcase>` per
//! step (classname `drillbook.steps`), per expectation (`drillbook.expectations`) and per
//! objective (`drillbook.objectives`).
//!
//! A failed step, an expectation that did not hold and a missed objective are `<failure>`s;
//! a skipped, unstarted, in-doubt or awaiting step and an objective that was not assessed are
//! `<skipped>` (in a drill, an objective it could not measure is a failure, as in its verdict).

use std::fmt::Write as _;

use super::document::{ObjectiveState, RunDocument, StepState};

/// Escapes text for XML content and attribute values; drops characters XML 1.0 forbids, and
/// writes line breaks as character references so attributes keep them.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            '\n' => o.push_str("&#10;"),
            '\r' => o.push_str("&#13;"),
            '\t' => o.push_str("&#9;"),
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => {}
            c => o.push(c),
        }
    }
    o
}

fn secs(ms: u64) -> String {
    format!("{:.3}", ms as f64 / 1000.0)
}

enum Result_ {
    Pass,
    Fail { message: String, text: String },
    Skip { message: String },
}

struct Case {
    classname: &'static str,
    name: String,
    time_ms: u64,
    result: Result_,
}

/// Renders the report as JUnit XML.
pub fn render(doc: &RunDocument) -> String {
    let mut cases: Vec<Case> =
        Vec::with_capacity(doc.steps.len() + doc.expectations.len() + doc.objectives.len());
    for s in &doc.steps {
        let result = match s.status {
            StepState::Succeeded => Result_::Pass,
            StepState::Failed => {
                let message = s.error.clone().unwrap_or_else(|| "step failed".into());
                let mut text = message.clone();
                if let Some(h) = &s.hint {
                    let _ = write!(text, "\nhelp: {h}");
                }
                for r in &s.retries {
                    let _ = write!(text, "\nattempt {} failed: {}", r.attempt, r.error);
                }
                Result_::Fail { message, text }
            }
            StepState::Skipped => Result_::Skip {
                message: s.reason.clone().unwrap_or_else(|| "skipped".into()),
            },
            StepState::Deferred => Result_::Skip {
                message: s.result.clone().unwrap_or_else(|| "deferred".into()),
            },
            StepState::AwaitingApproval => Result_::Skip {
                message: "awaiting approval".into(),
            },
            StepState::InDoubt => Result_::Skip {
                message: "in doubt: started, no outcome recorded (resume the run)".into(),
            },
            StepState::NotStarted => Result_::Skip {
                message: "not started".into(),
            },
        };
        cases.push(Case {
            classname: "drillbook.steps",
            name: s.id.clone(),
            time_ms: s.duration_ms.unwrap_or(0),
            result,
        });
    }
    for x in &doc.expectations {
        cases.push(Case {
            classname: "drillbook.expectations",
            name: x.id.clone(),
            time_ms: 0,
            result: if x.passed {
                Result_::Pass
            } else {
                Result_::Fail {
                    message: x
                        .reason
                        .clone()
                        .unwrap_or_else(|| "expectation did not hold".into()),
                    text: format!("{}\nobserved: {}", x.description, x.observed),
                }
            },
        });
    }
    let drill = doc.scenario.is_some();
    for r in &doc.objectives {
        let target = crate::runbook::duration::format_duration(std::time::Duration::from_millis(
            r.target_ms,
        ));
        let measured = r
            .measured_ms
            .map(|m| crate::runbook::duration::human(std::time::Duration::from_millis(m)))
            .unwrap_or_else(|| "not measured".into());
        let result = match r.verdict {
            ObjectiveState::Met => Result_::Pass,
            ObjectiveState::Missed => Result_::Fail {
                message: format!("{} missed: {measured} against {target}", r.objective),
                text: r.how.clone(),
            },
            ObjectiveState::NotAssessed if drill => Result_::Fail {
                message: format!("{} not measured (target {target})", r.objective),
                text: r.how.clone(),
            },
            ObjectiveState::NotAssessed => Result_::Skip {
                message: format!("not assessed: {}", r.how),
            },
        };
        cases.push(Case {
            classname: "drillbook.objectives",
            name: r.objective.clone(),
            time_ms: r.measured_ms.unwrap_or(0),
            result,
        });
    }

    let tests = cases.len();
    let failures = cases
        .iter()
        .filter(|c| matches!(c.result, Result_::Fail { .. }))
        .count();
    let skipped = cases
        .iter()
        .filter(|c| matches!(c.result, Result_::Skip { .. }))
        .count();
    let time = secs(doc.total_ms);
    let name = format!(
        "drillbook.{}",
        doc.scenario
            .as_ref()
            .map(|s| s.name.as_str())
            .unwrap_or(doc.runbook.name.as_str())
    );

    let mut o = String::with_capacity(1024 + cases.len() * 200);
    o.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        o,
        "<testsuites name=\"drillbook\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{time}\">"
    );
    let _ = writeln!(
        o,
        "  <testsuite name=\"{}\" id=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{time}\"{}{}>",
        escape(&name),
        escape(&doc.run_id),
        doc.started_at
            .map(|t| format!(" timestamp=\"{}\"", t.format("%Y-%m-%dT%H:%M:%S")))
            .unwrap_or_default(),
        if doc.ran_by.host.is_empty() {
            String::new()
        } else {
            format!(" hostname=\"{}\"", escape(&doc.ran_by.host))
        }
    );
    o.push_str("    <properties>\n");
    let mut prop = |k: &str, v: &str| {
        let _ = writeln!(
            o,
            "      <property name=\"{}\" value=\"{}\"/>",
            escape(k),
            escape(v)
        );
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
    o.push_str("    </properties>\n");
    for c in &cases {
        let _ = write!(
            o,
            "    <testcase classname=\"{}\" name=\"{}\" time=\"{}\"",
            c.classname,
            escape(&c.name),
            secs(c.time_ms)
        );
        match &c.result {
            Result_::Pass => o.push_str("/>\n"),
            Result_::Fail { message, text } => {
                let _ = write!(
                    o,
                    ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>\n",
                    escape(message),
                    c.classname.trim_start_matches("drillbook."),
                    escape(text)
                );
            }
            Result_::Skip { message } => {
                let _ = write!(
                    o,
                    ">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                    escape(message)
                );
            }
        }
    }
    o.push_str("  </testsuite>\n</testsuites>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_xml() {
        assert_eq!(
            escape("a<b>&\"c'\n\u{1}"),
            "a&lt;b&gt;&amp;&quot;c&apos;&#10;"
        );
    }
}
