//! The simulator's trace: every send, delivery, drop, timer, persist, peer event, client reply
//! and fault, stamped with virtual time. The trace keeps a running hash so two runs can be
//! compared cheaply (the determinism check), and can optionally keep no records at all (the
//! benchmark) while still hashing.

use alloc::borrow::Cow;
use alloc::vec::Vec;
use core::hash::{Hash, Hasher};

use crate::durable::RequestTag;
use crate::time::Instant;
use crate::trace::TraceEvent;
use crate::zxid::{Sid, Zxid};

/// One simulator event. `node` in the record is the server it happened at.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum SimEvent {
    Send {
        to: Sid,
        msg_id: u64,
        kind: Cow<'static, str>,
        arrives: Instant,
    },
    Deliver {
        from: Sid,
        msg_id: u64,
        kind: Cow<'static, str>,
    },
    /// A message lost on a cut link, to a random drop, or to a crash.
    Drop {
        from: Sid,
        to: Sid,
        msg_id: u64,
        kind: Cow<'static, str>,
        reason: Cow<'static, str>,
    },
    Timer,
    Persist {
        id: u64,
        op: Cow<'static, str>,
    },
    Persisted {
        id: u64,
    },
    Peer(TraceEvent),
    ClientRequest {
        tag: RequestTag,
        write: bool,
    },
    ClientReply {
        tag: RequestTag,
        zxid: Zxid,
    },
    ClientSyncDone {
        tag: RequestTag,
        zxid: Zxid,
    },
    ClientFailed {
        tag: RequestTag,
    },
    /// The connection to `peer` was closed or reset.
    Disconnected {
        peer: Sid,
    },
    Started,
    Crashed,
    Restarted,
    Wiped,
    LinkChanged {
        to: Sid,
        cut: bool,
        extra_ms: u64,
        drop_per_million: u32,
    },
}

/// A trace entry.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TraceRecord {
    pub time: Instant,
    pub node: Sid,
    pub event: SimEvent,
}

/// FNV-1a, 64 bit: small, deterministic on every platform.
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= *b as u64;
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01B3);
        }
    }
}

/// The trace of a run.
#[derive(Clone, Debug)]
pub struct SimTrace {
    records: Vec<TraceRecord>,
    keep: bool,
    hash: u64,
    count: u64,
}

impl SimTrace {
    pub(crate) fn new(keep: bool) -> SimTrace {
        SimTrace {
            records: Vec::new(),
            keep,
            hash: 0xCBF2_9CE4_8422_2325,
            count: 0,
        }
    }

    pub(crate) fn push(&mut self, record: TraceRecord) {
        let mut h = Fnv(self.hash);
        record.hash(&mut h);
        self.hash = h.finish();
        self.count += 1;
        if self.keep {
            self.records.push(record);
        }
    }

    /// The records kept (all of them unless the cluster was built for benchmarking).
    pub fn records(&self) -> &[TraceRecord] {
        &self.records
    }

    /// A hash of every record so far, kept or not.
    pub fn hash(&self) -> u64 {
        self.hash
    }

    /// How many records were produced.
    pub fn len(&self) -> u64 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}
