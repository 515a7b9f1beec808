//! A stranger on the quorum port (hostile input). Apache ZooKeeper's leader refuses a
//! learner that promised a newer epoch instead of stepping down, and no FOLLOWERINFO may push
//! the ensemble's epoch towards overflow. These tests feed the leader's `Peer` a forged
//! FOLLOWERINFO directly and assert its exact reaction.

mod common;

use common::*;
use zablab_core::message::Message;
use zablab_core::sim::SimConfig;
use zablab_core::trace::{RefuseReason, ZabPhase};
use zablab_core::zab::leader::{MAX_EPOCH, MAX_EPOCH_LEAD};
use zablab_core::{Input, Output, PeerState, TraceEvent};

fn refused(out: &[Output<zablab_core::machine::ChainMachine>], sid: u64) -> Option<RefuseReason> {
    let disconnected = out
        .iter()
        .any(|o| matches!(o, Output::Disconnect { peer } if *peer == sid));
    let reason = out.iter().find_map(|o| match o {
        Output::Trace(TraceEvent::LearnerRefused {
            learner, reason, ..
        }) if *learner == sid => Some(*reason),
        _ => None,
    });
    disconnected.then_some(reason).flatten()
}

/// One FOLLOWERINFO with a newer acceptedEpoch used to make the leader step down; a flood of
/// them kept the cluster from serving. Now the learner is refused and the leader stays.
#[test]
fn a_followerinfo_with_a_newer_epoch_is_refused_and_the_leader_keeps_leading() {
    let mut sim = Sim::new(SimConfig::default(), 4);
    let limit = sim.now() + 10_000;
    assert!(sim.run_until_pred(limit, |s| s.is_stable()));
    let leader = sim.leader().unwrap();
    let follower = (1..=3).find(|s| *s != leader).unwrap();
    let epoch = sim.peer(leader).unwrap().current_epoch();
    let now = sim.now();
    for _ in 0..100 {
        let mut out = Vec::new();
        let peer = sim.peer_mut(leader).unwrap();
        peer.step(
            now,
            Input::Receive {
                from: follower,
                msg: Message::FollowerInfo {
                    accepted_epoch: epoch + 1,
                },
            },
            &mut out,
        );
        assert_eq!(
            refused(&out, follower),
            Some(RefuseReason::PromisedNewerEpoch)
        );
        assert!(
            !out.iter().any(|o| matches!(o, Output::Send { .. })),
            "no LEADERINFO for a refused learner"
        );
        let peer = sim.peer(leader).unwrap();
        assert_eq!(
            (peer.state(), peer.phase(), peer.current_epoch()),
            (PeerState::Leading, ZabPhase::Broadcast, epoch)
        );
    }
}

/// An acceptedEpoch near u32::MAX during discovery used to be adopted (epoch 4294967281 was
/// persisted on every server, and the ensemble never served again). It is refused, and the
/// epoch the leader proposes stays the honest one.
#[test]
fn an_implausible_accepted_epoch_is_refused_during_discovery() {
    let mut sim = Sim::new(config(3, 0), 6);
    sim.act(zablab_core::sim::Action::Start(3));
    sim.act(zablab_core::sim::Action::Start(2));
    let limit = sim.now() + 10_000;
    assert!(sim.run_until_pred(limit, |s| {
        s.peer(3)
            .is_some_and(|p| p.state() == PeerState::Leading && p.phase() == ZabPhase::Discovery)
    }));
    let own = sim.peer(3).unwrap().accepted_epoch();
    let now = sim.now();
    for bad in [0xffff_fff0, MAX_EPOCH, own + MAX_EPOCH_LEAD + 1] {
        let mut out = Vec::new();
        sim.peer_mut(3).unwrap().step(
            now,
            Input::Receive {
                from: 1,
                msg: Message::FollowerInfo {
                    accepted_epoch: bad,
                },
            },
            &mut out,
        );
        assert_eq!(
            refused(&out, 1),
            Some(RefuseReason::ImplausibleEpoch),
            "epoch {bad}"
        );
        assert!(sim.peer(3).unwrap().leader().unwrap().epoch <= own + 1);
    }
    let limit = sim.now() + 10_000;
    assert!(sim.run_until_pred(limit, |s| s.leader() == Some(3)));
    assert_eq!(sim.peer(3).unwrap().current_epoch(), own + 1);
    assert_no_violation(&sim);
}
