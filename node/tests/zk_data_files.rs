//! ZooKeeper 3.8's own data files (node/src/codec/zk_files), checked against Apache ZooKeeper
//! itself: ZabLab reads the snapshot and transaction log a real ZooKeeper wrote, agrees with
//! the tree digest it recorded, and a real ZooKeeper starts on a snapshot ZabLab wrote and
//! serves its znodes without a digest mismatch. Skips without Java and Debian's zookeeper
//! (fails instead with ZABLAB_REQUIRE_CLIENTS=1, as CI runs it).

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::real_zk::{self, RealZk};
use common::TempDir;
use zablab_core::tree::{digest_id, Acl, CreateMode, NodeRecord, StatPersisted};
use zablab_node::codec::zk_files::snapshot::ZkSnapshot;
use zablab_node::codec::zk_files::txn_log::{read_log, LogEnd};
use zablab_node::codec::zk_files::{zxid_from_file_name, VERSION_DIR};
use zablab_node::tools::zkclient::{ConnectOptions, ZkClient};

const OPEN: i32 = 31;

async fn connect(addr: &str, timeout_ms: i32) -> ZkClient {
    let mut o = ConnectOptions::new(addr);
    o.session_timeout_ms = timeout_ms;
    ZkClient::connect(o).await.expect("connects").0
}

/// The files of one kind in `dataDir/version-2`, by zxid.
fn files(data: &Path, prefix: &str) -> BTreeMap<i64, Vec<u8>> {
    let dir = data.join(VERSION_DIR);
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(&dir).expect("version-2 exists").flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(z) = zxid_from_file_name(&name, prefix) {
            out.insert(z, std::fs::read(e.path()).expect("readable"));
        }
    }
    out
}

