//! The one topological order and the one cycle finder that the validator, the planner, the
//! engine and the timing report use, and the reachability the validator checks step outputs
//! with. A graph is given as each node's dependencies (`needs[i]`: the nodes `i` needs, as
//! indices); everything here is linear in nodes plus edges (reachability: per 512 distinct
//! targets asked about), and nothing recurses, however deep the graph.

/// Each node's dependents, in node order: the reverse of `needs`.
pub(crate) fn dependents(needs: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); needs.len()];
    for (i, ds) in needs.iter().enumerate() {
        for &d in ds {
            out[d].push(i);
        }
    }
    out
}

/// A topological order (Kahn): first the nodes that need nothing, in node order, then each
/// placed node's dependents as they become free, first come first placed (the order in which
/// the engine's ready queue starts them). Returns the placed nodes in that order and the nodes
/// that could not be placed, in node order: each is on a cycle or needs a node that is. The
/// graph is acyclic exactly when nothing is left.
pub(crate) fn topo_order(needs: &[Vec<usize>]) -> (Vec<usize>, Vec<usize>) {
    let n = needs.len();
    let deps = dependents(needs);
    let mut remaining: Vec<usize> = needs.iter().map(Vec::len).collect();
    let mut order: Vec<usize> = (0..n).filter(|&i| remaining[i] == 0).collect();
    let mut head = 0;
    while head < order.len() {
        let v = order[head];
        head += 1;
        for &w in &deps[v] {
            remaining[w] -= 1;
            if remaining[w] == 0 {
                order.push(w);
            }
        }
    }
    let left = if order.len() == n {
        vec![]
    } else {
        (0..n).filter(|&i| remaining[i] > 0).collect()
    };
    (order, left)
}

/// One cycle among the `left` nodes of [`topo_order`]: from `start`, follow the first need
/// (in `needs` order) that is also left until a node repeats. The cycle is returned from that
/// node on, each node needing the next and the last needing the first; empty when `start` is
/// not left.
pub(crate) fn cycle_from(needs: &[Vec<usize>], left: &[usize], start: usize) -> Vec<usize> {
    let is_left = |v: usize| left.binary_search(&v).is_ok();
    if !is_left(start) {
        return vec![];
    }
    let mut seen = vec![usize::MAX; needs.len()];
    let mut walk = Vec::new();
    let mut v = start;
    loop {
        if seen[v] != usize::MAX {
            return walk.split_off(seen[v]);
        }
        seen[v] = walk.len();
        walk.push(v);
        match needs[v].iter().copied().find(|&d| is_left(d)) {
            Some(d) => v = d,
            // Cannot happen for a node left by `topo_order`; never loop or panic.
            None => return walk,
        }
    }
}

