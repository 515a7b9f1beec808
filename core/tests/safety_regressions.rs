//! Regression tests for the safety bugs of the fault-model review: each scripts the exact
//! interleaving that broke (or would break) ZAB and asserts the property that must hold.
//!
//! 1. A learner's stale ACK counted after the leader TRUNCs it (an acknowledged write lost).
//! 2. A TRUNC below the learner's snapshot must not forget acceptedEpoch/currentEpoch.
//! 3. The leader's quorum check: an isolated leader steps down within syncLimit ticks.
//! 4. No second FOLLOWERINFO in the middle of a sync.

mod common;

use common::*;
use zablab_core::machine::{ChainMachine, StateMachine, TxnContext};
use zablab_core::sim::{Action, ClientResult, Cluster, HostEvent, SimConfig};
use zablab_core::trace::{GiveUpReason, ZabPhase};
use zablab_core::tree::acl::open_acl_unsafe;
use zablab_core::tree::{CreateRequest, DataTree, Request, WriteOp};
use zablab_core::{DurableState, Instant, LogEntry, PeerState, TraceEvent, Zxid};

fn write(sim: &mut Sim, server: u64, id: u64) {
    let tag = sim.act(Action::Write { server, txn: id }).unwrap();
    let limit = sim.now() + 5_000;
    sim.run_until_pred(limit, |s| {
        !matches!(s.request(tag), Some(ClientResult::Pending))
    });
    assert!(
        matches!(sim.request(tag), Some(ClientResult::Replied { .. })),
        "write {id} committed"
    );
}

fn slow_link(sim: &mut Sim, a: u64, b: u64, extra_ms: u64) {
    for (from, to) in [(a, b), (b, a)] {
        sim.act(Action::SetLink {
            from,
            to,
            extra_ms,
            drop_per_million: 0,
        });
    }
}

fn durable_last(sim: &Sim, sid: u64) -> Zxid {
    sim.nodes()[&sid].durable.last_logged_zxid()
}

/// Item 1, the five-server interleaving of the issue. L = 5 proposes p = 1:4; F = 4 logs and
/// ACKs it, restarts, is TRUNCated to 1:3 and crashes again before re-logging p; G = 3's ACK
/// then arrives. Counting F's ACK of its first connection, {L, F, G} would look like a
/// quorum: p commits and is acknowledged though only L and G hold it; L and G crash and
/// F, 1, 2 elect F, which lacks p. The leader must forget a learner's ACKs when its
/// connection goes, so p is either held by a surviving quorum or never acknowledged.
#[test]
fn a_stale_ack_of_a_truncated_learner_does_not_count_towards_a_quorum() {
    let mut sim = Sim::new(
        SimConfig {
            participants: 5,
            ..SimConfig::default()
        },
        11,
    );
    let (l, f, g) = (5, 4, 3);
    assert_eq!(stable(&mut sim), l);
    for id in 1..=3 {
        write(&mut sim, l, id);
    }
    assert_eq!(sim.peer(l).unwrap().last_processed_zxid(), Zxid::new(1, 3));
    slow_link(&mut sim, l, g, 150);
    slow_link(&mut sim, l, 1, 600);
    slow_link(&mut sim, l, 2, 600);

    let p = sim.act(Action::Write { server: l, txn: 4 }).unwrap();
    let p_zxid = Zxid::new(1, 4);
    // F logs p and its ACK reaches L.
    let limit = sim.now() + 1_000;
    assert!(sim.run_until_pred(limit, |s| {
        let outstanding = &s.peer(l).unwrap().leader().unwrap().outstanding;
        outstanding
            .get(&p_zxid)
            .is_some_and(|o| o.acks.contains(&f))
    }));
    assert_eq!(durable_last(&sim, f), p_zxid);
    sim.act(Action::Crash(f));
    sim.act(Action::Restart(f));
    // F rejoins with 1:4 > maxCommittedLog 1:3: TRUNC 1:3, PROPOSAL p, NEWLEADER. Crash it
    // once its truncate is durable and before the re-append of p is.
    let limit = sim.now() + 1_000;
    assert!(sim.run_until_pred(limit, |s| {
        let syncing = s.peer(f).is_some_and(|peer| {
            peer.phase() == ZabPhase::Synchronization && peer.leader_id() == Some(l)
        });
        syncing && durable_last(s, f) == Zxid::new(1, 3)
    }));
    sim.act(Action::Crash(f));
    // G's ACK arrives at L (150 ms each way) before 1 and 2 receive p (600 ms).
    sim.run_for(350);
    let acked = matches!(sim.request(p), Some(ClientResult::Replied { .. }));
    let holders: Vec<u64> = [l, g, 1, 2]
        .into_iter()
        .filter(|s| sim.nodes()[s].durable.log.iter().any(|e| e.zxid == p_zxid))
        .collect();
    assert!(
        !acked || holders.len() >= 3,
        "p acknowledged while only {holders:?} hold it durably"
    );
    sim.act(Action::Crash(l));
    sim.act(Action::Crash(g));
    sim.act(Action::Restart(f));
    let limit = sim.now() + 20_000;
    assert!(sim.run_until_pred(limit, |s| s.leader().is_some()));
    assert_eq!(sim.leader(), Some(f), "F, 1 and 2 elect F");
    assert_no_violation(&sim);
    sim.check_final_state().expect("no acknowledged write lost");
}

