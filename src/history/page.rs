//! `drillbook history RUNBOOK --format html`: one self-contained page (inline CSS and SVG, no
//! JavaScript, nothing fetched) with the achieved RTO of every drill against the objective over
//! time, and every run below it.

use std::fmt::Write as _;
use std::time::Duration;

use super::RunDigest;
use crate::duration::format_duration;

use crate::report::html::escape as e;

fn d(ms: u64) -> String {
    format_duration(Duration::from_millis(ms))
}

const W: f64 = 760.0;
const H: f64 = 220.0;
const PAD: f64 = 40.0;

/// The chart: one point per executed drill (x: when it started, y: achieved RTO), the
/// objective as a dashed line. `None` when no drill was executed.
fn chart(drills: &[&RunDigest]) -> Option<String> {
    let t0 = drills.iter().map(|r| r.started_at).min()?;
    let t1 = drills.iter().map(|r| r.started_at).max()?;
    let span = (t1 - t0).num_milliseconds().max(1) as f64;
    let top = drills
        .iter()
        .flat_map(|r| [Some(r.recovery_ms), r.rto_ms])
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
    let mut o = String::new();
    let _ = write!(
        o,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" role=\"img\" aria-label=\"achieved RTO per drill\">"
    );
    let _ = write!(
        o,
        "<line class=\"axis\" x1=\"{PAD}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\"/><line class=\"axis\" x1=\"{PAD}\" y1=\"{PAD}\" x2=\"{PAD}\" y2=\"{b}\"/>",
        b = H - PAD,
        r = W - PAD
    );
    let _ = write!(
        o,
        "<text x=\"4\" y=\"{PAD}\" class=\"label\">{}</text><text x=\"4\" y=\"{}\" class=\"label\">0</text>",
        e(&d(top as u64)),
        H - PAD
    );
    // The objective in force at each drill (a scenario may set its own): one segment per value.
    let mut objectives: Vec<u64> = drills.iter().filter_map(|r| r.rto_ms).collect();
    objectives.sort_unstable();
    objectives.dedup();
    for rto in objectives {
        let yy = y(rto);
        let _ = write!(
            o,
            "<line class=\"objective\" data-rto-ms=\"{rto}\" x1=\"{PAD}\" y1=\"{yy:.1}\" x2=\"{}\" y2=\"{yy:.1}\"/><text class=\"label objective-label\" x=\"{}\" y=\"{:.1}\">RTO {}</text>",
            W - PAD,
            W - PAD - 70.0,
            yy - 4.0,
            e(&d(rto))
        );
    }
    for r in drills {
        let met = r.passed_drill();
        let _ = write!(
            o,
            "<circle class=\"drill {}\" data-run=\"{}\" data-recovery-ms=\"{}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"5\"><title>{} {}: {}</title></circle>",
            if met { "passed" } else { "failed" },
            e(&r.run_id),
            r.recovery_ms,
            x(r),
            y(r.recovery_ms),
            e(&r.run_id),
            e(r.drill.as_ref().map(|d| d.verdict.as_str()).unwrap_or("")),
            e(&d(r.recovery_ms))
        );
    }
    let _ = write!(
        o,
        "<text x=\"{PAD}\" y=\"{}\" class=\"label\">{}</text><text x=\"{}\" y=\"{}\" class=\"label\">{}</text></svg>",
        H - PAD + 18.0,
        e(&t0.format("%Y-%m-%d").to_string()),
        W - PAD - 70.0,
        H - PAD + 18.0,
        e(&t1.format("%Y-%m-%d").to_string())
    );
    Some(o)
}

/// The page for `runbook`'s runs (newest first).
pub(crate) fn render(runbook: &str, runs: &[&RunDigest]) -> String {
    let mut drills: Vec<&RunDigest> = runs
        .iter()
        .copied()
        .filter(|r| r.drill.is_some() && r.mode == crate::event::Mode::Execute)
        .collect();
    drills.sort_by_key(|r| r.started_at);
    let mut o = String::new();
    let _ = write!(
        o,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} history</title><style>\
body{{font-family:system-ui,sans-serif;margin:2rem;color:#1b1f24}}h1{{font-size:1.4rem}}\
table{{border-collapse:collapse;margin-top:1rem}}td,th{{border-bottom:1px solid #d0d7de;padding:.3rem .6rem;text-align:left;font-size:.9rem}}\
.axis{{stroke:#57606a}}.objective{{stroke:#cf222e;stroke-dasharray:6 4}}.label{{font-size:11px;fill:#57606a}}\
.drill.passed{{fill:#1a7f37}}.drill.failed{{fill:#cf222e}}.lead{{color:#57606a}}\
</style></head><body><h1>{}: readiness over time</h1>",
        e(runbook),
        e(runbook)
    );
    let _ = write!(
        o,
        "<p class=\"lead\">{} runs, {} executed drills. Achieved RTO: {}.</p>",
        runs.len(),
        drills.len(),
        e(crate::report::timing::RTO_MEASURE)
    );
    match chart(&drills) {
        Some(svg) => {
            o.push_str("<section id=\"chart\"><h2>Achieved RTO per drill</h2>");
            o.push_str(&svg);
            o.push_str("</section>");
        }
        None => o.push_str("<p id=\"no-drills\">No drill of this runbook was executed yet.</p>"),
    }
    o.push_str("<section id=\"runs\"><h2>Runs</h2><table><thead><tr><th>Run</th><th>Started</th><th>Mode</th><th>Scenario</th><th>Status</th><th>Verdict</th><th>RTO achieved / objective</th><th>RPO measured / objective</th><th>Slowest steps</th></tr></thead><tbody>");
    for r in runs {
        let slowest: Vec<String> = r
            .slowest(3)
            .iter()
            .map(|s| format!("{} {}", e(&s.id), e(&d(s.duration_ms))))
            .collect();
        let pair = |m: Option<u64>, t: Option<u64>| match (m, t) {
            (Some(m), Some(t)) => format!("{} / {}", d(m), d(t)),
            (Some(m), None) => d(m),
            (None, Some(t)) => format!("- / {}", d(t)),
            _ => "-".into(),
        };
        let _ = write!(
            o,
            "<tr class=\"run\" id=\"run-{}\"><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            e(&r.run_id),
            e(&r.run_id),
            e(&r.started_at.format("%Y-%m-%d %H:%M UTC").to_string()),
            e(match r.mode {
                crate::event::Mode::Execute => "execute",
                crate::event::Mode::DryRun => "dry-run",
            }),
            e(r.drill.as_ref().map(|d| d.scenario.as_str()).unwrap_or("-")),
            e(&r.status),
            e(r.drill.as_ref().map(|d| d.verdict.as_str()).unwrap_or("-")),
            e(&pair(Some(r.recovery_ms), r.rto_ms)),
            e(&pair(r.rpo_measured_ms, r.rpo_ms)),
            if slowest.is_empty() {
                "-".to_string()
            } else {
                slowest.join(", ")
            }
        );
    }
    o.push_str("</tbody></table></section></body></html>\n");
    o
}