/// The strongly connected components (Tarjan's algorithm, with an explicit stack instead of
/// recursion), each one's nodes in ascending order. Dependencies first: a component comes after
/// every component that one of its nodes needs. A component of more than one node is a cycle.
pub(crate) fn components(needs: &[Vec<usize>]) -> Vec<Vec<usize>> {
    const UNSEEN: usize = usize::MAX;
    let n = needs.len();
    let mut index = vec![UNSEEN; n];
    let mut low = vec![0usize; n];
    let mut on_stack = vec![false; n];
    let mut stack: Vec<usize> = Vec::new();
    // The depth-first walk: (node, how many of its needs were looked at).
    let mut walk: Vec<(usize, usize)> = Vec::new();
    let mut next = 0usize;
    let mut out = Vec::new();
    for root in 0..n {
        if index[root] != UNSEEN {
            continue;
        }
        index[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on_stack[root] = true;
        walk.push((root, 0));
        while let Some(top) = walk.last_mut() {
            let (v, k) = *top;
            if let Some(&w) = needs[v].get(k) {
                top.1 += 1;
                if index[w] == UNSEEN {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    walk.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            walk.pop();
            if let Some(&(u, _)) = walk.last() {
                low[u] = low[u].min(low[v]);
            }
            if low[v] == index[v] {
                let mut comp = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    comp.push(w);
                    if w == v {
                        break;
                    }
                }
                comp.sort_unstable();
                out.push(comp);
            }
        }
    }
    out
}

/// One cycle of a graph: a strongly connected component of more than one node (or a node
/// that needs itself), and one concrete loop through it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cycle {
    /// The component's nodes, in ascending order.
    pub(crate) members: Vec<usize>,
    /// A shortest loop through the component's first node, starting there: each node needs
    /// the next, and the last needs the first. Shorter than `members` when the component holds
    /// more than one loop.
    pub(crate) path: Vec<usize>,
}

/// Every cycle of the graph, one per component that loops, ordered by their members (the
/// smallest first node first). Linear in nodes plus edges: each loop is found by a
/// breadth-first search inside its own component, from its first node.
pub(crate) fn cycles(needs: &[Vec<usize>]) -> Vec<Cycle> {
    let mut loops: Vec<Vec<usize>> = components(needs)
        .into_iter()
        .filter(|c| c.len() > 1 || needs[c[0]].contains(&c[0]))
        .collect();
    loops.sort();
    // Breadth-first parents, shared by the searches: each search resets what it set.
    let mut parent = vec![usize::MAX; needs.len()];
    loops
        .into_iter()
        .map(|members| {
            let path = shortest_loop(needs, &members, &mut parent);
            Cycle { members, path }
        })
        .collect()
}

/// A shortest loop through `members[0]` that stays inside `members` (a strongly connected
/// component, in ascending order), from `members[0]`. `parent` is all `usize::MAX`, and is
/// left so.
fn shortest_loop(needs: &[Vec<usize>], members: &[usize], parent: &mut [usize]) -> Vec<usize> {
    let start = members[0];
    let inside = |x: usize| members.binary_search(&x).is_ok();
    let mut queue = std::collections::VecDeque::from([start]);
    let mut touched = Vec::new();
    let mut path = None;
    'search: while let Some(u) = queue.pop_front() {
        for &w in &needs[u] {
            if w == start {
                let mut walk = vec![u];
                let mut cur = u;
                while cur != start {
                    cur = parent[cur];
                    walk.push(cur);
                }
                walk.reverse();
                path = Some(walk);
                break 'search;
            }
            if inside(w) && parent[w] == usize::MAX {
                parent[w] = u;
                touched.push(w);
                queue.push_back(w);
            }
        }
    }
    for w in touched {
        parent[w] = usize::MAX;
    }
    // Cannot be missing for a component that loops; never panic.
    path.unwrap_or_else(|| members.to_vec())
}

/// Targets decided together by [`reaches`]: one bit each in a block of `u64` words per node.
const BLOCK_WORDS: usize = 8;
const BLOCK_BITS: usize = BLOCK_WORDS * 64;