fn chain_log(epoch: u32, upto: u32) -> Vec<LogEntry<u64>> {
    (1..=upto)
        .map(|c| LogEntry {
            zxid: Zxid::new(epoch, c),
            time_ms: 0,
            origin: None,
            txn: c as u64,
        })
        .collect()
}

/// Item 2. Servers 1 and 2 are in epoch 2 with 1:1..1:3; server 3 is still in epoch 1 with a
/// snapshot at 1:5 (it applied two proposals of epoch 1 that never committed). 2 leads, and
/// TRUNC 1:3 lies below 3's snapshot: 3 must discard its database but keep the epochs it
/// promised, then come back by SNAP.
#[test]
fn a_trunc_below_the_snapshot_keeps_the_epoch_files() {
    let mut sim = Sim::new(config(3, 0), 5);
    for sid in [1, 2] {
        sim.preload(
            sid,
            DurableState {
                accepted_epoch: 2,
                current_epoch: 2,
                snapshot: None,
                log: chain_log(1, 3),
            },
        );
    }
    let mut machine = ChainMachine::empty();
    for e in chain_log(1, 5) {
        let ctx = TxnContext {
            zxid: e.zxid,
            time_ms: 0,
            origin: None,
        };
        machine.apply(&ctx, &e.txn);
    }
    sim.preload(
        3,
        DurableState {
            accepted_epoch: 1,
            current_epoch: 1,
            snapshot: Some((Zxid::new(1, 5), machine)),
            log: Vec::new(),
        },
    );
    for sid in 1..=3 {
        sim.act(Action::Start(sid));
    }
    let limit = sim.now() + 10_000;
    assert!(
        sim.run_until_pred(limit, |s| s.trace().records().iter().any(|r| r.node == 3
            && matches!(
                r.event,
                HostEvent::Peer(TraceEvent::GaveUp {
                    reason: GiveUpReason::CannotTruncate
                })
            )))
    );
    let leader_epoch = sim.peer(2).unwrap().accepted_epoch();
    assert!(leader_epoch >= 3);
    let limit = sim.now() + 100;
    assert!(
        sim.run_until_pred(limit, |s| s.nodes()[&3].durable.snapshot.is_none()),
        "the database is discarded"
    );
    let durable = &sim.nodes()[&3].durable;
    assert_eq!(
        durable.accepted_epoch, leader_epoch,
        "the promise of the leader's epoch survives the truncation"
    );
    assert_eq!(
        durable.current_epoch, 0,
        "currentEpoch describes the history held, and none is held"
    );
    stable(&mut sim);
    assert_eq!(
        sim.peer(3).unwrap().machine().writes,
        vec![1, 2, 3],
        "back by SNAP"
    );
    assert_no_violation(&sim);
}

