//! Dynamic reconfiguration (docs/protocol.md §2.8, ZooKeeper 3.5+) in the simulator: the
//! leader's checks (PrepRequestProcessor's `case OpCode.reconfig`), the old-and-new quorum
//! rule, activation on every server, a leader that loses its vote stepping down, the member
//! list surviving restarts, a server that missed a reconfig catching up, and the reconfig
//! sweep.

mod common;

use common::{assert_no_violation, events_of, sent, stable, Sim};
use zablab_core::config::{Ensemble, LearnerType};
use zablab_core::reconfig::ReconfigRequest;
use zablab_core::sim::{Action, ClientResult, SimConfig};
use zablab_core::trace::GiveUpReason;
use zablab_core::{DurableState, LogEntry, PeerState, TraceEvent, Zxid};

use LearnerType::{Observer, Participant};

fn cluster(participants: u64, observers: u64, seed: u64) -> Sim {
    let config = SimConfig {
        participants,
        observers,
        ..SimConfig::default()
    };
    let mut sim = Sim::new(config, seed);
    sim.set_reconfig_enabled(true);
    sim
}

fn joining(sid: u64, role: LearnerType) -> ReconfigRequest {
    ReconfigRequest {
        joining: vec![(sid, role)],
        ..Default::default()
    }
}

/// Sends `request` to `server` and runs until it is answered (5 s at most).
fn reconfig(sim: &mut Sim, server: u64, request: ReconfigRequest) -> ClientResult<u64> {
    let tag = sim
        .act(Action::Reconfig { server, request })
        .expect("a reconfig gets a tag");
    let limit = sim.now() + 5_000;
    sim.run_until_pred(limit, |s| {
        !matches!(s.request(tag), Some(ClientResult::Pending))
    });
    // Let the COMMITs and INFORMs reach the learners and their disks.
    sim.run_for(1_000);
    sim.request(tag).cloned().expect("request recorded")
}

fn refusals(sim: &Sim, sid: u64) -> Vec<i32> {
    events_of(sim, sid)
        .into_iter()
        .filter_map(|e| match e {
            TraceEvent::ReconfigRefused { err } => Some(err),
            _ => None,
        })
        .collect()
}

fn write(sim: &mut Sim, server: u64, id: u64) -> Zxid {
    let tag = sim
        .act(Action::Write { server, txn: id })
        .expect("a write gets a tag");
    let limit = sim.now() + 5_000;
    sim.run_until_pred(limit, |s| {
        !matches!(s.request(tag), Some(ClientResult::Pending))
    });
    match sim.request(tag) {
        Some(ClientResult::Replied { zxid, .. }) => *zxid,
        other => panic!("write {id} not committed: {other:?}"),
    }
}

#[test]
fn promoting_an_observer_activates_the_new_list_on_every_server_at_its_zxid() {
    let mut sim = cluster(3, 2, 1);
    let leader = stable(&mut sim);
    let version = match reconfig(&mut sim, leader, joining(4, Participant)) {
        ClientResult::Replied { zxid, .. } => zxid,
        other => panic!("reconfig not committed: {other:?}"),
    };
    let leader = stable(&mut sim);
    for sid in 1..=5 {
        let peer = sim.peer(sid).expect("running");
        let (v, members) = peer.active_config();
        assert_eq!(
            v, version,
            "server {sid} runs the new list, versioned by its zxid"
        );
        assert!(members.is_voter(4), "server {sid}: 4 votes now");
        assert_eq!(members.members.get(&5), Some(&Observer));
        assert!(
            peer.pending_config().is_none(),
            "server {sid}: nothing pending"
        );
    }
    assert!(
        events_of(&sim, leader).iter().any(
            |e| matches!(e, TraceEvent::ConfigActivated { version: v, voters, .. } if *v == version && voters == &[1, 2, 3, 4])
        ),
        "the leader traced the activation"
    );
    let limit = sim.now() + 10_000;
    assert!(
        sim.run_until_pred(limit, |s| s
            .peer(4)
            .is_some_and(|p| p.state() == PeerState::Following && p.is_serving())),
        "the promoted observer came back as a follower"
    );
    let zxid = write(&mut sim, 5, 77);
    assert!(zxid > version);
    assert_no_violation(&sim);
}

