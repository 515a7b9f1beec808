//! Random fault sweeps (swarm testing): a seed picks the ensemble, its own fault profile —
//! which kinds of fault, how often, how slow the disks and links, which crash points are armed,
//! whose clock runs fast or slow — and a schedule of faults and client writes to random
//! servers. The safety invariants are checked after every event; then faults stop and the
//! liveness phase must converge.
//!
//! Disk wipes are drawn like any fault but executed only when the wiped server's data is
//! redundant ([`Action::WipeIfRedundant`]): a wiped participant is amnesia, which ZAB does not
//! survive when a quorum depended on it, so "no acknowledged write is lost" would not be a fair
//! check otherwise.

use alloc::vec::Vec;

use alloc::string::String;

use crate::machine::ChainMachine;
use crate::mutation::Mutations;
use crate::rng::Rng;
use crate::sim::fault_model::{FaultModel, CRASH_POINTS};
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
    /// Seeded protocol bugs to run with (the mutation check).
    pub mutations: Mutations,
    /// Also schedule reconfigs (`reconfigEnabled` on): see [`schedule_reconfigs`]. Off by
    /// default, and drawn from a separate stream, so every seed without it runs as before.
    pub reconfig: bool,
}

impl Default for SweepParams {
    fn default() -> Self {
        SweepParams {
            servers: None,
            fault_ms: 20_000,
            // Twice ZooKeeper's maxNotificationInterval (60 s): a server that backed off to it
            // during the faults may take that long to send its next vote after the heal.
            liveness_ms: 120_000,
            mutations: Mutations::NONE,
            reconfig: false,
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
    /// The seed's fault profile, printed with a failing seed.
    pub profile: String,
}

/// Whether the chain machine holds write `id`.
pub fn chain_contains(m: &ChainMachine, id: &u64) -> bool {
    m.writes.contains(id)
}

/// Runs one seed of the sweep.
pub fn run_seed(params: SweepParams, seed: u64) -> SeedReport {
    let (mut cluster, profile) = seed_cluster(params, seed);
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
        profile: alloc::format!("{profile}"),
    }
}

/// The cluster of one sweep seed with its fault model set and its whole fault and write
/// schedule queued, at time 0, and the profile it was drawn from.
pub fn seed_cluster(params: SweepParams, seed: u64) -> (Cluster<ChainMachine>, SwarmProfile) {
    let mut rng = Rng::new(seed);
    let config = random_config(&mut rng, &params);
    let (servers, observers) = (config.participants, config.observers);
    let all: Vec<Sid> = (1..=servers + observers).collect();
    let mut cluster: Cluster<ChainMachine> = Cluster::new(config, rng.next_u64());
    cluster.set_write_check(chain_contains);
    let mut profile = SwarmProfile::draw(&mut rng, &all);
    if params.reconfig {
        profile.weights[11] = 0;
    }
    cluster.set_fault_model(profile.model.clone());

    let mut next_write = 1u64;
    let mut t = 0u64;
    while t < params.fault_ms {
        t += rng.range(profile.gap_ms.0, profile.gap_ms.1);
        if t >= params.fault_ms {
            break;
        }
        let at = Instant(t);
        let pick = |rng: &mut Rng| all[rng.below(all.len() as u64) as usize];
        let action = if rng.below(100) >= profile.fault_percent {
            let id = next_write;
            next_write += 1;
            Action::Write {
                server: pick(&mut rng),
                txn: id,
            }
        } else {
            profile.fault(&mut rng, &all)
        };
        cluster.schedule(at, action);
    }
    if params.reconfig {
        schedule_reconfigs(&mut cluster, seed, &all, params.fault_ms);
    }

    (cluster, profile)
}

/// Reconfigs for a sweep seed, from their own random stream (so the fault and write
/// schedule is the seed's usual one): every 0.5–4 s the current leader is asked to change
/// one server's role (incremental) or to take a whole new member list of the same servers
/// (non-incremental, now and then with a `fromConfig` that is likely stale). Servers keep
/// their ids and stay members, so the liveness phase can still expect every one of them in
/// broadcast; the leader's own checks (one at a time, a synced quorum of the new list)
/// refuse what cannot go ahead. Disk wipes are off: a wiped server restarts with the member
/// list it was started with, which a reconfig may have made wrong (outside ZAB's model).
pub fn schedule_reconfigs(
    cluster: &mut Cluster<ChainMachine>,
    seed: u64,
    all: &[Sid],
    fault_ms: u64,
) {
    use crate::config::LearnerType;
    use crate::reconfig::ReconfigRequest;
    cluster.set_reconfig_enabled(true);
    let mut rng = Rng::new(seed ^ 0x5EC0_4F16_0000_0013);
    let role = |rng: &mut Rng| {
        if rng.below(3) == 0 {
            LearnerType::Observer
        } else {
            LearnerType::Participant
        }
    };
    let mut t = 0u64;
    loop {
        t += rng.range(500, 4_000);
        if t >= fault_ms {
            break;
        }
        let request = if rng.below(3) == 0 {
            ReconfigRequest {
                new_members: Some(all.iter().map(|s| (*s, role(&mut rng))).collect()),
                from_config: (rng.below(4) == 0).then(|| crate::zxid::Zxid(rng.next_u64() % 4)),
                ..Default::default()
            }
        } else {
            let sid = all[rng.below(all.len() as u64) as usize];
            ReconfigRequest {
                joining: alloc::vec![(sid, role(&mut rng))],
                ..Default::default()
            }
        };
        cluster.schedule(Instant(t), Action::Reconfig { server: 0, request });
    }
}

/// The ensemble of a sweep seed: 3–7 participants (unless given), 0–2 observers, a committed
/// log of 5–60, snapshots every 20–200 transactions, a snapshotSizeFactor of 0.33, 1 or
/// none, 1–8 ms links, 1–18 ms disks.
pub fn random_config(rng: &mut Rng, params: &SweepParams) -> SimConfig {
    let servers = params.servers.unwrap_or_else(|| rng.range(3, 7));
    let observers = rng.range(0, 2);
    let disk_lo = rng.range(1, 3);
    SimConfig {
        participants: servers,
        observers,
        commit_log_count: rng.range(5, 60) as usize,
        snap_count: rng.range(20, 200),
        latency_ms: (1, rng.range(2, 8)),
        disk_latency_ms: (disk_lo, disk_lo + rng.range(0, 15)),
        // Mostly ZooKeeper's 0.33; sometimes the whole log may be sent, sometimes none of it.
        snapshot_size_factor_percent: match rng.below(4) {
            0 => None,
            1 => Some(100),
            _ => Some(33),
        },
        mutations: params.mutations,
        ..SimConfig::default()
    }
}

/// The kinds of scheduled fault a profile weighs.
const FAULT_KINDS: [&str; 12] = [
    "crash",
    "restart",
    "cut one way",
    "cut both ways",
    "heal",
    "isolate",
    "heal all",
    "drop next",
    "slow/lossy link",
    "pause",
    "stall disk",
    "wipe",
];

/// One seed's fault profile (swarm testing): which faults, how often, how bad.
#[derive(Clone, Debug)]
pub struct SwarmProfile {
    /// Percent of scheduled actions that are faults (the rest are client writes).
    pub fault_percent: u64,
    /// Time between two scheduled actions (uniform; 0 puts two at the same instant).
    pub gap_ms: (u64, u64),
    /// Relative weight of each of [`FAULT_KINDS`] (0: never in this seed).
    pub weights: [u64; 12],
    /// Extra link delay of a slow link, up to this.
    pub max_link_delay_ms: u64,
    pub pause_ms: (u64, u64),
    pub stall_ms: (u64, u64),
    /// The continuous faults: slow fsyncs, crash points, clock rates.
    pub model: FaultModel,
}

impl SwarmProfile {
    /// Draws a profile. About one seed in five is calm (the old sweep's mix), so plain
    /// protocol runs stay covered too.
    pub fn draw(rng: &mut Rng, all: &[Sid]) -> SwarmProfile {
        let calm = rng.below(5) == 0;
        let mut weights = [6, 8, 2, 2, 3, 2, 2, 3, 2, 0, 0, 0];
        if !calm {
            for w in weights.iter_mut() {
                *w = if rng.below(4) == 0 {
                    0
                } else {
                    rng.range(1, 10)
                };
            }
            // Restarts are what brings crashed servers back: never leave them out.
            weights[1] = weights[1].max(weights[0]).max(1);
        }
        let mut model = FaultModel::default();
        if !calm {
            if rng.below(2) == 0 {
                model.slow_persist_per_million = rng.range(1_000, 100_000) as u32;
                let lo = rng.range(50, 300);
                model.slow_persist_ms = (lo, rng.range(lo, 1_000));
            }
            let armed = rng.range(0, 4);
            for _ in 0..armed {
                let point = CRASH_POINTS[rng.below(CRASH_POINTS.len() as u64) as usize];
                if model.crash_chance(point).is_none() {
                    model
                        .crash_points
                        .push((point, rng.range(20_000, 300_000) as u32));
                }
            }
            if rng.below(4) == 0 {
                model.crash_mid_step_per_million = rng.range(100, 3_000) as u32;
            }
            model.restart_after_ms = (0, rng.range(0, 2_000));
            if rng.below(3) == 0 {
                for &sid in all {
                    if rng.below(2) == 0 {
                        let ppm = rng.range(0, 200_000) as i32 - 100_000;
                        model.clock_ppm.insert(sid, ppm);
                    }
                }
            }
        }
        let gap_hi = rng.range(20, 240);
        SwarmProfile {
            fault_percent: rng.range(5, 35),
            gap_ms: (if calm { 10 } else { 0 }, gap_hi),
            weights,
            max_link_delay_ms: if calm { 300 } else { rng.range(300, 3_000) },
            pause_ms: (200, rng.range(500, 5_000)),
            stall_ms: (50, rng.range(100, 3_000)),
            model,
        }
    }

