//! [`NodeMachine`] for the ZooKeeper data tree: how its transactions, forwarded requests and
//! snapshots become bytes in the transaction log, in PROPOSAL/INFORM and REQUEST packets and
//! in SNAP sync.
//!
//! # Transaction record
//! As ZooKeeper's: the leader's prep stage made the request a [`Txn`] (`zablab_core::tree::prep`),
//! whose `TxnHeader{clientId, cxid, type}` fields and record ([`crate::codec::txn`]: CreateTxn
//! with the final path and parentCVersion, SetDataTxn with the new version, ErrorTxn, MultiTxn,
//! ...) are byte for byte ZooKeeper 3.8's.
//!
//! # Request record (REQUEST packets only)
//! ```text
//! opType = the request's opcode (create 1, delete 2, setData 5, setACL 7, check 13,
//!          multi 14, create2 15, createContainer 19, deleteContainer 20,
//!          createTTL 21, createSession -10, closeSession -11)
//! record = i64 sessionId; i32 cxid; [Id] auth; the request record of that opcode
//! ```
//! The request record is exactly the client protocol's (§5.4; multi with its MultiHeader
//! framing, §5.6), written by [`proto::put_write_op`]; createSession carries
//! `CreateSessionTxn{timeOut}`, closeSession nothing, deleteContainer `{path}`.
//!
//! # Snapshot
//! On the quorum stream (SNAP sync): `i64 length` + [`TreeSnapshot::encode`]'s bytes (which
//! end with a digest trailer), so the body is self-delimiting before `"BenWasHere"`.
//! In `snapshot.<zxid>` files: ZooKeeper 3.8's FileSnap layout ([`ZkSnapshot`]), with the
//! tree digest ZooKeeper records. ZooKeeper's files carry no [`TreeConfig`]: a tree read
//! from one gets the default, which is what the node runs with.

use zablab_core::tree::{DataTree, Id, Request, TreeConfig, TreeSnapshot, Txn};
use zablab_core::zxid::Zxid;

use crate::codec::jute::{self, JuteError, Reader};
use crate::codec::machine::{NodeMachine, TxnHeaderIds};
use crate::codec::zk_files::snapshot::ZkSnapshot;
use crate::codec::zk_files::ZkFileError;
use crate::codec::{proto, txn};

impl NodeMachine for DataTree {
    fn txn_header(t: &Txn) -> TxnHeaderIds {
        TxnHeaderIds {
            client_id: t.client_id,
            cxid: t.cxid,
            txn_type: t.txn_type,
        }
    }

    fn write_txn(t: &Txn, out: &mut Vec<u8>) {
        txn::put_txn_body(out, &t.body);
    }

    fn read_txn(header: TxnHeaderIds, r: &mut Reader<'_>) -> Result<Txn, JuteError> {
        let body = txn::read_txn_body(header.txn_type, r, false)?;
        if !r.is_empty() {
            return jute::malformed(format!("{} bytes after the txn record", r.remaining()));
        }
        Ok(Txn {
            client_id: header.client_id,
            cxid: header.cxid,
            txn_type: header.txn_type,
            body,
        })
    }

    fn request_type(request: &Request) -> i32 {
        request.op.opcode()
    }

    fn write_request(request: &Request, out: &mut Vec<u8>) {
        jute::put_i64(out, request.session_id);
        jute::put_i32(out, request.cxid);
        proto::put_ids(out, &request.auth);
        proto::put_write_op(out, &request.op);
    }

