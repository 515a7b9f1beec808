//! The simulator's trace: every send, delivery, drop, timer, persist, peer event, client reply
//! and fault, stamped with virtual time, as the [`TraceRecord`]s of the one trace format both
//! hosts write (`crate::trace::record`). The trace keeps a running hash so two runs can be
//! compared cheaply (the determinism check), and can optionally keep no records at all (the
//! benchmark) while still hashing.

use alloc::vec::Vec;
use core::hash::{Hash, Hasher};

use crate::trace::TraceRecord;

/// A word-at-a-time hash (FxHash's rotate-xor-multiply). Every integer is widened to 64 bits
/// so the same trace hashes the same on 64-bit hosts and in 32-bit WebAssembly.
struct TraceHasher(u64);

impl TraceHasher {
    #[inline]
    fn mix(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7C_C1_B7_27_22_0A_95);
    }
}

impl Hasher for TraceHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.mix(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 56));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.mix(i as u64)
    }
    fn write_u16(&mut self, i: u16) {
        self.mix(i as u64)
    }
    fn write_u32(&mut self, i: u32) {
        self.mix(i as u64)
    }
    fn write_u64(&mut self, i: u64) {
        self.mix(i)
    }
    fn write_usize(&mut self, i: usize) {
        self.mix(i as u64)
    }
    fn write_isize(&mut self, i: isize) {
        self.mix(i as i64 as u64)
    }
    fn write_i32(&mut self, i: i32) {
        self.mix(i as i64 as u64)
    }
    fn write_i64(&mut self, i: i64) {
        self.mix(i as u64)
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
        let mut h = TraceHasher(self.hash);
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
