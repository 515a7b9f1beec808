//! The fault model a cluster runs under, beyond the scripted [`crate::sim::Action`]s: slow
//! fsyncs, crash points tied to protocol events, and per-server clock rates. The sweep draws
//! one per seed (swarm testing: every seed its own mix, so some seeds hammer one window), and
//! prints it with a failing seed.
//!
//! A crash point kills a server at a protocol moment no timed fault reaches: right after a
//! persist became durable and before the peer learns it (so the send that depends on it never
//! leaves), right after a TRUNC/SNAP/NEWLEADER/… was handled, or in the middle of executing a
//! step's outputs (only the outputs before the crash happen). The server restarts by itself
//! after `restart_after_ms`.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::zxid::Sid;

/// Where a crash point fires.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CrashPoint {
    /// A persist of this kind (`PersistOp::kind`) became durable; the peer has not seen it yet.
    Persisted(&'static str),
    /// A message of this kind (`Message::kind`) was delivered and handled.
    Delivered(&'static str),
    /// The peer reported this trace event; the outputs after it in the same step are lost.
    Event(&'static str),
}

/// Every crash point the sweep may draw from.
pub const CRASH_POINTS: [CrashPoint; 19] = [
    CrashPoint::Persisted("append"),
    CrashPoint::Persisted("truncate"),
    CrashPoint::Persisted("currentEpoch"),
    CrashPoint::Persisted("acceptedEpoch"),
    CrashPoint::Persisted("install snapshot"),
    CrashPoint::Persisted("snapshot"),
    CrashPoint::Delivered("TRUNC"),
    CrashPoint::Delivered("SNAP"),
    CrashPoint::Delivered("DIFF"),
    CrashPoint::Delivered("NEWLEADER"),
    CrashPoint::Delivered("UPTODATE"),
    CrashPoint::Delivered("PROPOSAL"),
    CrashPoint::Delivered("COMMIT"),
    CrashPoint::Delivered("LEADERINFO"),
    CrashPoint::Delivered("ACKEPOCH"),
    CrashPoint::Event("Committed"),
    CrashPoint::Event("LeaderEstablished"),
    CrashPoint::Event("NewEpochAccepted"),
    CrashPoint::Event("Proposed"),
];

/// Faults that act continuously rather than at scheduled times. The default is none.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaultModel {
    /// Chance per persist request that it is a slow fsync.
    pub slow_persist_per_million: u32,
    /// How slow a slow fsync is.
    pub slow_persist_ms: (u64, u64),
    /// Armed crash points and the chance, per matching moment, that the server dies there.
    pub crash_points: Vec<(CrashPoint, u32)>,
    /// Chance per executed output that the server dies just before it (faults at any instant).
    pub crash_mid_step_per_million: u32,
    /// A server killed by a crash point restarts after a delay in this range.
    pub restart_after_ms: (u64, u64),
    /// Clock rate offsets in parts per million: a server with +50,000 runs its ticks 5% fast.
    pub clock_ppm: BTreeMap<Sid, i32>,
}

impl FaultModel {
    /// The chance armed for `point`, if any.
    pub(crate) fn crash_chance(&self, point: CrashPoint) -> Option<u32> {
        self.crash_points
            .iter()
            .find(|(p, _)| *p == point)
            .map(|(_, c)| *c)
    }

    /// True when nothing continuous is armed (the liveness phase runs calm).
    pub fn is_calm(&self) -> bool {
        self.slow_persist_per_million == 0
            && self.crash_points.is_empty()
            && self.crash_mid_step_per_million == 0
    }
}

/// A server's local clock from the simulator's: `now · (1 + ppm/10⁶)`.
#[inline]
pub(crate) fn local_time(now: u64, ppm: i32) -> u64 {
    if ppm == 0 {
        return now;
    }
    let scaled = now as i128 * (1_000_000 + ppm as i128) / 1_000_000;
    scaled.max(0) as u64
}

/// The first simulator time at which a server's local clock reads at least `local`.
#[inline]
pub(crate) fn global_time(local: u64, ppm: i32) -> u64 {
    if ppm == 0 {
        return local;
    }
    let rate = (1_000_000 + ppm as i128).max(1);
    let t = (local as i128 * 1_000_000 + rate - 1) / rate;
    let mut t = t.max(0) as u64;
    while local_time(t, ppm) < local {
        t += 1;
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_time_is_the_first_instant_the_local_clock_reaches_a_deadline() {
        for ppm in [-100_000, -1, 0, 3, 50_000, 100_000] {
            for local in [0u64, 1, 7, 999, 123_456] {
                let g = global_time(local, ppm);
                assert!(local_time(g, ppm) >= local, "ppm {ppm} local {local}");
                assert!(
                    g == 0 || local_time(g - 1, ppm) < local,
                    "ppm {ppm} local {local}"
                );
            }
        }
    }
}