/// The first time `sid` gives up as leader with `reason` after `since`.
fn gave_up_at(sim: &Sim, sid: u64, since: Instant, reason: GiveUpReason) -> Option<Instant> {
    sim.trace()
        .records()
        .iter()
        .find(|r| {
            r.node == sid
                && r.time >= since
                && matches!(&r.event, HostEvent::Peer(TraceEvent::GaveUp { reason: x }) if *x == reason)
        })
        .map(|r| r.time)
}

/// Item 3. ZooKeeper resets a learner's deadline to tick + syncLimit on every packet and the
/// leader gives up once fewer than a quorum are within theirs, so a leader cut off right after
/// its election steps down within syncLimit (+1 for the tick it checks on) ticks — not after
/// initLimit + syncLimit, which left two leaders serving at once.
#[test]
fn a_leader_isolated_right_after_its_election_steps_down_within_sync_limit_ticks() {
    let mut sim = Sim::new(SimConfig::default(), 2);
    let leader = stable(&mut sim);
    let timing = SimConfig::default().timing;
    let cut = sim.now();
    sim.act(Action::Isolate(leader));
    let limit = sim.now() + 10_000;
    sim.run_until_pred(limit, |s| {
        s.peer(leader)
            .is_some_and(|p| p.state() == PeerState::Looking)
    });
    let down = gave_up_at(&sim, leader, cut, GiveUpReason::LostQuorum).expect("stepped down");
    let bound_ms = (timing.sync_limit as u64 + 2) * timing.tick_time_ms;
    assert!(
        down.0 - cut.0 <= bound_ms,
        "stepped down {} ms after the cut; ZooKeeper's rule gives at most {bound_ms}",
        down.0 - cut.0
    );
    assert!(
        down.0 - cut.0 >= timing.sync_limit as u64 * timing.tick_time_ms / 2,
        "not before the learners' deadlines could pass"
    );
    // The majority elects a new leader.
    let limit = sim.now() + 10_000;
    assert!(sim.run_until_pred(limit, |s| s.leader().is_some_and(|l| l != leader)));
    assert_no_violation(&sim);
}

/// Item 3, in broadcast long after the election: the same bound.
#[test]
fn a_leader_isolated_in_broadcast_steps_down_within_sync_limit_ticks() {
    let mut sim = Sim::new(SimConfig::default(), 3);
    let leader = stable(&mut sim);
    for id in 1..=5 {
        write(&mut sim, leader, id);
    }
    sim.run_for(5_000);
    let timing = SimConfig::default().timing;
    let cut = sim.now();
    sim.act(Action::Isolate(leader));
    sim.run_for(5_000);
    let down = gave_up_at(&sim, leader, cut, GiveUpReason::LostQuorum).expect("stepped down");
    assert!(down.0 - cut.0 <= (timing.sync_limit as u64 + 2) * timing.tick_time_ms);
    assert_no_violation(&sim);
}

fn create(session: i64, cxid: i32, path: &str) -> Request {
    Request::new(
        session,
        cxid,
        Vec::new(),
        WriteOp::Create(CreateRequest {
            path: path.into(),
            data: Some(b"x".to_vec()),
            acl: open_acl_unsafe(),
            flags: 0,
        }),
    )
}

fn open(session: i64, cxid: i32) -> Request {
    Request::new(
        session,
        cxid,
        Vec::new(),
        WriteOp::CreateSession { timeout_ms: 30_000 },
    )
}

