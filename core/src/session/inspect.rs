//! What `wchs wchc wchp dump` read from the session layer: the data-table watches of this
//! server's connections, the sessions with ephemerals, and the session expiry buckets this
//! server knows. The watch tables are the tree's; the tree can only be asked whether a
//! connection watches a given path (`checkWatches`), so each connection remembers the paths it
//! asked to watch, and the dump keeps those the tree confirms (dropping the others, so the set
//! stays as large as the live watches, not as all the watching reads ever made).

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::peer::Peer;
use crate::tree::{ConnId, ReadRequest, WatcherType};

use super::{ClientMachine, ClientOp, ClientSessions, ServerCnxn};

/// A connection remembers at most this many candidate watched paths between two prunes
/// beyond the live ones (the prune runs when the set doubles).
const MIN_PRUNE_AT: usize = 1024;

/// A snapshot for the four-letter words that read the tree and the session table.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Inspection {
    /// Per watching connection (by session id): its data-table watched paths, sorted.
    pub watches: Vec<(i64, Vec<alloc::string::String>)>,
    /// Every session with ephemeral nodes, and their paths (replicated: complete on any server).
    pub ephemerals: Vec<(i64, Vec<alloc::string::String>)>,
    /// The sessions of this server's clients with their negotiated timeouts.
    pub local_sessions: Vec<(i64, i32)>,
    /// Expiry buckets (ms, tickTime-aligned) of the sessions whose clients are connected
    /// here, each with its session ids: what this server knows of ZooKeeper's session queue.
    pub buckets: Vec<(u64, Vec<i64>)>,
}

/// `ExpiryQueue.roundToNextInterval`: the bucket a deadline falls in.
pub fn expiry_bucket(deadline_ms: u64, tick_ms: u64) -> u64 {
    let tick = tick_ms.max(1);
    (deadline_ms / tick + 1) * tick
}

impl ServerCnxn {
    /// The data-table paths `op` may leave a watch on (the tree decides whether it did).
    pub(super) fn note_watch(&mut self, op: &ClientOp) {
        let mut add = |p: &alloc::string::String| {
            self.watch_paths.insert(p.clone());
        };
        match op {
            ClientOp::Read(ReadRequest::Exists { path, watch: true })
            | ClientOp::Read(ReadRequest::GetData { path, watch: true }) => add(path),
            ClientOp::AddWatch { path, .. } => add(path),
            ClientOp::SetWatches(s) => {
                for p in s
                    .data_watches
                    .iter()
                    .chain(&s.exist_watches)
                    .chain(&s.persistent_watches)
                    .chain(&s.persistent_recursive_watches)
                {
                    add(p);
                }
            }
            _ => {}
        }
    }
}

impl<M: ClientMachine> ClientSessions<M> {
    /// Drops the remembered paths of `conn` that the tree no longer watches for it, when the
    /// set has doubled since the last prune.
    pub(super) fn maybe_prune_watches(&mut self, peer: &mut Peer<M>, conn: ConnId) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if c.watch_paths.len() < c.watch_paths_pruned_at.max(MIN_PRUNE_AT) {
            return;
        }
        if let Some(tree) = peer.machine_mut().tree_mut() {
            c.watch_paths
                .retain(|p| tree.check_watches(conn, p, WatcherType::Data).is_ok());
        }
        c.watch_paths_pruned_at = c.watch_paths.len() * 2;
    }

    /// The snapshot `wchs wchc wchp dump` print; prunes every connection's remembered paths.
    pub fn inspect(&mut self, peer: &mut Peer<M>) -> Inspection {
        let tick = peer.config().timing.tick_time_ms;
        let mut out = Inspection::default();
        let Some(tree) = peer.machine_mut().tree_mut() else {
            return out;
        };
        let mut buckets: BTreeMap<u64, Vec<i64>> = BTreeMap::new();
        for (id, c) in self.conns.iter_mut() {
            c.watch_paths
                .retain(|p| tree.check_watches(*id, p, WatcherType::Data).is_ok());
            c.watch_paths_pruned_at = c.watch_paths.len() * 2;
            if c.creating.is_some() {
                continue;
            }
            if !c.watch_paths.is_empty() {
                out.watches
                    .push((c.session_id, c.watch_paths.iter().cloned().collect()));
            }
            out.local_sessions.push((c.session_id, c.timeout_ms));
            let deadline = c.touched + c.timeout_ms.max(0) as u64;
            buckets
                .entry(expiry_bucket(deadline.0, tick))
                .or_default()
                .push(c.session_id);
        }
        out.local_sessions.sort();
        out.buckets = buckets.into_iter().collect();
        let sessions: Vec<i64> = tree.sessions().keys().copied().collect();
        for s in sessions {
            let eph = tree.get_ephemerals(s, "/");
            if !eph.is_empty() {
                out.ephemerals.push((s, eph));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_round_up_to_the_next_tick_as_expiry_queue_does() {
        assert_eq!(expiry_bucket(0, 2000), 2000);
        assert_eq!(expiry_bucket(1999, 2000), 2000);
        assert_eq!(expiry_bucket(2000, 2000), 4000);
        assert_eq!(expiry_bucket(5, 0), 6);
    }
}
