//! Tests of sessions (closeSession, moving between servers, leader-side expiry), container and
//! TTL deletion, and the read operations (docs/protocol.md §3.8, §5.9, §7.3–7.4).

use alloc::vec;
use alloc::vec::Vec;

use super::apply_tests::{create, create_req, delete, H, S1, S2};
use super::*;
use crate::machine::StateMachine;
use crate::time::Instant;
use crate::zxid::Zxid;

#[test]
fn close_session_removes_its_ephemerals_and_sessions_move_between_servers() {
    let mut h = H::new();
    h.create("/p", 0).unwrap();
    h.create("/p/e1", 1).unwrap();
    h.create("/p/e2-", 3).unwrap();
    h.w(S2, create("/p/other", 1)).unwrap();
    assert_eq!(h.stat("/p/e1").ephemeral_owner, S1);
    assert_eq!(
        h.t.get_ephemerals(S1, "/"),
        vec!["/p/e1", "/p/e2-0000000001"]
    );
    assert_eq!(h.t.get_ephemerals(S1, "/p/e2"), vec!["/p/e2-0000000001"]);
    assert!(
        h.t.validate_session(S1, &session_password(S1)),
        "any replica validates a reconnect"
    );
    assert!(!h.t.validate_session(S1, &[0; 16]));
    assert_eq!(
        h.w(S1, WriteOp::CloseSession),
        Ok(WriteResponse::CloseSession)
    );
    assert!(!h.t.validate_session(S1, &session_password(S1)));
    assert_eq!(h.stat("/p").num_children, 1);
    assert_eq!(h.stat("/p").pzxid, Zxid::new(1, h.z).0 as i64);
    assert!(h.t.get_ephemerals(S1, "").is_empty());
    assert_eq!(h.create("/x", 0), Err(ErrorCode::SessionExpired));
}

#[test]
fn leader_expires_sessions_by_tick_buckets_and_deletes_containers() {
    let mut h = H::new();
    h.t.on_leading(Instant(0));
    assert_eq!(h.t.expiry.deadline_of(S1), Some(12_000));
    h.t.touch_session(S2, 10_000, Instant(5_000));
    let txns = h.t.leader_tick(Instant(12_000));
    let closes: Vec<i64> = txns
        .iter()
        .filter(|t| t.op == WriteOp::CloseSession)
        .map(|t| t.session_id)
        .collect();
    assert_eq!(closes, vec![S1]);
    assert!(
        h.t.leader_tick(Instant(12_001))
            .iter()
            .all(|t| t.op != WriteOp::CloseSession),
        "proposed once"
    );
    let out = h
        .w(S1, WriteOp::CreateSession { timeout_ms: 6_000 })
        .unwrap();
    assert!(matches!(
        out,
        WriteResponse::CreateSession {
            session_id: S1,
            timeout_ms: 6_000
        }
    ));
    assert!(h.t.leader_tick(Instant(13_000)).is_empty());
    assert_eq!(h.t.expiry.deadline_of(S1), Some(21_000));
    // Containers: deleted once they had a child and are empty again; TTL after ttl ms idle.
    h.w(S1, WriteOp::CreateContainer(create_req("/c", 4)))
        .unwrap();
    h.create("/c/x", 0).unwrap();
    h.w(S1, delete("/c/x", -1)).unwrap();
    let mut t = create_req("/t", 5);
    t.data = None;
    let ttl = CreateTtlRequest {
        path: t.path,
        data: t.data,
        acl: t.acl,
        flags: 5,
        ttl: 50,
    };
    h.w(S1, WriteOp::CreateTtl(ttl)).unwrap();
    h.w(S1, WriteOp::CreateContainer(create_req("/unused", 4)))
        .unwrap();
    h.t.next_container_check_ms = 0;
    let txns = h.t.leader_tick(Instant(1_000_000));
    let dels: Vec<&WriteOp> = txns
        .iter()
        .map(|t| &t.op)
        .filter(|o| matches!(o, WriteOp::DeleteContainer { .. }))
        .collect();
    assert_eq!(
        dels,
        vec![
            &WriteOp::DeleteContainer { path: "/c".into() },
            &WriteOp::DeleteContainer { path: "/t".into() }
        ]
    );
    assert_eq!(
        h.w(0, WriteOp::DeleteContainer { path: "/c".into() }),
        Ok(WriteResponse::DeleteContainer)
    );
    h.create("/e", 1).unwrap();
    assert_eq!(
        h.w(0, WriteOp::DeleteContainer { path: "/e".into() }),
        Err(ErrorCode::BadVersion)
    );
    h.create("/t/k", 0).unwrap();
    assert_eq!(
        h.w(0, WriteOp::DeleteContainer { path: "/t".into() }),
        Err(ErrorCode::NotEmpty)
    );
    assert_eq!(
        h.w(
            0,
            WriteOp::DeleteContainer {
                path: "/gone".into()
            }
        ),
        Err(ErrorCode::NoNode)
    );
}

#[test]
fn reads_check_nul_existence_then_read_permission() {
    let mut h = H::new();
    h.create("/a", 0).unwrap();
    h.create("/a/b", 0).unwrap();
    h.create("/a/b/c", 0).unwrap();
    h.create("/ab", 0).unwrap();
    assert_eq!(h.t.exists(&[], "/a\0"), Err(ErrorCode::BadArguments));
    assert_eq!(h.t.get_data(&[], "/nope"), Err(ErrorCode::NoNode));
    assert_eq!(h.t.get_children(&[], "/a").unwrap().0, vec!["b"]);
    assert_eq!(h.t.get_all_children_number(&[], "/a"), Ok(2));
    assert_eq!(
        h.t.get_all_children_number(&[], "/"),
        Ok(h.t.node_count() as i32 - 1)
    );
    let multi = ReadRequest::MultiRead(vec![
        ReadRequest::GetData {
            path: "/a".into(),
            watch: false,
        },
        ReadRequest::GetChildren {
            path: "/nope".into(),
            watch: false,
        },
    ]);
    let Ok(ReadResponse::MultiRead(r)) = h.t.read(1, S1, &[], &multi) else {
        panic!()
    };
    assert!(r[0].is_ok());
    assert_eq!(r[1], Err(ErrorCode::NoNode));
    let mixed = ReadRequest::MultiRead(vec![ReadRequest::Exists {
        path: "/a".into(),
        watch: false,
    }]);
    assert_eq!(
        h.t.read(1, S1, &[], &mixed),
        Err(ErrorCode::MarshallingError)
    );
    let mut r = create_req("/secret", 0);
    r.acl = vec![Acl::new(perms::WRITE, "world", "anyone")];
    h.w(S1, WriteOp::Create(r)).unwrap();
    assert_eq!(h.t.exists(&[], "/secret"), Err(ErrorCode::NoAuth));
    assert_eq!(h.t.get_children(&[], "/secret"), Err(ErrorCode::NoAuth));
}