    /// A random scheduled fault of this profile.
    pub fn fault<T>(&self, rng: &mut Rng, all: &[Sid]) -> Action<T> {
        let pick = |rng: &mut Rng| all[rng.below(all.len() as u64) as usize];
        let (a, b) = (pick(rng), pick(rng));
        let total: u64 = self.weights.iter().sum();
        let mut x = rng.below(total.max(1));
        let mut kind = 0;
        for (i, w) in self.weights.iter().enumerate() {
            if x < *w {
                kind = i;
                break;
            }
            x -= *w;
        }
        match kind {
            0 => Action::Crash(a),
            1 => Action::Restart(a),
            2 => Action::Cut {
                from: a,
                to: b,
                both: false,
            },
            3 => Action::Cut {
                from: a,
                to: b,
                both: true,
            },
            4 => Action::Heal {
                from: a,
                to: b,
                both: true,
            },
            5 => Action::Isolate(a),
            6 => Action::HealAll,
            7 => Action::DropNext { from: a, to: b },
            8 => Action::SetLink {
                from: a,
                to: b,
                extra_ms: rng.range(0, self.max_link_delay_ms),
                drop_per_million: rng.range(0, 200_000) as u32,
            },
            9 => Action::Pause {
                server: a,
                ms: rng.range(self.pause_ms.0, self.pause_ms.1),
            },
            10 => Action::StallDisk {
                server: a,
                ms: rng.range(self.stall_ms.0, self.stall_ms.1),
            },
            _ => Action::WipeIfRedundant {
                server: a,
                restart_after_ms: rng.range(0, 2_000),
            },
        }
    }
}

impl core::fmt::Display for SwarmProfile {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "faults {}% of actions, every {}..{} ms; weights",
            self.fault_percent, self.gap_ms.0, self.gap_ms.1
        )?;
        for (name, w) in FAULT_KINDS.iter().zip(self.weights) {
            if w > 0 {
                write!(f, " {name}={w}")?;
            }
        }
        write!(
            f,
            "; links up to +{} ms; pauses {}..{} ms; disk stalls {}..{} ms",
            self.max_link_delay_ms,
            self.pause_ms.0,
            self.pause_ms.1,
            self.stall_ms.0,
            self.stall_ms.1
        )?;
        let m = &self.model;
        if m.slow_persist_per_million > 0 {
            write!(
                f,
                "; slow fsyncs {}/M of {}..{} ms",
                m.slow_persist_per_million, m.slow_persist_ms.0, m.slow_persist_ms.1
            )?;
        }
        for (p, c) in &m.crash_points {
            write!(f, "; crash point {p:?} {c}/M")?;
        }
        if m.crash_mid_step_per_million > 0 {
            write!(f, "; crash mid-step {}/M", m.crash_mid_step_per_million)?;
        }
        if !m.crash_points.is_empty() || m.crash_mid_step_per_million > 0 {
            write!(f, "; restart after 0..{} ms", m.restart_after_ms.1)?;
        }
        if !m.clock_ppm.is_empty() {
            write!(f, "; clock ppm {:?}", m.clock_ppm)?;
        }
        Ok(())
    }
}

