//! How a leader synchronizes a learner: ZooKeeper's `LearnerHandler.syncFollower` decision
//! between DIFF, TRUNC and SNAP (docs/protocol.md §3.5), as a pure function of the learner's last
//! zxid, the leader's last processed zxid, its in-memory committed log and — for a learner
//! older than the committed log — what the host read from the on-disk transaction log.
//!
//! ZooKeeper reads its transaction log inside `syncFollower` (`getProposalsFromTxnLog`,
//! capped at `snapshotSizeFactor` × the newest snapshot's size). The decision stays pure: the
//! first call answers [`SyncDecision::ReadTxnLog`] when the log matters, and the leader calls
//! again with what it read ([`TxnLog::Read`]) from its in-memory mirror of the log since its
//! newest snapshot (`Peer::log`), so no IO happens here. Simplification: ZooKeeper may also
//! read older log files it has not purged yet; ZabLab's leader reads only the log since its
//! newest snapshot, so a learner older than that snapshot gets SNAP.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use crate::durable::LogEntry;
use crate::trace::{SyncMode, SyncReason};
use crate::zxid::Zxid;

/// What the leader sends a learner before NEWLEADER.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SyncPlan<T> {
    pub mode: SyncMode,
    pub reason: SyncReason,
    /// The zxid the DIFF/TRUNC/SNAP packet carries.
    pub target: Zxid,
    /// Committed proposals to send as PROPOSAL + COMMIT pairs after the DIFF or TRUNC.
    pub proposals: Vec<LogEntry<T>>,
    pub min_committed: Zxid,
    pub max_committed: Zxid,
}

/// What the host found in the leader's on-disk transaction log from a learner's last zxid
/// (the answer to `Output::ReadTxnLog`).
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum TxnLogRead<T> {
    /// Every logged transaction from the last one at or below the requested zxid on, in zxid
    /// order.
    Entries(Vec<LogEntry<T>>),
    /// The log starts after the requested zxid (or is empty): it cannot show what the learner
    /// lacks.
    DoesNotReachBack,
    /// Those transactions take more than the allowed share of the newest snapshot's size.
    TooLarge { log_bytes: u64, limit_bytes: u64 },
}

/// The on-disk transaction log as far as one decision knows it.
#[derive(Clone, Copy, Debug)]
pub enum TxnLog<'a, T> {
    /// `snapshotSizeFactor` < 0: never read it.
    Disabled,
    /// Not read yet: a learner older than the committed log makes the decision ask for it.
    NotRead,
    Read(&'a TxnLogRead<T>),
}

/// The outcome of one call of [`choose_sync`].
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum SyncDecision<T> {
    Plan(SyncPlan<T>),
    /// The learner is older than the committed log: read the transaction log and call again.
    ReadTxnLog,
}

