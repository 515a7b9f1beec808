//! Server → client frames (§5.3, §5.4, §5.8): `ReplyHeader` + response record, header-only
//! error replies, and watch notifications (xid -1).

use zablab_core::tree::{ErrorCode, ReadResponse, WatchedEvent, WriteResponse};

use super::multi::{put_multi_response, read_multi_response};
use super::read_response::{put_read_response, read_read_response};
use super::records::{put_data, put_stat, put_str, read_data, read_stat, read_str};
use super::{begin_frame, end_frame, op, reader, state, xid};
use crate::codec::jute::{self, put_i32, put_i64, JuteError, Reader};

/// `ReplyHeader{i32 xid; i64 zxid; i32 err}`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ReplyHeader {
    pub xid: i32,
    pub zxid: i64,
    pub err: i32,
}

impl ReplyHeader {
    pub fn put(&self, out: &mut Vec<u8>) {
        put_i32(out, self.xid);
        put_i64(out, self.zxid);
        put_i32(out, self.err);
    }

    pub fn read(r: &mut Reader<'_>) -> Result<ReplyHeader, JuteError> {
        Ok(ReplyHeader {
            xid: r.i32()?,
            zxid: r.i64()?,
            err: r.i32()?,
        })
    }
}

/// `ClientInfo{ustring authScheme; ustring user}` (whoAmI).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ClientInfo {
    pub auth_scheme: String,
    pub user: String,
}

/// `WatcherEvent{i32 type; i32 state; ustring path}`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct WatcherEvent {
    pub event_type: i32,
    pub state: i32,
    pub path: String,
}

impl WatcherEvent {
    pub fn put(&self, out: &mut Vec<u8>) {
        put_i32(out, self.event_type);
        put_i32(out, self.state);
        put_str(out, &self.path);
    }

    pub fn read(r: &mut Reader<'_>) -> Result<WatcherEvent, JuteError> {
        Ok(WatcherEvent {
            event_type: r.i32()?,
            state: r.i32()?,
            path: read_str(r)?,
        })
    }
}

impl From<&WatchedEvent> for WatcherEvent {
    fn from(e: &WatchedEvent) -> WatcherEvent {
        WatcherEvent {
            event_type: e.event_type.code(),
            state: state::SYNC_CONNECTED,
            path: e.path.clone(),
        }
    }
}

/// A successful reply's record, by what the request was.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Response {
    /// No record: delete, check, ping, auth, setWatches(2), checkWatches, removeWatches,
    /// closeSession.
    Empty,
    Write(WriteResponse),
    Read(ReadResponse),
    /// `SyncResponse{path}`.
    Sync {
        path: String,
    },
    /// addWatch answers `ErrorResponse{err = 0}`, a 4-byte body.
    AddWatch,
    /// `WhoAmIResponse{[ClientInfo]}`.
    WhoAmI(Vec<ClientInfo>),
    /// `SetSASLResponse{token}`.
    Sasl {
        token: Option<Vec<u8>>,
    },
}

fn put_write_response(out: &mut Vec<u8>, w: &WriteResponse) {
    match w {
        WriteResponse::Create { path } => put_str(out, path),
        WriteResponse::Create2 { path, stat } => {
            put_str(out, path);
            put_stat(out, stat);
        }
        WriteResponse::SetData { stat } | WriteResponse::SetAcl { stat } => put_stat(out, stat),
        WriteResponse::Multi(results) => put_multi_response(out, results),
        WriteResponse::Delete
        | WriteResponse::Check
        | WriteResponse::CreateSession { .. }
        | WriteResponse::CloseSession
        | WriteResponse::DeleteContainer => {}
    }
}

impl Response {
    /// Appends the response record (no header).
    pub fn put(&self, out: &mut Vec<u8>) {
        match self {
            Response::Empty => {}
            Response::Write(w) => put_write_response(out, w),
            Response::Read(r) => put_read_response(out, r),
            Response::Sync { path } => put_str(out, path),
            Response::AddWatch => put_i32(out, 0),
            Response::WhoAmI(infos) => {
                put_i32(out, infos.len() as i32);
                for i in infos {
                    put_str(out, &i.auth_scheme);
                    put_str(out, &i.user);
                }
            }
            Response::Sasl { token } => put_data(out, token),
        }
    }

