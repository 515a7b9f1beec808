//! `log.<zxid>` as ZooKeeper 3.8's `FileTxnLog` writes it:
//!
//! ```text
//! FileHeader{"ZKLG", 2, dbid 0}
//! { long adler32(txn), int len, byte[len] txn, byte 'B' }…   one record per transaction
//! 0 0 0 …                                                   preallocated zeros (64 MB steps)
//! ```
//!
//! `txn` is `TxnHeader{long clientId, int cxid, long zxid, long time, int type}` followed by the
//! transaction record of that type (CreateTxn, SetDataTxn, …) and, since ZooKeeper 3.6, a
//! `TxnDigest{int version, long treeDigest}`. This module frames records and reads their
//! headers; the records' bodies are the replicated machine's codec.
//!
//! How the end of a log is found follows ZooKeeper's `FileTxnIterator`: a record length of 0
//! (the preallocated zeros) or the end of the bytes is the clean end; a record cut short or
//! missing its 'B' is a torn tail (the crash happened mid-write), reported with the offset to
//! truncate at. A checksum that does not match, a length out of bounds or a record shorter
//! than its TxnHeader is a corrupt record, also reported with its offset ([`LogEnd::Corrupt`]):
//! ZooKeeper stops its start-up there; what to do about it is the caller's policy (the
//! server's store cuts it like a torn tail, `server/storage.rs`).
//!
//! [`write_entry`] and [`read_entry`] are the one place a [`LogEntry`] becomes a record's txn
//! bytes and back: `TxnHeader` from the entry and the machine ([`NodeMachine::txn_header`]),
//! the machine's record, and on reading an optional trailing [`TxnDigest`].

use std::ops::Range;

use zablab_core::durable::LogEntry;
use zablab_core::zxid::Zxid;

use super::{FileHeader, ZkFileError, FILE_HEADER_BYTES};
use crate::codec::jute::{adler32, put_i32, put_i64, JuteError, Reader};
use crate::codec::machine::{NodeMachine, TxnHeaderIds};

const LOG_MAGIC: &[u8; 4] = b"ZKLG";
/// `FileTxnLog`'s dbId.
const LOG_DBID: i64 = 0;
/// ZooKeeper's end-of-record marker.
const END_OF_RECORD: u8 = b'B';
/// `TxnHeader` is 32 bytes.
pub const TXN_HEADER_BYTES: usize = 32;

/// `TxnHeader`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxnHeader {
    /// The session that sent the request (0 for server-internal transactions).
    pub client_id: i64,
    pub cxid: i32,
    pub zxid: i64,
    /// The leader's clock when it prepared the transaction (ms since the epoch).
    pub time: i64,
    /// The opcode (create 1, delete 2, setData 5, …, createSession -10, closeSession -11,
    /// error -1).
    pub txn_type: i32,
}

impl TxnHeader {
    pub fn write(&self, out: &mut Vec<u8>) {
        put_i64(out, self.client_id);
        put_i32(out, self.cxid);
        put_i64(out, self.zxid);
        put_i64(out, self.time);
        put_i32(out, self.txn_type);
    }

    pub fn read(r: &mut Reader<'_>) -> Result<TxnHeader, JuteError> {
        Ok(TxnHeader {
            client_id: r.i64()?,
            cxid: r.i32()?,
            zxid: r.i64()?,
            time: r.i64()?,
            txn_type: r.i32()?,
        })
    }
}

/// `TxnDigest{int version; long treeDigest}`: the tree digest after the transaction, which
/// ZooKeeper 3.6+ appends to a record when `zookeeper.digest.enabled` (the default). Readers
/// take a record with or without one (`SerializeUtils.deserializeTxn` does the same).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxnDigest {
    pub version: i32,
    pub tree_digest: i64,
}

/// A TxnDigest is 12 bytes.
pub const TXN_DIGEST_BYTES: usize = 12;

impl TxnDigest {
    pub fn write(&self, out: &mut Vec<u8>) {
        put_i32(out, self.version);
        put_i64(out, self.tree_digest);
    }
}

