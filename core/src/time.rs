//! The core's notion of time. The host passes an [`Instant`] into every `Peer::step`; the core
//! never reads a clock. One unit is one millisecond of the host's clock: virtual in the
//! simulator, monotonic wall time in the native node. ZooKeeper's own "tick" (`tickTime`) is a
//! configured number of these milliseconds ([`crate::Timing::tick_time_ms`]).

use core::ops::Add;

/// Milliseconds on the host's clock.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct Instant(pub u64);

impl Instant {
    pub const ZERO: Instant = Instant(0);

    pub const fn as_millis(self) -> u64 {
        self.0
    }

    pub fn saturating_sub(self, earlier: Instant) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl Add<u64> for Instant {
    type Output = Instant;
    fn add(self, ms: u64) -> Instant {
        Instant(self.0.saturating_add(ms))
    }
}
