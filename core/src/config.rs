//! Ensemble membership and timing, as a `zoo.cfg` expresses them
//! (`server.N=...:participant|observer`, `tickTime`, `initLimit`, `syncLimit`) plus the
//! FastLeaderElection and committed-log constants ZooKeeper keeps in system properties.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::zxid::Sid;

/// Whether a member votes (`participant`) or only learns (`observer`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum LearnerType {
    Participant,
    Observer,
}

/// The members of the ensemble (ZooKeeper's `QuorumVerifier` for majority quorums).
#[derive(Clone, PartialEq, Eq, Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Ensemble {
    pub members: BTreeMap<Sid, LearnerType>,
}

impl Ensemble {
    /// `participants` voting servers with ids `1..=participants`, then `observers` observers.
    pub fn new(participants: u64, observers: u64) -> Ensemble {
        let mut members = BTreeMap::new();
        for sid in 1..=participants {
            members.insert(sid, LearnerType::Participant);
        }
        for sid in participants + 1..=participants + observers {
            members.insert(sid, LearnerType::Observer);
        }
        Ensemble { members }
    }

    pub fn is_voter(&self, sid: Sid) -> bool {
        self.members.get(&sid) == Some(&LearnerType::Participant)
    }

    pub fn is_member(&self, sid: Sid) -> bool {
        self.members.contains_key(&sid)
    }

    pub fn voters(&self) -> impl Iterator<Item = Sid> + '_ {
        self.members
            .iter()
            .filter(|(_, t)| **t == LearnerType::Participant)
            .map(|(s, _)| *s)
    }

    pub fn observers(&self) -> impl Iterator<Item = Sid> + '_ {
        self.members
            .iter()
            .filter(|(_, t)| **t == LearnerType::Observer)
            .map(|(s, _)| *s)
    }

    pub fn voter_count(&self) -> usize {
        self.voters().count()
    }

    /// Majority quorum: strictly more than half of the voting members (docs/protocol.md §2.8).
    pub fn is_quorum<'a>(&self, sids: impl IntoIterator<Item = &'a Sid>) -> bool {
        let votes = sids.into_iter().filter(|s| self.is_voter(**s)).count();
        2 * votes > self.voter_count()
    }

    pub fn all(&self) -> Vec<Sid> {
        self.members.keys().copied().collect()
    }
}

/// Timing in host milliseconds (see [`crate::Instant`]) and in ZooKeeper ticks.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Timing {
    /// ZooKeeper's `tickTime`: the leader pings every half tick and checks its quorum every tick.
    pub tick_time_ms: u64,
    /// `initLimit`: ticks a learner has to connect and sync (discovery and synchronization).
    pub init_limit: u32,
    /// `syncLimit`: ticks a learner may go without hearing from the leader (and vice versa).
    pub sync_limit: u32,
    /// `finalizeWait`: how long a LOOKING peer waits for a better vote once a quorum agrees.
    pub finalize_wait_ms: u64,
    /// `minNotificationInterval`: the first re-send interval while no notification arrives.
    pub min_notification_interval_ms: u64,
    /// `maxNotificationInterval`: the cap of the doubling re-send interval.
    pub max_notification_interval_ms: u64,
}

impl Default for Timing {
    /// ZooKeeper's defaults with the `tickTime=2000 initLimit=10 syncLimit=5` of its sample config.
    fn default() -> Timing {
        Timing {
            tick_time_ms: 2000,
            init_limit: 10,
            sync_limit: 5,
            finalize_wait_ms: 200,
            min_notification_interval_ms: 200,
            max_notification_interval_ms: 60_000,
        }
    }
}

impl Timing {
    pub fn init_limit_ms(&self) -> u64 {
        self.tick_time_ms * self.init_limit as u64
    }
    pub fn sync_limit_ms(&self) -> u64 {
        self.tick_time_ms * self.sync_limit as u64
    }
}

/// Everything one peer needs to know before it starts.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PeerConfig {
    pub myid: Sid,
    pub ensemble: Ensemble,
    pub timing: Timing,
    /// `zookeeper.commitLogCount`: how many committed proposals the leader keeps in memory for
    /// DIFF sync. A learner further behind gets a DIFF from the transaction log if
    /// `snapshot_size_factor_percent` allows it, SNAP otherwise (docs/protocol.md §3.5).
    pub commit_log_count: usize,
    /// `snapCount`: take a snapshot after this many logged transactions (0 = never).
    pub snap_count: u64,
    /// `zookeeper.snapshotSizeFactor` in percent: a learner older than the committed log gets
    /// a DIFF read from the transaction log while that part of the log is at most this share
    /// of the newest snapshot's size. `None` (ZooKeeper: a negative factor) never reads it.
    pub snapshot_size_factor_percent: Option<u32>,
    /// Seeded protocol bugs switched on (only read when built with the `mutations` feature).
    pub mutations: crate::mutation::Mutations,
    /// `reconfigEnabled`: whether the leader accepts `reconfig` (ZooKeeper's default: no).
    #[cfg_attr(feature = "serde", serde(default))]
    pub reconfig_enabled: bool,
}

impl PeerConfig {
    pub fn new(myid: Sid, ensemble: Ensemble) -> PeerConfig {
        PeerConfig {
            myid,
            ensemble,
            timing: Timing::default(),
            commit_log_count: 500,
            snap_count: 100_000,
            snapshot_size_factor_percent: Some(33),
            mutations: crate::mutation::Mutations::NONE,
            reconfig_enabled: false,
        }
    }

    pub fn learner_type(&self) -> LearnerType {
        self.ensemble
            .members
            .get(&self.myid)
            .copied()
            .unwrap_or(LearnerType::Observer)
    }

    pub fn is_participant(&self) -> bool {
        self.learner_type() == LearnerType::Participant
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quorum_is_a_strict_majority_of_voters_and_ignores_observers() {
        let e = Ensemble::new(5, 2);
        assert!(!e.is_quorum(&[1, 2]));
        assert!(e.is_quorum(&[1, 2, 3]));
        // Observers 6 and 7 never count.
        assert!(!e.is_quorum(&[1, 6, 7]));
        let four = Ensemble::new(4, 0);
        assert!(!four.is_quorum(&[1, 2]), "2 of 4 is not a strict majority");
        assert!(four.is_quorum(&[1, 2, 3]));
    }
}
