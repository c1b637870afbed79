//! The HTML report: one self-contained page (inline CSS and SVG, no script, nothing fetched)
//! that someone who does not run drillbook can read: the verdict first, then objectives,
//! expectations, impaired Regions, a Gantt chart with the critical path, approvals, every step,
//! and the evidence (identity, hashes, versions).
//!
//! The markup is written with maud: every value is escaped by construction (`(value)`), and
//! only our own markup (the style sheet) goes in unescaped.

use std::time::Duration;

use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::document::{ObjectiveState, RunDocument, StepRow};
use crate::duration::{format_duration, human};
use crate::event::Mode;
use crate::event::StepStatus;

/// Drops the control characters HTML does not allow (all but tab and newline); a page without
/// any (nearly every page) is returned as it is.
fn drop_controls(s: String) -> String {
    let bad = |c: char| c != '\t' && c != '\n' && c.is_control();
    if !s.chars().any(bad) {
        return s;
    }
    s.chars().filter(|&c| !bad(c)).collect()
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

/// `text` with `code spans` (backquoted) as <code>.
fn inline(text: &str) -> Markup {
    html! {
        @for (k, part) in text.split('`').enumerate() {
            @if k % 2 == 1 { code { (part) } } @else { (part) }
        }
    }
}

/// One decimal, as SVG coordinates are written.
fn f1(v: f64) -> String {
    format!("{v:.1}")
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
    let vclass = doc.verdict.as_str();
    let what = match (&doc.scenario, doc.mode) {
        (Some(s), _) => html! { "Game-day drill " b { (s.name) } " of runbook" },
        (None, Mode::DryRun) => html! { "Dry run of runbook" },
        (None, Mode::Execute) => html! { "Run of runbook" },
    };
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="generator" content={ "drillbook " (doc.report_version) };
                title { (doc.verdict.label()) " — " (doc.runbook.name) " — drillbook run " (doc.run_id) }
                style { (PreEscaped(CSS)) }
            }
            body {
                header.banner.{ "v-" (vclass) } #verdict {
                    div.in {
                        div.verdict data-verdict=(vclass) { (doc.verdict.label()) }
                        div.headline { (inline(&doc.headline)) }
                        div.sub {
                            (what) " " b { (doc.runbook.name) } " · run " code { (doc.run_id) }
                            " · started " (when(&doc.started_at)) " · took " (dur(doc.total_ms))
                            @if !doc.pauses.is_empty() { " (" (dur(doc.active_ms)) " active)" }
                        }
                    }
                }
                main {
                    (summary(doc))
                    (objectives(doc))
                    (expectations(doc))
                    (impairment(doc))
                    (faults(doc))
                    (gantt(doc))
                    (approvals(doc))
                    (aws_calls(doc))
                    (steps(doc))
                    (evidence(doc))
                }
            }
        }
    };
    let mut out = drop_controls(page.into_string());
    out.push('\n');
    out
}

