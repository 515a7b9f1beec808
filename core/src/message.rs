//! Messages between servers, with the fields of Apache ZooKeeper's election notifications
//! (docs/protocol.md §2.2) and quorum packets (§3.3), so a simulator trace reads like a capture of
//! a real ensemble. The native node encodes them in ZooKeeper's byte layouts.

use alloc::vec::Vec;

use crate::durable::{LogEntry, RequestTag};
use crate::zxid::{Epoch, Sid, Zxid};

/// A server's role, as FastLeaderElection and `srvr` name it. The discriminants are the wire
/// codes of the notification's `state` field.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum PeerState {
    Looking = 0,
    Following = 1,
    Leading = 2,
    Observing = 3,
}

impl PeerState {
    pub fn name(self) -> &'static str {
        match self {
            PeerState::Looking => "LOOKING",
            PeerState::Following => "FOLLOWING",
            PeerState::Leading => "LEADING",
            PeerState::Observing => "OBSERVING",
        }
    }

    pub fn from_code(code: i32) -> Option<PeerState> {
        Some(match code {
            0 => PeerState::Looking,
            1 => PeerState::Following,
            2 => PeerState::Leading,
            3 => PeerState::Observing,
            _ => return None,
        })
    }
}

/// A vote: who should lead, and the (peer_epoch, zxid) that make the case for it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Vote {
    pub vote_id: Sid,
    pub vote_zxid: Zxid,
    pub peer_epoch: Epoch,
}

impl Vote {
    /// ZooKeeper's `totalOrderPredicate` (docs/protocol.md §2.3): lexicographic on
    /// (peer_epoch, zxid, sid). Whether the candidate may lead at all (an observer may not) is
    /// the caller's check.
    pub fn is_newer_than(&self, current: &Vote) -> bool {
        (self.peer_epoch, self.vote_zxid, self.vote_id)
            > (current.peer_epoch, current.vote_zxid, current.vote_id)
    }
}

/// A FastLeaderElection notification (wire version 2 without the config text).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Notification {
    /// The sender's state.
    pub state: PeerState,
    /// The proposed (or, from a FOLLOWING/LEADING sender, the established) leader.
    pub vote_id: Sid,
    pub vote_zxid: Zxid,
    /// The sender's election round (`electionEpoch` on the wire).
    pub logicclock: u64,
    pub peer_epoch: Epoch,
    pub sender: Sid,
}

impl Notification {
    pub fn vote(&self) -> Vote {
        Vote {
            vote_id: self.vote_id,
            vote_zxid: self.vote_zxid,
            peer_epoch: self.peer_epoch,
        }
    }
}

/// A session seen alive on a follower, reported to the leader in the PING reply.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SessionTouch {
    pub session_id: i64,
    pub timeout_ms: i32,
}

/// What a learner forwards to the leader in a REQUEST packet.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Forwarded<T> {
    /// A write: the leader preps it into a transaction and proposes that.
    Write(T),
    /// A client `sync`: the leader answers SYNC once everything it proposed so far commits.
    Sync,
    /// A client `reconfig`: the leader checks it and proposes its transaction (or, refused,
    /// an error transaction) with the learner's tag as origin.
    Reconfig(crate::reconfig::ReconfigRequest),
}

/// Every message one server sends another. `T` is the state machine's transaction, `S` its
/// snapshot and `R` its request (what a learner forwards; the leader preps it into a `T`).
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Message<T, S, R> {
    /// Election port: a FastLeaderElection notification.
    Notification(Notification),
    /// Learner → leader, first packet of a follower: its accepted epoch (zxid `acceptedEpoch <<
    /// 32`).
    FollowerInfo {
        accepted_epoch: Epoch,
    },
    /// The same from an observer.
    ObserverInfo {
        accepted_epoch: Epoch,
    },
    /// Leader → learner: the epoch the leader proposes (zxid `newEpoch << 32`).
    LeaderInfo {
        new_epoch: Epoch,
    },
    /// Learner → leader: the learner's `lastLoggedZxid` and `currentEpoch`, or `None` (-1 on the
    /// wire) when it had already accepted this epoch.
    AckEpoch {
        last_logged_zxid: Zxid,
        current_epoch: Option<Epoch>,
    },
    /// Sync by difference: the PROPOSAL/COMMIT pairs that follow bring the learner up to `zxid`.
    Diff {
        zxid: Zxid,
    },
    /// Sync by truncation: drop every logged transaction above `zxid`.
    Trunc {
        zxid: Zxid,
    },
    /// Sync by snapshot: the leader's whole database at `zxid`.
    Snap {
        zxid: Zxid,
        snapshot: S,
    },
    /// End of the sync packets; the learner persists, writes currentEpoch and ACKs.
    NewLeader {
        zxid: Zxid,
    },
    /// The leader is serving: the learner starts serving too.
    UpToDate,
    Proposal(LogEntry<T>),
    Ack {
        zxid: Zxid,
    },
    Commit {
        zxid: Zxid,
    },
    /// Leader → observer: a committed transaction (PROPOSAL and COMMIT in one).
    Inform(LogEntry<T>),
    /// Leader → learner carries the leader's last proposed zxid; learner → leader echoes it with
    /// the sessions touched since the last PING.
    Ping {
        zxid: Zxid,
        touches: Vec<SessionTouch>,
    },
    /// Learner → leader: a client request the learner received.
    Request {
        tag: RequestTag,
        body: Forwarded<R>,
    },
    /// Leader → learner: the answer to a forwarded `sync`.
    Sync {
        tag: RequestTag,
    },
    /// Election port, with reconfig on: the sender's active member list and its version,
    /// sent after each of its notifications once a reconfig was activated. ZooKeeper puts
    /// this list in the notification itself (the version-2 notification's config bytes); a
    /// LOOKING server that hears a newer one adopts it (FastLeaderElection's processReconfig),
    /// so a server that missed a reconfig can still find its leader.
    Config {
        version: Zxid,
        members: crate::config::Ensemble,
    },
}

