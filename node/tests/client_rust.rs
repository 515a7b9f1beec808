//! The Rust `zookeeper-client` crate (0.11, unmodified, a dev-dependency) against a 3-server
//! `zablab cluster`, once through a follower and once through the leader: create in every mode,
//! sequential naming, get/set versions, one-shot and persistent-recursive watches, multi success
//! and atomic failure, digest ACL, sync, an ephemeral gone after close, and a session moved to
//! another server. The crate parses ConnectResponse strictly (docs/protocol.md §5.10).

mod common;
mod realclients;

use std::time::Duration;

use realclients::ZablabCluster;
use tokio::time::timeout;
use zookeeper_client as zk;
use zookeeper_client::{
    Acl, Acls, AddWatchMode, AuthId, Client, CreateMode, EventType, MultiWriteError,
    MultiWriteResult, Permission,
};

const T: Duration = Duration::from_secs(10);

async fn connect(addr: &str) -> Client {
    timeout(
        T,
        Client::connector()
            .with_session_timeout(Duration::from_secs(6))
            .connect(addr),
    )
    .await
    .expect("connect in time")
    .expect("connect")
}

async fn event<F: std::future::Future<Output = zk::WatchedEvent>>(f: F) -> zk::WatchedEvent {
    timeout(T, f).await.expect("watch event in time")
}

