//! Seeded protocol bugs (mutation testing of the simulator's fault model and invariants).
//!
//! Each [`Mutation`] re-introduces one known way to get ZAB wrong — historical Apache ZooKeeper
//! bugs and classic mistakes — behind a switch in [`crate::PeerConfig::mutations`]. The sweep
//! must catch every one of them (`cargo run --release -p zablab-core --features mutations
//! --example mutations`); a mutation it does not catch means the fault model or the invariants
//! are too weak. The browser lab's bug museum replays the scenario that breaks each one.
//!
//! The switches only exist in code built with the `mutations` feature: without it
//! [`enabled`] is the constant `false` and every mutated branch is compiled away.

/// One seeded bug.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Mutation {
    /// A follower ACKs a proposal as soon as it arrives, before its log append is durable.
    AckBeforeDurable,
    /// ZOOKEEPER-4643/4646: at NEWLEADER a learner writes currentEpoch and ACKs once that one
    /// write is durable, before the transactions the sync brought are logged.
    CurrentEpochBeforeSyncLogged,
    /// The leader keeps the ACKs of a learner's closed connection (Leader.processAck in 3.8):
    /// a learner TRUNCated since still counts for what it no longer holds.
    StaleAckAfterTrunc,
    /// The leader commits with one ACK fewer than a majority.
    CommitWithMinority,
    /// FastLeaderElection compares the last zxid before the epoch.
    FleZxidBeforeEpoch,
    /// Promises are not kept: a leader takes a learner that promised a newer epoch, and the
    /// learner accepts the older LEADERINFO (and writes the older acceptedEpoch).
    AcceptOlderEpoch,
    /// The leader starts syncing once the epoch is fixed, without a quorum of ACKEPOCH.
    NoAckEpochQuorum,
    /// The leader TRUNCs an ahead learner one transaction below its last commit.
    TruncBelowCommitted,
    /// A restarted server forgets its acceptedEpoch (takes currentEpoch instead).
    ForgetAcceptedEpoch,
    /// Observers' NEWLEADER ACKs and connections count towards the leader's quorums.
    ObserverInQuorum,
    /// A follower applies a proposal when it arrives instead of on COMMIT.
    ApplyUncommitted,
    /// While a reconfig is pending the leader commits with a quorum of the new member list
    /// only, not also of the old one (Leader.tryToCommit's qvAcksetPairs forgotten).
    ReconfigNewQuorumOnly,
}

impl Mutation {
    /// Every mutation, in a fixed order.
    pub const ALL: [Mutation; 12] = [
        Mutation::AckBeforeDurable,
        Mutation::CurrentEpochBeforeSyncLogged,
        Mutation::StaleAckAfterTrunc,
        Mutation::CommitWithMinority,
        Mutation::FleZxidBeforeEpoch,
        Mutation::AcceptOlderEpoch,
        Mutation::NoAckEpochQuorum,
        Mutation::TruncBelowCommitted,
        Mutation::ForgetAcceptedEpoch,
        Mutation::ObserverInQuorum,
        Mutation::ApplyUncommitted,
        Mutation::ReconfigNewQuorumOnly,
    ];

    /// The switch's name as the example's table and the lab print it.
    pub fn name(self) -> &'static str {
        match self {
            Mutation::AckBeforeDurable => "ack-before-durable",
            Mutation::CurrentEpochBeforeSyncLogged => "current-epoch-before-sync-logged",
            Mutation::StaleAckAfterTrunc => "stale-ack-after-trunc",
            Mutation::CommitWithMinority => "commit-with-minority",
            Mutation::FleZxidBeforeEpoch => "fle-zxid-before-epoch",
            Mutation::AcceptOlderEpoch => "accept-older-epoch",
            Mutation::NoAckEpochQuorum => "no-ackepoch-quorum",
            Mutation::TruncBelowCommitted => "trunc-below-committed",
            Mutation::ForgetAcceptedEpoch => "forget-accepted-epoch",
            Mutation::ObserverInQuorum => "observer-in-quorum",
            Mutation::ApplyUncommitted => "apply-uncommitted",
            Mutation::ReconfigNewQuorumOnly => "reconfig-new-quorum-only",
        }
    }

    pub fn from_name(name: &str) -> Option<Mutation> {
        Mutation::ALL.into_iter().find(|m| m.name() == name)
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// A set of switched-on mutations (empty by default).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct Mutations(pub u32);

impl Mutations {
    pub const NONE: Mutations = Mutations(0);

    pub fn only(m: Mutation) -> Mutations {
        Mutations(m.bit())
    }

    pub fn contains(self, m: Mutation) -> bool {
        self.0 & m.bit() != 0
    }
}

/// Whether `m` is switched on in `set`. Always `false` without the `mutations` feature.
#[inline(always)]
pub fn enabled(set: Mutations, m: Mutation) -> bool {
    #[cfg(feature = "mutations")]
    {
        set.contains(m)
    }
    #[cfg(not(feature = "mutations"))]
    {
        let _ = (set, m);
        false
    }
}
