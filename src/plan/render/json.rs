//! The plan as JSON (see docs/plan-json.md). Field names and meanings are stable within a
//! `format_version`; new fields may be added.

use serde::Serialize;

use super::common::View;
use crate::plan::Plan;
use crate::runbook::Runbook;

/// Version of the JSON layout; bumped on any incompatible change.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Serialize)]
struct PlanJson<'a> {
    format_version: u32,
    runbook: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    /// Under `max_parallel` (list scheduling, as the engine starts steps).
    makespan_ms: u64,
    /// `null`: unlimited parallelism.
    max_parallel: Option<usize>,
    /// The critical path's length: the makespan with unlimited parallelism.
    critical_path_ms: u64,
    rto_check: Option<RtoJson>,
    critical_path: Vec<&'a str>,
    steps: Vec<StepJson<'a>>,
    cleanup: CleanupJson<'a>,
    /// Learned estimates and the p50/p90 forecast (`drillbook plan --estimates`).
    #[serde(skip_serializing_if = "Option::is_none")]
    estimates: Option<serde_json::Value>,
}

#[derive(Serialize)]
struct RtoJson {
    rto_ms: u64,
    makespan_ms: u64,
    within: bool,
    over_by_ms: u64,
}

#[derive(Serialize)]
struct CleanupJson<'a> {
    makespan_ms: u64,
    critical_path: Vec<&'a str>,
    steps: Vec<StepJson<'a>>,
}

#[derive(Serialize)]
struct StepJson<'a> {
    id: &'a str,
    action: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<&'a str>,
    needs: Vec<&'a str>,
    dependents: Vec<&'a str>,
    estimate_ms: u64,
    earliest_start_ms: u64,
    latest_start_ms: u64,
    slack_ms: u64,
    critical: bool,
}

fn ms(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn steps<'a>(g: &View<'a>) -> Vec<StepJson<'a>> {
    // Dependents in start order, for a stable output.
    let mut pos = vec![0usize; g.len()];
    for (p, v) in g.steps().iter().enumerate() {
        pos[v.index()] = p;
    }
    g.steps()
        .iter()
        .map(|&v| {
            let s = g.step(v);
            let mut dependents: Vec<_> = g.dependents(v).collect();
            dependents.sort_unstable_by_key(|w| pos[w.index()]);
            StepJson {
                id: &s.id,
                action: &s.action,
                region: s.region.as_deref(),
                needs: s.needs.iter().map(String::as_str).collect(),
                dependents: dependents.iter().map(|&w| g.id(w)).collect(),
                estimate_ms: ms(s.estimate),
                earliest_start_ms: ms(g.earliest_start(v)),
                latest_start_ms: ms(g.latest_start(v)),
                slack_ms: ms(g.slack(v)),
                critical: g.is_critical(v),
            }
        })
        .collect()
}

fn path<'a>(g: &View<'a>) -> Vec<&'a str> {
    g.critical_path()
        .iter()
        .map(|&v| g.step(v).id.as_str())
        .collect()
}

fn doc<'a>(plan: &'a Plan, runbook: &'a Runbook) -> PlanJson<'a> {
    PlanJson {
        format_version: FORMAT_VERSION,
        runbook: plan.name(),
        description: plan.description(),
        makespan_ms: ms(plan.makespan()),
        max_parallel: plan.max_parallel(),
        critical_path_ms: ms(plan.critical_length()),
        rto_check: plan.rto_check().map(|c| RtoJson {
            rto_ms: ms(c.rto),
            makespan_ms: ms(c.makespan),
            within: c.within,
            over_by_ms: ms(c.over_by()),
        }),
        critical_path: path(&View::main(plan, runbook)),
        steps: steps(&View::main(plan, runbook)),
        cleanup: CleanupJson {
            makespan_ms: ms(plan.cleanup_makespan()),
            critical_path: path(&View::cleanup(plan, runbook)),
            steps: steps(&View::cleanup(plan, runbook)),
        },
        estimates: None,
    }
}

/// The plan as a `serde_json::Value` (object keys sorted).
pub fn json_value(plan: &Plan, runbook: &Runbook) -> serde_json::Value {
    serde_json::to_value(doc(plan, runbook)).unwrap_or(serde_json::Value::Null)
}

/// The plan as pretty-printed JSON (fields in documented order), ending with a newline.
pub fn json(plan: &Plan, runbook: &Runbook) -> String {
    json_with(plan, runbook, None)
}

/// [`json`], with the learned estimates and forecast under `estimates`.
pub fn json_with(plan: &Plan, runbook: &Runbook, estimates: Option<serde_json::Value>) -> String {
    let mut d = doc(plan, runbook);
    d.estimates = estimates;
    let mut s = serde_json::to_string_pretty(&d).unwrap_or_default();
    s.push('\n');
    s
}
