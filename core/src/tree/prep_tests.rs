//! Tests of the prep stage with requests pipelined: several prepped before any applies, as a
//! leader does while proposals wait for their quorum (PrepRequestProcessor's
//! outstandingChanges).

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use super::apply_tests::{create_req, S1, S2};
use super::*;
use crate::machine::{StateMachine, TxnContext};
use crate::zxid::Zxid;

/// A leader's tree with sessions S1 and S2 open and applied, and a zxid counter for prepping
/// ahead of apply.
struct Pipe {
    leader: DataTree,
    /// A learner: applies only what the leader prepped.
    learner: DataTree,
    next: u32,
    prepped: Vec<(TxnContext, Txn)>,
}

impl Pipe {
    fn new() -> Pipe {
        let mut p = Pipe {
            leader: DataTree::default(),
            learner: DataTree::default(),
            next: 0,
            prepped: Vec::new(),
        };
        for s in [S1, S2] {
            p.prep(s, WriteOp::CreateSession { timeout_ms: 10_000 });
        }
        p.apply_all();
        p
    }

    fn prep(&mut self, session: i64, op: WriteOp) -> Txn {
        self.next += 1;
        let ctx = TxnContext {
            zxid: Zxid::new(1, self.next),
            time_ms: 5000 + self.next as u64,
            origin: None,
        };
        let txn = self.leader.prep(
            &ctx,
            &Request::new(session, self.next as i32, Vec::new(), op),
        );
        self.prepped.push((ctx, txn.clone()));
        txn
    }

    /// Applies every prepped transaction on the leader and the learner; their outcomes, which
    /// must agree.
    fn apply_all(&mut self) -> Vec<WriteOutcome> {
        let mut out = Vec::new();
        for (ctx, txn) in core::mem::take(&mut self.prepped) {
            let a = self.leader.apply(&ctx, &txn);
            let b = self.learner.apply(&ctx, &txn);
            assert_eq!(a, b, "leader and learner answered {txn:?} differently");
            out.push(a);
        }
        assert_eq!(self.leader.digest(), self.learner.digest());
        assert!(self.leader.outstanding_changes().is_empty());
        out
    }
}

fn create(path: &str, flags: i32) -> WriteOp {
    WriteOp::Create(create_req(path, flags))
}

fn set_data(path: &str, data: &[u8], version: i32) -> WriteOp {
    WriteOp::SetData(SetDataRequest {
        path: path.into(),
        data: Some(data.to_vec()),
        version,
    })
}

fn delete(path: &str, version: i32) -> WriteOp {
    WriteOp::Delete(DeleteRequest {
        path: path.into(),
        version,
    })
}

fn created_path(txn: &Txn) -> String {
    match &txn.body {
        TxnBody::Create(c) => c.path.clone(),
        other => panic!("expected a CreateTxn, got {other:?}"),
    }
}

#[test]
fn sequential_creates_prepped_together_get_the_next_suffixes_of_the_outstanding_parent() {
    let mut p = Pipe::new();
    p.prep(S1, create("/q", 0));
    // PERSISTENT_SEQUENTIAL = 2; the parent /q is itself only outstanding.
    let a = p.prep(S1, create("/q/n-", 2));
    let b = p.prep(S2, create("/q/n-", 2));
    assert_eq!(created_path(&a), "/q/n-0000000000");
    assert_eq!(created_path(&b), "/q/n-0000000001");
    let (TxnBody::Create(ca), TxnBody::Create(cb)) = (&a.body, &b.body) else {
        unreachable!()
    };
    assert_eq!((ca.parent_cversion, cb.parent_cversion), (1, 2));
    let out = p.apply_all();
    assert!(out.iter().all(|o| o.is_ok()), "{out:?}");
    assert_eq!(p.learner.get_children(&[], "/q").unwrap().0.len(), 2);
}

