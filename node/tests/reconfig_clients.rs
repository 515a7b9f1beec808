//! Dynamic reconfiguration (issue 13 item 1) with unmodified clients, on a 3-server ZabLab
//! ensemble configured as kazoo's own test harness configures Apache ZooKeeper
//! (kazoo/testing/common.py and harness.py: `server.N=host:quorumPort:electionPort:participant`
//! without a client address, `clientPort`, `reconfigEnabled=true`, `4lw.commands.whitelist=*`,
//! initLimit=4, syncLimit=2, the super digest of `super:test`):
//! * kazoo's own `TestReconfig` (tests/clients/kazoo_reconfig.py runs kazoo's test class from
//!   pip, its harness pointed at these servers): no super auth → NoAuth, add and remove an
//!   observer, a future fromConfig → BadVersion, garbage → BadArguments;
//! * zkCli.sh's `reconfig -add` / `-remove` / `config` with and without the super user;
//! * every server rewrites its dynamic config file, and a restarted server comes back with the
//!   reconfigured membership.
//!
//! Skips when kazoo or zkCli.sh is missing, unless ZABLAB_REQUIRE_CLIENTS=1 (CI).

mod common;
mod realclients;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;
use realclients::{available, feed, in_order, repo_root};

const ZKCLI: &str = "/usr/share/zookeeper/bin/zkCli.sh";
/// The digest of `super:test` (kazoo's harness sets it as a JVM system property).
const SUPER: &str = "super:D/InIHSb7yEEbrWz8b9l71RjZJU=";
const LIMIT: Duration = Duration::from_secs(40);

struct Node {
    cfg: PathBuf,
    log: PathBuf,
    client: String,
    server: Server,
}

/// kazoo's harness configuration for server `sid` of 3 (its `localhost` is 127.0.0.1 here, so
/// nothing listens beyond loopback; its admin port is off).
fn harness_cfg(dir: &Path, base: u16, sid: u16) -> String {
    let servers: String = (0..3u16)
        .map(|i| {
            format!(
                "server.{}=127.0.0.1:{}:{}:participant\n",
                i + 1,
                base + 707 + i,
                base + 1707 + i
            )
        })
        .collect();
    format!(
        "tickTime=2000\ndataDir={}\nclientPort={}\nclientPortAddress=127.0.0.1\nmaxClientCnxns=0\n\
         admin.enableServer=false\n4lw.commands.whitelist=*\nreconfigEnabled=true\n\
         localSessionsEnabled=false\nlocalSessionsUpgradingEnabled=false\n\
         zookeeper.DigestAuthenticationProvider.superDigest={SUPER}\n\
         initLimit=4\nsyncLimit=2\n{servers}peerType=participant\n",
        dir.join(sid.to_string()).join("data").display(),
        base + sid - 1
    )
}

fn start_ensemble(dir: &TempDir) -> Vec<Node> {
    let base = free_base_port(3);
    (1..=3u16)
        .map(|sid| {
            let d = dir.0.join(sid.to_string());
            std::fs::create_dir_all(d.join("data")).expect("data dir");
            std::fs::write(d.join("data").join("myid"), sid.to_string()).expect("myid");
            let cfg = d.join("zoo.cfg");
            std::fs::write(&cfg, harness_cfg(&dir.0, base, sid)).expect("zoo.cfg");
            let log = d.join("server.log");
            let server = Server::start(&cfg, &[], &log);
            Node {
                cfg,
                log,
                client: format!("127.0.0.1:{}", base + sid - 1),
                server,
            }
        })
        .collect()
}

fn wait_leader(nodes: &[Node]) {
    wait_for(LIMIT, "a leader and two followers", || {
        let modes: Vec<Option<String>> = nodes.iter().map(|n| mode(&n.client)).collect();
        let leaders = modes
            .iter()
            .filter(|m| m.as_deref() == Some("leader"))
            .count();
        let followers = modes
            .iter()
            .filter(|m| m.as_deref() == Some("follower"))
            .count();
        (leaders == 1 && followers == 2).then_some(())
    });
}

/// The dynamic config files `zablab server` wrote beside `cfg` after reconfigs.
fn dynamic_files(cfg: &Path) -> Vec<String> {
    let dir = cfg.parent().expect("dir");
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("zoo.cfg.dynamic."))
        .collect();
    v.sort();
    v
}

