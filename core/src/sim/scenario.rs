//! What a simulated run is made of: the cluster's shape and timing ([`SimConfig`]) and a
//! script of [`Action`]s at virtual times. Lessons, shareable URLs and the sweep all describe a
//! run this way.

use alloc::vec::Vec;

use crate::config::Timing;
use crate::time::Instant;
use crate::zxid::Sid;

/// The shape of a simulated ensemble.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default))]
pub struct SimConfig {
    /// Voting servers, ids `1..=participants`.
    pub participants: u64,
    /// Observers, ids after the participants.
    pub observers: u64,
    pub timing: Timing,
    pub commit_log_count: usize,
    pub snap_count: u64,
    /// `zookeeper.snapshotSizeFactor` in percent (`None`: never DIFF from the transaction
    /// log), as [`crate::config::PeerConfig::snapshot_size_factor_percent`].
    pub snapshot_size_factor_percent: Option<u32>,
    /// One-way network latency range in ms (uniform jitter within it).
    pub latency_ms: (u64, u64),
    /// Time to make a persist request durable, in ms.
    pub disk_latency_ms: (u64, u64),
    /// Start every server at time 0 (otherwise use `Action::Start`).
    pub start_all: bool,
    /// Seeded protocol bugs every server runs with (see [`crate::mutation`]).
    pub mutations: crate::mutation::Mutations,
}

impl Default for SimConfig {
    /// Three participants with ZooKeeper's sample timing scaled down 10× (tickTime 200 ms) so
    /// timeouts take a second of virtual time, not ten.
    fn default() -> SimConfig {
        SimConfig {
            participants: 3,
            observers: 0,
            timing: Timing {
                tick_time_ms: 200,
                init_limit: 10,
                sync_limit: 5,
                ..Timing::default()
            },
            commit_log_count: 500,
            snap_count: 1000,
            snapshot_size_factor_percent: Some(33),
            latency_ms: (1, 3),
            disk_latency_ms: (1, 2),
            start_all: true,
            mutations: crate::mutation::Mutations::NONE,
        }
    }
}

/// Something done to the cluster: a fault, a repair, or a client request.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Action<T> {
    /// Start a server that has not been started yet.
    Start(Sid),
    /// Kill the process: volatile state and unpersisted writes are lost.
    Crash(Sid),
    /// Start a crashed server again from its disk.
    Restart(Sid),
    /// Erase a server's disk (it must be crashed, or it is crashed first).
    WipeDisk(Sid),
    /// Stop delivering messages from `from` to `to` (and back, if `both`).
    Cut { from: Sid, to: Sid, both: bool },
    /// Deliver again from `from` to `to` (and back, if `both`).
    Heal { from: Sid, to: Sid, both: bool },
    /// Every link up, no drops, no extra delay.
    HealAll,
    /// Isolate a server from all others (both ways).
    Isolate(Sid),
    /// Drop the next message sent from `from` to `to`.
    DropNext { from: Sid, to: Sid },
    /// Add `extra_ms` latency to the link and drop messages with probability `drop_per_million`.
    SetLink {
        from: Sid,
        to: Sid,
        extra_ms: u64,
        drop_per_million: u32,
    },
    /// Pause the process (SIGSTOP) for `ms`: it handles nothing while its timers run out, then
    /// resumes (SIGCONT) and handles everything that arrived, in order.
    Pause { server: Sid, ms: u64 },
    /// The disk completes nothing new for `ms` (a stalled fsync): later persists wait behind it.
    StallDisk { server: Sid, ms: u64 },
    /// Wipe the disk only if what it holds is redundant — every transaction it logged is on a
    /// quorum of the other voters' disks and every other voter promised at least its epoch —
    /// so the wipe cannot make ZAB lose anything (amnesia on a quorum is outside ZAB's fault
    /// model); otherwise nothing happens. Then restart it after `restart_after_ms`.
    WipeIfRedundant { server: Sid, restart_after_ms: u64 },
    /// A client connected to `server` asks for a write.
    Write { server: Sid, txn: T },
    /// A client connected to `server` asks for `sync`.
    Sync { server: Sid },
    /// A client connected to `server` asks for `reconfig` (`server` 0: whichever server
    /// leads when it happens, as a sweep cannot know that in advance). Only a leader takes
    /// one; it needs [`crate::sim::Cluster::set_reconfig_enabled`] (ZooKeeper's
    /// `reconfigEnabled`), or it is refused as disabled.
    Reconfig {
        server: Sid,
        request: crate::reconfig::ReconfigRequest,
    },
}

/// An action at a virtual time.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ScheduledAction<T> {
    pub at: Instant,
    pub action: Action<T>,
}

/// A whole run: configuration, seed and script.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Scenario<T> {
    pub config: SimConfig,
    pub seed: u64,
    pub actions: Vec<ScheduledAction<T>>,
}
