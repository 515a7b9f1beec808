//! The live lab's control API: `zablab cluster --control 127.0.0.1:PORT` serves HTTP/1.1 on
//! loopback, over the servers the cluster process owns ([`super::fleet`]), their fault hooks
//! ([`crate::server::fault`]'s line protocol) and their client ports. `cargo xtask lab` proxies
//! the page's `/api/` requests here.
//!
//! | request | effect | answer (JSON) |
//! |---|---|---|
//! | `GET /api/cluster` | every server, its mode (`srvr`) and the link cuts (fault hooks' `status`) | `{"servers":[{"sid","client","trace","fault","running","pid","mode"}],"cuts":[{"from","to"}]}` |
//! | `POST /api/servers/{sid}/kill` | kill -9 the server and reap it | `{"ok":true}`; 409 when not running |
//! | `POST /api/servers/{sid}/restart` | start it again with the same flags (same `server.log`) | `{"ok":true,"pid":n}`; 409 when running |
//! | `POST /api/servers/{sid}/wipe?confirm=yes` | empty its data dir but `myid` | `{"ok":true}`; 400 without `confirm=yes`, 409 when running |
//! | `POST /api/servers/{sid}/write?path=/x&data=text` | create, or setData when it exists, through that server | `{"zxid":"0x…","version":n}` |
//! | `GET /api/servers/{sid}/read?path=/x` | getData through that server | `{"data":"text","version":n,"mzxid":"0x…"}` |
//! | `POST /api/links/{from}/{to}/cut` | drop messages from→to: `cut to out` on from, `cut from in` on to | `{"ok":true,"applied":[sids]}` |
//! | `POST /api/links/{from}/{to}/heal` | undo that one direction | same |
//! | `POST /api/links/{a}/{b}/cut-both`, `heal-both` | both directions | same |
//! | `POST /api/links/heal-all` | `heal all` on every running server | same |
//!
//! A cut is applied on both ends, so it holds whichever side sends, and while one end is down
//! (a restarted server forgets its own cuts; the other end's still hold). Errors are
//! `{"error":"…"}` with 400 (bad request), 403 (an `Origin` that is not a loopback page: plain
//! POSTs skip CORS preflight), 404 (no such route or server), 405 (wrong method), 409 (wrong
//! server state), 413/431 (too large) or 503 (the server did not answer). Bounds: head ≤ 8 KiB,
//! body ≤ 4 KiB (read and ignored), ≤ [`MAX_CONNECTIONS`] connections at once (more are
//! closed), 5 s to read a request and 5 s to write the answer, path and data ≤ 1024 bytes.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use zablab_core::tree::acl::open_acl_unsafe;
use zablab_core::tree::{CreateMode, ErrorCode};

use super::fleet::{Fleet, FleetError, ServerView};
use super::modes;
use crate::codec::http::{self, Request, Response, MAX_REQUEST_HEAD_BYTES};
use crate::codec::websocket::origin_allowed;
use crate::tools::zkclient::{ConnectOptions, ZkClient, ZkError};

/// The longest request body read (and ignored).
pub const MAX_BODY_BYTES: usize = 4 * 1024;
/// Control connections served at once.
pub const MAX_CONNECTIONS: usize = 8;
/// To read a request, and to write its answer.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest znode path and data of write and read.
pub const MAX_PATH_BYTES: usize = 1024;
pub const MAX_DATA_BYTES: usize = 1024;
/// To talk to a fault hook or a server's client port.
const HOOK_TIMEOUT: Duration = Duration::from_secs(1);
const ZK_TIMEOUT: Duration = Duration::from_secs(5);

/// One API call, parsed from the method and path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    Cluster,
    Kill(u64),
    Restart(u64),
    Wipe(u64),
    Write(u64),
    Read(u64),
    /// One direction (`both` false) or both.
    Cut {
        from: u64,
        to: u64,
        both: bool,
    },
    Heal {
        from: u64,
        to: u64,
        both: bool,
    },
    HealAll,
}

/// An error answer: status and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError(pub u16, pub String);

fn err(status: u16, msg: impl Into<String>) -> ApiError {
    ApiError(status, msg.into())
}

fn sid(s: &str) -> Result<u64, ApiError> {
    match s.parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(err(404, format!("no server `{s}`"))),
    }
}

