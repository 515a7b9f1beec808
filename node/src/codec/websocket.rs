//! The server side of RFC 6455 WebSocket, as much as a one-way stream to a browser needs: the
//! opening handshake (an HTTP/1.1 `GET` with `Upgrade: websocket`, answered `101` with the
//! `Sec-WebSocket-Accept` of the client's key) and unmasked text frames from the server. It lets
//! the lab page read a server's trace stream (`server/trace.rs`), which a browser cannot read
//! over plain TCP. No IO here: the caller reads the request (bounded by [`MAX_REQUEST_BYTES`])
//! and writes the bytes.

use base64::Engine;
use sha1::{Digest, Sha1};

/// The largest opening handshake read; a longer one is refused (a browser's is under 1 KiB).
pub const MAX_REQUEST_BYTES: usize = 4096;

/// RFC 6455 §1.3: the GUID appended to the client's key.
const ACCEPT_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// A valid opening handshake.
#[derive(Debug, PartialEq, Eq)]
pub struct Upgrade {
    /// `Sec-WebSocket-Key`, as sent.
    pub key: String,
    /// `Origin`, when a browser sent one.
    pub origin: Option<String>,
}

/// `Sec-WebSocket-Accept` for `key`: base64(SHA-1(key + GUID)).
pub fn accept_key(key: &str) -> String {
    let mut h = Sha1::new();
    h.update(key.as_bytes());
    h.update(ACCEPT_GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}

/// Whether `head` (the bytes read so far) holds a whole HTTP request head.
pub fn head_complete(head: &[u8]) -> bool {
    head.windows(4).any(|w| w == b"\r\n\r\n")
}

/// Parses an opening handshake; `Err` says what is wrong with it, for the `400` reply.
pub fn parse_upgrade(head: &[u8]) -> Result<Upgrade, &'static str> {
    if head.len() > MAX_REQUEST_BYTES {
        return Err("request head too long");
    }
    let text = std::str::from_utf8(head).map_err(|_| "request head is not UTF-8")?;
    let mut lines = text.split("\r\n");
    let request = lines.next().unwrap_or_default();
    let mut parts = request.split(' ');
    if parts.next() != Some("GET") || !parts.nth(1).is_some_and(|v| v.starts_with("HTTP/1.1")) {
        return Err("not an HTTP/1.1 GET");
    }
    let (mut upgrade, mut connection, mut version, mut key, mut origin) =
        (false, false, false, None, None);
    for line in lines.take_while(|l| !l.is_empty()) {
        let Some((name, value)) = line.split_once(':') else {
            return Err("a header line without ':'");
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "upgrade" => upgrade = value.eq_ignore_ascii_case("websocket"),
            "connection" => {
                connection = value
                    .split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
            }
            "sec-websocket-version" => version = value == "13",
            "sec-websocket-key" => key = Some(value.to_string()),
            "origin" => origin = Some(value.to_string()),
            _ => {}
        }
    }
    if !upgrade || !connection {
        return Err("not a WebSocket upgrade");
    }
    if !version {
        return Err("Sec-WebSocket-Version must be 13");
    }
    let key = key.ok_or("no Sec-WebSocket-Key")?;
    // RFC 6455 §4.1: a base64 encoding of 16 bytes.
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(&key)
        .map_err(|_| "Sec-WebSocket-Key is not base64")?;
    if decoded.len() != 16 {
        return Err("Sec-WebSocket-Key is not 16 bytes");
    }
    Ok(Upgrade { key, origin })
}

/// Whether a browser page at `origin` may read this loopback-only stream: pages served from
/// this machine (127.0.0.1, localhost, [::1], any port) may, so a page from elsewhere cannot
/// read the trace through the user's browser. No `Origin` (not a browser) is allowed.
pub fn origin_allowed(origin: Option<&str>) -> bool {
    let Some(o) = origin else {
        return true;
    };
    let host = o
        .strip_prefix("http://")
        .or_else(|| o.strip_prefix("https://"))
        .unwrap_or("");
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().map(|h| format!("[{h}]")),
        None => host.split(':').next().map(str::to_string),
    };
    matches!(host.as_deref(), Some("127.0.0.1" | "localhost" | "[::1]"))
}

