//! Per-link network state. Links are directed: a cut from 1 to 2 still lets 2 reach 1.
//! Delivery on a link is FIFO, as over TCP, which ZAB assumes.

use crate::time::Instant;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct LinkState {
    /// Messages sent while cut are lost.
    pub cut: bool,
    /// Added to the base latency.
    pub extra_ms: u64,
    /// Probability of losing each message, per million.
    pub drop_per_million: u32,
    /// Drop exactly the next message.
    pub drop_next: bool,
}

/// A link's state plus the time its last message arrives (to keep FIFO order under jitter).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Link {
    pub state: LinkState,
    pub last_arrival: Instant,
}
