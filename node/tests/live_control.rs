//! `zablab cluster --live --control ADDR` (what `cargo xtask lab` runs for the page): the
//! control API kills, restarts and wipes real server processes, cuts and heals links through
//! their fault hooks, and writes and reads through any one server.

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{free_base_port, free_port, http_get, http_request, wait_for, TempDir, BIN};
use serde_json::Value;

/// The cluster process; on drop its stdin closes and it gets SIGTERM (each stops its servers),
/// then SIGKILL if it has not exited within 20 s.
struct Cluster {
    child: Child,
    control: String,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &std::path::Path) -> Cluster {
    let base = free_base_port(3);
    let control = format!("127.0.0.1:{}", free_port());
    let mut child = Command::new(BIN)
        .args(["cluster", "--size", "3", "--live", "--stop-with-stdin"])
        .args(["--control", &control, "--base-port", &base.to_string()])
        .arg("--dir")
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("zablab cluster starts");
    let out = child.stdout.take().expect("stdout");
    let cluster = Cluster { child, control };
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut saw_control = false;
    let mut traces = 0;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx.recv_timeout(left).expect("a \"ready\" line within 60 s");
        saw_control |= line.contains(&format!("control API on http://{}", cluster.control));
        traces += usize::from(line.contains(": trace 127.0.0.1:"));
        if line.starts_with("ready") {
            break;
        }
    }
    assert!(saw_control, "the control address is printed");
    assert_eq!(traces, 3, "each server's trace address is printed");
    cluster
}

/// `method path` on the control API with an optional Origin: the status and the JSON answer.
fn api_with(c: &Cluster, method: &str, path: &str, origin: Option<&str>) -> (u16, Value) {
    let origin = origin
        .map(|o| format!("Origin: {o}\r\n"))
        .unwrap_or_default();
    let raw = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\n{origin}Content-Length: 0\r\nConnection: close\r\n\r\n",
        c.control
    );
    let (status, body) = http_request(&c.control, &raw).expect("the control API answers");
    let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("JSON ({e}): {body}"));
    (status, v)
}

fn api(c: &Cluster, method: &str, path: &str) -> (u16, Value) {
    api_with(c, method, path, None)
}

fn cluster(c: &Cluster) -> Value {
    let (status, v) = api(c, "GET", "/api/cluster");
    assert_eq!(status, 200, "{v}");
    v
}

/// The sid of the one leader when every server in `expect_running` runs and the others follow.
fn leader(v: &Value) -> Option<u64> {
    let servers = v["servers"].as_array()?;
    let leaders: Vec<u64> = servers
        .iter()
        .filter(|s| s["mode"] == "leader")
        .filter_map(|s| s["sid"].as_u64())
        .collect();
    (leaders.len() == 1).then(|| leaders[0])
}

fn server(v: &Value, sid: u64) -> Value {
    v["servers"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["sid"] == sid).cloned())
        .unwrap_or_else(|| panic!("server {sid} in {v}"))
}

/// Reads `path` through `sid` until it holds `want`.
fn read_until(c: &Cluster, sid: u64, path: &str, want: &str, limit: Duration) -> Value {
    wait_for(
        limit,
        &format!("{path} = {want:?} through server {sid}"),
        || {
            let (status, v) = api(c, "GET", &format!("/api/servers/{sid}/read?path={path}"));
            (status == 200 && v["data"] == want).then_some(v)
        },
    )
}