fn mismatches(zk: &RealZk) -> String {
    let mntr = common::four_letter(&zk.addr, "mntr").expect("mntr answers");
    mntr.lines()
        .find(|l| l.starts_with("zk_digest_mismatches_count"))
        .unwrap_or_else(|| panic!("mntr has zk_digest_mismatches_count:\n{mntr}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zablab_reads_what_apache_zookeeper_wrote_and_zookeeper_reads_what_zablab_wrote() {
    if !real_zk::available() {
        return;
    }
    let tmp = TempDir::new("zkfiles");
    let data = tmp.0.join("data");
    let p = common::free_port();

    // 1. Apache ZooKeeper writes a history: two sessions, creates, a sequential pair, a digest
    //    ACL, an ephemeral, a setData, a delete; one session closes, the other stays open.
    let mut zk = RealZk::start(&tmp.0, &data, p, &[]);
    let a = connect(&zk.addr, 10_000).await;
    let keeper = connect(&zk.addr, 30_000).await;
    let open = [Acl::new(OPEN, "world", "anyone")];
    let secret = [Acl::new(OPEN, "digest", &digest_id("bob:pw"))];
    a.create("/app", Some(b"v1"), &open, CreateMode::Persistent)
        .await
        .unwrap();
    let s0 = a
        .create("/app/seq-", None, &open, CreateMode::PersistentSequential)
        .await
        .unwrap();
    let s1 = a
        .create(
            "/app/seq-",
            Some(b""),
            &open,
            CreateMode::PersistentSequential,
        )
        .await
        .unwrap();
    a.create("/secret", Some(b"s"), &secret, CreateMode::Persistent)
        .await
        .unwrap();
    keeper
        .create("/e", Some(b"mine"), &open, CreateMode::Ephemeral)
        .await
        .unwrap();
    a.set_data("/app", Some(b"v2"), 0).await.unwrap();
    a.delete(&s0, -1).await.unwrap();
    a.close().await.unwrap();
    let keeper_id = keeper.session_id();
    zk.kill();

    // Its transaction log, read by ZabLab: every checksum holds, zxids 1, 2, 3… in order, the
    // opcodes of what was done (two createSessions, creates, setData, delete, closeSession).
    let logs = files(&data, "log");
    assert!(!logs.is_empty(), "ZooKeeper wrote a log");
    let mut types = Vec::new();
    let mut last = 0;
    for bytes in logs.values() {
        let log = read_log(bytes, 1 << 20).expect("the log reads");
        assert_eq!(log.end, LogEnd::Clean);
        for r in &log.records {
            assert_eq!(r.header.zxid, last + 1, "zxids are consecutive");
            last = r.header.zxid;
            types.push(r.header.txn_type);
        }
    }
    let creates: Vec<i32> = types
        .iter()
        .copied()
        .filter(|t| *t == 1 || *t == 15)
        .collect();
    assert_eq!(creates.len(), 5, "{types:?}");
    for op in [-10, 5, 2, -11] {
        assert!(types.contains(&op), "opcode {op} in {types:?}");
    }
    assert_eq!(types.iter().filter(|t| **t == -10).count(), 2, "{types:?}");

    // 2. ZooKeeper restarts on those files (it replays the log and writes a snapshot at the
    //    last zxid before it serves); what it serves is what ZabLab must find in that snapshot.
    let mut zk = RealZk::start(&tmp.0, &data, p, &[]);
    let b = connect(&zk.addr, 10_000).await;
    b.add_auth("digest", b"bob:pw").await.unwrap();
    let (app_data, app_stat) = b.get_data("/app", false).await.unwrap();
    let (secret_acl, _) = b.get_acl("/secret").await.unwrap();
    let e_stat = b
        .exists("/e", false)
        .await
        .unwrap()
        .expect("/e survives the restart");
    let children = b.get_children("/app", false).await.unwrap();
    b.close().await.unwrap();
    zk.kill();

    let snaps = files(&data, "snapshot");
    let (&snap_zxid, bytes) = snaps.last_key_value().expect("a snapshot");
    assert_eq!(
        snap_zxid, last,
        "the start-up snapshot is at the last logged zxid"
    );
    let snap = ZkSnapshot::decode(bytes).expect("ZooKeeper's snapshot decodes");
    let app = &snap.nodes["/app"];
    assert_eq!(app.data.as_deref(), app_data.as_deref());
    assert_eq!(app_data.as_deref(), Some(&b"v2"[..]));
    assert_eq!((app.stat.mzxid, app.stat.version), (app_stat.mzxid, 1));
    // The file keeps child creates (2); the Stat served is creates + deletes (2 × 2 − 1 child).
    assert_eq!(app.stat.cversion, 2);
    assert_eq!(
        app_stat.cversion,
        2 * app.stat.cversion - children.len() as i32
    );
    assert_eq!(app.stat.pzxid, app_stat.pzxid);
    assert_eq!(snap.nodes["/secret"].acl, secret_acl);
    assert_eq!(snap.nodes["/secret"].acl, secret.to_vec());
    assert_eq!(snap.nodes["/e"].stat.ephemeral_owner, keeper_id);
    assert_eq!(e_stat.ephemeral_owner, keeper_id);
    assert_eq!(snap.sessions.get(&keeper_id), Some(&30_000));
    assert_eq!(
        snap.sessions.len(),
        1,
        "the closed session is gone: {:?}",
        snap.sessions
    );
    let names: Vec<&str> = snap
        .nodes
        .keys()
        .filter_map(|p| p.strip_prefix("/app/"))
        .collect();
    assert_eq!(
        names,
        children.iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert_eq!(format!("/app/{}", names[0]), s1);
    assert!(snap.nodes.contains_key("/zookeeper/quota"));
    // ZooKeeper's digest of its tree, and ZabLab's computation of it from the nodes it read.
    let digest = snap.digest.expect("ZooKeeper 3.8 records the digest");
    assert_eq!(digest.zxid, snap_zxid);
    assert_eq!(
        digest.digest,
        snap.computed_digest(),
        "ZabLab computes ZooKeeper's tree digest"
    );
    // Encoding what was decoded decodes to the same content.
    assert_eq!(ZkSnapshot::decode(&snap.encode()).as_ref(), Ok(&snap));

    // 3. ZabLab writes a snapshot one zxid later with a node of its own; a fresh ZooKeeper
    //    starts on it alone, serves it, and finds the digest ZabLab wrote right.
    let z = snap_zxid + 1;
    let mut mine = snap.clone();
    mine.nodes.insert(
        "/from-zablab".to_string(),
        NodeRecord {
            data: Some(b"hello".to_vec()),
            acl: secret.to_vec(),
            stat: StatPersisted {
                czxid: z,
                mzxid: z,
                pzxid: z,
                ctime: 1_700_000_000_000,
                mtime: 1_700_000_000_000,
                ..StatPersisted::default()
            },
        },
    );
    let root = mine.nodes.get_mut("/").unwrap();
    root.stat.cversion += 1;
    root.stat.pzxid = z;
    let good = ZkSnapshot {
        digest: Some(zablab_node::codec::zk_files::snapshot::ZxidDigest {
            zxid: z,
            digest: mine.computed_digest(),
            ..digest
        }),
        ..mine.clone()
    };
    for (tag, snapshot, expected) in [
        ("good", good.clone(), "zk_digest_mismatches_count\t0"),
        (
            "bad",
            ZkSnapshot {
                digest: good
                    .digest
                    .map(|d| zablab_node::codec::zk_files::snapshot::ZxidDigest {
                        digest: d.digest.wrapping_add(1),
                        ..d
                    }),
                ..good.clone()
            },
            "zk_digest_mismatches_count\t1",
        ),
    ] {
        let fresh = tmp.0.join(format!("fresh-{tag}"));
        std::fs::create_dir_all(fresh.join(VERSION_DIR)).unwrap();
        let name = zablab_node::codec::zk_files::snapshot_file_name(z);
        std::fs::write(fresh.join(VERSION_DIR).join(name), snapshot.encode()).unwrap();
        let zk = RealZk::start(&tmp.0, &fresh, common::free_port(), &[]);
        // The digest check runs as the snapshot loads; the control run shows it can fail.
        assert_eq!(
            mismatches(&zk),
            expected,
            "{tag} digest:\n{}",
            zk.log_text()
        );
        let c = connect(&zk.addr, 10_000).await;
        c.add_auth("digest", b"bob:pw").await.unwrap();
        let (d, stat) = c.get_data("/from-zablab", false).await.unwrap();
        assert_eq!(d.as_deref(), Some(&b"hello"[..]));
        assert_eq!(stat.czxid, z);
        assert_eq!(c.get_acl("/from-zablab").await.unwrap().0, secret.to_vec());
        assert_eq!(
            c.get_data("/app", false).await.unwrap().0.as_deref(),
            Some(&b"v2"[..])
        );
        let mut kids = c.get_children("/", false).await.unwrap();
        kids.sort();
        assert_eq!(kids, ["app", "e", "from-zablab", "secret", "zookeeper"]);
        // ZooKeeper continues the history from the snapshot's zxid.
        let s = c.set_data("/app", Some(b"v3"), -1).await.unwrap();
        assert!(s.mzxid > z, "next zxid {:#x} after {z:#x}", s.mzxid);
        c.close().await.unwrap();
        drop(zk);
    }
}