/// The route of `method path`: 404 for an unknown path, 405 for a known path with the wrong
/// method, 400 for a link from a server to itself.
pub fn route(method: &str, path: &str) -> Result<Route, ApiError> {
    let segs: Vec<&str> = path
        .strip_prefix("/api/")
        .ok_or_else(|| err(404, format!("no route {path}")))?
        .split('/')
        .collect();
    let (want, r) = match segs.as_slice() {
        ["cluster"] => ("GET", Route::Cluster),
        ["servers", s, action] => {
            let s = sid(s)?;
            match *action {
                "kill" => ("POST", Route::Kill(s)),
                "restart" => ("POST", Route::Restart(s)),
                "wipe" => ("POST", Route::Wipe(s)),
                "write" => ("POST", Route::Write(s)),
                "read" => ("GET", Route::Read(s)),
                _ => return Err(err(404, format!("no route {path}"))),
            }
        }
        ["links", "heal-all"] => ("POST", Route::HealAll),
        ["links", a, b, action] => {
            let (from, to) = (sid(a)?, sid(b)?);
            let r = match *action {
                "cut" => Route::Cut {
                    from,
                    to,
                    both: false,
                },
                "heal" => Route::Heal {
                    from,
                    to,
                    both: false,
                },
                "cut-both" => Route::Cut {
                    from,
                    to,
                    both: true,
                },
                "heal-both" => Route::Heal {
                    from,
                    to,
                    both: true,
                },
                _ => return Err(err(404, format!("no route {path}"))),
            };
            if from == to {
                return Err(err(400, "a link joins two different servers"));
            }
            ("POST", r)
        }
        _ => return Err(err(404, format!("no route {path}"))),
    };
    if method != want {
        return Err(err(405, format!("{path} takes {want}")));
    }
    Ok(r)
}

/// The pairs (from, to) whose messages server `me` drops, from its fault hook's `status`
/// answer (`cuts: 2=both 3=in` or `cuts: none`).
pub fn parse_cuts(me: u64, status: &str) -> Vec<(u64, u64)> {
    let Some(list) = status.trim().strip_prefix("cuts:") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in list.split_whitespace() {
        let Some((peer, dir)) = item.split_once('=') else {
            continue;
        };
        let Ok(peer) = peer.parse::<u64>() else {
            continue;
        };
        if matches!(dir, "in" | "both") {
            out.push((peer, me));
        }
        if matches!(dir, "out" | "both") {
            out.push((me, peer));
        }
    }
    out
}

/// Serves the API on `listener` until the process ends.
pub async fn serve(listener: TcpListener, fleet: Arc<Fleet>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            drop(stream); // too many at once: closed unanswered
            continue;
        };
        let fleet = fleet.clone();
        tokio::spawn(async move {
            connection(stream, &fleet).await;
            drop(permit);
        });
    }
}

async fn connection(mut s: TcpStream, fleet: &Fleet) {
    let answer = match tokio::time::timeout(IO_TIMEOUT, read_request(&mut s)).await {
        Err(_) => return,
        Ok(Err(e)) => error_response(&e),
        Ok(Ok((req, head))) => match handle(&req, &head, fleet).await {
            Ok(v) => Response::new(200, "application/json", v.to_string()),
            Err(e) => error_response(&e),
        },
    };
    let bytes = http::encode(&answer, false);
    let _ = tokio::time::timeout(IO_TIMEOUT, async {
        s.write_all(&bytes).await?;
        s.shutdown().await
    })
    .await;
}

fn error_response(e: &ApiError) -> Response {
    Response::new(e.0, "application/json", json!({ "error": e.1 }).to_string())
}

