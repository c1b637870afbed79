//! The plan's DAG and the scheduling figures computed on it.
//!
//! A [`Graph`] is built once from a list of steps and never changes afterwards (sealed): the
//! engine walks it, reports read it. Node indices equal the step's position in the list it was
//! built from (`idx.index()` is the position in `Runbook::steps`, or in `Runbook::finally` for
//! the cleanup graph), so per-step arrays can be indexed by `idx.index()`, and the step itself is
//! `runbook.steps[idx.index()]` (see [`Plan::step`]). The plan keeps only ids and estimates, not
//! copies of the steps.
//!
//! Every algorithm here is linear in steps plus `needs` edges, except the start order, which uses
//! a binary heap (`O(E + V log V)`).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::time::Duration;

use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::runbook::{Runbook, Step};

/// Index of a step in a [`Graph`]; `idx.index()` is the step's position in its source list.
pub type StepIdx = NodeIndex<u32>;

/// Why a plan could not be built. Input is normally validated first; these are the checks the
/// planner cannot do without.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// `cycle` lists ids where each step needs the next; the last equals the first.
    #[error(
        "dependency cycle in `{section}`: {}\nhelp: remove one of these `needs` entries to break the cycle",
        describe_cycle(.cycle)
    )]
    Cycle {
        section: &'static str,
        cycle: Vec<String>,
    },
    #[error(
        "step `{step}` needs `{needs}`, which is not a step of this runbook\nhelp: fix the id in `needs` or add the missing step"
    )]
    UnknownDependency { step: String, needs: String },
    #[error(
        "duplicate step id `{id}`\nhelp: give every step (in `steps` and `finally`) its own id"
    )]
    DuplicateId { id: String },
}

fn describe_cycle(cycle: &[String]) -> String {
    if cycle.len() == 2 {
        return format!("`{}` needs itself", cycle[0]);
    }
    let chain: Vec<String> = cycle.iter().map(|s| format!("`{s}`")).collect();
    format!("{} (each step needs the next)", chain.join(" -> "))
}

/// A sealed dependency graph of steps with its schedule (estimates, earliest and latest start,
/// critical path).
#[derive(Debug, Clone)]
pub struct Graph {
    /// Node weights are step ids. Edge `a -> b` means `b` needs `a`.
    graph: DiGraph<Box<str>, ()>,
    /// Node indices sorted by id, for `index_of`.
    by_id: Vec<StepIdx>,
    estimates: Vec<Duration>,
    order: Vec<StepIdx>,
    earliest: Vec<Duration>,
    latest: Vec<Duration>,
    makespan: Duration,
    critical: Vec<StepIdx>,
    on_critical: Vec<bool>,
}

/// The makespan estimate compared with `objectives.rto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtoCheck {
    pub rto: Duration,
    pub makespan: Duration,
    /// `makespan <= rto`.
    pub within: bool,
}

impl RtoCheck {
    /// How far the estimate is over the RTO (zero when within).
    pub fn over_by(&self) -> Duration {
        self.makespan.saturating_sub(self.rto)
    }
}

/// The plan of a runbook: the main graph (`steps`) and the cleanup graph (`finally`, run after
/// the main graph whatever its outcome). Methods on `Plan` itself describe the main graph.
#[derive(Debug, Clone)]
pub struct Plan {
    name: String,
    description: Option<String>,
    rto: Option<Duration>,
    main: Graph,
    cleanup: Graph,
    /// Steps the run will start at once (`--max-parallel`); `None`: unlimited.
    max_parallel: Option<usize>,
    /// Makespans of the main and cleanup graphs under `max_parallel`.
    forecast: (Duration, Duration),
}

impl Plan {
    /// Builds and seals the plan. Never panics, whatever the input.
    pub fn build(runbook: &Runbook) -> Result<Plan, PlanError> {
        let mut seen = HashSet::with_capacity(runbook.steps.len() + runbook.finally.len());
        for s in runbook.steps.iter().chain(&runbook.finally) {
            if !seen.insert(s.id.as_str()) {
                return Err(PlanError::DuplicateId { id: s.id.clone() });
            }
        }
        let main = Graph::build(&runbook.steps, "steps", None)?;
        let cleanup = Graph::build(&runbook.finally, "finally", Some(&main))?;
        let forecast = (main.makespan(), cleanup.makespan());
        Ok(Plan {
            name: runbook.name.clone(),
            description: runbook.description.clone(),
            rto: runbook.objectives.rto,
            main,
            cleanup,
            max_parallel: None,
            forecast,
        })
    }

