//! Persist-before-send on one learner, as exact output lists: what a follower sends its leader
//! never runs ahead of what its host has made durable (docs/protocol.md §9.2, "Persistence
//! obligations"). One `Peer` (server 1 of 3) is driven by hand as its host would drive it,
//! with server 3 as the leader; each step's outputs are compared whole (trace events left
//! out: they describe, they do not act).

use alloc::vec;
use alloc::vec::Vec;

use crate::config::{Ensemble, PeerConfig};
use crate::durable::{DurableState, LogEntry, PersistOp};
use crate::machine::ChainMachine;
use crate::message::{Message, Notification, PeerState};
use crate::peer::{Input, Output, Peer, PeerMessage, PeerPersistOp};
use crate::time::Instant;
use crate::zxid::{Epoch, Zxid};

const LEADER: u64 = 3;

/// An output that acts, in a form tests can compare.
#[derive(Debug, PartialEq)]
enum Effect {
    Send {
        to: u64,
        msg: PeerMessage<ChainMachine>,
    },
    Persist {
        id: u64,
        op: PeerPersistOp<ChainMachine>,
    },
    Other(alloc::string::String),
}

struct Learner {
    peer: Peer<ChainMachine>,
    now: Instant,
}

impl Learner {
    /// Server 1 with an empty disk, started, told by servers 2 and 3 that 3 leads (the
    /// `outofelection` path of §2.4): it follows 3 and has sent FOLLOWERINFO.
    fn following_3() -> Learner {
        Learner::following_3_from(DurableState::default())
    }

    /// The same, restarted from `durable`.
    fn following_3_from(durable: DurableState<u64, ChainMachine>) -> Learner {
        let mut l = Learner {
            peer: Peer::recover(PeerConfig::new(1, Ensemble::new(3, 0)), durable),
            now: Instant(1_000),
        };
        l.step(Input::Start);
        for (sender, state) in [(LEADER, PeerState::Leading), (2, PeerState::Following)] {
            let n = Notification {
                state,
                vote_id: LEADER,
                vote_zxid: Zxid::ZERO,
                logicclock: 1,
                peer_epoch: 0,
                sender,
            };
            l.step(Input::Receive {
                from: sender,
                msg: Message::Notification(n),
            });
        }
        assert_eq!(l.peer.state(), PeerState::Following);
        l
    }

    /// Steps one input and returns the outputs that act, in order.
    fn step(&mut self, input: Input<ChainMachine>) -> Vec<Effect> {
        self.now = self.now + 1;
        let mut out = Vec::new();
        self.peer.step(self.now, input, &mut out);
        out.into_iter()
            .filter_map(|o| match o {
                Output::Send { to, msg } => Some(Effect::Send { to, msg }),
                Output::Persist { id, op } => Some(Effect::Persist { id, op }),
                Output::Trace(_) => None,
                other => Some(Effect::Other(alloc::format!("{other:?}"))),
            })
            .collect()
    }

    fn receive(&mut self, msg: PeerMessage<ChainMachine>) -> Vec<Effect> {
        self.step(Input::Receive { from: LEADER, msg })
    }

    fn persisted(&mut self, id: u64) -> Vec<Effect> {
        self.step(Input::Persisted { id })
    }

    /// Through discovery into epoch `epoch`: LEADERINFO, acceptedEpoch durable, ACKEPOCH.
    fn discovered(epoch: Epoch) -> Learner {
        let mut l = Learner::following_3();
        l.receive(Message::LeaderInfo { new_epoch: epoch });
        l.persisted(1);
        l
    }

    /// Synced by DIFF with nothing to add and in broadcast (NEWLEADER ACK'd, UPTODATE).
    fn in_broadcast(epoch: Epoch) -> Learner {
        let mut l = Learner::discovered(epoch);
        l.receive(Message::Diff { zxid: Zxid::ZERO });
        l.receive(Message::NewLeader {
            zxid: Zxid::epoch_start(epoch),
        });
        l.persisted(2);
        l.receive(Message::UpToDate);
        assert!(l.peer.is_serving());
        l
    }
}

fn send(msg: PeerMessage<ChainMachine>) -> Effect {
    Effect::Send { to: LEADER, msg }
}

fn ack(zxid: Zxid) -> Effect {
    send(Message::Ack { zxid })
}

fn entry(zxid: Zxid) -> LogEntry<u64> {
    LogEntry {
        zxid,
        time_ms: 7,
        origin: None,
        txn: zxid.0,
    }
}

/// §3.4 (learner side, step 2): a new epoch is promised by writing acceptedEpoch, and
/// ACKEPOCH leaves only once that write is durable.
#[test]
fn ackepoch_leaves_only_after_accepted_epoch_is_durable() {
    let mut l = Learner::following_3();
    assert_eq!(
        l.receive(Message::LeaderInfo { new_epoch: 1 }),
        vec![Effect::Persist {
            id: 1,
            op: PersistOp::AcceptedEpoch(1),
        }],
        "LEADERINFO: the promise is written, nothing is sent"
    );
    assert_eq!(l.step(Input::Tick), vec![], "a tick does not release it");
    assert_eq!(
        l.persisted(1),
        vec![send(Message::AckEpoch {
            last_logged_zxid: Zxid::ZERO,
            current_epoch: Some(0),
        })]
    );
    assert_eq!(l.peer.accepted_epoch(), 1);
}

