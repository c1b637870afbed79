//! The Markdown report, for a ticket or a pull request: the same content as the HTML page, as
//! tables (GitHub-flavoured Markdown).

use std::fmt::Write as _;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::document::{ObjectiveState, RunDocument};
use crate::duration::{format_duration, human};
use crate::event::Mode;
use crate::event::StepStatus;

/// Text for a table cell, as written: drillbook's messages put names and values between
/// backticks (`` step `promote-key` failed ``), which become code spans (as in the HTML
/// report); the rest is [`escape_text`]. A backtick without its pair is shown as one.
fn cell(s: &str) -> String {
    inline(s, true)
}

/// [`cell`] for text outside tables: a heading, a quote, a list item.
fn text(s: &str) -> String {
    inline(s, false)
}

fn inline(s: &str, in_table: bool) -> String {
    let ticks = s.bytes().filter(|&b| b == b'`').count();
    let mut o = String::with_capacity(s.len() + 8);
    for (k, part) in s.split('`').enumerate() {
        if k % 2 == 1 && k < ticks - ticks % 2 {
            o.push_str(&code_span(part, in_table));
        } else {
            if k == ticks && ticks % 2 == 1 {
                // The last backtick, without a pair.
                o.push_str("\\`");
            }
            // A table cell cannot start a block: only other text needs its start escaped.
            escape_text(&mut o, part, k == 0 && !in_table);
        }
    }
    o
}

