//! The HTML report: one self-contained page (inline CSS and SVG, no script, nothing fetched)
//! that someone who does not run drillbook can read: the verdict first, then objectives,
//! expectations, impaired Regions, a Gantt chart with the critical path, approvals, every step,
//! and the evidence (identity, hashes, versions).

use std::fmt::Write as _;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::document::{ObjectiveState, RunDocument, StepRow, StepState};
use crate::duration::{format_duration, human};
use crate::event::Mode;

/// Escapes text for HTML element content and quoted attribute values. Control characters other
/// than tab and newline are dropped.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 8);
    escape_into(&mut o, s);
    o
}

fn escape_into(o: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            '\t' | '\n' => o.push(c),
            c if c.is_control() => {}
            c => o.push(c),
        }
    }
}

/// Shorthand: escaped text.
fn e(s: &str) -> String {
    escape(s)
}

fn dur(ms: u64) -> String {
    human(Duration::from_millis(ms))
}

/// An offset from the run's start: `+0s`, `+1.5s`.
fn offset(ms: u64) -> String {
    if ms == 0 {
        "+0s".into()
    } else {
        format!("+{}", dur(ms))
    }
}

fn target(ms: u64) -> String {
    format_duration(Duration::from_millis(ms))
}

fn when(t: &Option<DateTime<Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| "-".into())
}

/// Renders `text` with `code spans` (backquoted) as <code>.
fn inline(text: &str) -> String {
    let mut o = String::with_capacity(text.len() + 16);
    for (k, part) in text.split('`').enumerate() {
        if k % 2 == 1 {
            o.push_str("<code>");
            escape_into(&mut o, part);
            o.push_str("</code>");
        } else {
            escape_into(&mut o, part);
        }
    }
    o
}

