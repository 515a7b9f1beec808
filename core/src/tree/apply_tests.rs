//! Tests of the write operations, their error codes in ZooKeeper's check order, sequential
//! naming, the cversion quirk, multi atomicity, sessions and ACL checks (docs/protocol.md §5.5–5.9,
//! §7, §8).

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use super::acl::{creator_all_acl, digest_id, open_acl_unsafe, read_acl_unsafe};
use super::*;
use crate::machine::{StateMachine, TxnContext};
use crate::zxid::Zxid;

pub(crate) const S1: i64 = 0x0100_0000_0000_0001;
pub(crate) const S2: i64 = 0x0200_0000_0000_0001;

/// A tree plus a zxid counter, with sessions S1 and S2 open.
pub(crate) struct H {
    pub t: DataTree,
    pub z: u32,
}

impl H {
    pub fn new() -> H {
        let mut h = H {
            t: DataTree::default(),
            z: 0,
        };
        h.w(S1, WriteOp::CreateSession { timeout_ms: 10_000 })
            .unwrap();
        h.w(S2, WriteOp::CreateSession { timeout_ms: 10_000 })
            .unwrap();
        h
    }
    pub fn ctx(&mut self) -> TxnContext {
        self.z += 1;
        TxnContext {
            zxid: Zxid::new(1, self.z),
            time_ms: 1000 + self.z as u64,
            origin: None,
        }
    }
    pub fn wa(&mut self, sid: i64, auth: Vec<Id>, op: WriteOp) -> WriteOutcome {
        let ctx = self.ctx();
        let out = self
            .t
            .prep_and_apply(&ctx, &Request::new(sid, self.z as i32, auth, op));
        assert_eq!(
            self.t.digest(),
            self.t.recompute_digest(),
            "incremental digest drifted"
        );
        out
    }
    pub fn w(&mut self, sid: i64, op: WriteOp) -> WriteOutcome {
        self.wa(sid, Vec::new(), op)
    }
    pub fn create(&mut self, path: &str, flags: i32) -> WriteOutcome {
        self.w(S1, create(path, flags))
    }
    pub fn stat(&self, path: &str) -> Stat {
        self.t.exists(&[], path).unwrap()
    }
}

pub(crate) fn create_req(path: &str, flags: i32) -> CreateRequest {
    CreateRequest {
        path: path.into(),
        data: Some(b"d".to_vec()),
        acl: open_acl_unsafe(),
        flags,
    }
}
pub(crate) fn create(path: &str, flags: i32) -> WriteOp {
    WriteOp::Create2(create_req(path, flags))
}
pub(crate) fn delete(path: &str, version: i32) -> WriteOp {
    WriteOp::Delete(DeleteRequest {
        path: path.into(),
        version,
    })
}
pub(crate) fn set_data(path: &str, data: &[u8], version: i32) -> WriteOp {
    WriteOp::SetData(SetDataRequest {
        path: path.into(),
        data: Some(data.to_vec()),
        version,
    })
}
fn check(path: &str, version: i32) -> WriteOp {
    WriteOp::Check(CheckVersionRequest {
        path: path.into(),
        version,
    })
}
fn created_path(o: WriteOutcome) -> String {
    match o {
        Ok(WriteResponse::Create2 { path, .. }) | Ok(WriteResponse::Create { path }) => path,
        other => panic!("not a create: {other:?}"),
    }
}

#[test]
fn fresh_tree_has_builtins_with_the_negative_cversion_quirk() {
    let h = H::new();
    assert_eq!(h.stat("/").cversion, -1);
    assert_eq!(h.stat("/").num_children, 1);
    assert_eq!(h.stat("/zookeeper").cversion, -2);
    assert_eq!(h.stat("/zookeeper/quota").czxid, 0);
    assert_eq!(
        h.t.get_acl(&[], "/zookeeper/config").unwrap().0,
        read_acl_unsafe()
    );
    let mut t = DataTree::default();
    t.set_config_text("server.1=127.0.0.1:2888:3888:participant\nversion=0");
    assert_eq!(
        t.digest(),
        DataTree::default().digest(),
        "config text is not in the digest"
    );
    assert!(t
        .get_data(&[], "/zookeeper/config")
        .unwrap()
        .0
        .unwrap()
        .starts_with(b"server.1"));
}

