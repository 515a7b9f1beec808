//! How a leader synchronizes a learner: ZooKeeper's `LearnerHandler.syncFollower` decision
//! between DIFF, TRUNC and SNAP (reference §3.5), as a pure function of the learner's last
//! zxid, the leader's last processed zxid and its in-memory committed log.
//!
//! Simplification: ZooKeeper 3.8 can also read older proposals from its on-disk transaction
//! log (capped at `snapshotSizeFactor` × the snapshot size) before falling back to SNAP. This
//! core keeps only the in-memory committed log, so a learner behind `minCommittedLog` always
//! gets SNAP — which is what ZooKeeper does with `zookeeper.snapshotSizeFactor < 0`.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use crate::durable::LogEntry;
use crate::trace::SyncMode;
use crate::zxid::Zxid;

/// What the leader sends a learner before NEWLEADER.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SyncPlan<T> {
    pub mode: SyncMode,
    /// The zxid the DIFF/TRUNC/SNAP packet carries.
    pub target: Zxid,
    /// Committed proposals to send as PROPOSAL + COMMIT pairs after the DIFF or TRUNC.
    pub proposals: Vec<LogEntry<T>>,
    pub min_committed: Zxid,
    pub max_committed: Zxid,
}

/// Chooses DIFF, TRUNC or SNAP for a learner whose last logged zxid is `peer_last_zxid`.
pub fn choose_sync<T: Clone>(
    peer_last_zxid: Zxid,
    last_processed: Zxid,
    committed_log: &VecDeque<LogEntry<T>>,
) -> SyncPlan<T> {
    let (min_committed, max_committed) = match (committed_log.front(), committed_log.back()) {
        (Some(first), Some(last)) => (first.zxid, last.zxid),
        _ => (last_processed, last_processed),
    };
    let plan = |mode, target, proposals| SyncPlan {
        mode,
        target,
        proposals,
        min_committed,
        max_committed,
    };
    let snap = || plan(SyncMode::Snap, last_processed, Vec::new());
    let is_new_epoch = peer_last_zxid.is_new_epoch();

    if peer_last_zxid == last_processed {
        // Already in sync: an empty DIFF.
        return plan(SyncMode::Diff, peer_last_zxid, Vec::new());
    }
    if peer_last_zxid > max_committed && !is_new_epoch {
        // The learner holds proposals the leader never committed: cut back to our last commit.
        return plan(SyncMode::Trunc, max_committed, Vec::new());
    }
    if min_committed <= peer_last_zxid && peer_last_zxid <= max_committed {
        return match queue_committed_proposals(peer_last_zxid, max_committed, committed_log) {
            Some((mode, target, proposals)) => plan(mode, target, proposals),
            None => snap(),
        };
    }
    snap()
}

