//! Durability through a real client (the Rust `zookeeper-client` crate) on real `zablab server`
//! processes on 127.0.0.1:
//! * a write loop while the leader and then a follower are killed -9 and restarted: every
//!   acknowledged write is on every server; then the whole cluster is killed and restarted:
//!   every server's tree is complete and equal (same children, same data, same zxid and node
//!   count in `srvr`);
//! * a leader that logged a proposal it could not commit (both followers SIGSTOPped) is killed
//!   -9, the followers elect, and the old leader rejoins through TRUNC (from its trace); the
//!   uncommitted node is nowhere;
//! * a follower down while more than 500 transactions (the committed-log window) commit rejoins
//!   through SNAP (from its trace).
//!
//! Only processes started here are signalled, by their own PIDs.

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use tokio::time::timeout;
use zablab_node::tools::cluster::{write_configs, ClusterOptions, Planned};
use zookeeper_client as zk;
use zookeeper_client::{Acls, Client, CreateMode};

const LIMIT: Duration = Duration::from_secs(60);

struct Ensemble {
    dir: TempDir,
    planned: Vec<Planned>,
    servers: Vec<Server>,
    base: u16,
}

impl Ensemble {
    fn start(tag: &str) -> Ensemble {
        let dir = TempDir::new(tag);
        let base = free_base_port(3);
        let opts = ClusterOptions {
            base_port: base,
            dir: Some(dir.0.clone()),
            ..ClusterOptions::default()
        };
        let planned = write_configs(&dir.0, &opts).expect("configs");
        // ZooKeeper's switch that turns DIFF from the transaction log off: a follower behind
        // the committed log then gets SNAP, which the SNAP case below needs (the DIFF from the
        // log has its own test, node/tests/txn_log_sync.rs).
        for p in &planned {
            let mut cfg = std::fs::read_to_string(&p.config).expect("config");
            cfg.push_str("snapshotSizeFactor=-1\n");
            std::fs::write(&p.config, cfg).expect("write config");
        }
        let mut e = Ensemble {
            dir,
            planned,
            servers: Vec::new(),
            base,
        };
        for i in 0..3 {
            let s = e.spawn(i, None);
            e.servers.push(s);
        }
        e.wait_leader(3);
        e
    }

    fn log(&self, i: usize) -> std::path::PathBuf {
        self.dir.0.join(format!("{}", i + 1)).join("server.log")
    }

    fn spawn(&self, i: usize, trace: Option<&str>) -> Server {
        let extra: Vec<&str> = match trace {
            Some(a) => vec!["--trace-addr", a, "--trace-wait", "20000"],
            None => vec![],
        };
        Server::start(&self.planned[i].config, &extra, &self.log(i))
    }

    fn addr(&self, i: usize) -> String {
        self.planned[i].client_addr.clone()
    }

    fn addrs(&self) -> Vec<String> {
        (0..3).map(|i| self.addr(i)).collect()
    }

    fn hosts(&self) -> String {
        (0..3).map(|i| self.addr(i)).collect::<Vec<_>>().join(",")
    }

    fn pid(&self, i: usize) -> u32 {
        self.servers[i].child.as_ref().expect("running").id()
    }

    /// Waits until `serving` running servers serve with exactly one leader; returns its index.
    fn wait_leader(&self, serving: usize) -> usize {
        wait_for(LIMIT, "one leader and all others following", || {
            let m: Vec<Option<String>> = (0..3)
                .map(|i| {
                    if self.servers.get(i).is_some_and(|s| s.child.is_some()) {
                        mode(&self.addr(i))
                    } else {
                        None
                    }
                })
                .collect();
            let leaders: Vec<usize> = (0..3)
                .filter(|i| m[*i].as_deref() == Some("leader"))
                .collect();
            let followers = m
                .iter()
                .filter(|x| x.as_deref() == Some("follower"))
                .count();
            (leaders.len() == 1 && followers + 1 == serving).then(|| leaders[0])
        })
    }

    /// Restarts server `i` with a trace stream and returns the sync packet it received.
    fn restart_traced(&mut self, i: usize, trace_port: u16) -> String {
        let addr = format!("127.0.0.1:{trace_port}");
        self.servers[i] = self.spawn(i, Some(&addr));
        sync_kind_from_trace(&addr)
    }
}

