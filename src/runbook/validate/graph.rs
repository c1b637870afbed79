//! Graph checks: step ids, `needs`, dependency cycles (found by [`crate::dag`]) and
//! step-output references.

use std::collections::{HashMap, HashSet};

use super::read::{Validation, did_you_mean};
use super::step::Draft;

/// Ids, dependencies, cycles and step-output references. Returns each step's resolved
/// dependencies (indices into `drafts`) when the graph is sound.
pub(super) fn graph_checks(v: &mut Validation<'_>, drafts: &[Draft]) -> Option<Vec<Vec<usize>>> {
    let n = drafts.len();
    let mut index: HashMap<&str, usize> = HashMap::with_capacity(n);
    for (i, d) in drafts.iter().enumerate() {
        let Some((id, span)) = &d.id else { continue };
        if let Some(&first) = index.get(id.as_str()) {
            let line = drafts[first].id.as_ref().map_or(0, |(_, s)| v.line_of(*s));
            let id = id.clone();
            v.report(*span, format!("duplicate step id `{id}`"), "used again here", || {
                Some(format!("the first `{id}` is on line {line}; step ids must be unique across `steps` and `finally`"))
            });
        } else {
            index.insert(id, i);
        }
    }
    let all_ids = || {
        drafts
            .iter()
            .filter_map(|d| d.id.as_ref().map(|(i, _)| i.as_str()))
    };
    let mut deps: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut sound = true;
    // One set reused across steps: a step may list thousands of needs.
    let mut listed: HashSet<&str> = HashSet::new();
    for (i, d) in drafts.iter().enumerate() {
        let me = d.name.as_str();
        listed.clear();
        for (need, span) in &d.needs {
            if !listed.insert(need.as_str()) {
                let need = need.clone();
                v.report(
                    *span,
                    format!("`{need}` is listed twice in the `needs` of `{me}`"),
                    "listed again",
                    || Some("remove the repeated entry".into()),
                );
                continue;
            }
            match index.get(need.as_str()) {
                None => {
                    sound = false;
                    let need = need.clone();
                    v.report(
                        *span,
                        format!("step `{me}` needs unknown step `{need}`"),
                        "no step has this id",
                        || {
                            Some(did_you_mean(&need, all_ids()).unwrap_or_else(|| {
                                "check the spelling, or add a step with this id".into()
                            }))
                        },
                    );
                }
                Some(&j) if j == i => {
                    sound = false;
                    v.report(
                        *span,
                        format!("step `{me}` needs itself"),
                        "self-dependency",
                        || Some(format!("remove `{me}` from its own `needs`")),
                    );
                }
                Some(&j) => {
                    let other = need.as_str();
                    if !d.finally && drafts[j].finally {
                        sound = false;
                        v.report(*span, format!("step `{me}` needs cleanup step `{other}`"), "a `finally` step", || {
                            Some("`finally` steps run after the graph; move the step into `steps` or drop the dependency".into())
                        });
                    } else if d.finally && !drafts[j].finally {
                        sound = false;
                        v.report(*span, format!("cleanup step `{me}` needs main step `{other}`"), "a main step", || {
                            Some("`finally` steps run after every main step anyway; they may only need other `finally` steps".into())
                        });
                    } else {
                        deps[i].push(j);
                    }
                }
            }
        }
    }
    // Cycles: one problem per loop, at the dependency that closes it.
    let cycles = crate::dag::cycles(&deps);
    let cyclic = !cycles.is_empty();
    for crate::dag::Cycle {
        members,
        path: cycle,
    } in cycles
    {
        let name = |i: usize| drafts[i].name.as_str();
        let mut path: Vec<&str> = cycle.iter().map(|&i| name(i)).collect();
        path.push(name(cycle[0]));
        let text = path.join(" -> ");
        let last = *cycle.last().unwrap_or(&cycle[0]);
        let closing = drafts[last]
            .needs
            .iter()
            .find(|(x, _)| x == name(cycle[0]))
            .map_or(drafts[last].span, |(_, s)| *s);
        let pairs: Vec<String> = path
            .windows(2)
            .map(|w| format!("`{}` needs `{}`", w[0], w[1]))
            .collect();
        let extra = if members.len() > cycle.len() {
            format!(" ({} steps are caught in this loop in all)", members.len())
        } else {
            String::new()
        };
        v.report(
            closing,
            format!("dependency cycle: {text}"),
            "closes the cycle",
            || {
                Some(format!(
                    "{}; remove one of these dependencies to break the cycle{extra}",
                    pairs.join(", ")
                ))
            },
        );
    }
    // Step output references: which referenced steps are transitive dependencies is decided
    // for all references at once (`dag::reaches`, bounded whatever the shape of the graph),
    // each (step, referenced step) pair once however often it repeats.
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    for (i, d) in drafts.iter().enumerate() {
        for r in &d.refs {
            if let Some(&x) = index.get(r.step.as_str())
                && x != i
                && d.finally == drafts[x].finally
            {
                pairs.push((i, x));
            }
        }
    }
    pairs.sort_unstable();
    pairs.dedup();
    let reachable_pairs = crate::dag::reaches(&deps, &pairs);
    for (i, d) in drafts.iter().enumerate() {
        let me = d.name.as_str();
        for r in &d.refs {
            // Where the reference is, looked up only when the problem will be listed.
            let at = |v: &Validation<'_>| {
                if v.full() {
                    r.at
                } else {
                    v.locate(r.at, &r.text)
                }
            };
            let Some(&x) = index.get(r.step.as_str()) else {
                let step = r.step.clone();
                v.report(
                    at(v),
                    format!(
                        "`{{{{ steps.{step}.{} }}}}` names an unknown step",
                        r.output
                    ),
                    "unknown step",
                    || {
                        Some(
                            did_you_mean(&step, all_ids())
                                .unwrap_or_else(|| "check the step id".into()),
                        )
                    },
                );
                continue;
            };
            if x == i {
                v.report(at(v), format!("step `{me}` uses its own output `{}`", r.output), "own output", || {
                    Some("a step's outputs exist only after it finishes; use another step's output".into())
                });
                continue;
            }
            let reachable = if d.finally && !drafts[x].finally {
                true // every main step has finished before cleanup starts
            } else if d.finally != drafts[x].finally {
                false
            } else {
                pairs
                    .binary_search(&(i, x))
                    .is_ok_and(|k| reachable_pairs[k])
            };
            if !reachable {
                let step = r.step.clone();
                v.report(at(v), format!("step `{me}` uses an output of `{step}`, which is not among its dependencies"), "not a dependency", || {
                    Some(format!("add `{step}` to the `needs` of `{me}` (directly or through another step) so its outputs exist when `{me}` starts"))
                });
                continue;
            }
            if let Some(spec) = drafts[x].action
                && spec.output(&r.output).is_none()
            {
                let (output, step) = (r.output.clone(), r.step.clone());
                v.report(
                    at(v),
                    format!("step `{step}` (`{}`) has no output `{output}`", spec.name),
                    "unknown output",
                    || {
                        Some(
                            match did_you_mean(&output, spec.outputs.iter().map(|o| o.name)) {
                                Some(d) => d,
                                None if spec.outputs.is_empty() => {
                                    format!("`{}` has no outputs", spec.name)
                                }
                                None => format!(
                                    "outputs of `{}`: {}",
                                    spec.name,
                                    spec.outputs
                                        .iter()
                                        .map(|o| o.name)
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                ),
                            },
                        )
                    },
                );
            }
        }
    }
    (sound && !cyclic).then_some(deps)
}
