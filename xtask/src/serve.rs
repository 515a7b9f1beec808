//! A tiny static file server (std only) for `dist/`: GET and HEAD, correct MIME types (browsers
//! refuse to compile wasm streamed with the wrong one), 127.0.0.1 only.
//!
//! Requests whose path starts with `/api/` go to the live cluster's control API (`zablab
//! cluster --control`, see node/src/tools/cluster/control.rs) when `serve` has a proxy target
//! (`cargo xtask lab`): the method, path and query, the `Origin` header and the body (at most
//! [`MAX_BODY_BYTES`]) are forwarded, and the answer is copied back as it is (at most
//! [`MAX_ANSWER_BYTES`]); 502 with a JSON error when the cluster does not answer. Without a target
//! (`cargo xtask serve`) they answer 404 with a JSON error.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

/// The longest request body forwarded to the control API (its own limit).
pub const MAX_BODY_BYTES: usize = 4 * 1024;
/// The longest control API answer copied back.
pub const MAX_ANSWER_BYTES: usize = 1024 * 1024;
/// The longest request head read.
const MAX_HEAD_BYTES: usize = 8 * 1024;
/// To connect to the control API.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// To read or write one piece of a request or answer (the control API may take ~5 s for a write
/// through a server that is electing).
const IO_TIMEOUT: Duration = Duration::from_secs(15);

/// Serves `dir` on 127.0.0.1:`port` until the process ends, and `/api/` on `proxy` (an
/// `ip:port`) when there is one; calls `ready` with the URL once listening.
pub fn serve(
    dir: &Path,
    port: u16,
    proxy: Option<&str>,
    ready: impl FnOnce(&str),
) -> Result<(), String> {
    if !dir.join("index.html").exists() {
        return Err(format!(
            "{} has no index.html: run `cargo xtask build` first",
            dir.display()
        ));
    }
    let listener = TcpListener::bind(("127.0.0.1", port))
        .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    ready(&format!("http://{addr}/"));
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let dir = dir.to_path_buf();
        let proxy = proxy.map(str::to_string);
        std::thread::spawn(move || {
            let _ = handle(stream, &dir, proxy.as_deref());
        });
    }
    Ok(())
}

fn mime(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "wasm" => "application/wasm",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Maps a request path to a file under `dir`, refusing anything that climbs out of it.
fn resolve(dir: &Path, target: &str) -> Option<PathBuf> {
    let path = target.split(['?', '#']).next().unwrap_or("/");
    let rel = Path::new(path.trim_start_matches('/'));
    if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return None;
    }
    let mut p = dir.join(rel);
    if p.is_dir() {
        p = p.join("index.html");
    }
    p.is_file().then_some(p)
}

/// The parts of a request the proxy forwards.
#[derive(Debug, Default, PartialEq, Eq)]
struct Head {
    method: String,
    target: String,
    origin: Option<String>,
    content_length: usize,
}

/// Reads the request line and headers (at most [`MAX_HEAD_BYTES`]).
fn read_head(reader: &mut impl BufRead) -> std::io::Result<Head> {
    let mut total = 0;
    let mut line = String::new();
    let mut next = |line: &mut String| -> std::io::Result<usize> {
        line.clear();
        let n = reader
            .by_ref()
            .take((MAX_HEAD_BYTES - total.min(MAX_HEAD_BYTES)) as u64)
            .read_line(line)?;
        total += n;
        if total >= MAX_HEAD_BYTES {
            return Err(std::io::Error::other("request head too large"));
        }
        Ok(n)
    };
    next(&mut line)?;
    let mut parts = line.split_whitespace();
    let mut head = Head {
        method: parts.next().unwrap_or("").to_string(),
        target: parts.next().unwrap_or("/").to_string(),
        ..Head::default()
    };
    loop {
        if next(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            let value = value.trim();
            if name.trim().eq_ignore_ascii_case("origin") {
                head.origin = Some(value.to_string());
            } else if name.trim().eq_ignore_ascii_case("content-length") {
                head.content_length = value.parse().unwrap_or(usize::MAX);
            }
        }
    }
    Ok(head)
}

