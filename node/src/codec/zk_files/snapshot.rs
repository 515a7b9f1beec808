//! `snapshot.<zxid>` as ZooKeeper 3.8's `FileSnap` writes it (uncompressed, the default
//! `zookeeper.snapshot.compression.method`):
//!
//! ```text
//! FileHeader{"ZKSN", 2, dbid -1}
//! int count, count × {long sessionId, int timeout}
//! int n, n × {long aclId, vector<ACL>}             the ACL cache; -1 means OPEN_ACL_UNSAFE
//! {ustring path, DataNode{buffer data, long aclId, StatPersisted}}…  the root as "", parents first
//! ustring "/"                                        end of the nodes
//! long adler32-so-far, ustring "/"                   the seal
//! ZxidDigest{long zxid, int version, long digest}    ZooKeeper 3.6+ (zookeeper.digest.enabled)
//! long adler32-so-far, ustring "/"                   a second seal over everything before it
//! ```
//!
//! ZooKeeper 3.9 adds `long lastProcessedZxid` and a third seal; it is read (and ignored)
//! when present, never written, so the files stay readable by 3.8.

use std::collections::BTreeMap;

use zablab_core::tree::path::{parent_of, validate_path};
use zablab_core::tree::{Acl, NodeRecord, Session, StatPersisted, TreeConfig, TreeSnapshot};

use super::digest::{tree_digest, DIGEST_VERSION};
use super::{FileHeader, ZkFileError};
use crate::codec::jute::{adler32, put_buffer, put_i32, put_i64, put_ustring, Reader};
use crate::codec::proto::{put_acls, read_acls};

const SNAP_MAGIC: &[u8; 4] = b"ZKSN";
/// `FileSnap`'s dbId.
const SNAP_DBID: i64 = -1;
/// `ReferenceCountedACLCache.OPEN_UNSAFE_ACL_ID`.
const OPEN_UNSAFE_ACL_ID: i64 = -1;
/// StatPersisted: 6 longs and 3 ints.
const STAT_PERSISTED_BYTES: usize = 60;

/// `DataTree.ZxidDigest`: the tree digest as of `zxid`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZxidDigest {
    pub zxid: i64,
    pub digest_version: i32,
    pub digest: i64,
}

/// A ZooKeeper snapshot's content, with ZabLab's paths (the root is "/").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZkSnapshot {
    /// Session id → negotiated timeout (ms).
    pub sessions: BTreeMap<i64, i32>,
    pub nodes: BTreeMap<String, NodeRecord>,
    /// Absent in snapshots written with the digest disabled (or before ZooKeeper 3.6).
    pub digest: Option<ZxidDigest>,
}

impl ZkSnapshot {
    /// The tree as of `zxid` (the file's name), with the digest ZooKeeper would record.
    pub fn from_tree(tree: &TreeSnapshot, zxid: i64) -> ZkSnapshot {
        ZkSnapshot {
            sessions: tree
                .sessions
                .iter()
                .map(|(id, s)| (*id, s.timeout_ms))
                .collect(),
            nodes: tree.nodes.clone(),
            digest: Some(ZxidDigest {
                zxid,
                digest_version: DIGEST_VERSION,
                digest: tree_digest(&tree.nodes),
            }),
        }
    }

    /// The tree this snapshot holds; ZooKeeper's files do not carry ZabLab's settings.
    pub fn into_tree(self, config: TreeConfig) -> TreeSnapshot {
        TreeSnapshot {
            config,
            nodes: self.nodes,
            sessions: self
                .sessions
                .into_iter()
                .map(|(id, timeout_ms)| (id, Session { timeout_ms }))
                .collect(),
        }
    }

    /// The digest of the nodes as read, to compare with [`ZkSnapshot::digest`].
    pub fn computed_digest(&self) -> i64 {
        tree_digest(&self.nodes)
    }

