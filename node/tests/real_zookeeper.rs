//! The codec and `zkclient` against a real Apache ZooKeeper 3.8 (Debian's `zookeeper`
//! package): a standalone server on a random loopback port, killed by PID at the end.
//! Skips (passes with a message) when Java or the ZooKeeper jars are missing, unless
//! ZABLAB_REQUIRE_CLIENTS=1 (CI) makes that a failure.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::timeout;
use zablab_core::tree::{
    Acl, AddWatchMode, CheckVersionRequest, CreateMode, CreateRequest, DeleteRequest, ErrorCode,
    OpResult, ReadRequest, ReadResponse, SetDataRequest, WatcherType, WriteOp,
};
use zablab_node::codec::proto::event;
use zablab_node::tools::zkclient::{first_error, ConnectOptions, WatchEvent, ZkClient, ZkError};

mod common;

/// A standalone Apache ZooKeeper on a random loopback port, killed (by its PID) and its
/// directory removed on drop.
pub struct RealZk {
    _zk: common::real_zk::RealZk,
    _dir: common::TempDir,
    pub addr: String,
}

/// Starts the server, or explains why it cannot and returns None.
pub async fn start_real_zk() -> Option<RealZk> {
    if !common::real_zk::available() {
        return None;
    }
    let dir = common::TempDir::new("realzk");
    let port = common::free_port();
    let (root, data) = (dir.0.clone(), dir.0.join("data"));
    let zk = tokio::task::spawn_blocking(move || {
        common::real_zk::RealZk::start(
            &root,
            &data,
            port,
            &["-Dzookeeper.extendedTypesEnabled=true"],
        )
    })
    .await
    .ok()?;
    Some(RealZk {
        addr: zk.addr.clone(),
        _zk: zk,
        _dir: dir,
    })
}

fn open() -> Vec<Acl> {
    vec![Acl::new(31, "world", "anyone")]
}

async fn next_event(rx: &mut UnboundedReceiver<WatchEvent>) -> WatchEvent {
    loop {
        let ev = timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("an event within 10 s")
            .expect("the event stream is open");
        if ev.event_type != event::NONE {
            return ev;
        }
    }
}

