//! The walk: the plan's graph as the driver steps through it, and each step's state; a
//! resumed run's walk is restored from its journal.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::actions::aws::Identity;
use crate::event::{Event, Mode, StepStatus};
use crate::plan::{Plan, StepIdx};

/// The graph and each step's state, indexed by position (main steps, then `finally`).
pub(super) struct Walk {
    /// Each step's id, by position.
    pub(super) ids: Vec<String>,
    /// Each step's position, by id.
    pub(super) index: HashMap<String, usize>,
    /// Each step's state, by position.
    pub(super) status: Vec<StepStatus>,
    /// Dependencies not yet succeeded (within the same phase).
    pub(super) remaining: Vec<usize>,
    /// Each step's dependents in the same phase, in step order (the order the ready queue
    /// takes them).
    pub(super) dependents: Vec<Vec<usize>>,
    /// The outputs of each succeeded step, by step id, for `{{ steps.X.Y }}` in later steps.
    pub(super) outputs: BTreeMap<String, BTreeMap<String, String>>,
    /// Approval steps whose request was made in this epoch (journaled before a resume, or by
    /// this process): not asked again.
    pub(super) requested: HashSet<String>,
    /// Approval steps passed on a trusted approval statement, and who approved each.
    pub(super) granted: HashMap<String, Identity>,
    /// Approval step -> its message, for steps awaiting approval.
    pub(super) approval_messages: HashMap<String, String>,
    /// Dry-run: the step (this one or an upstream one) whose changes this step comes after.
    /// A read-only check downstream of a change cannot hold before the change is made.
    pub(super) after_change: Vec<Option<String>>,
    /// How many main steps come first; the rest are `finally` steps.
    pub(super) n_main: usize,
    /// The last journaled observation of each step without an outcome since (a resumed step
    /// in doubt is given it: [`StepContext::earlier`](crate::actions::StepContext::earlier));
    /// a failed or skipped step runs afresh.
    pub(super) observed: HashMap<String, crate::actions::Observation>,
}

impl Walk {
    /// The walk of a plan: its main graph's steps, then its cleanup graph's (a cleanup step's
    /// need on a main step is only an ordering, satisfied by the time cleanup runs).
    pub(super) fn new(plan: &Plan) -> Walk {
        let (main, cleanup) = (plan.main(), plan.cleanup());
        let n_main = main.len();
        let n = n_main + cleanup.len();
        let mut ids = Vec::with_capacity(n);
        let mut remaining = Vec::with_capacity(n);
        let mut dependents = Vec::with_capacity(n);
        for (offset, graph) in [(0, main), (n_main, cleanup)] {
            for i in 0..graph.len() {
                let idx = StepIdx::new(i);
                ids.push(graph.id(idx).to_string());
                remaining.push(graph.dependencies(idx).count());
                // In step order, as the ready queue takes them (and the plan's list schedule).
                let mut ds: Vec<usize> =
                    graph.dependents(idx).map(|d| offset + d.index()).collect();
                ds.sort_unstable();
                dependents.push(ds);
            }
        }
        let index: HashMap<String, usize> = ids
            .iter()
            .enumerate()
            .map(|(i, s)| (s.clone(), i))
            .collect();
        Walk {
            ids,
            index,
            status: vec![StepStatus::NotStarted; n],
            after_change: vec![None; n],
            remaining,
            dependents,
            outputs: BTreeMap::new(),
            requested: HashSet::new(),
            granted: HashMap::new(),
            approval_messages: HashMap::new(),
            n_main,
            observed: HashMap::new(),
        }
    }

    /// A valid start order (the one Kahn order of `crate::dag`), main steps then finally steps.
    pub(super) fn topo_order(&self) -> Vec<String> {
        let mut needs: Vec<Vec<usize>> = vec![Vec::new(); self.ids.len()];
        for (i, ds) in self.dependents.iter().enumerate() {
            for &j in ds {
                needs[j].push(i);
            }
        }
        let (mut out, _) = crate::dag::topo_order(&needs);
        out.sort_by_key(|&i| i >= self.n_main);
        out.into_iter().map(|i| self.ids[i].clone()).collect()
    }

    /// Applies a journal: succeeded steps and their outputs. Returns the steps in doubt
    /// (started, no outcome). In an execution an approval step counts as passed only when
    /// `granted` (judged from approval statements) says so, whatever the journal records;
    /// requests made before `since` (the epoch's first record) were for another runbook or
    /// variables, and are made again.
    pub(super) fn restore(
        &mut self,
        records: &[crate::checkpoint::Record],
        mode: Mode,
        approval_steps: &[String],
        granted: HashMap<String, Identity>,
        since: usize,
    ) -> Vec<String> {
        let mut started: HashSet<&str> = HashSet::new();
        for (at, r) in records.iter().enumerate() {
            match &r.event {
                Event::StepStarted { step, .. } => {
                    started.insert(step);
                }
                Event::StepObserved { step, observation } => {
                    self.observed.insert(step.clone(), observation.clone());
                }
                Event::StepSucceeded { step, outcome, .. } => {
                    started.remove(step.as_str());
                    let gate_closed = mode == Mode::Execute
                        && approval_steps.contains(step)
                        && !granted.contains_key(step);
                    if let Some(&i) = self.index.get(step)
                        && !gate_closed
                    {
                        self.status[i] = StepStatus::Succeeded;
                        self.outputs.insert(step.clone(), outcome.outputs.clone());
                    }
                }
                Event::StepFailed { step, .. } | Event::StepSkipped { step, .. } => {
                    started.remove(step.as_str());
                    // Run again from the start: what it observed is not given to it.
                    self.observed.remove(step);
                }
                Event::ApprovalRequested { step, .. } if at >= since => {
                    self.requested.insert(step.clone());
                }
                _ => {}
            }
        }
        self.granted = granted;
        for i in 0..self.ids.len() {
            if self.status[i] == StepStatus::Succeeded {
                for k in 0..self.dependents[i].len() {
                    let j = self.dependents[i][k];
                    self.remaining[j] -= 1;
                }
            }
        }
        let mut in_doubt: Vec<String> = started
            .into_iter()
            .filter(|s| self.index.contains_key(*s))
            .map(str::to_string)
            .collect();
        in_doubt.sort();
        in_doubt
    }

    pub(super) fn awaiting(&self) -> Vec<(String, String)> {
        (0..self.ids.len())
            .filter(|&i| self.status[i] == StepStatus::AwaitingApproval)
            .map(|i| {
                let msg = self.approval_messages.get(&self.ids[i]).cloned();
                (self.ids[i].clone(), msg.unwrap_or_default())
            })
            .collect()
    }
}