async fn exercise(primary: &str, other: &str, label: &str) {
    eprintln!("zookeeper-client via {label} {primary}, moving to {other}");
    let c = connect(primary).await;
    let sid = c.session_id().0;
    assert!(sid > 0, "session id {sid:#x} is positive with a server id");
    let root = format!("/rust-{label}");
    let open = CreateMode::Persistent.with_acls(Acls::anyone_all());

    // ---- create in every mode ----
    eprintln!("  {label}: create in every mode");
    let (st, _) = c.create(&root, b"r", &open).await.expect("create");
    assert_eq!((st.version, st.ephemeral_owner), (0, 0));
    assert!(matches!(
        c.create(&root, b"", &open).await,
        Err(zk::Error::NodeExists)
    ));
    assert!(matches!(
        c.create(&format!("{root}/a/b"), b"", &open).await,
        Err(zk::Error::NoNode)
    ));
    let eph = format!("{root}/eph");
    let (st, _) = c
        .create(
            &eph,
            b"e",
            &CreateMode::Ephemeral.with_acls(Acls::anyone_all()),
        )
        .await
        .expect("ephemeral");
    assert_eq!(st.ephemeral_owner, sid, "ephemeral owner is the session");
    let seq_opts = CreateMode::PersistentSequential.with_acls(Acls::anyone_all());
    let mut seqs = Vec::new();
    for _ in 0..3 {
        let (_, s) = c
            .create(&format!("{root}/seq-"), b"", &seq_opts)
            .await
            .expect("sequential");
        seqs.push(s.to_string());
    }
    assert_eq!(seqs, ["0000000001", "0000000002", "0000000003"]);
    let (st, s) = c
        .create(
            &format!("{root}/es-"),
            b"",
            &CreateMode::EphemeralSequential.with_acls(Acls::anyone_all()),
        )
        .await
        .expect("ephemeral sequential");
    assert_eq!(
        (s.to_string().as_str(), st.ephemeral_owner),
        ("0000000004", sid)
    );
    let (st, _) = c
        .create(
            &format!("{root}/cont"),
            b"c",
            &CreateMode::Container.with_acls(Acls::anyone_all()),
        )
        .await
        .expect("container");
    assert_eq!(st.ephemeral_owner, 0, "containers show ephemeralOwner 0");
    let (st, _) = c
        .create(
            &format!("{root}/ttl"),
            b"t",
            &CreateMode::Persistent
                .with_acls(Acls::anyone_all())
                .with_ttl(Duration::from_secs(60)),
        )
        .await
        .expect("ttl");
    assert_eq!(st.ephemeral_owner, 0, "TTL nodes show ephemeralOwner 0");
    let (_, s) = c
        .create(
            &format!("{root}/ttlseq-"),
            b"",
            &CreateMode::PersistentSequential
                .with_acls(Acls::anyone_all())
                .with_ttl(Duration::from_secs(60)),
        )
        .await
        .expect("ttl sequential");
    assert_eq!(s.to_string(), "0000000007");
    assert!(matches!(
        c.create(&format!("{eph}/x"), b"", &open).await,
        Err(zk::Error::NoChildrenForEphemerals)
    ));
    assert_eq!(
        c.list_ephemerals(&root).await.expect("getEphemerals").len(),
        2
    );
    assert_eq!(c.count_descendants_number(&root).await.expect("count"), 8);

    // ---- get/set with and without version ----
    eprintln!("  {label}: get/set with and without version");
    let st = c.set_data(&root, b"v1", None).await.expect("set");
    assert_eq!(st.version, 1);
    let st = c.set_data(&root, b"v2", Some(1)).await.expect("set v1");
    assert_eq!(st.version, 2);
    assert!(matches!(
        c.set_data(&root, b"bad", Some(1)).await,
        Err(zk::Error::BadVersion)
    ));
    let (data, st) = c.get_data(&root).await.expect("get");
    assert_eq!(
        (data.as_slice(), st.version, st.num_children),
        (&b"v2"[..], 2, 8)
    );
    assert!(matches!(
        c.delete(&format!("{root}/cont"), Some(3)).await,
        Err(zk::Error::BadVersion)
    ));
    assert!(matches!(
        c.delete(&root, None).await,
        Err(zk::Error::NotEmpty)
    ));
    let mut kids = c.list_children(&root).await.expect("ls");
    kids.sort();
    assert_eq!(
        kids,
        [
            "cont",
            "eph",
            "es-0000000004",
            "seq-0000000001",
            "seq-0000000002",
            "seq-0000000003",
            "ttl",
            "ttlseq-0000000007"
        ]
    );

    // ---- one-shot watches: exists, data, children ----
    eprintln!("  {label}: one-shot watches: exists, data, children");
    let w = format!("{root}/w");
    let (st, exists_watch) = c.check_and_watch_stat(&w).await.expect("exists watch");
    assert!(st.is_none());
    let (_, child_watch) = c.list_and_watch_children(&root).await.expect("ls watch");
    c.create(&w, b"1", &open).await.expect("create w");
    let ev = event(exists_watch.changed()).await;
    assert_eq!(
        (ev.event_type, ev.path.as_str()),
        (EventType::NodeCreated, w.as_str())
    );
    let ev = event(child_watch.changed()).await;
    assert_eq!(
        (ev.event_type, ev.path.as_str()),
        (EventType::NodeChildrenChanged, root.as_str())
    );
    let (_, _, data_watch) = c.get_and_watch_data(&w).await.expect("data watch");
    c.set_data(&w, b"2", None).await.expect("set w");
    let ev = event(data_watch.changed()).await;
    assert_eq!(ev.event_type, EventType::NodeDataChanged);

    // ---- persistent recursive watch ----
    eprintln!("  {label}: persistent recursive watch");
    let rec = format!("{root}/rec");
    c.create(&rec, b"", &open).await.expect("rec");
    let mut pw = c
        .watch(&rec, AddWatchMode::PersistentRecursive)
        .await
        .expect("addWatch");
    c.create(&format!("{rec}/a"), b"", &open).await.expect("a");
    c.create(&format!("{rec}/a/b"), b"", &open)
        .await
        .expect("b");
    c.set_data(&format!("{rec}/a/b"), b"x", None)
        .await
        .expect("set b");
    c.delete(&format!("{rec}/a/b"), None)
        .await
        .expect("delete b");
    c.create(&format!("{root}/outside"), b"", &open)
        .await
        .expect("outside");
    c.set_data(&rec, b"self", None).await.expect("set rec");
    let mut got = Vec::new();
    for _ in 0..5 {
        let ev = event(pw.changed()).await;
        got.push((ev.event_type, ev.path));
    }
    assert_eq!(
        got,
        [
            (EventType::NodeCreated, format!("{rec}/a")),
            (EventType::NodeCreated, format!("{rec}/a/b")),
            (EventType::NodeDataChanged, format!("{rec}/a/b")),
            (EventType::NodeDeleted, format!("{rec}/a/b")),
            (EventType::NodeDataChanged, rec.clone()),
        ],
        "recursive watch: descendants' events in order, nothing outside, no child events"
    );
    c.sync(&root).await.expect("sync");
    assert!(
        timeout(Duration::from_millis(300), pw.changed())
            .await
            .is_err(),
        "no further recursive events"
    );

    // ---- multi ----
    eprintln!("  {label}: multi");
    let mut m = c.new_multi_writer();
    m.add_create(&format!("{root}/m1"), b"a", &open)
        .expect("op");
    m.add_check_version(&root, 2).expect("op");
    m.add_set_data(&format!("{root}/m1"), b"a2", Some(0))
        .expect("op");
    m.add_delete(&format!("{root}/w"), None).expect("op");
    let res = m.commit().await.expect("multi succeeds");
    assert_eq!(res.len(), 4);
    assert!(
        matches!(&res[0], MultiWriteResult::Create { path, .. } if *path == format!("{root}/m1"))
    );
    assert!(matches!(res[1], MultiWriteResult::Check));
    assert!(matches!(&res[2], MultiWriteResult::SetData { stat } if stat.version == 1));
    assert!(matches!(res[3], MultiWriteResult::Delete));
    let mut m = c.new_multi_writer();
    m.add_create(&format!("{root}/m2"), b"", &open).expect("op");
    m.add_set_data(&format!("{root}/m1"), b"zz", None)
        .expect("op");
    m.add_delete(&format!("{root}/cont"), None).expect("op");
    m.add_check_version(&root, 7).expect("op");
    match m.commit().await {
        Err(MultiWriteError::OperationFailed {
            index: 3,
            source: zk::Error::BadVersion,
        }) => {}
        other => panic!("multi should fail at index 3 with BadVersion: {other:?}"),
    }
    assert!(c
        .check_stat(&format!("{root}/m2"))
        .await
        .expect("exists")
        .is_none());
    assert!(c
        .check_stat(&format!("{root}/cont"))
        .await
        .expect("exists")
        .is_some());
    assert_eq!(
        c.get_data(&format!("{root}/m1")).await.expect("get").0,
        b"a2"
    );

    // ---- digest ACL: denied, then allowed after auth ----
    eprintln!("  {label}: digest ACL: denied, then allowed after auth");
    let digest_id = digest("bob", "pw");
    let acl = [Acl::new(Permission::ALL, AuthId::new("digest", &digest_id))];
    let sec = format!("{root}/sec");
    c.create(
        &sec,
        b"s",
        &CreateMode::Persistent.with_acls(Acls::new(&acl)),
    )
    .await
    .expect("create with digest acl");
    assert!(matches!(c.get_data(&sec).await, Err(zk::Error::NoAuth)));
    assert!(matches!(c.get_acl(&sec).await, Err(zk::Error::NoAuth)));
    // Allowed after auth: see `digest_auth_through_the_rust_client`.

    // ---- ephemeral gone after its session closes (seen from another server) ----
    eprintln!("  {label}: ephemeral gone after its session closes (seen from another server)");
    let c2 = connect(other).await;
    let eph2 = format!("{root}/eph2");
    c2.create(
        &eph2,
        b"",
        &CreateMode::Ephemeral.with_acls(Acls::anyone_all()),
    )
    .await
    .expect("eph2");
    // The create went through another server: sync first, or c's server may not have applied
    // it yet and the exists watch would fire NodeCreated (as with ZooKeeper).
    c.sync(&eph2).await.expect("sync");
    let (_, gone) = c.check_and_watch_stat(&eph2).await.expect("watch eph2");
    drop(c2); // closes the session
    let ev = event(gone.changed()).await;
    assert_eq!(ev.event_type, EventType::NodeDeleted);

    // ---- a session moves to another server ----
    eprintln!("  {label}: a session moves to another server");
    let a = timeout(
        T,
        Client::connector()
            .with_session_timeout(Duration::from_secs(6))
            .with_detached()
            .connect(primary),
    )
    .await
    .expect("connect in time")
    .expect("connect");
    let moving = format!("{root}/moving");
    a.create(
        &moving,
        b"",
        &CreateMode::Ephemeral.with_acls(Acls::anyone_all()),
    )
    .await
    .expect("moving ephemeral");
    let info = a.into_session();
    let moved_id = info.id();
    let b = timeout(
        T,
        Client::connector()
            .with_session(info)
            .with_session_timeout(Duration::from_secs(6))
            .connect(other),
    )
    .await
    .expect("reconnect in time")
    .expect("reconnect to another server with id and password");
    assert_eq!(b.session_id(), moved_id, "same session on {other}");
    let st = b
        .check_stat(&moving)
        .await
        .expect("exists")
        .expect("ephemeral kept");
    assert_eq!(st.ephemeral_owner, moved_id.0);
    drop(b);
    c.sync(&root).await.expect("sync");
    let deadline = std::time::Instant::now() + T;
    while c.check_stat(&moving).await.expect("exists").is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "moved session's ephemeral removed on close"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // ---- clean up: the ephemeral of `c` goes with its session ----
    eprintln!("  {label}: clean up: the ephemeral of `c` goes with its session");
    drop(c);
    eprintln!("zookeeper-client via {label}: all checks passed");
}