    /// The plan of a run that starts at most `n` steps at once (`--max-parallel`, at least 1):
    /// [`Plan::makespan`] becomes the list-scheduled makespan the engine's ready queue gives.
    pub fn with_max_parallel(mut self, n: usize) -> Plan {
        let n = n.max(1);
        self.max_parallel = Some(n);
        self.forecast = (self.main.list_schedule(n), self.cleanup.list_schedule(n));
        self
    }

    /// The `--max-parallel` the makespan assumes; `None` for unlimited parallelism.
    pub fn max_parallel(&self) -> Option<usize> {
        self.max_parallel
    }

    /// The length of the critical path: the makespan with unlimited parallelism.
    pub fn critical_length(&self) -> Duration {
        self.main.makespan()
    }

    /// Estimated makespan of the cleanup graph under [`Plan::max_parallel`].
    pub fn cleanup_makespan(&self) -> Duration {
        self.forecast.1
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }
    /// The main graph (`steps`).
    pub fn main(&self) -> &Graph {
        &self.main
    }
    /// The cleanup graph (`finally`). Its offsets are relative to the end of the main graph;
    /// `needs` on main steps are implied (cleanup starts after the whole main graph).
    pub fn cleanup(&self) -> &Graph {
        &self.cleanup
    }
    /// Main steps in a valid start order. See [`Graph::steps`].
    pub fn steps(&self) -> &[StepIdx] {
        self.main.steps()
    }
    /// The main step at `idx` in the runbook this plan was built from (`None` for another
    /// runbook whose `steps` are shorter).
    pub fn step<'r>(&self, runbook: &'r Runbook, idx: StepIdx) -> Option<&'r Step> {
        runbook.steps.get(idx.index())
    }
    /// The cleanup step at `idx` (an index of [`Plan::cleanup`]).
    pub fn cleanup_step<'r>(&self, runbook: &'r Runbook, idx: StepIdx) -> Option<&'r Step> {
        runbook.finally.get(idx.index())
    }
    /// Id of the main step at `idx`.
    pub fn id(&self, idx: StepIdx) -> &str {
        self.main.id(idx)
    }
    pub fn len(&self) -> usize {
        self.main.len()
    }
    pub fn is_empty(&self) -> bool {
        self.main.is_empty()
    }
    pub fn index_of(&self, id: &str) -> Option<StepIdx> {
        self.main.index_of(id)
    }
    pub fn dependencies(&self, idx: StepIdx) -> impl Iterator<Item = StepIdx> + '_ {
        self.main.dependencies(idx)
    }
    pub fn dependents(&self, idx: StepIdx) -> impl Iterator<Item = StepIdx> + '_ {
        self.main.dependents(idx)
    }
    pub fn earliest_start(&self, idx: StepIdx) -> Duration {
        self.main.earliest_start(idx)
    }
    pub fn latest_start(&self, idx: StepIdx) -> Duration {
        self.main.latest_start(idx)
    }
    pub fn slack(&self, idx: StepIdx) -> Duration {
        self.main.slack(idx)
    }
    pub fn critical_path(&self) -> &[StepIdx] {
        self.main.critical_path()
    }
    pub fn is_critical(&self, idx: StepIdx) -> bool {
        self.main.is_critical(idx)
    }
    /// Estimated duration of the main graph with unlimited parallelism.
    /// Estimated makespan of the main graph under [`Plan::max_parallel`] (the critical path's
    /// length when parallelism is unlimited).
    pub fn makespan(&self) -> Duration {
        self.forecast.0
    }
    /// Critical path of the main graph for other durations (for example measured ones).
    pub fn critical_path_with(&self, durations: &[Duration]) -> (Vec<StepIdx>, Duration) {
        self.main.critical_path_with(durations)
    }
    /// `None` when the runbook has no `objectives.rto`. Cleanup is not counted against the RTO.
    pub fn rto_check(&self) -> Option<RtoCheck> {
        self.rto.map(|rto| RtoCheck {
            rto,
            makespan: self.makespan(),
            within: self.makespan() <= rto,
        })
    }
    /// Estimated duration of the main graph followed by the cleanup graph.
    pub fn total_with_cleanup(&self) -> Duration {
        self.makespan().saturating_add(self.cleanup_makespan())
    }
}

