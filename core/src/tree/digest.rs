//! The tree digest: a 64-bit hash of the replicated state that replicas compare.
//!
//! It is the wrapping sum of one hash per znode (path, data, ACL, persisted stat) and one per
//! session, like ZooKeeper's `DigestCalculator`. A sum does not depend on order, so every
//! change updates it in O(size of the changed nodes): subtract the old node hash, add the new.
//! The simulator calls `digest()` after every apply, which a full rehash could not afford.
//! `/zookeeper/config`'s data is left out because each server sets it from its own config.

use super::path::CONFIG_PATH;
use super::session::Session;
use super::snapshot::NodeRecord;
use crate::machine::mix64;

/// FNV-1a over the fields, finished by a 64-bit mixer.
struct Hasher(u64);

impl Hasher {
    fn new(domain: u8) -> Hasher {
        let mut h = Hasher(0xcbf2_9ce4_8422_2325);
        h.bytes(&[domain]);
        h
    }

    fn bytes(&mut self, b: &[u8]) {
        for x in b {
            self.0 ^= *x as u64;
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn i64(&mut self, v: i64) {
        self.bytes(&v.to_be_bytes());
    }

    fn i32(&mut self, v: i32) {
        self.bytes(&v.to_be_bytes());
    }

    /// A length-prefixed byte string, so field boundaries cannot shift.
    fn field(&mut self, b: &[u8]) {
        self.i64(b.len() as i64);
        self.bytes(b);
    }

    fn finish(&self) -> u64 {
        mix64(self.0)
    }
}

/// The hash of one znode.
pub(crate) fn node_hash(path: &str, rec: &NodeRecord) -> u64 {
    let mut h = Hasher::new(b'N');
    h.field(path.as_bytes());
    match (&rec.data, path == CONFIG_PATH) {
        (_, true) => h.i32(-2),
        (None, false) => h.i32(-1),
        (Some(d), false) => h.field(d),
    }
    h.i32(rec.acl.len() as i32);
    for a in &rec.acl {
        h.i32(a.perms);
        h.field(a.id.scheme.as_bytes());
        h.field(a.id.id.as_bytes());
    }
    let s = &rec.stat;
    for v in [
        s.czxid,
        s.mzxid,
        s.ctime,
        s.mtime,
        s.ephemeral_owner,
        s.pzxid,
    ] {
        h.i64(v);
    }
    for v in [s.version, s.cversion, s.aversion] {
        h.i32(v);
    }
    h.finish()
}

/// The hash of one session.
pub(crate) fn session_hash(id: i64, s: &Session) -> u64 {
    let mut h = Hasher::new(b'S');
    h.i64(id);
    h.i32(s.timeout_ms);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::acl::open_acl_unsafe;
    use crate::tree::stat::StatPersisted;

    #[test]
    fn node_hash_distinguishes_null_from_empty_data_and_ignores_config_text() {
        let rec = |data| NodeRecord {
            data,
            acl: open_acl_unsafe(),
            stat: StatPersisted::default(),
        };
        assert_ne!(
            node_hash("/a", &rec(None)),
            node_hash("/a", &rec(Some(alloc::vec![])))
        );
        assert_ne!(node_hash("/a", &rec(None)), node_hash("/b", &rec(None)));
        assert_eq!(
            node_hash(CONFIG_PATH, &rec(Some(b"server.1=x".to_vec()))),
            node_hash(CONFIG_PATH, &rec(Some(alloc::vec![])))
        );
    }
}
