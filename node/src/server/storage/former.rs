//! Files of ZabLab's own former layout, recognised so recovery refuses them with a clear error
//! and leaves them as they are, instead of reading them as damaged ZooKeeper files and cutting
//! them. Before the store wrote ZooKeeper 3.8's files, a log was `FileHeader{"ZKLG", 3, 0}` and
//! records `origin, TxnHeader, txn` ([`crate::codec::wire::write_txn_entry`]), and a snapshot
//! `FileHeader{"ZKSN", 2, -1}, i64 zxid`, the machine's quorum snapshot body, an Adler-32 seal.
//! (Earlier still, a version-2 log of client requests: its records do not decode as
//! transactions, which recovery also refuses, with [`FORMER_LAYOUT_HINT`].)
//!
//! Reading them instead was possible but would leave a dataDir half in each layout, which
//! Apache ZooKeeper could not start on; a server of a ZabLab ensemble that refuses simply
//! syncs from the others once its old directory is moved away.

use crate::codec::jute::{self, Reader};
use crate::codec::machine::NodeMachine;

/// The header version of ZabLab's former transaction log.
pub const FORMER_LOG_VERSION: i32 = 3;

/// What to do with a directory of the former layout (said after the file's name).
pub const FORMER_LAYOUT_HINT: &str = "this server reads and writes Apache ZooKeeper 3.8's \
     files. Start it on an empty dataDir and dataLogDir and let it sync from the ensemble \
     (move the old version-2 directories away first), or keep running the ZabLab release \
     that wrote them; nothing was changed on disk";

/// What recovery says of a log of the former layout.
pub const OLD_LOG_FORMAT_ERROR: &str = "holds ZabLab's former transaction log (file header \
     version 3: records with the replying server in front of ZooKeeper's TxnHeader)";

/// What recovery says of a snapshot of the former layout.
pub const OLD_SNAPSHOT_FORMAT_ERROR: &str = "holds ZabLab's former snapshot layout (a zxid \
     after the file header, then ZabLab's own snapshot body)";

/// Whether `bytes` is a whole, correctly sealed snapshot of the former layout for the file
/// name's zxid.
pub fn is_former_snapshot<M: NodeMachine>(bytes: &[u8], name_zxid: i64) -> bool {
    let mut r = Reader::new(bytes);
    let header = (r.i32(), r.i32(), r.i64(), r.i64());
    if header != (Ok(0x5A4B_534E), Ok(2), Ok(-1), Ok(name_zxid)) {
        return false;
    }
    if M::read_snapshot(&mut r).is_err() {
        return false;
    }
    let sealed = r.position();
    let seal_ok = r.i64() == Ok(jute::adler32(&bytes[..sealed]) as i64);
    seal_ok && r.ustring().ok().flatten().as_deref() == Some("/") && r.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use zablab_core::machine::ChainMachine;

    fn former(zxid: i64, s: &ChainMachine) -> Vec<u8> {
        let mut b = Vec::new();
        for v in [0x5A4B_534E, 2] {
            jute::put_i32(&mut b, v);
        }
        jute::put_i64(&mut b, -1);
        jute::put_i64(&mut b, zxid);
        ChainMachine::write_snapshot(s, &mut b);
        let sum = jute::adler32(&b);
        jute::put_i64(&mut b, sum as i64);
        jute::put_ustring(&mut b, Some("/"));
        b
    }

    #[test]
    fn a_former_snapshot_is_recognised_and_a_current_one_is_not() {
        let s = ChainMachine {
            chain: 9,
            writes: vec![1, 2],
            configs: Vec::new(),
        };
        let old = former(0x1_0000_0002, &s);
        assert!(is_former_snapshot::<ChainMachine>(&old, 0x1_0000_0002));
        assert!(
            !is_former_snapshot::<ChainMachine>(&old, 0x1_0000_0003),
            "the zxid inside is the name's"
        );
        assert!(!is_former_snapshot::<ChainMachine>(
            &old[..old.len() - 1],
            0x1_0000_0002
        ));
        let new = ChainMachine::write_snapshot_file(&s, zablab_core::zxid::Zxid(0x1_0000_0002));
        assert!(!is_former_snapshot::<ChainMachine>(&new, 0x1_0000_0002));
        assert_eq!(ChainMachine::read_snapshot_file(&new), Ok(s));
        assert!(ChainMachine::read_snapshot_file(&old).is_err());
    }
}
