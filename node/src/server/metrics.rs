//! ZooKeeper 3.8's `ServerMetrics`: the counters and summaries ZabLab has a source for, counted
//! where the event happens (the peer task from the core's trace in `runtime/observe.rs`, the
//! connection tasks as they time requests, the log writer as it times its fsyncs). What is
//! shown, and where, is [`super::monitor`]'s catalogue.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub mod summary;

pub use summary::{BufferStats, Summary, SummaryView};

const REL: Ordering = Ordering::Relaxed;

/// The counters and summaries of ZooKeeper's `ServerMetrics` that ZabLab keeps, plus its own
/// `trunc_count`.
#[derive(Default)]
pub struct ServerMetrics {
    /// Times this server entered LOOKING (`QuorumPeer.run`).
    pub looking_count: AtomicU64,
    /// Learners this leader synced without a snapshot: DIFF and TRUNC (`LearnerHandler`).
    pub diff_count: AtomicU64,
    /// Learners this leader synced with a snapshot.
    pub snap_count: AtomicU64,
    /// ZabLab's own: the TRUNC syncs among `diff_count`.
    pub trunc_count: AtomicU64,
    /// COMMITs this leader sent (`Leader.commit`).
    pub commit_count: AtomicU64,
    /// PROPOSALs this leader made (`Leader.propose`).
    pub proposal_count: AtomicU64,
    /// PROPOSAL / COMMIT packets this follower received from its leader.
    pub learner_proposal_received_count: AtomicU64,
    pub learner_commit_received_count: AtomicU64,
    /// Client connections accepted on the client port.
    pub connection_request_count: AtomicU64,
    /// ms from LOOKING to LEADING / FOLLOWING (`Leader.lead`, `Follower.followLeader`).
    pub election_time: Summary,
    /// ms from reading a request to sending its reply: reads, and writes (quorum requests).
    pub readlatency: Summary,
    pub updatelatency: Summary,
    /// ms from a leader's PROPOSAL to the quorum of ACKs that commits it.
    pub quorum_ack_latency: Summary,
    /// ms a learner spent in synchronization with its leader (NEWLEADER/UPTODATE included).
    pub follower_sync_time: Summary,
    pub observer_sync_time: Summary,
    /// ms from leaving broadcast (or starting) to broadcasting again (`QuorumPeer`), and the
    /// same for the times this server came back as the leader.
    pub unavailable_time: Summary,
    pub leader_unavailable_time: Summary,
    /// ms per transaction-log fsync (`FileTxnLog.commit`), written by the log writer thread.
    pub fsynctime: Arc<Summary>,
    /// fsyncs slower than `fsync.warningthresholdms` (1000 ms, ZooKeeper's default).
    pub fsync_threshold_exceed_count: Arc<AtomicU64>,
    /// Sizes in bytes of the PROPOSAL packets this leader sent (`ProposalStats`).
    pub proposal_sizes: BufferStats,
}

impl ServerMetrics {
    /// `ServerMetrics.resetAll`, which ZooKeeper's `srst` calls: with the default provider
    /// every counter and summary starts over; the Prometheus provider does not support it
    /// (Prometheus counters only grow), so then this is not called.
    pub fn reset_all(&self) {
        for c in [
            &self.looking_count,
            &self.diff_count,
            &self.snap_count,
            &self.trunc_count,
            &self.commit_count,
            &self.proposal_count,
            &self.learner_proposal_received_count,
            &self.learner_commit_received_count,
            &self.connection_request_count,
        ] {
            c.store(0, REL);
        }
        for s in [
            &self.election_time,
            &self.readlatency,
            &self.updatelatency,
            &self.quorum_ack_latency,
            &self.follower_sync_time,
            &self.observer_sync_time,
            &self.unavailable_time,
            &self.leader_unavailable_time,
            &*self.fsynctime,
        ] {
            s.reset();
        }
    }
}
