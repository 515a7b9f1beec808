//! Events a peer reports about itself (`Output::Trace`). Each host wraps them, with its own
//! network, disk and client events, in the one trace format of [`record`]: the simulator keeps
//! those records, the UI draws them, lessons assert on them, invariants check them, and the
//! native node streams the same records.

pub mod record;
pub mod status;

pub use record::{HostEvent, TraceHeader, TraceRecord, TRACE_FORMAT_VERSION};
pub use status::PeerStatus;

use alloc::vec::Vec;

use crate::message::{Notification, PeerState, Vote};
use crate::zxid::{Epoch, Sid, Zxid};

/// ZooKeeper's `ZabState`: the phase a server is in.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ZabPhase {
    Election,
    Discovery,
    Synchronization,
    Broadcast,
}

impl ZabPhase {
    pub fn name(self) -> &'static str {
        match self {
            ZabPhase::Election => "ELECTION",
            ZabPhase::Discovery => "DISCOVERY",
            ZabPhase::Synchronization => "SYNC",
            ZabPhase::Broadcast => "BROADCAST",
        }
    }
}

/// How a LOOKING peer treated one notification (the vote box's "why").
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum VoteDecision {
    /// The sender's round was higher: the vote box was cleared, the round adopted, and our
    /// proposal became the newer of the sender's vote and our own initial vote.
    NewRound { adopted: bool },
    /// The sender's round was lower: ignored (the sender was answered with our vote).
    StaleRound,
    /// Same round, the sender's vote is newer by (peer_epoch, zxid, sid): adopted.
    Adopted,
    /// Same round, our proposal is at least as new: kept.
    Kept,
    /// From a FOLLOWING/LEADING server: recorded (in recvset if same round, and outofelection).
    Established,
    /// Not counted (an observer's, a non-member's, or a vote for a non-voter).
    Ignored,
}

/// Which DIFF/TRUNC/SNAP the leader chose for a learner, and why (docs/protocol.md §3.5).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum SyncMode {
    Diff,
    Trunc,
    Snap,
}

impl SyncMode {
    pub fn name(self) -> &'static str {
        match self {
            SyncMode::Diff => "DIFF",
            SyncMode::Trunc => "TRUNC",
            SyncMode::Snap => "SNAP",
        }
    }
}

/// Why the leader chose a learner's DIFF/TRUNC/SNAP (which branch of ZooKeeper's
/// `syncFollower` applied).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum SyncReason {
    /// The learner's last zxid is the leader's last processed one: an empty DIFF.
    InSync,
    /// The learner logged proposals past the leader's last commit: TRUNC to it.
    LearnerAhead,
    /// The learner's last zxid is inside the in-memory committed log.
    CommittedLog,
    /// Older than the committed log, but the on-disk transaction log reaches back to it and
    /// is smaller than snapshotSizeFactor × the snapshot.
    TxnLog,
    /// Older than the committed log and snapshotSizeFactor < 0.
    TxnLogDisabled,
    /// Older than the committed log, and the transaction log starts after it.
    TxnLogTooShort,
    /// Older than the committed log, and the log to send exceeds snapshotSizeFactor × the
    /// snapshot size.
    TxnLogTooLarge,
    /// The transaction log ends before the committed log starts.
    TxnLogGap,
    /// The learner's log diverges from the leader's across an epoch boundary (no TRUNC can
    /// cross one).
    DivergedAcrossEpochs,
}

impl SyncReason {
    pub const ALL: [SyncReason; 9] = [
        SyncReason::InSync,
        SyncReason::LearnerAhead,
        SyncReason::CommittedLog,
        SyncReason::TxnLog,
        SyncReason::TxnLogDisabled,
        SyncReason::TxnLogTooShort,
        SyncReason::TxnLogTooLarge,
        SyncReason::TxnLogGap,
        SyncReason::DivergedAcrossEpochs,
    ];