    fn read_request(request_type: i32, r: &mut Reader<'_>) -> Result<Request, JuteError> {
        let session_id = r.i64()?;
        let cxid = r.i32()?;
        let auth = proto::read_ids(r)?;
        let op = proto::read_write_op(request_type, r, 0)?;
        if !r.is_empty() {
            return jute::malformed(format!("{} bytes after the request record", r.remaining()));
        }
        Ok(Request {
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

    fn write_snapshot_file(snapshot: &TreeSnapshot, zxid: Zxid) -> Vec<u8> {
        ZkSnapshot::from_tree(snapshot, zxid.0 as i64).encode()
    }

    /// The recorded tree digest is not compared here: ZooKeeper records the digest of the
    /// zxid it had processed when it finished writing (its snapshots are fuzzy, taken while
    /// it applies writes) and checks it only when its replay reaches that zxid. The seals
    /// catch damaged bytes.
    fn read_snapshot_file(bytes: &[u8]) -> Result<TreeSnapshot, ZkFileError> {
        Ok(ZkSnapshot::decode(bytes)?.into_tree(TreeConfig::default()))
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
    fn every_request_round_trips_through_its_record() {
        for op in sample_ops() {
            let request = Request::new(
                0x0100_0000_0000_0007,
                42,
                vec![Id::new("ip", "127.0.0.1"), Id::new("digest", "u:x")],
                op,
            );
            let mut out = Vec::new();
            DataTree::write_request(&request, &mut out);
            let t = DataTree::request_type(&request);
            let back = DataTree::read_request(t, &mut Reader::new(&out));
            assert_eq!(back, Ok(request.clone()), "type {t}");
            // Every strict prefix is truncated, never a panic or a wrong request.
            for cut in 0..out.len() {
                assert!(DataTree::read_request(t, &mut Reader::new(&out[..cut])).is_err());
            }
            // Trailing bytes are refused.
            out.push(0);
            assert!(DataTree::read_request(t, &mut Reader::new(&out)).is_err());
        }
        assert!(DataTree::read_request(99, &mut Reader::new(&[0; 16])).is_err());
    }

    /// Every transaction prep makes of the sample requests (successes, ErrorTxns, multis that
    /// succeed and fail, sessions) round-trips through ZooKeeper's record layout.
    #[test]
    fn every_prepped_txn_round_trips_through_its_jute_record() {
        let mut tree = DataTree::default();
        let sid = 0x0100_0000_0000_0007;
        let req = |path: &str, flags| CreateRequest {
            path: path.into(),
            data: None,
            acl: vec![Acl::new(31, "world", "anyone")],
            flags,
        };
        let check = || {
            WriteOp::Check(CheckVersionRequest {
                path: "/b".into(),
                version: 0,
            })
        };
        let mut ops = vec![
            WriteOp::CreateSession { timeout_ms: 30000 },
            WriteOp::Create(req("/c", 4)),
            WriteOp::Create2(req("/b", 1)),
            WriteOp::CreateContainer(req("/cc", 4)),
            WriteOp::CreateTtl(CreateTtlRequest {
                path: "/ttl".into(),
                data: None,
                acl: vec![Acl::new(31, "world", "anyone")],
                flags: 5,
                ttl: 1000,
            }),
            WriteOp::SetAcl(SetAclRequest {
                path: "/b".into(),
                acl: vec![Acl::new(31, "world", "anyone")],
                version: 0,
            }),
            check(),
            WriteOp::SetData(SetDataRequest {
                path: "/b".into(),
                data: Some(vec![1]),
                version: -1,
            }),
            WriteOp::Multi(vec![WriteOp::Create2(req("/m", 2)), check()]),
            WriteOp::Multi(vec![
                WriteOp::Create(req("/m2", 0)),
                WriteOp::Delete(DeleteRequest {
                    path: "/nope".into(),
                    version: -1,
                }),
            ]),
        ];
        ops.extend(sample_ops());
        let mut types = std::collections::BTreeSet::new();
        for (i, op) in ops.into_iter().enumerate() {
            let ctx = TxnContext {
                zxid: Zxid::new(1, i as u32 + 1),
                time_ms: 77,
                origin: None,
            };
            let t = tree.prep(&ctx, &Request::new(sid, i as i32, vec![], op));
            let _ = tree.apply(&ctx, &t);
            types.insert(t.txn_type);
            let mut out = Vec::new();
            DataTree::write_txn(&t, &mut out);
            let header = DataTree::txn_header(&t);
            let back = DataTree::read_txn(header, &mut Reader::new(&out));
            assert_eq!(back, Ok(t.clone()), "type {}", t.txn_type);
            for cut in 0..out.len() {
                assert!(DataTree::read_txn(header, &mut Reader::new(&out[..cut])).is_err());
            }
            out.push(0);
            assert!(DataTree::read_txn(header, &mut Reader::new(&out)).is_err());
        }
        for t in [-10, -11, -1, 1, 2, 5, 7, 13, 14, 15, 19, 20, 21] {
            assert!(types.contains(&t), "no txn of type {t} in {types:?}");
        }
    }

    /// A reconfig (type 16) is logged and proposed as the SetDataTxn it is, and reads back.
    #[test]
    fn a_reconfig_txn_round_trips_as_a_type_16_set_data_txn() {
        use zablab_core::config::Ensemble;
        use zablab_core::reconfig::ReconfigRequest;
        let tree = DataTree::default();
        let t = tree
            .reconfig_txn(
                &Ensemble::new(2, 1),
                &ReconfigRequest::default(),
                Zxid::new(1, 5),
            )
            .expect("the tree carries reconfigs");
        assert_eq!(t.txn_type, 16);
        let mut out = Vec::new();
        DataTree::write_txn(&t, &mut out);
        let header = DataTree::txn_header(&t);
        assert_eq!(
            DataTree::read_txn(header, &mut Reader::new(&out)),
            Ok(t.clone())
        );
        assert_eq!(DataTree::txn_members(&t), Some(Ensemble::new(2, 1)));
    }

    /// A CreateTxn's bytes are ZooKeeper's: path, data, ACL vector, boolean, parentCVersion.
    #[test]
    fn create_txn_has_zookeepers_layout() {
        let t = Txn {
            client_id: 1,
            cxid: 2,
            txn_type: 1,
            body: zablab_core::tree::TxnBody::Create(zablab_core::tree::CreateTxn {
                path: "/a".into(),
                data: Some(vec![9]),
                acl: vec![Acl::new(31, "world", "anyone")],
                ephemeral: true,
                parent_cversion: 3,
            }),
        };
        let mut out = Vec::new();
        DataTree::write_txn(&t, &mut out);
        let mut want = Vec::new();
        want.extend_from_slice(&[0, 0, 0, 2, b'/', b'a']);
        want.extend_from_slice(&[0, 0, 0, 1, 9]);
        want.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 31]);
        want.extend_from_slice(&[0, 0, 0, 5]);
        want.extend_from_slice(b"world");
        want.extend_from_slice(&[0, 0, 0, 6]);
        want.extend_from_slice(b"anyone");
        want.extend_from_slice(&[1, 0, 0, 0, 3]);
        assert_eq!(out, want);
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
            let out =
                tree.prep_and_apply(&ctx(i as u32 + 1), &Request::new(sid, i as i32, vec![], op));
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
