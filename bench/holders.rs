//! Who held an address when, from the address events the watch captured.

use std::collections::BTreeMap;

use crate::watch::{AddrEvent, intervals};

/// Total time in [from, to] during which at least two nodes held `addr`.
pub fn overlap(
    events: &[AddrEvent],
    n_nodes: usize,
    addr: &str,
    from: f64,
    to: f64,
) -> (f64, usize) {
    // Sweep over interval edges.
    let mut edges: BTreeMap<i64, i32> = BTreeMap::new();
    let key = |t: f64| (t * 1e6).round() as i64;
    for n in 0..n_nodes {
        for (a, b) in intervals(events, n, addr) {
            let a = a.max(from);
            let b = b.min(to);
            if b > a {
                *edges.entry(key(a)).or_default() += 1;
                *edges.entry(key(b)).or_default() -= 1;
            }
        }
    }
    let mut count = 0;
    let mut since = 0i64;
    let mut total = 0i64;
    let mut episodes = 0;
    for (t, d) in edges {
        let before = count;
        count += d;
        if before < 2 && count >= 2 {
            since = t;
            episodes += 1;
        } else if before >= 2 && count < 2 {
            total += t - since;
        }
    }
    (total as f64 * 1e-6, episodes)
}
