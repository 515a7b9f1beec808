//! A small HTTP/1.1 responder for the two operator ports, `/metrics` ([`crate::server::metrics`]) and
//! the AdminServer ([`crate::server::admin`]): one GET per connection, answered and closed. It is
//! written here rather than taken from a framework because both ports need only that, and
//! every limit is visible: a request head of at most [`MAX_REQUEST_HEAD_BYTES`], read within
//! [`REQUEST_TIMEOUT`], at most [`MAX_CONNECTIONS`] connections served at once (more are
//! closed at once), and a response written within [`REQUEST_TIMEOUT`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::timeout;

/// The request line and headers, at most.
pub const MAX_REQUEST_HEAD_BYTES: usize = 8 * 1024;
/// Connections served at once, at most.
pub const MAX_CONNECTIONS: usize = 32;
/// Reading the request, and separately writing the response, must each end within this.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// A parsed request: its method, its path (percent-decoded) and its query parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
}

impl Request {
    pub fn param(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            content_type,
            body: body.into(),
        }
    }
    pub fn text(status: u16, body: &str) -> Response {
        Response::new(status, "text/plain; charset=utf-8", body)
    }
}

pub type BoxFuture = Pin<Box<dyn Future<Output = Response> + Send>>;
/// What answers a request.
pub type Handler = Arc<dyn Fn(Request) -> BoxFuture + Send + Sync>;

/// Why a request head was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum ParseError {
    TooLarge,
    Malformed,
}

/// Parses a request head (up to and without the blank line).
pub fn parse_head(head: &[u8]) -> Result<Request, ParseError> {
    let text = std::str::from_utf8(head).map_err(|_| ParseError::Malformed)?;
    let line = text.lines().next().ok_or(ParseError::Malformed)?;
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ParseError::Malformed);
    };
    if !version.starts_with("HTTP/1.") || method.is_empty() || !target.starts_with('/') {
        return Err(ParseError::Malformed);
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let query = query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            Ok((percent_decode(k)?, percent_decode(v)?))
        })
        .collect::<Result<Vec<_>, ParseError>>()?;
    Ok(Request {
        method: method.to_string(),
        path: percent_decode(path)?,
        query,
    })
}

fn percent_decode(s: &str) -> Result<String, ParseError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = b.get(i + 1..i + 3).ok_or(ParseError::Malformed)?;
                let hex = std::str::from_utf8(hex).map_err(|_| ParseError::Malformed)?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| ParseError::Malformed)?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| ParseError::Malformed)
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        _ => "Internal Server Error",
    }
}

/// The bytes of `r` as an HTTP/1.1 response; `head_only` for HEAD.
pub fn encode(r: &Response, head_only: bool) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        r.status,
        reason(r.status),
        r.content_type,
        r.body.len()
    )
    .into_bytes();
    if !head_only {
        out.extend_from_slice(&r.body);
    }
    out
}

/// Reads a request head: bytes up to the first blank line, at most [`MAX_REQUEST_HEAD_BYTES`].
async fn read_head(stream: &mut TcpStream) -> Result<Vec<u8>, ParseError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|_| ParseError::Malformed)?;
        if n == 0 {
            return Err(ParseError::Malformed);
        }
        let from = buf.len().saturating_sub(3);
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        if let Some(end) = buf
            .get(from..)
            .and_then(|tail| tail.windows(4).position(|w| w == b"\r\n\r\n"))
        {
            if from + end > MAX_REQUEST_HEAD_BYTES {
                return Err(ParseError::TooLarge);
            }
            buf.truncate(from + end);
            return Ok(buf);
        }
        if buf.len() > MAX_REQUEST_HEAD_BYTES {
            return Err(ParseError::TooLarge);
        }
    }
}

async fn serve_one(mut stream: TcpStream, handler: Handler) {
    let response = match timeout(REQUEST_TIMEOUT, read_head(&mut stream)).await {
        Err(_) => return, // silent client: just close
        Ok(Err(ParseError::TooLarge)) => (Response::text(431, "request head too large\n"), false),
        Ok(Err(ParseError::Malformed)) => (Response::text(400, "bad request\n"), false),
        Ok(Ok(head)) => match parse_head(&head) {
            Err(_) => (Response::text(400, "bad request\n"), false),
            Ok(req) if req.method == "GET" || req.method == "HEAD" => {
                let head_only = req.method == "HEAD";
                (handler(req).await, head_only)
            }
            Ok(_) => (Response::text(405, "only GET and HEAD\n"), false),
        },
    };
    let bytes = encode(&response.0, response.1);
    let _ = timeout(REQUEST_TIMEOUT, async {
        stream.write_all(&bytes).await?;
        stream.shutdown().await
    })
    .await;
}

/// Serves `listener` with `handler` until the process ends.
pub fn spawn(listener: TcpListener, handler: Handler) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    tokio::spawn(async move {
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(x) => x,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            // Past the bound a connection is closed at once (dropped), not queued.
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                continue;
            };
            let handler = handler.clone();
            tokio::spawn(async move {
                serve_one(stream, handler).await;
                drop(slot);
            });
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_path_and_query() {
        let r =
            parse_head(b"GET /commands/set_trace_mask?traceMask=5&x=a%20b+c HTTP/1.1\r\nHost: h")
                .expect("parses");
        assert_eq!(r.method, "GET");
        assert_eq!(r.path, "/commands/set_trace_mask");
        assert_eq!(r.param("traceMask"), Some("5"));
        assert_eq!(r.param("x"), Some("a b c"));
        assert_eq!(r.param("y"), None);
    }

    #[test]
    fn refuses_malformed_heads() {
        for bad in [
            &b""[..],
            b"GET",
            b"GET /x",
            b"GET x HTTP/1.1",
            b"GET /x SPDY/3",
            b"GET /x HTTP/1.1 extra",
            b"GET /%zz HTTP/1.1",
            b"GET /%f HTTP/1.1",
            b"\xff\xfe / HTTP/1.1",
        ] {
            assert_eq!(parse_head(bad), Err(ParseError::Malformed), "{bad:?}");
        }
    }

    #[test]
    fn arbitrary_heads_never_panic() {
        // A seeded LCG over bytes a request line is made of, and any byte.
        let alphabet = b"GET /%?=&+ HTTP/1.\r\n0a9fZ\xff";
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..20_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = (x >> 58) as usize;
            let head: Vec<u8> = (0..len)
                .map(|i| {
                    let r = x.rotate_left(i as u32 * 7);
                    if r & 7 == 0 {
                        (r >> 8) as u8
                    } else {
                        alphabet[(r >> 16) as usize % alphabet.len()]
                    }
                })
                .collect();
            let _ = parse_head(&head);
        }
    }

    #[test]
    fn encodes_length_and_close() {
        let r = Response::text(200, "hi");
        let e = String::from_utf8(encode(&r, false)).expect("utf8");
        assert!(e.starts_with("HTTP/1.1 200 OK\r\n"), "{e}");
        assert!(e.contains("Content-Length: 2\r\n") && e.contains("Connection: close\r\n"));
        assert!(e.ends_with("\r\n\r\nhi"));
        assert!(String::from_utf8(encode(&r, true))
            .expect("utf8")
            .ends_with("\r\n\r\n"));
    }
}