#[test]
fn set_data_with_a_version_sees_the_version_an_outstanding_set_data_made() {
    let mut p = Pipe::new();
    p.prep(S1, create("/v", 0));
    p.apply_all();
    let first = p.prep(S1, set_data("/v", b"1", 0));
    let second = p.prep(S2, set_data("/v", b"2", 1));
    let stale = p.prep(S2, set_data("/v", b"x", 1));
    // SetDataTxn carries the version after the write.
    assert!(matches!(&first.body, TxnBody::SetData(s) if s.version == 1));
    assert!(matches!(&second.body, TxnBody::SetData(s) if s.version == 2));
    assert_eq!(stale.error(), Some(ErrorCode::BadVersion));
    assert_eq!(stale.txn_type, op_code::ERROR);
    let out = p.apply_all();
    assert_eq!(out[2], Err(ErrorCode::BadVersion));
    let (data, stat) = p.learner.get_data(&[], "/v").unwrap();
    assert_eq!((data, stat.version), (Some(b"2".to_vec()), 2));
}

#[test]
fn create_delete_create_of_one_path_all_outstanding_succeed() {
    let mut p = Pipe::new();
    let c1 = p.prep(S1, create("/x", 0));
    let d = p.prep(S1, delete("/x", 0));
    let c2 = p.prep(S2, create("/x", 0));
    assert_eq!(c1.error(), None);
    assert_eq!(d.error(), None);
    assert_eq!(c2.error(), None);
    // And now /x exists again in the view: a fourth create fails.
    assert_eq!(
        p.prep(S2, create("/x", 0)).error(),
        Some(ErrorCode::NodeExists)
    );
    let out = p.apply_all();
    assert_eq!(out[3], Err(ErrorCode::NodeExists));
    let stat = p.learner.exists(&[], "/x").unwrap();
    assert_eq!(
        stat.czxid,
        Zxid::new(1, 5).0 as i64,
        "the second create's node"
    );
}

#[test]
fn delete_of_a_node_with_an_outstanding_child_create_is_not_empty() {
    let mut p = Pipe::new();
    p.prep(S1, create("/p", 0));
    p.apply_all();
    p.prep(S1, create("/p/c", 0));
    assert_eq!(
        p.prep(S2, delete("/p", -1)).error(),
        Some(ErrorCode::NotEmpty)
    );
    // Once the child's delete is outstanding too, the parent's delete passes.
    assert_eq!(p.prep(S2, delete("/p/c", -1)).error(), None);
    assert_eq!(p.prep(S2, delete("/p", -1)).error(), None);
    let out = p.apply_all();
    assert_eq!(out[1], Err(ErrorCode::NotEmpty));
    assert_eq!(p.learner.exists(&[], "/p"), Err(ErrorCode::NoNode));
}

#[test]
fn a_failing_multi_becomes_error_txns_and_leaves_no_change_records() {
    let mut p = Pipe::new();
    p.prep(S1, create("/m", 0));
    let before = p.leader.outstanding_changes().clone();
    let multi = p.prep(
        S1,
        WriteOp::Multi(vec![
            create("/m/a", 0),
            set_data("/m", b"d", -1),
            delete("/missing", -1),
            create("/m/b", 0),
        ]),
    );
    assert_eq!(multi.txn_type, op_code::MULTI);
    let TxnBody::Multi(m) = &multi.body else {
        panic!("{multi:?}")
    };
    let codes: Vec<Option<ErrorCode>> = m
        .txns
        .iter()
        .map(|t| match &t.body {
            TxnBody::Error(e) if t.txn_type == op_code::ERROR => Some(e.err),
            _ => None,
        })
        .collect();
    assert_eq!(
        codes,
        vec![
            Some(ErrorCode::Ok),
            Some(ErrorCode::Ok),
            Some(ErrorCode::NoNode),
            Some(ErrorCode::RuntimeInconsistency)
        ]
    );
    assert_eq!(
        p.leader.outstanding_changes(),
        &before,
        "the multi's records were rolled back"
    );
    // The rolled-back create is not in the view: the same create alone passes.
    assert_eq!(p.prep(S2, create("/m/a", 0)).error(), None);
    let out = p.apply_all();
    assert!(
        matches!(&out[1], Ok(WriteResponse::Multi(r)) if r[2] == OpResult::Error(ErrorCode::NoNode))
    );
    assert_eq!(p.learner.get_data(&[], "/m").unwrap().1.version, 0);
}

