//! The checks at the end of a run, once every server is back and caught up: each server's
//! whole tree (walked with getChildren/getData on a session to that server alone, after a
//! sync) must be identical (path, data, czxid, mzxid, version); every acknowledged sequential
//! create must be on every server with its request id; no request id may appear in two
//! sequential nodes (`c-…`) (a create applied twice).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use tokio::time::timeout;

use super::history::{Event, Kind, Op};
use super::workload::connect;

/// The most znodes walked per server.
const MAX_NODES: usize = 2_000_000;

/// path -> (data, czxid, mzxid, version)
pub type Tree = BTreeMap<String, (Vec<u8>, i64, i64, i32)>;

/// Walks the tree of the server at `addr` (skipping `/zookeeper`).
pub async fn walk(addr: &str, session_timeout_ms: i32) -> Result<Tree, String> {
    let c = connect(
        &[addr.to_string()],
        session_timeout_ms,
        Duration::from_secs(10),
    )
    .await
    .ok_or_else(|| format!("cannot connect to {addr}"))?;
    let t = Duration::from_secs(10);
    let e = |what: &str, p: &str, err: String| format!("{addr}: {what} {p}: {err}");
    timeout(t, c.sync("/"))
        .await
        .map_err(|_| e("sync", "/", "timed out".into()))?
        .map_err(|x| e("sync", "/", x.to_string()))?;
    let mut tree = Tree::new();
    let mut todo = VecDeque::from(["/".to_string()]);
    while let Some(p) = todo.pop_front() {
        if tree.len() >= MAX_NODES {
            return Err(format!("{addr}: more than {MAX_NODES} znodes"));
        }
        let (data, stat) = timeout(t, c.get_data(&p, false))
            .await
            .map_err(|_| e("getData", &p, "timed out".into()))?
            .map_err(|x| e("getData", &p, x.to_string()))?;
        let kids = timeout(t, c.get_children(&p, false))
            .await
            .map_err(|_| e("getChildren", &p, "timed out".into()))?
            .map_err(|x| e("getChildren", &p, x.to_string()))?;
        tree.insert(
            p.clone(),
            (
                data.unwrap_or_default(),
                stat.czxid,
                stat.mzxid,
                stat.version,
            ),
        );
        for k in kids {
            let child = if p == "/" {
                format!("/{k}")
            } else {
                format!("{p}/{k}")
            };
            if child != "/zookeeper" {
                todo.push_back(child);
            }
        }
    }
    let _ = timeout(Duration::from_secs(2), c.close()).await;
    Ok(tree)
}

#[derive(Clone, Debug, Default)]
pub struct EndReport {
    pub nodes: usize,
    /// Servers whose tree differs from the first server's, with the first differing path.
    pub tree_mismatches: Vec<String>,
    pub acked_creates: usize,
    /// Acknowledged creates missing (or with other data) on some server.
    pub lost_creates: Vec<String>,
    /// Request ids found in more than one sequential node.
    pub duplicates: Vec<(u64, usize)>,
    /// The request ids found in sequential nodes (for the set history).
    pub found_ids: Vec<u64>,
    /// How many servers' trees were read (all of them, or the checks are incomplete).
    pub servers_walked: usize,
}

fn first_difference(a: &Tree, b: &Tree) -> String {
    for (p, v) in a {
        match b.get(p) {
            None => return format!("{p} missing"),
            Some(w) if w != v => return format!("{p} differs"),
            _ => {}
        }
    }
    b.keys()
        .find(|p| !a.contains_key(*p))
        .map(|p| format!("{p} extra"))
        .unwrap_or_default()
}

/// Compares the trees (`trees[i]` from server sid `sids[i]`) and checks the creates.
pub fn check(sids: &[u64], trees: &[Tree], events: &[Event]) -> EndReport {
    let mut r = EndReport::default();
    let Some(first) = trees.first() else {
        return r;
    };
    r.nodes = first.len();
    for (sid, t) in sids.iter().zip(trees).skip(1) {
        if t != first {
            r.tree_mismatches.push(format!(
                "server {sid} vs server {}: {}",
                sids[0],
                first_difference(first, t)
            ));
        }
    }
    let acked: BTreeMap<u64, String> = events
        .iter()
        .filter(|e| e.kind == Kind::Ok)
        .filter_map(|e| match &e.op {
            Op::Create { id, path: Some(p) } => Some((*id, p.clone())),
            _ => None,
        })
        .collect();
    r.acked_creates = acked.len();
    for (id, path) in &acked {
        for (sid, t) in sids.iter().zip(trees) {
            let ok = t
                .get(path)
                .is_some_and(|(data, ..)| data.as_slice() == id.to_string().as_bytes());
            if !ok {
                r.lost_creates.push(format!(
                    "create {id} acknowledged as {path}: not on server {sid}"
                ));
            }
        }
    }
    let mut count: BTreeMap<u64, usize> = BTreeMap::new();
    for (p, (data, ..)) in first {
        if p.rsplit('/')
            .next()
            .is_some_and(|name| name.starts_with("c-"))
        {
            if let Some(id) = std::str::from_utf8(data).ok().and_then(|s| s.parse().ok()) {
                *count.entry(id).or_default() += 1;
            }
        }
    }
    r.duplicates = count
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(i, n)| (*i, *n))
        .collect();
    r.found_ids = count
        .keys()
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(nodes: &[(&str, &str)]) -> Tree {
        nodes
            .iter()
            .map(|(p, d)| (p.to_string(), (d.as_bytes().to_vec(), 1, 1, 0)))
            .collect()
    }

    #[test]
    fn lost_and_duplicated_creates_and_differing_trees_are_reported() {
        let ok = |id, path: &str| Event {
            process: 0,
            kind: Kind::Ok,
            op: Op::Create {
                id,
                path: Some(path.into()),
            },
            time_ns: 0,
        };
        let events = vec![
            ok(1, "/chaos/g0/c-0000000000"),
            ok(2, "/chaos/g0/c-0000000001"),
        ];
        let a = tree(&[
            ("/chaos/g0/c-0000000000", "1"),
            ("/chaos/g0/c-0000000001", "2"),
            ("/chaos/g0/c-0000000002", "2"),
        ]);
        let b = tree(&[("/chaos/g0/c-0000000000", "1")]);
        let r = check(&[1, 2], &[a.clone(), b], &events);
        assert_eq!(r.duplicates, vec![(2, 2)]);
        assert_eq!(r.lost_creates.len(), 1);
        assert!(r.lost_creates[0].contains("not on server 2"));
        assert_eq!(r.tree_mismatches.len(), 1);
        let clean = check(&[1, 2], &[a.clone(), a], &events[..1]);
        assert!(clean.lost_creates.is_empty() && clean.tree_mismatches.is_empty());
    }
}