    /// The file's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        FileHeader::new(SNAP_MAGIC, SNAP_DBID).write(&mut out);
        put_i32(&mut out, self.sessions.len() as i32);
        for (id, timeout) in &self.sessions {
            put_i64(&mut out, *id);
            put_i32(&mut out, *timeout);
        }
        // The ACL cache: every distinct list once, numbered from 1 as ZooKeeper numbers them;
        // the open ACL is -1, which every ZooKeeper reads without a cache entry.
        let open = zablab_core::tree::acl::open_acl_unsafe();
        let mut cache: BTreeMap<&[Acl], i64> = BTreeMap::new();
        let mut lists: Vec<&[Acl]> = Vec::new();
        for rec in self.nodes.values() {
            if rec.acl != open && !cache.contains_key(rec.acl.as_slice()) {
                lists.push(&rec.acl);
                cache.insert(&rec.acl, lists.len() as i64);
            }
        }
        put_i32(&mut out, lists.len() as i32);
        for (i, acl) in lists.iter().enumerate() {
            put_i64(&mut out, i as i64 + 1);
            put_acls(&mut out, acl);
        }
        // A BTreeMap of paths lists every parent before its children, as ZooKeeper's reader
        // needs; the root goes first, under "".
        for (path, rec) in &self.nodes {
            let name = if path == "/" { "" } else { path.as_str() };
            put_ustring(&mut out, Some(name));
            put_buffer(&mut out, rec.data.as_deref());
            let id = if rec.acl == open {
                OPEN_UNSAFE_ACL_ID
            } else {
                cache[rec.acl.as_slice()]
            };
            put_i64(&mut out, id);
            put_stat_persisted(&mut out, &rec.stat);
        }
        put_ustring(&mut out, Some("/"));
        seal(&mut out);
        if let Some(d) = &self.digest {
            put_i64(&mut out, d.zxid);
            put_i32(&mut out, d.digest_version);
            put_i64(&mut out, d.digest);
            seal(&mut out);
        }
        out
    }

    /// Reads a snapshot file. Every seal is checked; a node whose parent is missing, an
    /// unknown ACL id or bytes after the last seal are refused.
    pub fn decode(bytes: &[u8]) -> Result<ZkSnapshot, ZkFileError> {
        let mut r = Reader::new(bytes);
        FileHeader::read(&mut r, SNAP_MAGIC)?;
        let n = checked_count(&mut r, 12, "session")?;
        let mut sessions = BTreeMap::new();
        for _ in 0..n {
            let id = r.i64()?;
            let timeout = r.i32()?;
            if sessions.insert(id, timeout).is_some() {
                return malformed(format!("session {id:#x} listed twice"));
            }
        }
        let n = checked_count(&mut r, 12, "ACL cache entry")?;
        let mut cache: BTreeMap<i64, Vec<Acl>> = BTreeMap::new();
        for _ in 0..n {
            let id = r.i64()?;
            let acl = read_acls(&mut r)?;
            if cache.insert(id, acl).is_some() {
                return malformed(format!("ACL id {id} listed twice"));
            }
        }
        let mut nodes = BTreeMap::new();
        loop {
            let path = r.ustring()?.unwrap_or_default();
            if path == "/" {
                break;
            }
            let data = r.buffer()?.map(<[u8]>::to_vec);
            let acl_id = r.i64()?;
            let stat = read_stat_persisted(&mut r)?;
            let acl = match acl_id {
                OPEN_UNSAFE_ACL_ID => zablab_core::tree::acl::open_acl_unsafe(),
                id => match cache.get(&id) {
                    Some(acl) => acl.clone(),
                    None => {
                        return malformed(format!(
                            "{path:?} refers to ACL id {id}, not in the cache"
                        ))
                    }
                },
            };
            let path = if path.is_empty() {
                if !nodes.is_empty() {
                    return malformed("the root is not the first node");
                }
                String::from("/")
            } else {
                if validate_path(&path).is_err() {
                    return malformed(format!("invalid path {path:?}"));
                }
                match parent_of(&path) {
                    Some(parent) if nodes.contains_key(parent) => {}
                    _ => return malformed(format!("{path:?} comes before its parent")),
                }
                path
            };
            if nodes.contains_key(&path) {
                return malformed(format!("{path:?} listed twice"));
            }
            nodes.insert(path, NodeRecord { data, acl, stat });
        }
        if !nodes.contains_key("/") {
            return malformed("no root node");
        }
        check_seal(&mut r, bytes)?;
        let mut digest = None;
        if !r.is_empty() {
            let zxid = r.i64()?;
            let digest_version = r.i32()?;
            let value = if digest_version < 2 {
                // Version 1 wrote the digest as a hex string.
                let text = r.ustring()?.unwrap_or_default();
                u64::from_str_radix(&text, 16)
                    .map_err(|_| ZkFileError::Malformed(format!("digest {text:?} is not hex")))?
                    as i64
            } else {
                r.i64()?
            };
            check_seal(&mut r, bytes)?;
            digest = Some(ZxidDigest {
                zxid,
                digest_version,
                digest: value,
            });
        }
        if !r.is_empty() {
            // ZooKeeper 3.9's lastProcessedZxid, sealed like the rest.
            r.i64()?;
            check_seal(&mut r, bytes)?;
        }
        if !r.is_empty() {
            return malformed(format!("{} bytes after the last seal", r.remaining()));
        }
        Ok(ZkSnapshot {
            sessions,
            nodes,
            digest,
        })
    }
}