    /// The name lessons check against (the variant's name).
    pub fn name(self) -> &'static str {
        match self {
            SyncReason::InSync => "InSync",
            SyncReason::LearnerAhead => "LearnerAhead",
            SyncReason::CommittedLog => "CommittedLog",
            SyncReason::TxnLog => "TxnLog",
            SyncReason::TxnLogDisabled => "TxnLogDisabled",
            SyncReason::TxnLogTooShort => "TxnLogTooShort",
            SyncReason::TxnLogTooLarge => "TxnLogTooLarge",
            SyncReason::TxnLogGap => "TxnLogGap",
            SyncReason::DivergedAcrossEpochs => "DivergedAcrossEpochs",
        }
    }

    /// Why, in a few words, for logs and the lab.
    pub fn describe(self) -> &'static str {
        match self {
            SyncReason::InSync => "already in sync",
            SyncReason::LearnerAhead => "the learner has proposals past my last commit",
            SyncReason::CommittedLog => "inside my in-memory committed log",
            SyncReason::TxnLog => "older than my committed log, read from my transaction log",
            SyncReason::TxnLogDisabled => "older than my committed log; snapshotSizeFactor < 0",
            SyncReason::TxnLogTooShort => "older than my committed log and my transaction log",
            SyncReason::TxnLogTooLarge => {
                "my transaction log from there is larger than snapshotSizeFactor x my snapshot"
            }
            SyncReason::TxnLogGap => "my transaction log ends before my committed log starts",
            SyncReason::DivergedAcrossEpochs => {
                "our logs diverge across an epoch boundary (no TRUNC crosses one)"
            }
        }
    }
}

/// Something a peer did, for the trace.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum TraceEvent {
    StateChanged {
        from: PeerState,
        to: PeerState,
    },
    PhaseChanged {
        phase: ZabPhase,
    },
    /// A new election round started (LOOKING with this logicclock and initial vote).
    ElectionRound {
        logicclock: u64,
        vote: Vote,
    },
    /// A notification was processed by FastLeaderElection.
    VoteReceived {
        from: Sid,
        notification: Notification,
        decision: VoteDecision,
        proposal: Vote,
    },
    /// A quorum agrees with our proposal; waiting `finalizeWait` for a better vote.
    Finalizing {
        vote: Vote,
    },
    ElectionDone {
        leader: Sid,
        logicclock: u64,
        state: PeerState,
    },
    /// The leader fixed the new epoch (a quorum of FOLLOWERINFO) and wrote acceptedEpoch.
    EpochProposed {
        epoch: Epoch,
    },
    /// The leader chose how to synchronize a learner.
    SyncChosen {
        learner: Sid,
        mode: SyncMode,
        reason: SyncReason,
        peer_last_zxid: Zxid,
        min_committed: Zxid,
        max_committed: Zxid,
        /// DIFF/TRUNC target (the zxid the packet carries).
        target: Zxid,
    },
    /// A quorum acknowledged NEWLEADER: this leader is established for `epoch`.
    LeaderEstablished {
        epoch: Epoch,
    },
    /// A learner accepted NEWLEADER and wrote currentEpoch.
    NewEpochAccepted {
        epoch: Epoch,
    },
    /// Leader: prep turned a request (opcode `request_type`) into the transaction it
    /// proposes at `zxid` (`txn_type`, -1 for an ErrorTxn whose code is `err`; for a multi
    /// that failed, `err` is the failing sub-op's code). ZooKeeper's PrepRequestProcessor.
    Prepped {
        zxid: Zxid,
        request_type: i32,
        txn_type: i32,
        err: i32,
    },
    Proposed {
        zxid: Zxid,
    },
    /// Leader: a quorum acknowledged `zxid`.
    Committed {
        zxid: Zxid,
    },
    /// A committed transaction was applied to the state machine; `digest` is the state after it.
    Delivered {
        zxid: Zxid,
        digest: u64,
    },
    /// The state machine was reset (snapshot installed, log truncated and reloaded, recovery):
    /// delivery numbering restarts from `zxid`, whose state has this digest.
    StateReset {
        zxid: Zxid,
        digest: u64,
        reason: ResetReason,
    },
    /// A timer or a lost connection sent this peer back to LOOKING.
    GaveUp {
        reason: GiveUpReason,
    },
    /// A client request could not be served here.
    RequestRefused,
    /// The leader refused a learner's FOLLOWERINFO/OBSERVERINFO and closed its connection.
    LearnerRefused {
        learner: Sid,
        accepted_epoch: Epoch,
        reason: RefuseReason,
    },
    /// Leader: a reconfig was checked and proposed at `zxid` (its version once committed);
    /// until it commits, every commit needs a quorum of the old and of the new voters.
    ReconfigProposed {
        zxid: Zxid,
        voters: Vec<Sid>,
        observers: Vec<Sid>,
    },
    /// Leader: a reconfig was refused (ZooKeeper's KeeperException code `err`).
    ReconfigRefused {
        err: i32,
    },
    /// This server now runs with the member list of version `version` (ZooKeeper's
    /// COMMITANDACTIVATE / INFORMANDACTIVATE): quorums, elections and learner roles follow it.
    ConfigActivated {
        version: Zxid,
        voters: Vec<Sid>,
        observers: Vec<Sid>,
    },
}