#[test]
fn create_sets_full_stat_and_updates_parent() {
    let mut h = H::new();
    let out = h.w(S1, WriteOp::Create(create_req("/a", 0)));
    assert_eq!(out, Ok(WriteResponse::Create { path: "/a".into() }));
    let z = Zxid::new(1, h.z).0 as i64;
    let st = h.stat("/a");
    assert_eq!((st.czxid, st.mzxid, st.pzxid), (z, z, z));
    assert_eq!((st.ctime, st.mtime), (1000 + h.z as i64, 1000 + h.z as i64));
    assert_eq!(
        (st.version, st.cversion, st.aversion, st.ephemeral_owner),
        (0, 0, 0, 0)
    );
    assert_eq!((st.data_length, st.num_children), (1, 0));
    let root = h.stat("/");
    assert_eq!(root.pzxid, z);
    assert_eq!(root.cversion, 0, "persisted 1, two children");
    assert_eq!(root.num_children, 2);
}

#[test]
fn sequential_suffix_uses_parent_persisted_cversion_and_ignores_deletes() {
    let mut h = H::new();
    assert_eq!(
        created_path(h.create("/s-", 2)),
        "/s-0000000000",
        "first sequential child of / gets 0"
    );
    h.create("/q", 0).unwrap();
    assert_eq!(created_path(h.create("/q/", 2)), "/q/0000000000");
    assert_eq!(created_path(h.create("/q/n", 3)), "/q/n0000000001");
    h.w(S1, delete("/q/0000000000", -1)).unwrap();
    assert_eq!(created_path(h.create("/q/n", 2)), "/q/n0000000002");
    // Reported cversion = creates + deletes = 3 + 1; persisted = 3 with 2 children.
    assert_eq!(h.stat("/q").cversion, 4);
    assert_eq!(h.stat("/q").num_children, 2);
}

#[test]
fn sequential_suffix_formats_negative_counters() {
    let mut h = H::new();
    h.create("/q", 0).unwrap();
    h.t.modify("/q", |r| r.stat.cversion = -1);
    assert_eq!(created_path(h.create("/q/x", 2)), "/q/x-000000001");
}

#[test]
fn create_errors_follow_zookeepers_check_order() {
    let mut h = H::new();
    assert_eq!(h.create("/a", 7), Err(ErrorCode::BadArguments), "bad flag");
    assert_eq!(h.w(0x77, create("/a", 0)), Err(ErrorCode::SessionExpired));
    assert_eq!(h.create("a", 0), Err(ErrorCode::BadArguments), "no slash");
    assert_eq!(h.create("/a\0", 0), Err(ErrorCode::BadArguments));
    let mut bad_acl = create_req("/a", 0);
    bad_acl.acl = vec![];
    assert_eq!(
        h.w(S1, WriteOp::Create(bad_acl.clone())),
        Err(ErrorCode::InvalidAcl)
    );
    bad_acl.path = "/missing/a".into();
    assert_eq!(
        h.w(S1, WriteOp::Create(bad_acl)),
        Err(ErrorCode::InvalidAcl),
        "ACL before parent"
    );
    assert_eq!(h.create("/missing/a", 0), Err(ErrorCode::NoNode));
    assert_eq!(
        h.create("/a/", 0),
        Err(ErrorCode::NoNode),
        "parent /a missing before path check"
    );
    assert_eq!(h.create("/a/..", 0), Err(ErrorCode::NoNode));
    assert_eq!(
        h.create("/..", 0),
        Err(ErrorCode::BadArguments),
        "full validation after parent"
    );
    assert_eq!(h.create("/", 0), Err(ErrorCode::BadArguments));
    h.create("/a", 0).unwrap();
    assert_eq!(h.create("/a", 0), Err(ErrorCode::NodeExists));
    assert_eq!(h.create("/zookeeper", 0), Err(ErrorCode::NodeExists));
    h.create("/e", 1).unwrap();
    assert_eq!(h.create("/e/c", 0), Err(ErrorCode::NoChildrenForEphemerals));
    assert_eq!(h.create("/e/c", 2), Err(ErrorCode::NoChildrenForEphemerals));
}