#[test]
fn the_control_api_kills_restarts_wipes_cuts_and_writes_through_real_servers() {
    let dir = TempDir::new("live-control");
    let c = start(&dir.0.join("c"));

    // A leader and two followers, each with its trace and fault addresses and a pid.
    let first = wait_for(
        Duration::from_secs(40),
        "a leader and two followers",
        || {
            let v = cluster(&c);
            let followers = v["servers"]
                .as_array()?
                .iter()
                .filter(|s| s["mode"] == "follower")
                .count();
            leader(&v).filter(|_| followers == 2).map(|l| (l, v))
        },
    );
    let (lead, v) = first;
    for sid in 1..=3u64 {
        let s = server(&v, sid);
        assert_eq!(s["running"], true, "{s}");
        assert!(s["pid"].as_u64().is_some(), "{s}");
        assert!(
            s["trace"]
                .as_str()
                .is_some_and(|t| t.starts_with("127.0.0.1:")),
            "{s}"
        );
        assert!(
            s["fault"]
                .as_str()
                .is_some_and(|t| t.starts_with("127.0.0.1:")),
            "{s}"
        );
    }
    assert_eq!(v["cuts"], serde_json::json!([]), "{v}");
    let followers: Vec<u64> = (1..=3).filter(|s| *s != lead).collect();

    // Refusals: another origin, an unknown sid, a wrong method.
    let (status, v) = api_with(&c, "GET", "/api/cluster", Some("http://evil.example"));
    assert_eq!(status, 403, "{v}");
    assert!(v["error"].is_string(), "{v}");
    let (status, _) = api_with(
        &c,
        "POST",
        "/api/servers/1/kill",
        Some("http://evil.example"),
    );
    assert_eq!(status, 403);
    assert_eq!(
        api_with(&c, "GET", "/api/cluster", Some("http://localhost:8080")).0,
        200
    );
    assert_eq!(api(&c, "POST", "/api/servers/9/kill").0, 404);
    assert_eq!(api(&c, "GET", "/api/servers/9/read?path=/x").0, 404);
    assert_eq!(api(&c, "GET", "/api/servers/1/kill").0, 405);
    assert!(
        server(&cluster(&c), 1)["running"] == true,
        "a refused kill kills nothing"
    );
    // Bounds: a head over 8 KiB, a body over 4 KiB, a path over 1024 bytes.
    let huge = format!(
        "GET /api/cluster HTTP/1.1\r\nX: {}\r\n\r\n",
        "a".repeat(9000)
    );
    assert_eq!(http_request(&c.control, &huge).map(|r| r.0), Some(431));
    let big = "POST /api/links/heal-all HTTP/1.1\r\nContent-Length: 5000\r\n\r\n";
    assert_eq!(http_request(&c.control, big).map(|r| r.0), Some(413));
    let long = format!("/api/servers/1/read?path=/{}", "a".repeat(1100));
    assert_eq!(api(&c, "GET", &long).0, 400);
    // At most 8 connections at once: a 9th is closed unanswered until one of them ends.
    let idle: Vec<TcpStream> = (0..8)
        .map(|_| TcpStream::connect(&c.control).expect("connect"))
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(http_get(&c.control, "/api/cluster"), None);
    drop(idle);
    wait_for(
        Duration::from_secs(5),
        "the API after the idle ones closed",
        || http_get(&c.control, "/api/cluster").filter(|r| r.0 == 200),
    );

    // Write through a follower, read it back through the other follower.
    let (status, w) = api(
        &c,
        "POST",
        &format!(
            "/api/servers/{}/write?path=/live&data=hello%20world",
            followers[0]
        ),
    );
    assert_eq!(status, 200, "{w}");
    assert!(
        w["zxid"].as_str().is_some_and(|z| z.starts_with("0x")),
        "{w}"
    );
    assert_eq!(w["version"], 0, "{w}");
    let r = read_until(
        &c,
        followers[1],
        "/live",
        "hello world",
        Duration::from_secs(10),
    );
    assert_eq!(r["version"], 0, "{r}");
    assert_eq!(r["mzxid"], w["zxid"], "{r} {w}");
    // A second write is a setData.
    let (status, w2) = api(
        &c,
        "POST",
        &format!("/api/servers/{}/write?path=/live&data=again", followers[1]),
    );
    assert_eq!(status, 200, "{w2}");
    assert_eq!(w2["version"], 1, "{w2}");
    read_until(&c, followers[0], "/live", "again", Duration::from_secs(10));

    // kill -9 the leader: another server leads within 15 s, the killed one shows stopped.
    let (status, v) = api(&c, "POST", &format!("/api/servers/{lead}/kill"));
    assert_eq!(status, 200, "{v}");
    let killed_at = Instant::now();
    let v = wait_for(Duration::from_secs(15), "a new leader", || {
        let v = cluster(&c);
        leader(&v).filter(|l| *l != lead).map(|_| v)
    });
    eprintln!(
        "new leader {:?} after {:?}",
        leader(&v),
        killed_at.elapsed()
    );
    let dead = server(&v, lead);
    assert_eq!(dead["running"], false, "{dead}");
    assert!(dead["pid"].is_null(), "{dead}");
    assert!(dead["mode"].is_null(), "{dead}");
    assert_eq!(api(&c, "POST", &format!("/api/servers/{lead}/kill")).0, 409);

    // Wipe: needs confirm=yes, refuses a running server, empties the killed one but myid.
    assert_eq!(api(&c, "POST", &format!("/api/servers/{lead}/wipe")).0, 400);
    let running = followers[0];
    let (status, v) = api(
        &c,
        "POST",
        &format!("/api/servers/{running}/wipe?confirm=yes"),
    );
    assert_eq!(status, 409, "{v}");
    let data = dir.0.join("c").join(lead.to_string()).join("data");
    assert!(
        std::fs::read_dir(&data).expect("data dir").count() > 1,
        "data before the wipe"
    );
    let (status, v) = api(&c, "POST", &format!("/api/servers/{lead}/wipe?confirm=yes"));
    assert_eq!(status, 200, "{v}");
    let left: Vec<String> = std::fs::read_dir(&data)
        .expect("data dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["myid"], "only myid is left");

    // Restart: it runs again, rejoins, and serves the znode it lost in the wipe.
    let (status, v) = api(&c, "POST", &format!("/api/servers/{lead}/restart"));
    assert_eq!(status, 200, "{v}");
    assert!(v["pid"].as_u64().is_some(), "{v}");
    assert_eq!(
        api(&c, "POST", &format!("/api/servers/{lead}/restart")).0,
        409
    );
    let s = server(&cluster(&c), lead);
    assert_eq!(s["running"], true, "{s}");
    assert_eq!(s["pid"], v["pid"], "{s}");
    read_until(&c, lead, "/live", "again", Duration::from_secs(30));

    // Cut 1→2: one directed cut, reported once although both ends hold it; heal removes it.
    let (status, v) = api(&c, "POST", "/api/links/1/2/cut");
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["applied"], serde_json::json!([1, 2]), "{v}");
    assert_eq!(
        cluster(&c)["cuts"],
        serde_json::json!([{"from": 1, "to": 2}])
    );
    let (status, v) = api(&c, "POST", "/api/links/1/2/heal");
    assert_eq!(status, 200, "{v}");
    assert_eq!(cluster(&c)["cuts"], serde_json::json!([]));

    // Both ways, then heal-all.
    assert_eq!(api(&c, "POST", "/api/links/2/3/cut-both").0, 200);
    assert_eq!(
        cluster(&c)["cuts"],
        serde_json::json!([{"from": 2, "to": 3}, {"from": 3, "to": 2}])
    );
    assert_eq!(api(&c, "POST", "/api/links/heal-all").0, 200);
    assert_eq!(cluster(&c)["cuts"], serde_json::json!([]));
}