impl Graph {
    /// `outer`: ids that may appear in `needs` without being part of this graph (main-graph ids
    /// for the cleanup graph); such entries add no edge.
    fn build(
        steps: &[Step],
        section: &'static str,
        outer: Option<&Graph>,
    ) -> Result<Graph, PlanError> {
        let n = steps.len();
        let mut graph: DiGraph<Box<str>, ()> = DiGraph::with_capacity(n, n * 2);
        // Borrowed ids for the build only: no copy of the steps is kept.
        let mut index: HashMap<&str, StepIdx> = HashMap::with_capacity(n);
        for s in steps {
            let idx = graph.add_node(s.id.as_str().into());
            index.insert(s.id.as_str(), idx);
        }
        let mut deps: Vec<StepIdx> = Vec::new();
        // Each step's dependencies as indices, in the order `needs` lists them (for the cycle
        // message), without repeats.
        let mut needs: Vec<Vec<usize>> = Vec::with_capacity(n);
        let mut listed_by: Vec<usize> = vec![usize::MAX; n];
        for (i, s) in steps.iter().enumerate() {
            deps.clear();
            for need in &s.needs {
                match index.get(need.as_str()) {
                    Some(&d) => deps.push(d),
                    None if outer.is_some_and(|o| o.index_of(need).is_some()) => {}
                    None => {
                        return Err(PlanError::UnknownDependency {
                            step: s.id.clone(),
                            needs: need.clone(),
                        });
                    }
                }
            }
            let mut listed: Vec<usize> = Vec::with_capacity(deps.len());
            for d in &deps {
                // Marked with the step's own index: linear however many needs a step lists.
                if listed_by[d.index()] != i {
                    listed_by[d.index()] = i;
                    listed.push(d.index());
                }
            }
            needs.push(listed);
            deps.sort_unstable();
            deps.dedup();
            for &d in &deps {
                graph.add_edge(d, NodeIndex::new(i), ());
            }
        }

        let topo =
            topo_order(&needs, steps).map_err(|cycle| PlanError::Cycle { section, cycle })?;
        let est: Vec<Duration> = steps.iter().map(|s| s.estimate).collect();
        let forward = longest_paths(&graph, &topo, &est);
        let makespan = forward.length;

        // Latest start: backwards from the makespan.
        let mut latest = vec![Duration::ZERO; n];
        for &v in topo.iter().rev() {
            let finish = graph
                .neighbors_directed(v, Direction::Outgoing)
                .map(|w| latest[w.index()])
                .min()
                .unwrap_or(makespan);
            latest[v.index()] = finish.saturating_sub(est[v.index()]);
        }

        // Start order: by earliest start, then id, as far as dependencies allow.
        let mut by_id: Vec<StepIdx> = graph.node_indices().collect();
        by_id.sort_unstable_by(|&a, &b| graph[a].cmp(&graph[b]));
        let mut id_rank = vec![0u32; n];
        for (rank, &v) in by_id.iter().enumerate() {
            id_rank[v.index()] = rank as u32;
        }
        let mut indegree: Vec<u32> = (0..n)
            .map(|i| {
                graph
                    .neighbors_directed(NodeIndex::new(i), Direction::Incoming)
                    .count() as u32
            })
            .collect();
        let mut heap: BinaryHeap<Reverse<(Duration, u32, u32)>> = (0..n)
            .filter(|&i| indegree[i] == 0)
            .map(|i| Reverse((forward.earliest[i], id_rank[i], i as u32)))
            .collect();
        let mut order = Vec::with_capacity(n);
        while let Some(Reverse((_, _, i))) = heap.pop() {
            let v = NodeIndex::new(i as usize);
            order.push(v);
            for w in graph.neighbors_directed(v, Direction::Outgoing) {
                let d = &mut indegree[w.index()];
                *d -= 1;
                if *d == 0 {
                    heap.push(Reverse((
                        forward.earliest[w.index()],
                        id_rank[w.index()],
                        w.index() as u32,
                    )));
                }
            }
        }

        // Trace the critical path again along the start order, so that ties are broken the same
        // way as in `critical_path_with`.
        let critical = longest_paths(&graph, &order, &est).path;
        let mut on_critical = vec![false; n];
        for v in &critical {
            on_critical[v.index()] = true;
        }
        Ok(Graph {
            graph,
            by_id,
            estimates: est,
            order,
            earliest: forward.earliest,
            latest,
            makespan,
            critical,
            on_critical,
        })
    }

