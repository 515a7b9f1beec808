//! [`NodeMachine`]: what the node needs from a replicated state machine beyond the core's
//! [`StateMachine`]: byte codecs for transactions (PROPOSAL/INFORM packets, the transaction
//! log), requests (a learner's REQUEST packet) and snapshots (files, SNAP sync), and the few
//! numbers the four-letter words print. What
//! serving ZooKeeper clients needs from it is the core's [`ClientMachine`] (the session
//! layer's).
//!
//! The ZooKeeper data tree implements both (`tree_machine.rs`); [`ChainMachine`] (the core's
//! test machine, a u64 per transaction) implements them and refuses clients.

use zablab_core::machine::{ChainMachine, StateMachine};
pub use zablab_core::session::ClientMachine;

use zablab_core::zxid::Zxid;

use crate::codec::jute::{self, JuteError, Reader};
use crate::codec::zk_files::snapshot::{decode_sealed_body, encode_sealed_body};
use crate::codec::zk_files::ZkFileError;

/// A state machine the native node can replicate.
pub trait NodeMachine:
    ClientMachine
    + StateMachine<
        Request: Send + Sync + 'static,
        Txn: Send + Sync + 'static,
        Snapshot: Send + Sync + 'static,
        Outcome: Send + 'static,
    > + Send
    + 'static
{
    /// The `TxnHeader` fields a transaction carries itself: clientId, cxid and type (zxid and
    /// time are the log entry's).
    fn txn_header(txn: &Self::Txn) -> TxnHeaderIds;
    /// Appends the transaction record (the one after the `TxnHeader`) to `out`.
    fn write_txn(txn: &Self::Txn, out: &mut Vec<u8>);
    /// Reads a transaction record written by [`NodeMachine::write_txn`] after a header with
    /// these fields. The reader holds exactly the record's bytes.
    fn read_txn(header: TxnHeaderIds, r: &mut Reader<'_>) -> Result<Self::Txn, JuteError>;
    /// The opType of a forwarded request (its opcode).
    fn request_type(request: &Self::Request) -> i32;
    /// Appends a forwarded request's record to `out`.
    fn write_request(request: &Self::Request, out: &mut Vec<u8>);
    /// Reads a request record written by [`NodeMachine::write_request`]; the reader holds
    /// exactly its bytes.
    fn read_request(request_type: i32, r: &mut Reader<'_>) -> Result<Self::Request, JuteError>;
    /// Appends the snapshot body to `out`. The encoding must be self-delimiting: on the quorum
    /// stream the SNAP packet is followed by these bytes and then `"BenWasHere"`.
    fn write_snapshot(snapshot: &Self::Snapshot, out: &mut Vec<u8>);
    /// Reads a snapshot body; `Err(JuteError::Eof)` means more bytes are needed.
    fn read_snapshot(r: &mut Reader<'_>) -> Result<Self::Snapshot, JuteError>;
    /// The bytes of the file `snapshot.<zxid>` holding `snapshot` (the state as of `zxid`),
    /// in ZooKeeper 3.8's layout (`codec::zk_files::snapshot`).
    fn write_snapshot_file(snapshot: &Self::Snapshot, zxid: Zxid) -> Vec<u8>;
    /// Reads a file [`NodeMachine::write_snapshot_file`] (or, for the data tree, Apache
    /// ZooKeeper) wrote; every seal is checked.
    fn read_snapshot_file(bytes: &[u8]) -> Result<Self::Snapshot, ZkFileError>;

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

/// `TxnHeader{clientId, cxid, type}`: the header fields that belong to the transaction (the
/// log entry holds zxid and time).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct TxnHeaderIds {
    pub client_id: i64,
    pub cxid: i32,
    pub txn_type: i32,
}

/// setData: the nearest ZooKeeper operation to the chain machine's "overwrite a value".
const CHAIN_TXN_TYPE: i32 = 5;

/// The core's test machine: each transaction (and request: prep is the identity) is a u64
/// folded into a hash chain. Its record is one `i64`; its snapshot is `i64 chain` +
/// `vector<i64> writes`.
///
/// On disk it keeps ZooKeeper's framing and only that, since it is no tree: a log record is a
/// `TxnHeader{clientId 0, cxid 0, zxid, time, type 5 (setData)}` and the `i64`; a snapshot
/// file is FileSnap's header and seal around the snapshot body above
/// ([`encode_sealed_body`]). So the store, its checksums, torn tails and purge are the same
/// code for both machines; Apache ZooKeeper reads the chain's log records (their framing) but
/// not their bodies.
impl NodeMachine for ChainMachine {
    fn txn_header(_txn: &u64) -> TxnHeaderIds {
        TxnHeaderIds {
            client_id: 0,
            cxid: 0,
            txn_type: CHAIN_TXN_TYPE,
        }
    }

    fn write_txn(txn: &u64, out: &mut Vec<u8>) {
        jute::put_i64(out, *txn as i64);
    }

    fn read_txn(_header: TxnHeaderIds, r: &mut Reader<'_>) -> Result<u64, JuteError> {
        Ok(r.i64()? as u64)
    }

    fn request_type(_request: &u64) -> i32 {
        CHAIN_TXN_TYPE
    }

    fn write_request(request: &u64, out: &mut Vec<u8>) {
        jute::put_i64(out, *request as i64);
    }

    fn read_request(_request_type: i32, r: &mut Reader<'_>) -> Result<u64, JuteError> {
        Ok(r.i64()? as u64)
    }

    fn write_snapshot(s: &ChainMachine, out: &mut Vec<u8>) {
        jute::put_i64(out, s.chain as i64);
        jute::put_i32(out, s.writes.len() as i32);
        for w in &s.writes {
            jute::put_i64(out, *w as i64);
        }
        // The applied member lists (reconfig), as their versions and reconfig words.
        jute::put_i32(out, s.configs.len() as i32);
        for (version, members) in &s.configs {
            jute::put_i64(out, version.0 as i64);
            let word = zablab_core::reconfig::chain_encode(members)
                .expect("the chain machine only applies member lists it can encode");
            jute::put_i64(out, word as i64);
        }
    }

    fn read_snapshot(r: &mut Reader<'_>) -> Result<ChainMachine, JuteError> {
        let chain = r.i64()? as u64;
        let n = r.vec_count(8)?.unwrap_or(0);
        let mut writes = Vec::with_capacity(n);
        for _ in 0..n {
            writes.push(r.i64()? as u64);
        }
        let n = r.vec_count(16)?.unwrap_or(0);
        if n > zablab_core::machine::APPLIED_CONFIGS_KEPT {
            return crate::codec::jute::malformed("more applied configs than a machine keeps");
        }
        let mut configs = Vec::with_capacity(n);
        for _ in 0..n {
            let version = zablab_core::Zxid(r.i64()? as u64);
            let Some(members) = zablab_core::reconfig::chain_decode(r.i64()? as u64) else {
                return crate::codec::jute::malformed("not a reconfig word");
            };
            configs.push((version, members));
        }
        Ok(ChainMachine {
            chain,
            writes,
            configs,
        })
    }

    fn write_snapshot_file(s: &ChainMachine, _zxid: Zxid) -> Vec<u8> {
        let mut body = Vec::new();
        Self::write_snapshot(s, &mut body);
        encode_sealed_body(&body)
    }

    fn read_snapshot_file(bytes: &[u8]) -> Result<ChainMachine, ZkFileError> {
        let mut r = Reader::new(decode_sealed_body(bytes)?);
        let s = Self::read_snapshot(&mut r)?;
        if !r.is_empty() {
            return Err(ZkFileError::Malformed(format!(
                "{} bytes after the chain snapshot",
                r.remaining()
            )));
        }
        Ok(s)
    }

    fn node_count(&self) -> u64 {
        self.writes.len() as u64
    }

    fn approximate_data_size(&self) -> u64 {
        8 * self.writes.len() as u64
    }
}