/// §3.4: an epoch already promised (a restarted learner that had promised epoch 1 meets the
/// same leader again) needs no write, so its ACKEPOCH (-1 on the wire: "already promised") goes out at once.
#[test]
fn ackepoch_for_an_epoch_already_promised_needs_no_write() {
    let mut again = Learner::following_3_from(DurableState {
        accepted_epoch: 1,
        ..Default::default()
    });
    assert_eq!(
        again.receive(Message::LeaderInfo { new_epoch: 1 }),
        vec![send(Message::AckEpoch {
            last_logged_zxid: Zxid::ZERO,
            current_epoch: None,
        })]
    );
}

/// §3.5 (learner, NEWLEADER) and ZOOKEEPER-3911/4646: at NEWLEADER the proposals received
/// during sync are logged and currentEpoch is written; the NEWLEADER ACK waits for all of it,
/// and the ACKs of the synced but uncommitted proposals follow it.
#[test]
fn the_newleader_ack_leaves_only_after_the_synced_log_and_current_epoch_are_durable() {
    let mut l = Learner::discovered(1);
    let (z1, z2) = (Zxid::new(1, 1), Zxid::new(1, 2));
    assert_eq!(l.receive(Message::Diff { zxid: Zxid::ZERO }), vec![]);
    assert_eq!(l.receive(Message::Proposal(entry(z1))), vec![]);
    assert_eq!(
        l.receive(Message::Commit { zxid: z1 }),
        vec![],
        "a COMMIT during sync applies in memory; nothing is written yet"
    );
    assert_eq!(l.receive(Message::Proposal(entry(z2))), vec![]);
    assert_eq!(
        l.receive(Message::NewLeader {
            zxid: Zxid::epoch_start(1),
        }),
        vec![
            Effect::Persist {
                id: 2,
                op: PersistOp::Append(entry(z1)),
            },
            Effect::Persist {
                id: 3,
                op: PersistOp::Append(entry(z2)),
            },
            Effect::Persist {
                id: 4,
                op: PersistOp::CurrentEpoch(1),
            },
        ],
        "NEWLEADER: log, then currentEpoch; no ACK yet"
    );
    assert_eq!(
        l.persisted(2),
        vec![],
        "the first append alone releases nothing"
    );
    assert_eq!(
        l.persisted(3),
        vec![],
        "the synced log is durable but currentEpoch is not"
    );
    assert_eq!(
        l.persisted(4),
        vec![ack(Zxid::epoch_start(1)), ack(z2)],
        "the NEWLEADER ACK, then the ACK of the uncommitted proposal"
    );
    assert_eq!(l.peer.current_epoch(), 1);
}

/// §3.6 (follower): a PROPOSAL is appended to the log and ACKed only once the append is
/// durable; one Persisted acknowledges every request up to its id, and no further.
#[test]
fn a_proposal_ack_leaves_only_after_its_append_is_durable() {
    let mut l = Learner::in_broadcast(1);
    let (z1, z2, z3) = (Zxid::new(1, 1), Zxid::new(1, 2), Zxid::new(1, 3));
    for (z, id) in [(z1, 3), (z2, 4), (z3, 5)] {
        assert_eq!(
            l.receive(Message::Proposal(entry(z))),
            vec![Effect::Persist {
                id,
                op: PersistOp::Append(entry(z)),
            }],
            "PROPOSAL {z}: logged, not ACKed"
        );
    }
    assert_eq!(l.persisted(4), vec![ack(z1), ack(z2)], "up to id 4 only");
    assert_eq!(
        l.receive(Message::Commit { zxid: z1 }),
        vec![],
        "a COMMIT writes nothing and sends nothing"
    );
    assert_eq!(l.persisted(5), vec![ack(z3)]);
    assert_eq!(
        l.persisted(5),
        vec![],
        "a repeated Persisted sends nothing twice"
    );
}

/// A durability report that arrives after the learner left its leader must not send that
/// leader anything: the waiting ACK belonged to a role the peer no longer has.
#[test]
fn an_ack_waiting_for_a_write_is_dropped_when_the_learner_leaves_its_leader() {
    let mut l = Learner::in_broadcast(1);
    let z1 = Zxid::new(1, 1);
    l.receive(Message::Proposal(entry(z1)));
    let left = l.step(Input::PeerDisconnected { peer: LEADER });
    assert!(
        left.iter().all(|e| !matches!(
            e,
            Effect::Send {
                msg: Message::Ack { .. },
                ..
            }
        )),
        "{left:?}"
    );
    assert_eq!(l.peer.state(), PeerState::Looking);
    let after = l.persisted(3);
    assert!(
        after.iter().all(|e| !matches!(
            e,
            Effect::Send {
                to: LEADER,
                msg: Message::Ack { .. }
            }
        )),
        "{after:?}"
    );
}
