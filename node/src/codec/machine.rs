//! [`NodeMachine`]: what the node needs from a replicated state machine beyond the core's
//! [`StateMachine`]: byte codecs for transactions (quorum packets, the transaction log) and
//! snapshots (files, SNAP sync), and the few numbers the four-letter words print. What
//! serving ZooKeeper clients needs from it is the core's [`ClientMachine`] (the session
//! layer's).
//!
//! The ZooKeeper data tree implements both (`tree_machine.rs`); [`ChainMachine`] (the core's
//! test machine, a u64 per transaction) implements them and refuses clients.

use zablab_core::machine::{ChainMachine, StateMachine};
pub use zablab_core::session::ClientMachine;

use crate::codec::jute::{self, JuteError, Reader};

/// A state machine the native node can replicate.
pub trait NodeMachine:
    ClientMachine
    + StateMachine<
        Txn: Send + Sync + 'static,
        Snapshot: Send + Sync + 'static,
        Outcome: Send + 'static,
    > + Send
    + 'static
{
    /// The `type` field of the transaction header (ZooKeeper's OpCode of the txn record).
    fn txn_type(txn: &Self::Txn) -> i32;
    /// Appends the transaction record (without any header) to `out`.
    fn write_txn(txn: &Self::Txn, out: &mut Vec<u8>);
    /// Reads a transaction record written by [`NodeMachine::write_txn`]; `txn_type` is the
    /// header's type. The reader holds exactly the record's bytes.
    fn read_txn(txn_type: i32, r: &mut Reader<'_>) -> Result<Self::Txn, JuteError>;
    /// Appends the snapshot body to `out`. The encoding must be self-delimiting: on the quorum
    /// stream the SNAP packet is followed by these bytes and then `"BenWasHere"`.
    fn write_snapshot(snapshot: &Self::Snapshot, out: &mut Vec<u8>);
    /// Reads a snapshot body; `Err(JuteError::Eof)` means more bytes are needed.
    fn read_snapshot(r: &mut Reader<'_>) -> Result<Self::Snapshot, JuteError>;

    /// `Node count` / `zk_znode_count`.
    fn node_count(&self) -> u64;
    /// `zk_watch_count` (watches of this server's clients).
    fn watch_count(&self) -> u64 {
        0
    }
    /// `zk_ephemerals_count`.
    fn ephemerals_count(&self) -> u64 {
        0
    }
    /// `zk_approximate_data_size` in bytes.
    fn approximate_data_size(&self) -> u64;
    /// `zk_global_sessions`: sessions of the replicated session table.
    fn session_count(&self) -> u64 {
        0
    }
}

/// The core's test machine: each transaction is a u64 folded into a hash chain. Its txn
/// record is one `i64`; its snapshot is `i64 chain` + `vector<i64> writes`.
impl NodeMachine for ChainMachine {
    fn txn_type(_txn: &u64) -> i32 {
        // setData: the nearest ZooKeeper operation to "overwrite a value".
        5
    }

    fn write_txn(txn: &u64, out: &mut Vec<u8>) {
        jute::put_i64(out, *txn as i64);
    }

    fn read_txn(_txn_type: i32, r: &mut Reader<'_>) -> Result<u64, JuteError> {
        Ok(r.i64()? as u64)
    }

    fn write_snapshot(s: &ChainMachine, out: &mut Vec<u8>) {
        jute::put_i64(out, s.chain as i64);
        jute::put_i32(out, s.writes.len() as i32);
        for w in &s.writes {
            jute::put_i64(out, *w as i64);
        }
    }

    fn read_snapshot(r: &mut Reader<'_>) -> Result<ChainMachine, JuteError> {
        let chain = r.i64()? as u64;
        let n = r.vec_count(8)?.unwrap_or(0);
        let mut writes = Vec::with_capacity(n);
        for _ in 0..n {
            writes.push(r.i64()? as u64);
        }
        Ok(ChainMachine { chain, writes })
    }

    fn node_count(&self) -> u64 {
        self.writes.len() as u64
    }

    fn approximate_data_size(&self) -> u64 {
        8 * self.writes.len() as u64
    }
}
