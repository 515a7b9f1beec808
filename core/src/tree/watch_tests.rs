//! Tests of the watch trigger table of docs/protocol.md §5.8: which op fires which event for which
//! watch, one-shot vs persistent vs recursive, the READ check, removeWatches/checkWatches and
//! setWatches.

use alloc::vec;
use alloc::vec::Vec;

use super::acl::open_acl_unsafe;
use super::apply_tests::{create, create_req, delete, set_data, H, S1};
use super::*;

fn ev(t: &mut DataTree) -> Vec<(ConnId, EventType, alloc::string::String)> {
    t.take_watch_events()
        .into_iter()
        .map(|(c, e)| (c, e.event_type, e.path))
        .collect()
}

fn get_data(path: &str) -> ReadRequest {
    ReadRequest::GetData {
        path: path.into(),
        watch: true,
    }
}
fn exists(path: &str) -> ReadRequest {
    ReadRequest::Exists {
        path: path.into(),
        watch: true,
    }
}
fn children(path: &str) -> ReadRequest {
    ReadRequest::GetChildren {
        path: path.into(),
        watch: true,
    }
}

#[test]
fn create_fires_node_created_and_parent_children_changed() {
    let mut h = H::new();
    assert_eq!(
        h.t.read(1, S1, &[], &exists("/a")),
        Err(ErrorCode::NoNode),
        "exists watches a missing node"
    );
    h.t.read(2, S1, &[], &children("/")).unwrap();
    assert_eq!(
        h.t.read(3, S1, &[], &get_data("/a")),
        Err(ErrorCode::NoNode)
    );
    h.create("/a", 0).unwrap();
    let zxid = crate::zxid::Zxid::new(1, h.z).0 as i64;
    let raw = h.t.take_watch_events();
    assert!(raw.iter().all(|(_, e)| e.zxid == zxid));
    let got: Vec<_> = raw
        .into_iter()
        .map(|(c, e)| (c, e.event_type, e.path))
        .collect();
    assert_eq!(
        got,
        vec![
            (1, EventType::NodeCreated, "/a".into()),
            (2, EventType::NodeChildrenChanged, "/".into())
        ]
    );
    h.create("/b", 0).unwrap();
    assert!(ev(&mut h.t).is_empty(), "one-shot watches are gone");
}

#[test]
fn set_data_fires_data_changed_and_set_acl_fires_nothing() {
    let mut h = H::new();
    h.create("/a", 0).unwrap();
    h.t.read(1, S1, &[], &get_data("/a")).unwrap();
    h.t.read(2, S1, &[], &exists("/a")).unwrap();
    h.t.read(3, S1, &[], &children("/a")).unwrap();
    let acl = WriteOp::SetAcl(SetAclRequest {
        path: "/a".into(),
        acl: open_acl_unsafe(),
        version: -1,
    });
    h.w(S1, acl).unwrap();
    assert!(ev(&mut h.t).is_empty());
    h.w(S1, set_data("/a", b"x", -1)).unwrap();
    assert_eq!(
        ev(&mut h.t),
        vec![
            (1, EventType::NodeDataChanged, "/a".into()),
            (2, EventType::NodeDataChanged, "/a".into())
        ]
    );
}

#[test]
fn delete_fires_node_deleted_once_per_watcher_and_parent_children_changed() {
    let mut h = H::new();
    h.create("/p", 0).unwrap();
    h.create("/p/c", 0).unwrap();
    h.t.read(1, S1, &[], &get_data("/p/c")).unwrap();
    h.t.read(1, S1, &[], &children("/p/c")).unwrap(); // same watcher in both tables
    h.t.read(2, S1, &[], &children("/p/c")).unwrap();
    h.t.read(3, S1, &[], &children("/p")).unwrap();
    h.w(S1, delete("/p/c", -1)).unwrap();
    assert_eq!(
        ev(&mut h.t),
        vec![
            (1, EventType::NodeDeleted, "/p/c".into()),
            (2, EventType::NodeDeleted, "/p/c".into()),
            (3, EventType::NodeChildrenChanged, "/p".into()),
        ]
    );
    assert_eq!(
        h.t.watch_count(),
        0,
        "NodeDeleted consumed the child watch of conn 1 too"
    );
}

#[test]
fn persistent_watch_stays_and_sees_children_recursive_never_does() {
    let mut h = H::new();
    h.create("/a", 0).unwrap();
    h.t.add_watch(1, &[], "/a", AddWatchMode::Persistent)
        .unwrap();
    h.t.add_watch(2, &[], "/a", AddWatchMode::PersistentRecursive)
        .unwrap();
    h.w(S1, set_data("/a", b"1", -1)).unwrap();
    h.w(S1, set_data("/a", b"2", -1)).unwrap();
    assert_eq!(ev(&mut h.t).len(), 4, "both fire twice");
    h.create("/a/b", 0).unwrap();
    assert_eq!(
        ev(&mut h.t),
        vec![
            (2, EventType::NodeCreated, "/a/b".into()),
            (1, EventType::NodeChildrenChanged, "/a".into())
        ]
    );
    h.create("/a/b/c", 0).unwrap();
    h.w(S1, set_data("/a/b/c", b"x", -1)).unwrap();
    h.w(S1, delete("/a/b/c", -1)).unwrap();
    let got = ev(&mut h.t);
    assert!(
        got.iter().all(|(c, _, _)| *c == 2),
        "only the recursive watch sees grandchildren: {got:?}"
    );
    assert_eq!(
        got.iter().map(|(_, t, _)| *t).collect::<Vec<_>>(),
        vec![
            EventType::NodeCreated,
            EventType::NodeDataChanged,
            EventType::NodeDeleted
        ]
    );
    assert!(h
        .t
        .add_watch(1, &[], "bad", AddWatchMode::Persistent)
        .is_err());
}