/// Reads a server's trace until it shows the DIFF, TRUNC or SNAP it received.
fn sync_kind_from_trace(addr: &str) -> String {
    let mut trace = common::trace::TraceReader::connect(addr, LIMIT);
    match trace.sync_packet(LIMIT) {
        Some((kind, _)) => kind,
        None => panic!("no DIFF/TRUNC/SNAP in the trace of {addr}"),
    }
}

async fn connect(hosts: &str) -> Client {
    timeout(
        Duration::from_secs(20),
        Client::connector()
            .with_session_timeout(Duration::from_secs(20))
            .connect(hosts),
    )
    .await
    .expect("connect in time")
    .expect("connect")
}

fn open() -> zk::CreateOptions<'static> {
    CreateMode::Persistent.with_acls(Acls::anyone_all())
}

/// Every path under `root` (children of `root`, one level) with its data, read through server
/// `addr` after a sync.
async fn read_all(addr: &str, root: &str) -> Vec<(String, Vec<u8>)> {
    let c = connect(addr).await;
    timeout(Duration::from_secs(10), c.sync(root))
        .await
        .expect("sync in time")
        .expect("sync");
    let mut kids = c.list_children(root).await.expect("ls");
    kids.sort();
    let mut out = Vec::new();
    for k in kids {
        let p = format!("{root}/{k}");
        let (d, _) = c.get_data(&p).await.expect("get");
        out.push((p, d));
    }
    out
}

fn srvr_field(addr: &str, key: &str) -> String {
    four_letter(addr, "srvr")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .map(|v| v.trim().to_string())
        .unwrap_or_default()
}

/// Every server holds every acknowledged path with its data, and all three trees agree.
async fn check_all(addrs: &[String], root: &str, acked: &BTreeSet<String>, when: &str) {
    let mut views = Vec::new();
    for (i, addr) in addrs.iter().enumerate() {
        let v = read_all(addr, root).await;
        let have: BTreeSet<String> = v.iter().map(|(p, _)| p.clone()).collect();
        let missing: Vec<&String> = acked.difference(&have).collect();
        assert!(
            missing.is_empty(),
            "{when}: server {} lacks {} acknowledged writes, e.g. {:?}",
            i + 1,
            missing.len(),
            missing.first()
        );
        for (p, d) in &v {
            let want = p.rsplit('-').next().unwrap_or_default().as_bytes();
            assert_eq!(d.as_slice(), want, "{when}: data of {p}");
        }
        views.push(v);
    }
    assert!(
        views[0] == views[1] && views[1] == views[2],
        "{when}: the three servers' trees differ ({} / {} / {} nodes)",
        views[0].len(),
        views[1].len(),
        views[2].len()
    );
    eprintln!(
        "{when}: {} acknowledged writes present on all 3 servers, {} nodes each, trees equal",
        acked.len(),
        views[0].len()
    );
}