fn python_has(module: &str) -> bool {
    Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn kazoo_and_zkcli_reconfigure_a_running_ensemble_and_a_restart_keeps_it() {
    let kazoo = available(
        "kazoo's test suite (python3 -m pip: kazoo pytest pyOpenSSL pyjks)",
        python_has("kazoo.tests.test_client"),
        "python3 -m pip install kazoo pytest pyOpenSSL pyjks",
    );
    let zkcli = available(
        "zkCli.sh",
        Path::new(ZKCLI).exists(),
        "apt-get install -y zookeeper",
    );
    if !kazoo && !zkcli {
        return;
    }
    let dir = TempDir::new("reconfig-clients");
    let mut nodes = start_ensemble(&dir);
    wait_leader(&nodes);
    let hosts: Vec<&str> = nodes.iter().map(|n| n.client.as_str()).collect();

    if kazoo {
        let out = Command::new("timeout")
            .args(["180", "python3"])
            .arg(repo_root().join("tests/clients/kazoo_reconfig.py"))
            .arg(hosts.join(","))
            .output()
            .expect("python3");
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        eprintln!("--- kazoo TestReconfig:\n{stdout}\n{stderr}");
        assert!(
            out.status.success() && stdout.contains("kazoo reconfig: 3 tests passed"),
            "kazoo's TestReconfig on ZabLab ({:?})",
            out.status
        );
    }

    // zkCli.sh through a follower: refused without the super user; with it, an observer joins
    // and, in a second reconfig, another; `config` shows the committed membership.
    let follower = nodes
        .iter()
        .position(|n| mode(&n.client).as_deref() == Some("follower"))
        .expect("a follower");
    let (p1, p2, p3) = (free_port(), free_port(), free_port());
    let joining = format!("server.101=127.0.0.1:{p1}:{p2}:observer;127.0.0.1:{p3}");
    if zkcli {
        let add = format!("reconfig -add {joining}");
        let out = feed(
            ZKCLI,
            &["-server", &nodes[follower].client],
            &[
                &add,
                "addauth digest super:test",
                &add,
                "config",
                "reconfig -remove 101",
                "reconfig -add server.102=127.0.0.1:1:2:observer;127.0.0.1:3",
                "config",
                "quit",
            ],
            Duration::from_millis(2500),
            Duration::from_millis(700),
        );
        eprintln!("--- zkCli.sh reconfig:\n{out}");
        in_order(
            &out,
            &[
                "Insufficient permission",
                "Committed new configuration:",
                &joining,
                &joining,
                "Committed new configuration:",
                "Committed new configuration:",
                "server.102=127.0.0.1:1:2:observer;127.0.0.1:3",
                "server.102=127.0.0.1:1:2:observer;127.0.0.1:3",
            ],
            "zkCli.sh reconfig",
        );
        let after_remove = out
            .rsplit("Committed new configuration:")
            .next()
            .unwrap_or("");
        assert!(
            !after_remove.contains("server.101="),
            "101 was removed:\n{out}"
        );
    } else {
        return;
    }

    // Every server wrote its dynamic file and points zoo.cfg at it; a restarted follower comes
    // back with observer 102 in its membership.
    for n in &nodes {
        let files = wait_for(LIMIT, "the dynamic config file", || {
            let f = dynamic_files(&n.cfg);
            (f.len() >= 3).then_some(f)
        });
        let newest = n.cfg.with_file_name(files.last().expect("one"));
        let text = std::fs::read_to_string(&newest).expect("dynamic file");
        assert!(
            text.contains("server.102=127.0.0.1:1:2:observer;127.0.0.1:3"),
            "{text}"
        );
        let zoo = std::fs::read_to_string(&n.cfg).expect("zoo.cfg");
        assert!(
            zoo.contains(&format!("dynamicConfigFile={}", newest.display())),
            "{zoo}"
        );
        assert!(!zoo.contains("server.1="), "{zoo}");
    }
    let n = &mut nodes[follower];
    n.server.kill9();
    n.server = Server::start(&n.cfg, &[], &n.log);
    let conf = wait_for(LIMIT, "the restarted server serving", || {
        (mode(&n.client).as_deref() == Some("follower"))
            .then(|| four_letter(&n.client, "conf"))
            .flatten()
    });
    assert!(
        conf.contains("server.102=127.0.0.1:1:2:observer;127.0.0.1:3"),
        "the restarted server's conf:\n{conf}"
    );
}

/// A standalone server (no `server.N` lines) cannot reconfigure: with reconfigEnabled=true it
/// answers Unimplemented, as ZooKeeper's standalone server does (its ZooKeeperServer is not a
/// LeaderZooKeeperServer), and without it ReconfigDisabled, which comes first.
#[test]
fn a_standalone_server_answers_reconfig_unimplemented_or_disabled() {
    for (enabled, want) in [
        (true, "KeeperErrorCode = Unimplemented"),
        (false, "KeeperErrorCode = Reconfig is disabled"),
    ] {
        let dir = TempDir::new("reconfig-standalone");
        let port = free_port();
        std::fs::create_dir_all(dir.0.join("data")).expect("data");
        let cfg = dir.0.join("zoo.cfg");
        std::fs::write(
            &cfg,
            format!(
                "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
                 4lw.commands.whitelist=*\nreconfigEnabled={enabled}\n\
                 zookeeper.DigestAuthenticationProvider.superDigest={SUPER}\n",
                dir.0.join("data").display()
            ),
        )
        .expect("zoo.cfg");
        let _server = Server::start(&cfg, &[], &dir.0.join("server.log"));
        let addr = format!("127.0.0.1:{port}");
        wait_for(LIMIT, "standalone serving", || {
            (mode(&addr).as_deref() == Some("standalone")).then_some(())
        });
        let out = Command::new(BIN)
            .args(["cli", "-server", &addr, "reconfig", "-remove", "3"])
            .output()
            .expect("zablab cli");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains(want), "reconfigEnabled={enabled}: {text}");
    }
}