    /// Reads the record answering a request of `opcode` (the client knows it from its xid).
    pub fn read(opcode: i32, r: &mut Reader<'_>) -> Result<Response, JuteError> {
        Ok(match opcode {
            op::CREATE => Response::Write(WriteResponse::Create { path: read_str(r)? }),
            op::CREATE2 | op::CREATE_CONTAINER | op::CREATE_TTL => {
                Response::Write(WriteResponse::Create2 {
                    path: read_str(r)?,
                    stat: read_stat(r)?,
                })
            }
            op::DELETE => Response::Write(WriteResponse::Delete),
            op::SET_DATA => Response::Write(WriteResponse::SetData {
                stat: read_stat(r)?,
            }),
            op::SET_ACL => Response::Write(WriteResponse::SetAcl {
                stat: read_stat(r)?,
            }),
            op::CHECK => Response::Write(WriteResponse::Check),
            op::MULTI => Response::Write(WriteResponse::Multi(read_multi_response(r)?)),
            op::EXISTS
            | op::GET_DATA
            | op::GET_ACL
            | op::GET_CHILDREN
            | op::GET_CHILDREN2
            | op::GET_ALL_CHILDREN_NUMBER
            | op::GET_EPHEMERALS
            | op::MULTI_READ
            | op::RECONFIG => Response::Read(read_read_response(opcode, r)?),
            op::SYNC => Response::Sync { path: read_str(r)? },
            op::ADD_WATCH => {
                r.i32()?;
                Response::AddWatch
            }
            op::WHO_AM_I => {
                let n = r.vec_count(8)?.unwrap_or(0);
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    v.push(ClientInfo {
                        auth_scheme: read_str(r)?,
                        user: read_str(r)?,
                    });
                }
                Response::WhoAmI(v)
            }
            op::SASL => Response::Sasl {
                token: read_data(r)?,
            },
            _ => Response::Empty,
        })
    }
}

/// Appends a whole reply frame (length prefix included): `err = 0` and the record, or the
/// error code and no record.
pub fn encode_reply(out: &mut Vec<u8>, xid: i32, zxid: i64, result: Result<&Response, ErrorCode>) {
    let at = begin_frame(out);
    match result {
        Ok(resp) => {
            ReplyHeader { xid, zxid, err: 0 }.put(out);
            resp.put(out);
        }
        Err(code) => ReplyHeader {
            xid,
            zxid,
            err: code.code(),
        }
        .put(out),
    }
    end_frame(out, at);
}

/// Appends a header-only error reply frame.
pub fn encode_error(out: &mut Vec<u8>, xid: i32, zxid: i64, code: ErrorCode) {
    encode_reply(out, xid, zxid, Err(code));
}

/// Appends a watch notification frame: `ReplyHeader{-1, -1, 0}` (3.8 sends zxid -1) +
/// `WatcherEvent{type, SyncConnected, path}`.
pub fn encode_notification(out: &mut Vec<u8>, event: &WatchedEvent) {
    let at = begin_frame(out);
    ReplyHeader {
        xid: xid::NOTIFICATION,
        zxid: -1,
        err: 0,
    }
    .put(out);
    WatcherEvent::from(event).put(out);
    end_frame(out, at);
}

/// Decodes a reply frame body (without its length prefix) answering a request of `opcode`:
/// the header, then the record when `err == 0` or the error code.
pub fn decode_reply(
    body: &[u8],
    opcode: i32,
) -> Result<(ReplyHeader, Result<Response, ErrorCode>), JuteError> {
    let mut r = reader(body);
    let h = ReplyHeader::read(&mut r)?;
    if h.err != 0 {
        return match ErrorCode::from_code(h.err) {
            Some(c) => Ok((h, Err(c))),
            None => jute::malformed(format!("unknown error code {}", h.err)),
        };
    }
    Ok((h, Ok(Response::read(opcode, &mut r)?)))
}
