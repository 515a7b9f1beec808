//! Recovery: the leader synchronizes a returning server with DIFF, TRUNC or SNAP, chosen by
//! ZooKeeper's rule (reference §3.5). Each scenario forces one and checks the packet sent.

mod common;

use common::*;
use zablab_core::sim::{Action, ClientResult, SimConfig};
use zablab_core::trace::SyncMode;
use zablab_core::{TraceEvent, Zxid};

fn write(sim: &mut Sim, server: u64, id: u64) -> u64 {
    let tag = sim.act(Action::Write { server, txn: id }).unwrap();
    let limit = sim.now() + 5_000;
    sim.run_until_pred(limit, |s| {
        !matches!(s.request(tag), Some(ClientResult::Pending))
    });
    tag
}

fn sync_chosen(sim: &Sim, leader: u64, learner: u64) -> Vec<(SyncMode, Zxid, Zxid)> {
    events_of(sim, leader)
        .into_iter()
        .filter_map(|e| match e {
            TraceEvent::SyncChosen {
                learner: l,
                mode,
                peer_last_zxid,
                target,
                ..
            } if l == learner => Some((mode, peer_last_zxid, target)),
            _ => None,
        })
        .collect()
}

fn follower_of(_sim: &Sim, leader: u64) -> u64 {
    (1..=3).find(|s| *s != leader).unwrap()
}

/// A follower that missed a few commits comes back inside the committed-log window: DIFF,
/// followed by the missing PROPOSAL/COMMIT pairs.
#[test]
fn a_follower_behind_inside_the_window_gets_diff() {
    let mut sim = Sim::new(SimConfig::default(), 3);
    let leader = stable(&mut sim);
    let f = follower_of(&sim, leader);
    write(&mut sim, leader, 1);
    sim.act(Action::Crash(f));
    for id in 2..=5 {
        write(&mut sim, leader, id);
    }
    let proposals_before = sent(&sim, leader, f, "PROPOSAL");
    sim.act(Action::Restart(f));
    stable(&mut sim);
    let chosen = sync_chosen(&sim, leader, f);
    let (mode, peer_last, _) = *chosen.last().expect("leader synced the follower");
    assert_eq!(mode, SyncMode::Diff);
    assert!(peer_last.counter() >= 1 && peer_last.counter() < 5);
    assert_eq!(
        sent(&sim, leader, f, "DIFF"),
        chosen.iter().filter(|c| c.0 == SyncMode::Diff).count()
    );
    assert!(
        sent(&sim, leader, f, "PROPOSAL") > proposals_before,
        "missing proposals follow the DIFF"
    );
    assert_eq!(
        sim.peer(f).unwrap().machine().writes,
        sim.peer(leader).unwrap().machine().writes
    );
    assert_no_violation(&sim);
}

/// The old leader logged a proposal no one else received, then crashed. The others elect a
/// new leader; when the old one returns, its extra proposal is above the new leader's last
/// commit, so it gets TRUNC and the uncommitted write disappears. Committed writes stay.
#[test]
fn a_server_holding_an_uncommitted_proposal_of_the_old_epoch_gets_trunc() {
    let mut sim = Sim::new(SimConfig::default(), 9);
    let old = stable(&mut sim);
    write(&mut sim, old, 1);
    write(&mut sim, old, 2);
    let committed = sim.peer(old).unwrap().last_processed_zxid();
    sim.act(Action::Isolate(old));
    let lost = sim
        .act(Action::Write {
            server: old,
            txn: 99,
        })
        .unwrap();
    sim.run_for(20);
    assert_eq!(
        sim.peer(old).unwrap().last_logged_zxid(),
        committed.next().unwrap()
    );
    sim.act(Action::Crash(old));
    sim.act(Action::HealAll);
    let new = stable(&mut sim);
    assert_ne!(new, old);
    sim.act(Action::Restart(old));
    stable(&mut sim);
    let chosen = sync_chosen(&sim, new, old);
    assert_eq!(
        chosen.last().map(|c| (c.0, c.1, c.2)),
        Some((SyncMode::Trunc, committed.next().unwrap(), committed))
    );
    assert_eq!(sent(&sim, new, old, "TRUNC"), 1);
    let writes = &sim.peer(old).unwrap().machine().writes;
    assert_eq!(
        writes,
        &vec![1, 2],
        "the uncommitted write 99 is gone, the committed ones stay"
    );
    assert_eq!(sim.request(lost), Some(&ClientResult::Failed));
    assert_no_violation(&sim);
}

/// A follower that fell behind the leader's committed-log window (here 10 proposals) can only
/// be brought back with a snapshot.
#[test]
fn a_follower_behind_the_committed_window_gets_snap() {
    let config = SimConfig {
        commit_log_count: 10,
        ..SimConfig::default()
    };
    let mut sim = Sim::new(config, 4);
    let leader = stable(&mut sim);
    let f = follower_of(&sim, leader);
    write(&mut sim, leader, 1);
    sim.act(Action::Crash(f));
    for id in 2..=30 {
        write(&mut sim, leader, id);
    }
    let snaps_before = sent(&sim, leader, f, "SNAP");
    sim.act(Action::Restart(f));
    stable(&mut sim);
    let chosen = sync_chosen(&sim, leader, f);
    assert_eq!(chosen.last().map(|c| c.0), Some(SyncMode::Snap));
    assert_eq!(sent(&sim, leader, f, "SNAP"), snaps_before + 1);
    assert_eq!(
        sim.peer(f).unwrap().machine().writes,
        (1..=30).collect::<Vec<u64>>()
    );
    assert_no_violation(&sim);
}
