//! The fault hook (`zablab server --fault-addr`, node/src/server/fault.rs) on real processes: the line
//! protocol answers as documented; cutting the leader off both ways makes the other two elect
//! another leader, and healing brings the old one back as a follower; a leader cut off right
//! after its election steps down within syncLimit ticks, as ZooKeeper's does; a non-loopback
//! address is refused at start.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{free_base_port, mode, wait_for, Server, TempDir, BIN};
use zablab_node::tools::cluster::{write_configs, ClusterOptions};

const LIMIT: Duration = Duration::from_secs(60);

fn hook(port: u16, lines: &[&str]) -> Vec<String> {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect to the fault hook");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut w = s.try_clone().expect("clone");
    let mut r = BufReader::new(s);
    lines
        .iter()
        .map(|l| {
            w.write_all(format!("{l}\n").as_bytes()).expect("write");
            let mut a = String::new();
            r.read_line(&mut a).expect("answer");
            a.trim().to_string()
        })
        .collect()
}

/// Three servers on 127.0.0.1, each with its fault hook on `base + 3000 + index`.
struct Ensemble {
    /// Dropped first (fields drop in order): the servers stop before their directory goes.
    _servers: Vec<Server>,
    _dir: TempDir,
    base: u16,
    planned: Vec<zablab_node::tools::cluster::Planned>,
    addrs: Vec<String>,
}

impl Ensemble {
    fn start(name: &str, tick_time_ms: u64) -> Ensemble {
        let dir = TempDir::new(name);
        let base = free_base_port(3);
        let opts = ClusterOptions {
            base_port: base,
            dir: Some(dir.0.clone()),
            tick_time_ms,
            ..ClusterOptions::default()
        };
        let planned = write_configs(&dir.0, &opts).expect("configs");
        let servers = planned
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let addr = format!("127.0.0.1:{}", base + 3000 + i as u16);
                let log = dir.0.join(format!("{}.log", p.sid));
                Server::start(&p.config, &["--fault-addr", &addr], &log)
            })
            .collect();
        let addrs = planned.iter().map(|p| p.client_addr.clone()).collect();
        Ensemble {
            _servers: servers,
            _dir: dir,
            base,
            planned,
            addrs,
        }
    }

    fn fault_port(&self, i: usize) -> u16 {
        self.base + 3000 + i as u16
    }
}

#[test]
fn cutting_the_leader_off_elects_another_and_heal_brings_it_back() {
    let e = Ensemble::start("fault-hook", 200);
    let (planned, addrs) = (&e.planned, &e.addrs);
    let fault_port = |i: usize| e.fault_port(i);
    let leader = |serving: &[usize]| -> Option<usize> {
        let m: Vec<Option<String>> = serving.iter().map(|&i| mode(&addrs[i])).collect();
        let l: Vec<usize> = serving
            .iter()
            .zip(&m)
            .filter(|(_, m)| m.as_deref() == Some("leader"))
            .map(|(i, _)| *i)
            .collect();
        (m.iter().all(Option::is_some) && l.len() == 1).then(|| l[0])
    };
    let old = wait_for(LIMIT, "a leader", || leader(&[0, 1, 2]));

    let answers = hook(
        fault_port(old),
        &[
            "status",
            "cut 9 sideways",
            "frobnicate",
            "cut 1 in",
            "heal 1",
            "status",
        ],
    );
    assert_eq!(answers[0], "cuts: none");
    assert!(answers[1].starts_with("error: "), "{answers:?}");
    assert!(
        answers[2].starts_with("error: unknown command"),
        "{answers:?}"
    );
    assert_eq!(answers[3..], ["ok", "ok", "cuts: none"]);

    // Isolate the leader both ways.
    let others: Vec<usize> = (0..3).filter(|&i| i != old).collect();
    let cut_old: Vec<String> = others
        .iter()
        .map(|&j| format!("cut {} both", planned[j].sid))
        .collect();
    let cut_old: Vec<&str> = cut_old.iter().map(String::as_str).collect();
    assert!(hook(fault_port(old), &cut_old).iter().all(|a| a == "ok"));
    let cut_line = format!("cut {} both", planned[old].sid);
    for &j in &others {
        assert_eq!(hook(fault_port(j), &[&cut_line]), ["ok"]);
    }
    let status = hook(fault_port(old), &["status"]);
    assert_eq!(
        status,
        [format!(
            "cuts: {}=both {}=both",
            planned[others[0]].sid, planned[others[1]].sid
        )]
    );
    let new = wait_for(LIMIT, "a new leader among the other two", || {
        leader(&others)
    });
    assert_ne!(new, old);
    // The isolated server cannot serve: it has no quorum.
    wait_for(LIMIT, "the isolated server to stop serving", || {
        mode(&addrs[old]).is_none().then_some(())
    });

    for i in 0..3 {
        assert_eq!(hook(fault_port(i), &["heal all"]), ["ok"]);
    }
    let after = wait_for(LIMIT, "all three serving again", || leader(&[0, 1, 2]));
    assert_eq!(after, new, "the healed old leader joins as a follower");
}

/// ZooKeeper resets a learner's deadline to tick + syncLimit on every packet, so a leader cut
/// off right after its election steps down after about syncLimit ticks (5 × 200 ms here).
/// The bug this pins: deadlines that only grew from tick + initLimit + syncLimit kept the
/// isolated leader LEADING for 15 ticks (3.0 s) while the other two elected a new one.
#[test]
fn a_leader_cut_off_right_after_its_election_steps_down_within_sync_limit_ticks() {
    const TICK_MS: u64 = 200;
    const INIT_LIMIT: u64 = 10; // as `zablab cluster` writes them
    const SYNC_LIMIT: u64 = 5;
    let e = Ensemble::start("fault-hook-quorum", TICK_MS);
    let (planned, addrs) = (&e.planned, &e.addrs);
    let fault_port = |i: usize| e.fault_port(i);
    let old = wait_for(LIMIT, "a leader", || {
        (0..3).find(|&i| mode(&addrs[i]).as_deref() == Some("leader"))
    });
    let cut_at = std::time::Instant::now();
    for j in (0..3).filter(|&j| j != old) {
        let cut = format!("cut {} both", planned[j].sid);
        assert_eq!(hook(fault_port(old), &[&cut]), ["ok"]);
        let back = format!("cut {} both", planned[old].sid);
        assert_eq!(hook(fault_port(j), &[&back]), ["ok"]);
    }
    wait_for(LIMIT, "the isolated leader to step down", || {
        (mode(&addrs[old]).as_deref() != Some("leader")).then_some(())
    });
    let ticks = cut_at.elapsed().as_millis() as u64 / TICK_MS;
    eprintln!("isolated leader stepped down after {ticks} ticks of {TICK_MS} ms");
    assert!(
        ticks < INIT_LIMIT + SYNC_LIMIT - 2,
        "stepped down after {ticks} ticks; ZooKeeper's rule gives about {SYNC_LIMIT}"
    );
}

#[test]
fn a_fault_hook_on_a_non_loopback_address_is_refused() {
    let dir = TempDir::new("fault-hook-refused");
    let base = free_base_port(1);
    let opts = ClusterOptions {
        size: 1,
        base_port: base,
        dir: Some(dir.0.clone()),
        ..ClusterOptions::default()
    };
    let planned = write_configs(&dir.0, &opts).expect("config");
    let out = std::process::Command::new(BIN)
        .arg("server")
        .arg(&planned[0].config)
        .args(["--fault-addr", &format!("0.0.0.0:{}", base + 3000)])
        .output()
        .expect("run zablab server");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a loopback address"), "{err}");
}
