//! The session handshake (§5.2): the first frame each way, without headers.

use super::{begin_frame, end_frame, reader};
use crate::codec::jute::{self, put_bool, put_buffer, put_i32, put_i64, JuteError};

/// `ConnectRequest{protocolVersion, lastZxidSeen, timeOut, sessionId, passwd}` + an optional
/// readOnly byte (clients from 3.3 and earlier omit it: `read_only == None`).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ConnectRequest {
    pub protocol_version: i32,
    pub last_zxid_seen: i64,
    pub timeout_ms: i32,
    /// 0 asks for a new session.
    pub session_id: i64,
    /// 16 bytes (zeros, or empty, for a new session); a null buffer reads as empty.
    pub passwd: Vec<u8>,
    pub read_only: Option<bool>,
}

impl ConnectRequest {
    pub fn put(&self, out: &mut Vec<u8>) {
        put_i32(out, self.protocol_version);
        put_i64(out, self.last_zxid_seen);
        put_i32(out, self.timeout_ms);
        put_i64(out, self.session_id);
        put_buffer(out, Some(&self.passwd));
        if let Some(ro) = self.read_only {
            put_bool(out, ro);
        }
    }

    /// Appends the whole frame (length prefix included).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let at = begin_frame(out);
        self.put(out);
        end_frame(out, at);
    }

    /// Decodes the first frame's body. The readOnly byte is optional, as the Java server reads
    /// it; bytes after it are ignored.
    pub fn decode(body: &[u8]) -> Result<ConnectRequest, JuteError> {
        let mut r = reader(body);
        let protocol_version = r.i32()?;
        let last_zxid_seen = r.i64()?;
        let timeout_ms = r.i32()?;
        let session_id = r.i64()?;
        let passwd = r.buffer()?.map(<[u8]>::to_vec).unwrap_or_default();
        let read_only = if r.is_empty() { None } else { Some(r.bool()?) };
        Ok(ConnectRequest {
            protocol_version,
            last_zxid_seen,
            timeout_ms,
            session_id,
            passwd,
            read_only,
        })
    }
}

/// `ConnectResponse{protocolVersion, timeOut, sessionId, passwd}` + readOnly byte. The server
/// sends the byte whenever the request had one (every target client does; the Rust
/// `zookeeper-client` requires exactly one byte after a non-empty password).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ConnectResponse {
    pub protocol_version: i32,
    /// The negotiated timeout; 0 (with session 0) means the session is expired or invalid.
    pub timeout_ms: i32,
    pub session_id: i64,
    pub passwd: Vec<u8>,
    pub read_only: Option<bool>,
}

impl ConnectResponse {
    /// What a server answers for an expired or unknown session, or a wrong password: zeros and
    /// a 16-byte zero password, then it closes (clients read this as Expired).
    pub fn expired(read_only_byte: bool) -> ConnectResponse {
        ConnectResponse {
            protocol_version: 0,
            timeout_ms: 0,
            session_id: 0,
            passwd: vec![0; 16],
            read_only: read_only_byte.then_some(false),
        }
    }

    /// True for the expired answer (`sessionId == 0` or `timeOut <= 0`).
    pub fn is_expired(&self) -> bool {
        self.session_id == 0 || self.timeout_ms <= 0
    }

    pub fn put(&self, out: &mut Vec<u8>) {
        put_i32(out, self.protocol_version);
        put_i32(out, self.timeout_ms);
        put_i64(out, self.session_id);
        put_buffer(out, Some(&self.passwd));
        if let Some(ro) = self.read_only {
            put_bool(out, ro);
        }
    }

    /// Appends the whole frame (length prefix included).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let at = begin_frame(out);
        self.put(out);
        end_frame(out, at);
    }

    /// Decodes the first reply frame's body; a missing readOnly byte is tolerated (an old
    /// server), anything after it is refused.
    pub fn decode(body: &[u8]) -> Result<ConnectResponse, JuteError> {
        let mut r = reader(body);
        let protocol_version = r.i32()?;
        let timeout_ms = r.i32()?;
        let session_id = r.i64()?;
        let passwd = r.buffer()?.map(<[u8]>::to_vec).unwrap_or_default();
        let read_only = if r.is_empty() { None } else { Some(r.bool()?) };
        if !r.is_empty() {
            return jute::malformed("bytes after ConnectResponse.readOnly");
        }
        Ok(ConnectResponse {
            protocol_version,
            timeout_ms,
            session_id,
            passwd,
            read_only,
        })
    }
}