/// Reads a head (≤ 8 KiB) and its body (≤ 4 KiB, dropped).
async fn read_request(s: &mut TcpStream) -> Result<(Request, Vec<u8>), ApiError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let end = loop {
        if let Some(e) = http::head_end(&buf) {
            break e;
        }
        if buf.len() > MAX_REQUEST_HEAD_BYTES {
            return Err(err(431, "request head too large"));
        }
        let n = s
            .read(&mut chunk)
            .await
            .map_err(|e| err(400, e.to_string()))?;
        if n == 0 {
            return Err(err(400, "incomplete request"));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    if end > MAX_REQUEST_HEAD_BYTES {
        return Err(err(431, "request head too large"));
    }
    let head = buf[..end].to_vec();
    let req = http::parse_head(&head).map_err(|_| err(400, "malformed request"))?;
    let len: usize = match http::header(&head, "Content-Length") {
        None => 0,
        Some(v) => v.parse().map_err(|_| err(400, "bad Content-Length"))?,
    };
    if len > MAX_BODY_BYTES {
        return Err(err(413, "request body too large"));
    }
    let mut have = buf.len() - (end + 4);
    while have < len {
        let n = s
            .read(&mut chunk)
            .await
            .map_err(|e| err(400, e.to_string()))?;
        if n == 0 {
            return Err(err(400, "incomplete body"));
        }
        have += n;
    }
    Ok((req, head))
}

async fn handle(req: &Request, head: &[u8], fleet: &Fleet) -> Result<Value, ApiError> {
    if !origin_allowed(http::header(head, "Origin")) {
        return Err(err(403, "requests from other origins are refused"));
    }
    let fleet_err = |e: FleetError| match e {
        FleetError::NoSuchServer(_) => err(404, e.to_string()),
        FleetError::Running(_) | FleetError::NotRunning(_) => err(409, e.to_string()),
        FleetError::Io(_) => err(500, e.to_string()),
    };
    match route(&req.method, &req.path)? {
        Route::Cluster => Ok(cluster(fleet).await),
        Route::Kill(s) => {
            fleet.kill(s).await.map_err(fleet_err)?;
            Ok(json!({ "ok": true }))
        }
        Route::Restart(s) => {
            fleet.restart(s).await.map_err(fleet_err)?;
            let pid = server(fleet, s).await?.pid;
            Ok(json!({ "ok": true, "pid": pid }))
        }
        Route::Wipe(s) => {
            fleet.planned(s).await.map_err(fleet_err)?;
            if req.param("confirm") != Some("yes") {
                return Err(err(400, "wipe needs ?confirm=yes"));
            }
            fleet.wipe(s).await.map_err(fleet_err)?;
            Ok(json!({ "ok": true }))
        }
        Route::Write(s) => write(req, &running(fleet, s).await?).await,
        Route::Read(s) => read(req, &running(fleet, s).await?).await,
        Route::Cut { from, to, both } => links(fleet, from, to, both, "cut").await,
        Route::Heal { from, to, both } => links(fleet, from, to, both, "heal").await,
        Route::HealAll => {
            let mut applied = Vec::new();
            for v in fleet.view().await.iter().filter(|v| v.running) {
                if hook(v, "heal all").await.is_ok() {
                    applied.push(v.sid);
                }
            }
            Ok(json!({ "ok": true, "applied": applied }))
        }
    }
}

async fn server(fleet: &Fleet, sid: u64) -> Result<ServerView, ApiError> {
    fleet
        .view()
        .await
        .into_iter()
        .find(|v| v.sid == sid)
        .ok_or_else(|| err(404, format!("no server {sid}")))
}

async fn running(fleet: &Fleet, sid: u64) -> Result<ServerView, ApiError> {
    let v = server(fleet, sid).await?;
    if !v.running {
        return Err(err(409, format!("server {sid} is not running")));
    }
    Ok(v)
}

/// One command to server `v`'s fault hook, and its answer line.
async fn hook(v: &ServerView, line: &str) -> Result<String, String> {
    let addr = v
        .fault
        .as_deref()
        .ok_or_else(|| format!("server {} has no fault hook (start with --live)", v.sid))?;
    let work = async {
        let mut s = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("fault hook {addr}: {e}"))?;
        s.write_all(format!("{line}\n").as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut answer = Vec::new();
        let mut chunk = [0u8; 256];
        while !answer.contains(&b'\n') && answer.len() < 4096 {
            let n = s.read(&mut chunk).await.map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&chunk[..n]);
        }
        let text = String::from_utf8_lossy(&answer);
        let text = text.lines().next().unwrap_or("").trim().to_string();
        match text.strip_prefix("error") {
            Some(_) => Err(format!("fault hook of server {}: {text}", v.sid)),
            None => Ok(text),
        }
    };
    tokio::time::timeout(HOOK_TIMEOUT, work)
        .await
        .map_err(|_| format!("fault hook {addr} did not answer"))?
}