/// A `snapshot.<zxid>` file around a body that is not a ZooKeeper tree (the protocol tests'
/// `ChainMachine`): FileSnap's header and seal, the body where FileSnap writes the sessions
/// and the DataTree. ZooKeeper cannot load such a file; ZabLab's store reads it as it reads a
/// tree's (the header, the seal, then the machine's body).
pub fn encode_sealed_body(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 32);
    FileHeader::new(SNAP_MAGIC, SNAP_DBID).write(&mut out);
    out.extend_from_slice(body);
    seal(&mut out);
    out
}

/// The body of a file [`encode_sealed_body`] wrote, once its header and seal are checked.
pub fn decode_sealed_body(bytes: &[u8]) -> Result<&[u8], ZkFileError> {
    const SEAL_BYTES: usize = 8 + 4 + 1;
    FileHeader::read(&mut Reader::new(bytes), SNAP_MAGIC)?;
    let Some(sealed) = bytes.len().checked_sub(SEAL_BYTES) else {
        return Err(ZkFileError::Truncated);
    };
    if sealed < super::FILE_HEADER_BYTES {
        return Err(ZkFileError::Truncated);
    }
    let mut r = Reader::new(bytes);
    r.bytes(sealed)?;
    check_seal(&mut r, bytes)?;
    Ok(&bytes[super::FILE_HEADER_BYTES..sealed])
}

fn malformed<T>(m: impl Into<String>) -> Result<T, ZkFileError> {
    Err(ZkFileError::Malformed(m.into()))
}

/// A count of records of at least `min_bytes` each, checked against the bytes left.
fn checked_count(r: &mut Reader<'_>, min_bytes: usize, what: &str) -> Result<usize, ZkFileError> {
    let n = r.i32()?;
    if n < 0 {
        return malformed(format!("{what} count {n}"));
    }
    let n = n as usize;
    if n.saturating_mul(min_bytes) > r.remaining() {
        return Err(ZkFileError::Truncated);
    }
    Ok(n)
}

/// `SnapStream.sealStream`: the Adler-32 of everything written so far, then "/".
fn seal(out: &mut Vec<u8>) {
    let sum = adler32(out);
    put_i64(out, sum as i64);
    put_ustring(out, Some("/"));
}

/// `SnapStream.checkSealIntegrity`.
fn check_seal(r: &mut Reader<'_>, bytes: &[u8]) -> Result<(), ZkFileError> {
    let computed = adler32(&bytes[..r.position()]) as u64;
    let stored = r.i64()? as u64;
    if stored != computed {
        return Err(ZkFileError::ChecksumMismatch {
            what: "snapshot",
            stored,
            computed,
        });
    }
    match r.ustring()?.as_deref() {
        Some("/") => Ok(()),
        other => malformed(format!("seal ends with {other:?}, not \"/\"")),
    }
}

fn put_stat_persisted(out: &mut Vec<u8>, s: &StatPersisted) {
    put_i64(out, s.czxid);
    put_i64(out, s.mzxid);
    put_i64(out, s.ctime);
    put_i64(out, s.mtime);
    put_i32(out, s.version);
    put_i32(out, s.cversion);
    put_i32(out, s.aversion);
    put_i64(out, s.ephemeral_owner);
    put_i64(out, s.pzxid);
}