#[test]
fn the_leader_refuses_as_prep_request_processor_does() {
    // reconfigEnabled off: ReconfigDisabled (-123).
    let mut off = Sim::new(SimConfig::default(), 2);
    let leader = stable(&mut off);
    assert_eq!(
        reconfig(&mut off, leader, joining(3, Observer)),
        ClientResult::Failed
    );
    assert_eq!(refusals(&off, leader), [-123]);

    let mut sim = cluster(3, 2, 2);
    let leader = stable(&mut sim);
    let follower = (1..=3).find(|s| *s != leader).expect("a follower");
    // fromConfig that is not the current version: BadVersion (-103).
    let stale = ReconfigRequest {
        from_config: Some(Zxid::new(9, 9)),
        ..joining(4, Participant)
    };
    assert_eq!(reconfig(&mut sim, leader, stale), ClientResult::Failed);
    // No voter left: BadArguments (-8).
    let none = ReconfigRequest {
        leaving: vec![1, 2, 3],
        ..Default::default()
    };
    assert_eq!(reconfig(&mut sim, leader, none), ClientResult::Failed);
    // Voters 4 and 5 are observers now, not synced followers: NewConfigNoQuorum (-13).
    let unsynced = ReconfigRequest {
        new_members: Some(vec![
            (leader, Participant),
            (4, Participant),
            (5, Participant),
            (follower, Observer),
        ]),
        ..Default::default()
    };
    assert_eq!(reconfig(&mut sim, leader, unsynced), ClientResult::Failed);
    assert_eq!(refusals(&sim, leader), [-103, -8, -13]);
    // Two at once: the second is ReconfigInProgress (-14); the first commits.
    let first = sim
        .act(Action::Reconfig {
            server: leader,
            request: joining(4, Participant),
        })
        .expect("tag");
    let second = reconfig(&mut sim, leader, joining(5, Participant));
    assert_eq!(second, ClientResult::Failed);
    assert_eq!(refusals(&sim, leader), [-103, -8, -13, -14]);
    let limit = sim.now() + 5_000;
    sim.run_until_pred(limit, |s| {
        !matches!(s.request(first), Some(ClientResult::Pending))
    });
    assert!(matches!(
        sim.request(first),
        Some(ClientResult::Replied { .. })
    ));
    // fromConfig equal to the current version is taken.
    let version = sim.peer(leader).expect("running").active_config().0;
    let current = ReconfigRequest {
        from_config: Some(version),
        ..joining(5, Participant)
    };
    assert!(matches!(
        reconfig(&mut sim, leader, current),
        ClientResult::Replied { .. }
    ));
    assert_no_violation(&sim);
}

#[test]
fn a_follower_forwards_a_reconfig_to_its_leader() {
    let mut sim = cluster(3, 2, 21);
    let leader = stable(&mut sim);
    let follower = (1..=3).find(|s| *s != leader).expect("a follower");
    // Forwarded in a REQUEST, proposed by the leader, answered by the follower on commit.
    let version = match reconfig(&mut sim, follower, joining(4, Participant)) {
        ClientResult::Replied { zxid, .. } => zxid,
        other => panic!("forwarded reconfig not committed: {other:?}"),
    };
    assert!(sent(&sim, follower, leader, "REQUEST") >= 1);
    assert!(refusals(&sim, follower).is_empty());
    for sid in 1..=5 {
        let (v, members) = sim.peer(sid).expect("running").active_config();
        assert_eq!(v, version, "server {sid}");
        assert!(members.is_voter(4));
    }
    // Refused on the leader: the chain machine has no error transaction, so the leader
    // drops it and the follower's request stays open until its leader goes away.
    stable(&mut sim);
    let leader = sim.leader().expect("a leader");
    let follower = (1..=4).find(|s| *s != leader).expect("a follower");
    let stale = ReconfigRequest {
        from_config: Some(Zxid::new(9, 9)),
        ..joining(5, Participant)
    };
    let tag = sim
        .act(Action::Reconfig {
            server: follower,
            request: stale,
        })
        .expect("tag");
    sim.run_for(3_000);
    assert_eq!(sim.request(tag), Some(&ClientResult::Pending));
    assert_eq!(refusals(&sim, leader), [-103]);
    sim.act(Action::Crash(leader));
    let limit = sim.now() + 10_000;
    sim.run_until_pred(limit, |s| {
        !matches!(s.request(tag), Some(ClientResult::Pending))
    });
    assert_eq!(sim.request(tag), Some(&ClientResult::Failed));
    assert_no_violation(&sim);
}

#[test]
fn a_leader_that_loses_its_vote_steps_down_and_a_voter_of_the_new_list_leads() {
    let mut sim = cluster(5, 0, 3);
    let old = stable(&mut sim);
    let version = match reconfig(&mut sim, old, joining(old, Observer)) {
        ClientResult::Replied { zxid, .. } => zxid,
        other => panic!("reconfig not committed: {other:?}"),
    };
    assert!(events_of(&sim, old).iter().any(|e| matches!(
        e,
        TraceEvent::GaveUp {
            reason: GiveUpReason::Reconfigured
        }
    )));
    let new = stable(&mut sim);
    assert_ne!(new, old);
    let peer = sim.peer(new).expect("running");
    assert_eq!(peer.active_config().0, version);
    assert!(peer.active_config().1.is_voter(new));
    assert_eq!(sim.peer(old).map(|p| p.state()), Some(PeerState::Observing));
    write(&mut sim, old, 5);
    assert_no_violation(&sim);
}