#[test]
fn close_session_deletes_outstanding_ephemerals_and_not_outstanding_deletes() {
    let mut p = Pipe::new();
    p.prep(S1, create("/e1", 1)); // EPHEMERAL
    p.apply_all();
    p.prep(S1, create("/e2", 1));
    p.prep(S1, delete("/e1", -1));
    let close = p.prep(S1, WriteOp::CloseSession);
    assert_eq!(
        close.body,
        TxnBody::CloseSession(CloseSessionTxn {
            paths2_delete: vec![String::from("/e2")]
        })
    );
    // The closing session can prep nothing more.
    assert_eq!(
        p.prep(S1, create("/late", 0)).error(),
        Some(ErrorCode::SessionExpired)
    );
    let out = p.apply_all();
    assert_eq!(out[3], Err(ErrorCode::SessionExpired));
    assert_eq!(p.learner.exists(&[], "/e2"), Err(ErrorCode::NoNode));
    assert!(!p.learner.sessions().contains_key(&S1));
}

#[test]
fn create_session_outstanding_lets_its_first_request_prep() {
    let mut p = Pipe::new();
    let s3 = 0x0300_0000_0000_0009;
    p.prep(s3, WriteOp::CreateSession { timeout_ms: 6000 });
    assert_eq!(p.prep(s3, create("/s3", 0)).error(), None);
    assert!(p.apply_all().iter().all(|o| o.is_ok()));
}

#[test]
fn create2_and_create_share_create_txn_and_answer_by_type() {
    let mut p = Pipe::new();
    let c1 = p.prep(S1, create("/one", 0));
    let c2 = p.prep(S1, WriteOp::Create2(create_req("/two", 0)));
    assert_eq!(
        (c1.txn_type, c2.txn_type),
        (op_code::CREATE, op_code::CREATE2)
    );
    assert!(matches!(c2.body, TxnBody::Create(_)));
    let out = p.apply_all();
    assert!(matches!(&out[0], Ok(WriteResponse::Create { path }) if path == "/one"));
    assert!(matches!(&out[1], Ok(WriteResponse::Create2 { path, .. }) if path == "/two"));
}

#[test]
fn starting_or_stopping_leading_drops_the_outstanding_view() {
    let mut p = Pipe::new();
    p.prep(S1, create("/gone", 0));
    assert!(!p.leader.outstanding_changes().is_empty());
    p.leader.on_stop_leading();
    assert!(p.leader.outstanding_changes().is_empty());
    p.prep(S1, create("/again", 0));
    p.leader.on_leading(crate::time::Instant(0));
    assert!(p.leader.outstanding_changes().is_empty());
    // The view does not hold /gone any more, so a create of it preps against the tree.
    assert_eq!(p.leader.view_of("/gone"), None);
}

#[test]
fn the_create_opcode_picks_the_record_and_the_record_the_node_kind_as_in_zookeeper() {
    let mut p = Pipe::new();
    let c = p.prep(S1, WriteOp::CreateContainer(create_req("/c0", 0)));
    assert!(matches!(c.body, TxnBody::CreateContainer(_)), "{c:?}");
    let n = p.prep(S1, create("/n4", 4));
    assert!(
        matches!(&n.body, TxnBody::Create(t) if !t.ephemeral),
        "{n:?}"
    );
    let e = p.prep(S1, WriteOp::Create2(create_req("/e", 1)));
    assert!(
        matches!(&e.body, TxnBody::Create(t) if t.ephemeral),
        "{e:?}"
    );
    let ttl = WriteOp::CreateTtl(CreateTtlRequest {
        path: "/t0".into(),
        data: None,
        acl: super::acl::open_acl_unsafe(),
        flags: 0,
        ttl: -1,
    });
    assert_eq!(p.prep(S1, ttl).error(), Some(ErrorCode::BadArguments));
    p.apply_all();
    let owner = |path: &str| p.learner.view_of(path).map(|v| v.stat.ephemeral_owner);
    assert_eq!(owner("/c0"), Some(stat::CONTAINER_OWNER));
    assert_eq!(owner("/n4"), Some(0));
    assert_eq!(owner("/e"), Some(S1));
}
