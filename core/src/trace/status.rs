//! What a server looks like right now, as one record: the [`PeerStatus`] a host puts in its
//! trace as [`super::record::HostEvent::Status`].
//!
//! The trace's other records say what *happened*; a reader that starts listening late (the
//! browser opening the live lab while the cluster has run for an hour) cannot rebuild a server's
//! state from them, because the history before it connected is gone. A status record is the
//! picture to start from: role, phase, epochs, vote, the newest part of the log, the vote box,
//! the leader's view of each learner and the running timers. It is computed from the peer's
//! read-only accessors only, so asking for it changes nothing, and both hosts can make it from
//! the same [`Peer`]: the lab's views draw the same fields for a simulated server and a real one.
//!
//! Bounded: a status holds at most [`STATUS_LOG_ENTRIES`] log entries, each label at most
//! [`STATUS_LABEL_CHARS`] characters, and one line per member for votes and learners, so its size
//! does not grow with the log or the data tree.

use alloc::string::String;
use alloc::vec::Vec;

use crate::config::LearnerType;
use crate::election::ReceivedVote;
use crate::machine::StateMachine;
use crate::message::PeerState;
use crate::message::Vote;
use crate::peer::{Peer, PeerTimer};
use crate::time::Instant;
use crate::trace::ZabPhase;
use crate::zab::leader::{HandlerStage, SyncRecord};
use crate::zxid::{Epoch, Sid, Zxid};

/// The newest log entries a status carries.
pub const STATUS_LOG_ENTRIES: usize = 64;
/// The longest label of one log entry, in characters.
pub const STATUS_LABEL_CHARS: usize = 48;

/// One entry of the server's transaction log.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct StatusLogEntry {
    pub zxid: Zxid,
    /// Applied to this server's state machine (zxid ≤ lastProcessedZxid).
    pub applied: bool,
    /// What the transaction does, in a few words ([`StateMachine::txn_label`]).
    pub label: String,
}

/// One vote in the vote box of the current election round (or from a server outside it).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct StatusVote {
    pub from: Sid,
    pub vote: ReceivedVote,
    /// `recvset` (this round) or `outofelection` (a FOLLOWING/LEADING server's vote).
    pub in_round: bool,
}

/// The leader's view of one learner (its `LearnerHandler`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct StatusLearner {
    pub sid: Sid,
    pub learner_type: LearnerType,
    pub stage: HandlerStage,
    /// From ACKEPOCH: the learner's lastLoggedZxid when it connected.
    pub last_logged_zxid: Zxid,
    /// Proposals sent to it and not yet acknowledged.
    pub unacked: u64,
    /// How the leader synchronized it (DIFF, TRUNC or SNAP, and why).
    pub sync: Option<SyncRecord>,
}

/// A server's state at one instant (see the module doc).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PeerStatus {
    pub state: PeerState,
    pub phase: ZabPhase,
    pub accepted_epoch: Epoch,
    pub current_epoch: Epoch,
    /// The vote this server sends (its proposal while LOOKING, the leader it follows after).
    pub vote: Vote,
    pub leader: Option<Sid>,
    pub last_logged_zxid: Zxid,
    pub last_processed_zxid: Zxid,
    pub snapshot_zxid: Option<Zxid>,
    /// The committed log's window `[minCommittedLog, maxCommittedLog]` that the leader syncs
    /// learners from by DIFF; `None` while it is empty.
    pub committed_window: Option<(Zxid, Zxid)>,
    /// Entries in the transaction log in all; [`PeerStatus::log`] holds the newest of them.
    pub log_len: u64,
    pub log: Vec<StatusLogEntry>,
    /// FastLeaderElection's round.
    pub logicclock: u64,
    pub votes: Vec<StatusVote>,
    /// Leader only, by sid.
    pub learners: Vec<StatusLearner>,
    /// The running timers, deadlines in the peer's own time (that of the record's `time`).
    pub timers: Vec<PeerTimer>,
}

impl PeerStatus {
    /// The status of `peer` (read-only).
    pub fn of<M: StateMachine>(peer: &Peer<M>) -> PeerStatus {
        let last_processed = peer.last_processed_zxid();
        let log = peer.log();
        let newest = &log[log.len().saturating_sub(STATUS_LOG_ENTRIES)..];
        let committed = peer.committed_log();
        let election = peer.election();
        let in_round = election.recvset.iter().map(|(s, v)| (s, v, true));
        let outside = election.outofelection.iter().map(|(s, v)| (s, v, false));
        PeerStatus {
            state: peer.state(),
            phase: peer.phase(),
            accepted_epoch: peer.accepted_epoch(),
            current_epoch: peer.current_epoch(),
            vote: peer.vote(),
            leader: peer.leader_id(),
            last_logged_zxid: peer.last_logged_zxid(),
            last_processed_zxid: last_processed,
            snapshot_zxid: peer.snapshot_zxid(),
            committed_window: committed
                .front()
                .zip(committed.back())
                .map(|(a, b)| (a.zxid, b.zxid)),
            log_len: u64::try_from(log.len()).unwrap_or(u64::MAX),
            log: newest
                .iter()
                .map(|e| StatusLogEntry {
                    zxid: e.zxid,
                    applied: e.zxid <= last_processed,
                    label: bounded_label(M::txn_label(&e.txn)),
                })
                .collect(),
            logicclock: election.logicclock,
            votes: in_round
                .chain(outside)
                .map(|(s, v, in_round)| StatusVote {
                    from: *s,
                    vote: *v,
                    in_round,
                })
                .collect(),
            learners: peer
                .leader()
                .map(|l| {
                    l.learners
                        .values()
                        .map(|h| StatusLearner {
                            sid: h.sid,
                            learner_type: h.learner_type,
                            stage: h.stage,
                            last_logged_zxid: h.last_logged_zxid,
                            unacked: u64::try_from(h.unacked.len()).unwrap_or(u64::MAX),
                            sync: h.sync,
                        })
                        .collect()
                })
                .unwrap_or_default(),
            timers: peer.timers(),
        }
    }

    /// The next deadline among the timers, if any (a reader draws countdowns against it).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.timers.iter().map(|t| t.deadline).min()
    }
}

/// `label` cut to [`STATUS_LABEL_CHARS`] characters (with an ellipsis when cut).
fn bounded_label(label: String) -> String {
    if label.chars().count() <= STATUS_LABEL_CHARS {
        return label;
    }
    let mut cut: String = label.chars().take(STATUS_LABEL_CHARS - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_label_is_cut_to_the_bound_with_an_ellipsis() {
        let long = "a".repeat(200);
        let cut = bounded_label(long);
        assert_eq!(cut.chars().count(), STATUS_LABEL_CHARS);
        assert!(cut.ends_with('…'));
        assert_eq!(bounded_label(String::from("create /a")), "create /a");
    }
}
