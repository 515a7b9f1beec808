//! ZooKeeper's classic FastLeaderElection walkthroughs, with their numbers.

mod common;

use common::*;
use zablab_core::election::ReceivedVote;
use zablab_core::machine::ChainMachine;
use zablab_core::message::{Message, Notification};
use zablab_core::sim::{Action, HostEvent};
use zablab_core::trace::VoteDecision;
use zablab_core::{
    Ensemble, Input, Instant, Output, Peer, PeerConfig, PeerState, TraceEvent, Vote, Zxid,
};

fn vote(id: u64, zxid: Zxid, peer_epoch: u32) -> Vote {
    Vote {
        vote_id: id,
        vote_zxid: zxid,
        peer_epoch,
    }
}

/// Start-up: server 1 votes (1,0) and finds no majority; server 2 starts and votes (2,0);
/// server 1 adopts (2,0) because 2 > 1; two agreeing votes are a majority of three, so
/// server 2 leads. Server 3, started later, finds an established leader and follows it
/// without any server starting a new election round.
#[test]
fn servers_started_one_at_a_time_elect_server_2_and_server_3_joins_as_follower() {
    let mut sim = Sim::new(config(3, 0), 11);
    sim.schedule(Instant(0), Action::Start(1));
    sim.schedule(Instant(1000), Action::Start(2));
    sim.run_until(Instant(4000));
    let e1 = events_of(&sim, 1);
    assert!(e1.contains(&TraceEvent::ElectionRound {
        logicclock: 1,
        vote: vote(1, Zxid::ZERO, 0)
    }));
    assert!(events_of(&sim, 2).contains(&TraceEvent::ElectionRound {
        logicclock: 1,
        vote: vote(2, Zxid::ZERO, 0)
    }));
    assert!(
        e1.iter().any(|e| matches!(e, TraceEvent::VoteReceived { from: 2, decision: VoteDecision::Adopted, proposal, .. } if proposal.vote_id == 2)),
        "server 1 should adopt server 2's vote"
    );
    // Alone, server 1 could not finish: one vote of three is no majority.
    assert!(!e1
        .iter()
        .any(|e| matches!(e, TraceEvent::ElectionDone { leader: 1, .. })));
    assert_eq!(sim.peer(2).unwrap().state(), PeerState::Leading);
    assert_eq!(sim.peer(1).unwrap().state(), PeerState::Following);
    assert_eq!(sim.leader(), Some(2));

    let before = sim.trace().records().len();
    sim.act(Action::Start(3));
    sim.run_until(Instant(8000));
    assert_eq!(sim.peer(3).unwrap().state(), PeerState::Following);
    assert_eq!(sim.peer(3).unwrap().leader_id(), Some(2));
    assert!(sim.is_stable());
    // Nobody else went back to LOOKING: no new election.
    let new_rounds = sim.trace().records()[before..]
        .iter()
        .filter(|r| r.node != 3)
        .filter(|r| {
            matches!(
                &r.event,
                HostEvent::Peer(TraceEvent::StateChanged {
                    to: PeerState::Looking,
                    ..
                })
            )
        })
        .count();
    assert_eq!(new_rounds, 0);
    // Server 3 decided from the FOLLOWING/LEADING answers of the others.
    assert!(events_of(&sim, 3).iter().any(|e| matches!(
        e,
        TraceEvent::VoteReceived {
            decision: VoteDecision::Established,
            ..
        }
    )));
    assert_no_violation(&sim);
}

/// Runtime leader crash: the leader (server 2) is gone; server 1 logged up to zxid 124 and
/// server 3 up to 123. Each first votes for itself; server 3 sees (1, 124) is newer than
/// (3, 123) and adopts it; server 1 leads and syncs server 3 with a DIFF.
#[test]
fn after_a_leader_crash_the_server_with_zxid_124_beats_the_one_with_123() {
    let mut sim = Sim::new(config(3, 0), 5);
    sim.preload(1, disk(1, 124));
    sim.preload(2, disk(1, 124));
    sim.preload(3, disk(1, 123));
    sim.act(Action::Start(1));
    sim.act(Action::Start(3));
    assert!(sim.run_until_pred(Instant(10_000), |s| s.leader().is_some()));
    let z124 = Zxid::new(1, 124);
    assert!(events_of(&sim, 1).contains(&TraceEvent::ElectionRound {
        logicclock: 1,
        vote: vote(1, z124, 1)
    }));
    assert!(events_of(&sim, 3).contains(&TraceEvent::ElectionRound {
        logicclock: 1,
        vote: vote(3, Zxid::new(1, 123), 1)
    }));
    assert!(events_of(&sim, 3).iter().any(|e| matches!(e,
        TraceEvent::VoteReceived { from: 1, decision: VoteDecision::Adopted, proposal, .. } if *proposal == vote(1, z124, 1))));
    assert_eq!(sim.leader(), Some(1));
    sim.run_for(2000);
    assert!(events_of(&sim, 1).iter().any(|e| matches!(e,
        TraceEvent::SyncChosen { learner: 3, mode: zablab_core::trace::SyncMode::Diff, peer_last_zxid, .. } if *peer_last_zxid == Zxid::new(1, 123))));
    assert_eq!(sim.peer(3).unwrap().last_processed_zxid(), z124);
    assert_no_violation(&sim);
}

// ----- the three logicclock cases, on one peer fed by hand ---------------------------------

fn looking_peer(myid: u64) -> (Peer<ChainMachine>, Vec<Output<ChainMachine>>) {
    let mut peer = Peer::new(PeerConfig::new(myid, Ensemble::new(3, 0)));
    let mut out = Vec::new();
    peer.step(Instant(0), Input::Start, &mut out);
    (peer, out)
}