#[test]
fn null_data_is_distinct_from_empty_and_oversized_data_is_refused() {
    let mut h = H::new();
    let mut r = create_req("/null", 0);
    r.data = None;
    h.w(S1, WriteOp::Create(r)).unwrap();
    let mut r = create_req("/empty", 0);
    r.data = Some(vec![]);
    h.w(S1, WriteOp::Create(r)).unwrap();
    assert_eq!(h.t.get_data(&[], "/null").unwrap().0, None);
    assert_eq!(h.t.get_data(&[], "/empty").unwrap().0, Some(vec![]));
    assert_eq!(h.stat("/null").data_length, 0);
    let mut r = create_req("/big", 0);
    r.data = Some(vec![0; 0x100000]);
    assert_eq!(
        h.w(S1, WriteOp::Create(r.clone())),
        Err(ErrorCode::BadArguments)
    );
    r.data = Some(vec![0; 0xfffff]);
    assert!(h.w(S1, WriteOp::Create(r)).is_ok());
    assert_eq!(
        h.w(S1, set_data("/big", &[0; 0x100000], -1)),
        Err(ErrorCode::BadArguments)
    );
}

#[test]
fn ttl_and_container_modes() {
    let mut h = H::new();
    let ttl = |flags, ttl| {
        WriteOp::CreateTtl(CreateTtlRequest {
            path: "/t".into(),
            data: None,
            acl: open_acl_unsafe(),
            flags,
            ttl,
        })
    };
    assert_eq!(h.w(S1, ttl(5, 0)), Err(ErrorCode::BadArguments));
    assert_eq!(
        h.w(S1, ttl(5, stat::MAX_TTL_MS + 1)),
        Err(ErrorCode::BadArguments)
    );
    assert_eq!(
        h.w(S1, ttl(0, 100)),
        Err(ErrorCode::BadArguments),
        "non-TTL mode with a ttl"
    );
    assert_eq!(
        h.create("/t", 5),
        Err(ErrorCode::BadArguments),
        "TTL mode via create has ttl -1"
    );
    assert!(h.w(S1, ttl(5, 100)).is_ok());
    assert_eq!(
        h.stat("/t").ephemeral_owner,
        0,
        "clients see 0 for TTL nodes"
    );
    assert_eq!(
        h.t.nodes["/t"].rec.stat.ephemeral_owner,
        stat::ttl_owner(100)
    );
    let out = h.w(S1, WriteOp::CreateContainer(create_req("/c", 4)));
    assert!(matches!(out, Ok(WriteResponse::Create2 { .. })));
    assert_eq!(h.stat("/c").ephemeral_owner, 0);
    h.create("/c/x", 0).unwrap(); // containers take children
    let mut off = H::new();
    off.t.config.extended_types = false;
    assert_eq!(off.w(S1, ttl(5, 100)), Err(ErrorCode::Unimplemented));
    assert_eq!(off.w(S1, ttl(6, 100)), Err(ErrorCode::Unimplemented));
}

#[test]
fn delete_checks_parent_node_version_children_in_order() {
    let mut h = H::new();
    assert_eq!(h.w(0x99, delete("/a", -1)), Err(ErrorCode::SessionExpired));
    for p in [
        "/",
        "/zookeeper",
        "/zookeeper/quota",
        "/zookeeper/config",
        "nop",
        "/a\0",
    ] {
        assert_eq!(
            h.w(S1, delete(p, -1)),
            Err(ErrorCode::BadArguments),
            "{p:?}"
        );
    }
    assert_eq!(h.w(S1, delete("/x/y", -1)), Err(ErrorCode::NoNode));
    assert_eq!(h.w(S1, delete("/a", -1)), Err(ErrorCode::NoNode));
    h.create("/a", 0).unwrap();
    h.create("/a/b", 0).unwrap();
    assert_eq!(
        h.w(S1, delete("/a", 5)),
        Err(ErrorCode::BadVersion),
        "version before children"
    );
    assert_eq!(h.w(S1, delete("/a", 0)), Err(ErrorCode::NotEmpty));
    let before = h.stat("/a");
    h.w(S2, delete("/a/b", 0)).unwrap();
    let after = h.stat("/a");
    assert_eq!(after.pzxid, Zxid::new(1, h.z).0 as i64);
    assert!(after.pzxid > before.pzxid);
    assert_eq!(after.cversion, 2, "one create + one delete");
    assert_eq!(h.w(S1, delete("/a", -1)), Ok(WriteResponse::Delete));
}

