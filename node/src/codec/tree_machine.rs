//! [`NodeMachine`] for the ZooKeeper data tree: how its transactions and snapshots become
//! bytes in the transaction log, in PROPOSAL/INFORM packets and in SNAP sync.
//!
//! # Transaction record
//! ZooKeeper logs the *result* of PrepRequestProcessor (a `CreateTxn` with the final path and
//! `parentCVersion`, an `ErrorTxn`, ...). ZabLab's [`Txn`] is instead the client's request plus
//! what the accepting server knew about the client; every replica validates it at apply time
//! (see `zablab_core::machine`). So the record is self-describing and faithful to that:
//!
//! ```text
//! TxnHeader.type = the request's opcode (create 1, delete 2, setData 5, setACL 7, check 13,
//!                  multi 14, create2 15, createContainer 19, deleteContainer 20,
//!                  createTTL 21, createSession -10, closeSession -11)
//! record         = i64 sessionId; i32 cxid; [Id] auth; the request record of that opcode
//! ```
//! The request record is exactly the client protocol's (§5.4; multi with its MultiHeader
//! framing, §5.6), written by [`proto::put_write_op`]; createSession carries
//! `CreateSessionTxn{timeOut}`, closeSession nothing, deleteContainer `{path}`.
//!
//! # Snapshot
//! `i64 length` + [`TreeSnapshot::encode`]'s bytes (which end with a digest trailer), so the
//! body is self-delimiting on the quorum stream before `"BenWasHere"`.

use zablab_core::tree::{DataTree, Id, TreeSnapshot, Txn};

use crate::codec::jute::{self, JuteError, Reader};
use crate::codec::machine::NodeMachine;
use crate::codec::proto;

impl NodeMachine for DataTree {
    fn txn_type(txn: &Txn) -> i32 {
        txn.op.opcode()
    }

    fn write_txn(txn: &Txn, out: &mut Vec<u8>) {
        jute::put_i64(out, txn.session_id);
        jute::put_i32(out, txn.cxid);
        proto::put_ids(out, &txn.auth);
        proto::put_write_op(out, &txn.op);
    }

    fn read_txn(txn_type: i32, r: &mut Reader<'_>) -> Result<Txn, JuteError> {
        let session_id = r.i64()?;
        let cxid = r.i32()?;
        let auth = proto::read_ids(r)?;
        let op = proto::read_write_op(txn_type, r, 0)?;
        if !r.is_empty() {
            return jute::malformed(format!("{} bytes after the txn record", r.remaining()));
        }
        Ok(Txn {
            session_id,
            cxid,
            auth,
            op,
        })
    }

    fn write_snapshot(snapshot: &TreeSnapshot, out: &mut Vec<u8>) {
        let bytes = snapshot.encode();
        jute::put_i64(out, bytes.len() as i64);
        out.extend_from_slice(&bytes);
    }

    fn read_snapshot(r: &mut Reader<'_>) -> Result<TreeSnapshot, JuteError> {
        let len = r.i64()?;
        if len < 0 {
            return jute::malformed(format!("snapshot length {len}"));
        }
        let len = usize::try_from(len).map_err(|_| JuteError::Eof)?;
        let bytes = r.bytes(len)?;
        TreeSnapshot::decode(bytes)
            .map_err(|e| JuteError::Malformed(format!("tree snapshot: {e:?}")))
    }

    fn node_count(&self) -> u64 {
        DataTree::node_count(self) as u64
    }

    fn watch_count(&self) -> u64 {
        DataTree::watch_count(self) as u64
    }

    fn session_count(&self) -> u64 {
        self.sessions().len() as u64
    }

    fn ephemerals_count(&self) -> u64 {
        self.sessions()
            .keys()
            .map(|s| self.get_ephemerals(*s, "/").len() as u64)
            .sum()
    }

