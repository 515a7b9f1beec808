//! The peer's log and state machine: appending to the in-memory mirror of the transaction
//! log (each append also a persist request), periodic snapshots, applying committed
//! transactions (with the reply to this server's client), and rebuilding the state from the
//! snapshot and log (ZooKeeper's `fastForwardDataBase` and the reload after TRUNC).

use crate::durable::{LogEntry, PersistOp};
use crate::machine::{StateMachine, TxnContext};
use crate::trace::{TraceEvent, ZabPhase};
use crate::zxid::Zxid;

use super::{Output, Peer};

impl<M: StateMachine> Peer<M> {
    /// Appends a transaction to the log (memory mirror + persist request) and takes a snapshot
    /// every `snap_count` transactions.
    pub(crate) fn log_append(&mut self, entry: LogEntry<M::Txn>) {
        debug_assert!(
            entry.zxid > self.last_logged_zxid(),
            "append {} not above lastLoggedZxid {}",
            entry.zxid,
            self.last_logged_zxid()
        );
        self.log.push(entry.clone());
        self.persist(PersistOp::Append(entry));
        self.logged_since_snapshot += 1;
    }

    /// Takes a snapshot of the applied state if `snap_count` transactions were logged since the
    /// last one. Only the applied prefix is snapshotted; the log keeps what follows it.
    pub(crate) fn maybe_snapshot(&mut self) {
        let every = self.config.snap_count;
        if every == 0 || self.logged_since_snapshot < every || self.phase != ZabPhase::Broadcast {
            return;
        }
        let zxid = self.last_processed;
        let snapshot = self.machine.snapshot();
        self.log.retain(|e| e.zxid > zxid);
        self.logged_since_snapshot = self.log.len() as u64;
        self.snapshot = Some((zxid, snapshot.clone()));
        self.persist(PersistOp::Snapshot { zxid, snapshot });
    }

    /// Applies one transaction to the state machine, records it in the committed log, replies
    /// to this server's client if it came from one, and traces the delivery.
    pub(crate) fn apply_entry(&mut self, entry: &LogEntry<M::Txn>) {
        debug_assert!(
            entry.zxid > self.last_processed,
            "apply {} not above lastProcessedZxid {}",
            entry.zxid,
            self.last_processed
        );
        let ctx = TxnContext {
            zxid: entry.zxid,
            time_ms: entry.time_ms,
            origin: entry.origin.map(|(s, _)| s),
        };
        let outcome = self.machine.apply(&ctx, &entry.txn);
        self.last_processed = entry.zxid;
        if let Some(members) = M::txn_members(&entry.txn) {
            // A reconfig applied as committed (COMMITANDACTIVATE / INFORMANDACTIVATE).
            self.activate(entry.zxid, members);
        }
        if self.committed_log.len() >= self.config.commit_log_count.max(1) {
            self.committed_log.pop_front();
        }
        self.committed_log.push_back(entry.clone());
        if let Some((sid, tag)) = entry.origin {
            if sid == self.config.myid && self.pending_requests.remove(&tag).is_some() {
                self.outbox.push(Output::Reply {
                    tag,
                    zxid: entry.zxid,
                    outcome,
                });
            }
        }
        let digest = self.machine.digest();
        self.trace(TraceEvent::Delivered {
            zxid: entry.zxid,
            digest,
        });
        self.maybe_snapshot();
    }

    /// ZooKeeper's `fastForwardDataBase`: applies every logged transaction not applied yet, so
    /// the in-memory state equals what a restart would load from disk.
    pub(crate) fn fast_forward(&mut self) {
        let start = self.log.partition_point(|e| e.zxid <= self.last_processed);
        if start >= self.log.len() {
            return;
        }
        for i in start..self.log.len() {
            let entry = self.log[i].clone();
            let ctx = TxnContext {
                zxid: entry.zxid,
                time_ms: entry.time_ms,
                origin: entry.origin.map(|(s, _)| s),
            };
            self.machine.apply(&ctx, &entry.txn);
            self.last_processed = entry.zxid;
            if self.committed_log.len() >= self.config.commit_log_count.max(1) {
                self.committed_log.pop_front();
            }
            self.committed_log.push_back(entry);
        }
    }

    /// Rebuilds the state machine from the snapshot and the log up to `upto`.
    pub(crate) fn reload(&mut self, upto: Zxid) {
        let (machine, base) = match &self.snapshot {
            Some((z, s)) => (M::restore(s), *z),
            None => (M::empty(), Zxid::ZERO),
        };
        self.machine = machine;
        self.last_processed = base;
        self.committed_log.clear();
        let end = self.log.partition_point(|e| e.zxid <= upto);
        self.log.truncate(end);
        self.fast_forward();
    }
}
