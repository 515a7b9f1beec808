//! `Peer::timers`: the countdowns the lab draws are the deadlines the protocol acts on, and
//! reading them changes nothing.

mod common;

use common::*;
use zablab_core::peer::TimerKind;
use zablab_core::sim::{Action, HostEvent, SimConfig};
use zablab_core::trace::GiveUpReason;
use zablab_core::{Instant, TraceEvent};

fn started(seed: u64) -> Sim {
    Sim::new(SimConfig::default(), seed)
}

/// finalizeWait starts when a quorum agrees (the `Finalizing` event) and the timer the peer
/// reports ends finalizeWait later; an established leader's quorum check is within a tick.
#[test]
fn finalize_wait_and_the_quorum_check_are_reported_with_their_deadlines() {
    let mut sim = started(3);
    let finalize_ms = sim.config().timing.finalize_wait_ms;
    let tick_ms = sim.config().timing.tick_time_ms;
    let mut finalizing_seen = 0;
    let mut quorum_checks_seen = 0;
    let mut seen_records = 0;
    while sim.now() < Instant(5_000) && sim.step() {
        let records = sim.trace().records();
        for r in &records[seen_records..] {
            if let HostEvent::Peer(TraceEvent::Finalizing { .. }) = r.event {
                let timers = sim.peer(r.node).map(|p| p.timers()).unwrap_or_default();
                let f = timers
                    .iter()
                    .find(|t| t.kind == TimerKind::FinalizeWait)
                    .unwrap_or_else(|| panic!("S{} finalizing without a timer", r.node));
                assert_eq!(f.deadline, r.time + finalize_ms);
                assert_eq!(f.length_ms, finalize_ms);
                let p = sim.peer(r.node).expect("running");
                let agreeing = p.election().agreeing_with_proposal();
                assert!(
                    sim.ensemble().is_quorum(&agreeing),
                    "S{}: finalizing with {agreeing:?}",
                    r.node
                );
                finalizing_seen += 1;
            }
        }
        seen_records = records.len();
        if let Some(l) = sim.leader() {
            let timers = sim.peer(l).expect("leader runs").timers();
            let q = timers
                .iter()
                .find(|t| t.kind == TimerKind::QuorumCheck)
                .expect("an established leader checks its quorum");
            assert!(q.deadline > sim.now() && q.deadline <= sim.now() + tick_ms);
            let learners = timers
                .iter()
                .filter(|t| matches!(t.kind, TimerKind::LearnerSyncLimit { .. }))
                .count();
            assert_eq!(learners, 2, "one syncLimit deadline per follower");
            quorum_checks_seen += 1;
        }
    }
    assert!(
        finalizing_seen >= 2,
        "a quorum agreed at two servers at least"
    );
    assert!(quorum_checks_seen > 0, "a leader was established");
}

/// Cut the leader off from both followers: it gives up (lost quorum) exactly when the later
/// of the two `LearnerSyncLimit` deadlines it reported right after the cut passes.
#[test]
fn the_leader_gives_up_at_the_learners_sync_limit_deadline() {
    let mut sim = started(5);
    assert!(sim.run_until_pred(Instant(10_000), |s| s.is_stable()));
    let leader = sim.leader().expect("stable");
    for f in (1..=3).filter(|s| *s != leader) {
        sim.act(Action::Cut {
            from: leader,
            to: f,
            both: true,
        });
    }
    let deadline = sim
        .peer(leader)
        .expect("leader runs")
        .timers()
        .iter()
        .filter(|t| matches!(t.kind, TimerKind::LearnerSyncLimit { .. }))
        .map(|t| t.deadline)
        .max()
        .expect("two learners");
    let gave_up = |s: &Sim| {
        events_of(s, leader).iter().any(|e| {
            matches!(
                e,
                TraceEvent::GaveUp {
                    reason: GiveUpReason::LostQuorum
                }
            )
        })
    };
    assert!(sim.run_until_pred(Instant(20_000), gave_up));
    assert_eq!(sim.now(), deadline, "gave up at the reported deadline");
}

/// Asking for the timers after every event leaves the run identical (same trace hash).
#[test]
fn reading_the_timers_changes_nothing() {
    let run = |read: bool| {
        let mut sim = started(9);
        let mut n = 0usize;
        while sim.now() < Instant(4_000) && sim.step() {
            if read {
                for sid in 1..=3 {
                    n += sim.peer(sid).map_or(0, |p| p.timers().len());
                }
            }
        }
        (sim.trace().hash(), n)
    };
    let (plain, _) = run(false);
    let (read, timers) = run(true);
    assert!(timers > 0);
    assert_eq!(plain, read);
}
