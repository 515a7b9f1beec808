//! Recovery: the leader synchronizes a returning server with DIFF, TRUNC or SNAP, chosen by
//! ZooKeeper's rule (docs/protocol.md §3.5). Each scenario forces one and checks the packet sent.

mod common;

use common::*;
use zablab_core::sim::{Action, ClientResult, SimConfig};
use zablab_core::trace::{SyncMode, SyncReason};
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

/// What the leader decided for `learner`, with its reason, last first.
fn reasons(sim: &Sim, leader: u64, learner: u64) -> Vec<(SyncMode, SyncReason)> {
    events_of(sim, leader)
        .into_iter()
        .filter_map(|e| match e {
            TraceEvent::SyncChosen {
                learner: l,
                mode,
                reason,
                ..
            } if l == learner => Some((mode, reason)),
            _ => None,
        })
        .rev()
        .collect()
}

/// A follower crashed after write 1 of `writes` and restarted once the others went on: the
/// leader's last decision for it, and the follower's writes afterwards.
fn behind_the_window(config: SimConfig, writes: u64) -> (SyncMode, SyncReason, usize) {
    let mut sim = Sim::new(config, 4);
    let leader = stable(&mut sim);
    let f = follower_of(&sim, leader);
    write(&mut sim, leader, 1);
    sim.act(Action::Crash(f));
    for id in 2..=writes {
        write(&mut sim, leader, id);
    }
    let proposals_before = sent(&sim, leader, f, "PROPOSAL");
    sim.act(Action::Restart(f));
    stable(&mut sim);
    let (mode, reason) = reasons(&sim, leader, f)[0];
    assert_eq!(
        sim.peer(f).unwrap().machine().writes,
        (1..=writes).collect::<Vec<u64>>(),
        "the follower holds every write after its sync"
    );
    assert_no_violation(&sim);
    (
        mode,
        reason,
        sent(&sim, leader, f, "PROPOSAL") - proposals_before,
    )
}

/// A follower older than the leader's committed log (10 proposals) but within its on-disk
/// transaction log, with no snapshot to weigh it against, gets a DIFF read from the log
/// (ZooKeeper 3.8's `getProposalsFromTxnLog`), not a SNAP.
#[test]
fn a_follower_behind_the_committed_window_gets_diff_from_the_transaction_log() {
    let config = SimConfig {
        commit_log_count: 10,
        ..SimConfig::default()
    };
    let (mode, reason, proposals) = behind_the_window(config, 30);
    assert_eq!((mode, reason), (SyncMode::Diff, SyncReason::TxnLog));
    assert!(
        proposals >= 29,
        "the 29 missing proposals were sent, got {proposals}"
    );
}

/// With `snapshotSizeFactor` negative the transaction log is never read: SNAP.
#[test]
fn a_follower_behind_the_committed_window_gets_snap_when_txn_log_sync_is_off() {
    let config = SimConfig {
        commit_log_count: 10,
        snapshot_size_factor_percent: None,
        ..SimConfig::default()
    };
    let (mode, reason, _) = behind_the_window(config, 30);
    assert_eq!((mode, reason), (SyncMode::Snap, SyncReason::TxnLogDisabled));
}

/// A snapshot every 8 transactions leaves no log reaching back to the follower's last zxid.
#[test]
fn a_follower_older_than_the_transaction_log_gets_snap() {
    let config = SimConfig {
        commit_log_count: 10,
        snap_count: 8,
        ..SimConfig::default()
    };
    let (mode, reason, _) = behind_the_window(config, 30);
    assert_eq!((mode, reason), (SyncMode::Snap, SyncReason::TxnLogTooShort));
}

/// The log reaches back, but sending it would cost more than 0.33 × the snapshot.
#[test]
fn a_transaction_log_larger_than_the_size_factor_allows_means_snap() {
    // Snapshot after the 5th write; the follower crashes after the 6th; four more writes
    // with a committed log of 2 put it behind the window, inside the log since the snapshot.
    let config = SimConfig {
        commit_log_count: 2,
        snap_count: 5,
        ..SimConfig::default()
    };
    let mut sim = Sim::new(config, 4);
    let leader = stable(&mut sim);
    let f = follower_of(&sim, leader);
    for id in 1..=6 {
        write(&mut sim, leader, id);
    }
    sim.act(Action::Crash(f));
    for id in 7..=9 {
        write(&mut sim, leader, id);
    }
    sim.act(Action::Restart(f));
    stable(&mut sim);
    assert_eq!(
        reasons(&sim, leader, f)[0],
        (SyncMode::Snap, SyncReason::TxnLogTooLarge)
    );
    assert_eq!(
        sim.peer(f).unwrap().machine().writes,
        (1..=9).collect::<Vec<u64>>()
    );
    assert_no_violation(&sim);
}
