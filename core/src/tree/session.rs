//! Sessions (docs/protocol.md §3.8): the id scheme, the password generator, timeout negotiation,
//! and the leader's expiry queue.
//!
//! The session table itself is replicated (createSession/closeSession are transactions, so any
//! server can validate a reconnect by id and password). Expiry is not: only the leader tracks
//! deadlines, bucketed by tickTime as ZooKeeper's `ExpiryQueue` does, and proposes closeSession
//! when one passes. That tracking is excluded from snapshots and digests.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;

use crate::time::Instant;
use crate::zxid::Sid;

/// A session in the replicated table.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Session {
    /// The negotiated timeout.
    pub timeout_ms: i32,
}

/// The first session id of a server: `(sid << 56) | ((now_ms << 24) >>> 8)`, never
/// `Long.MIN_VALUE` (the container marker). Later sessions on that server take +1 each
/// ([`next_session_id`]).
pub fn initial_session_id(sid: Sid, now_ms: u64) -> i64 {
    let low = (now_ms << 24) >> 8;
    let id = ((sid << 56) | low) as i64;
    if id == i64::MIN {
        id.wrapping_add(1)
    } else {
        id
    }
}

/// The id after `prev` on the same server.
pub fn next_session_id(prev: i64) -> i64 {
    match prev.wrapping_add(1) {
        i64::MIN => i64::MIN + 1,
        n => n,
    }
}

/// The 16-byte password of a session: `java.util.Random(id ^ 0xB3415C00).nextBytes(16)`, so a
/// Java server would derive the same bytes (§3.8).
pub fn session_password(session_id: i64) -> [u8; 16] {
    const MULT: u64 = 0x5_DEEC_E66D;
    const MASK: u64 = (1 << 48) - 1;
    let mut seed = ((session_id ^ 0xB341_5C00) as u64 ^ MULT) & MASK;
    let mut out = [0u8; 16];
    for chunk in out.chunks_mut(4) {
        seed = (seed.wrapping_mul(MULT).wrapping_add(0xB)) & MASK;
        let mut r = (seed >> 16) as u32;
        for b in chunk.iter_mut() {
            *b = r as u8;
            r >>= 8;
        }
    }
    out
}

/// Clamps a client's requested timeout to `[2 × tickTime, 20 × tickTime]` (the defaults of
/// minSessionTimeout and maxSessionTimeout).
pub fn negotiate_timeout(requested_ms: i32, tick_time_ms: u64) -> i32 {
    let min = (2 * tick_time_ms).min(i32::MAX as u64) as i32;
    let max = (20 * tick_time_ms).min(i32::MAX as u64) as i32;
    requested_ms.clamp(min, max.max(min))
}

/// The leader's expiry queue: deadlines rounded up to the next tickTime bucket.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ExpiryTracker {
    tick_time_ms: u64,
    deadline: BTreeMap<i64, u64>,
    buckets: BTreeMap<u64, BTreeSet<i64>>,
    /// Sessions created since the last tick, whose deadline starts at the next tick.
    untracked: BTreeSet<i64>,
}

impl ExpiryTracker {
    pub fn new(tick_time_ms: u64) -> ExpiryTracker {
        ExpiryTracker {
            tick_time_ms: tick_time_ms.max(1),
            ..Default::default()
        }
    }

    fn round_up(&self, t: u64) -> u64 {
        (t / self.tick_time_ms)
            .saturating_add(1)
            .saturating_mul(self.tick_time_ms)
    }

    /// Sets a session's deadline to `now + timeout`, rounded up to the next bucket.
    pub fn touch(&mut self, session_id: i64, timeout_ms: i32, now: Instant) {
        self.untracked.remove(&session_id);
        let at = self.round_up(now.as_millis().saturating_add(timeout_ms.max(0) as u64));
        if let Some(old) = self.deadline.insert(session_id, at) {
            if let Some(b) = self.buckets.get_mut(&old) {
                b.remove(&session_id);
                if b.is_empty() {
                    self.buckets.remove(&old);
                }
            }
        }
        self.buckets.entry(at).or_default().insert(session_id);
    }