fn summary(doc: &RunDocument) -> Markup {
    let c = &doc.counts;
    let n = doc.critical_path.len();
    html! {
        section #summary {
            h2 { "At a glance" }
            dl.grid {
                div { dt { "Runbook" } dd {
                    (doc.runbook.name)
                    @if let Some(d) = &doc.runbook.description { br; span.lead { (d) } }
                } }
                @if let Some(s) = &doc.scenario { div { dt { "Scenario" } dd { (s.name) } } }
                div { dt { "Mode" } dd { (match doc.mode {
                    Mode::DryRun => "dry run (observed only, nothing changed)",
                    Mode::Execute => "execute (changes were made)",
                }) } }
                div { dt { "Run by" } dd {
                    @match &doc.ran_by.identity_arn { Some(a) => code { (a) }, None => "unknown identity" }
                } }
                div { dt { "AWS account" } dd { (doc.ran_by.account.as_deref().unwrap_or("-")) } }
                div { dt { "From" } dd { (from(&doc.ran_by.user, &doc.ran_by.host)) } }
                div { dt { "Started" } dd { (when(&doc.started_at)) } }
                div { dt { "Ended" } dd { (when(&doc.ended_at)) } }
                div { dt { "Duration" } dd {
                    @if doc.pauses.is_empty() { (dur(doc.total_ms)) } @else {
                        (dur(doc.total_ms)) " (" (dur(doc.active_ms)) " active, "
                        (dur(doc.waiting_ms)) " waiting for approval, " (doc.resumes)
                        " resume" @if doc.resumes != 1 { "s" } ")"
                    }
                } }
                div { dt { "Recovery time" } dd {
                    @match doc.recovery_ms {
                        Some(r) => (dur(r)),
                        None => "none (the run did not reach the end of its recovery)",
                    }
                } }
                div { dt { "Critical path" } dd {
                    (n) " step" @if n != 1 { "s" } ", " (dur(doc.critical_path_ms))
                } }
            }
            p.counts {
                span { b { (c.total) } " steps" }
                span { (c.succeeded) " succeeded" }
                @if c.deferred > 0 { span { (c.deferred) " deferred" } }
                span.warn[c.failed > 0] { (c.failed) " failed" }
                span { (c.skipped) " skipped" }
                @if c.other > 0 { span { (c.other) " not finished" } }
            }
        }
    }
}

/// `user@host`, or whichever is known.
fn from(user: &str, host: &str) -> String {
    match (user.is_empty(), host.is_empty()) {
        (true, true) => "-".into(),
        (true, false) => host.to_string(),
        (false, true) => user.to_string(),
        (false, false) => format!("{user}@{host}"),
    }
}

fn pill(ok: Option<bool>, text: &str) -> Markup {
    let class = match ok {
        Some(true) => "p-ok",
        Some(false) => "p-bad",
        None => "p-na",
    };
    html! { span class={ "pill " (class) } { (text) } }
}