#[test]
fn events_need_read_permission_at_delivery() {
    let mut h = H::new();
    let mut r = create_req("/w", 0);
    r.acl = vec![Acl::new(perms::ALL, "digest", "u:h")];
    h.t.read(1, S1, &[], &exists("/w")).unwrap_err();
    h.t.read(2, S1, &[Id::new("digest", "u:h")], &exists("/w"))
        .unwrap_err();
    h.w(S1, WriteOp::Create(r)).unwrap();
    assert_eq!(ev(&mut h.t), vec![(2, EventType::NodeCreated, "/w".into())]);
}

#[test]
fn remove_and_check_watches_report_no_watcher() {
    let mut h = H::new();
    h.create("/a", 0).unwrap();
    assert_eq!(
        h.t.check_watches(1, "/a", WatcherType::Any),
        Err(ErrorCode::NoWatcher)
    );
    h.t.read(1, S1, &[], &get_data("/a")).unwrap();
    h.t.read(1, S1, &[], &children("/a")).unwrap();
    assert_eq!(h.t.check_watches(1, "/a", WatcherType::Data), Ok(()));
    assert_eq!(h.t.remove_watches(1, "/a", WatcherType::Children), Ok(()));
    assert_eq!(
        h.t.remove_watches(1, "/a", WatcherType::Children),
        Err(ErrorCode::NoWatcher)
    );
    assert_eq!(h.t.remove_watches(1, "/a", WatcherType::Any), Ok(()));
    assert_eq!(
        h.t.check_watches(1, "/a", WatcherType::Data),
        Err(ErrorCode::NoWatcher)
    );
    h.t.add_watch(1, &[], "/a", AddWatchMode::PersistentRecursive)
        .unwrap();
    assert_eq!(
        h.t.remove_watches(1, "/a", WatcherType::Persistent),
        Err(ErrorCode::NoWatcher)
    );
    assert_eq!(
        h.t.remove_watches(1, "/a", WatcherType::PersistentRecursive),
        Ok(())
    );
    h.t.read(1, S1, &[], &get_data("/a")).unwrap();
    h.t.remove_connection(1);
    assert_eq!(h.t.watch_count(), 0);
}

#[test]
fn set_watches_reregisters_or_fires_relative_to_last_zxid() {
    let mut h = H::new();
    h.create("/same", 0).unwrap();
    h.create("/kids", 0).unwrap();
    let last = crate::zxid::Zxid::new(1, h.z).0 as i64;
    h.create("/changed", 0).unwrap();
    h.create("/kids/new", 0).unwrap();
    let req = SetWatches {
        relative_zxid: last,
        data_watches: vec!["/same".into(), "/changed".into(), "/gone".into()],
        exist_watches: vec!["/same".into(), "/absent".into()],
        child_watches: vec!["/kids".into(), "/same".into()],
        persistent_watches: vec!["/p".into()],
        persistent_recursive_watches: vec!["/r".into()],
    };
    h.t.set_watches(9, &[], &req);
    let raw = h.t.take_watch_events();
    assert!(raw.iter().all(|(_, e)| e.zxid == -1));
    let got: Vec<_> = raw
        .into_iter()
        .map(|(_, e)| (e.event_type, e.path))
        .collect();
    assert_eq!(
        got,
        vec![
            (EventType::NodeDataChanged, "/changed".into()),
            (EventType::NodeDeleted, "/gone".into()),
            (EventType::NodeCreated, "/same".into()),
            (EventType::NodeChildrenChanged, "/kids".into()),
        ]
    );
    h.w(S1, set_data("/same", b"x", -1)).unwrap();
    h.create("/absent", 0).unwrap();
    h.create("/same/k", 0).unwrap();
    h.create("/r", 0).unwrap();
    h.create("/p", 0).unwrap();
    let got: Vec<_> = ev(&mut h.t).into_iter().map(|(_, t, p)| (t, p)).collect();
    assert_eq!(
        got,
        vec![
            (EventType::NodeDataChanged, "/same".into()),
            (EventType::NodeCreated, "/absent".into()),
            (EventType::NodeChildrenChanged, "/same".into()),
            (EventType::NodeCreated, "/r".into()),
            (EventType::NodeCreated, "/p".into()),
        ]
    );
}

#[test]
fn failed_writes_and_failed_multis_fire_nothing() {
    let mut h = H::new();
    h.t.read(1, S1, &[], &exists("/a")).unwrap_err();
    h.t.read(1, S1, &[], &children("/")).unwrap();
    let ops = vec![create("/a", 0), create("/a", 0)];
    h.w(S1, WriteOp::Multi(ops)).unwrap();
    assert!(ev(&mut h.t).is_empty());
    assert_eq!(h.w(S1, create("/x/y", 0)), Err(ErrorCode::NoNode));
    assert!(ev(&mut h.t).is_empty());
    h.w(S1, WriteOp::Multi(vec![create("/a", 0), create("/a/b", 0)]))
        .unwrap();
    assert_eq!(
        ev(&mut h.t),
        vec![
            (1, EventType::NodeCreated, "/a".into()),
            (1, EventType::NodeChildrenChanged, "/".into())
        ]
    );
}