/// A write loop: creates root/k-N with data N through `hosts` until `stop`, reconnecting after
/// an expired session. Returns the acknowledged paths and how many attempts failed.
async fn write_loop(hosts: String, root: String, stop: Arc<AtomicBool>) -> (BTreeSet<String>, u32) {
    let mut acked = BTreeSet::new();
    let mut failed = 0u32;
    let mut client = connect(&hosts).await;
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let p = format!("{root}/k-{n}");
        let r = timeout(
            Duration::from_secs(5),
            client.create(&p, n.to_string().as_bytes(), &open()),
        )
        .await;
        match r {
            Ok(Ok(_)) => {
                acked.insert(p);
            }
            Ok(Err(zk::Error::SessionExpired | zk::Error::ClientClosed)) => {
                failed += 1;
                eprintln!("write loop: session ended, reconnecting");
                if let Ok(Ok(c)) = timeout(
                    Duration::from_secs(20),
                    Client::connector()
                        .with_session_timeout(Duration::from_secs(20))
                        .connect(&hosts),
                )
                .await
                {
                    client = c;
                }
            }
            Ok(Err(_)) | Err(_) => {
                failed += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    (acked, failed)
}

fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> tokio::task::JoinHandle<T> {
    tokio::task::spawn_blocking(f)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill9_of_leader_then_follower_and_a_full_restart() {
    let e = Arc::new(Mutex::new(
        blocking(|| Ensemble::start("dur-loop"))
            .await
            .expect("start"),
    ));
    let (hosts, addrs) = {
        let g = e.lock().expect("lock");
        (g.hosts(), g.addrs())
    };
    let root = "/dur".to_string();
    connect(&hosts)
        .await
        .create(&root, b"", &open())
        .await
        .expect("root");
    let stop = Arc::new(AtomicBool::new(false));
    let writer = tokio::spawn(write_loop(hosts.clone(), root.clone(), stop.clone()));
    let pause = || tokio::time::sleep(Duration::from_millis(1500));
    pause().await;

    // kill -9 the leader, let the others elect, restart it.
    let e2 = e.clone();
    blocking(move || {
        let mut e = e2.lock().expect("lock");
        let l = e.wait_leader(3);
        eprintln!("kill -9 leader server {} (pid {})", l + 1, e.pid(l));
        e.servers[l].kill9();
        let nl = e.wait_leader(2);
        eprintln!("server {} leads", nl + 1);
    })
    .await
    .expect("kill leader");
    pause().await;
    let e2 = e.clone();
    blocking(move || {
        let mut e = e2.lock().expect("lock");
        let down = (0..3)
            .find(|i| e.servers[*i].child.is_none())
            .expect("down");
        let tp = e.base + 3000 + down as u16;
        let kind = e.restart_traced(down, tp);
        eprintln!("old leader server {} rejoined with {kind}", down + 1);
        e.wait_leader(3);
    })
    .await
    .expect("restart leader");
    pause().await;

    // kill -9 a follower, restart it.
    let e2 = e.clone();
    blocking(move || {
        let mut e = e2.lock().expect("lock");
        let l = e.wait_leader(3);
        let f = (l + 1) % 3;
        eprintln!("kill -9 follower server {} (pid {})", f + 1, e.pid(f));
        e.servers[f].kill9();
    })
    .await
    .expect("kill follower");
    pause().await;
    let e2 = e.clone();
    blocking(move || {
        let mut e = e2.lock().expect("lock");
        let down = (0..3)
            .find(|i| e.servers[*i].child.is_none())
            .expect("down");
        e.servers[down] = e.spawn(down, None);
        e.wait_leader(3);
    })
    .await
    .expect("restart follower");
    pause().await;
    stop.store(true, Ordering::Relaxed);
    let (acked, failed) = writer.await.expect("writer");
    eprintln!(
        "write loop: {} acknowledged, {failed} failed attempts",
        acked.len()
    );
    assert!(acked.len() >= 20, "the loop made progress: {}", acked.len());
    check_all(
        &addrs,
        &root,
        &acked,
        "after kill -9 of leader and follower",
    )
    .await;

    // Stop the whole cluster (kill -9 every server) and start it again.
    let e2 = e.clone();
    let before: Vec<(String, String)> = blocking(move || {
        let mut e = e2.lock().expect("lock");
        let z: Vec<(String, String)> = (0..3)
            .map(|i| {
                (
                    srvr_field(&e.addr(i), "Zxid: "),
                    srvr_field(&e.addr(i), "Node count: "),
                )
            })
            .collect();
        for s in e.servers.iter_mut() {
            s.kill9();
        }
        for i in 0..3 {
            e.servers[i] = e.spawn(i, None);
        }
        e.wait_leader(3);
        z
    })
    .await
    .expect("full restart");
    check_all(&addrs, &root, &acked, "after a full restart").await;
    let e2 = e.clone();
    let after: Vec<(String, String)> = blocking(move || {
        let e = e2.lock().expect("lock");
        (0..3)
            .map(|i| {
                (
                    srvr_field(&e.addr(i), "Zxid: "),
                    srvr_field(&e.addr(i), "Node count: "),
                )
            })
            .collect()
    })
    .await
    .expect("srvr");
    eprintln!("srvr before restart {before:?}, after {after:?}");
    assert!(
        after.iter().all(|a| a.1 == after[0].1 && !a.1.is_empty()),
        "node counts equal after restart: {after:?}"
    );
    assert!(
        before.iter().all(|b| b.1 == after[0].1),
        "node count unchanged by the restart: {before:?} -> {after:?}"
    );
    let e2 = e.clone();
    blocking(move || drop(e2.lock().expect("lock").servers.drain(..)))
        .await
        .expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uncommitted_proposal_is_truncated_and_a_far_behind_follower_gets_a_snapshot() {
    let e = Arc::new(Mutex::new(
        blocking(|| Ensemble::start("dur-sync"))
            .await
            .expect("start"),
    ));
    let (hosts, addrs, leader, leader_addr) = {
        let g = e.lock().expect("lock");
        let l = g.wait_leader(3);
        (g.hosts(), g.addrs(), l, g.addr(l))
    };
    let c = connect(&hosts).await;
    c.create("/t", b"", &open()).await.expect("/t");
    for i in 0..5 {
        c.create(&format!("/t/k-{i}"), i.to_string().as_bytes(), &open())
            .await
            .expect("create");
    }
    let mut acked: BTreeSet<String> = (0..5).map(|i| format!("/t/k-{i}")).collect();

    // ---- TRUNC: the leader logs a proposal that cannot commit, then dies. ----
    // The followers are killed -9 first (SIGSTOP is not enough: the PROPOSAL would wait in a
    // stopped follower's socket buffer, be logged after SIGCONT, and be committed by the next
    // leader, correctly, so the old leader would get DIFF).
    let lc = connect(&leader_addr).await;
    let e2 = e.clone();
    blocking(move || {
        let mut g = e2.lock().expect("lock");
        for i in (0..3).filter(|i| *i != leader) {
            eprintln!("kill -9 follower server {} (pid {})", i + 1, g.pid(i));
            g.servers[i].kill9();
        }
    })
    .await
    .expect("kill followers");
    let r = timeout(
        Duration::from_millis(1000),
        lc.create("/t/uncommitted", b"x", &open()),
    )
    .await;
    assert!(
        !matches!(r, Ok(Ok(_))),
        "a write with both followers down cannot be acknowledged: {r:?}"
    );
    let e2 = e.clone();
    blocking(move || {
        let mut g = e2.lock().expect("lock");
        eprintln!(
            "kill -9 leader server {} holding an uncommitted proposal",
            leader + 1
        );
        g.servers[leader].kill9();
        for i in (0..3).filter(|i| *i != leader) {
            g.servers[i] = g.spawn(i, None);
        }
    })
    .await
    .expect("kill leader, restart followers");
    let e2 = e.clone();
    let kind = blocking(move || {
        let mut g = e2.lock().expect("lock");
        let nl = g.wait_leader(2);
        eprintln!("server {} leads after the followers restarted", nl + 1);
        let tp = g.base + 3000;
        let k = g.restart_traced(leader, tp);
        g.wait_leader(3);
        k
    })
    .await
    .expect("restart");
    eprintln!("the old leader rejoined with {kind}");
    assert_eq!(
        kind, "TRUNC",
        "a server holding an uncommitted proposal gets TRUNC"
    );
    {
        for (i, addr) in addrs.iter().enumerate() {
            let v = read_all(addr, "/t").await;
            assert!(
                v.iter().all(|(p, _)| p != "/t/uncommitted"),
                "server {}: the uncommitted proposal was truncated",
                i + 1
            );
        }
        check_all(&addrs, "/t", &acked, "after TRUNC").await;
    }

    // ---- SNAP: a follower misses more than the committed-log window (500 txns). ----
    let e2 = e.clone();
    let follower = blocking(move || {
        let mut g = e2.lock().expect("lock");
        let l = g.wait_leader(3);
        let f = (l + 1) % 3;
        eprintln!("kill -9 follower server {}", f + 1);
        g.servers[f].kill9();
        f
    })
    .await
    .expect("kill follower");
    let c = connect(&hosts).await;
    let mut set = tokio::task::JoinSet::new();
    for i in 0..650u32 {
        let c = c.clone();
        set.spawn(async move {
            let p = format!("/t/s-{i}");
            c.create(&p, i.to_string().as_bytes(), &open())
                .await
                .map(|_| p)
        });
        if set.len() >= 64 {
            if let Some(r) = set.join_next().await {
                acked.insert(r.expect("task").expect("create"));
            }
        }
    }
    while let Some(r) = set.join_next().await {
        acked.insert(r.expect("task").expect("create"));
    }
    let e2 = e.clone();
    let kind = blocking(move || {
        let mut g = e2.lock().expect("lock");
        let tp = g.base + 3001;
        let k = g.restart_traced(follower, tp);
        g.wait_leader(3);
        k
    })
    .await
    .expect("restart follower");
    eprintln!("the follower 650 txns behind rejoined with {kind}");
    assert_eq!(
        kind, "SNAP",
        "a follower behind the committed-log window gets SNAP (transaction-log sync off)"
    );
    check_all(&addrs, "/t", &acked, "after SNAP").await;
    let e2 = e.clone();
    blocking(move || drop(e2.lock().expect("lock").servers.drain(..)))
        .await
        .expect("stop");
}