fn objectives(doc: &RunDocument) -> Markup {
    html! {
        section #objectives {
            h2 { "Recovery objectives" }
            p.lead {
                "RTO (recovery time objective): how long recovery may take. "
                "RPO (recovery point objective): how much recent data may be lost."
            }
            @if doc.objectives.is_empty() {
                p { "No objective was set for this run." }
            } @else {
                table {
                    thead { tr { th { "Objective" } th { "Target" } th { "Measured" } th { "Result" } th { "How it was measured" } } }
                    tbody {
                        @for r in &doc.objectives {
                            @let ok = match r.verdict {
                                ObjectiveState::Met => Some(true),
                                ObjectiveState::Missed => Some(false),
                                ObjectiveState::NotAssessed => None,
                            };
                            tr.objective data-objective=(r.objective) {
                                td { b { (match r.objective.as_str() {
                                    "rto" => "RTO — time to recover",
                                    "rpo" => "RPO — data loss window",
                                    other => other,
                                }) } }
                                td { (target(r.target_ms)) }
                                td { (r.measured_ms.map(dur).unwrap_or_else(|| "-".into())) }
                                td { (pill(ok, r.verdict.as_str())) }
                                td { (inline(&r.how)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn expectations(doc: &RunDocument) -> Markup {
    if doc.scenario.is_none() && doc.expectations.is_empty() {
        return html! {};
    }
    let failed = doc.expectations.iter().filter(|x| !x.passed).count();
    html! {
        section #expectations {
            h2 { "Expectations" }
            p.lead {
                "What the scenario expects to be true after the recovery: "
                (doc.expectations.len() - failed) " of " (doc.expectations.len()) " held."
            }
            @if doc.expectations.is_empty() {
                p { "The scenario has no expectations." }
            } @else {
                table {
                    thead { tr { th { "Expectation" } th { "What was found" } th { "Result" } } }
                    tbody {
                        @for x in &doc.expectations {
                            tr.expectation {
                                td { b { (inline(&x.description)) } br; code { (x.id) } }
                                td {
                                    (inline(&x.observed))
                                    @if let Some(r) = &x.reason { div.warn { (inline(r)) } }
                                }
                                td { (pill(Some(x.passed), if x.passed { "held" } else { "did not hold" })) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn impairment(doc: &RunDocument) -> Markup {
    if doc.impaired.is_empty() && doc.impaired_steps.is_empty() {
        return html! {};
    }
    html! {
        section #impairment {
            h2 { "Impaired Regions" }
            p.lead {
                "The scenario made these Regions unreachable, as in a real outage. "
                "Steps listed below tried to reach them: in a real outage they would be blocked."
            }
            p.chips {
                @for i in &doc.impaired {
                    span { (i.region) @if let Some(s) = &i.service { " (" (s) " only)" } }
                }
            }
            @if doc.impaired_steps.is_empty() {
                p { "No step needed an impaired Region." }
            } @else {
                table {
                    thead { tr { th { "Step that needed it" } th { "Status" } th { "Calls refused" } } }
                    tbody {
                        @for g in &doc.impaired_steps {
                            @let status = g.step.as_deref().and_then(|id| doc.steps.iter().find(|s| s.id == id));
                            tr.impaired-step {
                                td { @match &g.step { Some(s) => code { (s) }, None => "outside any step (checks)" } }
                                td { @if let Some(s) = status { (status_pill(s.status)) } }
                                td { ul {
                                    @for c in &g.calls {
                                        li {
                                            (c.service) " " code { (c.operation) } " in " (c.region)
                                            @if c.count > 1 { " ×" (c.count) }
                                        }
                                    }
                                } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The drill's AWS FIS experiments, with their state and times.
fn faults(doc: &RunDocument) -> Markup {
    if doc.faults.is_empty() {
        return html! {};
    }
    html! {
        section #faults {
            h2 { "Faults injected by AWS FIS" }
            p.lead {
                "The scenario had AWS Fault Injection Service run these experiments while the "
                "runbook ran: the outage as AWS's own services saw it."
            }
            table {
                thead { tr {
                    th { "Experiment" } th { "Region" } th { "Actions" } th { "State" }
                    th { "Started" } th { "Running" } th { "Ended" }
                } }
                tbody {
                    @for f in &doc.faults {
                        @let ok = match f.state.as_str() {
                            "stopped" | "completed" => Some(true),
                            "failed" => Some(false),
                            _ => None,
                        };
                        tr.fault {
                            td { code { (f.id) } br; "template " code { (f.template) } }
                            td { (f.region) }
                            td { @for a in &f.actions { code { (a) } br; } }
                            td {
                                (pill(ok, &f.state))
                                @if !f.reason.is_empty() { div { (inline(&f.reason)) } }
                            }
                            td { (when(&f.started_at)) }
                            td { (when(&f.running_at)) }
                            td { (when(&f.ended_at)) }
                        }
                    }
                }
            }
        }
    }
}

fn status_pill(s: StepStatus) -> Markup {
    let class = match s {
        StepStatus::Succeeded => "p-ok",
        StepStatus::Failed => "p-bad",
        StepStatus::AwaitingApproval | StepStatus::InDoubt | StepStatus::Deferred => "p-wait",
        StepStatus::Skipped | StepStatus::NotStarted => "p-na",
    };
    html! { span class={ "pill " (class) } { (s.as_str()) } }
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

/// The Gantt chart's geometry: label column, chart and right margin widths, row height, and
/// the axis band above the rows.
const LABEL: f64 = 230.0;
const CHART: f64 = 900.0;
const RIGHT: f64 = 90.0;
const ROW: f64 = 26.0;
const TOP: f64 = 28.0;

fn gantt(doc: &RunDocument) -> Markup {
    let lead = html! {
        h2 { "Timeline" }
        p.lead {
            "One bar per step, from its start to its outcome (wall clock). "
            "The critical path — the chain of steps that decided how long recovery took — is orange."
        }
    };
    if doc.steps.is_empty() {
        return html! { section #timeline { (lead) p { "No step." } } };
    }
    let width = LABEL + CHART + RIGHT;
    let height = TOP + ROW * doc.steps.len() as f64 + 12.0;
    let rto = doc
        .objectives
        .iter()
        .find(|r| r.objective == "rto")
        .map(|r| r.target_ms);
    let rto_inside = rto.filter(|&r| r <= doc.total_ms);
    let total = doc.total_ms.max(1);
    let x = |ms: u64| LABEL + (ms.min(total) as f64 / total as f64) * CHART;
    let tick = tick_ms(total);
    let ticks: Vec<u64> = (0..=total / tick).map(|k| k * tick).collect();
    html! {
        section #timeline {
            (lead)
            div.gantt {
                svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="Gantt chart of the run's steps"
                    width=(width) height=(height) viewBox={ "0 0 " (width) " " (height) }
                    data-critical-path=(doc.critical_path.join(" ")) {
                    defs {
                        pattern #hatch width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)" {
                            rect width="6" height="6" fill="#f1f2f4" {}
                            line x1="0" y1="0" x2="0" y2="6" stroke="#c5cad1" stroke-width="2" {}
                        }
                        pattern #stripes width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate(45)" {
                            rect width="8" height="8" fill="#d7dbe0" {}
                            line x1="0" y1="0" x2="0" y2="8" stroke="#9aa3ad" stroke-width="3" {}
                        }
                    }
                    // Paused stretches.
                    @for p in &doc.pauses {
                        @let (a, b) = (x(p.from_ms), x(p.to_ms));
                        rect.pause x=(f1(a)) y=(TOP) width=(f1((b - a).max(1.0))) height=(f1(ROW * doc.steps.len() as f64)) {
                            title { "paused " (dur(p.to_ms.saturating_sub(p.from_ms))) " (no process worked on the run)" }
                        }
                    }
                    // Axis.
                    @for t in &ticks {
                        @let xt = f1(x(*t));
                        line.g-grid x1=(xt) y1=(f1(TOP - 6.0)) x2=(xt) y2=(f1(height - 10.0)) {}
                        text.g-tick x=(xt) y=(f1(TOP - 10.0)) text-anchor="middle" {
                            @if *t == 0 { "0" } @else { "+" (dur(*t)) }
                        }
                    }
                    // Rows.
                    @for (k, s) in doc.steps.iter().enumerate() {
                        @let y = TOP + ROW * k as f64;
                        text.g-label.crit-label[s.critical] x=(f1(LABEL - 8.0)) y=(f1(y + 18.0)) text-anchor="end" {
                            (clip(&s.id, 30))
                        }
                        (gantt_row(s, y, doc.total_ms, &x))
                    }
                    // The RTO, when it falls inside the chart.
                    @if let Some(r) = rto_inside {
                        @let xr = f1(x(r));
                        line.rto x1=(xr) y1=(f1(TOP - 4.0)) x2=(xr) y2=(f1(height - 6.0)) {}
                        text.g-tick x=(f1(x(r) + 4.0)) y=(f1(TOP + 10.0)) fill="#b3261e" { "RTO " (target(r)) }
                    }
                }
            }
            div.legend {
                span { i style="background:var(--crit)" {} "critical path" }
                span { i style="background:var(--bar)" {} "other step" }
                span { i style="background:var(--clean)" {} "cleanup step" }
                span { i style="background:var(--bad)" {} "failed" }
                span { i style="background:repeating-linear-gradient(45deg,#d7dbe0 0 3px,#9aa3ad 3px 5px)" {} "in doubt / awaiting approval" }
                span { "✕ skipped" }
                @if doc.counts.deferred > 0 {
                    span { i style="background:#e3b341" {} "deferred (optional, could not act)" }
                }
                @if !doc.pauses.is_empty() {
                    span { i style="background:repeating-linear-gradient(45deg,#f1f2f4 0 3px,#c5cad1 3px 5px)" {} "paused (no process running)" }
                }
                @if rto_inside.is_some() {
                    span { i style="border-top:2px dashed var(--bad);height:0;border-radius:0" {} "RTO" }
                }
            }
            @if !doc.critical_path.is_empty() {
                p.lead style="margin-top:8px" {
                    "Critical path (" (dur(doc.critical_path_ms)) "): "
                    @for (k, s) in doc.critical_path.iter().enumerate() {
                        @if k > 0 { " → " }
                        code { (s) }
                    }
                }
            }
        }
    }
}

/// One step's mark in the chart: a bar from its start to its outcome, a cross when skipped.
fn gantt_row(s: &StepRow, y: f64, total_ms: u64, x: &dyn Fn(u64) -> f64) -> Markup {
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
        (StepStatus::Skipped, _, f) => {
            let cx = x(f.or(s.start_ms).unwrap_or(0));
            let cy = y + 13.0;
            html! {
                g.skipped data-step=(s.id) {
                    path.skip d={ "M" (f1(cx - 4.0)) " " (f1(cy - 4.0)) "l8 8m0 -8l-8 8" } {}
                    text.g-note x=(f1(cx + 8.0)) y=(f1(cy + 4.0)) { "skipped" }
                    title { (tip) }
                }
            }
        }
        (_, Some(a), f) => {
            let (xa, xb) = (x(a), x(f.unwrap_or(total_ms)));
            let mut class = String::from("bar");
            if s.cleanup {
                class.push_str(" cleanup");
            }
            if s.critical {
                class.push_str(" critical");
            }
            match s.status {
                StepStatus::Failed => class.push_str(" failed"),
                StepStatus::InDoubt => class.push_str(" in-doubt"),
                StepStatus::AwaitingApproval => class.push_str(" awaiting"),
                StepStatus::Deferred => class.push_str(" deferred"),
                _ => {}
            }
            let w = (xb - xa).max(2.0);
            let note = match s.status {
                StepStatus::Failed => "failed".to_string(),
                StepStatus::InDoubt => "in doubt".to_string(),
                StepStatus::AwaitingApproval => "awaiting approval".to_string(),
                StepStatus::Deferred => "deferred".to_string(),
                _ => s.duration_ms.map(dur).unwrap_or_default(),
            };
            html! {
                rect class=(class) data-step=(s.id) data-critical=[s.critical.then_some("true")]
                    x=(f1(xa)) y=(f1(y + 5.0)) width=(f1(w)) height="16" rx="2" {
                    title { (tip) }
                }
                text.g-note x=(f1(xa + w + 4.0)) y=(f1(y + 18.0)) { (note) }
            }
        }
        _ => html! {
            text.g-note x=(f1(LABEL)) y=(f1(y + 18.0)) { "not run" }
        },
    }
}

fn approvals(doc: &RunDocument) -> Markup {
    if doc.approvals.is_empty() {
        return html! {};
    }
    html! {
        section #approvals {
            h2 { "Approvals" }
            p.lead { "Steps that waited for a person to approve before going on." }
            table {
                thead { tr { th { "Step" } th { "Asked" } th { "Approved by" } th { "When" } th { "Comment" } } }
                tbody {
                    @for a in &doc.approvals {
                        tr.approval {
                            td { code { (a.step) } }
                            td { (inline(&a.message)) br; span.lead { (when(&a.requested_at)) } }
                            td {
                                @match &a.approver {
                                    Some(i) => {
                                        code { (i.arn) } br; "account " (i.account) br;
                                        @match &a.signed_with {
                                            Some(k) => { "signed with " (k) },
                                            None => strong { "unsigned" },
                                        }
                                    },
                                    None => (pill(None, "pending")),
                                }
                            }
                            td { (when(&a.granted_at)) }
                            td { @if a.comment.is_empty() { "-" } @else { (a.comment) } }
                        }
                    }
                }
            }
        }
    }
}

fn aws_calls(doc: &RunDocument) -> Markup {
    if doc.aws_calls.is_empty() {
        return html! {};
    }
    html! {
        section #aws-calls {
            h2 { "AWS changes" }
            p.lead {
                "Every AWS call that changed something, with its request id: the CloudTrail events to look for ("
                code { "drillbook verify-evidence DIR --cloudtrail" } ")."
            }
            table {
                thead { tr {
                    th { "Step" } th { "Call" } th { "Region" } th { "Account" } th { "Role" } th { "Request id" } th { "When" }
                } }
                tbody {
                    @for c in &doc.aws_calls {
                        tr.aws-call {
                            td { code { (c.step.as_deref().unwrap_or("-")) } }
                            td { code { (c.service) " " (c.operation) } }
                            td { (c.region) }
                            td { (c.account.as_deref().unwrap_or("-")) }
                            td { @match &c.role_arn { Some(r) => code { (r) }, None => "caller" } }
                            td { code { (c.request_id.as_deref().unwrap_or("-")) } }
                            td { (when(&Some(c.at))) }
                        }
                    }
                }
            }
        }
    }
}

fn fact_value(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn step_card(s: &StepRow, dry: bool) -> Markup {
    let mut meta: Vec<Markup> = vec![html! { code { (s.action) } }];
    if let Some(r) = &s.region {
        meta.push(html! { "Region " (r) });
    }
    if let Some(a) = s.start_ms {
        meta.push(html! { "started at " (offset(a)) });
    }
    if let Some(d) = s.duration_ms {
        meta.push(html! { "took " (dur(d)) });
    }
    if s.attempts > 1 {
        meta.push(html! { (s.attempts) " attempts" });
    }
    if s.aws_wait_ms > 0 {
        meta.push(html! { (dur(s.aws_wait_ms)) " waiting on AWS" });
    }
    if let Some(sl) = s.slack_ms.filter(|&sl| sl > 0) {
        meta.push(html! { (dur(sl)) " slack" });
    }
    if !s.needs.is_empty() {
        meta.push(html! { "after " (s.needs.join(", ")) });
    }
    let changed_title = if s.changed_before_resume {
        "Changed (before the interruption; found in place on resume)"
    } else {
        "Changed"
    };
    let would_change = s.changed.is_empty()
        && !s.would_change.is_empty()
        && (dry || s.status != StepStatus::Succeeded);
    let nothing_changed = s.changed.is_empty()
        && !would_change
        && s.status == StepStatus::Succeeded
        && !dry
        && s.action != "approval";
    let list = |items: &[String]| html! { ul { @for c in items { li { (inline(c)) } } } };
    let has_dl = s.reason.is_some()
        || s.observed.is_some()
        || s.result.is_some()
        || !s.changed.is_empty()
        || would_change
        || nothing_changed
        || !s.outputs.is_empty()
        || !s.retries.is_empty();
    html! {
        article class={ "step s-" (s.status.as_str().replace(' ', "-")) } id={ "step-" (s.id) } data-step=(s.id) {
            h3 {
                (status_pill(s.status)) " " code { (s.id) }
                @if s.critical { span.crit { "critical path" } }
                @if s.cleanup { span.lead style="margin-left:8px" { "cleanup" } }
            }
            p.meta {
                @for (k, m) in meta.iter().enumerate() {
                    @if k > 0 { " · " }
                    (m)
                }
            }
            @if let Some(d) = &s.description { p { (inline(d)) } }
            @if let Some(err) = &s.error {
                div.err {
                    b { "What went wrong:" } " " (inline(err))
                    @if let Some(h) = &s.hint { br; b { "What to do:" } " " (inline(h)) }
                }
            }
            @if has_dl {
                dl {
                    @if let Some(r) = &s.reason { dt { "Skipped because" } dd { (inline(r)) } }
                    @if let Some(obs) = &s.observed {
                        dt { "Observed" }
                        dd {
                            (inline(&obs.summary))
                            @if !obs.facts.is_empty() {
                                ul.facts { @for (k, v) in &obs.facts { li { (k) ": " code { (fact_value(v)) } } } }
                            }
                            @if !obs.findings.is_empty() {
                                ul.findings.warn {
                                    @for f in &obs.findings {
                                        li { (inline(&f.message)) @if !f.hint.is_empty() { " — " (inline(&f.hint)) } }
                                    }
                                }
                            }
                        }
                    }
                    @if let Some(r) = &s.result { dt { "Result" } dd { (inline(r)) } }
                    @if !s.changed.is_empty() {
                        dt { (changed_title) } dd { (list(&s.changed)) }
                    } @else if would_change {
                        dt { "Would change" } dd { (list(&s.would_change)) }
                    } @else if nothing_changed {
                        dt { "Changed" } dd { "nothing (already in the wanted state, or read-only)" }
                    }
                    @if !s.outputs.is_empty() {
                        dt { "Outputs" } dd { ul { @for (k, v) in &s.outputs { li { (k) ": " @if v.is_empty() { "(none)" } @else { code { (v) } } } } } }
                    }
                    @if !s.retries.is_empty() {
                        dt { "Retried" }
                        dd { ul { @for r in &s.retries {
                            li { "attempt " (r.attempt) " failed: " (inline(&r.error)) " (retried after " (dur(r.delay_ms)) ")" }
                        } } }
                    }
                }
            }
        }
    }
}

fn steps(doc: &RunDocument) -> Markup {
    let dry = doc.mode == Mode::DryRun;
    html! {
        section #steps {
            h2 { "Steps" }
            p.lead {
                "Every step in the order it started: what it observed before acting and what it "
                (if dry { "would change (dry run: nothing was changed)" } else { "changed" }) "."
            }
            @for s in &doc.steps { (step_card(s, dry)) }
        }
    }
}

fn evidence(doc: &RunDocument) -> Markup {
    html! {
        section #evidence {
            footer {
                h2 { "Evidence" }
                dl.grid {
                    div { dt { "Run id" } dd { code { (doc.run_id) } } }
                    div { dt { "Runbook file" } dd { code { (doc.runbook.path) } } }
                    div { dt { "Runbook SHA-256" } dd { code { (doc.runbook.sha256) } } }
                    @if let Some(s) = &doc.scenario {
                        div { dt { "Scenario SHA-256" } dd { code { (s.sha256) } } }
                    }
                    div { dt { "Journal" } dd { (doc.journal.records) " records" } }
                    div { dt { "Journal head (SHA-256 of the last record)" } dd { code { (doc.journal.head_sha256) } } }
                    div { dt { "AWS identity" } dd {
                        @match (&doc.ran_by.identity_arn, &doc.ran_by.account) {
                            (Some(a), Some(acc)) => { code { (a) } " (account " (acc) ")" },
                            (Some(a), None) => code { (a) },
                            _ => "unknown",
                        }
                    } }
                    div { dt { "Run with" } dd { "drillbook " (doc.drillbook_version) } }
                    div { dt { "Report written by" } dd { "drillbook " (doc.report_version) } }
                    @for r in &doc.resumed {
                        div { dt { "Resumed" } dd {
                            (r.at.format("%Y-%m-%d %H:%M:%S UTC").to_string()) " on " (r.host)
                            @if let Some(a) = &r.identity_arn { " by " code { (a) } }
                            @if r.forced { " (changed runbook accepted with --force)" }
                        } }
                    }
                }
                p {
                    "Rebuild this report at any time with " code { "drillbook report " (doc.run_id) " --format html" }
                    "; the journal is hash-chained, so the head above changes if any record does."
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::document::Verdict;

    #[test]
    fn escapes_markup_and_drops_controls() {
        // Attributes are always double-quoted, so a single quote needs no escape.
        assert_eq!(
            drop_controls(html! { ("<a href=\"x\">'&'</a>\u{1}") }.into_string()),
            "&lt;a href=&quot;x&quot;&gt;'&amp;'&lt;/a&gt;"
        );
        assert_eq!(
            inline("step `<x>` failed").into_string(),
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
