//! Read-only mode (`readonlymode.enabled`, ZooKeeper 3.8's ReadOnlyZooKeeperServer) on a real
//! three-server ensemble on 127.0.0.1: two servers are killed (SIGKILL, by their own PIDs), and
//! the survivor, LOOKING, serves read-only clients after its grace period: `isro` says `ro`,
//! `srvr`/`mntr` say read-only, a read-only client (ZabLab's own, and `zablab cli -r`) reads
//! what was written before, its writes and syncs are answered NotReadOnly, a client that does
//! not allow read-only is refused. When the two come back the read-only session is closed and
//! the client, which never saw a read-write server, reconnects with a new (global) session and
//! writes. kazoo (`KazooClient(read_only=True)`, tests/clients/kazoo_read_only.py, after kazoo's
//! own TestReadOnlyMode) goes through the same steps; it skips when kazoo is not installed,
//! unless ZABLAB_REQUIRE_CLIENTS=1 (CI).

mod common;
mod realclients;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{four_letter, free_base_port, mode, wait_for, Server, TempDir, BIN};
use zablab_core::tree::acl::open_acl_unsafe;
use zablab_core::tree::{CreateMode, ErrorCode};
use zablab_node::tools::cluster::{write_configs, ClusterOptions, Planned};
use zablab_node::tools::zkclient::{ConnectOptions, Status, ZkClient, ZkError};

const LIMIT: Duration = Duration::from_secs(60);
const TICK_MS: u64 = 200;

/// Three servers with `readonlymode.enabled=true`; any of them can be killed and restarted.
struct Ensemble {
    /// Dropped first (fields drop in order): the servers stop before their directory goes.
    servers: Vec<Option<Server>>,
    planned: Vec<Planned>,
    dir: TempDir,
}

impl Ensemble {
    fn start(name: &str) -> Ensemble {
        let dir = TempDir::new(name);
        let opts = ClusterOptions {
            base_port: free_base_port(3),
            dir: Some(dir.0.clone()),
            tick_time_ms: TICK_MS,
            ..ClusterOptions::default()
        };
        let planned = write_configs(&dir.0, &opts).expect("configs");
        for p in &planned {
            let mut text = std::fs::read_to_string(&p.config).expect("config");
            text.push_str("readonlymode.enabled=true\n");
            std::fs::write(&p.config, text).expect("write config");
        }
        let mut e = Ensemble {
            servers: Vec::new(),
            planned,
            dir,
        };
        for i in 0..3 {
            let s = e.spawn(i);
            e.servers.push(Some(s));
        }
        e
    }

    fn spawn(&self, i: usize) -> Server {
        let p = &self.planned[i];
        Server::start(&p.config, &[], &self.dir.0.join(format!("{}.log", p.sid)))
    }

    fn addr(&self, i: usize) -> String {
        self.planned[i].client_addr.clone()
    }

    fn hosts(&self) -> String {
        (0..3).map(|i| self.addr(i)).collect::<Vec<_>>().join(",")
    }

    fn wait_for_quorum(&self) {
        wait_for(LIMIT, "one leader and two followers", || {
            let m: Vec<String> = (0..3).filter_map(|i| mode(&self.addr(i))).collect();
            (m.iter().filter(|x| *x == "leader").count() == 1
                && m.iter().filter(|x| *x == "follower").count() == 2)
                .then_some(())
        });
    }
}

