//! The Markdown report, for a ticket or a pull request: the same content as the HTML page, as
//! tables (GitHub-flavoured Markdown).

use std::fmt::Write as _;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::document::{ObjectiveState, RunDocument};
use crate::duration::{format_duration, human};
use crate::event::Mode;
use crate::event::StepStatus;

/// Escapes text for a table cell: pipes, angle brackets and line breaks.
fn cell(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '|' => o.push_str("\\|"),
            // Link and image syntax (`[x](javascript:...)`, `![](https://tracker/...)`) is
            // shown, not followed or fetched.
            '[' => o.push_str("\\["),
            ']' => o.push_str("\\]"),
            '!' => o.push_str("\\!"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '\n' => o.push_str("<br>"),
            '\r' => {}
            c if c.is_control() => {}
            c => o.push(c),
        }
    }
    o
}

/// A code span that survives backquotes inside.
fn code(s: &str) -> String {
    let s = cell(s);
    if s.contains('`') {
        format!("`` {s} ``")
    } else {
        format!("`{s}`")
    }
}

fn dur(ms: u64) -> String {
    human(Duration::from_millis(ms))
}

fn when(t: &Option<DateTime<Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| "-".into())
}

fn objective_result(v: ObjectiveState) -> &'static str {
    match v {
        ObjectiveState::Met => "✅ met",
        ObjectiveState::Missed => "❌ missed",
        ObjectiveState::NotAssessed => "➖ not assessed",
    }
}

fn step_status(s: StepStatus) -> &'static str {
    match s {
        StepStatus::Succeeded => "✅ succeeded",
        StepStatus::Deferred => "⏳ deferred",
        StepStatus::Failed => "❌ failed",
        StepStatus::Skipped => "⏭ skipped",
        StepStatus::AwaitingApproval => "⏸ awaiting approval",
        StepStatus::InDoubt => "❔ in doubt",
        StepStatus::NotStarted => "➖ not started",
    }
}