impl<T, S, R> Message<T, S, R> {
    /// The packet name ZooKeeper uses, as shown in traces and the UI.
    pub fn kind(&self) -> &'static str {
        match self {
            Message::Notification(_) => "NOTIFICATION",
            Message::FollowerInfo { .. } => "FOLLOWERINFO",
            Message::ObserverInfo { .. } => "OBSERVERINFO",
            Message::LeaderInfo { .. } => "LEADERINFO",
            Message::AckEpoch { .. } => "ACKEPOCH",
            Message::Diff { .. } => "DIFF",
            Message::Trunc { .. } => "TRUNC",
            Message::Snap { .. } => "SNAP",
            Message::NewLeader { .. } => "NEWLEADER",
            Message::UpToDate => "UPTODATE",
            Message::Proposal(_) => "PROPOSAL",
            Message::Ack { .. } => "ACK",
            Message::Commit { .. } => "COMMIT",
            Message::Inform(_) => "INFORM",
            Message::Ping { .. } => "PING",
            Message::Request { .. } => "REQUEST",
            Message::Sync { .. } => "SYNC",
            Message::Config { .. } => "CONFIG",
        }
    }

    /// The zxid a message is about, as traces show it: the vote's zxid, a proposal's, the
    /// sync point of DIFF/TRUNC/SNAP/NEWLEADER, the epoch's first zxid (`epoch << 32`) for
    /// FOLLOWERINFO/OBSERVERINFO/LEADERINFO, a CONFIG's version; `None` for UPTODATE, REQUEST
    /// and SYNC.
    pub fn zxid(&self) -> Option<Zxid> {
        Some(match self {
            Message::Notification(n) => n.vote_zxid,
            Message::AckEpoch {
                last_logged_zxid, ..
            } => *last_logged_zxid,
            Message::Diff { zxid }
            | Message::Trunc { zxid }
            | Message::Snap { zxid, .. }
            | Message::NewLeader { zxid }
            | Message::Ack { zxid }
            | Message::Commit { zxid }
            | Message::Ping { zxid, .. } => *zxid,
            Message::Proposal(e) | Message::Inform(e) => e.zxid,
            Message::FollowerInfo { accepted_epoch }
            | Message::ObserverInfo { accepted_epoch }
            | Message::LeaderInfo {
                new_epoch: accepted_epoch,
            } => Zxid::epoch_start(*accepted_epoch),
            Message::Config { version, .. } => *version,
            Message::UpToDate | Message::Request { .. } | Message::Sync { .. } => return None,
        })
    }

    /// True for election-port traffic (the rest travels on the quorum port).
    pub fn is_election(&self) -> bool {
        matches!(self, Message::Notification(_) | Message::Config { .. })
    }

    /// ZooKeeper's QuorumPacket type code (docs/protocol.md §3.3); 0 for election notifications.
    pub fn packet_type(&self) -> i32 {
        match self {
            Message::Notification(_) | Message::Config { .. } => 0,
            Message::Request { .. } => 1,
            Message::Proposal(_) => 2,
            Message::Ack { .. } => 3,
            Message::Commit { .. } => 4,
            Message::Ping { .. } => 5,
            Message::Sync { .. } => 7,
            Message::Inform(_) => 8,
            Message::NewLeader { .. } => 10,
            Message::FollowerInfo { .. } => 11,
            Message::UpToDate => 12,
            Message::Diff { .. } => 13,
            Message::Trunc { .. } => 14,
            Message::Snap { .. } => 15,
            Message::ObserverInfo { .. } => 16,
            Message::LeaderInfo { .. } => 17,
            Message::AckEpoch { .. } => 18,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vote_order_is_epoch_then_zxid_then_sid() {
        let v = |id, c, e| Vote {
            vote_id: id,
            vote_zxid: Zxid::new(e, c),
            peer_epoch: e,
        };
        assert!(
            v(1, 124, 1).is_newer_than(&v(3, 123, 1)),
            "higher zxid wins"
        );
        assert!(
            v(3, 5, 1).is_newer_than(&v(2, 5, 1)),
            "equal zxid: higher sid wins"
        );
        assert!(
            v(1, 1, 2).is_newer_than(&v(3, 900, 1)),
            "higher epoch beats any zxid"
        );
        assert!(
            !v(2, 5, 1).is_newer_than(&v(2, 5, 1)),
            "a vote is not newer than itself"
        );
    }
}