fn read_stat_persisted(r: &mut Reader<'_>) -> Result<StatPersisted, ZkFileError> {
    if r.remaining() < STAT_PERSISTED_BYTES {
        return Err(ZkFileError::Truncated);
    }
    Ok(StatPersisted {
        czxid: r.i64()?,
        mzxid: r.i64()?,
        ctime: r.i64()?,
        mtime: r.i64()?,
        version: r.i32()?,
        cversion: r.i32()?,
        aversion: r.i32()?,
        ephemeral_owner: r.i64()?,
        pzxid: r.i64()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use zablab_core::tree::acl::open_acl_unsafe;

    fn sample() -> ZkSnapshot {
        let mut nodes = BTreeMap::new();
        let stat = |z: i64| StatPersisted {
            czxid: z,
            mzxid: z,
            pzxid: z,
            ctime: 1_700_000_000_000 + z,
            mtime: 1_700_000_000_000 + z,
            ..StatPersisted::default()
        };
        let digest_acl = vec![Acl::new(31, "digest", "bob:x9Ydnq0GkzWnRv3CI8G2HO8fG9w=")];
        for (path, data, acl, z) in [
            ("/", Some(vec![]), open_acl_unsafe(), 0),
            ("/zookeeper", Some(vec![]), open_acl_unsafe(), 0),
            ("/zookeeper/quota", Some(vec![]), open_acl_unsafe(), 0),
            ("/a", Some(b"x".to_vec()), open_acl_unsafe(), 0x1_0000_0001),
            ("/a-b", None, digest_acl.clone(), 0x1_0000_0002),
            (
                "/a/b",
                Some(b"yy".to_vec()),
                digest_acl.clone(),
                0x1_0000_0003,
            ),
        ] {
            nodes.insert(
                path.to_string(),
                NodeRecord {
                    data,
                    acl,
                    stat: stat(z),
                },
            );
        }
        let mut s = ZkSnapshot {
            sessions: BTreeMap::from([(0x100_0000_0000_0001, 30_000), (7, 4000)]),
            nodes,
            digest: None,
        };
        s.digest = Some(ZxidDigest {
            zxid: 0x1_0000_0003,
            digest_version: DIGEST_VERSION,
            digest: s.computed_digest(),
        });
        s
    }

    #[test]
    fn a_snapshot_round_trips_and_shares_one_cache_entry_per_acl_list() {
        let s = sample();
        let bytes = s.encode();
        assert_eq!(ZkSnapshot::decode(&bytes), Ok(s.clone()));
        // Two nodes share the digest ACL: one cache entry, id 1.
        let mut r = Reader::new(&bytes[16..]);
        let sessions = r.i32().unwrap() as usize;
        r.bytes(sessions * 12).unwrap();
        assert_eq!(r.i32(), Ok(1));
        assert_eq!(r.i64(), Ok(1));
        // The root is written as "".
        read_acls(&mut r).unwrap();
        assert_eq!(r.ustring(), Ok(Some(String::new())));
        // Without a digest the file ends after the first seal, as with digests disabled.
        let plain = ZkSnapshot { digest: None, ..s };
        assert_eq!(ZkSnapshot::decode(&plain.encode()), Ok(plain));
    }

    #[test]
    fn every_flipped_byte_and_every_truncation_is_an_error_not_a_panic() {
        let bytes = sample().encode();
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x41;
            // A flip either breaks the structure or is caught by a seal.
            assert!(
                ZkSnapshot::decode(&b).is_err(),
                "byte {i} flipped was accepted"
            );
        }
        // Cut right after the first seal, it is a snapshot without a digest (as ZooKeeper
        // writes with zookeeper.digest.enabled=false); anywhere else it is refused.
        let first_seal_end = bytes.len() - (8 + 4 + 8) - (8 + 4 + 1);
        for n in 0..bytes.len() {
            match ZkSnapshot::decode(&bytes[..n]) {
                Ok(s) => assert!(
                    n == first_seal_end && s.digest.is_none(),
                    "{n} bytes accepted"
                ),
                Err(_) => assert_ne!(n, first_seal_end),
            }
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(ZkSnapshot::decode(&longer).is_err());
    }

    #[test]
    fn a_sealed_body_round_trips_and_any_damage_is_refused() {
        let bytes = encode_sealed_body(b"chain body");
        assert_eq!(decode_sealed_body(&bytes), Ok(&b"chain body"[..]));
        assert_eq!(&bytes[..4], b"ZKSN");
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x10;
            assert!(decode_sealed_body(&b).is_err(), "byte {i} flipped");
        }
        for n in 0..bytes.len() {
            assert!(decode_sealed_body(&bytes[..n]).is_err(), "{n} bytes");
        }
        assert_eq!(decode_sealed_body(&encode_sealed_body(b"")), Ok(&b""[..]));
    }

    #[test]
    fn a_child_before_its_parent_and_an_unknown_acl_id_are_refused() {
        let mut out = Vec::new();
        FileHeader::new(SNAP_MAGIC, SNAP_DBID).write(&mut out);
        put_i32(&mut out, 0);
        put_i32(&mut out, 0);
        put_ustring(&mut out, Some(""));
        put_buffer(&mut out, Some(&[]));
        put_i64(&mut out, -1);
        put_stat_persisted(&mut out, &StatPersisted::default());
        let root_only = out.clone();
        put_ustring(&mut out, Some("/a/b"));
        put_buffer(&mut out, None);
        put_i64(&mut out, -1);
        put_stat_persisted(&mut out, &StatPersisted::default());
        let e = ZkSnapshot::decode(&out).unwrap_err();
        assert!(e.to_string().contains("before its parent"), "{e}");
        let mut out = root_only;
        put_ustring(&mut out, Some("/a"));
        put_buffer(&mut out, None);
        put_i64(&mut out, 9);
        put_stat_persisted(&mut out, &StatPersisted::default());
        let e = ZkSnapshot::decode(&out).unwrap_err();
        assert!(e.to_string().contains("ACL id 9"), "{e}");
    }
}
