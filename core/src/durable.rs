//! What a peer keeps on disk, and the requests it makes to change it.
//!
//! A peer never writes anything itself: it emits [`PersistOp`]s (as `Output::Persist`) and
//! waits for the host's `Input::Persisted` before sending anything that depends on them (an
//! ACK of a proposal, an ACKEPOCH, a NEWLEADER ACK). Hosts complete persist requests in the
//! order they were issued. [`DurableState`] is the reference meaning of those requests: the
//! simulator keeps one per server, and the native node's files must read back as one.

use alloc::vec::Vec;

use crate::zxid::{Epoch, Sid, Zxid};

/// Identifies a client request on the server that received it; the host chooses the values.
pub type RequestTag = u64;

/// One transaction as it is proposed, logged and committed (ZooKeeper's `TxnHeader` + txn).
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct LogEntry<T> {
    pub zxid: Zxid,
    /// The leader's clock when it proposed.
    pub time_ms: u64,
    /// The server and tag of the client request this came from, so that server can reply.
    pub origin: Option<(Sid, RequestTag)>,
    pub txn: T,
}

/// A change to durable state.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum PersistOp<T, S> {
    /// The `acceptedEpoch` file: the newest epoch this peer promised to (the paper's f.p).
    AcceptedEpoch(Epoch),
    /// The `currentEpoch` file: the epoch whose NEWLEADER this peer accepted (the paper's f.a).
    CurrentEpoch(Epoch),
    /// Append to the transaction log.
    Append(LogEntry<T>),
    /// Remove every logged transaction above this zxid (TRUNC).
    Truncate(Zxid),
    /// A snapshot of the applied state at `zxid`; older log entries may be discarded.
    Snapshot { zxid: Zxid, snapshot: S },
    /// SNAP sync: the whole database is replaced by this snapshot and the log is emptied.
    InstallSnapshot { zxid: Zxid, snapshot: S },
    /// The snapshot and the log are discarded and currentEpoch becomes 0; acceptedEpoch stays
    /// (a learner whose TRUNC target lies below its snapshot starts over). acceptedEpoch is the
    /// promise and must survive; currentEpoch is the epoch of the history a server holds and
    /// ranks its vote first, so a server holding nothing must not keep it: an emptied server
    /// voting (currentEpoch 2, zxid 0) beats (1, 1:1) and, elected, truncates everyone to
    /// nothing (sweep seeds 22508 and 642105 lost an acknowledged write that way).
    DiscardDatabase,
}

impl<T, S> PersistOp<T, S> {
    pub fn kind(&self) -> &'static str {
        match self {
            PersistOp::AcceptedEpoch(_) => "acceptedEpoch",
            PersistOp::CurrentEpoch(_) => "currentEpoch",
            PersistOp::Append(_) => "append",
            PersistOp::Truncate(_) => "truncate",
            PersistOp::Snapshot { .. } => "snapshot",
            PersistOp::InstallSnapshot { .. } => "install snapshot",
            PersistOp::DiscardDatabase => "discard database",
        }
    }
}

/// Everything that survives a crash.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DurableState<T, S> {
    pub accepted_epoch: Epoch,
    pub current_epoch: Epoch,
    /// The newest snapshot and the zxid it covers.
    pub snapshot: Option<(Zxid, S)>,
    /// Logged transactions after the snapshot, in zxid order.
    pub log: Vec<LogEntry<T>>,
}

impl<T, S> Default for DurableState<T, S> {
    fn default() -> Self {
        DurableState {
            accepted_epoch: 0,
            current_epoch: 0,
            snapshot: None,
            log: Vec::new(),
        }
    }
}

impl<T: Clone, S: Clone> DurableState<T, S> {
    /// Applies a completed persist request.
    pub fn apply(&mut self, op: &PersistOp<T, S>) {
        match op {
            PersistOp::AcceptedEpoch(e) => self.accepted_epoch = *e,
            PersistOp::CurrentEpoch(e) => self.current_epoch = *e,
            PersistOp::Append(entry) => self.log.push(entry.clone()),
            PersistOp::Truncate(zxid) => self.log.retain(|e| e.zxid <= *zxid),
            PersistOp::Snapshot { zxid, snapshot } => {
                self.log.retain(|e| e.zxid > *zxid);
                self.snapshot = Some((*zxid, snapshot.clone()));
            }
            PersistOp::InstallSnapshot { zxid, snapshot } => {
                self.log.clear();
                self.snapshot = Some((*zxid, snapshot.clone()));
            }
            PersistOp::DiscardDatabase => {
                self.snapshot = None;
                self.log.clear();
                self.current_epoch = 0;
            }
        }
    }

    /// The last zxid on disk (ZooKeeper's `lastLoggedZxid` after a restart).
    pub fn last_logged_zxid(&self) -> Zxid {
        self.log
            .last()
            .map(|e| e.zxid)
            .or(self.snapshot.as_ref().map(|(z, _)| *z))
            .unwrap_or(Zxid::ZERO)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(c: u32) -> LogEntry<u64> {
        LogEntry {
            zxid: Zxid::new(1, c),
            time_ms: 0,
            origin: None,
            txn: c as u64,
        }
    }

    #[test]
    fn truncate_and_snapshot_keep_the_log_after_their_zxid() {
        let mut d: DurableState<u64, ()> = DurableState::default();
        for c in 1..=5 {
            d.apply(&PersistOp::Append(entry(c)));
        }
        d.apply(&PersistOp::Truncate(Zxid::new(1, 3)));
        assert_eq!(d.last_logged_zxid(), Zxid::new(1, 3));
        d.apply(&PersistOp::Snapshot {
            zxid: Zxid::new(1, 2),
            snapshot: (),
        });
        assert_eq!(d.log.len(), 1);
        assert_eq!(d.last_logged_zxid(), Zxid::new(1, 3));
        d.apply(&PersistOp::InstallSnapshot {
            zxid: Zxid::new(2, 7),
            snapshot: (),
        });
        assert!(d.log.is_empty());
        assert_eq!(d.last_logged_zxid(), Zxid::new(2, 7));
    }
}
