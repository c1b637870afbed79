//! Helpers shared by the renderers.

use std::collections::HashSet;
use std::time::Duration;

use crate::plan::{Graph, Plan, StepIdx};
use crate::runbook::{Runbook, Step};

/// A graph of the plan together with the steps it was built from.
pub(super) struct View<'a> {
    g: &'a Graph,
    steps: &'a [Step],
}

impl<'a> View<'a> {
    pub(super) fn main(plan: &'a Plan, runbook: &'a Runbook) -> Self {
        View {
            g: plan.main(),
            steps: &runbook.steps,
        }
    }
    pub(super) fn cleanup(plan: &'a Plan, runbook: &'a Runbook) -> Self {
        View {
            g: plan.cleanup(),
            steps: &runbook.finally,
        }
    }
    /// # Panics
    /// When the runbook is not the one the plan was built from.
    pub(super) fn step(&self, v: StepIdx) -> &'a Step {
        &self.steps[v.index()]
    }
    pub(super) fn id(&self, v: StepIdx) -> &'a str {
        self.g.id(v)
    }
}

impl std::ops::Deref for View<'_> {
    type Target = Graph;
    fn deref(&self) -> &Graph {
        self.g
    }
}

/// A compact, exact duration for plans: `0s`, `500ms`, `1.5s`, `20m30s`, `1h5m`.
pub fn short_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let (h, rest) = (ms / 3_600_000, ms % 3_600_000);
    let (m, rest) = (rest / 60_000, rest % 60_000);
    let (s, frac) = (rest / 1000, rest % 1000);
    let mut out = String::new();
    if h > 0 {
        out += &format!("{h}h");
    }
    if m > 0 {
        out += &format!("{m}m");
    }
    if frac > 0 {
        let f = format!("{frac:03}");
        out += &format!("{s}.{}s", f.trim_end_matches('0'));
    } else if s > 0 {
        out += &format!("{s}s");
    }
    out
}

/// Edges of a graph in a stable order: for each step in start order, its `needs` in the order
/// written (each once). Returns `(dependency, dependent)` pairs.
pub(super) fn edges(g: &View) -> Vec<(StepIdx, StepIdx)> {
    let mut out = Vec::with_capacity(g.edge_count());
    let mut seen = HashSet::new();
    for &v in g.steps() {
        seen.clear();
        for need in &g.step(v).needs {
            if let Some(u) = g.index_of(need)
                && seen.insert(u)
            {
                out.push((u, v));
            }
        }
    }
    out
}

/// Consecutive pairs of the critical path.
pub(super) fn critical_edges(g: &Graph) -> HashSet<(StepIdx, StepIdx)> {
    g.critical_path().windows(2).map(|w| (w[0], w[1])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_durations() {
        let ms = Duration::from_millis;
        assert_eq!(short_duration(ms(0)), "0s");
        assert_eq!(short_duration(ms(500)), "500ms");
        assert_eq!(short_duration(ms(1500)), "1.5s");
        assert_eq!(short_duration(ms(30_000)), "30s");
        assert_eq!(short_duration(ms(1_230_000)), "20m30s");
        assert_eq!(short_duration(ms(3_900_000)), "1h5m");
        assert_eq!(short_duration(ms(3_600_250)), "1h0.25s");
    }
}
