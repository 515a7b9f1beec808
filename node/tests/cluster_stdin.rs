//! `zablab cluster --stop-with-stdin` (what `cargo xtask lab` runs): when the pipe on its stdin
//! closes, because its parent ended however it ended, the cluster stops every server it
//! started instead of outliving the page.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{free_base_port, TempDir, BIN};

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| !s.contains(") Z "))
            .unwrap_or(false)
}

#[test]
fn a_cluster_whose_stdin_closes_stops_its_servers() {
    let dir = TempDir::new("cluster-stdin");
    let base = free_base_port(3);
    let mut cluster = Command::new(BIN)
        .args(["cluster", "--size", "3", "--stop-with-stdin", "--base-port"])
        .arg(base.to_string())
        .arg("--dir")
        .arg(dir.0.join("c"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("zablab cluster starts");
    let (tx, rx) = mpsc::channel::<String>();
    let out = cluster.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let mut servers = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = match rx.recv_timeout(left) {
            Ok(l) => l,
            Err(_) => {
                let _ = cluster.kill();
                panic!("no \"ready\" line within 60 s (servers so far: {servers:?})");
            }
        };
        // "server 1: pid 11862, client 127.0.0.1:2181, follower; ..."
        if let Some(rest) = line.strip_prefix("server ") {
            if let Some(pid) = rest.split("pid ").nth(1).and_then(|p| p.split(',').next()) {
                servers.push(pid.trim().parse::<u32>().expect("a pid"));
            }
        }
        if line.starts_with("ready") {
            break;
        }
    }
    assert_eq!(servers.len(), 3, "{servers:?}");
    assert!(servers.iter().all(|p| alive(*p)));

    drop(cluster.stdin.take()); // the parent's end of the pipe closes
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = cluster.try_wait().expect("try_wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = cluster.kill();
            panic!("the cluster was still running 20 s after its stdin closed");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
    let gone = Instant::now() + Duration::from_secs(10);
    while servers.iter().any(|p| alive(*p)) && Instant::now() < gone {
        std::thread::sleep(Duration::from_millis(50));
    }
    let left: Vec<u32> = servers.iter().copied().filter(|p| alive(*p)).collect();
    for p in &left {
        let _ = Command::new("kill").args(["-9", &p.to_string()]).status();
    }
    assert!(
        left.is_empty(),
        "servers still running after the cluster stopped: {left:?}"
    );
}