/// Item 4, the browser-lab run of the issue (seed 1, lab timing). The wiped server 1 restarts
/// and registers with leader 2 while 2's close of 1's *previous* connection is still on its
/// way. That stale close must not reach the new connection, and the refused-connection retry
/// it used to schedule must not send a second FOLLOWERINFO in the middle of the SNAP.
#[test]
fn a_learner_registers_once_and_syncs_without_a_second_followerinfo() {
    let config = SimConfig {
        participants: 3,
        latency_ms: (15, 35),
        disk_latency_ms: (3, 8),
        ..SimConfig::default()
    };
    let mut c: Cluster<DataTree> = Cluster::new(config, 1);
    let (s1, s3, s3b) = ((1i64 << 56) | 1, (3i64 << 56) | 1, (3i64 << 56) | 2);
    let script = [
        (
            857,
            Action::Write {
                server: 1,
                txn: open(s1, 1),
            },
        ),
        (
            857,
            Action::Write {
                server: 1,
                txn: create(s1, 2, "/a"),
            },
        ),
        (
            1002,
            Action::Write {
                server: 3,
                txn: open(s3, 1),
            },
        ),
        (
            1002,
            Action::Write {
                server: 3,
                txn: create(s3, 2, "/b"),
            },
        ),
        (
            1002,
            Action::Write {
                server: 3,
                txn: open(s3b, 1),
            },
        ),
        (
            1002,
            Action::Write {
                server: 3,
                txn: create(s3b, 2, "/c"),
            },
        ),
        (1098, Action::Crash(3)),
        (1798, Action::Restart(3)),
        (2070, Action::WipeDisk(1)),
        (2070, Action::Restart(1)),
        (
            2534,
            Action::Cut {
                from: 2,
                to: 1,
                both: false,
            },
        ),
        (6611, Action::HealAll),
    ];
    for (t, a) in script {
        c.schedule(Instant(t), a);
    }
    c.run_until(Instant(2534));
    let records = c.trace().records();
    let infos = records
        .iter()
        .filter(|r| r.time.0 >= 2070 && r.node == 1)
        .filter(|r| matches!(&r.event, HostEvent::Send { kind, .. } if kind == "FOLLOWERINFO"))
        .count();
    let violations = records
        .iter()
        .filter(|r| r.time.0 >= 2070 && r.node == 1)
        .filter(|r| {
            matches!(
                r.event,
                HostEvent::Peer(TraceEvent::GaveUp {
                    reason: GiveUpReason::ProtocolViolation
                })
            )
        })
        .count();
    assert_eq!(
        (infos, violations),
        (1, 0),
        "one FOLLOWERINFO, no protocol violation"
    );
    let p = c.peer(1).unwrap();
    assert_eq!(
        (p.phase(), p.leader_id()),
        (ZabPhase::Broadcast, Some(2)),
        "server 1 synced by SNAP and serving"
    );
    c.run_until(Instant(8000));
    assert!(c.violation().is_none(), "{:?}", c.violation());
}

/// Found by the swarm sweep (seed 20176 of the first 100,000): a quorum of learners'
/// NEWLEADER ACKs established the leader while its own currentEpoch write was still on a
/// stalled disk; when that write finished, the leader fell back to SYNC and never served
/// again. ZooKeeper's leader starts serving only after its own setCurrentEpoch returns.
#[test]
fn a_leader_is_established_only_after_its_own_current_epoch_is_durable() {
    let mut sim = Sim::new(
        SimConfig {
            participants: 5,
            ..SimConfig::default()
        },
        8,
    );
    let proposed = |s: &Sim| {
        s.trace()
            .records()
            .iter()
            .find(|r| matches!(r.event, HostEvent::Peer(TraceEvent::EpochProposed { .. })))
            .map(|r| r.node)
    };
    let limit = sim.now() + 10_000;
    assert!(sim.run_until_pred(limit, |s| proposed(s).is_some()));
    let leader = proposed(&sim).unwrap();
    let stalled_at = sim.now();
    sim.act(Action::StallDisk {
        server: leader,
        ms: 1_000,
    });
    // The currentEpoch write is issued (a quorum ACKEPOCHed) and waits on the stalled disk.
    // The learners that counted for that quorum restart and register again: they are synced
    // at once and their NEWLEADER ACKs alone make a quorum.
    let limit = sim.now() + 1_000;
    assert!(sim.run_until_pred(limit, |s| s
        .peer(leader)
        .and_then(|p| p.leader())
        .is_some_and(|l| l.current_epoch_written)));
    let electing: Vec<u64> = sim
        .peer(leader)
        .unwrap()
        .leader()
        .unwrap()
        .electing
        .iter()
        .copied()
        .filter(|s| *s != leader)
        .collect();
    for sid in electing {
        sim.act(Action::Crash(sid));
        sim.act(Action::Restart(sid));
    }
    let limit = sim.now() + 10_000;
    assert!(
        sim.run_until_pred(limit, |s| s.is_stable()),
        "the leader serves once its disk comes back"
    );
    let established = sim
        .trace()
        .records()
        .iter()
        .find(|r| {
            r.node == leader
                && matches!(
                    r.event,
                    HostEvent::Peer(TraceEvent::LeaderEstablished { .. })
                )
        })
        .map(|r| r.time)
        .expect("established");
    assert!(
        established.0 >= stalled_at.0 + 1_000,
        "established at {} ms, before its currentEpoch could be durable (stalled until {} ms)",
        established.0,
        stalled_at.0 + 1_000
    );
    assert_eq!(sim.peer(leader).unwrap().phase(), ZabPhase::Broadcast);
    assert_no_violation(&sim);
}