#[test]
fn set_data_bumps_version_mzxid_mtime_and_checks_version() {
    let mut h = H::new();
    assert_eq!(h.w(S1, set_data("/a", b"x", -1)), Err(ErrorCode::NoNode));
    assert_eq!(
        h.w(S1, set_data("/a/", b"x", -1)),
        Err(ErrorCode::BadArguments)
    );
    h.create("/a", 0).unwrap();
    assert_eq!(h.w(S1, set_data("/a", b"x", 3)), Err(ErrorCode::BadVersion));
    let out = h.w(S1, set_data("/a", b"xyz", 0)).unwrap();
    let WriteResponse::SetData { stat } = out else {
        panic!("{out:?}")
    };
    assert_eq!(stat.version, 1);
    assert_eq!(stat.data_length, 3);
    assert_eq!(stat.mzxid, Zxid::new(1, h.z).0 as i64);
    assert_eq!(stat.mtime, 1000 + h.z as i64);
    assert!(stat.czxid < stat.mzxid);
    h.t.modify("/a", |r| r.stat.version = i32::MAX);
    h.w(S1, set_data("/a", b"", -1)).unwrap();
    assert_eq!(h.stat("/a").version, i32::MIN, "Java int overflow");
    h.t.modify("/a", |r| r.stat.version = -2);
    h.w(S1, set_data("/a", b"", -2)).unwrap();
    assert_eq!(h.stat("/a").version, 0, "-1 is skipped");
}

#[test]
fn set_acl_checks_acl_node_admin_aversion() {
    let mut h = H::new();
    let set_acl = |acl: Vec<Acl>, version| {
        WriteOp::SetAcl(SetAclRequest {
            path: "/a".into(),
            acl,
            version,
        })
    };
    assert_eq!(
        h.w(S1, set_acl(vec![], -1)),
        Err(ErrorCode::InvalidAcl),
        "ACL fixup before existence"
    );
    assert_eq!(
        h.w(S1, set_acl(open_acl_unsafe(), -1)),
        Err(ErrorCode::NoNode)
    );
    h.create("/a", 0).unwrap();
    assert_eq!(
        h.w(S1, set_acl(open_acl_unsafe(), 1)),
        Err(ErrorCode::BadVersion)
    );
    let out = h.w(S1, set_acl(read_acl_unsafe(), 0)).unwrap();
    assert!(matches!(out, WriteResponse::SetAcl { stat } if stat.aversion == 1));
    assert_eq!(
        h.w(S1, set_acl(open_acl_unsafe(), -1)),
        Err(ErrorCode::NoAuth),
        "no ADMIN any more"
    );
    assert_eq!(
        h.w(S1, set_data("/a", b"x", -1)),
        Err(ErrorCode::NoAuth),
        "no WRITE"
    );
    assert_eq!(
        h.w(S1, create("/a/b", 0)),
        Err(ErrorCode::NoAuth),
        "no CREATE"
    );
    assert_eq!(
        h.w(S1, check("/a", 0)),
        Ok(WriteResponse::Check),
        "READ is enough for check"
    );
}

