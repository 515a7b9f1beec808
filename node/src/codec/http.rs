//! HTTP/1.1 request heads and responses as bytes, with no IO: the request line parsed into a
//! method, a percent-decoded path and query parameters, header values looked up by name, and a
//! response encoded with its length and `Connection: close`. The operator ports of a server
//! (`server/http.rs`: `/metrics`, the AdminServer) and the lab's cluster control API
//! (`tools/cluster/control.rs`) read and write their bytes with these.

/// The request line and headers, at most (a browser's are under 2 KiB).
pub const MAX_REQUEST_HEAD_BYTES: usize = 8 * 1024;

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

/// The value of header `name` (case-insensitive) in a request head, trimmed; the first one
/// when it repeats. `None` when absent or when the head is not UTF-8.
pub fn header<'h>(head: &'h [u8], name: &str) -> Option<&'h str> {
    let text = std::str::from_utf8(head).ok()?;
    text.lines()
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

/// Where the head in `buf` ends: the index of its blank line's `\r\n\r\n`, when it is whole.
pub fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n")
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        413 => "Payload Too Large",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    }
}

/// The bytes of `r` as an HTTP/1.1 response; `head_only` for HEAD.
pub fn encode(r: &Response, head_only: bool) -> Vec<u8> {
    encode_with_headers(r, head_only, &[])
}

/// [`encode`] with `extra` header lines (name, value) after the standard ones.
pub fn encode_with_headers(r: &Response, head_only: bool, extra: &[(&str, &str)]) -> Vec<u8> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        r.status,
        reason(r.status),
        r.content_type,
        r.body.len()
    );
    for (name, value) in extra {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    if !head_only {
        out.extend_from_slice(&r.body);
    }
    out
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
    fn headers_are_found_by_name_in_the_head_only() {
        let head =
            b"GET / HTTP/1.1\r\nHost: h\r\norigin:  http://localhost:8080 \r\n\r\nOrigin: body";
        assert_eq!(header(head, "Origin"), Some("http://localhost:8080"));
        assert_eq!(header(head, "host"), Some("h"));
        assert_eq!(header(head, "content-length"), None);
        assert_eq!(header(b"GET /origin: x HTTP/1.1", "GET /origin"), None);
        assert_eq!(head_end(head), Some(56));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\n"), None);
    }

    #[test]
    fn extra_headers_come_before_the_blank_line() {
        let r = Response::new(409, "application/json", "{}");
        let e =
            String::from_utf8(encode_with_headers(&r, false, &[("Vary", "Origin")])).expect("utf8");
        assert!(e.starts_with("HTTP/1.1 409 Conflict\r\n"), "{e}");
        assert!(
            e.ends_with("Connection: close\r\nVary: Origin\r\n\r\n{}"),
            "{e}"
        );
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