async fn cluster(fleet: &Fleet) -> Value {
    let views = fleet.view().await;
    let mut cuts = BTreeSet::new();
    let mut servers = Vec::new();
    for v in &views {
        let mode = match v.running {
            true => modes(std::slice::from_ref(&v.client)).await.pop().flatten(),
            false => None,
        };
        if v.running {
            if let Ok(status) = hook(v, "status").await {
                cuts.extend(parse_cuts(v.sid, &status));
            }
        }
        servers.push(json!({
            "sid": v.sid,
            "client": v.client,
            "trace": v.trace,
            "fault": v.fault,
            "running": v.running,
            "pid": v.pid,
            "mode": mode,
        }));
    }
    let cuts: Vec<Value> = cuts
        .iter()
        .map(|(from, to)| json!({ "from": from, "to": to }))
        .collect();
    json!({ "servers": servers, "cuts": cuts })
}

/// `cut`/`heal` of from→to (and to→from when `both`) on both ends that run.
async fn links(
    fleet: &Fleet,
    from: u64,
    to: u64,
    both: bool,
    verb: &str,
) -> Result<Value, ApiError> {
    let a = server(fleet, from).await?;
    let b = server(fleet, to).await?;
    let mut lines: Vec<(&ServerView, String)> = vec![
        (
            &a,
            format!("{verb} {to} {}", if both { "both" } else { "out" }),
        ),
        (
            &b,
            format!("{verb} {from} {}", if both { "both" } else { "in" }),
        ),
    ];
    lines.retain(|(v, _)| v.running);
    if lines.is_empty() {
        return Err(err(
            409,
            format!("neither server {from} nor {to} is running"),
        ));
    }
    let mut applied = Vec::new();
    for (v, line) in lines {
        hook(v, &line).await.map_err(|e| err(503, e))?;
        applied.push(v.sid);
    }
    Ok(json!({ "ok": true, "applied": applied }))
}

fn znode_path(req: &Request) -> Result<&str, ApiError> {
    let p = req
        .param("path")
        .ok_or_else(|| err(400, "needs ?path=/…"))?;
    if !p.starts_with('/') || p.len() > MAX_PATH_BYTES {
        return Err(err(
            400,
            format!("path must start with / and have at most {MAX_PATH_BYTES} bytes"),
        ));
    }
    Ok(p)
}

fn zk_err(e: ZkError) -> ApiError {
    match e.code() {
        ErrorCode::NoNode => err(404, e.to_string()),
        ErrorCode::BadArguments => err(400, e.to_string()),
        _ => err(503, e.to_string()),
    }
}

/// Runs `op` on a session with server `v` only, then closes the session.
async fn with_client<T, F, Fut>(v: &ServerView, op: F) -> Result<T, ApiError>
where
    F: FnOnce(ZkClient) -> Fut,
    Fut: std::future::Future<Output = Result<T, ApiError>>,
{
    let mut opts = ConnectOptions::new(&v.client);
    opts.session_timeout_ms = 10_000;
    opts.connect_timeout = Duration::from_secs(3);
    let work = async {
        // The event stream is unbounded: drop it, the client ignores a closed one.
        let (c, _events) = ZkClient::connect(opts).await.map_err(zk_err)?;
        let out = op(c.clone()).await;
        let _ = tokio::time::timeout(HOOK_TIMEOUT, c.close()).await;
        out
    };
    tokio::time::timeout(ZK_TIMEOUT, work)
        .await
        .map_err(|_| err(503, format!("server {} did not answer in time", v.sid)))?
}

async fn write(req: &Request, v: &ServerView) -> Result<Value, ApiError> {
    let path = znode_path(req)?.to_string();
    let data = req.param("data").unwrap_or("").as_bytes().to_vec();
    if data.len() > MAX_DATA_BYTES {
        return Err(err(
            400,
            format!("data has more than {MAX_DATA_BYTES} bytes"),
        ));
    }
    with_client(v, |c| async move {
        let created = c
            .create2(
                &path,
                Some(&data),
                &open_acl_unsafe(),
                CreateMode::Persistent,
            )
            .await;
        let stat = match created {
            Ok((_, stat)) => stat,
            Err(ZkError::Code(ErrorCode::NodeExists)) => {
                c.set_data(&path, Some(&data), -1).await.map_err(zk_err)?
            }
            Err(e) => return Err(zk_err(e)),
        };
        Ok(json!({ "zxid": format!("0x{:x}", stat.mzxid), "version": stat.version }))
    })
    .await
}

