//! ZooKeeper's tree digest (`DigestCalculator` version 2 summed by `AdHash`), which
//! snapshots and (in ZooKeeper 3.6+) proposals carry so replicas can detect divergence.
//!
//! Each znode hashes to the CRC-32 of its path, its data and 60 bytes of its persisted stat;
//! the tree's digest is the wrapping sum of those, so it does not depend on order. ZooKeeper
//! leaves everything under `/zookeeper/` out (quota nodes are updated locally) and hashes the
//! root under the path "". ACLs and sessions are not part of it. ZabLab's own digest
//! (`zablab_core::tree::digest`) covers more; this one exists to agree with ZooKeeper.

use zablab_core::tree::{NodeRecord, StatPersisted};

/// `DigestCalculator.DIGEST_VERSION`, written next to the digest.
pub const DIGEST_VERSION: i32 = 2;

/// Nodes under this prefix are not digested.
const ZOOKEEPER_NODE_SUBTREE: &str = "/zookeeper/";

/// The CRC-32 of `java.util.zip.CRC32` (IEEE 802.3, reflected, polynomial 0xEDB88320).
#[derive(Clone, Copy)]
pub struct Crc32(u32);

const CRC_TABLE: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

impl Crc32 {
    pub fn new() -> Crc32 {
        Crc32(0xFFFF_FFFF)
    }

    pub fn update(&mut self, bytes: &[u8]) {
        let mut c = self.0;
        for &b in bytes {
            c = CRC_TABLE[((c ^ b as u32) & 0xFF) as usize] ^ (c >> 8);
        }
        self.0 = c;
    }

    pub fn value(&self) -> u32 {
        !self.0
    }
}

impl Default for Crc32 {
    fn default() -> Crc32 {
        Crc32::new()
    }
}

/// One znode's digest, or 0 for a node ZooKeeper does not digest. `path` is ZabLab's
/// (the root is "/").
pub fn node_digest(path: &str, data: Option<&[u8]>, stat: &StatPersisted) -> u64 {
    if path.starts_with(ZOOKEEPER_NODE_SUBTREE) {
        return 0;
    }
    let path = if path == "/" { "" } else { path };
    let mut b = Vec::with_capacity(60);
    for v in [stat.czxid, stat.mzxid, stat.pzxid, stat.ctime, stat.mtime] {
        b.extend_from_slice(&v.to_be_bytes());
    }
    for v in [stat.version, stat.cversion, stat.aversion] {
        b.extend_from_slice(&v.to_be_bytes());
    }
    b.extend_from_slice(&stat.ephemeral_owner.to_be_bytes());
    let mut crc = Crc32::new();
    crc.update(path.as_bytes());
    if let Some(d) = data {
        crc.update(d);
    }
    crc.update(&b);
    crc.value() as u64
}

/// The tree's digest: the wrapping sum of every node's.
pub fn tree_digest<'a>(nodes: impl IntoIterator<Item = (&'a String, &'a NodeRecord)>) -> i64 {
    nodes.into_iter().fold(0i64, |sum, (path, rec)| {
        sum.wrapping_add(node_digest(path, rec.data.as_deref(), &rec.stat) as i64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_check_value_java_prints() {
        // The CRC-32 check value: CRC32.update("123456789").getValue() == 0xCBF43926.
        let mut c = Crc32::new();
        c.update(b"123456789");
        assert_eq!(c.value(), 0xCBF4_3926);
        let mut split = Crc32::new();
        split.update(b"1234");
        split.update(b"56789");
        assert_eq!(split.value(), c.value());
        assert_eq!(Crc32::new().value(), 0);
    }

    #[test]
    fn the_root_hashes_as_the_empty_path_and_zookeeper_internals_not_at_all() {
        let stat = StatPersisted {
            czxid: 5,
            mzxid: 6,
            ..StatPersisted::default()
        };
        let mut root = Crc32::new();
        root.update(&[]);
        let mut fields = Vec::new();
        for v in [5i64, 6, 0, 0, 0] {
            fields.extend_from_slice(&v.to_be_bytes());
        }
        fields.extend_from_slice(&[0u8; 12]);
        fields.extend_from_slice(&0i64.to_be_bytes());
        root.update(&fields);
        assert_eq!(node_digest("/", Some(&[]), &stat), root.value() as u64);
        assert_ne!(
            node_digest("/a", Some(&[]), &stat),
            node_digest("/", Some(&[]), &stat)
        );
        assert_eq!(node_digest("/zookeeper/quota", Some(b"x"), &stat), 0);
        assert_ne!(node_digest("/zookeeper", Some(b"x"), &stat), 0);
        // Null data and empty data hash alike, as in ZooKeeper.
        assert_eq!(
            node_digest("/a", None, &stat),
            node_digest("/a", Some(&[]), &stat)
        );
    }
}