/// Why a leader refused a learner.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum RefuseReason {
    /// The learner promised an epoch above this leader's (ZooKeeper refuses it the same way).
    PromisedNewerEpoch,
    /// The learner's acceptedEpoch is beyond any a leader of this ensemble could have proposed.
    ImplausibleEpoch,
}

impl TraceEvent {
    /// The variant's name (crash points and filters refer to events by it).
    pub fn name(&self) -> &'static str {
        match self {
            TraceEvent::StateChanged { .. } => "StateChanged",
            TraceEvent::PhaseChanged { .. } => "PhaseChanged",
            TraceEvent::ElectionRound { .. } => "ElectionRound",
            TraceEvent::VoteReceived { .. } => "VoteReceived",
            TraceEvent::Finalizing { .. } => "Finalizing",
            TraceEvent::ElectionDone { .. } => "ElectionDone",
            TraceEvent::EpochProposed { .. } => "EpochProposed",
            TraceEvent::SyncChosen { .. } => "SyncChosen",
            TraceEvent::LeaderEstablished { .. } => "LeaderEstablished",
            TraceEvent::NewEpochAccepted { .. } => "NewEpochAccepted",
            TraceEvent::Prepped { .. } => "Prepped",
            TraceEvent::Proposed { .. } => "Proposed",
            TraceEvent::Committed { .. } => "Committed",
            TraceEvent::Delivered { .. } => "Delivered",
            TraceEvent::StateReset { .. } => "StateReset",
            TraceEvent::GaveUp { .. } => "GaveUp",
            TraceEvent::RequestRefused => "RequestRefused",
            TraceEvent::LearnerRefused { .. } => "LearnerRefused",
            TraceEvent::ReconfigProposed { .. } => "ReconfigProposed",
            TraceEvent::ReconfigRefused { .. } => "ReconfigRefused",
            TraceEvent::ConfigActivated { .. } => "ConfigActivated",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ResetReason {
    Recovered,
    /// Entering LOOKING: logged but unapplied transactions were applied (ZooKeeper's
    /// `fastForwardDataBase`), so the state equals what a restart would load.
    FastForward,
    Truncated,
    SnapshotInstalled,
    /// The snapshot and log were discarded (a TRUNC below the snapshot); epochs were kept.
    Discarded,
}

/// Why a server left its role and went back to LOOKING.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum GiveUpReason {
    /// A learner heard nothing from its leader for syncLimit (initLimit while syncing) ticks.
    LeaderSilent,
    /// The leader's connection went away.
    LeaderDisconnected,
    /// The leader did not gather a quorum of FOLLOWERINFO/ACKEPOCH/NEWLEADER ACK in initLimit.
    NoQuorumInDiscovery,
    /// The leader's synced followers are no longer a quorum.
    LostQuorum,
    /// A packet broke the protocol (a gap, an epoch going backwards, a packet in the wrong phase).
    ProtocolViolation,
    /// The zxid counter would roll over.
    CounterRollover,
    /// The learner's log could not be truncated to the leader's TRUNC target.
    CannotTruncate,
    /// A reconfig changed this server's role or removed its leader (QuorumPeer's
    /// processReconfig asks for a new election): it joins again under the new members.
    Reconfigured,
}
