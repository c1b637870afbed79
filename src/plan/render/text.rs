//! The plan as text, for an engineer at a terminal.

use std::fmt::Write as _;
use std::time::Duration;

use super::common::View;
use super::common::short_duration as d;
use crate::plan::{Plan, StepIdx};
use crate::runbook::Runbook;

/// Steps above this count get no timeline (it would not be readable).
const TIMELINE_MAX_STEPS: usize = 60;
const TIMELINE_WIDTH: u128 = 48;
/// Column widths the timeline picks from (ms).
const NICE_STEPS_MS: &[u128] = &[
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 15_000, 20_000, 30_000,
    60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000, 7_200_000, 10_800_000,
    21_600_000, 43_200_000, 86_400_000,
];

/// Renders the plan: start order with earliest start offsets, the critical path, the makespan
/// against the RTO (with a `warning:` line when the estimate breaks it) and a timeline.
pub fn text(plan: &Plan, runbook: &Runbook) -> String {
    let mut out = String::new();
    let o = &mut out;
    let _ = writeln!(o, "Plan: {}", plan.name());
    if let Some(desc) = plan.description() {
        let _ = writeln!(o, "  {desc}");
    }
    let main = View::main(plan, runbook);
    let cleanup = View::cleanup(plan, runbook);
    let _ = writeln!(
        o,
        "  {} step{}, {} dependenc{}{}",
        main.len(),
        if main.len() == 1 { "" } else { "s" },
        main.edge_count(),
        if main.edge_count() == 1 { "y" } else { "ies" },
        if cleanup.is_empty() {
            String::new()
        } else {
            format!(", {} cleanup step(s)", cleanup.len())
        }
    );
    let _ = writeln!(o);

    if main.is_empty() {
        let _ = writeln!(o, "No steps.");
    } else {
        let _ = writeln!(
            o,
            "Start order (START = earliest start from the beginning of the run; * = critical path)"
        );
        table(o, &main, Duration::ZERO, true);
    }
    if !cleanup.is_empty() {
        let _ = writeln!(o);
        let _ = writeln!(
            o,
            "Cleanup (finally: runs after the steps above, whatever their outcome)"
        );
        table(o, &cleanup, plan.makespan(), false);
    }

    let _ = writeln!(o);
    if !main.is_empty() {
        let path: Vec<&str> = plan.critical_path().iter().map(|&v| plan.id(v)).collect();
        let _ = writeln!(
            o,
            "Critical path ({}): {}",
            d(plan.critical_length()),
            path.join(" -> ")
        );
    }
    let _ = match plan.max_parallel() {
        None => write!(
            o,
            "Estimated makespan: {} (unlimited parallelism)",
            d(plan.makespan())
        ),
        Some(n) if plan.makespan() == plan.critical_length() => write!(
            o,
            "Estimated makespan: {} with --max-parallel {n} (the critical path)",
            d(plan.makespan())
        ),
        Some(n) => write!(
            o,
            "Estimated makespan: {} with --max-parallel {n} ({} with unlimited parallelism)",
            d(plan.makespan()),
            d(plan.critical_length())
        ),
    };
    if !cleanup.is_empty() {
        let _ = write!(
            o,
            "; cleanup adds {}, total {}",
            d(plan.cleanup_makespan()),
            d(plan.total_with_cleanup())
        );
    }
    let _ = writeln!(o);
    match plan.rto_check() {
        None => {
            let _ = writeln!(o, "RTO: not set (objectives.rto)");
        }
        Some(c) if c.within => {
            let _ = writeln!(
                o,
                "RTO: {} -- OK, the estimate is within it ({} to spare)",
                d(c.rto),
                d(c.rto - c.makespan)
            );
        }
        Some(c) => {
            let _ = writeln!(o, "RTO: {} -- EXCEEDED by {}", d(c.rto), d(c.over_by()));
            let _ = writeln!(
                o,
                "warning: the estimated makespan {} exceeds the RTO {} by {}",
                d(c.makespan),
                d(c.rto),
                d(c.over_by())
            );
            let _ = writeln!(
                o,
                "  help: shorten or parallelize the steps on the critical path, or revisit objectives.rto"
            );
        }
    }

    timeline(o, plan, runbook);
    out
}