fn cli(args: &[&str]) -> (bool, String, String) {
    let out = Command::new("timeout")
        .arg("60")
        .arg(BIN)
        .arg("cli")
        .args(args)
        .output()
        .expect("run zablab cli");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn isro(addr: &str) -> Option<String> {
    four_letter(addr, "isro").map(|s| s.trim().to_string())
}

#[test]
fn a_server_cut_from_its_quorum_serves_read_only_clients_and_lets_them_go_when_it_returns() {
    let mut e = Ensemble::start("read-only");
    e.wait_for_quorum();
    let survivor = e.addr(0);
    let sid = e.planned[0].sid;
    assert_eq!(isro(&survivor).as_deref(), Some("rw"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");

    // Written through the survivor: its reply comes once the survivor applied it.
    rt.block_on(async {
        let (c, _ev) = ZkClient::connect(ConnectOptions::new(&survivor))
            .await
            .expect("connect read-write");
        c.create(
            "/a",
            Some(b"v1"),
            &open_acl_unsafe(),
            CreateMode::Persistent,
        )
        .await
        .expect("create /a");
        c.close().await.expect("close");
    });

    for i in [1, 2] {
        if let Some(mut s) = e.servers[i].take() {
            s.kill9();
        }
    }
    wait_for(LIMIT, "the survivor to serve read-only", || {
        (isro(&survivor).as_deref() == Some("ro")).then_some(())
    });
    let srvr = four_letter(&survivor, "srvr").expect("srvr");
    assert!(srvr.contains("Mode: read-only\n"), "srvr:\n{srvr}");
    let mntr = four_letter(&survivor, "mntr").expect("mntr");
    assert!(
        mntr.contains("zk_server_state\tread-only\n"),
        "mntr:\n{mntr}"
    );

    // zkCli's -r: reads are served, writes are not; without -r the server refuses the client.
    let (ok, out, err) = cli(&["-r", "-server", &survivor, "get", "/a"]);
    assert!(ok && out.trim() == "v1", "cli -r get /a: {out} {err}");
    let (ok, out, err) = cli(&["-r", "-server", &survivor, "create", "/x", "d"]);
    assert!(
        !ok && err.contains("Not a read-only call"),
        "cli -r create: {out} {err}"
    );
    let (ok, out, err) = cli(&["-timeout", "2000", "-server", &survivor, "get", "/a"]);
    assert!(!ok, "cli without -r is refused: {out} {err}");

    let hosts = e.hosts();
    let (ro_client, ro_session) = rt.block_on(async {
        let mut plain = ConnectOptions::new(&survivor);
        plain.connect_timeout = Duration::from_secs(2);
        let refused = ZkClient::connect(plain).await;
        assert!(
            matches!(refused, Err(ZkError::ConnectionLoss(_))),
            "a client that does not allow read-only is refused: {:?}",
            refused.as_ref().map(|(c, _)| c.status())
        );

        let mut opts = ConnectOptions::new(&hosts);
        opts.read_only = true;
        opts.session_timeout_ms = 4000;
        let (c, _ev) = ZkClient::connect(opts).await.expect("connect read-only");
        assert_eq!(c.status(), Status::ConnectedReadOnly);
        assert_eq!(c.current_host(), survivor);
        let session = c.session_id();
        assert_eq!(
            (session as u64) >> 56,
            sid,
            "a session id of the survivor's own"
        );
        let (data, _) = c.get_data("/a", false).await.expect("read /a");
        assert_eq!(data.as_deref(), Some(&b"v1"[..]));
        let w = c
            .create("/b", Some(b"x"), &open_acl_unsafe(), CreateMode::Persistent)
            .await;
        assert_eq!(w, Err(ZkError::Code(ErrorCode::NotReadOnly)));
        assert_eq!(
            c.sync("/a").await,
            Err(ZkError::Code(ErrorCode::NotReadOnly))
        );
        assert_eq!(c.exists("/b", false).await, Ok(None), "nothing was written");
        (c, session)
    });

    for i in [1, 2] {
        let s = e.spawn(i);
        e.servers[i] = Some(s);
    }
    rt.block_on(async {
        let mut connected_rw = false;
        for _ in 0..600 {
            if ro_client.status() == Status::Connected {
                connected_rw = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            connected_rw,
            "the client reconnected read-write (status {:?})",
            ro_client.status()
        );
        assert_ne!(
            ro_client.session_id(),
            ro_session,
            "a client that never saw a read-write server asks for a new session"
        );
        ro_client
            .create("/c", Some(b"v"), &open_acl_unsafe(), CreateMode::Persistent)
            .await
            .expect("a write after the quorum returned");
        let (data, _) = ro_client.get_data("/a", false).await.expect("read /a");
        assert_eq!(data.as_deref(), Some(&b"v1"[..]));
        ro_client.close().await.expect("close");
    });
    assert_eq!(isro(&survivor).as_deref(), Some("rw"));
    e.wait_for_quorum();
}

/// Runs tests/clients/kazoo_read_only.py against `survivor` (in `hosts`), calling `cut` and
/// `heal` when the script asks for them.
fn kazoo_read_only(survivor: &str, hosts: &str, cut: impl FnOnce(), heal: impl FnOnce()) {
    let script = realclients::repo_root().join("tests/clients/kazoo_read_only.py");
    let mut child = Command::new("timeout")
        .args(["240", "python3"])
        .arg(&script)
        .args([survivor, hosts])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run python3");
    let mut stdin = child.stdin.take().expect("stdin");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let expect = |word: &str, seen: &mut Vec<String>| loop {
        match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(line) => {
                eprintln!("kazoo: {line}");
                seen.push(line.clone());
                if line == word {
                    return;
                }
                assert!(!line.starts_with("FAIL"), "kazoo: {line}");
            }
            Err(e) => panic!("kazoo never printed {word} ({e}); it printed {seen:?}"),
        }
    };
    expect("WRITTEN", &mut seen);
    cut();
    writeln!(stdin, "CUT").expect("tell kazoo");
    expect("RO_OK", &mut seen);
    heal();
    writeln!(stdin, "HEALED").expect("tell kazoo");
    expect("kazoo read-only: all checks passed", &mut seen);
    let status = child.wait().expect("kazoo exits");
    assert!(status.success(), "kazoo exited {status:?}");
}

#[test]
fn kazoo_read_only_client_against_a_cut_off_zablab_server() {
    if !realclients::available(
        "kazoo (python3 -m pip)",
        Command::new("python3")
            .args(["-c", "import kazoo"])
            .status()
            .is_ok_and(|s| s.success()),
        "pip install kazoo",
    ) {
        return;
    }
    let e = std::cell::RefCell::new(Ensemble::start("read-only-kazoo"));
    e.borrow().wait_for_quorum();
    let (survivor, hosts) = (e.borrow().addr(0), e.borrow().hosts());
    kazoo_read_only(
        &survivor,
        &hosts,
        || {
            let mut e = e.borrow_mut();
            for i in [1, 2] {
                if let Some(mut s) = e.servers[i].take() {
                    s.kill9();
                }
            }
            drop(e);
            wait_for(LIMIT, "the survivor to serve read-only", || {
                (isro(&survivor).as_deref() == Some("ro")).then_some(())
            });
        },
        || {
            let mut e = e.borrow_mut();
            for i in [1, 2] {
                let s = e.spawn(i);
                e.servers[i] = Some(s);
            }
        },
    );
    e.borrow().wait_for_quorum();
}

/// Three Apache ZooKeeper 3.8 servers (Debian's `zookeeper` package, [`common::real_zk::JARS`]) on
/// 127.0.0.1 configured as kazoo's harness configures
/// them for TestReadOnlyMode (`-Dreadonlymode.enabled=true`, `localSessionsEnabled=true`);
/// killed by their PIDs.
struct RealZkEnsemble {
    /// Dropped first: the JVMs stop before their directory goes.
    servers: Vec<Option<std::process::Child>>,
    dir: TempDir,
    base: u16,
}

impl RealZkEnsemble {
    fn start() -> Option<RealZkEnsemble> {
        if !common::real_zk::available() {
            return None;
        }
        let dir = TempDir::new("realzk-ro");
        let base = free_base_port(3);
        let mut servers = String::new();
        for i in 1..=3u16 {
            servers.push_str(&format!(
                "server.{i}=127.0.0.1:{}:{}\n",
                base + 707 + i - 1,
                base + 1707 + i - 1
            ));
        }
        for i in 1..=3u16 {
            let data = dir.0.join(format!("d{i}"));
            std::fs::create_dir_all(&data).expect("data dir");
            std::fs::write(data.join("myid"), format!("{i}\n")).expect("myid");
            let cfg = format!(
                "tickTime={TICK_MS}\ninitLimit=10\nsyncLimit=5\ndataDir={}\nclientPort={}\n\
                 clientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\nadmin.enableServer=false\n\
                 localSessionsEnabled=true\nlocalSessionsUpgradingEnabled=true\n{servers}",
                data.display(),
                base + i - 1
            );
            std::fs::write(dir.0.join(format!("z{i}.cfg")), cfg).expect("zoo.cfg");
        }
        let mut e = RealZkEnsemble {
            servers: Vec::new(),
            dir,
            base,
        };
        for i in 0..3 {
            let c = e.spawn(i);
            e.servers.push(Some(c));
        }
        Some(e)
    }

    fn spawn(&self, i: usize) -> std::process::Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.0.join(format!("zk{}.log", i + 1)))
            .expect("log");
        Command::new("java")
            .args(["-Xmx128m", "-Dreadonlymode.enabled=true", "-cp"])
            .arg(common::real_zk::JARS.join(":"))
            .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
            .arg(self.dir.0.join(format!("z{}.cfg", i + 1)))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start java")
    }

    fn addr(&self, i: usize) -> String {
        format!("127.0.0.1:{}", self.base + i as u16)
    }

    fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.servers[i].take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn wait_for_quorum(&self) {
        wait_for(LIMIT, "ZooKeeper: one leader and two followers", || {
            let m: Vec<String> = (0..3).filter_map(|i| mode(&self.addr(i))).collect();
            (m.iter().filter(|x| *x == "leader").count() == 1
                && m.iter().filter(|x| *x == "follower").count() == 2)
                .then_some(())
        });
    }
}

impl Drop for RealZkEnsemble {
    fn drop(&mut self) {
        for i in 0..self.servers.len() {
            self.kill(i);
        }
    }
}

/// The reference: the same kazoo script against Apache ZooKeeper 3.8, and the same 4lw
/// answers (`isro`, `srvr`'s Mode, `mntr`'s zk_server_state) from its read-only server.
#[test]
fn kazoo_read_only_client_against_a_cut_off_apache_zookeeper_server() {
    let kazoo = Command::new("python3")
        .args(["-c", "import kazoo"])
        .status()
        .is_ok_and(|s| s.success());
    if !realclients::available("kazoo (python3 -m pip)", kazoo, "pip install kazoo") {
        return;
    }
    let Some(zk) = RealZkEnsemble::start() else {
        return;
    };
    let zk = std::cell::RefCell::new(zk);
    zk.borrow().wait_for_quorum();
    let survivor = zk.borrow().addr(0);
    let hosts = (0..3)
        .map(|i| zk.borrow().addr(i))
        .collect::<Vec<_>>()
        .join(",");
    kazoo_read_only(
        &survivor,
        &hosts,
        || {
            zk.borrow_mut().kill(1);
            zk.borrow_mut().kill(2);
            wait_for(LIMIT, "ZooKeeper's survivor to serve read-only", || {
                (isro(&survivor).as_deref() == Some("ro")).then_some(())
            });
            let srvr = four_letter(&survivor, "srvr").expect("srvr");
            assert!(srvr.contains("Mode: read-only\n"), "srvr:\n{srvr}");
            let mntr = four_letter(&survivor, "mntr").expect("mntr");
            assert!(
                mntr.contains("zk_server_state\tread-only\n"),
                "mntr:\n{mntr}"
            );
        },
        || {
            let mut e = zk.borrow_mut();
            for i in [1, 2] {
                let c = e.spawn(i);
                e.servers[i] = Some(c);
            }
        },
    );
    zk.borrow().wait_for_quorum();
}