/// Renders the report as Markdown.
pub fn render(doc: &RunDocument) -> String {
    let mut o = String::with_capacity(4_096 + doc.steps.len() * 300);
    let _ = writeln!(
        o,
        "# {} {}: {}\n",
        match doc.verdict {
            super::document::Verdict::Passed => "✅",
            super::document::Verdict::Failed => "❌",
            super::document::Verdict::Paused => "⏸",
            super::document::Verdict::DryRun => "🔍",
        },
        doc.verdict.label(),
        cell(&doc.runbook.name)
    );
    let _ = writeln!(o, "> {}\n", cell(&doc.headline));

    o.push_str("| | |\n|---|---|\n");
    let row = |o: &mut String, k: &str, v: String| {
        let _ = writeln!(o, "| {k} | {v} |");
    };
    row(&mut o, "Verdict", format!("**{}**", doc.verdict.label()));
    row(&mut o, "Run", code(&doc.run_id));
    row(&mut o, "Runbook", cell(&doc.runbook.name));
    if let Some(s) = &doc.scenario {
        row(&mut o, "Scenario", cell(&s.name));
    }
    row(
        &mut o,
        "Mode",
        match doc.mode {
            Mode::DryRun => "dry run (nothing changed)".into(),
            Mode::Execute => "execute".into(),
        },
    );
    row(
        &mut o,
        "Run by",
        doc.ran_by
            .identity_arn
            .as_deref()
            .map(code)
            .unwrap_or_else(|| "unknown identity".into()),
    );
    row(
        &mut o,
        "AWS account",
        doc.ran_by
            .account
            .as_deref()
            .map(cell)
            .unwrap_or_else(|| "-".into()),
    );
    row(
        &mut o,
        "From",
        match (doc.ran_by.user.is_empty(), doc.ran_by.host.is_empty()) {
            (true, true) => "-".into(),
            (true, false) => cell(&doc.ran_by.host),
            (false, true) => cell(&doc.ran_by.user),
            (false, false) => format!("{}@{}", cell(&doc.ran_by.user), cell(&doc.ran_by.host)),
        },
    );
    row(&mut o, "Started", when(&doc.started_at));
    row(&mut o, "Ended", when(&doc.ended_at));
    row(
        &mut o,
        "Duration",
        if doc.pauses.is_empty() {
            dur(doc.total_ms)
        } else {
            format!(
                "{} ({} active, {} resume(s))",
                dur(doc.total_ms),
                dur(doc.active_ms),
                doc.resumes
            )
        },
    );
    let c = &doc.counts;
    row(
        &mut o,
        "Steps",
        format!(
            "{} total: {} succeeded, {}{} failed, {} skipped{}",
            c.total,
            c.succeeded,
            if c.deferred > 0 {
                format!("{} deferred, ", c.deferred)
            } else {
                String::new()
            },
            c.failed,
            c.skipped,
            if c.other > 0 {
                format!(", {} not finished", c.other)
            } else {
                String::new()
            }
        ),
    );

    o.push_str("\n## Objectives\n\n");
    if doc.objectives.is_empty() {
        o.push_str("No objective was set.\n");
    } else {
        o.push_str("| Objective | Target | Measured | Result | How |\n|---|---|---|---|---|\n");
        for r in &doc.objectives {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} |",
                cell(&r.objective.to_uppercase()),
                format_duration(Duration::from_millis(r.target_ms)),
                r.measured_ms.map(dur).unwrap_or_else(|| "-".into()),
                objective_result(r.verdict),
                cell(&r.how)
            );
        }
    }

    if doc.scenario.is_some() || !doc.expectations.is_empty() {
        o.push_str("\n## Expectations\n\n");
        if doc.expectations.is_empty() {
            o.push_str("The scenario has no expectations.\n");
        } else {
            o.push_str("| Expectation | Description | Observed | Result |\n|---|---|---|---|\n");
            for x in &doc.expectations {
                let mut observed = cell(&x.observed);
                if let Some(r) = &x.reason {
                    let _ = write!(observed, "<br>**{}**", cell(r));
                }
                let _ = writeln!(
                    o,
                    "| {} | {} | {} | {} |",
                    code(&x.id),
                    cell(&x.description),
                    observed,
                    if x.passed {
                        "✅ held"
                    } else {
                        "❌ did not hold"
                    }
                );
            }
        }
    }

    if !doc.impaired.is_empty() || !doc.impaired_steps.is_empty() {
        o.push_str("\n## Impaired Regions\n\n");
        let regions: Vec<String> = doc
            .impaired
            .iter()
            .map(|i| match &i.service {
                Some(s) => format!("{} ({s} only)", cell(&i.region)),
                None => cell(&i.region),
            })
            .collect();
        let _ = writeln!(o, "Unreachable during the drill: {}.\n", regions.join(", "));
        if doc.impaired_steps.is_empty() {
            o.push_str("No step needed an impaired Region.\n");
        } else {
            o.push_str("| Step that needed it | Calls refused |\n|---|---|\n");
            for g in &doc.impaired_steps {
                let calls: Vec<String> = g
                    .calls
                    .iter()
                    .map(|c| {
                        format!(
                            "{} {} in {}{}",
                            cell(&c.service),
                            code(&c.operation),
                            cell(&c.region),
                            if c.count > 1 {
                                format!(" ×{}", c.count)
                            } else {
                                String::new()
                            }
                        )
                    })
                    .collect();
                let _ = writeln!(
                    o,
                    "| {} | {} |",
                    g.step
                        .as_deref()
                        .map(code)
                        .unwrap_or_else(|| "outside any step".into()),
                    calls.join("<br>")
                );
            }
        }
    }

    if !doc.faults.is_empty() {
        o.push_str(
            "\n## Faults injected by AWS FIS\n\n| Experiment | Region | Actions | State | Started | Running | Ended |\n|---|---|---|---|---|---|---|\n",
        );
        for f in &doc.faults {
            let actions: Vec<String> = f.actions.iter().map(|a| code(a)).collect();
            let state = if f.reason.is_empty() {
                cell(&f.state)
            } else {
                format!("{} ({})", cell(&f.state), cell(&f.reason))
            };
            let _ = writeln!(
                o,
                "| {} (template {}) | {} | {} | {} | {} | {} | {} |",
                code(&f.id),
                code(&f.template),
                cell(&f.region),
                actions.join("<br>"),
                state,
                when(&f.started_at),
                when(&f.running_at),
                when(&f.ended_at)
            );
        }
    }

    if !doc.approvals.is_empty() {
        o.push_str("\n## Approvals\n\n| Step | Asked | Approved by | When | Comment |\n|---|---|---|---|---|\n");
        for a in &doc.approvals {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} |",
                code(&a.step),
                cell(&a.message),
                a.approver
                    .as_ref()
                    .map(|i| format!(
                        "{} (account {}), {}",
                        code(&i.arn),
                        cell(&i.account),
                        a.signed_with
                            .as_ref()
                            .map(|k| format!("signed with {}", cell(k)))
                            .unwrap_or_else(|| "**unsigned**".into())
                    ))
                    .unwrap_or_else(|| "pending".into()),
                when(&a.granted_at),
                if a.comment.is_empty() {
                    "-".into()
                } else {
                    cell(&a.comment)
                }
            );
        }
    }

    if !doc.aws_calls.is_empty() {
        o.push_str("\n## AWS changes (for CloudTrail)\n\n| Step | Call | Region | Account | Role | Request id | When |\n|---|---|---|---|---|---|---|\n");
        for c in &doc.aws_calls {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} | {} |",
                c.step.as_deref().map(code).unwrap_or_else(|| "-".into()),
                code(&format!("{} {}", c.service, c.operation)),
                cell(&c.region),
                c.account.as_deref().map(cell).unwrap_or_else(|| "-".into()),
                c.role_arn
                    .as_deref()
                    .map(code)
                    .unwrap_or_else(|| "caller".into()),
                c.request_id
                    .as_deref()
                    .map(code)
                    .unwrap_or_else(|| "-".into()),
                when(&Some(c.at)),
            );
        }
    }

    o.push_str("\n## Steps\n\n");
    if !doc.critical_path.is_empty() {
        let _ = writeln!(
            o,
            "Critical path ({}): {}\n",
            dur(doc.critical_path_ms),
            doc.critical_path
                .iter()
                .map(|s| code(s))
                .collect::<Vec<_>>()
                .join(" → ")
        );
    }
    o.push_str(
        "| Step | Action | Region | Status | Start | Duration | Attempts | AWS wait | Critical |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for s in &doc.steps {
        let _ = writeln!(
            o,
            "| {}{} | {} | {} | {} | {} | {} | {} | {} | {} |",
            code(&s.id),
            if s.cleanup { " (cleanup)" } else { "" },
            code(&s.action),
            s.region.as_deref().map(cell).unwrap_or_else(|| "-".into()),
            step_status(s.status),
            s.start_ms
                .map(|m| if m == 0 {
                    "+0s".to_string()
                } else {
                    format!("+{}", dur(m))
                })
                .unwrap_or_else(|| "-".into()),
            s.duration_ms.map(dur).unwrap_or_else(|| "-".into()),
            s.attempts,
            if s.aws_wait_ms > 0 {
                dur(s.aws_wait_ms)
            } else {
                "-".into()
            },
            if s.critical { "●" } else { "" }
        );
    }

    // Details, for steps with something to say.
    let mut details = String::new();
    for s in &doc.steps {
        let mut d = String::new();
        if let Some(e) = &s.error {
            let _ = writeln!(d, "- **Error:** {}", cell(e));
            if let Some(h) = &s.hint {
                let _ = writeln!(d, "- **What to do:** {}", cell(h));
            }
        }
        if let Some(r) = &s.reason {
            let _ = writeln!(d, "- **Skipped because:** {}", cell(r));
        }
        if let Some(obs) = &s.observed {
            let _ = writeln!(d, "- **Observed:** {}", cell(&obs.summary));
            for (k, v) in &obs.facts {
                let v = match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let _ = writeln!(d, "  - {}: {}", cell(k), code(&v));
            }
            for f in &obs.findings {
                let _ = writeln!(
                    d,
                    "  - ⚠ {}{}",
                    cell(&f.message),
                    if f.hint.is_empty() {
                        String::new()
                    } else {
                        format!(" — {}", cell(&f.hint))
                    }
                );
            }
        }
        if let Some(r) = &s.result {
            let _ = writeln!(d, "- **Result:** {}", cell(r));
        }
        let (title, items) = if !s.changed.is_empty() && s.changed_before_resume {
            (
                "Changed (before the interruption; found in place on resume)",
                &s.changed,
            )
        } else if !s.changed.is_empty() {
            ("Changed", &s.changed)
        } else {
            ("Would change", &s.would_change)
        };
        if !items.is_empty() && (!s.changed.is_empty() || doc.mode == Mode::DryRun) {
            let _ = writeln!(d, "- **{title}:**");
            for c in items {
                let _ = writeln!(d, "  - {}", cell(c));
            }
        }
        if !s.outputs.is_empty() {
            let outs: Vec<String> = s
                .outputs
                .iter()
                .map(|(k, v)| format!("{}={}", cell(k), code(v)))
                .collect();
            let _ = writeln!(d, "- **Outputs:** {}", outs.join(", "));
        }
        for r in &s.retries {
            let _ = writeln!(
                d,
                "- **Retried:** attempt {} failed: {} (retried after {})",
                r.attempt,
                cell(&r.error),
                dur(r.delay_ms)
            );
        }
        if !d.is_empty() {
            let _ = write!(
                details,
                "\n### {} — {}\n\n{d}",
                code(&s.id),
                s.status.as_str()
            );
        }
    }
    if !details.is_empty() {
        o.push_str("\n## Step details\n");
        o.push_str(&details);
    }

    o.push_str("\n## Evidence\n\n| | |\n|---|---|\n");
    row(&mut o, "Runbook file", code(&doc.runbook.path));
    row(&mut o, "Runbook SHA-256", code(&doc.runbook.sha256));
    if let Some(s) = &doc.scenario {
        row(&mut o, "Scenario SHA-256", code(&s.sha256));
    }
    row(&mut o, "Journal records", doc.journal.records.to_string());
    row(
        &mut o,
        "Journal head (SHA-256)",
        code(&doc.journal.head_sha256),
    );
    row(
        &mut o,
        "Run with",
        format!("drillbook {}", cell(&doc.drillbook_version)),
    );
    row(
        &mut o,
        "Report written by",
        format!("drillbook {}", cell(&doc.report_version)),
    );
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_escape_table_syntax() {
        assert_eq!(cell("a|b\n<c>"), "a\\|b<br>&lt;c&gt;");
        assert_eq!(
            cell("[x](javascript:alert(1)) ![p](https://t.example/p.png)"),
            "\\[x\\](javascript:alert(1)) \\!\\[p\\](https://t.example/p.png)"
        );
        assert_eq!(code("x`y"), "`` x`y ``");
    }
}
