//! Random fault sweeps: a seed picks the ensemble size, a schedule of faults (crashes,
//! restarts, one-way and two-way cuts, isolated servers, dropped messages, slow and lossy
//! links) and client writes to random servers. The safety invariants are checked after every
//! event; then faults stop and the liveness phase must converge.
//!
//! Disks are never wiped in a sweep: a wiped participant is amnesia, which ZAB does not
//! survive on a quorum, so "no acknowledged write is lost" would not be a fair check.

use alloc::vec::Vec;

use crate::machine::ChainMachine;
use crate::rng::Rng;
use crate::sim::invariants::{liveness, Violation};
use crate::sim::{Action, Cluster, SimConfig};
use crate::time::Instant;
use crate::zxid::Sid;

/// How a sweep seed is turned into a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SweepParams {
    /// Participants; `None` draws 3..=7 from the seed.
    pub servers: Option<u64>,
    /// Virtual milliseconds of faults before the liveness phase.
    pub fault_ms: u64,
    /// Virtual milliseconds the liveness phase may take.
    pub liveness_ms: u64,
}

impl Default for SweepParams {
    fn default() -> Self {
        SweepParams {
            servers: None,
            fault_ms: 20_000,
            liveness_ms: 60_000,
        }
    }
}

/// What one seed did.
#[derive(Clone, Debug)]
pub struct SeedReport {
    pub seed: u64,
    pub servers: u64,
    pub observers: u64,
    pub trace_hash: u64,
    pub deliveries: u64,
    pub acked_writes: usize,
    pub violation: Option<Violation>,
}

/// Whether the chain machine holds write `id`.
pub fn chain_contains(m: &ChainMachine, id: &u64) -> bool {
    m.writes.contains(id)
}

/// Runs one seed of the sweep.
pub fn run_seed(params: SweepParams, seed: u64) -> SeedReport {
    let mut cluster = seed_cluster(params, seed);
    let end = Instant(params.fault_ms);
    let _ = cluster.run_until_pred(end, |c| c.violation().is_some());
    let mut violation = cluster.violation().cloned();
    if violation.is_none() {
        violation = liveness::converge(&mut cluster, u64::MAX - seed, params.liveness_ms).err();
    }
    let acked_writes = cluster
        .requests()
        .filter(|(_, _, w, r)| w.is_some() && matches!(r, crate::sim::ClientResult::Replied { .. }))
        .count();
    SeedReport {
        seed,
        servers: cluster.config().participants,
        observers: cluster.config().observers,
        trace_hash: cluster.trace().hash(),
        deliveries: cluster.deliveries(),
        acked_writes,
        violation,
    }
}

/// The cluster of one sweep seed with its whole fault and write schedule queued, at time 0.
pub fn seed_cluster(params: SweepParams, seed: u64) -> Cluster<ChainMachine> {
    let mut rng = Rng::new(seed);
    let config = random_config(&mut rng, &params);
    let (servers, observers) = (config.participants, config.observers);
    let all: Vec<Sid> = (1..=servers + observers).collect();
    let mut cluster: Cluster<ChainMachine> = Cluster::new(config, rng.next_u64());
    cluster.set_write_check(chain_contains);

    // Some seeds are calm (a fault in 20 actions), some stormy (one in 3).
    let fault_percent = rng.range(5, 35);
    let mut next_write = 1u64;
    let mut t = 0u64;
    while t < params.fault_ms {
        t += rng.range(10, 120);
        if t >= params.fault_ms {
            break;
        }
        let at = Instant(t);
        let pick = |rng: &mut Rng| all[rng.below(all.len() as u64) as usize];
        let action = if rng.below(100) >= fault_percent {
            let id = next_write;
            next_write += 1;
            Action::Write {
                server: pick(&mut rng),
                txn: id,
            }
        } else {
            random_fault(&mut rng, &all)
        };
        cluster.schedule(at, action);
    }

    cluster
}

/// The ensemble of a sweep seed: 3–7 participants (unless given), 0–2 observers, a committed
/// log of 5–60, snapshots every 20–200 transactions, 1–8 ms links.
pub fn random_config(rng: &mut Rng, params: &SweepParams) -> SimConfig {
    let servers = params.servers.unwrap_or_else(|| rng.range(3, 7));
    let observers = rng.range(0, 2);
    SimConfig {
        participants: servers,
        observers,
        commit_log_count: rng.range(5, 60) as usize,
        snap_count: rng.range(20, 200),
        latency_ms: (1, rng.range(2, 8)),
        ..SimConfig::default()
    }
}

/// A random fault among all of the sweep's kinds except disk wipes: crash, restart, cut (one
/// way or both), heal, isolate, heal everything, drop the next message, slow and lossy link.
pub fn random_fault<T>(rng: &mut Rng, all: &[Sid]) -> Action<T> {
    let pick = |rng: &mut Rng| all[rng.below(all.len() as u64) as usize];
    let (a, b) = (pick(rng), pick(rng));
    match rng.below(30) {
        0..=5 => Action::Crash(a),
        6..=13 => Action::Restart(a),
        14..=17 => Action::Cut {
            from: a,
            to: b,
            both: rng.below(2) == 0,
        },
        18..=20 => Action::Heal {
            from: a,
            to: b,
            both: true,
        },
        21..=22 => Action::Isolate(a),
        23..=24 => Action::HealAll,
        25..=27 => Action::DropNext { from: a, to: b },
        _ => Action::SetLink {
            from: a,
            to: b,
            extra_ms: rng.range(0, 300),
            drop_per_million: rng.range(0, 200_000) as u32,
        },
    }
}

/// The command that reproduces a seed.
pub fn reproduce_command(seed: u64, params: &SweepParams) -> alloc::string::String {
    match params.servers {
        Some(n) => alloc::format!(
            "cargo run --release -p zablab-core --example sweep -- --seed {seed} --servers {n}"
        ),
        None => {
            alloc::format!("cargo run --release -p zablab-core --example sweep -- --seed {seed}")
        }
    }
}