/// The `101 Switching Protocols` reply to `up`.
pub fn accept_response(up: &Upgrade) -> String {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(&up.key)
    )
}

/// The reply that refuses a handshake.
pub fn refusal(status: &str, why: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{why}",
        why.len()
    )
}

/// One final, unmasked text frame holding `text` (RFC 6455 §5.2).
pub fn text_frame(text: &str) -> Vec<u8> {
    let len = text.len();
    let mut f = Vec::with_capacity(len + 10);
    f.push(0x81); // FIN, opcode 1 (text)
    match len {
        0..=125 => f.push(len as u8),
        126..=0xFFFF => {
            f.push(126);
            f.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            f.push(127);
            f.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    f.extend_from_slice(text.as_bytes());
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUEST: &str = "GET /trace HTTP/1.1\r\nHost: 127.0.0.1:9000\r\nUpgrade: websocket\r\n\
        Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Origin: http://127.0.0.1:8000\r\nSec-WebSocket-Version: 13\r\n\r\n";

    #[test]
    fn the_accept_key_is_rfc_6455s_example() {
        // RFC 6455 §1.3's worked example.
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn a_browser_handshake_is_accepted_and_others_refused() {
        assert!(head_complete(REQUEST.as_bytes()));
        let up = parse_upgrade(REQUEST.as_bytes()).expect("valid");
        assert_eq!(up.origin.as_deref(), Some("http://127.0.0.1:8000"));
        assert!(accept_response(&up).contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
        let no_upgrade = REQUEST.replace("Upgrade: websocket\r\n", "");
        assert_eq!(
            parse_upgrade(no_upgrade.as_bytes()),
            Err("not a WebSocket upgrade")
        );
        let old = REQUEST.replace("Version: 13", "Version: 8");
        assert_eq!(
            parse_upgrade(old.as_bytes()),
            Err("Sec-WebSocket-Version must be 13")
        );
        let short_key = REQUEST.replace("dGhlIHNhbXBsZSBub25jZQ==", "c2hvcnQ=");
        assert_eq!(
            parse_upgrade(short_key.as_bytes()),
            Err("Sec-WebSocket-Key is not 16 bytes")
        );
        let post = REQUEST.replace("GET", "POST");
        assert_eq!(parse_upgrade(post.as_bytes()), Err("not an HTTP/1.1 GET"));
        let long = format!("{REQUEST}{}", "x".repeat(MAX_REQUEST_BYTES));
        assert_eq!(parse_upgrade(long.as_bytes()), Err("request head too long"));
    }

    #[test]
    fn only_pages_of_this_machine_may_read_the_stream() {
        for ok in [
            None,
            Some("http://127.0.0.1:8000"),
            Some("http://localhost:3000"),
            Some("http://[::1]:8000"),
        ] {
            assert!(origin_allowed(ok), "{ok:?}");
        }
        for bad in [
            "http://evil.example",
            "http://127.0.0.1.evil.example",
            "https://localhost.evil:443",
            "null",
        ] {
            assert!(!origin_allowed(Some(bad)), "{bad}");
        }
    }

    #[test]
    fn frames_use_the_smallest_length_form() {
        assert_eq!(text_frame("hi"), vec![0x81, 2, b'h', b'i']);
        let f = text_frame(&"a".repeat(300));
        assert_eq!(&f[..4], &[0x81, 126, 1, 44]);
        assert_eq!(f.len(), 304);
        let f = text_frame(&"a".repeat(70_000));
        assert_eq!(f[1], 127);
        assert_eq!(u64::from_be_bytes(f[2..10].try_into().unwrap()), 70_000);
        assert_eq!(f.len(), 70_010);
    }
}