/// ZooKeeper's `queueCommittedProposals`: walks the committed log and decides whether the
/// learner's log is a prefix of ours (DIFF) or diverges inside one epoch (TRUNC to the last
/// zxid we share). Returns `None` when only a snapshot will do (divergence across an epoch).
fn queue_committed_proposals<T: Clone>(
    peer_last_zxid: Zxid,
    max_committed: Zxid,
    committed_log: &VecDeque<LogEntry<T>>,
) -> Option<(SyncMode, Zxid, Vec<LogEntry<T>>)> {
    let is_new_epoch = peer_last_zxid.is_new_epoch();
    let mut op: Option<(SyncMode, Zxid)> = None;
    let mut prev = Zxid::ZERO;
    let mut last_queued = Zxid::ZERO;
    let mut proposals = Vec::new();
    for p in committed_log {
        if p.zxid > max_committed {
            break;
        }
        if p.zxid < peer_last_zxid {
            prev = p.zxid;
            continue;
        }
        if op.is_none() {
            if p.zxid == peer_last_zxid {
                op = Some((SyncMode::Diff, max_committed));
                last_queued = p.zxid;
                continue;
            }
            if is_new_epoch {
                op = Some((SyncMode::Diff, max_committed));
            } else if p.zxid > peer_last_zxid {
                if p.zxid.epoch() != peer_last_zxid.epoch() {
                    return None;
                }
                op = Some((SyncMode::Trunc, prev));
            }
        }
        if p.zxid <= last_queued {
            continue;
        }
        proposals.push(p.clone());
        last_queued = p.zxid;
    }
    if op.is_none() && is_new_epoch {
        op = Some((SyncMode::Diff, max_committed));
    }
    op.map(|(mode, target)| (mode, target, proposals))
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

    fn zxids(plan: &SyncPlan<u64>) -> Vec<Zxid> {
        plan.proposals.iter().map(|p| p.zxid).collect()
    }

    #[test]
    fn learner_in_sync_gets_an_empty_diff() {
        let committed = log(&[(1, 1), (1, 2)]);
        let plan = choose_sync(Zxid::new(1, 2), Zxid::new(1, 2), &committed);
        assert_eq!((plan.mode, plan.target), (SyncMode::Diff, Zxid::new(1, 2)));
        assert!(plan.proposals.is_empty());
    }

    #[test]
    fn learner_behind_inside_the_window_gets_diff_with_the_missing_proposals() {
        let committed = log(&[(1, 1), (1, 2), (1, 3), (2, 1)]);
        let plan = choose_sync(Zxid::new(1, 2), Zxid::new(2, 1), &committed);
        assert_eq!((plan.mode, plan.target), (SyncMode::Diff, Zxid::new(2, 1)));
        assert_eq!(zxids(&plan), [Zxid::new(1, 3), Zxid::new(2, 1)]);
    }

    #[test]
    fn learner_ahead_of_the_last_commit_gets_trunc_to_it() {
        let committed = log(&[(1, 1), (1, 2)]);
        let plan = choose_sync(Zxid::new(1, 3), Zxid::new(1, 2), &committed);
        assert_eq!((plan.mode, plan.target), (SyncMode::Trunc, Zxid::new(1, 2)));
    }

    #[test]
    fn learner_diverging_inside_an_epoch_is_truncated_to_the_shared_prefix_then_diffed() {
        // The learner logged 1:3 that never committed; the leader went on in epoch 1 from 1:2
        // is impossible, but in the same epoch a gap shows as p > peer.
        let committed = log(&[(1, 1), (1, 2), (1, 4)]);
        let plan = choose_sync(Zxid::new(1, 3), Zxid::new(1, 4), &committed);
        assert_eq!((plan.mode, plan.target), (SyncMode::Trunc, Zxid::new(1, 2)));
        assert_eq!(zxids(&plan), [Zxid::new(1, 4)]);
    }

    #[test]
    fn divergence_across_an_epoch_boundary_needs_a_snapshot() {
        let committed = log(&[(1, 1), (1, 2), (2, 1)]);
        let plan = choose_sync(Zxid::new(1, 3), Zxid::new(2, 1), &committed);
        assert_eq!(plan.mode, SyncMode::Snap);
        assert_eq!(plan.target, Zxid::new(2, 1));
    }

    #[test]
    fn learner_behind_the_committed_window_gets_snap() {
        let committed = log(&[(1, 10), (1, 11)]);
        let plan = choose_sync(Zxid::new(1, 3), Zxid::new(1, 11), &committed);
        assert_eq!((plan.mode, plan.target), (SyncMode::Snap, Zxid::new(1, 11)));
    }

    #[test]
    fn new_epoch_learner_inside_the_window_gets_diff() {
        let committed = log(&[(1, 1), (2, 1), (2, 2)]);
        let plan = choose_sync(Zxid::new(2, 0), Zxid::new(2, 2), &committed);
        assert_eq!((plan.mode, plan.target), (SyncMode::Diff, Zxid::new(2, 2)));
        assert_eq!(zxids(&plan), [Zxid::new(2, 1), Zxid::new(2, 2)]);
    }
}