/// A random fault of the calm profile (the first sweep's mix, no pauses, stalls or wipes).
pub fn random_fault<T>(rng: &mut Rng, all: &[Sid]) -> Action<T> {
    let calm = SwarmProfile {
        fault_percent: 20,
        gap_ms: (10, 120),
        weights: [6, 8, 2, 2, 3, 2, 2, 3, 2, 0, 0, 0],
        max_link_delay_ms: 300,
        pause_ms: (0, 0),
        stall_ms: (0, 0),
        model: FaultModel::default(),
    };
    calm.fault(rng, all)
}

/// The command that reproduces a seed.
pub fn reproduce_command(seed: u64, params: &SweepParams) -> String {
    let servers = match params.servers {
        Some(n) => alloc::format!(" --servers {n}"),
        None => String::new(),
    };
    let mutations: String = crate::mutation::Mutation::ALL
        .into_iter()
        .filter(|m| params.mutations.contains(*m))
        .map(|m| alloc::format!(" --mutation {}", m.name()))
        .collect();
    let reconfig = if params.reconfig { " --reconfig" } else { "" };
    let features = if mutations.is_empty() {
        ""
    } else {
        " --features mutations"
    };
    alloc::format!(
        "cargo run --release -p zablab-core{features} --example sweep -- --seed {seed}{servers}{mutations}{reconfig}"
    )
}