async fn connect(addr: &str) -> (ZkClient, UnboundedReceiver<WatchEvent>) {
    let mut o = ConnectOptions::new(addr);
    o.session_timeout_ms = 10_000;
    ZkClient::connect(o).await.expect("connects")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zkclient_against_apache_zookeeper() {
    let Some(zk) = start_real_zk().await else {
        return;
    };
    let (a, mut a_events) = connect(&zk.addr).await;
    let (b, _b_events) = connect(&zk.addr).await;
    assert!(a.session_id() > 0);
    assert_eq!(a.session_password().len(), 16);
    assert!((4000..=40_000).contains(&a.negotiated_timeout_ms()));

    // create, get, set with and without version.
    let p = a
        .create("/t", Some(b"v1"), &open(), CreateMode::Persistent)
        .await;
    assert_eq!(p, Ok("/t".to_string()));
    let (data, stat) = a.get_data("/t", false).await.expect("get");
    assert_eq!(data.as_deref(), Some(&b"v1"[..]));
    assert_eq!((stat.version, stat.data_length), (0, 2));
    assert_eq!(
        a.create("/t", None, &open(), CreateMode::Persistent).await,
        Err(ZkError::Code(ErrorCode::NodeExists))
    );
    assert_eq!(
        a.set_data("/t", Some(b"v2"), 0).await.map(|s| s.version),
        Ok(1)
    );
    assert_eq!(
        a.set_data("/t", Some(b"v3"), 0).await,
        Err(ZkError::Code(ErrorCode::BadVersion))
    );
    assert_eq!(
        a.set_data("/t", Some(b"v3"), -1).await.map(|s| s.version),
        Ok(2)
    );

    // Null and empty data stay distinct through the real server.
    a.create("/null", None, &open(), CreateMode::Persistent)
        .await
        .expect("create");
    a.create("/empty", Some(b""), &open(), CreateMode::Persistent)
        .await
        .expect("create");
    assert_eq!(a.get_data("/null", false).await.map(|d| d.0), Ok(None));
    assert_eq!(
        a.get_data("/empty", false).await.map(|d| d.0),
        Ok(Some(vec![]))
    );

    // An exists watch on a missing node fires once when another session creates it.
    assert_eq!(a.exists("/w", true).await, Ok(None));
    b.create("/w", None, &open(), CreateMode::Persistent)
        .await
        .expect("create");
    let ev = next_event(&mut a_events).await;
    assert_eq!(
        (ev.event_type, ev.path.as_str()),
        (event::NODE_CREATED, "/w")
    );
    assert_eq!(
        ev.to_string(),
        "WatchedEvent state:SyncConnected type:NodeCreated path:/w"
    );
    // A data watch, a child watch.
    a.get_data("/t", true).await.expect("get");
    b.set_data("/t", Some(b"x"), -1).await.expect("set");
    let ev = next_event(&mut a_events).await;
    assert_eq!(
        (ev.event_type, ev.path.as_str()),
        (event::NODE_DATA_CHANGED, "/t")
    );
    a.get_children("/t", true).await.expect("ls");
    let seq = b
        .create(
            "/t/s-",
            Some(b"1"),
            &open(),
            CreateMode::PersistentSequential,
        )
        .await
        .expect("sequential");
    assert!(
        seq.starts_with("/t/s-") && seq.len() == "/t/s-".len() + 10,
        "{seq}"
    );
    let ev = next_event(&mut a_events).await;
    assert_eq!(
        (ev.event_type, ev.path.as_str()),
        (event::NODE_CHILDREN_CHANGED, "/t")
    );

    // create2, container, TTL, getChildren2, getAllChildrenNumber.
    let (p2, st2) = a
        .create2("/t/c2", Some(b"abc"), &open(), CreateMode::Persistent)
        .await
        .expect("create2");
    assert_eq!((p2.as_str(), st2.data_length), ("/t/c2", 3));
    a.create2("/box", None, &open(), CreateMode::Container)
        .await
        .expect("container");
    a.create_ttl("/ttl", None, &open(), CreateMode::PersistentWithTtl, 60_000)
        .await
        .expect("ttl");
    let (kids, pstat) = a.get_children2("/t", false).await.expect("ls2");
    assert_eq!(kids.len(), 2);
    assert_eq!(pstat.num_children, 2);
    assert_eq!(a.get_all_children_number("/t").await, Ok(2));

    // multi: success, then an atomic failure where nothing applies.
    let ok = a
        .multi(vec![
            WriteOp::Create(CreateRequest {
                path: "/m1".into(),
                data: None,
                acl: open(),
                flags: 0,
            }),
            WriteOp::SetData(SetDataRequest {
                path: "/m1".into(),
                data: Some(b"d".to_vec()),
                version: 0,
            }),
            WriteOp::Check(CheckVersionRequest {
                path: "/m1".into(),
                version: 1,
            }),
        ])
        .await
        .expect("multi");
    assert!(matches!(ok[0], OpResult::Create { .. }), "{ok:?}");
    assert!(matches!(ok[1], OpResult::SetData { .. }), "{ok:?}");
    assert_eq!(ok[2], OpResult::Check);
    let failed = a
        .multi(vec![
            WriteOp::Create(CreateRequest {
                path: "/m3".into(),
                data: None,
                acl: open(),
                flags: 0,
            }),
            WriteOp::Delete(DeleteRequest {
                path: "/nope".into(),
                version: -1,
            }),
            WriteOp::Delete(DeleteRequest {
                path: "/m1".into(),
                version: -1,
            }),
        ])
        .await
        .expect("multi answers");
    assert_eq!(
        failed,
        vec![
            OpResult::Error(ErrorCode::Ok),
            OpResult::Error(ErrorCode::NoNode),
            OpResult::Error(ErrorCode::RuntimeInconsistency),
        ]
    );
    assert_eq!(first_error(&failed), Some(ErrorCode::NoNode));
    assert_eq!(a.exists("/m3", false).await, Ok(None));
    assert_eq!(
        a.check("/m1", 0).await,
        Err(ZkError::Code(ErrorCode::BadVersion))
    );
    let reads = a
        .multi_read(vec![
            ReadRequest::GetData {
                path: "/m1".into(),
                watch: false,
            },
            ReadRequest::GetChildren {
                path: "/nope".into(),
                watch: false,
            },
        ])
        .await
        .expect("multiRead");
    assert!(
        matches!(&reads[0], Ok(ReadResponse::GetData { data: Some(d), .. }) if d == b"d"),
        "{reads:?}"
    );
    assert_eq!(reads[1], Err(ErrorCode::NoNode));

    // Digest ACL: denied, then allowed after addauth.
    let user_acl = vec![Acl::new(31, "digest", "user:tpUq/4Pn5A64fVZyQ0gOJ8ZWqkY=")];
    b.create("/secret", Some(b"s"), &user_acl, CreateMode::Persistent)
        .await
        .expect("create with a digest ACL");
    assert_eq!(
        a.get_data("/secret", false).await.map(|d| d.0),
        Err(ZkError::Code(ErrorCode::NoAuth))
    );
    a.add_auth("digest", b"user:password").await.expect("auth");
    assert_eq!(
        a.get_data("/secret", false).await.map(|d| d.0),
        Ok(Some(b"s".to_vec()))
    );
    let who = a.who_am_i().await.expect("whoami");
    assert!(
        who.iter()
            .any(|c| c.auth_scheme == "digest" && c.user == "user"),
        "{who:?}"
    );
    let (acl, _) = a.get_acl("/secret").await.expect("getAcl");
    assert_eq!(acl, user_acl);
    assert_eq!(a.sync("/t").await, Ok("/t".to_string()));

    // Persistent recursive watch; removeWatches; NoWatcher.
    a.add_watch("/t", AddWatchMode::PersistentRecursive)
        .await
        .expect("addWatch");
    b.set_data("/t/c2", Some(b"y"), -1).await.expect("set");
    let ev = next_event(&mut a_events).await;
    assert_eq!(
        (ev.event_type, ev.path.as_str()),
        (event::NODE_DATA_CHANGED, "/t/c2")
    );
    a.remove_watches("/t", WatcherType::Any)
        .await
        .expect("removeWatches");
    assert_eq!(
        a.remove_watches("/t", WatcherType::Any).await,
        Err(ZkError::Code(ErrorCode::NoWatcher))
    );

    // An ephemeral node goes with its session.
    let (c, _c_events) = connect(&zk.addr).await;
    c.create("/eph", None, &open(), CreateMode::Ephemeral)
        .await
        .expect("ephemeral");
    assert_eq!(c.get_ephemerals("/").await, Ok(vec!["/eph".to_string()]));
    let owner = b
        .exists("/eph", false)
        .await
        .expect("exists")
        .map(|s| s.ephemeral_owner);
    assert_eq!(owner, Some(c.session_id()));
    c.close().await.expect("close");
    assert_eq!(b.exists("/eph", false).await, Ok(None));
    assert_eq!(c.exists("/t", false).await, Err(ZkError::Closed));

    // Reconnect with the same session: the watch and the auth are restored.
    let sid = a.session_id();
    a.get_data("/t", true).await.expect("get with watch");
    a.reconnect(None).await.expect("reconnect");
    assert_eq!(a.session_id(), sid);
    assert_eq!(
        a.get_data("/secret", false).await.map(|d| d.0),
        Ok(Some(b"s".to_vec()))
    );
    b.set_data("/t", Some(b"after"), -1).await.expect("set");
    let ev = next_event(&mut a_events).await;
    assert_eq!(
        (ev.event_type, ev.path.as_str()),
        (event::NODE_DATA_CHANGED, "/t")
    );

    // Resuming with a wrong password is Expired.
    let mut o = ConnectOptions::new(&zk.addr);
    o.session = Some((sid, vec![1; 16]));
    // Apache ZooKeeper 3.8 queues the zeroed ConnectResponse and then the close; the close
    // sometimes wins, so the client sees either Expired or a dropped connection.
    let wrong = ZkClient::connect(o).await.map(|(c, _)| c.session_id());
    assert!(
        matches!(
            wrong,
            Err(ZkError::SessionExpired | ZkError::ConnectionLoss(_))
        ),
        "{wrong:?}"
    );
    // The first client goes away without closing; a new client object resumes the session
    // with the right password, and its ephemeral is still there.
    a.create("/a-eph", None, &open(), CreateMode::Ephemeral)
        .await
        .expect("ephemeral");
    let pw = a.session_password();
    drop(a);
    let mut o = ConnectOptions::new(&zk.addr);
    o.session = Some((sid, pw));
    let (a2, _) = ZkClient::connect(o).await.expect("resume");
    assert_eq!(a2.session_id(), sid);
    assert_eq!(a2.get_ephemerals("/").await, Ok(vec!["/a-eph".to_string()]));
    a2.close().await.expect("close");
    assert_eq!(b.exists("/a-eph", false).await, Ok(None));
    b.close().await.expect("close");
    drop(zk);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_and_bench_against_apache_zookeeper() {
    use zablab_node::tools::bench::{bench, BenchOp, BenchOptions};
    use zablab_node::tools::cli_shell::Shell;

    let Some(zk) = start_real_zk().await else {
        return;
    };
    let mut sh = Shell::new(&zk.addr, 10_000, false);
    sh.connect().await.expect("connects");
    let ok = |r: Result<Option<String>, String>| r.expect("command succeeds").unwrap_or_default();
    assert_eq!(ok(sh.exec("create /c hello").await), "Created /c");
    assert_eq!(
        ok(sh.exec("create -s /c/s- x").await),
        "Created /c/s-0000000000"
    );
    let got = ok(sh.exec("get -s /c").await);
    assert!(got.starts_with("hello\ncZxid = 0x"), "{got}");
    assert!(got.contains("\nnumChildren = 1"), "{got}");
    assert_eq!(ok(sh.exec("ls /c").await), "[s-0000000000]");
    assert_eq!(
        sh.exec("set -v 7 /c v").await,
        Err("version No is not valid : /c".to_string())
    );
    assert_eq!(
        sh.exec("get /missing").await,
        Err("Node does not exist: /missing".to_string())
    );
    assert_eq!(ok(sh.exec("getAcl /c").await), "'world,'anyone\n: cdrwa");
    assert_eq!(ok(sh.exec("create -t 60000 /ttl").await), "Created /ttl");
    assert_eq!(ok(sh.exec("ls -R /c").await), "/c\n/c/s-0000000000");
    assert_eq!(ok(sh.exec("deleteall /c").await), "");
    assert_eq!(
        sh.exec("stat /c").await,
        Err("Node does not exist: /c".to_string())
    );
    assert_eq!(ok(sh.exec("sync /").await), "Sync is OK");
    assert_eq!(sh.exec("quit").await, Ok(None));

    for op in [BenchOp::Create, BenchOp::Set, BenchOp::Get, BenchOp::Mixed] {
        let o = BenchOptions {
            hosts: vec![zk.addr.clone()],
            op,
            inflight: 8,
            secs: 0.5,
            size: 100,
            sessions: 2,
            ..BenchOptions::default()
        };
        let r = bench(&o).await.expect("bench runs");
        assert!(r.ops > 0 && r.errors == 0, "{op:?}: {r:?}");
        assert!(
            r.all.p50_us <= r.all.p99_us && r.all.p99_us <= r.all.p999_us,
            "{r:?}"
        );
        assert!(r.summary_line().starts_with("ops/s: "));
    }
    // The bench cleaned up after itself.
    let out = ok(sh.exec("ls /").await);
    assert!(!out.contains("zablab-bench"), "{out}");
    drop(zk);
}

/// A line's structure: hex ids become `0xH`, digit runs `N`, a last-op name `OP`.
fn shape(line: &str) -> String {
    let mut out = String::new();
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if line[i..].starts_with("0x") {
            out.push_str("0xH");
            i += 2;
            while i < b.len() && b[i].is_ascii_hexdigit() {
                i += 1;
            }
        } else if line[i..].starts_with("lop=") {
            out.push_str("lop=OP");
            i += 4;
            while i < b.len() && b[i].is_ascii_uppercase() {
                i += 1;
            }
        } else if b[i].is_ascii_digit() {
            out.push('N');
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
        } else {
            let c = line[i..].chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// The set of line shapes of an answer (line order and counts vary with hash maps and timing).
fn shapes(text: &str) -> std::collections::BTreeSet<String> {
    let mut s: std::collections::BTreeSet<String> = text.split('\n').map(shape).collect();
    if text.ends_with('\n') {
        s.insert("<ends with a newline>".into());
    }
    s
}

/// A standalone `zablab server` with every word whitelisted; killed by PID on drop.
struct Zablab {
    child: Child,
    dir: PathBuf,
    addr: String,
}

impl Drop for Zablab {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn start_zablab() -> Zablab {
    let port = common::free_port();
    let dir = std::env::temp_dir().join(format!("zablab-4lwcmp-{}-{port}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("data")).expect("dir");
    let cfg = dir.join("zoo.cfg");
    let text = format!(
        "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
         maxClientCnxns=0\n4lw.commands.whitelist=*\n",
        dir.join("data").display()
    );
    std::fs::write(&cfg, text).expect("cfg");
    let log = std::fs::File::create(dir.join("zablab.log")).expect("log");
    let child = Command::new(env!("CARGO_BIN_EXE_zablab"))
        .arg("server")
        .arg(&cfg)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start zablab");
    let z = Zablab {
        child,
        dir,
        addr: format!("127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(40);
    while Instant::now() < deadline {
        let ok = zablab_node::four_letter_word(&z.addr, "srvr", Duration::from_millis(500))
            .await
            .is_ok_and(|a| a.contains("Mode: standalone"));
        if ok {
            return z;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("zablab did not start on {}", z.addr);
}

/// Every word after the same client activity: a watch on a node, one on a missing node, an
/// ephemeral; `stmk` with its 8-byte argument.
async fn answers(addr: &str) -> Vec<(&'static str, String)> {
    let (c, _events) = connect(addr).await;
    c.create("/w", Some(b"x"), &open(), CreateMode::Persistent)
        .await
        .expect("create");
    c.create("/eph", None, &open(), CreateMode::Ephemeral)
        .await
        .expect("create");
    c.get_data("/w", true).await.expect("getData");
    assert_eq!(c.exists("/missing", true).await, Ok(None));
    let mut out = Vec::new();
    for w in [
        "wchs", "wchc", "wchp", "dump", "cons", "dirs", "gtmk", "crst", "srst",
    ] {
        let a = zablab_node::four_letter_word(addr, w, Duration::from_secs(2))
            .await
            .expect("answer");
        out.push((w, a));
    }
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut msg = b"stmk".to_vec();
    msg.extend_from_slice(&0x1f_i64.to_be_bytes());
    s.write_all(&msg).await.expect("write");
    let mut a = String::new();
    let _ = timeout(Duration::from_secs(2), s.read_to_string(&mut a)).await;
    out.push(("stmk", a));
    c.close().await.expect("close");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_letter_words_have_zookeepers_line_structure() {
    let Some(zk) = start_real_zk().await else {
        return;
    };
    let z = start_zablab().await;
    let theirs = answers(&zk.addr).await;
    let ours = answers(&z.addr).await;
    assert_eq!(theirs.len(), ours.len());
    for ((w, t), (_, o)) in theirs.iter().zip(&ours) {
        eprintln!("--- {w}: ZooKeeper\n{t}\n--- {w}: ZabLab\n{o}");
        assert_eq!(
            shapes(o),
            shapes(t),
            "{w}: ZabLab's line shapes differ from Apache ZooKeeper's\n--- ZooKeeper:\n{t}\n--- ZabLab:\n{o}"
        );
    }
    drop(z);
    drop(zk);
}

/// The shell commands zkCli 3.8 has beyond reads and writes, run by `zablab cli`'s shell
/// against Apache ZooKeeper 3.8 and against `zablab server` (both standalone, reconfig off):
/// each answer or error is the same on both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_admin_commands_answer_as_on_apache_zookeeper() {
    use zablab_node::tools::cli_shell::Shell;

    let Some(zk) = start_real_zk().await else {
        return;
    };
    let ours = start_zablab().await;
    let script = [
        "create /cfg x",
        "create -e /cfg/e1 y",
        "create /cfg/p z",
        "getAllChildrenNumber /cfg",
        "getEphemerals /cfg",
        "getEphemerals /nothing",
        "addWatch /cfg",
        "addWatch -m PERSISTENT /cfg/p",
        "addWatch -m BOGUS /cfg",
        "whoami",
        "sync /cfg",
        "config -c",
        "reconfig -remove 3",
        "reconfig -members server.1=127.0.0.1:2888:3888;2181 -add server.2=127.0.0.1:2889:3889",
        "reconfig -v xyz -remove 3",
        "redo 0",
        "redo 2",
        "redo 99",
        "history",
    ];
    let mut answers: Vec<Vec<Result<Option<String>, String>>> = Vec::new();
    for addr in [&zk.addr, &ours.addr] {
        let mut sh = Shell::new(addr, 10_000, false);
        sh.connect().await.expect("connects");
        let mut out = Vec::new();
        for line in script {
            out.push(sh.exec(line).await);
        }
        answers.push(out);
    }
    for (i, line) in script.iter().enumerate() {
        println!("{line:?}: {:?}", answers[0][i]);
        assert_eq!(
            answers[1][i], answers[0][i],
            "`{line}`: zablab (left) vs Apache ZooKeeper (right)"
        );
    }
    // The answers asserted above are real ones, not errors everywhere.
    assert_eq!(answers[0][3], Ok(Some("2".to_string())));
    assert_eq!(answers[0][4], Ok(Some("[/cfg/e1]".to_string())));
    assert_eq!(
        answers[0][12],
        Err("KeeperErrorCode = Reconfig is disabled".to_string())
    );
    assert_eq!(
        answers[0][15],
        Err("Node already exists: /cfg".to_string()),
        "redo 0 ran `create /cfg x` again"
    );
    drop(zk);
}
