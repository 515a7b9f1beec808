//! One data directory, two servers: a `zablab server` starts on the dataDir an Apache
//! ZooKeeper 3.8 standalone wrote and serves the same tree (every znode's data, Stat and ACL,
//! the ephemeral of a session still open, the sequence counters), continuing its zxids, and
//! ZooKeeper then starts on what both wrote; and
//! Apache ZooKeeper starts on the dataDir a ZabLab server wrote (its snapshot and its log) and
//! serves the same, finding no digest mismatch. The store writes ZooKeeper's files
//! (`node/src/server/storage.rs`, `node/src/codec/zk_files/`), so no conversion runs in
//! between. Skips without Java and Debian's zookeeper (fails instead with
//! ZABLAB_REQUIRE_CLIENTS=1, as CI runs it).

mod common;

use std::path::Path;
use std::time::Duration;

use common::real_zk::{self, RealZk};
use common::{free_port, mode, wait_for, Server, TempDir};
use zablab_core::tree::{digest_id, Acl, CreateMode, Stat};
use zablab_node::codec::zk_files::{zxid_from_file_name, VERSION_DIR};
use zablab_node::tools::zkclient::{ConnectOptions, ZkClient};

const OPEN: i32 = 31;
const LIMIT: Duration = Duration::from_secs(40);

async fn connect(addr: &str, timeout_ms: i32) -> ZkClient {
    let mut o = ConnectOptions::new(addr);
    o.session_timeout_ms = timeout_ms;
    ZkClient::connect(o).await.expect("connects").0
}

fn open() -> Vec<Acl> {
    vec![Acl::new(OPEN, "world", "anyone")]
}

fn secret() -> Vec<Acl> {
    vec![Acl::new(OPEN, "digest", &digest_id("bob:pw"))]
}

/// One znode as a client sees it.
#[derive(Debug, PartialEq)]
struct Seen {
    path: String,
    data: Option<Vec<u8>>,
    stat: Stat,
    acl: Vec<Acl>,
    children: Vec<String>,
}

/// Every znode outside `/zookeeper`, depth first, as `c` (authenticated as bob) reads it.
async fn read_tree(c: &ZkClient) -> Vec<Seen> {
    let mut out = Vec::new();
    let mut todo = vec!["/".to_string()];
    while let Some(path) = todo.pop() {
        let (data, stat) = c.get_data(&path, false).await.expect("getData");
        let (acl, _) = c.get_acl(&path).await.expect("getACL");
        let mut children = c.get_children(&path, false).await.expect("getChildren");
        children.sort();
        for child in children.iter().rev() {
            let p = if path == "/" {
                format!("/{child}")
            } else {
                format!("{path}/{child}")
            };
            if p != "/zookeeper" {
                todo.push(p);
            }
        }
        out.push(Seen {
            path,
            data,
            stat,
            acl,
            children,
        });
    }
    out
}

/// The history both tests write: creates (one with a digest ACL), three sequential nodes of
/// which one is deleted, a setData, an ephemeral of `keeper`'s session. Returns the sequential
/// names.
async fn write_history(a: &ZkClient, keeper: &ZkClient) -> Vec<String> {
    a.add_auth("digest", b"bob:pw").await.unwrap();
    a.create("/app", Some(b"v1"), &open(), CreateMode::Persistent)
        .await
        .unwrap();
    let mut seq = Vec::new();
    for data in [&b"s0"[..], b"", b"s2"] {
        let name = a
            .create(
                "/app/seq-",
                Some(data),
                &open(),
                CreateMode::PersistentSequential,
            )
            .await
            .unwrap();
        seq.push(name);
    }
    a.create("/secret", Some(b"s"), &secret(), CreateMode::Persistent)
        .await
        .unwrap();
    a.create("/secret/inner", None, &secret(), CreateMode::Persistent)
        .await
        .unwrap();
    keeper
        .create("/e", Some(b"mine"), &open(), CreateMode::Ephemeral)
        .await
        .unwrap();
    a.set_data("/app", Some(b"v2"), 0).await.unwrap();
    a.delete(&seq[1], -1).await.unwrap();
    seq
}

/// The zxid `srvr` reports.
fn served_zxid(addr: &str) -> i64 {
    let srvr = common::four_letter(addr, "srvr").expect("srvr answers");
    let hex = srvr
        .lines()
        .find_map(|l| l.strip_prefix("Zxid: 0x"))
        .unwrap_or_else(|| panic!("srvr has a Zxid line:\n{srvr}"));
    i64::from_str_radix(hex.trim(), 16).expect("hex zxid")
}

