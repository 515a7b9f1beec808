//! Real `zablab server` processes on 127.0.0.1: election, failover after kill -9, rejoin.

mod common;

use std::time::{Duration, Instant};

use common::*;
use zablab_core::trace::HostEvent;
use zablab_node::tools::cluster::{write_configs, ClusterOptions};

const LIMIT: Duration = Duration::from_secs(40);

fn modes(servers: &[Server]) -> Vec<Option<String>> {
    servers
        .iter()
        .map(|s| {
            if s.child.is_some() {
                mode(&s.client)
            } else {
                None
            }
        })
        .collect()
}

#[test]
fn three_servers_elect_one_leader_survive_kill9_and_the_old_leader_rejoins_through_sync() {
    let dir = TempDir::new("cluster");
    let base = free_base_port(3);
    let opts = ClusterOptions {
        base_port: base,
        dir: Some(dir.0.clone()),
        ..ClusterOptions::default()
    };
    let planned = write_configs(&dir.0, &opts).expect("configs");
    let log = |sid: u64| dir.0.join(sid.to_string()).join("server.log");
    let mut servers: Vec<Server> = planned
        .iter()
        .map(|p| Server::start(&p.config, &[], &log(p.sid)))
        .collect();

    // 1. Exactly one leader, the others follow.
    let first = wait_for(LIMIT, "a leader and two followers", || {
        let m = modes(&servers);
        let leaders: Vec<usize> = (0..3)
            .filter(|i| m[*i].as_deref() == Some("leader"))
            .collect();
        let followers = m
            .iter()
            .filter(|x| x.as_deref() == Some("follower"))
            .count();
        (leaders.len() == 1 && followers == 2).then(|| leaders[0])
    });
    eprintln!("leader is server {}", first + 1);

    // 2. kill -9 the leader: a new leader among the others, the remaining one follows it.
    servers[first].kill9();
    let killed_at = Instant::now();
    let second = wait_for(LIMIT, "a new leader after kill -9", || {
        let m = modes(&servers);
        let leaders: Vec<usize> = (0..3)
            .filter(|i| m[*i].as_deref() == Some("leader"))
            .collect();
        let followers = m
            .iter()
            .filter(|x| x.as_deref() == Some("follower"))
            .count();
        (leaders.len() == 1 && followers == 1).then(|| leaders[0])
    });
    assert_ne!(second, first);
    eprintln!(
        "new leader is server {} after {:?}",
        second + 1,
        killed_at.elapsed()
    );

    // 3. Restart the old leader with a trace stream: it rejoins as a follower, and its trace
    //    shows the sync packet (DIFF/TRUNC/SNAP) it received from the new leader.
    let trace_port = base + 3000;
    let trace_addr = format!("127.0.0.1:{trace_port}");
    let p = &planned[first];
    servers[first] = Server::start(
        &p.config,
        &["--trace-addr", &trace_addr, "--trace-wait", "20000"],
        &log(p.sid),
    );
    // The stream is the core's trace format: every line parses as a TraceRecord (checked by
    // the reader). Besides the sync packet, the node reports its start, its persists and
    // their completion, and numbers its sends in order.
    let mut trace = common::trace::TraceReader::connect(&trace_addr, LIMIT);
    assert_eq!(trace.header.node, Some(p.sid));
    let (mut started, mut persists, mut persisted, mut last_send) = (false, 0, 0, 0u64);
    let sync = trace.until(
        LIMIT,
        |r| match &r.event {
            HostEvent::Started => started = true,
            HostEvent::Persist { .. } => persists += 1,
            HostEvent::Persisted { .. } => persisted += 1,
            HostEvent::Send {
                msg_id, arrives, ..
            } => {
                assert!(*msg_id > last_send, "sends numbered in order: {r:?}");
                assert_eq!(*arrives, None, "a real server does not know arrival times");
                last_send = *msg_id;
            }
            _ => {}
        },
        |r| match &r.event {
            HostEvent::Deliver { from, kind, .. }
                if ["DIFF", "TRUNC", "SNAP"].contains(&kind.as_ref()) =>
            {
                Some((kind.to_string(), *from))
            }
            _ => None,
        },
    );
    if let Some((_, from)) = &sync {
        assert_eq!(*from, second as u64 + 1, "sync comes from the new leader");
    }
    let sync_kind = sync.map(|(k, _)| k);
    assert!(started, "the trace starts with the server's Started");
    assert!(
        last_send > 0,
        "FOLLOWERINFO and election notifications were traced"
    );
    // The learner persists acceptedEpoch before ACKEPOCH, so a persist and its completion come
    // before the leader's sync packet.
    assert!(
        persists > 0 && persisted > 0,
        "persists traced: {persists} requested, {persisted} completed"
    );
    let sync_kind = sync_kind.expect("the rejoining server's trace shows DIFF, TRUNC or SNAP");
    eprintln!("old leader rejoined with {sync_kind}");
    wait_for(LIMIT, "the old leader to follow", || {
        let m = modes(&servers);
        (m[first].as_deref() == Some("follower") && m[second].as_deref() == Some("leader"))
            .then_some(())
    });
    // The status tool sees the same picture.
    let hosts: Vec<String> = servers.iter().map(|s| s.client.clone()).collect();
    let out = std::process::Command::new(BIN)
        .arg("status")
        .arg(hosts.join(","))
        .output()
        .expect("status");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.matches("mode=leader").count(), 1, "{text}");
    assert_eq!(text.matches("mode=follower").count(), 2, "{text}");
}

#[test]
fn four_letter_words_follow_the_whitelist_and_answer_before_serving() {
    let dir = TempDir::new("4lw");
    let base = free_base_port(3);
    let opts = ClusterOptions {
        base_port: base,
        dir: Some(dir.0.clone()),
        ..ClusterOptions::default()
    };
    let planned = write_configs(&dir.0, &opts).expect("configs");
    // Only server 1 runs, with a restricted whitelist: it cannot get a quorum, so it is not serving.
    let cfg = std::fs::read_to_string(&planned[0].config)
        .expect("cfg")
        .replace(
            "4lw.commands.whitelist=*",
            "4lw.commands.whitelist=ruok,isro",
        );
    std::fs::write(&planned[0].config, cfg).expect("write cfg");
    let _s = Server::start(&planned[0].config, &[], &dir.0.join("s1.log"));
    let addr = planned[0].client_addr.clone();
    let ruok = wait_for(LIMIT, "ruok", || four_letter(&addr, "ruok"));
    assert_eq!(ruok, "imok");
    assert_eq!(four_letter(&addr, "isro").as_deref(), Some("null"));
    assert_eq!(
        four_letter(&addr, "srvr").as_deref(),
        Some("This ZooKeeper instance is not currently serving requests\n")
    );
    assert_eq!(
        four_letter(&addr, "mntr").as_deref(),
        Some("mntr is not executed because it is not in the whitelist.\n")
    );
    // Not a four-letter word: treated as a client frame and closed without a panic.
    let r = four_letter(&addr, "\0\0\0\x2cxxxx");
    assert!(matches!(r.as_deref(), None | Some("")), "{r:?}");
    assert_eq!(
        four_letter(&addr, "ruok").as_deref(),
        Some("imok"),
        "still alive"
    );
}
