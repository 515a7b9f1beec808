//! Failover measurement (not a test): starts a 3-server `zablab cluster` in a temp dir, kills
//! the leader with SIGKILL N times (restarting it each time) and prints the median time from
//! the kill until another server answers `srvr` with `Mode: leader` (srvr answers only while
//! serving, i.e. once a quorum synced with the new leader).
//!
//! ```text
//! cargo build --release -p zablab-node
//! cargo run --release -p zablab-node --example failover -- --runs 20
//! ```

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn srvr_mode(addr: &str) -> Option<String> {
    let sock = addr.parse().ok()?;
    let mut s = TcpStream::connect_timeout(&sock, Duration::from_millis(200)).ok()?;
    s.set_read_timeout(Some(Duration::from_millis(500))).ok()?;
    s.write_all(b"srvr").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.lines()
        .find_map(|l| l.strip_prefix("Mode: "))
        .map(|m| m.trim().to_string())
}

fn kill9(pid: u32) {
    let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
}

fn main() {
    let mut runs = 10usize;
    let mut base: u16 = 26181;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--runs" => runs = args.next().and_then(|v| v.parse().ok()).unwrap_or(runs),
            "--base-port" => base = args.next().and_then(|v| v.parse().ok()).unwrap_or(base),
            _ => {
                eprintln!("usage: failover [--runs N] [--base-port P]");
                std::process::exit(2);
            }
        }
    }
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent()?.parent().map(PathBuf::from));
    let Some(zablab) = exe_dir.map(|d| d.join("zablab")).filter(|p| p.exists()) else {
        eprintln!("zablab binary not found next to the example: run `cargo build --release -p zablab-node` first");
        std::process::exit(2);
    };
    let dir = std::env::temp_dir().join(format!("zablab-failover-{}", std::process::id()));
    let mut cluster = Command::new(&zablab)
        .args(["cluster", "--dir"])
        .arg(&dir)
        .args(["--base-port", &base.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start zablab cluster");
    // "server N: pid P, client 127.0.0.1:PORT, mode"
    let mut pids: HashMap<u64, u32> = HashMap::new();
    let mut addrs: HashMap<u64, String> = HashMap::new();
    let stdout = cluster.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref().map_while(Result::ok) {
        println!("{line}");
        if line.starts_with("ready") {
            break;
        }
        if let Some(rest) = line.strip_prefix("server ") {
            let parts: Vec<&str> = rest.split([':', ',']).map(str::trim).collect();
            // ["1", "pid 123", "client 127.0.0.1", "2181", "leader"]
            if let (Some(sid), Some(pid), Some(port)) = (
                parts.first().and_then(|s| s.parse::<u64>().ok()),
                parts
                    .get(1)
                    .and_then(|p| p.strip_prefix("pid "))
                    .and_then(|p| p.parse::<u32>().ok()),
                parts.get(3).and_then(|p| p.parse::<u16>().ok()),
            ) {
                pids.insert(sid, pid);
                addrs.insert(sid, format!("127.0.0.1:{port}"));
            }
        }
    }
    std::thread::spawn(move || for _ in lines {});
    let mut restarted: Vec<Child> = Vec::new();
    let mut samples = Vec::new();
    let find_leader = |addrs: &HashMap<u64, String>, skip: Option<u64>| {
        addrs
            .iter()
            .filter(|(s, _)| Some(**s) != skip)
            .find_map(|(s, a)| (srvr_mode(a)? == "leader").then_some(*s))
    };
    for run in 0..runs {
        let start = Instant::now();
        let leader = loop {
            if let Some(l) = find_leader(&addrs, None) {
                let others_follow = addrs
                    .iter()
                    .filter(|(s, _)| **s != l)
                    .all(|(_, a)| srvr_mode(a).as_deref() == Some("follower"));
                if others_follow {
                    break Some(l);
                }
            }
            if start.elapsed() > Duration::from_secs(60) {
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let Some(leader) = leader else {
            eprintln!("no stable leader within 60 s; stopping");
            break;
        };
        let Some(&pid) = pids.get(&leader) else { break };
        let killed = Instant::now();
        kill9(pid);
        let new_leader = loop {
            if let Some(l) = find_leader(&addrs, Some(leader)) {
                break Some(l);
            }
            if killed.elapsed() > Duration::from_secs(60) {
                break None;
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        let ms = killed.elapsed().as_secs_f64() * 1000.0;
        let Some(new_leader) = new_leader else {
            eprintln!("run {run}: no new leader within 60 s");
            break;
        };
        println!(
            "run {}: killed leader {leader}, server {new_leader} leading after {ms:.0} ms",
            run + 1
        );
        samples.push(ms);
        // Restart the old leader (our own child from now on).
        let cfg = dir.join(leader.to_string()).join("zoo.cfg");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(leader.to_string()).join("server.log"))
            .expect("log");
        let err = log.try_clone().expect("log");
        let child = Command::new(&zablab)
            .arg("server")
            .arg(&cfg)
            .stdout(log)
            .stderr(err)
            .spawn()
            .expect("restart");
        pids.insert(leader, child.id());
        restarted.push(child);
    }
    // Stop everything we started: the cluster (which stops its children) and our restarts.
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(cluster.id().to_string())
        .status();
    for mut c in restarted {
        let _ = c.kill();
        let _ = c.wait();
    }
    let _ = cluster.wait();
    let _ = std::fs::remove_dir_all(&dir);
    if samples.is_empty() {
        eprintln!("no samples");
        std::process::exit(1);
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    let median = if samples.len() % 2 == 1 {
        samples[samples.len() / 2]
    } else {
        (samples[samples.len() / 2 - 1] + samples[samples.len() / 2]) / 2.0
    };
    println!(
        "runs: {}  min {:.0} ms  max {:.0} ms",
        samples.len(),
        samples[0],
        samples[samples.len() - 1]
    );
    println!("failover_ms: {median:.0}");
}