    /// Steps in a valid start order: by earliest start, then by id, except that a step always
    /// comes after every step it needs (zero-length estimates can tie).
    pub fn steps(&self) -> &[StepIdx] {
        &self.order
    }
    /// Id of the step at `idx` (empty for an index from another graph).
    pub fn id(&self, idx: StepIdx) -> &str {
        self.graph.node_weight(idx).map(|s| &**s).unwrap_or("")
    }
    pub fn len(&self) -> usize {
        self.graph.node_count()
    }
    pub fn is_empty(&self) -> bool {
        self.graph.node_count() == 0
    }
    pub fn edge_count(&self) -> usize {
        self.graph.edge_count()
    }
    /// Read-only view of the underlying graph: node weights are step ids, edge `a -> b` means
    /// `b` needs `a`.
    pub fn graph(&self) -> &DiGraph<Box<str>, ()> {
        &self.graph
    }
    /// The index of step `id` (binary search, `O(log n)`).
    pub fn index_of(&self, id: &str) -> Option<StepIdx> {
        self.by_id
            .binary_search_by(|&v| (*self.graph[v]).cmp(id))
            .ok()
            .map(|p| self.by_id[p])
    }
    /// Steps `idx` needs (within this graph), each once.
    pub fn dependencies(&self, idx: StepIdx) -> impl Iterator<Item = StepIdx> + '_ {
        self.graph.neighbors_directed(idx, Direction::Incoming)
    }
    /// Steps that need `idx`, each once.
    pub fn dependents(&self, idx: StepIdx) -> impl Iterator<Item = StepIdx> + '_ {
        self.graph.neighbors_directed(idx, Direction::Outgoing)
    }
    /// Offset from the start of the graph at which `idx` can start at the earliest.
    pub fn earliest_start(&self, idx: StepIdx) -> Duration {
        self.earliest.get(idx.index()).copied().unwrap_or_default()
    }
    /// Latest offset at which `idx` can start without delaying the makespan.
    pub fn latest_start(&self, idx: StepIdx) -> Duration {
        self.latest.get(idx.index()).copied().unwrap_or_default()
    }
    /// How much `idx` can slip without delaying the makespan.
    pub fn slack(&self, idx: StepIdx) -> Duration {
        self.latest_start(idx)
            .saturating_sub(self.earliest_start(idx))
    }
    /// Estimated duration of `idx`.
    pub fn estimate(&self, idx: StepIdx) -> Duration {
        self.estimates.get(idx.index()).copied().unwrap_or_default()
    }
    /// One longest chain of steps (by estimate), from a step with no dependencies to the step
    /// that finishes last. Ties go to the earlier step in start order. Empty for an empty graph.
    pub fn critical_path(&self) -> &[StepIdx] {
        &self.critical
    }
    /// Whether `idx` is on [`Graph::critical_path`].
    pub fn is_critical(&self, idx: StepIdx) -> bool {
        self.on_critical.get(idx.index()).copied().unwrap_or(false)
    }
    /// Estimated duration of the graph with unlimited parallelism (the critical path's length).
    pub fn makespan(&self) -> Duration {
        self.makespan
    }

    /// The makespan when at most `workers` steps run at once, scheduled as the engine does:
    /// ready steps start in a FIFO queue (first the steps that need nothing, in runbook order;
    /// then each finished step's dependents, in runbook order), each taking its estimate.
    pub fn list_schedule(&self, workers: usize) -> Duration {
        use std::collections::VecDeque;
        let n = self.len();
        let needs: Vec<Vec<usize>> = (0..n)
            .map(|i| {
                self.graph
                    .neighbors_directed(NodeIndex::new(i), Direction::Incoming)
                    .map(|d| d.index())
                    .collect()
            })
            .collect();
        let dependents = crate::dag::dependents(&needs);
        let mut remaining: Vec<usize> = needs.iter().map(Vec::len).collect();
        let mut ready: VecDeque<usize> = (0..n).filter(|&i| remaining[i] == 0).collect();
        // (finish time, start sequence, step): the earliest finish first, ties in start order.
        let mut running: BinaryHeap<Reverse<(Duration, usize, usize)>> = BinaryHeap::new();
        let (mut now, mut started) = (Duration::ZERO, 0usize);
        loop {
            while running.len() < workers.max(1) {
                let Some(i) = ready.pop_front() else { break };
                running.push(Reverse((now.saturating_add(self.estimates[i]), started, i)));
                started += 1;
            }
            let Some(Reverse((at, _, i))) = running.pop() else {
                break;
            };
            now = at;
            for &j in &dependents[i] {
                remaining[j] -= 1;
                if remaining[j] == 0 {
                    ready.push_back(j);
                }
            }
        }
        now
    }
    /// The critical path and its length for other durations, indexed by `idx.index()` (for
    /// example measured durations; steps that did not run count as zero). Missing entries count
    /// as zero, extra entries are ignored.
    pub fn critical_path_with(&self, durations: &[Duration]) -> (Vec<StepIdx>, Duration) {
        let dur: Vec<Duration> = (0..self.len())
            .map(|i| durations.get(i).copied().unwrap_or_default())
            .collect();
        // The start order is a topological order.
        let r = longest_paths(&self.graph, &self.order, &dur);
        (r.path, r.length)
    }
}

