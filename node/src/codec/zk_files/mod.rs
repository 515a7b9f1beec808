//! Apache ZooKeeper 3.8's data files, byte for byte: `version-2/log.<zxid>` as `FileTxnLog`
//! writes it and `version-2/snapshot.<zxid>` as `FileSnap` writes it (docs/protocol.md §4).
//! With these, a data directory Apache ZooKeeper wrote can be read by ZabLab and the reverse,
//! which is how a ZooKeeper server is replaced by a ZabLab one in place.
//!
//! Like the rest of `codec/`, nothing here touches a file: callers hand in the bytes they read
//! and get back the bytes to write. Every length and count from a file is checked against the
//! bytes that are there, so a damaged or hostile file is an error, never a panic or a huge
//! allocation.
//!
//! | module | concern |
//! |---|---|
//! | [`txn_log`] | the transaction log: file header, checksummed records, the zero padding |
//! | [`snapshot`] | the snapshot: sessions, the ACL cache, every znode, the tree digest, the seals |
//! | [`digest`] | ZooKeeper's tree digest (`DigestCalculator` + `AdHash`), which a snapshot carries |

pub mod digest;
pub mod snapshot;
pub mod txn_log;

use std::fmt;

use crate::codec::jute::{put_i32, put_i64, JuteError, Reader};

/// The directory under `dataDir` (and `dataLogDir`) ZooKeeper keeps its files in.
pub const VERSION_DIR: &str = "version-2";
/// `FileHeader.version` of both file kinds.
pub const FILE_VERSION: i32 = 2;

/// Why a ZooKeeper data file was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ZkFileError {
    /// The first four bytes are not the file kind's magic ("ZKLG" or "ZKSN").
    BadMagic {
        expected: i32,
        found: i32,
    },
    UnsupportedVersion(i32),
    /// The bytes ended inside a record that must be complete (a snapshot, a header).
    Truncated,
    /// A record's bytes do not add up: lengths, counts, paths, or a missing parent.
    Malformed(String),
    /// A checksum does not match what was stored.
    ChecksumMismatch {
        what: &'static str,
        stored: u64,
        computed: u64,
    },
}

impl fmt::Display for ZkFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ZkFileError::BadMagic { expected, found } => write!(
                f,
                "not a ZooKeeper {} file (magic {found:#010x})",
                magic_name(*expected)
            ),
            ZkFileError::UnsupportedVersion(v) => write!(f, "unsupported file version {v}"),
            ZkFileError::Truncated => write!(f, "file truncated"),
            ZkFileError::Malformed(m) => write!(f, "malformed file: {m}"),
            ZkFileError::ChecksumMismatch {
                what,
                stored,
                computed,
            } => write!(
                f,
                "{what} checksum mismatch: stored {stored:#x}, computed {computed:#x}"
            ),
        }
    }
}

impl std::error::Error for ZkFileError {}

impl From<JuteError> for ZkFileError {
    fn from(e: JuteError) -> ZkFileError {
        match e {
            JuteError::Eof => ZkFileError::Truncated,
            JuteError::Malformed(m) => ZkFileError::Malformed(m),
        }
    }
}

fn magic_name(magic: i32) -> &'static str {
    match &magic.to_be_bytes() {
        b"ZKLG" => "transaction log",
        b"ZKSN" => "snapshot",
        _ => "data",
    }
}

/// `FileHeader{magic, version, dbid}`, the first 16 bytes of both file kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileHeader {
    pub magic: i32,
    pub version: i32,
    pub dbid: i64,
}

/// The header's length in bytes.
pub const FILE_HEADER_BYTES: usize = 16;

impl FileHeader {
    pub fn new(magic: &[u8; 4], dbid: i64) -> FileHeader {
        FileHeader {
            magic: i32::from_be_bytes(*magic),
            version: FILE_VERSION,
            dbid,
        }
    }