    /// Stops tracking a session (it closed).
    pub fn remove(&mut self, session_id: i64) {
        self.untracked.remove(&session_id);
        if let Some(old) = self.deadline.remove(&session_id) {
            if let Some(b) = self.buckets.get_mut(&old) {
                b.remove(&session_id);
                if b.is_empty() {
                    self.buckets.remove(&old);
                }
            }
        }
    }

    /// A session was created; the next tick gives it a deadline.
    pub fn add_untracked(&mut self, session_id: i64) {
        self.untracked.insert(session_id);
    }

    /// Drops everything (a new leader rebuilds from the session table).
    pub fn clear(&mut self) {
        self.deadline.clear();
        self.buckets.clear();
        self.untracked.clear();
    }

    /// The deadline of a session, if tracked.
    pub fn deadline_of(&self, session_id: i64) -> Option<u64> {
        self.deadline.get(&session_id).copied()
    }

    /// Starts deadlines for new sessions, then removes and returns every session whose bucket
    /// is at or before `now`.
    pub fn expire(&mut self, now: Instant, timeout_of: impl Fn(i64) -> Option<i32>) -> Vec<i64> {
        let fresh: Vec<i64> = self.untracked.iter().copied().collect();
        for s in fresh {
            match timeout_of(s) {
                Some(t) => self.touch(s, t, now),
                None => {
                    self.untracked.remove(&s);
                }
            }
        }
        let mut out = Vec::new();
        while let Some((&at, _)) = self.buckets.first_key_value() {
            if at > now.as_millis() {
                break;
            }
            if let Some(set) = self.buckets.remove(&at) {
                for s in set {
                    self.deadline.remove(&s);
                    out.push(s);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> alloc::string::String {
        b.iter().map(|x| alloc::format!("{x:02x}")).collect()
    }

    #[test]
    fn password_matches_the_jvm_test_vectors() {
        assert_eq!(
            hex(&session_password(0x1)),
            "054cc74a37327db215e702e20c73f005"
        );
        assert_eq!(
            hex(&session_password(0x10a2b3c4d5e6f7)),
            "69354dcee9cb491f519d0fee98df56ed"
        );
        // Only the low 48 bits of the seed matter: the sid byte has no effect.
        assert_eq!(
            session_password(0x1),
            session_password(0x0300_0000_0000_0001)
        );
    }

    #[test]
    fn session_ids_carry_the_sid_in_the_top_byte() {
        let id = initial_session_id(3, 1_700_000_000_000);
        assert_eq!(id >> 56, 3);
        assert!(id > 0);
        assert_eq!(next_session_id(id), id + 1);
        assert_eq!(initial_session_id(128, 0), i64::MIN + 1);
        assert_eq!(next_session_id(i64::MAX), i64::MIN + 1);
    }

    #[test]
    fn timeout_is_clamped_to_two_and_twenty_ticks() {
        assert_eq!(negotiate_timeout(1000, 2000), 4000);
        assert_eq!(negotiate_timeout(10_000, 2000), 10_000);
        assert_eq!(negotiate_timeout(1_000_000, 2000), 40_000);
        assert_eq!(negotiate_timeout(-5, 3000), 6000);
    }

    #[test]
    fn expiry_buckets_round_up_to_the_next_tick() {
        let mut e = ExpiryTracker::new(1000);
        e.touch(7, 4000, Instant(1500));
        assert_eq!(e.deadline_of(7), Some(6000));
        assert!(e.expire(Instant(5999), |_| None).is_empty());
        e.touch(7, 4000, Instant(3000)); // a touch moves it to a later bucket
        assert!(e.expire(Instant(6000), |_| None).is_empty());
        assert_eq!(e.expire(Instant(8000), |_| None), alloc::vec![7]);
        assert!(e.expire(Instant(9000), |_| None).is_empty());
        e.add_untracked(9);
        assert!(e.expire(Instant(10_000), |_| Some(2000)).is_empty());
        assert_eq!(e.deadline_of(9), Some(13_000));
    }
}