fn table(o: &mut String, g: &View, offset: Duration, mark_critical: bool) {
    let rows: Vec<[String; 6]> = g
        .steps()
        .iter()
        .map(|&v| {
            let s = g.step(v);
            let needs = if s.needs.is_empty() {
                "-".to_string()
            } else {
                s.needs.join(", ")
            };
            [
                format!("+{}", d(offset + g.earliest_start(v))),
                d(s.estimate),
                d(g.slack(v)),
                s.id.clone(),
                s.action.clone(),
                needs,
            ]
        })
        .collect();
    let head = ["START", "EST", "SLACK", "STEP", "ACTION", "NEEDS"];
    let mut w = head.map(str::len);
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.len());
        }
    }
    let num_w = g.len().to_string().len();
    let line = |o: &mut String, n: &str, mark: &str, c: [&str; 6]| {
        let _ = writeln!(
            o,
            "  {n:>num_w$} {mark} {:<w0$}  {:<w1$}  {:<w2$}  {:<w3$}  {:<w4$}  {}",
            c[0],
            c[1],
            c[2],
            c[3],
            c[4],
            c[5],
            w0 = w[0],
            w1 = w[1],
            w2 = w[2],
            w3 = w[3],
            w4 = w[4],
        );
    };
    line(o, "#", " ", head);
    for (i, (r, &v)) in rows.iter().zip(g.steps()).enumerate() {
        let mark = if mark_critical && g.is_critical(v) {
            "*"
        } else {
            " "
        };
        let cells = [
            r[0].as_str(),
            r[1].as_str(),
            r[2].as_str(),
            r[3].as_str(),
            r[4].as_str(),
            r[5].as_str(),
        ];
        let line_text = &mut String::new();
        line(line_text, &(i + 1).to_string(), mark, cells);
        o.push_str(&(line_text.trim_end().to_string() + "\n"));
    }
}

fn timeline(o: &mut String, plan: &Plan, runbook: &Runbook) {
    let main = View::main(plan, runbook);
    let cleanup = View::cleanup(plan, runbook);
    let total = plan.total_with_cleanup();
    let count = main.len() + cleanup.len();
    if count == 0 || total.is_zero() {
        return;
    }
    let _ = writeln!(o);
    if count > TIMELINE_MAX_STEPS {
        let _ = writeln!(
            o,
            "Timeline omitted for {count} steps (see --format json, dot or mermaid)"
        );
        return;
    }
    let total_ms = total.as_millis();
    // A round column width, so that the scale is easy to read.
    let raw = total_ms.div_ceil(TIMELINE_WIDTH).max(1);
    let per_col_ms = NICE_STEPS_MS
        .iter()
        .copied()
        .find(|&n| n >= raw)
        .unwrap_or_else(|| raw.div_ceil(86_400_000) * 86_400_000);
    let per_col = Duration::from_millis(per_col_ms as u64);
    let width = total_ms.div_ceil(per_col_ms).max(1) as usize;
    let _ = writeln!(
        o,
        "Timeline (one column = {}; # critical path, = other steps, ~ cleanup)",
        d(per_col)
    );
    let id_w = main
        .steps()
        .iter()
        .map(|&v| main.step(v).id.len())
        .chain(cleanup.steps().iter().map(|&v| cleanup.step(v).id.len()))
        .max()
        .unwrap_or(0);
    let col = |t: Duration| (t.as_millis() / per_col_ms) as usize;
    let bar = |o: &mut String, g: &View, v: StepIdx, offset: Duration, fill: char| {
        let start = offset + g.earliest_start(v);
        let end = start + g.step(v).estimate;
        let (a, mut b) = (col(start), col(end).max(col(start)));
        if end > start && b == a {
            b = a + 1;
        }
        let a = a.min(width);
        let b = b.min(width);
        let mut cells = String::with_capacity(width);
        for i in 0..width {
            cells.push(if i >= a && i < b { fill } else { ' ' });
        }
        if a == b {
            // Zero-length step: a tick where it happens.
            let i = a.min(width - 1);
            cells.replace_range(i..i + 1, "|");
        }
        let _ = writeln!(o, "  {:<id_w$} |{cells}|", g.step(v).id);
    };
    for &v in main.steps() {
        let fill = if main.is_critical(v) { '#' } else { '=' };
        bar(o, &main, v, Duration::ZERO, fill);
    }
    for &v in cleanup.steps() {
        bar(o, &cleanup, v, plan.makespan(), '~');
    }
    let _ = writeln!(o, "  {:<id_w$} 0{:>w$}", "", d(total), w = width + 1);
}