/// Appends `s` so that it is shown as it is, never read as Markdown. Backslash and every
/// character with a meaning inline are escaped (CommonMark, "Backslash escapes": any ASCII
/// punctuation may be escaped); `<`, `>` and `&` are written as entities (no HTML, no
/// autolink, no entity); at the start of the text (`at_start`), a character that would start
/// a block (`-`, `+`, `=`, `1.`) is escaped too; `://` and `www.` are broken so GitHub's
/// extended autolinks do not turn an address into a link; a line break is `<br>`; control
/// characters are shown as escapes (`\\x1b`).
fn escape_text(o: &mut String, s: &str, at_start: bool) {
    let mut chars = s.char_indices().peekable();
    // Digits at the start, which a `.` or `)` would make an ordered list item.
    let mut leading_digits = at_start;
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' | '`' | '*' | '_' | '~' | '[' | ']' | '!' | '|' | '#' | '$' => {
                o.push('\\');
                o.push(c);
            }
            '-' | '+' | '=' if at_start && i == 0 => {
                o.push('\\');
                o.push(c);
            }
            '.' | ')' if leading_digits && i > 0 => {
                o.push('\\');
                o.push(c);
            }
            '.' if i >= 3 && s.as_bytes()[i - 3..i].eq_ignore_ascii_case(b"www") => {
                o.push_str("\\.");
            }
            ':' if s[i..].starts_with("://") => o.push_str("\\:"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            '\r' if chars.peek().is_some_and(|&(_, n)| n == '\n') => {}
            '\n' => o.push_str("<br>"),
            c if super::sanitize::is_control(c) => {
                let mut shown = String::new();
                super::sanitize::push_visible(&mut shown, c);
                o.push_str(&shown.replace('\\', "\\\\"));
            }
            c => o.push(c),
        }
        leading_digits = leading_digits && c.is_ascii_digit();
    }
}

/// A code span in a table cell: [`code_span`] with `|` escaped as `\|` (GFM splits a row at
/// every unescaped pipe before it reads code spans, and takes `\|` back to `|` inside them).
fn code(s: &str) -> String {
    code_span(s, true)
}

/// A code span outside tables (a list item, a heading, a paragraph).
fn code_text(s: &str) -> String {
    code_span(s, false)
}

/// A code span that shows `s` exactly: nothing inside a code span is read as Markdown, so
/// nothing is escaped but the backtick, by a fence of backticks longer than any run of them
/// in `s`, padded with a space when `s` starts or ends with a backtick or a space (CommonMark,
/// "Code spans": one space is stripped from each side). Line breaks and control characters are
/// shown as escapes (`\n`, `\x1b`): a code span cannot hold a line break in a table, and
/// would read it as a space elsewhere.
fn code_span(s: &str, in_table: bool) -> String {
    let mut body = String::with_capacity(s.len() + 2);
    let (mut run, mut longest) = (0usize, 0usize);
    for c in s.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
        match c {
            '|' if in_table => body.push_str("\\|"),
            c if c == '\n' || c == '\t' || super::sanitize::is_control(c) => {
                super::sanitize::push_visible(&mut body, c)
            }
            c => body.push(c),
        }
    }
    if body.is_empty() {
        return "` `".into();
    }
    let fence = "`".repeat(longest + 1);
    let pad = body.starts_with('`')
        || body.ends_with('`')
        || (body.starts_with(' ') && body.ends_with(' ') && body.trim() != "");
    if pad {
        format!("{fence} {body} {fence}")
    } else {
        format!("{fence}{body}{fence}")
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
        text(&doc.runbook.name)
    );
    let _ = writeln!(o, "> {}\n", text(&doc.headline));

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
                "{} ({} active, {} waiting for approval, {} resume(s))",
                dur(doc.total_ms),
                dur(doc.active_ms),
                dur(doc.waiting_ms),
                doc.resumes
            )
        },
    );
    row(
        &mut o,
        "Recovery time",
        match doc.recovery_ms {
            Some(r) => dur(r),
            None if doc.mode == Mode::DryRun => "none (a dry run recovers nothing)".into(),
            None => "none (the run did not reach the end of its recovery)".into(),
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
    for c in &doc.dns_caching {
        let _ = writeln!(o, "\nNote: {}.", text(&c.sentence()));
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
                .map(|s| code_text(s))
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
            let _ = writeln!(d, "- **Error:** {}", text(e));
            if let Some(h) = &s.hint {
                let _ = writeln!(d, "- **What to do:** {}", text(h));
            }
        }
        if let Some(r) = &s.reason {
            let _ = writeln!(d, "- **Skipped because:** {}", text(r));
        }
        if let Some(obs) = &s.observed {
            let _ = writeln!(d, "- **Observed:** {}", text(&obs.summary));
            for (k, v) in &obs.facts {
                let v = match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let _ = writeln!(d, "  - {}: {}", text(k), code_text(&v));
            }
            for f in &obs.findings {
                let _ = writeln!(
                    d,
                    "  - ⚠ {}{}",
                    text(&f.message),
                    if f.hint.is_empty() {
                        String::new()
                    } else {
                        format!(" — {}", text(&f.hint))
                    }
                );
            }
        }
        if let Some(r) = &s.result {
            let _ = writeln!(d, "- **Result:** {}", text(r));
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
                let _ = writeln!(d, "  - {}", text(c));
            }
        }
        if !s.outputs.is_empty() {
            let outs: Vec<String> = s
                .outputs
                .iter()
                // An empty output (a Route 53 failover that pinned a health check has no
                // change id) says so, rather than showing an empty code span.
                .map(|(k, v)| {
                    if v.is_empty() {
                        format!("{}=(none)", text(k))
                    } else {
                        format!("{}={}", text(k), code_text(v))
                    }
                })
                .collect();
            let _ = writeln!(d, "- **Outputs:** {}", outs.join(", "));
        }
        for r in &s.retries {
            let _ = writeln!(
                d,
                "- **Retried:** attempt {} failed: {} (retried after {})",
                r.attempt,
                text(&r.error),
                dur(r.delay_ms)
            );
        }
        if !d.is_empty() {
            let _ = write!(
                details,
                "\n### {} — {}\n\n{d}",
                code_text(&s.id),
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
        assert_eq!(cell("a\r\nb"), "a<br>b");
        assert_eq!(
            cell("[x](javascript:alert(1)) ![p](https://t.example/p.png)"),
            "\\[x\\](javascript:alert(1)) \\!\\[p\\](https\\://t.example/p.png)"
        );
    }

    #[test]
    fn an_escaped_link_stays_text() {
        // A backslash escapes the next character: were it not escaped itself, `\[text\]`
        // would turn back into `[text]` and the link would be real.
        assert_eq!(
            cell(r"\[text\](https://evil.example)"),
            r"\\\[text\\\](https\://evil.example)"
        );
        assert_eq!(cell(r"a\b\\"), r"a\\b\\\\");
    }

    #[test]
    fn every_inline_metacharacter_is_escaped() {
        assert_eq!(
            cell("*a* _b_ ~c~ $e$ #f &amp; <g>"),
            r"\*a\* \_b\_ \~c\~ \$e\$ \#f &amp;amp; &lt;g&gt;"
        );
        // What starts a block, at the start of text outside tables only.
        assert_eq!(text("- x - y"), r"\- x - y");
        assert_eq!(text("+ x"), r"\+ x");
        assert_eq!(text("= x"), r"\= x");
        assert_eq!(text("12. x 3. y"), r"12\. x 3. y");
        assert_eq!(text("1) x"), r"1\) x");
        assert_eq!(cell("- x 0.1.0"), "- x 0.1.0");
        // GitHub's extended autolinks.
        assert_eq!(cell("see www.evil.example"), r"see www\.evil.example");
        assert_eq!(cell("WWW.x"), r"WWW\.x");
        assert_eq!(cell("a: b"), "a: b");
    }

    #[test]
    fn names_between_backticks_are_code_spans() {
        // drillbook's messages name things between backticks: the names become code spans,
        // shown exactly (no stray backslash), the text around them is escaped.
        assert_eq!(
            cell(r"step `a\b*[c]` failed: *x*"),
            r"step `a\b*[c]` failed: \*x\*"
        );
        assert_eq!(
            text(r"answer is `x|y`, expected `~eu`"),
            r"answer is `x|y`, expected `~eu`"
        );
        assert_eq!(
            cell(r"answer is `x|y`, expected `~eu`"),
            r"answer is `x\|y`, expected `~eu`"
        );
        // A backtick without its pair is shown as one.
        assert_eq!(cell("a `b` c ` d_"), r"a `b` c \` d\_");
        assert_eq!(cell("it`s"), r"it\`s");
    }

    #[test]
    fn controls_are_shown_escaped() {
        assert_eq!(cell("t\u{1b}]52;c;x\u{7}"), r"t\\x1b\]52;c;x\\x07");
        assert_eq!(cell("a\u{9b}b\rc"), r"a\\u{9b}b\\rc");
    }

    #[test]
    fn code_spans_show_their_text_exactly() {
        assert_eq!(code_text("restore-vault"), "`restore-vault`");
        // No escapes inside: backslashes, brackets and stars are literal in a code span.
        assert_eq!(code_text(r"C:\x [a](b) *c*"), r"`C:\x [a](b) *c*`");
        // Backticks and backslashes: a fence longer than the longest run of backticks.
        assert_eq!(code_text(r"a`b``c\"), r"```a`b``c\```");
        // Padded when the text starts or ends with a backtick (one space is stripped).
        assert_eq!(code_text("`x"), "`` `x ``");
        assert_eq!(code_text("x`"), "`` x` ``");
        assert_eq!(code_text(" x "), "`  x  `");
        assert_eq!(code_text(" "), "` `");
        assert_eq!(code_text(""), "` `");
        // In a table, a pipe is escaped (GFM takes `\|` back to `|` inside the span).
        assert_eq!(code("a|b"), r"`a\|b`");
        assert_eq!(code_text("a|b"), "`a|b`");
        // Line breaks and controls are shown.
        assert_eq!(code("a\nb\u{1b}[1m\r"), r"`a\nb\x1b[1m\r`");
    }
}