/// Chooses DIFF, TRUNC or SNAP for a learner whose last logged zxid is `peer_last_zxid`.
pub fn choose_sync<T: Clone>(
    peer_last_zxid: Zxid,
    last_processed: Zxid,
    committed_log: &VecDeque<LogEntry<T>>,
    txn_log: TxnLog<'_, T>,
) -> SyncDecision<T> {
    let (min_committed, max_committed) = match (committed_log.front(), committed_log.back()) {
        (Some(first), Some(last)) => (first.zxid, last.zxid),
        _ => (last_processed, last_processed),
    };
    let plan = |mode, reason, target, proposals| {
        SyncDecision::Plan(SyncPlan {
            mode,
            reason,
            target,
            proposals,
            min_committed,
            max_committed,
        })
    };
    let snap = |reason| plan(SyncMode::Snap, reason, last_processed, Vec::new());

    if peer_last_zxid == last_processed {
        // Already in sync: an empty DIFF.
        return plan(
            SyncMode::Diff,
            SyncReason::InSync,
            peer_last_zxid,
            Vec::new(),
        );
    }
    if peer_last_zxid > max_committed && !peer_last_zxid.is_new_epoch() {
        // The learner holds proposals the leader never committed: cut back to our last commit.
        return plan(
            SyncMode::Trunc,
            SyncReason::LearnerAhead,
            max_committed,
            Vec::new(),
        );
    }
    if min_committed <= peer_last_zxid && peer_last_zxid <= max_committed {
        let mut q = Queue::new(peer_last_zxid);
        let diverged = q.feed(committed_log.iter(), None, max_committed).is_err();
        return match q.finish(max_committed) {
            Some((mode, target)) if !diverged => {
                plan(mode, SyncReason::CommittedLog, target, q.proposals)
            }
            _ => snap(SyncReason::DivergedAcrossEpochs),
        };
    }
    // Older than the committed log: the on-disk transaction log, or a snapshot.
    let entries = match txn_log {
        TxnLog::Disabled => return snap(SyncReason::TxnLogDisabled),
        TxnLog::NotRead => return SyncDecision::ReadTxnLog,
        TxnLog::Read(TxnLogRead::DoesNotReachBack) => return snap(SyncReason::TxnLogTooShort),
        TxnLog::Read(TxnLogRead::TooLarge { .. }) => return snap(SyncReason::TxnLogTooLarge),
        TxnLog::Read(TxnLogRead::Entries(e)) if e.is_empty() => {
            return snap(SyncReason::TxnLogTooShort)
        }
        TxnLog::Read(TxnLogRead::Entries(e)) => e,
    };
    let mut q = Queue::new(peer_last_zxid);
    if q.feed(entries.iter(), Some(min_committed), max_committed)
        .is_err()
    {
        return snap(SyncReason::DivergedAcrossEpochs);
    }
    if q.queued < min_committed {
        // The log ends before the committed log begins (it was read before newer commits
        // moved the window, or it was truncated): ZooKeeper's "gap" case.
        return snap(SyncReason::TxnLogGap);
    }
    if q.feed(committed_log.iter(), None, max_committed).is_err() {
        return snap(SyncReason::DivergedAcrossEpochs);
    }
    match q.finish(max_committed) {
        Some((mode, target)) => plan(mode, SyncReason::TxnLog, target, q.proposals),
        None => snap(SyncReason::DivergedAcrossEpochs),
    }
}

/// The leader's on-disk transaction log as a decision may read it: the log since the newest
/// snapshot, that snapshot's size, the `snapshotSizeFactor` (`None`: never read) and the
/// size of one record.
pub struct TxnLogView<'a, T> {
    pub log: &'a [LogEntry<T>],
    pub snapshot_bytes: u64,
    pub size_factor_percent: Option<u32>,
    pub txn_bytes: fn(&T) -> u64,
}

impl<T: Clone> TxnLogView<'_, T> {
    /// ZooKeeper's `getProposalsFromTxnLog(from, snapshotSizeFactor × snapshot size)`: every
    /// logged transaction from the last one at or below `from`, unless the log starts after
    /// `from` or that part of it is larger than the limit (no limit without a snapshot).
    pub fn read(&self, from: Zxid) -> TxnLogRead<T> {
        let start = self.log.partition_point(|e| e.zxid <= from);
        if start == 0 {
            return TxnLogRead::DoesNotReachBack;
        }
        let part = &self.log[start - 1..];
        let percent = u64::from(self.size_factor_percent.unwrap_or(0));
        let limit_bytes = self.snapshot_bytes.saturating_mul(percent) / 100;
        if limit_bytes > 0 {
            let mut log_bytes = 0u64;
            for e in part {
                log_bytes = log_bytes.saturating_add((self.txn_bytes)(&e.txn));
                if log_bytes > limit_bytes {
                    return TxnLogRead::TooLarge {
                        log_bytes,
                        limit_bytes,
                    };
                }
            }
        }
        TxnLogRead::Entries(part.to_vec())
    }
}

/// The whole decision: [`choose_sync`], reading `txn_log` only when the learner is older than
/// the committed log.
pub fn sync_plan<T: Clone>(
    peer_last_zxid: Zxid,
    last_processed: Zxid,
    committed_log: &VecDeque<LogEntry<T>>,
    txn_log: TxnLogView<'_, T>,
) -> SyncPlan<T> {
    let decide = |log| choose_sync(peer_last_zxid, last_processed, committed_log, log);
    let first = match txn_log.size_factor_percent {
        None => decide(TxnLog::Disabled),
        Some(_) => decide(TxnLog::NotRead),
    };
    let read = match first {
        SyncDecision::Plan(plan) => return plan,
        SyncDecision::ReadTxnLog => txn_log.read(peer_last_zxid),
    };
    match decide(TxnLog::Read(&read)) {
        SyncDecision::Plan(plan) => plan,
        SyncDecision::ReadTxnLog => unreachable!("the transaction log was read"),
    }
}