const CSS: &str = r#"
:root{--ok:#1b7f3b;--bad:#b3261e;--wait:#9a5b00;--dry:#1f5fa8;--ink:#1d232b;--mute:#5d6673;--line:#d9dee5;--bg:#f5f7fa;--crit:#e8730c;--bar:#6f93bd;--clean:#a9bfd8}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 -apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"DejaVu Sans",sans-serif;color:var(--ink);background:var(--bg)}
main{max-width:1240px;margin:0 auto;padding:0 24px 40px}
.banner{color:#fff;padding:28px 24px 22px}
.banner .in{max-width:1240px;margin:0 auto;padding:0 24px}
.v-passed{background:var(--ok)}.v-failed{background:var(--bad)}.v-paused{background:var(--wait)}.v-dry-run{background:var(--dry)}
.verdict{font-size:40px;font-weight:800;letter-spacing:.04em;line-height:1.1}
.headline{font-size:20px;margin-top:6px}
.banner code{background:rgba(255,255,255,.18);color:#fff}
.sub{opacity:.9;margin-top:8px;font-size:14px}
section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:16px 20px;margin:18px 0}
h2{font-size:19px;margin:0 0 4px}
.lead{color:var(--mute);margin:0 0 12px;font-size:14px}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:7px 10px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:13px;color:var(--mute);font-weight:600;background:#fafbfc}
code{font:13px/1.4 "SFMono-Regular",Menlo,Consolas,"DejaVu Sans Mono",monospace;background:#eef1f5;padding:1px 4px;border-radius:3px;word-break:break-all}
.pill{display:inline-block;padding:1px 10px;border-radius:12px;font-weight:700;font-size:13px;white-space:nowrap}
.p-ok{background:#dff3e5;color:var(--ok)}.p-bad{background:#fbe0de;color:var(--bad)}.p-na{background:#eceff3;color:var(--mute)}.p-wait{background:#fdf0d8;color:var(--wait)}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:10px 24px;margin:0}
.grid div{min-width:0}.grid dt{font-size:12px;color:var(--mute);text-transform:uppercase;letter-spacing:.04em}.grid dd{margin:0;word-break:break-word}
.counts span{margin-right:16px}
.chips span{display:inline-block;background:#fbe0de;color:var(--bad);border-radius:4px;padding:2px 8px;margin:0 6px 4px 0;font-weight:600}
.gantt{overflow-x:auto}
.gantt svg{display:block;max-width:100%;height:auto}
.legend{display:flex;flex-wrap:wrap;gap:6px 18px;font-size:13px;color:var(--mute);margin:8px 0 0}
.legend i{display:inline-block;width:22px;height:11px;border-radius:2px;vertical-align:-1px;margin-right:6px}
.step{border-top:1px solid var(--line);padding:12px 0}
.step:first-of-type{border-top:0}
.step h3{font-size:16px;margin:0 0 2px}
.step .meta{color:var(--mute);font-size:13px;margin:0 0 6px}
.step dl{margin:6px 0 0;display:grid;grid-template-columns:130px 1fr;gap:4px 12px}
.step dt{color:var(--mute);font-size:13px}.step dd{margin:0;min-width:0}
.step ul,td ul{margin:0;padding-left:18px}
.err{background:#fdf1f0;border-left:4px solid var(--bad);padding:8px 12px;margin:6px 0;border-radius:0 4px 4px 0}
.warn{color:var(--bad)}
.crit{color:var(--crit);font-weight:700;font-size:13px;margin-left:8px}
.s-failed h3 code{background:#fbe0de}
footer{color:var(--mute);font-size:13px}
footer dd code{font-size:12px}
svg text{font-family:"DejaVu Sans",Arial,sans-serif}
.g-grid{stroke:#e6e9ee;stroke-width:1}
.g-tick{fill:#5d6673;font-size:12px}
.g-label{fill:#1d232b;font-size:13px}
.g-label.crit-label{font-weight:700}
.g-note{fill:#5d6673;font-size:12px}
.bar{fill:var(--bar)}
.bar.cleanup{fill:var(--clean)}
.bar.critical{fill:var(--crit)}
.bar.failed{fill:var(--bad)}
.bar.deferred{fill:#e3b341}
.bar.failed.critical{stroke:var(--crit);stroke-width:3}
.bar.in-doubt,.bar.awaiting{fill:url(#stripes)}
.skip{stroke:#8a939e;stroke-width:2;fill:none}
.pause{fill:url(#hatch)}
.rto{stroke:var(--bad);stroke-width:1.5;stroke-dasharray:6 4}
@media print{body{background:#fff}section{break-inside:avoid-page}}
"#;

/// Renders the report as one self-contained HTML page.
pub fn render(doc: &RunDocument) -> String {
    let mut o = String::with_capacity(16_384 + doc.steps.len() * 1_400);
    let vclass = doc.verdict.as_str();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"drillbook {}\">\n\
         <title>{} — {} — drillbook run {}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        e(&doc.report_version),
        doc.verdict.label(),
        e(&doc.runbook.name),
        e(&doc.run_id)
    );

    // Banner.
    let what = match (&doc.scenario, doc.mode) {
        (Some(s), _) => format!("Game-day drill <b>{}</b> of runbook", e(&s.name)),
        (None, Mode::DryRun) => "Dry run of runbook".to_string(),
        (None, Mode::Execute) => "Run of runbook".to_string(),
    };
    let _ = write!(
        o,
        "<header class=\"banner v-{vclass}\" id=\"verdict\"><div class=\"in\">\
         <div class=\"verdict\" data-verdict=\"{vclass}\">{}</div>\
         <div class=\"headline\">{}</div>\
         <div class=\"sub\">{what} <b>{}</b> · run <code>{}</code> · started {} · took {}{}</div>\
         </div></header>\n<main>\n",
        doc.verdict.label(),
        inline(&doc.headline),
        e(&doc.runbook.name),
        e(&doc.run_id),
        when(&doc.started_at),
        dur(doc.total_ms),
        if doc.pauses.is_empty() {
            String::new()
        } else {
            format!(" ({} active)", dur(doc.active_ms))
        },
    );

    summary(&mut o, doc);
    objectives(&mut o, doc);
    expectations(&mut o, doc);
    impairment(&mut o, doc);
    gantt(&mut o, doc);
    approvals(&mut o, doc);
    aws_calls(&mut o, doc);
    steps(&mut o, doc);
    evidence(&mut o, doc);

    o.push_str("</main>\n</body>\n</html>\n");
    o
}

fn summary(o: &mut String, doc: &RunDocument) {
    let c = &doc.counts;
    let _ = write!(
        o,
        "<section id=\"summary\"><h2>At a glance</h2><dl class=\"grid\">\
         <div><dt>Runbook</dt><dd>{}{}</dd></div>",
        e(&doc.runbook.name),
        doc.runbook
            .description
            .as_deref()
            .map(|d| format!("<br><span class=\"lead\">{}</span>", e(d)))
            .unwrap_or_default()
    );
    if let Some(s) = &doc.scenario {
        let _ = write!(o, "<div><dt>Scenario</dt><dd>{}</dd></div>", e(&s.name));
    }
    let _ = write!(
        o,
        "<div><dt>Mode</dt><dd>{}</dd></div>\
         <div><dt>Run by</dt><dd>{}</dd></div>\
         <div><dt>AWS account</dt><dd>{}</dd></div>\
         <div><dt>From</dt><dd>{}</dd></div>\
         <div><dt>Started</dt><dd>{}</dd></div>\
         <div><dt>Ended</dt><dd>{}</dd></div>\
         <div><dt>Duration</dt><dd>{}</dd></div>\
         <div><dt>Critical path</dt><dd>{} step{}, {}</dd></div>\
         </dl>\n<p class=\"counts\"><span><b>{}</b> steps</span><span>{} succeeded</span>\
         {}<span{}>{} failed</span><span>{} skipped</span>{}</p>",
        match doc.mode {
            Mode::DryRun => "dry run (observed only, nothing changed)",
            Mode::Execute => "execute (changes were made)",
        },
        doc.ran_by
            .identity_arn
            .as_deref()
            .map(|a| format!("<code>{}</code>", e(a)))
            .unwrap_or_else(|| "unknown identity".into()),
        doc.ran_by
            .account
            .as_deref()
            .map(e)
            .unwrap_or_else(|| "-".into()),
        from(&doc.ran_by.user, &doc.ran_by.host),
        when(&doc.started_at),
        when(&doc.ended_at),
        if doc.pauses.is_empty() {
            dur(doc.total_ms)
        } else {
            format!(
                "{} ({} active, {} resume{})",
                dur(doc.total_ms),
                dur(doc.active_ms),
                doc.resumes,
                if doc.resumes == 1 { "" } else { "s" }
            )
        },
        doc.critical_path.len(),
        if doc.critical_path.len() == 1 {
            ""
        } else {
            "s"
        },
        dur(doc.critical_path_ms),
        c.total,
        c.succeeded,
        if c.deferred > 0 {
            format!("<span>{} deferred</span>", c.deferred)
        } else {
            String::new()
        },
        if c.failed > 0 { " class=\"warn\"" } else { "" },
        c.failed,
        c.skipped,
        if c.other > 0 {
            format!("<span>{} not finished</span>", c.other)
        } else {
            String::new()
        },
    );
    o.push_str("</section>\n");
}

/// `user@host`, or whichever is known.
fn from(user: &str, host: &str) -> String {
    match (user.is_empty(), host.is_empty()) {
        (true, true) => "-".into(),
        (true, false) => e(host),
        (false, true) => e(user),
        (false, false) => format!("{}@{}", e(user), e(host)),
    }
}

fn pill(ok: Option<bool>, text: &str) -> String {
    let class = match ok {
        Some(true) => "p-ok",
        Some(false) => "p-bad",
        None => "p-na",
    };
    format!("<span class=\"pill {class}\">{}</span>", e(text))
}

fn objectives(o: &mut String, doc: &RunDocument) {
    o.push_str(
        "<section id=\"objectives\"><h2>Recovery objectives</h2>\
         <p class=\"lead\">RTO (recovery time objective): how long recovery may take. \
         RPO (recovery point objective): how much recent data may be lost.</p>",
    );
    if doc.objectives.is_empty() {
        o.push_str("<p>No objective was set for this run.</p></section>\n");
        return;
    }
    o.push_str(
        "<table><thead><tr><th>Objective</th><th>Target</th><th>Measured</th><th>Result</th>\
         <th>How it was measured</th></tr></thead><tbody>",
    );
    for r in &doc.objectives {
        let name = match r.objective.as_str() {
            "rto" => "RTO — time to recover".to_string(),
            "rpo" => "RPO — data loss window".to_string(),
            other => e(other),
        };
        let ok = match r.verdict {
            ObjectiveState::Met => Some(true),
            ObjectiveState::Missed => Some(false),
            ObjectiveState::NotAssessed => None,
        };
        let _ = write!(
            o,
            "<tr class=\"objective\" data-objective=\"{}\"><td><b>{name}</b></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            e(&r.objective),
            target(r.target_ms),
            r.measured_ms.map(dur).unwrap_or_else(|| "-".into()),
            pill(ok, r.verdict.as_str()),
            inline(&r.how)
        );
    }
    o.push_str("</tbody></table></section>\n");
}

fn expectations(o: &mut String, doc: &RunDocument) {
    if doc.scenario.is_none() && doc.expectations.is_empty() {
        return;
    }
    let failed = doc.expectations.iter().filter(|x| !x.passed).count();
    let _ = write!(
        o,
        "<section id=\"expectations\"><h2>Expectations</h2>\
         <p class=\"lead\">What the scenario expects to be true after the recovery: {} of {} held.</p>",
        doc.expectations.len() - failed,
        doc.expectations.len()
    );
    if doc.expectations.is_empty() {
        o.push_str("<p>The scenario has no expectations.</p></section>\n");
        return;
    }
    o.push_str(
        "<table><thead><tr><th>Expectation</th><th>What was found</th><th>Result</th></tr></thead><tbody>",
    );
    for x in &doc.expectations {
        let _ = write!(
            o,
            "<tr class=\"expectation\"><td><b>{}</b><br><code>{}</code></td><td>{}{}</td><td>{}</td></tr>",
            inline(&x.description),
            e(&x.id),
            inline(&x.observed),
            x.reason
                .as_deref()
                .map(|r| format!("<div class=\"warn\">{}</div>", inline(r)))
                .unwrap_or_default(),
            pill(
                Some(x.passed),
                if x.passed { "held" } else { "did not hold" }
            )
        );
    }
    o.push_str("</tbody></table></section>\n");
}

fn impairment(o: &mut String, doc: &RunDocument) {
    if doc.impaired.is_empty() && doc.impaired_steps.is_empty() {
        return;
    }
    o.push_str(
        "<section id=\"impairment\"><h2>Impaired Regions</h2>\
         <p class=\"lead\">The scenario made these Regions unreachable, as in a real outage. \
         Steps listed below tried to reach them: in a real outage they would be blocked.</p>\
         <p class=\"chips\">",
    );
    for i in &doc.impaired {
        let _ = write!(
            o,
            "<span>{}{}</span>",
            e(&i.region),
            i.service
                .as_deref()
                .map(|s| format!(" ({} only)", e(s)))
                .unwrap_or_default()
        );
    }
    o.push_str("</p>");
    if doc.impaired_steps.is_empty() {
        o.push_str("<p>No step needed an impaired Region.</p></section>\n");
        return;
    }
    o.push_str(
        "<table><thead><tr><th>Step that needed it</th><th>Status</th><th>Calls refused</th></tr></thead><tbody>",
    );
    for g in &doc.impaired_steps {
        let status = g
            .step
            .as_deref()
            .and_then(|id| doc.steps.iter().find(|s| s.id == id))
            .map(|s| status_pill(s.status))
            .unwrap_or_default();
        let _ = write!(
            o,
            "<tr class=\"impaired-step\"><td>{}</td><td>{status}</td><td><ul>",
            g.step
                .as_deref()
                .map(|s| format!("<code>{}</code>", e(s)))
                .unwrap_or_else(|| "outside any step (checks)".into()),
        );
        for c in &g.calls {
            let _ = write!(
                o,
                "<li>{} <code>{}</code> in {}{}</li>",
                e(&c.service),
                e(&c.operation),
                e(&c.region),
                if c.count > 1 {
                    format!(" ×{}", c.count)
                } else {
                    String::new()
                }
            );
        }
        o.push_str("</ul></td></tr>");
    }
    o.push_str("</tbody></table></section>\n");
}

fn status_pill(s: StepState) -> String {
    let class = match s {
        StepState::Succeeded => "p-ok",
        StepState::Failed => "p-bad",
        StepState::AwaitingApproval | StepState::InDoubt | StepState::Deferred => "p-wait",
        StepState::Skipped | StepState::NotStarted => "p-na",
    };
    format!("<span class=\"pill {class}\">{}</span>", s.as_str())
}

/// A tick interval giving at most about ten ticks.
fn tick_ms(total: u64) -> u64 {
    const STEPS: [u64; 20] = [
        100, 200, 500, 1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000,
        600_000, 900_000, 1_800_000, 3_600_000, 7_200_000, 21_600_000, 43_200_000, 86_400_000,
    ];
    STEPS
        .iter()
        .copied()
        .find(|s| total / s <= 10)
        .unwrap_or_else(|| total.div_ceil(10).max(1))
}

/// Shortens a label to `max` characters.
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

fn gantt(o: &mut String, doc: &RunDocument) {
    o.push_str(
        "<section id=\"timeline\"><h2>Timeline</h2>\
         <p class=\"lead\">One bar per step, from its start to its outcome (wall clock). \
         The critical path — the chain of steps that decided how long recovery took — is orange.</p>",
    );
    if doc.steps.is_empty() {
        o.push_str("<p>No step.</p></section>\n");
        return;
    }
    const LABEL: f64 = 230.0;
    const CHART: f64 = 900.0;
    const RIGHT: f64 = 90.0;
    const ROW: f64 = 26.0;
    const TOP: f64 = 28.0;
    let width = LABEL + CHART + RIGHT;
    let height = TOP + ROW * doc.steps.len() as f64 + 12.0;
    let rto = doc
        .objectives
        .iter()
        .find(|r| r.objective == "rto")
        .map(|r| r.target_ms);
    let total = doc.total_ms.max(1);
    let x = |ms: u64| LABEL + (ms.min(total) as f64 / total as f64) * CHART;

    let _ = write!(
        o,
        "<div class=\"gantt\"><svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" \
         aria-label=\"Gantt chart of the run's steps\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\" data-critical-path=\"{}\">\
         <defs><pattern id=\"hatch\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">\
         <rect width=\"6\" height=\"6\" fill=\"#f1f2f4\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#c5cad1\" stroke-width=\"2\"/></pattern>\
         <pattern id=\"stripes\" width=\"8\" height=\"8\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">\
         <rect width=\"8\" height=\"8\" fill=\"#d7dbe0\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"8\" stroke=\"#9aa3ad\" stroke-width=\"3\"/></pattern></defs>",
        e(&doc.critical_path.join(" "))
    );
    // Paused stretches.
    for p in &doc.pauses {
        let (a, b) = (x(p.from_ms), x(p.to_ms));
        let _ = write!(
            o,
            "<rect class=\"pause\" x=\"{a:.1}\" y=\"{TOP}\" width=\"{:.1}\" height=\"{:.1}\"><title>paused {} (no process worked on the run)</title></rect>",
            (b - a).max(1.0),
            ROW * doc.steps.len() as f64,
            dur(p.to_ms.saturating_sub(p.from_ms))
        );
    }
    // Axis.
    let tick = tick_ms(total);
    let mut t = 0;
    while t <= total {
        let xt = x(t);
        let _ = write!(
            o,
            "<line class=\"g-grid\" x1=\"{xt:.1}\" y1=\"{:.1}\" x2=\"{xt:.1}\" y2=\"{:.1}\"/>\
             <text class=\"g-tick\" x=\"{xt:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            TOP - 6.0,
            height - 10.0,
            TOP - 10.0,
            if t == 0 {
                "0".to_string()
            } else {
                format!("+{}", dur(t))
            }
        );
        t += tick;
    }
    // Rows.
    for (k, s) in doc.steps.iter().enumerate() {
        let y = TOP + ROW * k as f64;
        let _ = write!(
            o,
            "<text class=\"g-label{}\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            if s.critical { " crit-label" } else { "" },
            LABEL - 8.0,
            y + 18.0,
            e(&clip(&s.id, 30))
        );
        let tip = format!(
            "{}: {}{}{}",
            s.id,
            s.status.as_str(),
            s.duration_ms
                .map(|d| format!(", {}", dur(d)))
                .unwrap_or_default(),
            if s.critical { ", critical path" } else { "" }
        );
        match (s.status, s.start_ms, s.finish_ms) {
            (StepState::Skipped, _, f) => {
                let cx = x(f.or(s.start_ms).unwrap_or(0));
                let cy = y + 13.0;
                let _ = write!(
                    o,
                    "<g class=\"skipped\" data-step=\"{}\"><path class=\"skip\" d=\"M{:.1} {:.1}l8 8m0 -8l-8 8\"/>\
                     <text class=\"g-note\" x=\"{:.1}\" y=\"{:.1}\">skipped</text><title>{}</title></g>",
                    e(&s.id),
                    cx - 4.0,
                    cy - 4.0,
                    cx + 8.0,
                    cy + 4.0,
                    e(&tip)
                );
            }
            (_, Some(a), f) => {
                let end = f.unwrap_or(doc.total_ms);
                let (xa, xb) = (x(a), x(end));
                let mut class = String::from("bar");
                if s.cleanup {
                    class.push_str(" cleanup");
                }
                if s.critical {
                    class.push_str(" critical");
                }
                match s.status {
                    StepState::Failed => class.push_str(" failed"),
                    StepState::InDoubt => class.push_str(" in-doubt"),
                    StepState::AwaitingApproval => class.push_str(" awaiting"),
                    StepState::Deferred => class.push_str(" deferred"),
                    _ => {}
                }
                let w = (xb - xa).max(2.0);
                let _ = write!(
                    o,
                    "<rect class=\"{class}\" data-step=\"{}\"{} x=\"{xa:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"16\" rx=\"2\"><title>{}</title></rect>",
                    e(&s.id),
                    if s.critical {
                        " data-critical=\"true\""
                    } else {
                        ""
                    },
                    y + 5.0,
                    e(&tip)
                );
                let note = match s.status {
                    StepState::Failed => "failed".to_string(),
                    StepState::InDoubt => "in doubt".to_string(),
                    StepState::AwaitingApproval => "awaiting approval".to_string(),
                    StepState::Deferred => "deferred".to_string(),
                    _ => s.duration_ms.map(dur).unwrap_or_default(),
                };
                let _ = write!(
                    o,
                    "<text class=\"g-note\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                    xa + w + 4.0,
                    y + 18.0,
                    e(&note)
                );
            }
            _ => {
                let _ = write!(
                    o,
                    "<text class=\"g-note\" x=\"{LABEL:.1}\" y=\"{:.1}\">not run</text>",
                    y + 18.0
                );
            }
        }
    }
    // The RTO, when it falls inside the chart.
    if let Some(r) = rto.filter(|&r| r <= doc.total_ms) {
        let xr = x(r);
        let _ = write!(
            o,
            "<line class=\"rto\" x1=\"{xr:.1}\" y1=\"{:.1}\" x2=\"{xr:.1}\" y2=\"{:.1}\"/>\
             <text class=\"g-tick\" x=\"{:.1}\" y=\"{:.1}\" fill=\"#b3261e\">RTO {}</text>",
            TOP - 4.0,
            height - 6.0,
            xr + 4.0,
            TOP + 10.0,
            target(r)
        );
    }
    o.push_str("</svg></div>");
    let _ = write!(
        o,
        "<div class=\"legend\"><span><i style=\"background:var(--crit)\"></i>critical path</span>\
         <span><i style=\"background:var(--bar)\"></i>other step</span>\
         <span><i style=\"background:var(--clean)\"></i>cleanup step</span>\
         <span><i style=\"background:var(--bad)\"></i>failed</span>\
         <span><i style=\"background:repeating-linear-gradient(45deg,#d7dbe0 0 3px,#9aa3ad 3px 5px)\"></i>in doubt / awaiting approval</span>\
         <span>✕ skipped</span>\
         {}{}{}</div>",
        if doc.counts.deferred == 0 {
            ""
        } else {
            "<span><i style=\"background:#e3b341\"></i>deferred (optional, could not act)</span>"
        },
        if doc.pauses.is_empty() {
            ""
        } else {
            "<span><i style=\"background:repeating-linear-gradient(45deg,#f1f2f4 0 3px,#c5cad1 3px 5px)\"></i>paused (no process running)</span>"
        },
        if rto.is_some_and(|r| r <= doc.total_ms) {
            "<span><i style=\"border-top:2px dashed var(--bad);height:0;border-radius:0\"></i>RTO</span>"
        } else {
            ""
        }
    );
    if !doc.critical_path.is_empty() {
        let _ = write!(
            o,
            "<p class=\"lead\" style=\"margin-top:8px\">Critical path ({}): {}</p>",
            dur(doc.critical_path_ms),
            doc.critical_path
                .iter()
                .map(|s| format!("<code>{}</code>", e(s)))
                .collect::<Vec<_>>()
                .join(" → ")
        );
    }
    o.push_str("</section>\n");
}

fn approvals(o: &mut String, doc: &RunDocument) {
    if doc.approvals.is_empty() {
        return;
    }
    o.push_str(
        "<section id=\"approvals\"><h2>Approvals</h2>\
         <p class=\"lead\">Steps that waited for a person to approve before going on.</p>\
         <table><thead><tr><th>Step</th><th>Asked</th><th>Approved by</th><th>When</th><th>Comment</th></tr></thead><tbody>",
    );
    for a in &doc.approvals {
        let _ = write!(
            o,
            "<tr class=\"approval\"><td><code>{}</code></td><td>{}<br><span class=\"lead\">{}</span></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            e(&a.step),
            inline(&a.message),
            when(&a.requested_at),
            match &a.approver {
                Some(i) => format!(
                    "<code>{}</code><br>account {}<br>{}",
                    e(&i.arn),
                    e(&i.account),
                    match &a.signed_with {
                        Some(k) => format!("signed with {}", e(k)),
                        None => "<strong>unsigned</strong>".to_string(),
                    }
                ),
                None => pill(None, "pending"),
            },
            when(&a.granted_at),
            if a.comment.is_empty() {
                "-".to_string()
            } else {
                e(&a.comment)
            }
        );
    }
    o.push_str("</tbody></table></section>\n");
}

fn aws_calls(o: &mut String, doc: &RunDocument) {
    if doc.aws_calls.is_empty() {
        return;
    }
    o.push_str(
        "<section id=\"aws-calls\"><h2>AWS changes</h2>\
         <p class=\"lead\">Every AWS call that changed something, with its request id: the \
         CloudTrail events to look for (<code>drillbook verify-evidence DIR --cloudtrail</code>).</p>\
         <table><thead><tr><th>Step</th><th>Call</th><th>Region</th><th>Account</th><th>Role</th><th>Request id</th><th>When</th></tr></thead><tbody>",
    );
    for c in &doc.aws_calls {
        let _ = write!(
            o,
            "<tr class=\"aws-call\"><td><code>{}</code></td><td><code>{} {}</code></td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
            e(c.step.as_deref().unwrap_or("-")),
            e(&c.service),
            e(&c.operation),
            e(&c.region),
            e(c.account.as_deref().unwrap_or("-")),
            c.role_arn
                .as_deref()
                .map(|r| format!("<code>{}</code>", e(r)))
                .unwrap_or_else(|| "caller".into()),
            e(c.request_id.as_deref().unwrap_or("-")),
            when(&Some(c.at)),
        );
    }
    o.push_str("</tbody></table></section>\n");
}

fn fact_value(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn step_card(o: &mut String, s: &StepRow, dry: bool) {
    let _ = write!(
        o,
        "<article class=\"step s-{}\" id=\"step-{}\" data-step=\"{}\"><h3>{} <code>{}</code>{}{}</h3>",
        s.status.as_str().replace(' ', "-"),
        e(&s.id),
        e(&s.id),
        status_pill(s.status),
        e(&s.id),
        if s.critical {
            "<span class=\"crit\">critical path</span>"
        } else {
            ""
        },
        if s.cleanup {
            "<span class=\"lead\" style=\"margin-left:8px\">cleanup</span>"
        } else {
            ""
        }
    );
    let mut meta = vec![format!("<code>{}</code>", e(&s.action))];
    if let Some(r) = &s.region {
        meta.push(format!("Region {}", e(r)));
    }
    if let Some(a) = s.start_ms {
        meta.push(format!("started at {}", offset(a)));
    }
    if let Some(d) = s.duration_ms {
        meta.push(format!("took {}", dur(d)));
    }
    if s.attempts > 1 {
        meta.push(format!("{} attempts", s.attempts));
    }
    if s.aws_wait_ms > 0 {
        meta.push(format!("{} waiting on AWS", dur(s.aws_wait_ms)));
    }
    if let Some(sl) = s.slack_ms.filter(|&sl| sl > 0) {
        meta.push(format!("{} slack", dur(sl)));
    }
    if !s.needs.is_empty() {
        meta.push(format!(
            "after {}",
            s.needs.iter().map(|n| e(n)).collect::<Vec<_>>().join(", ")
        ));
    }
    let _ = write!(o, "<p class=\"meta\">{}</p>", meta.join(" · "));
    if let Some(d) = &s.description {
        let _ = write!(o, "<p>{}</p>", inline(d));
    }
    if let Some(err) = &s.error {
        let _ = write!(
            o,
            "<div class=\"err\"><b>What went wrong:</b> {}",
            inline(err)
        );
        if let Some(h) = &s.hint {
            let _ = write!(o, "<br><b>What to do:</b> {}", inline(h));
        }
        o.push_str("</div>");
    }
    let mut dl = String::new();
    if let Some(r) = &s.reason {
        let _ = write!(dl, "<dt>Skipped because</dt><dd>{}</dd>", inline(r));
    }
    if let Some(obs) = &s.observed {
        let _ = write!(dl, "<dt>Observed</dt><dd>{}", inline(&obs.summary));
        if !obs.facts.is_empty() {
            dl.push_str("<ul class=\"facts\">");
            for (k, v) in &obs.facts {
                let _ = write!(dl, "<li>{}: <code>{}</code></li>", e(k), e(&fact_value(v)));
            }
            dl.push_str("</ul>");
        }
        if !obs.findings.is_empty() {
            dl.push_str("<ul class=\"findings warn\">");
            for f in &obs.findings {
                let _ = write!(dl, "<li>{}", inline(&f.message));
                if !f.hint.is_empty() {
                    let _ = write!(dl, " — {}", inline(&f.hint));
                }
                dl.push_str("</li>");
            }
            dl.push_str("</ul>");
        }
        dl.push_str("</dd>");
    }
    if let Some(r) = &s.result {
        let _ = write!(dl, "<dt>Result</dt><dd>{}</dd>", inline(r));
    }
    let list = |dl: &mut String, title: &str, items: &[String]| {
        let _ = write!(dl, "<dt>{title}</dt><dd><ul>");
        for c in items {
            let _ = write!(dl, "<li>{}</li>", inline(c));
        }
        dl.push_str("</ul></dd>");
    };
    if !s.changed.is_empty() {
        let title = if s.changed_before_resume {
            "Changed (before the interruption; found in place on resume)"
        } else {
            "Changed"
        };
        list(&mut dl, title, &s.changed);
    } else if !s.would_change.is_empty() && (dry || s.status != StepState::Succeeded) {
        list(&mut dl, "Would change", &s.would_change);
    } else if s.status == StepState::Succeeded && !dry && s.action != "approval" {
        dl.push_str("<dt>Changed</dt><dd>nothing (already in the wanted state, or read-only)</dd>");
    }
    if !s.outputs.is_empty() {
        dl.push_str("<dt>Outputs</dt><dd><ul>");
        for (k, v) in &s.outputs {
            let _ = write!(dl, "<li>{}: <code>{}</code></li>", e(k), e(v));
        }
        dl.push_str("</ul></dd>");
    }
    if !s.retries.is_empty() {
        dl.push_str("<dt>Retried</dt><dd><ul>");
        for r in &s.retries {
            let _ = write!(
                dl,
                "<li>attempt {} failed: {} (retried after {})</li>",
                r.attempt,
                inline(&r.error),
                dur(r.delay_ms)
            );
        }
        dl.push_str("</ul></dd>");
    }
    if !dl.is_empty() {
        let _ = write!(o, "<dl>{dl}</dl>");
    }
    o.push_str("</article>\n");
}

fn steps(o: &mut String, doc: &RunDocument) {
    let _ = write!(
        o,
        "<section id=\"steps\"><h2>Steps</h2><p class=\"lead\">Every step in the order it \
         started: what it observed before acting and what it {}.</p>",
        if doc.mode == Mode::DryRun {
            "would change (dry run: nothing was changed)"
        } else {
            "changed"
        }
    );
    let dry = doc.mode == Mode::DryRun;
    for s in &doc.steps {
        step_card(o, s, dry);
    }
    o.push_str("</section>\n");
}

fn evidence(o: &mut String, doc: &RunDocument) {
    let _ = write!(
        o,
        "<section id=\"evidence\"><footer><h2>Evidence</h2><dl class=\"grid\">\
         <div><dt>Run id</dt><dd><code>{}</code></dd></div>\
         <div><dt>Runbook file</dt><dd><code>{}</code></dd></div>\
         <div><dt>Runbook SHA-256</dt><dd><code>{}</code></dd></div>{}\
         <div><dt>Journal</dt><dd>{} records</dd></div>\
         <div><dt>Journal head (SHA-256 of the last record)</dt><dd><code>{}</code></dd></div>\
         <div><dt>AWS identity</dt><dd>{}</dd></div>\
         <div><dt>Run with</dt><dd>drillbook {}</dd></div>\
         <div><dt>Report written by</dt><dd>drillbook {}</dd></div>",
        e(&doc.run_id),
        e(&doc.runbook.path),
        e(&doc.runbook.sha256),
        doc.scenario
            .as_ref()
            .map(|s| format!(
                "<div><dt>Scenario SHA-256</dt><dd><code>{}</code></dd></div>",
                e(&s.sha256)
            ))
            .unwrap_or_default(),
        doc.journal.records,
        e(&doc.journal.head_sha256),
        match (&doc.ran_by.identity_arn, &doc.ran_by.account) {
            (Some(a), Some(acc)) => format!("<code>{}</code> (account {})", e(a), e(acc)),
            (Some(a), None) => format!("<code>{}</code>", e(a)),
            _ => "unknown".into(),
        },
        e(&doc.drillbook_version),
        e(&doc.report_version),
    );
    for r in &doc.resumed {
        let _ = write!(
            o,
            "<div><dt>Resumed</dt><dd>{} on {}{}{}</dd></div>",
            r.at.format("%Y-%m-%d %H:%M:%S UTC"),
            e(&r.host),
            r.identity_arn
                .as_deref()
                .map(|a| format!(" by <code>{}</code>", e(a)))
                .unwrap_or_default(),
            if r.forced {
                " (changed runbook accepted with --force)"
            } else {
                ""
            }
        );
    }
    let _ = writeln!(
        o,
        "</dl><p>Rebuild this report at any time with <code>drillbook report {} --format html</code>; \
         the journal is hash-chained, so the head above changes if any record does.</p></footer></section>",
        e(&doc.run_id)
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::document::Verdict;

    #[test]
    fn escapes_markup_and_drops_controls() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>\u{1}"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(
            inline("step `<x>` failed"),
            "step <code>&lt;x&gt;</code> failed"
        );
    }

    #[test]
    fn ticks_stay_few() {
        for total in [1, 999, 14_100, 378_000, 7_200_000, 400_000_000] {
            let t = tick_ms(total);
            assert!(total / t <= 10, "{total} {t}");
        }
    }

    #[test]
    fn verdict_classes() {
        assert_eq!(Verdict::DryRun.as_str(), "dry-run");
    }
}