/// A record's txn bytes for a log entry: `TxnHeader`, then the machine's record. No
/// `TxnDigest` follows: the digest after a transaction is known where it is applied, not
/// where it is logged (ZooKeeper's leader computes it in prep); ZooKeeper reads a record
/// without one and then skips only that record's digest check (its snapshot's digest is still
/// checked). The entry's `origin` (which server answers the client) is not stored: a replayed
/// record never answers anyone (see `server/storage.rs`).
pub fn write_entry<M: NodeMachine>(e: &LogEntry<M::Txn>, out: &mut Vec<u8>) {
    let ids = M::txn_header(&e.txn);
    TxnHeader {
        client_id: ids.client_id,
        cxid: ids.cxid,
        zxid: e.zxid.0 as i64,
        time: e.time_ms as i64,
        txn_type: ids.txn_type,
    }
    .write(out);
    M::write_txn(&e.txn, out);
}

/// Reads a record's txn bytes ([`LogRecord::txn`]) as a log entry, with the [`TxnDigest`]
/// that followed it, if any. `origin` is `None`. A record must be exactly a header, the
/// machine's record and at most one TxnDigest; anything else is malformed.
pub fn read_entry<M: NodeMachine>(
    txn: &[u8],
) -> Result<(LogEntry<M::Txn>, Option<TxnDigest>), ZkFileError> {
    let mut r = Reader::new(txn);
    let h = TxnHeader::read(&mut r)?;
    if h.zxid < 0 || h.time < 0 {
        return Err(ZkFileError::Malformed(format!(
            "TxnHeader with zxid {:#x} and time {}",
            h.zxid, h.time
        )));
    }
    let ids = TxnHeaderIds {
        client_id: h.client_id,
        cxid: h.cxid,
        txn_type: h.txn_type,
    };
    let body = r.rest();
    // Exactly the machine's record, nothing after it (whatever the machine's reader checks).
    let exact = |record: &[u8]| -> Result<M::Txn, JuteError> {
        let mut r = Reader::new(record);
        let t = M::read_txn(ids, &mut r)?;
        if !r.is_empty() {
            return crate::codec::jute::malformed(format!(
                "{} bytes after the txn record",
                r.remaining()
            ));
        }
        Ok(t)
    };
    // Try the bytes as they are (ZabLab writes no digest), then without a trailing TxnDigest
    // (what ZooKeeper writes).
    let (machine_txn, digest) = match exact(body) {
        Ok(t) => (t, None),
        Err(whole) if body.len() >= TXN_DIGEST_BYTES => {
            let (record, tail) = body.split_at(body.len() - TXN_DIGEST_BYTES);
            let mut d = Reader::new(tail);
            let digest = TxnDigest {
                version: d.i32()?,
                tree_digest: d.i64()?,
            };
            match exact(record) {
                Ok(t) => (t, Some(digest)),
                Err(_) => return Err(txn_error(&h, whole)),
            }
        }
        Err(e) => return Err(txn_error(&h, e)),
    };
    Ok((
        LogEntry {
            zxid: Zxid(h.zxid as u64),
            time_ms: h.time as u64,
            origin: None,
            txn: machine_txn,
        },
        digest,
    ))
}

fn txn_error(h: &TxnHeader, e: JuteError) -> ZkFileError {
    let why = match e {
        JuteError::Eof => "ends early".to_string(),
        JuteError::Malformed(m) => m,
    };
    ZkFileError::Malformed(format!(
        "txn {:#x} of type {} does not decode: {why}",
        h.zxid, h.txn_type
    ))
}

/// The first bytes of a new log file.
pub fn log_file_header() -> Vec<u8> {
    let mut out = Vec::with_capacity(FILE_HEADER_BYTES);
    FileHeader::new(LOG_MAGIC, LOG_DBID).write(&mut out);
    out
}

/// Appends one record framing `txn` (a TxnHeader and what follows it).
pub fn append_record(out: &mut Vec<u8>, txn: &[u8]) {
    debug_assert!(
        txn.len() >= TXN_HEADER_BYTES,
        "a record starts with its TxnHeader"
    );
    put_i64(out, adler32(txn) as i64);
    put_i32(out, txn.len() as i32);
    out.extend_from_slice(txn);
    out.push(END_OF_RECORD);
}

/// One record found in a log: its header and where its bytes are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRecord {
    pub header: TxnHeader,
    /// The whole txn (header included) within the file's bytes.
    pub txn: Range<usize>,
}

