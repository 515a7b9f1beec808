//! Quorums: only participants count, and a write acknowledged by a majority survives the
//! crash of any minority.

mod common;

use common::*;
use zablab_core::sim::sweep::chain_contains;
use zablab_core::sim::{Action, ClientResult, SimConfig};
use zablab_core::{Instant, PeerState, TraceEvent};

/// Three participants and two observers: with two participants down, three servers are alive
/// but only one voter, so no leader can be established and writes fail. Observers receive
/// INFORM, never PROPOSAL, and never ACK.
#[test]
fn observers_do_not_count_toward_a_quorum() {
    let mut sim = Sim::new(
        SimConfig {
            observers: 2,
            ..SimConfig::default()
        },
        21,
    );
    assert!(sim.run_until_pred(Instant(10_000), |s| s.is_stable()));
    let leader = sim.leader().unwrap();
    let tag = sim.act(Action::Write { server: 4, txn: 1 }).unwrap();
    sim.run_for(1000);
    assert!(
        matches!(sim.request(tag), Some(ClientResult::Replied { .. })),
        "an observer forwards writes"
    );
    assert_eq!(sim.peer(4).unwrap().state(), PeerState::Observing);
    assert!(sent(&sim, leader, 4, "INFORM") >= 1);
    assert_eq!(sent(&sim, leader, 4, "PROPOSAL"), 0);
    assert_eq!(
        sent(&sim, 4, leader, "ACK"),
        2,
        "only the NEWLEADER and UPTODATE acks"
    );

    let others: Vec<u64> = (1..=3).filter(|s| *s != leader).collect();
    sim.act(Action::Crash(others[0]));
    sim.act(Action::Crash(others[1]));
    let since = sim.trace().records().len();
    sim.run_for(10_000);
    assert_eq!(
        sim.leader(),
        None,
        "one voter and two observers are no quorum"
    );
    let established = sim.trace().records()[since..]
        .iter()
        .filter(|r| {
            matches!(
                &r.event,
                zablab_core::sim::HostEvent::Peer(TraceEvent::LeaderEstablished { .. })
            )
        })
        .count();
    assert_eq!(established, 0);
    let tag = sim.act(Action::Write { server: 5, txn: 2 }).unwrap();
    sim.run_for(2000);
    assert_ne!(
        sim.request(tag)
            .map(|r| matches!(r, ClientResult::Replied { .. })),
        Some(true)
    );
    assert_no_violation(&sim);
}

/// Five servers: a write logged by the leader and exactly two followers (so acknowledged by 3)
/// is still there after any two servers crash and the remaining three elect a leader.
#[test]
fn with_five_servers_a_write_acknowledged_by_three_survives_the_crash_of_any_two() {
    for a in 1..=5u64 {
        for b in a + 1..=5 {
            let mut sim = Sim::new(
                SimConfig {
                    participants: 5,
                    ..SimConfig::default()
                },
                100 + a * 10 + b,
            );
            sim.set_write_check(chain_contains);
            assert!(sim.run_until_pred(Instant(10_000), |s| s.is_stable()));
            let leader = sim.leader().unwrap();
            // Two followers stop hearing the leader, so exactly three servers log the write.
            let cut: Vec<u64> = (1..=5).filter(|s| *s != leader).take(2).collect();
            for f in &cut {
                sim.act(Action::Cut {
                    from: leader,
                    to: *f,
                    both: false,
                });
            }
            let tag = sim
                .act(Action::Write {
                    server: leader,
                    txn: 77,
                })
                .unwrap();
            let t = sim.now() + 2000;
            sim.run_until_pred(t, |s| {
                !matches!(s.request(tag), Some(ClientResult::Pending))
            });
            assert!(matches!(
                sim.request(tag),
                Some(ClientResult::Replied { .. })
            ));
            let holders = (1..=5)
                .filter(|s| sim.peer(*s).unwrap().log().iter().any(|e| e.txn == 77))
                .count();
            assert_eq!(holders, 3, "leader + two followers logged it");
            sim.act(Action::Crash(a));
            sim.act(Action::Crash(b));
            sim.act(Action::HealAll);
            let t = sim.now() + 20_000;
            assert!(
                sim.run_until_pred(t, |s| s.is_stable()),
                "crash {a},{b}: no leader"
            );
            let new_leader = sim.leader().unwrap();
            assert!(
                chain_contains(sim.peer(new_leader).unwrap().machine(), &77),
                "crash {a},{b}: write lost"
            );
            assert_no_violation(&sim);
        }
    }
}
