//! Helpers shared by the walkthrough tests.
#![allow(dead_code)]

use zablab_core::machine::ChainMachine;
use zablab_core::sim::{Cluster, HostEvent, SimConfig, TraceRecord};
use zablab_core::{DurableState, LogEntry, TraceEvent, Zxid};

pub type Sim = Cluster<ChainMachine>;

/// A disk holding transactions `epoch:1 ..= epoch:last` with currentEpoch/acceptedEpoch `epoch`.
pub fn disk(epoch: u32, last: u32) -> DurableState<u64, ChainMachine> {
    let log = (1..=last)
        .map(|c| LogEntry {
            zxid: Zxid::new(epoch, c),
            time_ms: 0,
            origin: None,
            txn: c as u64,
        })
        .collect();
    DurableState {
        accepted_epoch: epoch,
        current_epoch: epoch,
        snapshot: None,
        log,
    }
}

pub fn config(participants: u64, observers: u64) -> SimConfig {
    SimConfig {
        participants,
        observers,
        start_all: false,
        ..SimConfig::default()
    }
}

/// Peer trace events of one server, in order.
pub fn events_of(sim: &Sim, sid: u64) -> Vec<TraceEvent> {
    sim.trace()
        .records()
        .iter()
        .filter(|r| r.node == sid)
        .filter_map(|r| match &r.event {
            HostEvent::Peer(e) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

/// Messages of a kind sent from one server to another.
pub fn sent(sim: &Sim, from: u64, to: u64, kind: &str) -> usize {
    sim.trace()
        .records()
        .iter()
        .filter(|r: &&TraceRecord| {
            r.node == from && matches!(&r.event, HostEvent::Send { to: t, kind: k, .. } if *t == to && k == kind)
        })
        .count()
}

pub fn assert_no_violation(sim: &Sim) {
    if let Some(v) = sim.violation() {
        panic!("invariant violated: {v}");
    }
}

/// Runs until one leader is in broadcast and every running server follows it (10 s at most).
pub fn stable(sim: &mut Sim) -> u64 {
    let limit = sim.now() + 10_000;
    assert!(
        sim.run_until_pred(limit, |s| s.is_stable()),
        "no stable leader"
    );
    sim.leader().unwrap()
}