async fn read(req: &Request, v: &ServerView) -> Result<Value, ApiError> {
    let path = znode_path(req)?.to_string();
    with_client(v, |c| async move {
        let (data, stat) = c.get_data(&path, false).await.map_err(zk_err)?;
        let data = data.map(|d| String::from_utf8_lossy(&d).into_owned());
        Ok(json!({
            "data": data,
            "version": stat.version,
            "mzxid": format!("0x{:x}", stat.mzxid),
        }))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_parse_with_their_methods() {
        assert_eq!(route("GET", "/api/cluster"), Ok(Route::Cluster));
        assert_eq!(route("POST", "/api/servers/2/kill"), Ok(Route::Kill(2)));
        assert_eq!(
            route("POST", "/api/servers/3/restart"),
            Ok(Route::Restart(3))
        );
        assert_eq!(route("POST", "/api/servers/1/wipe"), Ok(Route::Wipe(1)));
        assert_eq!(route("POST", "/api/servers/1/write"), Ok(Route::Write(1)));
        assert_eq!(route("GET", "/api/servers/12/read"), Ok(Route::Read(12)));
        assert_eq!(
            route("POST", "/api/links/1/2/cut"),
            Ok(Route::Cut {
                from: 1,
                to: 2,
                both: false
            })
        );
        assert_eq!(
            route("POST", "/api/links/3/1/heal-both"),
            Ok(Route::Heal {
                from: 3,
                to: 1,
                both: true
            })
        );
        assert_eq!(route("POST", "/api/links/heal-all"), Ok(Route::HealAll));
    }

    #[test]
    fn routes_refuse_wrong_methods_paths_and_sids() {
        let status = |m: &str, p: &str| route(m, p).map_err(|e| e.0).err();
        assert_eq!(status("GET", "/api/servers/1/kill"), Some(405));
        assert_eq!(status("POST", "/api/cluster"), Some(405));
        assert_eq!(status("POST", "/api/servers/1/read"), Some(405));
        assert_eq!(status("GET", "/api/links/heal-all"), Some(405));
        assert_eq!(status("POST", "/api/servers/1/explode"), Some(404));
        assert_eq!(status("POST", "/api/servers/x/kill"), Some(404));
        assert_eq!(status("POST", "/api/servers/0/kill"), Some(404));
        assert_eq!(status("POST", "/api/servers/1/kill/now"), Some(404));
        assert_eq!(status("GET", "/api"), Some(404));
        assert_eq!(status("GET", "/index.html"), Some(404));
        assert_eq!(status("POST", "/api/links/2/2/cut"), Some(400));
        assert_eq!(status("POST", "/api/links/1/2/sever"), Some(404));
    }

    #[test]
    fn query_values_are_percent_decoded() {
        let req = http::parse_head(
            b"POST /api/servers/1/write?path=%2Fa%2Fb&data=hello%20w%C3%B6rld+%26+more HTTP/1.1",
        )
        .expect("parses");
        assert_eq!(route(&req.method, &req.path), Ok(Route::Write(1)));
        assert_eq!(znode_path(&req), Ok("/a/b"));
        assert_eq!(req.param("data"), Some("hello wörld & more"));
        let bad = http::parse_head(b"GET /api/servers/1/read?path=x HTTP/1.1").expect("parses");
        assert_eq!(znode_path(&bad).map_err(|e| e.0), Err(400));
        let long = format!(
            "GET /api/servers/1/read?path=/{} HTTP/1.1",
            "a".repeat(1024)
        );
        let long = http::parse_head(long.as_bytes()).expect("parses");
        assert_eq!(znode_path(&long).map_err(|e| e.0), Err(400));
        let none = http::parse_head(b"GET /api/servers/1/read HTTP/1.1").expect("parses");
        assert_eq!(znode_path(&none).map_err(|e| e.0), Err(400));
    }

    #[test]
    fn fault_status_lines_become_directed_cuts() {
        assert_eq!(parse_cuts(1, "cuts: none"), vec![]);
        assert_eq!(parse_cuts(1, "cuts: 2=out"), vec![(1, 2)]);
        assert_eq!(parse_cuts(2, "cuts: 1=in\n"), vec![(1, 2)]);
        assert_eq!(
            parse_cuts(3, "cuts: 1=both 2=in"),
            vec![(1, 3), (3, 1), (2, 3)]
        );
        assert_eq!(parse_cuts(3, "error: nope"), vec![]);
    }
}