/// `user:base64(sha1("user:pw"))`, computed independently (`printf bob:pw | openssl dgst -sha1
/// -binary | base64`).
fn digest(user: &str, pw: &str) -> String {
    assert_eq!((user, pw), ("bob", "pw"));
    "bob:ikIaKsbtGweaHnb/jKn7OHqbunM=".to_string()
}

/// The crate sends auth with a normal xid and waits for a reply with that xid, as ZooKeeper's
/// `processPacket` answers (`new ReplyHeader(h.getXid(), 0, ...)`). The node answers auth with
/// xid -4 (sessions.rs), which kazoo and the Java/C clients send, so this client waits forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_auth_through_the_rust_client() {
    let cluster = tokio::task::spawn_blocking(|| ZablabCluster::start("rustauth"))
        .await
        .expect("cluster");
    let (_, f1, _) = cluster.roles();
    let c = connect(&f1).await;
    let digest_id = digest("bob", "pw");
    let acl = [Acl::new(Permission::ALL, AuthId::new("digest", &digest_id))];
    let sec = "/rust-auth-sec".to_string();
    c.create(
        &sec,
        b"s",
        &CreateMode::Persistent.with_acls(Acls::new(&acl)),
    )
    .await
    .expect("create with digest acl");
    assert!(matches!(c.get_data(&sec).await, Err(zk::Error::NoAuth)));
    // ZooKeeper answers auth with the request's own xid (this crate does not use -4).
    timeout(T, c.auth("digest", b"bob:pw"))
        .await
        .expect("auth answered with the request's xid")
        .expect("auth");
    assert_eq!(c.get_data(&sec).await.expect("get after auth").0, b"s");
    let (acls, _) = c.get_acl(&sec).await.expect("getACL");
    assert_eq!(
        (acls[0].scheme(), acls[0].id()),
        ("digest", digest_id.as_str())
    );
    let users = c.list_auth_users().await.expect("whoami");
    assert!(
        users
            .iter()
            .any(|u| u.scheme() == "digest" && u.user() == "bob"),
        "whoami lists digest bob: {users:?}"
    );

    drop(c);
    tokio::task::spawn_blocking(move || drop(cluster))
        .await
        .expect("stop cluster");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zookeeper_client_crate_through_a_follower_and_through_the_leader() {
    let cluster = tokio::task::spawn_blocking(|| ZablabCluster::start("rustclient"))
        .await
        .expect("cluster");
    let (leader, f1, f2) = cluster.roles();
    exercise(&f1, &leader, "follower").await;
    exercise(&leader, &f2, "leader").await;
    tokio::task::spawn_blocking(move || drop(cluster))
        .await
        .expect("stop cluster");
}