/// Sweep seed 653117: a follower paused in the middle of its DIFF, whose pause is extended
/// while the first pause's messages still wait, must still handle its leader's stream in the
/// order it was sent (TCP). Deferred events used to be re-queued behind later ones, so it took
/// COMMIT 3:1 before the DIFF's proposals and reported a PrefixConsistency violation.
#[test]
fn a_paused_server_handles_each_connection_in_order_when_its_pause_is_extended() {
    let mut sim = Sim::new(SimConfig::default(), 4);
    let leader = stable(&mut sim);
    let follower = (1..=3).find(|s| *s != leader).unwrap();
    sim.act(Action::Pause {
        server: follower,
        ms: 500,
    });
    let mut tags = Vec::new();
    for id in 1..=3 {
        tags.push(
            sim.act(Action::Write {
                server: leader,
                txn: id,
            })
            .unwrap(),
        );
        sim.run_for(100);
    }
    // Extended while the first pause's deliveries are queued for its end.
    sim.act(Action::Pause {
        server: follower,
        ms: 1_500,
    });
    for id in 4..=6 {
        tags.push(
            sim.act(Action::Write {
                server: leader,
                txn: id,
            })
            .unwrap(),
        );
        sim.run_for(100);
    }
    sim.run_for(3_000);
    let delivered: Vec<u64> = sim
        .trace()
        .records()
        .iter()
        .filter(|r| r.node == follower)
        .filter_map(|r| match &r.event {
            HostEvent::Deliver { from, msg_id, .. } if *from == leader => *msg_id,
            _ => None,
        })
        .collect();
    assert!(
        delivered.len() >= 12,
        "the follower took the writes: {delivered:?}"
    );
    assert!(
        delivered.windows(2).all(|w| w[0] < w[1]),
        "leader -> follower delivered out of order: {delivered:?}"
    );
    for tag in tags {
        assert!(matches!(
            sim.request(tag),
            Some(ClientResult::Replied { .. })
        ));
    }
    assert_eq!(
        sim.nodes()[&follower].durable.last_logged_zxid(),
        sim.nodes()[&leader].durable.last_logged_zxid()
    );
    assert_no_violation(&sim);
}

/// Sweep seeds that lost an acknowledged write before a discarded database took currentEpoch
/// to 0: the emptied learner's vote (its old currentEpoch, zxid 0) beat servers holding the
/// write, and as leader it truncated them to nothing.
#[test]
fn an_emptied_learner_does_not_win_an_election_by_its_old_current_epoch() {
    use zablab_core::sim::sweep::{reproduce_command, run_seed, SweepParams};
    for seed in [22508, 642105] {
        let params = SweepParams::default();
        let report = run_seed(params, seed);
        assert!(
            report.violation.is_none(),
            "seed {seed}: {:?}\nreproduce: {}",
            report.violation,
            reproduce_command(seed, &params)
        );
    }
}