/// Sends `head` and `body` to the control API at `target` and returns its whole answer.
fn forward(target: &str, head: &Head, body: &[u8]) -> Result<Vec<u8>, String> {
    let addr = target
        .to_socket_addrs()
        .map_err(|e| format!("{target}: {e}"))?
        .next()
        .ok_or_else(|| format!("{target}: no address"))?;
    let mut s = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT)
        .map_err(|e| format!("no live cluster at {target}: {e}"))?;
    s.set_read_timeout(Some(IO_TIMEOUT))
        .map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(IO_TIMEOUT))
        .map_err(|e| e.to_string())?;
    let origin = head
        .origin
        .as_ref()
        .map(|o| format!("Origin: {o}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "{} {} HTTP/1.1\r\nHost: {target}\r\n{origin}Content-Length: {}\r\nConnection: close\r\n\r\n",
        head.method,
        head.target,
        body.len()
    );
    s.write_all(request.as_bytes())
        .and_then(|_| s.write_all(body))
        .map_err(|e| format!("cannot send to the cluster at {target}: {e}"))?;
    let mut answer = Vec::new();
    s.take(MAX_ANSWER_BYTES as u64 + 1)
        .read_to_end(&mut answer)
        .map_err(|e| format!("the cluster at {target} did not answer: {e}"))?;
    if answer.is_empty() || answer.len() > MAX_ANSWER_BYTES {
        return Err(format!(
            "the cluster at {target} gave no answer or one over {MAX_ANSWER_BYTES} bytes"
        ));
    }
    Ok(answer)
}

fn json_error(why: &str) -> Vec<u8> {
    let escaped: String = why
        .chars()
        .flat_map(|c| match c {
            '"' => vec!['\\', '"'],
            '\\' => vec!['\\', '\\'],
            c if c.is_control() => vec![' '],
            c => vec![c],
        })
        .collect();
    format!("{{\"error\":\"{escaped}\"}}").into_bytes()
}

/// Answers an `/api/` request: forwarded to `proxy`, or 404 without one.
fn proxy_api(
    out: &mut TcpStream,
    reader: &mut impl Read,
    head: &Head,
    proxy: Option<&str>,
) -> std::io::Result<()> {
    const JSON: &str = "application/json";
    let Some(target) = proxy else {
        let body = json_error("no live cluster: run cargo xtask lab");
        return respond(out, "404 Not Found", JSON, &body, true);
    };
    if head.content_length > MAX_BODY_BYTES {
        let body = json_error("request body too large");
        return respond(out, "413 Payload Too Large", JSON, &body, true);
    }
    let mut body = vec![0u8; head.content_length];
    reader.read_exact(&mut body)?;
    match forward(target, head, &body) {
        Ok(answer) => {
            out.write_all(&answer)?;
            out.flush()
        }
        Err(why) => respond(out, "502 Bad Gateway", JSON, &json_error(&why), true),
    }
}

fn handle(stream: TcpStream, dir: &Path, proxy: Option<&str>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let head = read_head(&mut reader)?;
    let (method, target) = (head.method.as_str(), head.target.as_str());
    let mut out = stream;
    if target.starts_with("/api/") {
        return proxy_api(&mut out, &mut reader, &head, proxy);
    }
    if method != "GET" && method != "HEAD" {
        return respond(
            &mut out,
            "405 Method Not Allowed",
            "text/plain",
            b"method not allowed\n",
            true,
        );
    }
    match resolve(dir, target).and_then(|p| std::fs::read(&p).ok().map(|b| (p, b))) {
        Some((p, body)) => respond(&mut out, "200 OK", mime(&p), &body, method == "GET"),
        None => respond(
            &mut out,
            "404 Not Found",
            "text/plain",
            b"not found\n",
            method == "GET",
        ),
    }
}

