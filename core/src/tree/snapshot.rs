//! Snapshots of the replicated state: what SNAP sync carries and the node writes to its
//! snapshot files, with a deterministic byte encoding.
//!
//! Decoding reads bytes from files and sockets, so it never panics and never trusts a length:
//! every count is checked against the bytes left, paths must be valid and strictly ascending
//! with their parent present, and a digest trailer must match the decoded state. Two replicas
//! with the same history encode to the same bytes.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::acl::{Acl, AuthConfig, Id};
use super::path::{parent_of, validate_path};
use super::session::Session;
use super::stat::StatPersisted;
use super::{DataTree, TreeConfig};

const MAGIC: &[u8; 4] = b"ZLTS";
const VERSION: u32 = 1;

/// One znode as stored: data (null distinct from empty), ACL and persisted stat.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct NodeRecord {
    pub data: Option<Vec<u8>>,
    pub acl: Vec<Acl>,
    pub stat: StatPersisted,
}

/// The replicated state: settings, every znode by path, and the session table.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TreeSnapshot {
    pub config: TreeConfig,
    pub nodes: BTreeMap<String, NodeRecord>,
    pub sessions: BTreeMap<i64, Session>,
}

/// Why a snapshot's bytes were refused.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum SnapshotError {
    BadMagic,
    UnsupportedVersion(u32),
    /// The bytes ended inside a record.
    Truncated,
    /// Bytes left after the trailer.
    TrailingBytes,
    /// A string is not UTF-8.
    InvalidUtf8,
    /// A flag byte other than 0 or 1, or a negative length other than the null marker.
    InvalidValue,
    /// A path that is invalid, out of order, or whose parent is missing.
    InvalidPath(String),
    /// The tree has no root.
    MissingRoot,
    /// Sessions out of order.
    UnorderedSessions,
    /// The digest trailer does not match the decoded state.
    DigestMismatch {
        stored: u64,
        computed: u64,
    },
}

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnapshotError::BadMagic => write!(f, "not a ZabLab tree snapshot (bad magic)"),
            SnapshotError::UnsupportedVersion(v) => write!(f, "unsupported snapshot version {v}"),
            SnapshotError::Truncated => write!(f, "snapshot truncated"),
            SnapshotError::TrailingBytes => write!(f, "bytes after the end of the snapshot"),
            SnapshotError::InvalidUtf8 => write!(f, "a string in the snapshot is not UTF-8"),
            SnapshotError::InvalidValue => write!(f, "an invalid value in the snapshot"),
            SnapshotError::InvalidPath(p) => write!(f, "invalid or orphaned path {p:?}"),
            SnapshotError::MissingRoot => write!(f, "snapshot has no root node"),
            SnapshotError::UnorderedSessions => write!(f, "sessions out of order"),
            SnapshotError::DigestMismatch { stored, computed } => {
                write!(
                    f,
                    "digest mismatch: stored {stored:#x}, computed {computed:#x}"
                )
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for SnapshotError {}

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn i32(&mut self, v: i32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn bytes(&mut self, b: &[u8]) {
        self.u32(b.len() as u32);
        self.0.extend_from_slice(b);
    }
    fn opt_bytes(&mut self, b: Option<&[u8]>) {
        match b {
            None => self.i32(-1),
            Some(b) => {
                self.i32(b.len() as i32);
                self.0.extend_from_slice(b);
            }
        }
    }
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], SnapshotError> {
        if n > self.buf.len() {
            return Err(SnapshotError::Truncated);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], SnapshotError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, SnapshotError> {
        Ok(self.array::<1>()?[0])
    }
    fn bool(&mut self) -> Result<bool, SnapshotError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(SnapshotError::InvalidValue),
        }
    }
    fn u32(&mut self) -> Result<u32, SnapshotError> {
        Ok(u32::from_be_bytes(self.array()?))
    }
    fn i32(&mut self) -> Result<i32, SnapshotError> {
        Ok(i32::from_be_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64, SnapshotError> {
        Ok(u64::from_be_bytes(self.array()?))
    }
    fn i64(&mut self) -> Result<i64, SnapshotError> {
        Ok(i64::from_be_bytes(self.array()?))
    }
    fn bytes(&mut self) -> Result<&'a [u8], SnapshotError> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    fn string(&mut self) -> Result<String, SnapshotError> {
        let b = self.bytes()?;
        core::str::from_utf8(b)
            .map(String::from)
            .map_err(|_| SnapshotError::InvalidUtf8)
    }
    fn opt_bytes(&mut self) -> Result<Option<Vec<u8>>, SnapshotError> {
        match self.i32()? {
            -1 => Ok(None),
            n if n < 0 => Err(SnapshotError::InvalidValue),
            n => Ok(Some(self.take(n as usize)?.to_vec())),
        }
    }
    /// A count of records at least `min_record` bytes each: refused if the bytes left cannot
    /// hold them, so a hostile count never drives a huge loop or allocation.
    fn count(&mut self, min_record: usize) -> Result<usize, SnapshotError> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_record) > self.buf.len() {
            return Err(SnapshotError::Truncated);
        }
        Ok(n)
    }
}

