//! The one topological order and the one cycle finder that the validator, the planner, the
//! engine and the timing report use. A graph is given as each node's dependencies (`needs[i]`:
//! the nodes `i` needs, as indices); everything here is linear in nodes plus edges.

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
}