    /// Path plus data bytes over every node, as ZooKeeper's `approximateDataSize`. The tree
    /// keeps no running total, so this walks it (mntr only).
    fn approximate_data_size(&self) -> u64 {
        let server = [Id::new("super", "")];
        self.subtree("/")
            .iter()
            .map(|p| {
                let data = self.exists(&server, p).map_or(0, |s| s.data_length.max(0));
                p.len() as u64 + data as u64
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zablab_core::machine::{StateMachine, TxnContext};
    use zablab_core::tree::{
        Acl, CheckVersionRequest, CreateRequest, CreateTtlRequest, DeleteRequest, SetAclRequest,
        SetDataRequest, WriteOp,
    };
    use zablab_core::zxid::Zxid;

    fn sample_ops() -> Vec<WriteOp> {
        let create = CreateRequest {
            path: "/a".into(),
            data: Some(b"x".to_vec()),
            acl: vec![Acl::new(31, "world", "anyone")],
            flags: 0,
        };
        vec![
            WriteOp::Create(create.clone()),
            WriteOp::Create2(CreateRequest {
                data: None,
                ..create.clone()
            }),
            WriteOp::CreateContainer(CreateRequest {
                flags: 4,
                data: Some(Vec::new()),
                ..create.clone()
            }),
            WriteOp::CreateTtl(CreateTtlRequest {
                path: "/t".into(),
                data: None,
                acl: vec![],
                flags: 5,
                ttl: 1000,
            }),
            WriteOp::Delete(DeleteRequest {
                path: "/a".into(),
                version: -1,
            }),
            WriteOp::SetData(SetDataRequest {
                path: "/a".into(),
                data: Some(vec![1, 2, 3]),
                version: 7,
            }),
            WriteOp::SetAcl(SetAclRequest {
                path: "/a".into(),
                acl: vec![Acl::new(1, "digest", "u:abc=")],
                version: 0,
            }),
            WriteOp::Check(CheckVersionRequest {
                path: "/a".into(),
                version: 3,
            }),
            WriteOp::Multi(vec![
                WriteOp::Create(create),
                WriteOp::Check(CheckVersionRequest {
                    path: "/a".into(),
                    version: 0,
                }),
                // Not a client sub-op, but a txn record must carry whatever the leader proposed.
                WriteOp::SetAcl(SetAclRequest {
                    path: "/a".into(),
                    acl: vec![],
                    version: 0,
                }),
            ]),
            WriteOp::Multi(vec![]),
            WriteOp::CreateSession { timeout_ms: 30000 },
            WriteOp::CloseSession,
            WriteOp::DeleteContainer { path: "/c".into() },
        ]
    }

    #[test]
    fn every_txn_round_trips_through_its_record() {
        for op in sample_ops() {
            let txn = Txn::new(
                0x0100_0000_0000_0007,
                42,
                vec![Id::new("ip", "127.0.0.1"), Id::new("digest", "u:x")],
                op,
            );
            let mut out = Vec::new();
            DataTree::write_txn(&txn, &mut out);
            let t = DataTree::txn_type(&txn);
            let back = DataTree::read_txn(t, &mut Reader::new(&out));
            assert_eq!(back, Ok(txn.clone()), "type {t}");
            // Every strict prefix is truncated, never a panic or a wrong txn.
            for cut in 0..out.len() {
                assert!(DataTree::read_txn(t, &mut Reader::new(&out[..cut])).is_err());
            }
            // Trailing bytes are refused.
            out.push(0);
            assert!(DataTree::read_txn(t, &mut Reader::new(&out)).is_err());
        }
        assert!(DataTree::read_txn(99, &mut Reader::new(&[0; 16])).is_err());
    }

    #[test]
    fn snapshot_round_trips_and_is_self_delimiting() {
        let mut tree = DataTree::default();
        let ctx = |n: u32| TxnContext {
            zxid: Zxid::new(1, n),
            time_ms: 1000 + n as u64,
            origin: None,
        };
        let sid = 0x0100_0000_0000_0001;
        let ops = [
            WriteOp::CreateSession { timeout_ms: 6000 },
            WriteOp::Create(CreateRequest {
                path: "/app".into(),
                data: Some(b"hello".to_vec()),
                acl: vec![Acl::new(31, "world", "anyone")],
                flags: 0,
            }),
            WriteOp::Create(CreateRequest {
                path: "/app/e".into(),
                data: None,
                acl: vec![Acl::new(31, "world", "anyone")],
                flags: 1,
            }),
        ];
        for (i, op) in ops.into_iter().enumerate() {
            let out = tree.apply(&ctx(i as u32 + 1), &Txn::new(sid, i as i32, vec![], op));
            assert!(out.is_ok(), "{out:?}");
        }
        assert_eq!(NodeMachine::node_count(&tree), 6);
        assert_eq!(tree.ephemerals_count(), 1);
        assert!(tree.approximate_data_size() >= 5 + "/app/e".len() as u64);

        let snap = tree.snapshot();
        let mut out = Vec::new();
        DataTree::write_snapshot(&snap, &mut out);
        out.extend_from_slice(b"BenWasHere");
        let mut r = Reader::new(&out);
        let back = DataTree::read_snapshot(&mut r).expect("decodes");
        assert_eq!(back, snap);
        assert_eq!(r.rest(), b"BenWasHere");
        assert_eq!(DataTree::restore(&back).digest(), tree.digest());
        // A partial body asks for more bytes; a corrupt one is malformed.
        assert_eq!(
            DataTree::read_snapshot(&mut Reader::new(&out[..out.len() / 2])),
            Err(JuteError::Eof)
        );
        let mut bad = out.clone();
        bad[8] ^= 0xff;
        assert!(matches!(
            DataTree::read_snapshot(&mut Reader::new(&bad)),
            Err(JuteError::Malformed(_))
        ));
    }
}