/// For each pair `(from, to)`: whether `from` reaches `to` over one or more `needs` edges (`to`
/// is a transitive dependency of `from`). Any graph, cycles included: a node on a cycle reaches
/// itself and everything on its cycle.
///
/// Work is bounded whatever is asked: the components are found once; pairs are decided 512
/// distinct targets at a time, by one pass in dependency order over the components between
/// the block's first target and its last asker, each carrying the set of block targets below
/// it as a 512-bit mask. That is `O((V + E) * ceil(T / 512))` time for `T` distinct targets and
/// `O(V)` memory, with no per-node descendant sets.
pub(crate) fn reaches(needs: &[Vec<usize>], pairs: &[(usize, usize)]) -> Vec<bool> {
    let comps = components(needs);
    let mut comp = vec![0usize; needs.len()];
    for (c, members) in comps.iter().enumerate() {
        for &v in members {
            comp[v] = c;
        }
    }
    let cyclic = |c: usize| comps[c].len() > 1 || needs[comps[c][0]].contains(&comps[c][0]);
    let mut out = vec![false; pairs.len()];
    // Pairs left to decide, as (target's component, target, pair): grouped by target, in
    // dependency order of the targets.
    let mut pending: Vec<(usize, usize, usize)> = Vec::new();
    for (k, &(from, to)) in pairs.iter().enumerate() {
        let (cf, ct) = (comp[from], comp[to]);
        if cf == ct {
            out[k] = cyclic(cf);
        } else if ct < cf {
            pending.push((ct, to, k));
        } // else: `to` comes later in dependency order, so `from` cannot reach it.
    }
    pending.sort_unstable();
    let mut masks: Vec<[u64; BLOCK_WORDS]> = Vec::new();
    let mut start = 0;
    while start < pending.len() {
        // The block: pairs of the next (up to) 512 distinct targets.
        let (mut end, mut distinct, mut last) = (start, 0usize, usize::MAX);
        while end < pending.len() {
            let t = pending[end].1;
            if t != last {
                if distinct == BLOCK_BITS {
                    break;
                }
                distinct += 1;
                last = t;
            }
            end += 1;
        }
        let block = &pending[start..end];
        let lo = block[0].0;
        let hi = block
            .iter()
            .map(|&(_, _, k)| comp[pairs[k].0])
            .max()
            .unwrap_or(lo);
        masks.clear();
        masks.resize(hi - lo + 1, [0; BLOCK_WORDS]);
        let mut bit = usize::MAX;
        let mut last = usize::MAX;
        for &(ct, t, _) in block {
            if t != last {
                bit = bit.wrapping_add(1);
                last = t;
                masks[ct - lo][bit / 64] |= 1 << (bit % 64);
            }
        }
        // Dependency order: every component a component needs is final before it.
        for c in lo..=hi {
            let mut acc = masks[c - lo];
            for &v in &comps[c] {
                for &w in &needs[v] {
                    let cw = comp[w];
                    if cw >= lo && cw != c {
                        for (a, m) in acc.iter_mut().zip(&masks[cw - lo]) {
                            *a |= m;
                        }
                    }
                }
            }
            masks[c - lo] = acc;
        }
        let mut bit = usize::MAX;
        let mut last = usize::MAX;
        for &(_, t, k) in block {
            if t != last {
                bit = bit.wrapping_add(1);
                last = t;
            }
            let m = &masks[comp[pairs[k].0] - lo];
            out[k] = m[bit / 64] & (1 << (bit % 64)) != 0;
        }
        start = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_first_come_first_placed() {
        // 0 <- 2, 1 <- 2, 2 <- 3; 4 alone.
        let needs = vec![vec![], vec![], vec![0, 1], vec![2], vec![]];
        assert_eq!(topo_order(&needs), (vec![0, 1, 4, 2, 3], vec![]));
        assert_eq!(dependents(&needs)[2], vec![3]);
    }

    #[test]
    fn a_cycle_is_found_and_what_hangs_off_it_is_left() {
        // 1 -> 2 -> 3 -> 1 (each needs the next), 4 needs 3, 0 free.
        let needs = vec![vec![], vec![2], vec![3], vec![1], vec![3]];
        let (placed, left) = topo_order(&needs);
        assert_eq!(placed, vec![0]);
        assert_eq!(left, vec![1, 2, 3, 4]);
        assert_eq!(cycle_from(&needs, &left, 4), vec![3, 1, 2]);
        assert_eq!(cycle_from(&needs, &left, 1), vec![1, 2, 3]);
        assert!(cycle_from(&needs, &left, 0).is_empty());
        // A node that needs itself.
        assert_eq!(cycle_from(&[vec![0]], &[0], 0), vec![0]);
    }

    #[test]
    fn cycles_take_the_shortest_loop_through_the_first_member() {
        // 0 -> 1 -> 2 -> 0 and 0 -> 2 -> 0 (each needs the next): one component, whose
        // shortest loop through 0 is 0 -> 2; 3 needs itself; 4 hangs off the component.
        let needs = vec![vec![1, 2], vec![2], vec![0], vec![3], vec![0]];
        assert_eq!(
            cycles(&needs),
            vec![
                Cycle {
                    members: vec![0, 1, 2],
                    path: vec![0, 2],
                },
                Cycle {
                    members: vec![3],
                    path: vec![3],
                },
            ]
        );
        // The loop follows each node's needs in order: 5 -> 6 -> 7 -> 5, through 6 first.
        let needs = vec![
            vec![],
            vec![],
            vec![],
            vec![],
            vec![],
            vec![6],
            vec![7, 5],
            vec![5],
        ];
        assert_eq!(cycles(&needs)[0].path, vec![5, 6]);
        assert!(cycles(&[vec![], vec![0]]).is_empty());
    }

    #[test]
    fn components_come_dependencies_first() {
        // 0 <- 1 <-> 2 <- 3; 4 needs itself.
        let needs = vec![vec![], vec![0, 2], vec![1], vec![2], vec![4]];
        assert_eq!(
            components(&needs),
            vec![vec![0], vec![1, 2], vec![3], vec![4]]
        );
        // A chain deeper than any stack would allow to recurse over.
        let n = 1_000_000;
        let chain: Vec<Vec<usize>> = (0..n)
            .map(|i| if i == 0 { vec![] } else { vec![i - 1] })
            .collect();
        let comps = components(&chain);
        assert_eq!(comps.len(), n);
        assert_eq!(comps[0], vec![0]);
        assert_eq!(comps[n - 1], vec![n - 1]);
    }

    /// Reachability by plain search, for comparison.
    fn search(needs: &[Vec<usize>], from: usize, to: usize) -> bool {
        let mut seen = vec![false; needs.len()];
        let mut stack: Vec<usize> = needs[from].clone();
        while let Some(v) = stack.pop() {
            if v == to {
                return true;
            }
            if !std::mem::replace(&mut seen[v], true) {
                stack.extend(&needs[v]);
            }
        }
        false
    }

    #[test]
    fn reaches_agrees_with_search_on_dags_and_cycles() {
        // 0 <- 1 <- 2, 3 <-> 4 <- 5, 6 needs itself, 7 alone; 2 also needs 5.
        let needs = vec![
            vec![],
            vec![0],
            vec![1, 5],
            vec![4],
            vec![3],
            vec![4],
            vec![6],
            vec![],
        ];
        let pairs: Vec<(usize, usize)> = (0..8).flat_map(|a| (0..8).map(move |b| (a, b))).collect();
        let got = reaches(&needs, &pairs);
        for (k, &(a, b)) in pairs.iter().enumerate() {
            assert_eq!(got[k], search(&needs, a, b), "{a} -> {b}");
        }
        assert!(got[2 * 8 + 3], "2 reaches 3 through 5 and 4");
        assert!(got[3 * 8 + 3] && got[6 * 8 + 6] && !got[7 * 8 + 7]);
    }

    #[test]
    fn reaches_over_many_blocks_of_targets() {
        // A seeded random DAG of 3,000 nodes (each needs one or two of the 40 before it),
        // 12,000 pairs asked about over 1,500 targets:
        // several blocks of 512 targets, each decided in its own pass.
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut next = |m: usize| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng % m as u64) as usize
        };
        let n = 3_000;
        let needs: Vec<Vec<usize>> = (0..n)
            .map(|i| {
                if i == 0 {
                    return vec![];
                }
                let k = 1 + next(2);
                (0..k).map(|_| i - 1 - next(i.min(40))).collect()
            })
            .collect();
        let pairs: Vec<(usize, usize)> = (0..4 * n).map(|_| (next(n), next(1_500))).collect();
        let got = reaches(&needs, &pairs);
        for (k, &(a, b)) in pairs.iter().enumerate() {
            assert_eq!(got[k], search(&needs, a, b), "{a} -> {b}");
        }
        assert!(
            got.iter().filter(|&&r| r).count() > 100,
            "some pairs are reachable"
        );
    }
}