/// The one topological order (`crate::dag`), or the ids of one cycle: found from the
/// smallest id left, following each step's first listed need that is also left, then rotated
/// to start at its smallest id, with the first id repeated at the end.
fn topo_order(needs: &[Vec<usize>], steps: &[Step]) -> Result<Vec<StepIdx>, Vec<String>> {
    let (order, left) = crate::dag::topo_order(needs);
    if left.is_empty() {
        return Ok(order.into_iter().map(NodeIndex::new).collect());
    }
    let start = left
        .iter()
        .copied()
        .min_by(|&a, &b| steps[a].id.cmp(&steps[b].id))
        .unwrap_or_default();
    let mut walk = crate::dag::cycle_from(needs, &left, start);
    let min = walk
        .iter()
        .enumerate()
        .min_by(|a, b| steps[*a.1].id.cmp(&steps[*b.1].id))
        .map(|(i, _)| i)
        .unwrap_or(0);
    walk.rotate_left(min);
    let mut ids: Vec<String> = walk.iter().map(|&v| steps[v].id.clone()).collect();
    if let Some(first) = ids.first().cloned() {
        ids.push(first);
    }
    Err(ids)
}

struct Longest {
    earliest: Vec<Duration>,
    length: Duration,
    path: Vec<StepIdx>,
}

