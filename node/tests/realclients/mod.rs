//! Shared by the real-client tests (client_*.rs): a 3-server `zablab cluster` process on
//! 127.0.0.1 at a free base port, its servers' roles, and the skip-or-fail rule for clients that
//! are not installed.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::common::{free_base_port, mode, wait_for, TempDir, BIN};

/// `zablab cluster --size 3 --dir D --base-port P`, stopped with SIGTERM (by its own PID) when
/// dropped; the cluster process then stops its servers.
pub struct ZablabCluster {
    pub child: Option<Child>,
    /// Client address and PID of each server, in server-id order.
    pub servers: Vec<(String, u32)>,
    /// Under `--tls`: each server's secure client address, in server-id order.
    pub secure: Vec<String>,
    pub dir: TempDir,
}

impl ZablabCluster {
    pub fn start(tag: &str) -> ZablabCluster {
        ZablabCluster::start_with(tag, &[])
    }

    /// As [`ZablabCluster::start`], with more `zablab cluster` flags (e.g. `--tls`).
    pub fn start_with(tag: &str, extra: &[&str]) -> ZablabCluster {
        let dir = TempDir::new(tag);
        let base = free_base_port(3);
        let mut child = Command::new(BIN)
            .args([
                "cluster",
                "--size",
                "3",
                "--base-port",
                &base.to_string(),
                "--dir",
            ])
            .arg(&dir.0)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start zablab cluster");
        let out = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut cluster = ZablabCluster {
            child: Some(child),
            servers: Vec::new(),
            secure: Vec::new(),
            dir,
        };
        loop {
            let line = rx
                .recv_timeout(Duration::from_secs(70))
                .expect("`zablab cluster` printed `ready` in time");
            eprintln!("cluster: {line}");
            // server N: pid P, client 127.0.0.1:PORT, leader|follower
            if let Some(rest) = line.strip_prefix("server ") {
                let pid = rest
                    .split("pid ")
                    .nth(1)
                    .and_then(|s| s.split(',').next())
                    .and_then(|s| s.trim().parse().ok())
                    .expect("pid");
                let addr = rest
                    .split("client ")
                    .nth(1)
                    .and_then(|s| s.split(',').next())
                    .expect("client address")
                    .trim()
                    .to_string();
                cluster.servers.push((addr, pid));
                if let Some(secure) = rest
                    .split("secure ")
                    .nth(1)
                    .and_then(|s| s.split(',').next())
                {
                    cluster.secure.push(secure.trim().to_string());
                }
            }
            if line.starts_with("ready") {
                break;
            }
        }
        assert_eq!(cluster.servers.len(), 3, "three servers listed");
        // Every server serving, exactly one leader.
        cluster.leader();
        cluster
    }

    pub fn addrs(&self) -> Vec<String> {
        self.servers.iter().map(|s| s.0.clone()).collect()
    }

    /// Index of the leader, waiting until all three serve with exactly one leader.
    pub fn leader(&self) -> usize {
        let addrs = self.addrs();
        wait_for(Duration::from_secs(60), "one leader, two followers", || {
            let m: Vec<Option<String>> = addrs.iter().map(|a| mode(a)).collect();
            let leaders: Vec<usize> = (0..3)
                .filter(|i| m[*i].as_deref() == Some("leader"))
                .collect();
            let followers = m
                .iter()
                .filter(|x| x.as_deref() == Some("follower"))
                .count();
            (leaders.len() == 1 && followers == 2).then(|| leaders[0])
        })
    }

    /// (leader address, a follower's address, the other follower's address).
    pub fn roles(&self) -> (String, String, String) {
        let l = self.leader();
        let a = self.addrs();
        let f: Vec<String> = (0..3).filter(|i| *i != l).map(|i| a[i].clone()).collect();
        (a[l].clone(), f[0].clone(), f[1].clone())
    }
}

impl Drop for ZablabCluster {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let start = std::time::Instant::now();
            while start.elapsed() < Duration::from_secs(10) {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            // The cluster process did not stop: kill it and the servers it listed.
            let _ = c.kill();
            let _ = c.wait();
            for (_, pid) in &self.servers {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            }
        }
    }
}

/// True when the real-client tests must run (CI sets ZABLAB_REQUIRE_CLIENTS=1): a missing
/// client is then a failure, not a skip.
pub fn required() -> bool {
    std::env::var("ZABLAB_REQUIRE_CLIENTS").is_ok_and(|v| v == "1")
}

/// Skips (returns false, with a printed reason) when `present` is false and clients are not
/// required; panics when they are.
pub fn available(what: &str, present: bool, install: &str) -> bool {
    if present {
        return true;
    }
    if required() {
        panic!("{what} is not installed but ZABLAB_REQUIRE_CLIENTS=1 ({install})");
    }
    eprintln!("SKIPPED: {what} is not installed here (install with: {install})");
    false
}

/// The repository root (node/..).
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repo root")
        .to_path_buf()
}

/// Runs `prog args` feeding `lines` on stdin, `first` before the first line and `gap` between
/// lines; returns stdout + stderr. Bounded by `timeout 60`.
pub fn feed(prog: &str, args: &[&str], lines: &[&str], first: Duration, gap: Duration) -> String {
    // One pipe for stdout and stderr, so messages keep their order.
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("exec timeout 60 \"$0\" \"$@\" 2>&1")
        .arg(prog)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start client");
    let mut stdin = child.stdin.take().expect("stdin");
    std::thread::sleep(first);
    for l in lines {
        let _ = writeln!(stdin, "{l}");
        let _ = stdin.flush();
        std::thread::sleep(gap);
    }
    drop(stdin);
    let out = child.wait_with_output().expect("client output");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asserts that `want` occur in `out` in this order.
pub fn in_order(out: &str, want: &[&str], what: &str) {
    let mut at = 0;
    for w in want {
        match out[at..].find(w) {
            Some(i) => at += i + w.len(),
            None => panic!("{what}: expected {w:?} (after byte {at}) in:\n{out}"),
        }
    }
}