/// How the records ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogEnd {
    /// The bytes ended, or the preallocated zeros began, after a whole record.
    Clean,
    /// A record was cut short: the file's valid part ends at `at` (truncate there).
    TornTail { at: usize },
    /// The record at `at` is damaged: its checksum does not match, its length is out of
    /// bounds, or it is shorter than a TxnHeader. The records before it are whole.
    Corrupt { at: usize, why: String },
}

/// What a log file holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxnLog {
    pub header: FileHeader,
    pub records: Vec<LogRecord>,
    pub end: LogEnd,
}

/// Reads every record of a log file. `max_txn_bytes` bounds one record (ZooKeeper's
/// `jute.maxbuffer`); a longer one is a corrupt record, not read. An error is a file that is
/// no log (header: magic, version, fewer than 16 bytes).
pub fn read_log(bytes: &[u8], max_txn_bytes: usize) -> Result<TxnLog, ZkFileError> {
    let mut r = Reader::new(bytes);
    let header = FileHeader::read(&mut r, LOG_MAGIC)?;
    let mut records = Vec::new();
    let end = loop {
        let start = r.position();
        if r.is_empty() {
            break LogEnd::Clean;
        }
        let torn = LogEnd::TornTail { at: start };
        let (Ok(crc), Ok(len)) = (r.i64(), r.i32()) else {
            break if bytes[start..].iter().all(|b| *b == 0) {
                LogEnd::Clean
            } else {
                torn
            };
        };
        if len == 0 {
            break LogEnd::Clean;
        }
        if len < 0 || len as usize > max_txn_bytes {
            break LogEnd::Corrupt {
                at: start,
                why: format!("record length {len} (limit {max_txn_bytes})"),
            };
        }
        let from = r.position();
        let (Ok(txn), Ok(eor)) = (r.bytes(len as usize), r.u8()) else {
            break torn;
        };
        if eor != END_OF_RECORD {
            break torn;
        }
        let computed = adler32(txn) as u64;
        if crc as u64 != computed {
            let e = ZkFileError::ChecksumMismatch {
                what: "transaction log record",
                stored: crc as u64,
                computed,
            };
            break LogEnd::Corrupt {
                at: start,
                why: e.to_string(),
            };
        }
        let Ok(header) = TxnHeader::read(&mut Reader::new(txn)) else {
            break LogEnd::Corrupt {
                at: start,
                why: "record shorter than a TxnHeader".to_string(),
            };
        };
        records.push(LogRecord {
            header,
            txn: from..from + len as usize,
        });
    };
    Ok(TxnLog {
        header,
        records,
        end,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txn(zxid: i64, body: &[u8]) -> Vec<u8> {
        let mut t = Vec::new();
        TxnHeader {
            client_id: 0x100_0000_0000_0001,
            cxid: zxid as i32,
            zxid,
            time: 1_700_000_000_000,
            txn_type: 5,
        }
        .write(&mut t);
        t.extend_from_slice(body);
        t
    }

    fn log(n: i64) -> Vec<u8> {
        let mut out = log_file_header();
        for z in 1..=n {
            append_record(&mut out, &txn(z, b"body"));
        }
        out
    }

    /// A log entry's record is ZooKeeper's TxnHeader and the machine's record; it reads back
    /// without its origin, with or without the TxnDigest ZooKeeper appends, and anything else
    /// after the record is refused.
    #[test]
    fn entries_read_back_with_or_without_a_txn_digest() {
        use zablab_core::machine::ChainMachine;
        let e = LogEntry {
            zxid: Zxid::new(3, 9),
            time_ms: 1_700_000_000_123,
            origin: Some((2, 77)),
            txn: 0xdead_beef_u64,
        };
        let mut txn = Vec::new();
        write_entry::<ChainMachine>(&e, &mut txn);
        assert_eq!(txn.len(), TXN_HEADER_BYTES + 8);
        let h = TxnHeader::read(&mut Reader::new(&txn)).unwrap();
        assert_eq!(
            (h.zxid, h.time, h.txn_type),
            (Zxid::new(3, 9).0 as i64, e.time_ms as i64, 5)
        );
        let stored = LogEntry { origin: None, ..e };
        assert_eq!(read_entry::<ChainMachine>(&txn), Ok((stored.clone(), None)));
        let digest = TxnDigest {
            version: 2,
            tree_digest: -5,
        };
        let mut with = txn.clone();
        digest.write(&mut with);
        assert_eq!(
            read_entry::<ChainMachine>(&with),
            Ok((stored, Some(digest)))
        );
        for bad in [
            &txn[..txn.len() - 1],
            &with[..with.len() - 1],
            &[0u8; 31][..],
        ] {
            assert!(
                read_entry::<ChainMachine>(bad).is_err(),
                "{} bytes",
                bad.len()
            );
        }
        let mut extra = with.clone();
        extra.push(0);
        assert!(read_entry::<ChainMachine>(&extra).is_err());
    }

    #[test]
    fn records_read_back_with_their_headers_and_bytes() {
        let bytes = log(3);
        let l = read_log(&bytes, 1 << 20).unwrap();
        assert_eq!(l.end, LogEnd::Clean);
        assert_eq!(l.records.len(), 3);
        for (i, rec) in l.records.iter().enumerate() {
            assert_eq!(rec.header.zxid, i as i64 + 1);
            assert_eq!(&bytes[rec.txn.clone()], &txn(i as i64 + 1, b"body")[..]);
        }
    }

    #[test]
    fn preallocated_zeros_end_the_log_cleanly() {
        let mut bytes = log(2);
        bytes.resize(bytes.len() + 4096, 0);
        let l = read_log(&bytes, 1 << 20).unwrap();
        assert_eq!((l.records.len(), l.end), (2, LogEnd::Clean));
        // Fewer zeros than a record header is the same clean end.
        let mut short = log(2);
        short.extend_from_slice(&[0; 5]);
        assert_eq!(read_log(&short, 1 << 20).unwrap().end, LogEnd::Clean);
    }

    #[test]
    fn a_record_cut_anywhere_is_a_torn_tail_at_the_last_whole_record() {
        let whole = log(2);
        let first_end = read_log(&whole, 1 << 20).unwrap().records[0].txn.end + 1;
        // The first four bytes of a record are the zero high half of its checksum (Adler-32
        // is 32 bits): cut there, the tail looks like preallocated zeros, as in ZooKeeper.
        for cut in first_end + 1..first_end + 5 {
            assert_eq!(read_log(&whole[..cut], 1 << 20).unwrap().end, LogEnd::Clean);
        }
        for cut in first_end + 5..whole.len() {
            let l = read_log(&whole[..cut], 1 << 20).unwrap();
            assert_eq!(l.records.len(), 1, "cut at {cut}");
            assert_eq!(l.end, LogEnd::TornTail { at: first_end }, "cut at {cut}");
        }
        // Zeros where the end-of-record byte should be: ZooKeeper's "partial" record.
        let mut no_eor = whole.clone();
        let last = no_eor.len() - 1;
        no_eor[last] = 0;
        assert_eq!(
            read_log(&no_eor, 1 << 20).unwrap().end,
            LogEnd::TornTail { at: first_end }
        );
    }

    #[test]
    fn a_damaged_record_or_an_oversized_length_is_corrupt_at_its_offset() {
        let mut bytes = log(2);
        let first_end = read_log(&bytes, 1 << 20).unwrap().records[0].txn.end + 1;
        let body = bytes.len() - 3;
        bytes[body] ^= 1;
        let l = read_log(&bytes, 1 << 20).unwrap();
        assert_eq!(l.records.len(), 1, "the record before the damage is whole");
        match &l.end {
            LogEnd::Corrupt { at, why } => {
                assert_eq!(*at, first_end);
                assert!(why.contains("checksum mismatch"), "{why}");
            }
            other => panic!("a damaged record is corrupt, not {other:?}"),
        }
        let bytes = log(1);
        let l = read_log(&bytes, 10).unwrap();
        assert!(l.records.is_empty());
        match &l.end {
            LogEnd::Corrupt { at, why } => {
                assert_eq!(*at, FILE_HEADER_BYTES);
                assert!(why.contains("limit 10"), "{why}");
            }
            other => panic!("an oversized length is corrupt, not {other:?}"),
        }
        let e = read_log(&bytes[..10], 1 << 20).unwrap_err();
        assert_eq!(e, ZkFileError::Truncated);
    }
}
