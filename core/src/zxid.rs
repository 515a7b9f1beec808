//! Transaction ids. A zxid is `(epoch << 32) | counter` (docs/protocol.md §3.1): the high 32 bits
//! name the leader's epoch, the low 32 bits count proposals within it. Counter 0 never carries a
//! transaction; `epoch << 32` is the "new epoch" zxid that NEWLEADER and LEADERINFO carry.

use core::fmt;

/// A server id (`myid`, the `N` of `server.N`). ZooKeeper stores it as a Java long; keep it at
/// or below 127 so session ids derived from it stay positive (docs/protocol.md §3.8).
pub type Sid = u64;

/// A leader epoch (the high half of a zxid).
pub type Epoch = u32;

/// A ZooKeeper transaction id, ordered as the 64-bit number ZooKeeper compares.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct Zxid(pub u64);

impl Zxid {
    /// The zxid of an empty database.
    pub const ZERO: Zxid = Zxid(0);

    pub const fn new(epoch: Epoch, counter: u32) -> Zxid {
        Zxid(((epoch as u64) << 32) | counter as u64)
    }

    /// The first zxid of `epoch`, which no transaction carries (`epoch << 32`).
    pub const fn epoch_start(epoch: Epoch) -> Zxid {
        Zxid::new(epoch, 0)
    }

    pub const fn epoch(self) -> Epoch {
        (self.0 >> 32) as Epoch
    }

    pub const fn counter(self) -> u32 {
        self.0 as u32
    }

    /// True for `epoch << 32`: a peer synced to an epoch that has not received a transaction in it.
    pub const fn is_new_epoch(self) -> bool {
        self.counter() == 0
    }

    /// The next zxid in the same epoch, or `None` at counter rollover (the leader must then
    /// step down and force a new election, as ZooKeeper does).
    pub fn next(self) -> Option<Zxid> {
        self.counter()
            .checked_add(1)
            .filter(|c| *c != u32::MAX)
            .map(|c| Zxid::new(self.epoch(), c))
    }
}

/// Printed as `epoch:counter` (hex would hide the epoch from students), e.g. `2:5`.
impl fmt::Display for Zxid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.epoch(), self.counter())
    }
}

impl fmt::Debug for Zxid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:x}({})", self.0, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zxid_packs_epoch_in_high_half_and_counter_in_low_half() {
        let z = Zxid::new(3, 124);
        assert_eq!(z.0, (3u64 << 32) | 124);
        assert_eq!((z.epoch(), z.counter()), (3, 124));
        assert!(Zxid::new(2, u32::MAX - 1) < Zxid::new(3, 0));
        assert!(Zxid::epoch_start(4).is_new_epoch());
        assert_eq!(alloc::format!("{z}"), "3:124");
    }

    #[test]
    fn next_refuses_to_roll_the_counter_over() {
        assert_eq!(Zxid::new(1, 1).next(), Some(Zxid::new(1, 2)));
        assert_eq!(Zxid::new(1, u32::MAX - 1).next(), None);
    }
}
