//! `drillbook history RUNBOOK --format html`: one self-contained page (inline CSS and SVG, no
//! JavaScript, nothing fetched) with the achieved RTO of every drill against the objective over
//! time, and every run below it. Written with maud, so every value is escaped by construction.

use std::time::Duration;

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::RunDigest;
use crate::duration::format_duration;
use crate::event::Mode;
use crate::runbook::model::RTO_MEASURE;

fn d(ms: u64) -> String {
    format_duration(Duration::from_millis(ms))
}

fn f1(v: f64) -> String {
    format!("{v:.1}")
}

const W: f64 = 760.0;
const H: f64 = 220.0;
const PAD: f64 = 40.0;

const CSS: &str = "body{font-family:system-ui,sans-serif;margin:2rem;color:#1b1f24}h1{font-size:1.4rem}\
table{border-collapse:collapse;margin-top:1rem}td,th{border-bottom:1px solid #d0d7de;padding:.3rem .6rem;text-align:left;font-size:.9rem}\
.axis{stroke:#57606a}.objective{stroke:#cf222e;stroke-dasharray:6 4}.label{font-size:11px;fill:#57606a}\
.drill.passed{fill:#1a7f37}.drill.failed{fill:#cf222e}.lead{color:#57606a}";

/// The chart: one point per executed drill (x: when it started, y: achieved RTO), the
/// objective as a dashed line. `None` when no drill was executed.
fn chart(drills: &[&RunDigest]) -> Option<Markup> {
    let t0 = drills.iter().map(|r| r.started_at).min()?;
    let t1 = drills.iter().map(|r| r.started_at).max()?;
    let span = (t1 - t0).num_milliseconds().max(1) as f64;
    let top = drills
        .iter()
        .flat_map(|r| [r.recovery_ms, r.rto_ms])
        .flatten()
        .max()
        .unwrap_or(1)
        .max(1) as f64
        * 1.15;
    let x = |r: &RunDigest| {
        if drills.len() == 1 {
            PAD + (W - 2.0 * PAD) / 2.0
        } else {
            PAD + (r.started_at - t0).num_milliseconds() as f64 / span * (W - 2.0 * PAD)
        }
    };
    let y = |ms: u64| H - PAD - ms as f64 / top * (H - 2.0 * PAD);
    // The objective in force at each drill (a scenario may set its own): one line per value.
    let mut objectives: Vec<u64> = drills.iter().filter_map(|r| r.rto_ms).collect();
    objectives.sort_unstable();
    objectives.dedup();
    let bottom = H - PAD;
    Some(html! {
        svg xmlns="http://www.w3.org/2000/svg" viewBox={ "0 0 " (W) " " (H) } width=(W) height=(H)
            role="img" aria-label="achieved RTO per drill" {
            line.axis x1=(PAD) y1=(bottom) x2=(W - PAD) y2=(bottom) {}
            line.axis x1=(PAD) y1=(PAD) x2=(PAD) y2=(bottom) {}
            text.label x="4" y=(PAD) { (d(top as u64)) }
            text.label x="4" y=(bottom) { "0" }
            @for rto in objectives {
                @let yy = y(rto);
                line.objective data-rto-ms=(rto) x1=(PAD) y1=(f1(yy)) x2=(W - PAD) y2=(f1(yy)) {}
                text.label.objective-label x=(W - PAD - 70.0) y=(f1(yy - 4.0)) { "RTO " (d(rto)) }
            }
            // A drill that did not reach the end of its recovery has no recovery time to plot.
            @for (r, recovery) in drills.iter().filter_map(|r| Some((r, r.recovery_ms?))) {
                circle class={ "drill " (if r.passed_drill() { "passed" } else { "failed" }) }
                    data-run=(r.run_id) data-recovery-ms=(recovery)
                    cx=(f1(x(r))) cy=(f1(y(recovery))) r="5" {
                    title {
                        (r.run_id) " " (r.verdict.as_str())
                        ": " (d(recovery))
                    }
                }
            }
            text.label x=(PAD) y=(bottom + 18.0) { (t0.format("%Y-%m-%d").to_string()) }
            text.label x=(W - PAD - 70.0) y=(bottom + 18.0) { (t1.format("%Y-%m-%d").to_string()) }
        }
    })
}

/// `measured / objective`, or whichever is known.
fn pair(m: Option<u64>, t: Option<u64>) -> String {
    match (m, t) {
        (Some(m), Some(t)) => format!("{} / {}", d(m), d(t)),
        (Some(m), None) => d(m),
        (None, Some(t)) => format!("- / {}", d(t)),
        _ => "-".into(),
    }
}

/// The page for `runbook`'s runs (newest first).
pub(crate) fn render(runbook: &str, runs: &[&RunDigest]) -> String {
    let mut drills: Vec<&RunDigest> = runs
        .iter()
        .copied()
        .filter(|r| r.drill.is_some() && r.mode == Mode::Execute)
        .collect();
    drills.sort_by_key(|r| r.started_at);
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (runbook) " history" }
                style { (PreEscaped(CSS)) }
            }
            body {
                h1 { (runbook) ": readiness over time" }
                p.lead {
                    (runs.len()) " runs, " (drills.len()) " executed drills. Achieved RTO: "
                    (RTO_MEASURE) "."
                }
                @match chart(&drills) {
                    Some(svg) => section #chart { h2 { "Achieved RTO per drill" } (svg) },
                    None => p #no-drills { "No drill of this runbook was executed yet." },
                }
                section #runs {
                    h2 { "Runs" }
                    table {
                        thead { tr {
                            th { "Run" } th { "Started" } th { "Mode" } th { "Scenario" } th { "Status" }
                            th { "Verdict" } th { "RTO achieved / objective" }
                            th { "RPO measured / objective" } th { "Slowest steps" }
                        } }
                        tbody {
                            @for r in runs {
                                @let slowest = r.slowest(3);
                                tr.run id={ "run-" (r.run_id) } {
                                    td { code { (r.run_id) } }
                                    td { (r.started_at.format("%Y-%m-%d %H:%M UTC").to_string()) }
                                    td { (match r.mode { Mode::Execute => "execute", Mode::DryRun => "dry-run" }) }
                                    td { (r.drill.as_ref().map(|d| d.scenario.as_str()).unwrap_or("-")) }
                                    td { (r.status) }
                                    td { (r.verdict.as_str()) }
                                    td { (pair(r.recovery_ms, r.rto_ms)) }
                                    td { (pair(r.rpo_measured_ms, r.rpo_ms)) }
                                    td {
                                        @if slowest.is_empty() { "-" }
                                        @for (k, s) in slowest.iter().enumerate() {
                                            @if k > 0 { ", " }
                                            (s.id) " " (d(s.duration_ms))
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    let mut out = page.into_string();
    out.push('\n');
    out
}