/// The zxids in the names of one kind of file in `dir/version-2`.
fn file_zxids(dir: &Path, prefix: &str) -> Vec<i64> {
    let mut v: Vec<i64> = std::fs::read_dir(dir.join(VERSION_DIR))
        .expect("version-2")
        .flatten()
        .filter_map(|e| zxid_from_file_name(e.file_name().to_str()?, prefix))
        .collect();
    v.sort();
    v
}

fn zablab_standalone(dir: &Path, data: &Path, port: u16, extra: &str) -> Server {
    let cfg = dir.join(format!("zablab-{port}.cfg"));
    std::fs::write(
        &cfg,
        format!(
            "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
             4lw.commands.whitelist=*\n{extra}",
            data.display()
        ),
    )
    .expect("zoo.cfg");
    let s = Server::start(&cfg, &[], &dir.join(format!("zablab-{port}.log")));
    let addr = s.client.clone();
    wait_for(LIMIT, "the ZabLab standalone serving", || {
        (mode(&addr).as_deref() == Some("standalone")).then_some(())
    });
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zablab_serves_the_data_dir_apache_zookeeper_wrote_and_continues_it() {
    if !real_zk::available() {
        return;
    }
    let tmp = TempDir::new("zkdir-a");
    let data = tmp.0.join("data");

    // 1. Apache ZooKeeper writes the history; one session closes, `keeper`'s stays open.
    let mut zk = RealZk::start(&tmp.0, &data, free_port(), &[]);
    let a = connect(&zk.addr, 10_000).await;
    let keeper = connect(&zk.addr, 8_000).await;
    let seq = write_history(&a, &keeper).await;
    a.close().await.unwrap();
    let reader = connect(&zk.addr, 10_000).await;
    reader.add_auth("digest", b"bob:pw").await.unwrap();
    let zk_tree = read_tree(&reader).await;
    reader.close().await.unwrap();
    let keeper_id = keeper.session_id();
    let zk_last = served_zxid(&zk.addr);
    zk.kill();
    drop(keeper);
    assert!(
        !file_zxids(&data, "log").is_empty(),
        "ZooKeeper wrote a log"
    );

    // 2. ZabLab on the same dataDir (another port, so the open session cannot reconnect).
    let server = zablab_standalone(&tmp.0, &data, free_port(), "");
    let c = connect(&server.client, 10_000).await;
    c.add_auth("digest", b"bob:pw").await.unwrap();
    let ours = read_tree(&c).await;
    assert_eq!(
        ours.iter().map(|s| &s.path).collect::<Vec<_>>(),
        zk_tree.iter().map(|s| &s.path).collect::<Vec<_>>()
    );
    for (mine, theirs) in ours.iter().zip(&zk_tree) {
        assert_eq!(mine, theirs, "ZabLab serves {} as ZooKeeper did", mine.path);
    }
    let e = ours.iter().find(|s| s.path == "/e").expect("/e is served");
    assert_eq!(e.stat.ephemeral_owner, keeper_id);
    assert!(ours.iter().any(|s| s.path == seq[0]) && !ours.iter().any(|s| s.path == seq[1]));

    // 3. It continues: new zxids above ZooKeeper's, the sequence counter where it was.
    let s = c.set_data("/app", Some(b"v3"), 1).await.unwrap();
    assert!(
        s.mzxid > zk_last && s.mzxid >> 32 >= 1,
        "{:#x}: a new epoch after ZooKeeper's standalone (epoch 0) {zk_last:#x}",
        s.mzxid
    );
    let next = c
        .create("/app/seq-", None, &open(), CreateMode::PersistentSequential)
        .await
        .unwrap();
    assert_eq!(next, "/app/seq-0000000003");
    c.create("/after", Some(b"zablab"), &open(), CreateMode::Persistent)
        .await
        .unwrap();
    // The session ZooKeeper left open is ZabLab's now: unheard of, it expires and takes its
    // ephemeral with it.
    let mut gone = false;
    for _ in 0..200 {
        if c.exists("/e", false).await.unwrap().is_none() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(gone, "keeper's session (8 s) never expired on ZabLab");
    let zablab_tree = read_tree(&c).await;
    c.close().await.unwrap();
    let zablab_last = served_zxid(&server.client);
    let mut server = server;
    assert!(
        server.terminate(LIMIT).is_some_and(|st| st.success()),
        "ZabLab stops on SIGTERM"
    );

    // 4. And back: ZooKeeper on the same dataDir replays its own log and then ZabLab's (a
    //    file of its own after ZooKeeper's pre-allocated one) and serves what ZabLab did.
    let zk = RealZk::start(&tmp.0, &data, free_port(), &[]);
    assert_eq!(
        served_zxid(&zk.addr),
        zablab_last,
        "every ZabLab txn replayed"
    );
    let c = connect(&zk.addr, 10_000).await;
    c.add_auth("digest", b"bob:pw").await.unwrap();
    let back = read_tree(&c).await;
    assert_eq!(back, zablab_tree, "ZooKeeper serves what ZabLab served");
    assert!(back.iter().any(|s| s.path == "/after") && !back.iter().any(|s| s.path == "/e"));
    c.close().await.unwrap();
    let mntr = common::four_letter(&zk.addr, "mntr").expect("mntr answers");
    assert!(
        mntr.lines().any(|l| l == "zk_digest_mismatches_count\t0"),
        "no digest mismatch:\n{mntr}"
    );
    drop(zk);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apache_zookeeper_serves_the_data_dir_zablab_wrote() {
    if !real_zk::available() {
        return;
    }
    let tmp = TempDir::new("zkdir-b");
    let data = tmp.0.join("data");

    // 1. ZabLab writes the history, with a snapshot every few transactions, so ZooKeeper
    //    loads a snapshot ZabLab wrote and replays ZabLab's log after it.
    let mut server = zablab_standalone(&tmp.0, &data, free_port(), "snapCount=4\n");
    let a = connect(&server.client, 10_000).await;
    let keeper = connect(&server.client, 30_000).await;
    let seq = write_history(&a, &keeper).await;
    a.create("/tail", Some(b"last"), &open(), CreateMode::Persistent)
        .await
        .unwrap();
    a.close().await.unwrap();
    let reader = connect(&server.client, 10_000).await;
    reader.add_auth("digest", b"bob:pw").await.unwrap();
    let ours = read_tree(&reader).await;
    reader.close().await.unwrap();
    let keeper_id = keeper.session_id();
    let our_last = served_zxid(&server.client);
    // kill -9: every acknowledged write is in the log already.
    server.kill9();
    drop(keeper);
    let snaps = file_zxids(&data, "snapshot");
    assert!(
        snaps.iter().any(|z| *z > 0),
        "ZabLab wrote a snapshot of its own: {snaps:?}"
    );
    assert!(
        file_zxids(&data, "log").last() > snaps.last(),
        "and a log after it"
    );

    // 2. Apache ZooKeeper on the same dataDir.
    let zk = RealZk::start(&tmp.0, &data, free_port(), &[]);
    let mntr = common::four_letter(&zk.addr, "mntr").expect("mntr answers");
    assert!(
        mntr.lines().any(|l| l == "zk_digest_mismatches_count\t0"),
        "no digest mismatch:\n{mntr}\n{}",
        zk.log_text()
    );
    assert_eq!(
        served_zxid(&zk.addr),
        our_last,
        "ZooKeeper loaded every txn"
    );
    let c = connect(&zk.addr, 10_000).await;
    c.add_auth("digest", b"bob:pw").await.unwrap();
    let theirs = read_tree(&c).await;
    assert_eq!(
        theirs.iter().map(|s| &s.path).collect::<Vec<_>>(),
        ours.iter().map(|s| &s.path).collect::<Vec<_>>()
    );
    for (t, o) in theirs.iter().zip(&ours) {
        assert_eq!(t, o, "ZooKeeper serves {} as ZabLab did", t.path);
    }
    let e = theirs
        .iter()
        .find(|s| s.path == "/e")
        .expect("/e is served");
    assert_eq!(e.stat.ephemeral_owner, keeper_id);
    assert!(theirs.iter().any(|s| s.path == seq[2]));
    // ZooKeeper continues the history and the sequence counter.
    let s = c.set_data("/app", Some(b"v3"), 1).await.unwrap();
    assert!(s.mzxid > our_last, "{:#x} after {our_last:#x}", s.mzxid);
    let next = c
        .create("/app/seq-", None, &open(), CreateMode::PersistentSequential)
        .await
        .unwrap();
    assert_eq!(next, "/app/seq-0000000003");
    c.close().await.unwrap();
    let mntr = common::four_letter(&zk.addr, "mntr").expect("mntr answers");
    assert!(
        mntr.lines().any(|l| l == "zk_digest_mismatches_count\t0"),
        "no digest mismatch after the writes either:\n{mntr}"
    );
    drop(zk);
}