/// Earliest starts and one longest path, given a topological order and per-node durations.
/// Ties keep the predecessor that comes first in `topo`.
fn longest_paths(graph: &DiGraph<Box<str>, ()>, topo: &[StepIdx], dur: &[Duration]) -> Longest {
    let n = graph.node_count();
    let mut earliest = vec![Duration::ZERO; n];
    let mut pred: Vec<Option<StepIdx>> = vec![None; n];
    let mut rank = vec![0usize; n];
    for (r, &v) in topo.iter().enumerate() {
        rank[v.index()] = r;
    }
    let mut end: Option<(Duration, StepIdx)> = None;
    for &v in topo {
        let mut best: Option<(Duration, StepIdx)> = None;
        for u in graph.neighbors_directed(v, Direction::Incoming) {
            let finish = earliest[u.index()].saturating_add(dur[u.index()]);
            let better = match best {
                None => true,
                Some((f, b)) => finish > f || (finish == f && rank[u.index()] < rank[b.index()]),
            };
            if better {
                best = Some((finish, u));
            }
        }
        if let Some((f, u)) = best {
            earliest[v.index()] = f;
            pred[v.index()] = Some(u);
        }
        let finish = earliest[v.index()].saturating_add(dur[v.index()]);
        if end.is_none_or(|(f, _)| finish > f) {
            end = Some((finish, v));
        }
    }
    let mut path = vec![];
    let mut cur = end.map(|(_, v)| v);
    while let Some(v) = cur {
        path.push(v);
        cur = pred[v.index()];
    }
    path.reverse();
    Longest {
        earliest,
        length: end.map(|(f, _)| f).unwrap_or_default(),
        path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::fixtures::{failover, runbook, step};

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }
    fn ids(plan: &Graph, v: &[StepIdx]) -> Vec<String> {
        v.iter().map(|&i| plan.id(i).to_string()).collect()
    }
    fn idx(plan: &Plan, id: &str) -> StepIdx {
        plan.index_of(id).unwrap()
    }

    #[test]
    fn makespan_and_critical_path() {
        let plan = Plan::build(&failover(None)).unwrap();
        assert_eq!(plan.makespan(), secs(30 + 720 + 60 + 45));
        assert_eq!(
            ids(plan.main(), plan.critical_path()),
            ["freeze-writes", "restore-vault", "switch-dns", "verify"]
        );
        assert!(plan.is_critical(idx(&plan, "restore-vault")));
        assert!(!plan.is_critical(idx(&plan, "promote-key")));
    }

    #[test]
    fn list_scheduling_bounds_the_makespan_by_max_parallel() {
        // Four independent 1 s steps, then one that needs them all (1 s).
        let mut rb = failover(None);
        let wait = |id: &str, needs: &[&str]| {
            let mut s = rb.steps[0].clone();
            s.id = id.into();
            s.needs = needs.iter().map(|n| n.to_string()).collect();
            s.estimate = secs(1);
            s
        };
        rb.steps = vec![
            wait("a", &[]),
            wait("b", &[]),
            wait("c", &[]),
            wait("d", &[]),
            wait("e", &["a", "b", "c", "d"]),
        ];
        rb.finally.clear();
        let plan = Plan::build(&rb).unwrap();
        assert_eq!(plan.makespan(), secs(2), "unlimited: the critical path");
        assert_eq!(plan.max_parallel(), None);
        for (n, want) in [(1, 5), (2, 3), (3, 3), (4, 2), (8, 2)] {
            let p = plan.clone().with_max_parallel(n);
            assert_eq!(p.makespan(), secs(want), "--max-parallel {n}");
            assert_eq!(p.critical_length(), secs(2));
        }
        let rb = failover(Some(1));
        let p = Plan::build(&rb).unwrap().with_max_parallel(0);
        assert_eq!(p.max_parallel(), Some(1), "at least one step at a time");
        let serial: Duration = rb.steps.iter().map(|s| s.estimate).sum();
        assert_eq!(
            p.makespan(),
            serial,
            "one at a time: the sum of the estimates"
        );
    }

    #[test]
    fn earliest_latest_and_slack() {
        let plan = Plan::build(&failover(None)).unwrap();
        let check = |id: &str, es: u64, ls: u64| {
            let v = idx(&plan, id);
            assert_eq!(plan.earliest_start(v), secs(es), "earliest start of {id}");
            assert_eq!(plan.latest_start(v), secs(ls), "latest start of {id}");
            assert_eq!(plan.slack(v), secs(ls - es), "slack of {id}");
        };
        check("freeze-writes", 0, 0);
        check("check-alarms", 0, 595);
        check("restore-vault", 30, 30);
        check("promote-key", 30, 600);
        check("check-api", 150, 720);
        check("switch-dns", 750, 750);
        check("verify", 810, 810);
    }

    #[test]
    fn dependencies_and_dependents() {
        let plan = Plan::build(&failover(None)).unwrap();
        let mut deps = ids(
            plan.main(),
            &plan
                .dependencies(idx(&plan, "promote-key"))
                .collect::<Vec<_>>(),
        );
        deps.sort();
        assert_eq!(deps, ["check-alarms", "freeze-writes"]);
        let mut dependents = ids(
            plan.main(),
            &plan
                .dependents(idx(&plan, "freeze-writes"))
                .collect::<Vec<_>>(),
        );
        dependents.sort();
        assert_eq!(dependents, ["promote-key", "restore-vault"]);
        assert_eq!(plan.index_of("nope"), None);
        // Node indices are positions in `steps`.
        assert_eq!(idx(&plan, "check-alarms").index(), 1);
    }

    #[test]
    fn start_order_by_earliest_start_then_id() {
        let plan = Plan::build(&failover(None)).unwrap();
        assert_eq!(
            ids(plan.main(), plan.steps()),
            [
                "check-alarms",
                "freeze-writes",
                "promote-key",
                "restore-vault",
                "check-api",
                "switch-dns",
                "verify"
            ]
        );
    }

    #[test]
    fn start_order_keeps_dependencies_first_on_zero_estimates() {
        // `a` needs `z`, both start at 0 because `z` takes no time: `z` must still come first.
        let rb = runbook(
            vec![step("a", 10, &["z"]), step("z", 0, &[]), step("m", 0, &[])],
            vec![],
            None,
        );
        let plan = Plan::build(&rb).unwrap();
        assert_eq!(ids(plan.main(), plan.steps()), ["m", "z", "a"]);
        assert_eq!(plan.makespan(), secs(10));
    }

    #[test]
    fn duplicate_needs_add_one_edge() {
        let rb = runbook(
            vec![step("a", 1, &[]), step("b", 1, &["a", "a"])],
            vec![],
            None,
        );
        let plan = Plan::build(&rb).unwrap();
        assert_eq!(plan.main().edge_count(), 1);
        assert_eq!(plan.dependents(idx(&plan, "a")).count(), 1);
    }

    #[test]
    fn cycle_names_the_whole_cycle() {
        let rb = runbook(
            vec![
                step("start", 1, &[]),
                step("c", 1, &["b"]),
                step("b", 1, &["a", "start"]),
                step("a", 1, &["c"]),
                step("tail", 1, &["a"]),
            ],
            vec![],
            None,
        );
        let err = Plan::build(&rb).unwrap_err();
        assert_eq!(
            err,
            PlanError::Cycle {
                section: "steps",
                cycle: vec!["a".into(), "c".into(), "b".into(), "a".into()],
            }
        );
        assert_eq!(
            err.to_string(),
            "dependency cycle in `steps`: `a` -> `c` -> `b` -> `a` (each step needs the next)\n\
             help: remove one of these `needs` entries to break the cycle"
        );
    }

    #[test]
    fn self_dependency_is_a_cycle() {
        let rb = runbook(vec![step("a", 1, &["a"])], vec![], None);
        let err = Plan::build(&rb).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("dependency cycle in `steps`: `a` needs itself"),
            "{err}"
        );
    }

    #[test]
    fn cycle_in_finally() {
        let rb = runbook(
            vec![step("a", 1, &[])],
            vec![step("x", 1, &["y", "a"]), step("y", 1, &["x"])],
            None,
        );
        assert_eq!(
            Plan::build(&rb).unwrap_err(),
            PlanError::Cycle {
                section: "finally",
                cycle: vec!["x".into(), "y".into(), "x".into()],
            }
        );
    }

    #[test]
    fn unknown_dependency_and_duplicate_id() {
        let rb = runbook(vec![step("a", 1, &["ghost"])], vec![], None);
        assert_eq!(
            Plan::build(&rb).unwrap_err(),
            PlanError::UnknownDependency {
                step: "a".into(),
                needs: "ghost".into()
            }
        );
        // A main step may not need a cleanup step.
        let rb = runbook(vec![step("a", 1, &["x"])], vec![step("x", 1, &[])], None);
        assert!(matches!(
            Plan::build(&rb),
            Err(PlanError::UnknownDependency { .. })
        ));
        let rb = runbook(vec![step("a", 1, &[])], vec![step("a", 1, &[])], None);
        assert_eq!(
            Plan::build(&rb).unwrap_err(),
            PlanError::DuplicateId { id: "a".into() }
        );
    }

    #[test]
    fn cleanup_is_planned_after_the_main_graph() {
        let plan = Plan::build(&failover(None)).unwrap();
        let c = plan.cleanup();
        assert_eq!(c.len(), 2);
        assert_eq!(c.makespan(), secs(90));
        // `switch-back` needs a main step (implied) and a cleanup step (an edge).
        assert_eq!(c.edge_count(), 1);
        let sb = c.index_of("switch-back").unwrap();
        assert_eq!(c.earliest_start(sb), secs(60));
        assert_eq!(plan.total_with_cleanup(), plan.makespan() + secs(90));
        // Cleanup never counts against the RTO.
        let plan = Plan::build(&failover(Some(855))).unwrap();
        assert!(plan.rto_check().unwrap().within);
    }

    #[test]
    fn rto_check() {
        assert_eq!(Plan::build(&failover(None)).unwrap().rto_check(), None);
        let c = Plan::build(&failover(Some(900)))
            .unwrap()
            .rto_check()
            .unwrap();
        assert_eq!(
            c,
            RtoCheck {
                rto: secs(900),
                makespan: secs(855),
                within: true
            }
        );
        assert_eq!(c.over_by(), Duration::ZERO);
        let c = Plan::build(&failover(Some(600)))
            .unwrap()
            .rto_check()
            .unwrap();
        assert!(!c.within);
        assert_eq!(c.over_by(), secs(255));
    }

    #[test]
    fn critical_path_with_actual_durations() {
        let plan = Plan::build(&failover(None)).unwrap();
        // The restore was quick, the key promotion slow.
        let mut actual: Vec<Duration> = plan
            .main()
            .graph()
            .node_indices()
            .map(|v| plan.main().estimate(v))
            .collect();
        actual[idx(&plan, "restore-vault").index()] = secs(60);
        actual[idx(&plan, "promote-key").index()] = secs(600);
        let (path, len) = plan.critical_path_with(&actual);
        assert_eq!(
            ids(plan.main(), &path),
            [
                "freeze-writes",
                "promote-key",
                "check-api",
                "switch-dns",
                "verify"
            ]
        );
        assert_eq!(len, secs(30 + 600 + 30 + 60 + 45));
        // Missing entries count as zero; the estimates are untouched.
        let (path, len) = plan.critical_path_with(&[secs(7)]);
        assert_eq!(ids(plan.main(), &path), ["freeze-writes"]);
        assert_eq!(len, secs(7));
        assert_eq!(plan.makespan(), secs(855));
    }

    #[test]
    fn empty_runbook() {
        let plan = Plan::build(&runbook(vec![], vec![], Some(60))).unwrap();
        assert!(plan.is_empty());
        assert_eq!(plan.makespan(), Duration::ZERO);
        assert!(plan.critical_path().is_empty());
        assert!(plan.rto_check().unwrap().within);
        assert_eq!(plan.critical_path_with(&[]), (vec![], Duration::ZERO));
    }

    #[test]
    fn long_chain_and_wide_fan_do_not_recurse() {
        let n = 10_000;
        let mut steps = vec![step("s0", 1, &[])];
        for i in 1..n {
            let prev = format!("s{}", i - 1);
            steps.push(step(&format!("s{i}"), 1, &[prev.as_str()]));
        }
        let plan = Plan::build(&runbook(steps, vec![], None)).unwrap();
        assert_eq!(plan.makespan(), secs(n));
        assert_eq!(plan.critical_path().len(), n as usize);

        // A 10,000-step cycle is reported whole.
        let mut steps = vec![step("s0", 1, &["s9999"])];
        for i in 1..n {
            let prev = format!("s{}", i - 1);
            steps.push(step(&format!("s{i}"), 1, &[prev.as_str()]));
        }
        match Plan::build(&runbook(steps, vec![], None)) {
            Err(PlanError::Cycle { cycle, .. }) => assert_eq!(cycle.len(), n as usize + 1),
            other => panic!("expected a cycle, got {other:?}"),
        }
    }

    #[test]
    fn huge_estimates_saturate() {
        let rb = runbook(
            vec![
                step("a", u64::MAX / 2, &[]),
                step("b", u64::MAX / 2, &["a"]),
                step("c", u64::MAX / 2, &["b"]),
            ],
            vec![],
            Some(1),
        );
        let plan = Plan::build(&rb).unwrap();
        assert_eq!(plan.makespan(), Duration::MAX);
        assert_eq!(plan.critical_path().len(), 3);
        assert!(!plan.rto_check().unwrap().within);
    }
}
