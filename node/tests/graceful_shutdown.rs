//! SIGTERM (systemd's `KillSignal`): the server closes its client connections, waits
//! for the last fsync and exits 0 with "shut down cleanly" as its last log line; what it
//! acknowledged is on disk after a restart. In an ensemble a SIGTERM'd leader's followers elect
//! at once, and a client session outlives the server it was connected to, as with ZooKeeper's
//! shutdown (connections close, sessions stay).

mod common;

use std::time::Duration;

use common::*;
use zablab_core::tree::{Acl, CreateMode};
use zablab_node::tools::cluster::{write_configs, ClusterOptions};
use zablab_node::tools::zkclient::{ConnectOptions, ZkClient};

const LIMIT: Duration = Duration::from_secs(40);

fn open() -> Vec<Acl> {
    vec![Acl::new(31, "world", "anyone")]
}

async fn connect(hosts: &str) -> ZkClient {
    let (c, _events) = tokio::time::timeout(LIMIT, ZkClient::connect(ConnectOptions::new(hosts)))
        .await
        .expect("connect in time")
        .expect("connect");
    c
}

fn log_text(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_connections_flushes_the_log_and_exits_0() {
    let dir = TempDir::new("sigterm-standalone");
    let port = free_base_port(1);
    let data = dir.0.join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    let cfg = dir.0.join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime=200\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n",
            data.display()
        ),
    )
    .expect("zoo.cfg");
    let log = dir.0.join("server.log");
    let mut server = Server::start(&cfg, &[], &log);
    let addr = server.client.clone();
    wait_for(LIMIT, "the standalone server serving", || {
        (mode(&addr).as_deref() == Some("standalone")).then_some(())
    });

    let c = connect(&addr).await;
    let mut written = Vec::new();
    for i in 0..50 {
        let p = format!("/k{i}");
        c.create(&p, Some(b"v"), &open(), CreateMode::Persistent)
            .await
            .expect("create");
        written.push(p);
    }

    let status = tokio::task::spawn_blocking(move || {
        let st = server.terminate(LIMIT);
        (st, server)
    })
    .await
    .expect("join");
    let (status, _server) = status;
    let status = status.expect("the server exits after SIGTERM");
    let text = log_text(&log);
    assert_eq!(
        status.code(),
        Some(0),
        "exit status after SIGTERM; log:\n{text}"
    );
    assert!(
        text.contains("SIGTERM received: shutting down"),
        "log:\n{text}"
    );
    let last = text.lines().last().unwrap_or_default();
    assert!(
        last.contains("shut down cleanly") && last.contains("1 client connections closed"),
        "last log line `{last}`; log:\n{text}"
    );
    // The client's connection was closed by the server: its next request fails (it cannot
    // reconnect anywhere) instead of hanging.
    let after = tokio::time::timeout(LIMIT, c.exists("/k0", false)).await;
    assert!(
        matches!(after, Ok(Err(_))),
        "a request after the shutdown: {after:?}"
    );
    drop(c);

    // Everything acknowledged is on disk.
    let server = Server::start(&cfg, &[], &log);
    let addr = server.client.clone();
    wait_for(LIMIT, "the restarted server serving", || {
        (mode(&addr).as_deref() == Some("standalone")).then_some(())
    });
    let c = connect(&addr).await;
    for p in &written {
        assert!(
            c.exists(p, false).await.expect("exists").is_some(),
            "{p} acknowledged before SIGTERM is gone after the restart"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigterm_leader_hands_off_and_its_client_sessions_move_on() {
    let dir = TempDir::new("sigterm-ensemble");
    let base = free_base_port(3);
    let opts = ClusterOptions {
        base_port: base,
        dir: Some(dir.0.clone()),
        tick_time_ms: 200,
        ..ClusterOptions::default()
    };
    let planned = write_configs(&dir.0, &opts).expect("configs");
    let log = |sid: u64| dir.0.join(sid.to_string()).join("server.log");
    let mut servers: Vec<Server> = planned
        .iter()
        .map(|p| Server::start(&p.config, &[], &log(p.sid)))
        .collect();
    let addrs: Vec<String> = servers.iter().map(|s| s.client.clone()).collect();
    let leader = wait_for(LIMIT, "a leader and two followers", || {
        let m: Vec<Option<String>> = addrs.iter().map(|a| mode(a)).collect();
        let followers = m
            .iter()
            .filter(|x| x.as_deref() == Some("follower"))
            .count();
        let leaders: Vec<usize> = (0..3)
            .filter(|i| m[*i].as_deref() == Some("leader"))
            .collect();
        (leaders.len() == 1 && followers == 2).then(|| leaders[0])
    });

    // A session on the leader, holding an ephemeral; the others listed for its reconnect.
    let mut hosts = vec![addrs[leader].clone()];
    hosts.extend((0..3).filter(|i| *i != leader).map(|i| addrs[i].clone()));
    let c = connect(&hosts.join(",")).await;
    assert_eq!(c.current_host(), addrs[leader]);
    c.create("/owner", Some(b"x"), &open(), CreateMode::Ephemeral)
        .await
        .expect("ephemeral");
    let session = c.session_id();

    let mut old = servers.remove(leader);
    let status = tokio::task::spawn_blocking(move || old.terminate(LIMIT))
        .await
        .expect("join")
        .expect("the leader exits after SIGTERM");
    let text = log_text(&log(leader as u64 + 1));
    assert_eq!(status.code(), Some(0), "leader's exit status; log:\n{text}");
    assert!(text.contains("shut down cleanly"), "leader's log:\n{text}");

    // The two others elect a new leader; the session moves to one of them and keeps its
    // ephemeral (the shutdown closed the connection, not the session).
    let rest: Vec<String> = servers.iter().map(|s| s.client.clone()).collect();
    wait_for(LIMIT, "a new leader among the two others", || {
        let m: Vec<Option<String>> = rest.iter().map(|a| mode(a)).collect();
        (m.iter().any(|x| x.as_deref() == Some("leader"))
            && m.iter().any(|x| x.as_deref() == Some("follower")))
        .then_some(())
    });
    let mut stat = None;
    for _ in 0..200 {
        match c.exists("/owner", false).await {
            Ok(s) => {
                stat = s;
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    let stat = stat.expect("the ephemeral survives the shutdown of its server");
    assert_eq!(stat.ephemeral_owner, session);
    assert_eq!(c.session_id(), session, "the same session, resumed");
    assert_ne!(c.current_host(), addrs[leader]);
}