/// ZooKeeper's `queueCommittedProposals` with its `needOpPacket` state, fed once from one
/// source or twice (transaction log, then committed log): decides whether the learner's log is
/// a prefix of ours (DIFF) or diverges inside one epoch (TRUNC to the last zxid we share), and
/// queues every proposal after the learner's last zxid exactly once.
struct Queue<T> {
    peer_last_zxid: Zxid,
    op: Option<(SyncMode, Zxid)>,
    /// The last zxid queued (or the learner's own last zxid before anything is).
    queued: Zxid,
    prev: Zxid,
    proposals: Vec<LogEntry<T>>,
}

/// A divergence across an epoch boundary: the learner cannot be TRUNCated (it would crash).
struct Diverged;

impl<T: Clone> Queue<T> {
    fn new(peer_last_zxid: Zxid) -> Queue<T> {
        Queue {
            peer_last_zxid,
            op: None,
            queued: peer_last_zxid,
            prev: Zxid::ZERO,
            proposals: Vec::new(),
        }
    }

    /// Feeds proposals up to `max_zxid` (everything if `None`); `last_committed` is what a
    /// DIFF carries.
    fn feed<'a>(
        &mut self,
        log: impl Iterator<Item = &'a LogEntry<T>>,
        max_zxid: Option<Zxid>,
        last_committed: Zxid,
    ) -> Result<(), Diverged>
    where
        T: 'a,
    {
        let peer = self.peer_last_zxid;
        for p in log {
            if max_zxid.is_some_and(|m| p.zxid > m) {
                break;
            }
            if p.zxid < peer {
                self.prev = p.zxid;
                continue;
            }
            if self.op.is_none() {
                if p.zxid == peer {
                    self.op = Some((SyncMode::Diff, last_committed));
                    continue;
                }
                if peer.is_new_epoch() {
                    self.op = Some((SyncMode::Diff, last_committed));
                } else if p.zxid > peer {
                    if p.zxid.epoch() != peer.epoch() {
                        return Err(Diverged);
                    }
                    self.op = Some((SyncMode::Trunc, self.prev));
                }
            }
            if p.zxid <= self.queued {
                continue;
            }
            self.proposals.push(p.clone());
            self.queued = p.zxid;
        }
        Ok(())
    }

    /// The DIFF or TRUNC packet; `None` when only a snapshot will do.
    fn finish(&mut self, last_committed: Zxid) -> Option<(SyncMode, Zxid)> {
        if self.op.is_none() && self.peer_last_zxid.is_new_epoch() {
            // Our history is older than the learner's new-epoch zxid with nothing since.
            self.op = Some((SyncMode::Diff, last_committed));
        }
        self.op
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(zxids: &[(u32, u32)]) -> VecDeque<LogEntry<u64>> {
        zxids
            .iter()
            .map(|&(e, c)| LogEntry {
                zxid: Zxid::new(e, c),
                time_ms: 0,
                origin: None,
                txn: c as u64,
            })
            .collect()
    }

    /// Transactions `1:c` for each counter `c`.
    fn epoch_one(counters: impl IntoIterator<Item = u32>) -> VecDeque<LogEntry<u64>> {
        let zxids: Vec<(u32, u32)> = counters.into_iter().map(|c| (1, c)).collect();
        log(&zxids)
    }

    /// The decision of a leader that reads no transaction log.
    fn plan(peer: Zxid, last: Zxid, committed: &VecDeque<LogEntry<u64>>) -> SyncPlan<u64> {
        match choose_sync(peer, last, committed, TxnLog::Disabled) {
            SyncDecision::Plan(p) => p,
            SyncDecision::ReadTxnLog => panic!("a disabled transaction log is never read"),
        }
    }

    fn with_log(
        peer: Zxid,
        last: Zxid,
        committed: &VecDeque<LogEntry<u64>>,
        read: &TxnLogRead<u64>,
    ) -> SyncPlan<u64> {
        assert_eq!(
            choose_sync(peer, last, committed, TxnLog::NotRead),
            SyncDecision::ReadTxnLog,
            "a learner older than the committed log makes the leader read its log"
        );
        match choose_sync(peer, last, committed, TxnLog::Read(read)) {
            SyncDecision::Plan(p) => p,
            SyncDecision::ReadTxnLog => panic!("asked twice"),
        }
    }

    fn zxids(plan: &SyncPlan<u64>) -> Vec<Zxid> {
        plan.proposals.iter().map(|p| p.zxid).collect()
    }

    #[test]
    fn learner_in_sync_gets_an_empty_diff() {
        let committed = log(&[(1, 1), (1, 2)]);
        let plan = plan(Zxid::new(1, 2), Zxid::new(1, 2), &committed);
        assert_eq!((plan.mode, plan.target), (SyncMode::Diff, Zxid::new(1, 2)));
        assert!(plan.proposals.is_empty());
    }

    #[test]
    fn learner_behind_inside_the_window_gets_diff_with_the_missing_proposals() {
        let committed = log(&[(1, 1), (1, 2), (1, 3), (2, 1)]);
        let plan = plan(Zxid::new(1, 2), Zxid::new(2, 1), &committed);
        assert_eq!((plan.mode, plan.target), (SyncMode::Diff, Zxid::new(2, 1)));
        assert_eq!(zxids(&plan), [Zxid::new(1, 3), Zxid::new(2, 1)]);
    }

    #[test]
    fn learner_ahead_of_the_last_commit_gets_trunc_to_it() {
        let committed = log(&[(1, 1), (1, 2)]);
        let plan = plan(Zxid::new(1, 3), Zxid::new(1, 2), &committed);
        assert_eq!((plan.mode, plan.target), (SyncMode::Trunc, Zxid::new(1, 2)));
    }

    #[test]
    fn learner_diverging_inside_an_epoch_is_truncated_to_the_shared_prefix_then_diffed() {
        // The learner logged 1:3 that never committed; the leader went on in epoch 1 from 1:2
        // is impossible, but in the same epoch a gap shows as p > peer.
        let committed = log(&[(1, 1), (1, 2), (1, 4)]);
        let plan = plan(Zxid::new(1, 3), Zxid::new(1, 4), &committed);
        assert_eq!((plan.mode, plan.target), (SyncMode::Trunc, Zxid::new(1, 2)));
        assert_eq!(zxids(&plan), [Zxid::new(1, 4)]);
    }

    #[test]
    fn divergence_across_an_epoch_boundary_needs_a_snapshot() {
        let committed = log(&[(1, 1), (1, 2), (2, 1)]);
        let plan = plan(Zxid::new(1, 3), Zxid::new(2, 1), &committed);
        assert_eq!(plan.mode, SyncMode::Snap);
        assert_eq!(plan.target, Zxid::new(2, 1));
    }

    #[test]
    fn learner_behind_the_committed_window_gets_snap_when_the_log_is_not_read() {
        let committed = log(&[(1, 10), (1, 11)]);
        let plan = plan(Zxid::new(1, 3), Zxid::new(1, 11), &committed);
        assert_eq!((plan.mode, plan.target), (SyncMode::Snap, Zxid::new(1, 11)));
        assert_eq!(plan.reason, SyncReason::TxnLogDisabled);
    }

    #[test]
    fn learner_behind_the_committed_window_gets_diff_from_the_transaction_log() {
        let committed = log(&[(1, 10), (1, 11)]);
        let disk = TxnLogRead::Entries(epoch_one(2..=11).into());
        let plan = with_log(Zxid::new(1, 3), Zxid::new(1, 11), &committed, &disk);
        assert_eq!((plan.mode, plan.target), (SyncMode::Diff, Zxid::new(1, 11)));
        assert_eq!(plan.reason, SyncReason::TxnLog);
        let want: Vec<Zxid> = (4..=11).map(|c| Zxid::new(1, c)).collect();
        assert_eq!(zxids(&plan), want, "each missing proposal once, in order");
    }

    #[test]
    fn a_log_that_does_not_reach_back_or_is_too_large_means_snap() {
        let committed = log(&[(1, 10), (1, 11)]);
        let short = with_log(
            Zxid::new(1, 3),
            Zxid::new(1, 11),
            &committed,
            &TxnLogRead::DoesNotReachBack,
        );
        assert_eq!(
            (short.mode, short.reason),
            (SyncMode::Snap, SyncReason::TxnLogTooShort)
        );
        let large = TxnLogRead::TooLarge {
            log_bytes: 900,
            limit_bytes: 330,
        };
        let large = with_log(Zxid::new(1, 3), Zxid::new(1, 11), &committed, &large);
        assert_eq!(
            (large.mode, large.reason),
            (SyncMode::Snap, SyncReason::TxnLogTooLarge)
        );
    }

    #[test]
    fn the_log_is_weighed_against_the_size_factor_times_the_snapshot() {
        let disk: Vec<LogEntry<u64>> = log(&[(1, 1), (1, 2), (1, 3), (1, 4)]).into();
        let view = |snapshot_bytes, pct| TxnLogView {
            log: &disk,
            snapshot_bytes,
            size_factor_percent: pct,
            txn_bytes: |_| 10,
        };
        // From 1:2: the records 1:2, 1:3, 1:4 (30 bytes).
        assert_eq!(
            view(100, Some(30)).read(Zxid::new(1, 2)),
            TxnLogRead::Entries(disk[1..].to_vec())
        );
        assert_eq!(
            view(100, Some(29)).read(Zxid::new(1, 2)),
            TxnLogRead::TooLarge {
                log_bytes: 30,
                limit_bytes: 29
            }
        );
        assert_eq!(
            view(0, Some(33)).read(Zxid::new(1, 2)),
            TxnLogRead::Entries(disk[1..].to_vec()),
            "no snapshot: no limit"
        );
        assert_eq!(
            view(100, Some(33)).read(Zxid::new(1, 0)),
            TxnLogRead::DoesNotReachBack
        );
        let committed = log(&[(1, 4)]);
        let off = sync_plan(
            Zxid::new(1, 2),
            Zxid::new(1, 4),
            &committed,
            view(100, None),
        );
        assert_eq!(
            (off.mode, off.reason),
            (SyncMode::Snap, SyncReason::TxnLogDisabled)
        );
        let on = sync_plan(
            Zxid::new(1, 2),
            Zxid::new(1, 4),
            &committed,
            view(100, Some(33)),
        );
        assert_eq!((on.mode, on.reason), (SyncMode::Diff, SyncReason::TxnLog));
    }

    #[test]
    fn a_log_ending_before_the_committed_window_is_a_gap_and_means_snap() {
        // Read while the window started at 1:5; by the answer it starts at 1:10.
        let committed = log(&[(1, 10), (1, 11)]);
        let disk = TxnLogRead::Entries(log(&[(1, 3), (1, 4), (1, 5), (1, 6)]).into());
        let plan = with_log(Zxid::new(1, 3), Zxid::new(1, 11), &committed, &disk);
        assert_eq!(
            (plan.mode, plan.reason),
            (SyncMode::Snap, SyncReason::TxnLogGap)
        );
    }

    #[test]
    fn a_learner_diverging_inside_the_logged_epoch_is_truncated_from_the_transaction_log() {
        // The learner's 1:4 never committed; the leader's log went 1:3, 1:5, ...
        let committed = log(&[(1, 9), (1, 10)]);
        let disk = TxnLogRead::Entries(epoch_one((2..=10).filter(|c| *c != 4)).into());
        let plan = with_log(Zxid::new(1, 4), Zxid::new(1, 10), &committed, &disk);
        assert_eq!((plan.mode, plan.target), (SyncMode::Trunc, Zxid::new(1, 3)));
        assert_eq!(zxids(&plan)[0], Zxid::new(1, 5));
        assert_eq!(zxids(&plan).len(), 6);
    }

    #[test]
    fn new_epoch_learner_inside_the_window_gets_diff() {
        let committed = log(&[(1, 1), (2, 1), (2, 2)]);
        let plan = plan(Zxid::new(2, 0), Zxid::new(2, 2), &committed);
        assert_eq!((plan.mode, plan.target), (SyncMode::Diff, Zxid::new(2, 2)));
        assert_eq!(zxids(&plan), [Zxid::new(2, 1), Zxid::new(2, 2)]);
    }
}
