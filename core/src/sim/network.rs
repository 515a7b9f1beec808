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

/// Every directed link of an ensemble whose ids are `1..=n`, in one flat table.
#[derive(Clone, Debug)]
pub(crate) struct Links {
    n: u64,
    table: alloc::vec::Vec<Link>,
}

impl Links {
    pub fn new(n: u64) -> Links {
        Links {
            n,
            table: alloc::vec![Link::default(); (n * n) as usize],
        }
    }

    fn index(&self, from: u64, to: u64) -> Option<usize> {
        (from >= 1 && to >= 1 && from <= self.n && to <= self.n)
            .then(|| ((from - 1) * self.n + (to - 1)) as usize)
    }

    pub fn get(&self, from: u64, to: u64) -> Option<&Link> {
        self.index(from, to).map(|i| &self.table[i])
    }

    pub fn get_mut(&mut self, from: u64, to: u64) -> Option<&mut Link> {
        self.index(from, to).map(|i| &mut self.table[i])
    }

    /// (from, to, link) for every link.
    pub fn iter(&self) -> impl Iterator<Item = (u64, u64, &Link)> {
        let n = self.n;
        self.table
            .iter()
            .enumerate()
            .map(move |(i, l)| (i as u64 / n + 1, i as u64 % n + 1, l))
    }
}