#[test]
fn the_member_list_survives_a_restart_of_every_server() {
    let mut sim = cluster(3, 1, 4);
    let leader = stable(&mut sim);
    let version = match reconfig(&mut sim, leader, joining(4, Participant)) {
        ClientResult::Replied { zxid, .. } => zxid,
        other => panic!("reconfig not committed: {other:?}"),
    };
    stable(&mut sim);
    for sid in 1..=4 {
        sim.act(Action::Crash(sid));
    }
    for sid in 1..=4 {
        sim.act(Action::Restart(sid));
        // Restarted, a server cannot tell whether its newest list committed: it is
        // pending, and quorums need the old and the new voters until a leader settles it.
        let peer = sim.peer(sid).expect("restarted");
        let pending = peer.pending_config().expect("the logged list is pending");
        assert_eq!(pending.0, version, "server {sid}");
        assert!(pending.1.is_voter(4));
    }
    stable(&mut sim);
    for sid in 1..=4 {
        let peer = sim.peer(sid).expect("running");
        assert_eq!(peer.active_config().0, version, "server {sid}");
        assert!(peer.active_config().1.is_voter(4));
        assert!(peer.pending_config().is_none());
    }
    assert_no_violation(&sim);
}

#[test]
fn a_server_that_missed_a_reconfig_comes_back_in_its_new_role() {
    let mut sim = cluster(3, 1, 5);
    let leader = stable(&mut sim);
    let missed = (1..=3).find(|s| *s != leader).expect("a follower");
    sim.act(Action::Crash(missed));
    let mut members: Vec<(u64, LearnerType)> = (1..=3)
        .filter(|s| *s != missed)
        .map(|s| (s, Participant))
        .collect();
    members.push((4, Participant));
    members.push((missed, Observer));
    let request = ReconfigRequest {
        new_members: Some(members),
        ..Default::default()
    };
    let version = match reconfig(&mut sim, leader, request) {
        ClientResult::Replied { zxid, .. } => zxid,
        other => panic!("reconfig not committed: {other:?}"),
    };
    sim.act(Action::Restart(missed));
    let limit = sim.now() + 20_000;
    assert!(
        sim.run_until_pred(limit, |s| s.is_stable()
            && s.peer(missed)
                .is_some_and(|p| p.state() == PeerState::Observing)),
        "the demoted server observes"
    );
    let peer = sim.peer(missed).expect("running");
    assert_eq!(peer.active_config().0, version);
    assert_eq!(peer.active_config().1.members.get(&missed), Some(&Observer));
    assert_no_violation(&sim);
}

#[test]
fn reconfig_quorums_needs_a_majority_of_the_pending_voters_on_disk() {
    let entry = |c| LogEntry {
        zxid: Zxid::new(1, c),
        time_ms: 0,
        origin: None,
        txn: c as u64,
    };
    let holding = DurableState::<u64, ()> {
        log: vec![entry(1), entry(2)],
        ..Default::default()
    };
    let empty = DurableState::<u64, ()>::default();
    let pending = Ensemble::new(3, 0);
    let zxid = Zxid::new(1, 2);
    let check = |disks: Vec<(u64, &DurableState<u64, ()>)>| {
        zablab_core::sim::invariants::reconfig_quorums::check(
            zablab_core::Instant(0),
            1,
            zxid,
            Zxid::new(1, 1),
            &pending,
            disks.into_iter(),
        )
    };
    let one = check(vec![(1, &holding), (2, &empty), (3, &empty)]);
    assert_eq!(
        one.map_err(|v| v.invariant),
        Err("ReconfigQuorums".to_string())
    );
    // Server 4 holds it too but does not vote in the pending list.
    let outsider = check(vec![(1, &holding), (2, &empty), (4, &holding)]);
    assert!(outsider.is_err());
    assert!(check(vec![(1, &holding), (2, &holding), (3, &empty)]).is_ok());
}

#[test]
fn the_reconfig_sweep_commits_reconfigs_and_keeps_every_invariant() {
    use zablab_core::sim::sweep::{seed_cluster, SweepParams};
    let params = SweepParams {
        reconfig: true,
        ..SweepParams::default()
    };
    let (mut activated, mut stepped_down) = (0, 0);
    for seed in 0..24 {
        let (mut cluster, profile) = seed_cluster(params, seed);
        let _ = cluster.run_until_pred(zablab_core::Instant(params.fault_ms), |c| {
            c.violation().is_some()
        });
        let outcome = match cluster.violation() {
            Some(v) => Err(v.clone()),
            None => zablab_core::sim::invariants::liveness::converge(
                &mut cluster,
                u64::MAX - seed,
                params.liveness_ms,
            ),
        };
        assert!(outcome.is_ok(), "seed {seed} ({profile}): {outcome:?}");
        for r in cluster.trace().records() {
            match &r.event {
                zablab_core::sim::HostEvent::Peer(TraceEvent::ConfigActivated { .. }) => {
                    activated += 1
                }
                zablab_core::sim::HostEvent::Peer(TraceEvent::GaveUp {
                    reason: GiveUpReason::Reconfigured,
                }) => stepped_down += 1,
                _ => {}
            }
        }
    }
    assert!(
        activated > 24,
        "reconfigs committed and activated: {activated}"
    );
    assert!(
        stepped_down > 0,
        "some changed a server's role: {stepped_down}"
    );
}