#[test]
fn digest_acl_auth_fixup_and_super() {
    let mut h = H::new();
    let alice = vec![
        Id::new("ip", "10.0.0.1"),
        Id::new("digest", &digest_id("alice:secret")),
    ];
    let mut r = create_req("/private", 0);
    r.acl = creator_all_acl();
    assert_eq!(
        h.w(S1, WriteOp::Create(r.clone())),
        Err(ErrorCode::InvalidAcl),
        "auth with no identity"
    );
    h.wa(S1, alice.clone(), WriteOp::Create(r)).unwrap();
    let (acl, _) = h.t.get_acl(&alice, "/private").unwrap();
    assert_eq!(
        acl,
        vec![Acl::new(perms::ALL, "digest", &digest_id("alice:secret"))]
    );
    assert_eq!(h.t.get_data(&[], "/private"), Err(ErrorCode::NoAuth));
    assert_eq!(h.t.get_acl(&[], "/private"), Err(ErrorCode::NoAuth));
    assert!(h.t.get_data(&alice, "/private").is_ok());
    assert_eq!(
        h.w(S2, set_data("/private", b"x", -1)),
        Err(ErrorCode::NoAuth)
    );
    let root = vec![Id::new("super", "")];
    assert!(
        h.wa(S2, root.clone(), set_data("/private", b"x", -1))
            .is_ok(),
        "super bypasses ACLs"
    );
    // getACL with READ but without ADMIN redacts digests.
    let mut r = create_req("/r", 0);
    r.acl = vec![
        Acl::new(perms::READ, "world", "anyone"),
        Acl::new(perms::ADMIN, "digest", "bob:hash"),
    ];
    h.w(S1, WriteOp::Create(r)).unwrap();
    let (acl, _) = h.t.get_acl(&[], "/r").unwrap();
    assert_eq!(acl[1].id.id, "bob:x");
    let (acl, _) = h.t.get_acl(&[Id::new("digest", "bob:hash")], "/r").unwrap();
    assert_eq!(acl[1].id.id, "bob:hash");
    // ip ACL with a mask.
    let mut r = create_req("/lan", 0);
    r.acl = vec![Acl::new(perms::ALL, "ip", "10.0.0.0/8")];
    h.w(S1, WriteOp::Create(r)).unwrap();
    assert!(h.t.get_data(&[Id::new("ip", "10.2.3.4")], "/lan").is_ok());
    assert_eq!(
        h.t.get_data(&[Id::new("ip", "11.2.3.4")], "/lan"),
        Err(ErrorCode::NoAuth)
    );
}

#[test]
fn multi_is_all_or_nothing_with_per_op_results() {
    let mut h = H::new();
    h.create("/m", 0).unwrap();
    let digest = h.t.digest();
    let snap = h.t.to_snapshot().encode();
    let ops = vec![
        create("/m/a", 0),
        create("/m/s-", 2),
        set_data("/m", b"x", 0),
        check("/m", 7),
        delete("/m/a", -1),
    ];
    let out = h.w(S1, WriteOp::Multi(ops)).unwrap();
    assert_eq!(
        out,
        WriteResponse::Multi(vec![
            OpResult::Error(ErrorCode::Ok),
            OpResult::Error(ErrorCode::Ok),
            OpResult::Error(ErrorCode::Ok),
            OpResult::Error(ErrorCode::BadVersion),
            OpResult::Error(ErrorCode::RuntimeInconsistency),
        ])
    );
    assert_eq!(h.t.digest(), digest, "nothing applied");
    assert_eq!(h.t.to_snapshot().encode(), snap);
    let ops = vec![
        create("/m/a", 0),
        create("/m/s-", 2),
        set_data("/m", b"x", 0),
        check("/m", 1),
        delete("/m/a", -1),
    ];
    let WriteResponse::Multi(res) = h.w(S1, WriteOp::Multi(ops)).unwrap() else {
        panic!()
    };
    assert!(matches!(&res[1], OpResult::Create2 { path, .. } if path == "/m/s-0000000001"));
    assert!(matches!(res[2], OpResult::SetData { stat } if stat.version == 1));
    assert_eq!(
        (res[3].clone(), res[4].clone()),
        (OpResult::Check, OpResult::Delete)
    );
    assert_eq!(h.t.exists(&[], "/m/a"), Err(ErrorCode::NoNode));
    let bad = vec![create("/m/b", 0), WriteOp::CloseSession];
    assert_eq!(
        h.w(S1, WriteOp::Multi(bad)),
        Err(ErrorCode::MarshallingError)
    );
    assert_eq!(
        h.w(S1, WriteOp::Multi(vec![])),
        Ok(WriteResponse::Multi(vec![]))
    );
    // A failed delete inside multi restores the node and its parent exactly.
    let d = h.t.digest();
    let ops = vec![delete("/m/s-0000000001", -1), create("/m", 0)];
    let WriteResponse::Multi(res) = h.w(S1, WriteOp::Multi(ops)).unwrap() else {
        panic!()
    };
    assert_eq!(res[1], OpResult::Error(ErrorCode::NodeExists));
    assert_eq!(h.t.digest(), d);
    assert!(h.t.exists(&[], "/m/s-0000000001").is_ok());
}