fn notification(sender: u64, vote_id: u64, logicclock: u64) -> Message<u64, ChainMachine, u64> {
    Message::Notification(Notification {
        state: PeerState::Looking,
        vote_id,
        vote_zxid: Zxid::ZERO,
        logicclock,
        peer_epoch: 0,
        sender,
    })
}

fn sent_notifications(out: &[Output<ChainMachine>]) -> Vec<(u64, Notification)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send {
                to,
                msg: Message::Notification(n),
            } => Some((*to, *n)),
            _ => None,
        })
        .collect()
}

/// A notification from a higher round: the vote box is cleared, the round adopted, the
/// proposal becomes the newer of the sender's vote and our own initial vote, and we tell
/// everyone.
#[test]
fn a_higher_logicclock_clears_the_vote_box_adopts_the_round_and_rebroadcasts() {
    let (mut peer, _) = looking_peer(1);
    let mut out = Vec::new();
    peer.step(
        Instant(1),
        Input::Receive {
            from: 2,
            msg: notification(2, 2, 1),
        },
        &mut out,
    );
    assert_eq!(peer.election().recvset.len(), 2, "own vote and server 2's");
    out.clear();
    peer.step(
        Instant(2),
        Input::Receive {
            from: 3,
            msg: notification(3, 3, 5),
        },
        &mut out,
    );
    let e = peer.election();
    assert_eq!(e.logicclock, 5);
    assert_eq!(e.proposal.vote_id, 3, "(3,0) is newer than our own (1,0)");
    assert!(
        !e.recvset.contains_key(&2),
        "server 2's round-1 vote was cleared"
    );
    assert_eq!(
        e.recvset.get(&3),
        Some(&ReceivedVote {
            vote: vote(3, Zxid::ZERO, 0),
            logicclock: 5,
            state: PeerState::Looking
        })
    );
    let sent = sent_notifications(&out);
    assert_eq!(sent.len(), 2, "rebroadcast to both other voters: {sent:?}");
    assert!(sent
        .iter()
        .all(|(_, n)| n.logicclock == 5 && n.vote_id == 3));
}

/// A notification from a lower round is ignored (not recorded), but its sender is answered
/// with our current vote so it can catch up.
#[test]
fn a_lower_logicclock_is_ignored_but_answered_with_our_vote() {
    let (mut peer, _) = looking_peer(1);
    let mut out = Vec::new();
    peer.step(
        Instant(1),
        Input::Receive {
            from: 3,
            msg: notification(3, 3, 4),
        },
        &mut out,
    );
    assert_eq!(peer.election().logicclock, 4);
    out.clear();
    peer.step(
        Instant(2),
        Input::Receive {
            from: 2,
            msg: notification(2, 2, 2),
        },
        &mut out,
    );
    assert_eq!(peer.election().logicclock, 4);
    assert!(
        !peer.election().recvset.contains_key(&2),
        "stale vote not recorded"
    );
    let sent = sent_notifications(&out);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, 2);
    assert_eq!((sent[0].1.logicclock, sent[0].1.vote_id), (4, 3));
}

/// Equal rounds compare votes by (peer_epoch, zxid, sid): a newer vote is adopted, an older
/// one leaves our proposal unchanged; either way the vote box keeps each voter's last vote.
#[test]
fn an_equal_logicclock_compares_votes_by_epoch_then_zxid_then_sid() {
    // Five voters, so two agreeing votes are not yet a quorum.
    let mut peer: Peer<ChainMachine> = Peer::new(PeerConfig::new(2, Ensemble::new(5, 0)));
    let mut out = Vec::new();
    peer.step(Instant(0), Input::Start, &mut out);
    out.clear();
    peer.step(
        Instant(1),
        Input::Receive {
            from: 1,
            msg: notification(1, 1, 1),
        },
        &mut out,
    );
    assert_eq!(
        peer.election().proposal.vote_id,
        2,
        "(1,0) is older than our (2,0): kept"
    );
    assert!(
        sent_notifications(&out).is_empty(),
        "keeping our vote sends nothing"
    );
    peer.step(
        Instant(2),
        Input::Receive {
            from: 3,
            msg: notification(3, 3, 1),
        },
        &mut out,
    );
    assert_eq!(
        peer.election().proposal.vote_id,
        3,
        "(3,0) is newer: adopted"
    );
    assert_eq!(
        sent_notifications(&out).len(),
        4,
        "told the four other voters"
    );
    assert!(
        peer.election().finalize_deadline.is_none(),
        "2 of 5 is no quorum"
    );
    // Server 1 changes its mind: only its last vote stays in the box, and now three of five
    // agree on (3,0), so finalizeWait starts.
    peer.step(
        Instant(3),
        Input::Receive {
            from: 1,
            msg: notification(1, 3, 1),
        },
        &mut out,
    );
    assert_eq!(peer.election().recvset.get(&1).unwrap().vote.vote_id, 3);
    assert_eq!(peer.election().recvset.len(), 3);
    assert!(peer.election().finalize_deadline.is_some());
}

/// A standalone server (an ensemble of one voter) elects itself: its own vote is a quorum.
#[test]
fn a_single_voter_elects_itself_and_serves() {
    let mut sim = Sim::new(
        zablab_core::sim::SimConfig {
            participants: 1,
            ..zablab_core::sim::SimConfig::default()
        },
        1,
    );
    assert!(sim.run_until_pred(Instant(5_000), |s| s.is_stable()));
    assert_eq!(sim.leader(), Some(1));
    let tag = sim.act(Action::Write { server: 1, txn: 5 }).unwrap();
    sim.run_for(100);
    assert!(matches!(
        sim.request(tag),
        Some(zablab_core::sim::ClientResult::Replied { .. })
    ));
}
