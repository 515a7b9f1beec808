//! Helpers for tests that run real `zablab` processes on 127.0.0.1: a temp dir removed on drop,
//! servers killed (by their own PID) on drop, bounded waits.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_zablab");

pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let p = std::env::temp_dir().join(format!("zablab-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A loopback port free right now (the OS picks it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Base ports are drawn from 10000..26000, so that every port a cluster uses (at most base +
/// 5900 + 16) stays under Linux's ephemeral range (32768..60999): a server restarted after a
/// kill must find its ports free, and a port in that range can meanwhile be taken as the source
/// port of any outgoing connection (a peer reconnecting, a client), which made a restarted server
/// fail to bind and never come back (live_control failed in CI that way).
const BASE_PORTS_FROM: u16 = 10_000;
const BASE_PORTS: u16 = 16_000;

/// A base port such that base..base+n and the +100 (secure client ports of `cluster --tls`),
/// +707, +1707, +3000 and +3100 ranges (the trace and fault ports of `cluster --live`), and the metrics and admin ranges `zablab cluster` configures,
/// are free right now.
pub fn free_base_port(n: u16) -> u16 {
    assert!(n <= 16, "at most 16 servers a base port");
    let mut seed = (std::process::id() as u64).wrapping_mul(2654435761)
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
    for _ in 0..200 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let base = BASE_PORTS_FROM + (seed >> 33) as u16 % BASE_PORTS;
        let ok = (0..n).all(|i| {
            [0u16, 100, 707, 1707, 3000, 3100, 4819, 5900]
                .iter()
                .all(|off| TcpListener::bind(("127.0.0.1", base + off + i)).is_ok())
        });
        if ok {
            return base;
        }
    }
    panic!("no free ports found");
}

/// A server process; killed with SIGKILL when dropped.
pub struct Server {
    pub child: Option<Child>,
    pub client: String,
}

impl Server {
    pub fn start(cfg: &Path, extra: &[&str], log: &Path) -> Server {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("log file");
        let err = out.try_clone().expect("log file");
        let child = Command::new(BIN)
            .arg("server")
            .arg(cfg)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("start zablab server");
        let text = std::fs::read_to_string(cfg).expect("config");
        let port = text
            .lines()
            .find_map(|l| l.strip_prefix("clientPort="))
            .expect("clientPort")
            .trim()
            .to_string();
        Server {
            child: Some(child),
            client: format!("127.0.0.1:{port}"),
        }
    }

    /// kill -9 (SIGKILL) and reap.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Server {
    /// Sends SIGTERM (as systemd's `KillSignal`) and waits up to `limit` for the exit; the
    /// exit status, or `None` if it did not exit in time (it is then killed by drop).
    pub fn terminate(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let c = self.child.as_mut()?;
        let sent = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(sent, "kill -TERM {}", c.id());
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Ok(Some(st)) = c.try_wait() {
                self.child = None;
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

pub fn four_letter(addr: &str, word: &str) -> Option<String> {
    let sock = addr.parse().ok()?;
    let mut s = TcpStream::connect_timeout(&sock, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(word.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

pub fn mode(addr: &str) -> Option<String> {
    four_letter(addr, "srvr")?
        .lines()
        .find_map(|l| l.strip_prefix("Mode: "))
        .map(|m| m.trim().to_string())
}

/// Polls `f` every 20 ms until it returns Some, or gives up after `limit`.
pub fn wait_for<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        if start.elapsed() > limit {
            panic!("gave up after {limit:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `GET path` on `addr` over HTTP/1.1 (the server closes after answering): the status code and
/// the body, or None when nothing answered within 5 s.
pub fn http_get(addr: &str, path: &str) -> Option<(u16, String)> {
    http_request(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
    )
}

/// Sends `raw` as the request and reads the whole response.
pub fn http_request(addr: &str, raw: &str) -> Option<(u16, String)> {
    let sock = addr.parse().ok()?;
    let mut s = TcpStream::connect_timeout(&sock, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(raw.as_bytes()).ok()?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).ok()?;
    let text = String::from_utf8(out).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}
pub mod real_zk;
pub mod trace;