fn respond(
    out: &mut TcpStream,
    status: &str,
    mime: &str,
    body: &[u8],
    with_body: bool,
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {mime}\r\nContent-Length: {}\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n",
        body.len()
    );
    out.write_all(head.as_bytes())?;
    if with_body {
        out.write_all(body)?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// A one-shot control API: reads one request (head and Content-Length body), sends it on
    /// the channel, answers `answer`.
    fn echo_once(answer: &'static str) -> (String, mpsc::Receiver<String>) {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr").to_string();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let (mut s, _) = l.accept().expect("accept");
            s.set_read_timeout(Some(Duration::from_secs(5)))
                .expect("timeout");
            let mut got = Vec::new();
            let mut chunk = [0u8; 512];
            loop {
                let text = String::from_utf8_lossy(&got).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("Content-Length: "))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    if body.len() >= len {
                        break;
                    }
                }
                match s.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&chunk[..n]),
                }
            }
            let _ = tx.send(String::from_utf8_lossy(&got).to_string());
            let _ = s.write_all(answer.as_bytes());
        });
        (addr, rx)
    }

    const ANSWER: &str =
        "HTTP/1.1 409 Conflict\r\nContent-Type: application/json\r\nContent-Length: 14\r\nConnection: close\r\n\r\n{\"error\":\"no\"}";

    #[test]
    fn forward_sends_method_target_origin_and_body_and_returns_the_answer() {
        let (addr, rx) = echo_once(ANSWER);
        let head = Head {
            method: "POST".into(),
            target: "/api/servers/1/write?path=%2Fx&data=a+b".into(),
            origin: Some("http://localhost:8080".into()),
            content_length: 3,
        };
        let answer = forward(&addr, &head, b"abc").expect("forwarded");
        assert_eq!(String::from_utf8(answer).expect("utf8"), ANSWER);
        let got = rx.recv_timeout(Duration::from_secs(5)).expect("request");
        assert!(
            got.starts_with("POST /api/servers/1/write?path=%2Fx&data=a+b HTTP/1.1\r\n"),
            "{got}"
        );
        assert!(
            got.contains("\r\nOrigin: http://localhost:8080\r\n"),
            "{got}"
        );
        assert!(got.contains("\r\nContent-Length: 3\r\n"), "{got}");
        assert!(got.ends_with("\r\n\r\nabc"), "{got}");
    }

    /// `handle` on one connection to a page server with `proxy`, sending `raw`; the answer.
    fn through_page(raw: &str, proxy: Option<String>) -> String {
        let page = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = page.local_addr().expect("addr");
        let dir = std::env::temp_dir();
        std::thread::spawn(move || {
            let (s, _) = page.accept().expect("accept");
            let _ = handle(s, &dir, proxy.as_deref());
        });
        let mut c = TcpStream::connect(addr).expect("connect");
        c.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        c.write_all(raw.as_bytes()).expect("send");
        let mut out = String::new();
        c.read_to_string(&mut out).expect("answer");
        out
    }

    #[test]
    fn api_requests_are_proxied_with_their_origin_and_others_are_not() {
        let (addr, rx) = echo_once(ANSWER);
        let out = through_page(
            "POST /api/links/heal-all HTTP/1.1\r\nHost: x\r\nOrigin: http://evil.example\r\nContent-Length: 0\r\n\r\n",
            Some(addr),
        );
        assert_eq!(out, ANSWER);
        let got = rx.recv_timeout(Duration::from_secs(5)).expect("request");
        assert!(
            got.starts_with("POST /api/links/heal-all HTTP/1.1\r\n"),
            "{got}"
        );
        assert!(got.contains("\r\nOrigin: http://evil.example\r\n"), "{got}");

        // Without a proxy target (`cargo xtask serve`): 404 with a JSON error.
        let out = through_page("GET /api/cluster HTTP/1.1\r\nHost: x\r\n\r\n", None);
        assert!(out.starts_with("HTTP/1.1 404 Not Found\r\n"), "{out}");
        assert!(out.contains("application/json"), "{out}");
        assert!(
            out.ends_with("{\"error\":\"no live cluster: run cargo xtask lab\"}"),
            "{out}"
        );

        // A non-/api/ POST is still refused by the static server, not forwarded.
        let (addr, rx) = echo_once(ANSWER);
        let out = through_page("POST /index.html HTTP/1.1\r\n\r\n", Some(addr));
        assert!(out.starts_with("HTTP/1.1 405"), "{out}");
        assert!(rx.recv_timeout(Duration::from_millis(300)).is_err());
    }

    #[test]
    fn a_missing_cluster_is_a_502_with_a_json_error() {
        let gone = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = gone.local_addr().expect("addr").to_string();
        drop(gone);
        let out = through_page("GET /api/cluster HTTP/1.1\r\n\r\n", Some(addr.clone()));
        assert!(out.starts_with("HTTP/1.1 502 Bad Gateway\r\n"), "{out}");
        let body = out.split_once("\r\n\r\n").expect("body").1;
        assert!(
            body.starts_with("{\"error\":\"no live cluster at ") && body.ends_with("\"}"),
            "{body}"
        );
        // A body over the limit is refused before anything is forwarded.
        let big = format!(
            "POST /api/cluster HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY_BYTES + 1
        );
        let out = through_page(&big, Some(addr));
        assert!(out.starts_with("HTTP/1.1 413"), "{out}");
    }

    #[test]
    fn heads_keep_origin_and_length_and_are_bounded() {
        let raw = "POST /api/x HTTP/1.1\r\norigin: http://127.0.0.1:8080\r\ncontent-length: 7\r\n\r\nbody";
        let h = read_head(&mut BufReader::new(raw.as_bytes())).expect("head");
        assert_eq!(
            h,
            Head {
                method: "POST".into(),
                target: "/api/x".into(),
                origin: Some("http://127.0.0.1:8080".into()),
                content_length: 7,
            }
        );
        let huge = format!(
            "GET / HTTP/1.1\r\nX: {}\r\n\r\n",
            "a".repeat(MAX_HEAD_BYTES)
        );
        assert!(read_head(&mut BufReader::new(huge.as_bytes())).is_err());
        assert_eq!(
            json_error("a \"b\"\n"),
            b"{\"error\":\"a \\\"b\\\" \"}".to_vec()
        );
    }
}