    pub fn write(&self, out: &mut Vec<u8>) {
        put_i32(out, self.magic);
        put_i32(out, self.version);
        put_i64(out, self.dbid);
    }

    /// Reads a header and checks it is `magic`'s, version 2.
    pub fn read(r: &mut Reader<'_>, magic: &[u8; 4]) -> Result<FileHeader, ZkFileError> {
        let h = FileHeader {
            magic: r.i32()?,
            version: r.i32()?,
            dbid: r.i64()?,
        };
        let expected = i32::from_be_bytes(*magic);
        if h.magic != expected {
            return Err(ZkFileError::BadMagic {
                expected,
                found: h.magic,
            });
        }
        if h.version != FILE_VERSION {
            return Err(ZkFileError::UnsupportedVersion(h.version));
        }
        Ok(h)
    }
}

/// `log.<zxid in lower-case hex>`: the file whose first record is `first_zxid`.
pub fn log_file_name(first_zxid: i64) -> String {
    format!("log.{first_zxid:x}")
}

/// `snapshot.<zxid in lower-case hex>`: the tree as of `zxid` (at least; it may be fuzzy).
pub fn snapshot_file_name(zxid: i64) -> String {
    format!("snapshot.{zxid:x}")
}

/// The zxid in a `log.` or `snapshot.` file name (`prefix` without the dot), as ZooKeeper's
/// `Util.getZxidFromName` reads it; `None` for any other name. Compressed snapshots
/// (`.gz`, `.snappy`) are not read by ZabLab and give `None`.
pub fn zxid_from_file_name(name: &str, prefix: &str) -> Option<i64> {
    let hex = name.strip_prefix(prefix)?.strip_prefix('.')?;
    if hex.is_empty() || hex.len() > 16 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    // Java's Long.parseLong: a name above i64::MAX is no zxid (not a negative one).
    u64::from_str_radix(hex, 16)
        .ok()
        .and_then(|z| i64::try_from(z).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_round_trip_as_zookeeper_spells_them() {
        assert_eq!(log_file_name(0x1_0000_0001), "log.100000001");
        assert_eq!(snapshot_file_name(0), "snapshot.0");
        assert_eq!(
            zxid_from_file_name("log.100000001", "log"),
            Some(0x1_0000_0001)
        );
        assert_eq!(
            zxid_from_file_name("snapshot.ffffffff", "snapshot"),
            Some(0xffff_ffff)
        );
        for bad in [
            "log.",
            "log.xyz",
            "logs.1",
            "log.1.gz",
            "snapshot.1",
            "log.11111111111111111",
        ] {
            assert_eq!(zxid_from_file_name(bad, "log"), None, "{bad}");
        }
        assert_eq!(zxid_from_file_name("snapshot.1f.snappy", "snapshot"), None);
        assert_eq!(zxid_from_file_name("log.8000000000000000", "log"), None);
        assert_eq!(
            zxid_from_file_name("log.7fffffffffffffff", "log"),
            Some(i64::MAX)
        );
    }

    #[test]
    fn a_header_of_the_other_kind_is_refused_by_name() {
        let mut b = Vec::new();
        FileHeader::new(b"ZKSN", -1).write(&mut b);
        let e = FileHeader::read(&mut Reader::new(&b), b"ZKLG").unwrap_err();
        assert_eq!(
            e.to_string(),
            "not a ZooKeeper transaction log file (magic 0x5a4b534e)"
        );
        let h = FileHeader::read(&mut Reader::new(&b), b"ZKSN").unwrap();
        assert_eq!((h.version, h.dbid), (2, -1));
        b[7] = 3;
        assert_eq!(
            FileHeader::read(&mut Reader::new(&b), b"ZKSN"),
            Err(ZkFileError::UnsupportedVersion(3))
        );
        assert_eq!(
            FileHeader::read(&mut Reader::new(&b[..10]), b"ZKSN"),
            Err(ZkFileError::Truncated)
        );
    }
}