impl TreeSnapshot {
    /// The deterministic encoding: magic, version, config, nodes in path order, sessions in id
    /// order, then the digest of the state as a trailer.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer(Vec::new());
        w.0.extend_from_slice(MAGIC);
        w.u32(VERSION);
        let c = &self.config;
        w.u8(c.extended_types as u8);
        w.u32(c.max_buffer_bytes);
        w.u64(c.tick_time_ms);
        w.u64(c.container_check_interval_ms);
        w.u8(c.auth.skip_acl as u8);
        match &c.auth.super_digest {
            None => w.u8(0),
            Some(s) => {
                w.u8(1);
                w.bytes(s.as_bytes());
            }
        }
        w.u32(self.nodes.len() as u32);
        for (p, rec) in &self.nodes {
            w.bytes(p.as_bytes());
            w.opt_bytes(rec.data.as_deref());
            w.u32(rec.acl.len() as u32);
            for a in &rec.acl {
                w.i32(a.perms);
                w.bytes(a.id.scheme.as_bytes());
                w.bytes(a.id.id.as_bytes());
            }
            let s = &rec.stat;
            for v in [s.czxid, s.mzxid, s.ctime, s.mtime] {
                w.i64(v);
            }
            for v in [s.version, s.cversion, s.aversion] {
                w.i32(v);
            }
            w.i64(s.ephemeral_owner);
            w.i64(s.pzxid);
        }
        w.u32(self.sessions.len() as u32);
        for (id, s) in &self.sessions {
            w.i64(*id);
            w.i32(s.timeout_ms);
        }
        w.u64(DataTree::from_snapshot(self).digest);
        w.0
    }

    /// `encode().len()` without building the bytes (the leader weighs its transaction log
    /// against it for every learner it syncs).
    pub fn encoded_len(&self) -> u64 {
        let bytes = |n: usize| 4 + n as u64;
        let c = &self.config;
        let mut n = MAGIC.len() as u64 + 4 + 1 + 4 + 8 + 8 + 1 + 1;
        n += c.auth.super_digest.as_ref().map_or(0, |s| bytes(s.len()));
        n += 4;
        for (p, rec) in &self.nodes {
            n += bytes(p.len()) + 4 + rec.data.as_ref().map_or(0, |d| d.len() as u64) + 4;
            for a in &rec.acl {
                n += 4 + bytes(a.id.scheme.len()) + bytes(a.id.id.len());
            }
            n += 4 * 8 + 3 * 4 + 8 + 8;
        }
        n + 4 + 12 * self.sessions.len() as u64 + 8
    }

    /// Decodes [`encode`](Self::encode)'s bytes; any malformed input is an error, never a panic.
    pub fn decode(bytes: &[u8]) -> Result<TreeSnapshot, SnapshotError> {
        let mut r = Reader { buf: bytes };
        if r.take(4)? != MAGIC {
            return Err(SnapshotError::BadMagic);
        }
        let v = r.u32()?;
        if v != VERSION {
            return Err(SnapshotError::UnsupportedVersion(v));
        }
        let extended_types = r.bool()?;
        let max_buffer_bytes = r.u32()?;
        let tick_time_ms = r.u64()?;
        let container_check_interval_ms = r.u64()?;
        let skip_acl = r.bool()?;
        let super_digest = if r.bool()? { Some(r.string()?) } else { None };
        let config = TreeConfig {
            extended_types,
            max_buffer_bytes,
            tick_time_ms,
            container_check_interval_ms,
            auth: AuthConfig {
                super_digest,
                skip_acl,
            },
        };
        let mut nodes: BTreeMap<String, NodeRecord> = BTreeMap::new();
        let n = r.count(4 + 4 + 4 + 8 * 6 + 4 * 3)?;
        for _ in 0..n {
            let p = r.string()?;
            let data = r.opt_bytes()?;
            let acl_n = r.count(4 + 4 + 4)?;
            let mut acl = Vec::new();
            for _ in 0..acl_n {
                let perms = r.i32()?;
                let scheme = r.string()?;
                let id = r.string()?;
                acl.push(Acl {
                    perms,
                    id: Id { scheme, id },
                });
            }
            let (czxid, mzxid, ctime, mtime) = (r.i64()?, r.i64()?, r.i64()?, r.i64()?);
            let (version, cversion, aversion) = (r.i32()?, r.i32()?, r.i32()?);
            let (ephemeral_owner, pzxid) = (r.i64()?, r.i64()?);
            let stat = StatPersisted {
                czxid,
                mzxid,
                ctime,
                mtime,
                version,
                cversion,
                aversion,
                ephemeral_owner,
                pzxid,
            };
            let ordered = nodes.last_key_value().is_none_or(|(last, _)| *last < p);
            let rooted = match parent_of(&p) {
                None => p == "/",
                Some(parent) => nodes.contains_key(parent),
            };
            if !ordered || !rooted || validate_path(&p).is_err() {
                return Err(SnapshotError::InvalidPath(p));
            }
            nodes.insert(p, NodeRecord { data, acl, stat });
        }
        if !nodes.contains_key("/") {
            return Err(SnapshotError::MissingRoot);
        }
        let mut sessions = BTreeMap::new();
        let n = r.count(12)?;
        for _ in 0..n {
            let id = r.i64()?;
            let timeout_ms = r.i32()?;
            if sessions
                .last_key_value()
                .is_some_and(|(last, _)| *last >= id)
            {
                return Err(SnapshotError::UnorderedSessions);
            }
            sessions.insert(id, Session { timeout_ms });
        }
        let stored = r.u64()?;
        if !r.buf.is_empty() {
            return Err(SnapshotError::TrailingBytes);
        }
        let snap = TreeSnapshot {
            config,
            nodes,
            sessions,
        };
        let computed = DataTree::from_snapshot(&snap).digest;
        if computed != stored {
            return Err(SnapshotError::DigestMismatch { stored, computed });
        }
        Ok(snap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn fresh_tree_snapshot_round_trips() {
        let t = DataTree::default();
        let s = t.to_snapshot();
        let bytes = s.encode();
        let back = TreeSnapshot::decode(&bytes).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.encode(), bytes);
        assert_eq!(DataTree::from_snapshot(&back).digest, t.digest);
    }

    #[test]
    fn encoded_len_is_the_length_of_the_encoding() {
        let mut s = DataTree::default().to_snapshot();
        assert_eq!(s.encoded_len(), s.encode().len() as u64);
        s.config.auth.super_digest = Some("super:abc=".into());
        let mut rec = s.nodes.values().next().unwrap().clone();
        rec.data = Some(alloc::vec![7; 300]);
        rec.acl = crate::tree::acl::open_acl_unsafe();
        s.nodes.insert("/a".into(), rec.clone());
        rec.data = None;
        s.nodes.insert("/a/b".into(), rec);
        s.sessions.insert(42, Session { timeout_ms: 4000 });
        assert_eq!(s.encoded_len(), s.encode().len() as u64);
    }

    #[test]
    fn decoding_garbage_returns_errors_never_panics() {
        let good = DataTree::default().to_snapshot().encode();
        assert_eq!(TreeSnapshot::decode(&[]), Err(SnapshotError::Truncated));
        assert_eq!(
            TreeSnapshot::decode(b"XXXXXXXXXXXX"),
            Err(SnapshotError::BadMagic)
        );
        let mut v2 = good.clone();
        v2[7] = 9;
        assert_eq!(
            TreeSnapshot::decode(&v2),
            Err(SnapshotError::UnsupportedVersion(9))
        );
        for cut in 0..good.len() {
            assert!(TreeSnapshot::decode(&good[..cut]).is_err(), "prefix {cut}");
        }
        let mut extra = good.clone();
        extra.push(0);
        assert_eq!(
            TreeSnapshot::decode(&extra),
            Err(SnapshotError::TrailingBytes)
        );
        let seed = 0x5eed_0001;
        let mut rng = Rng::new(seed);
        for i in 0..2000 {
            let mut b = good.clone();
            for _ in 0..rng.range(1, 4) {
                let at = rng.below(b.len() as u64) as usize;
                b[at] = rng.next_u64() as u8;
            }
            if let Ok(s) = TreeSnapshot::decode(&b) {
                // A flip that still decodes must describe a consistent state.
                assert_eq!(s.encode(), b, "seed {seed:#x} case {i}");
            }
        }
        let mut huge = Vec::from(&good[..8]);
        huge.extend_from_slice(&[0xff; 64]);
        assert!(TreeSnapshot::decode(&huge).is_err());
    }
}
