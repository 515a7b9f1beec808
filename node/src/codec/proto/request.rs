//! Client → server frames after the handshake (§5.3, §5.4): `RequestHeader` + request record,
//! decoded onto the core's request types.

use zablab_core::tree::{AddWatchMode, ErrorCode, ReadRequest, SetWatches, WatcherType, WriteOp};

use super::multi::{put_multi_read_request, read_multi_read_request};
use super::records::{put_data, put_str, put_strings, read_data, read_str, read_strings};
use super::write_op::{put_multi_request, put_write_op, read_multi_request, read_write_op};
use super::{begin_frame, end_frame, op, reader};
use crate::codec::jute::{put_bool, put_buffer, put_i32, put_i64, put_ustring, JuteError, Reader};

/// `RequestHeader{i32 xid; i32 type}`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RequestHeader {
    pub xid: i32,
    pub opcode: i32,
}

impl RequestHeader {
    pub fn put(&self, out: &mut Vec<u8>) {
        put_i32(out, self.xid);
        put_i32(out, self.opcode);
    }

    pub fn read(r: &mut Reader<'_>) -> Result<RequestHeader, JuteError> {
        Ok(RequestHeader {
            xid: r.i32()?,
            opcode: r.i32()?,
        })
    }
}

/// A decoded client request, by who answers it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum ClientRequest {
    /// create 1, create2 15, createContainer 19, createTTL 21, delete 2, setData 5, setACL 7,
    /// check 13, multi 14: proposed through ZAB as a `Txn`.
    Write(WriteOp),
    /// exists 3, getData 4, getACL 6, getChildren 8, getChildren2 12, getEphemerals 103,
    /// getAllChildrenNumber 104, multiRead 22: answered locally.
    Read(ReadRequest),
    /// sync 9.
    Sync { path: String },
    /// ping 11 (xid -2).
    Ping,
    /// auth 100 (xid -4): `AuthPacket{type = 0, scheme, auth}`.
    Auth { scheme: String, auth: Vec<u8> },
    /// setWatches 101 (xid -8; the persistent lists are empty).
    SetWatches(SetWatches),
    /// setWatches2 105 (xid -8).
    SetWatches2(SetWatches),
    /// addWatch 106.
    AddWatch { path: String, mode: AddWatchMode },
    /// checkWatches 17.
    CheckWatches {
        path: String,
        watcher_type: WatcherType,
    },
    /// removeWatches 18.
    RemoveWatches {
        path: String,
        watcher_type: WatcherType,
    },
    /// whoAmI 107.
    WhoAmI,
    /// closeSession -11 (kazoo sends an empty body; so does everyone).
    CloseSession,
    /// reconfig 16: decoded, answered Unimplemented.
    Reconfig {
        joining_servers: Option<String>,
        leaving_servers: Option<String>,
        new_members: Option<String>,
        cur_config_id: i64,
    },
    /// sasl 102: decoded, answered Unimplemented.
    Sasl { token: Option<Vec<u8>> },
    /// A well-framed request whose arguments are out of range (an addWatch mode or watcher
    /// type ZooKeeper does not define): answered with `err` and not executed.
    Invalid { opcode: i32, err: ErrorCode },
    /// An opcode this server does not know (or a server-internal one such as createSession
    /// or deleteContainer): answered Unimplemented (-6).
    Unimplemented(i32),
}

impl ClientRequest {
    /// The request's opcode (`RequestHeader.type`).
    pub fn opcode(&self) -> i32 {
        match self {
            ClientRequest::Write(w) => w.opcode(),
            ClientRequest::Read(r) => match r {
                ReadRequest::Exists { .. } => op::EXISTS,
                ReadRequest::GetData { .. } => op::GET_DATA,
                ReadRequest::GetAcl { .. } => op::GET_ACL,
                ReadRequest::GetChildren { .. } => op::GET_CHILDREN,
                ReadRequest::GetChildren2 { .. } => op::GET_CHILDREN2,
                ReadRequest::GetAllChildrenNumber { .. } => op::GET_ALL_CHILDREN_NUMBER,
                ReadRequest::GetEphemerals { .. } => op::GET_EPHEMERALS,
                ReadRequest::MultiRead(_) => op::MULTI_READ,
            },
            ClientRequest::Sync { .. } => op::SYNC,
            ClientRequest::Ping => op::PING,
            ClientRequest::Auth { .. } => op::AUTH,
            ClientRequest::SetWatches(_) => op::SET_WATCHES,
            ClientRequest::SetWatches2(_) => op::SET_WATCHES2,
            ClientRequest::AddWatch { .. } => op::ADD_WATCH,
            ClientRequest::CheckWatches { .. } => op::CHECK_WATCHES,
            ClientRequest::RemoveWatches { .. } => op::REMOVE_WATCHES,
            ClientRequest::WhoAmI => op::WHO_AM_I,
            ClientRequest::CloseSession => op::CLOSE_SESSION,
            ClientRequest::Reconfig { .. } => op::RECONFIG,
            ClientRequest::Sasl { .. } => op::SASL,
            ClientRequest::Invalid { opcode, .. } => *opcode,
            ClientRequest::Unimplemented(code) => *code,
        }
    }

    /// Appends the request record (no header).
    pub fn put(&self, out: &mut Vec<u8>) {
        match self {
            ClientRequest::Write(WriteOp::Multi(ops)) => put_multi_request(out, ops),
            ClientRequest::Write(w) => put_write_op(out, w),
            ClientRequest::Read(r) => match r {
                ReadRequest::Exists { path, watch }
                | ReadRequest::GetData { path, watch }
                | ReadRequest::GetChildren { path, watch }
                | ReadRequest::GetChildren2 { path, watch } => {
                    put_str(out, path);
                    put_bool(out, *watch);
                }
                ReadRequest::GetAcl { path } | ReadRequest::GetAllChildrenNumber { path } => {
                    put_str(out, path)
                }
                ReadRequest::GetEphemerals { prefix_path } => put_str(out, prefix_path),
                ReadRequest::MultiRead(ops) => put_multi_read_request(out, ops),
            },
            ClientRequest::Sync { path } => put_str(out, path),
            ClientRequest::Auth { scheme, auth } => {
                put_i32(out, 0);
                put_str(out, scheme);
                put_buffer(out, Some(auth));
            }
            ClientRequest::SetWatches(w) | ClientRequest::SetWatches2(w) => {
                put_i64(out, w.relative_zxid);
                put_strings(out, &w.data_watches);
                put_strings(out, &w.exist_watches);
                put_strings(out, &w.child_watches);
                if matches!(self, ClientRequest::SetWatches2(_)) {
                    put_strings(out, &w.persistent_watches);
                    put_strings(out, &w.persistent_recursive_watches);
                }
            }
            ClientRequest::AddWatch { path, mode } => {
                put_str(out, path);
                put_i32(
                    out,
                    match mode {
                        AddWatchMode::Persistent => 0,
                        AddWatchMode::PersistentRecursive => 1,
                    },
                );
            }
            ClientRequest::CheckWatches { path, watcher_type }
            | ClientRequest::RemoveWatches { path, watcher_type } => {
                put_str(out, path);
                put_i32(out, watcher_type_code(*watcher_type));
            }
            ClientRequest::Reconfig {
                joining_servers,
                leaving_servers,
                new_members,
                cur_config_id,
            } => {
                put_ustring(out, joining_servers.as_deref());
                put_ustring(out, leaving_servers.as_deref());
                put_ustring(out, new_members.as_deref());
                put_i64(out, *cur_config_id);
            }
            ClientRequest::Sasl { token } => put_data(out, token),
            ClientRequest::Ping
            | ClientRequest::WhoAmI
            | ClientRequest::CloseSession
            | ClientRequest::Invalid { .. }
            | ClientRequest::Unimplemented(_) => {}
        }
    }

    /// Reads the record of a request of `opcode`.
    pub fn read(opcode: i32, r: &mut Reader<'_>) -> Result<ClientRequest, JuteError> {
        let path_watch = |r: &mut Reader<'_>| -> Result<(String, bool), JuteError> {
            Ok((read_str(r)?, r.bool()?))
        };
        Ok(match opcode {
            op::CREATE
            | op::CREATE2
            | op::CREATE_CONTAINER
            | op::CREATE_TTL
            | op::DELETE
            | op::SET_DATA
            | op::SET_ACL
            | op::CHECK => ClientRequest::Write(read_write_op(opcode, r, 0)?),
            op::MULTI => ClientRequest::Write(WriteOp::Multi(read_multi_request(r, 1, false)?)),
            op::EXISTS => {
                let (path, watch) = path_watch(r)?;
                ClientRequest::Read(ReadRequest::Exists { path, watch })
            }
            op::GET_DATA => {
                let (path, watch) = path_watch(r)?;
                ClientRequest::Read(ReadRequest::GetData { path, watch })
            }
            op::GET_CHILDREN => {
                let (path, watch) = path_watch(r)?;
                ClientRequest::Read(ReadRequest::GetChildren { path, watch })
            }
            op::GET_CHILDREN2 => {
                let (path, watch) = path_watch(r)?;
                ClientRequest::Read(ReadRequest::GetChildren2 { path, watch })
            }
            op::GET_ACL => ClientRequest::Read(ReadRequest::GetAcl { path: read_str(r)? }),
            op::GET_ALL_CHILDREN_NUMBER => {
                ClientRequest::Read(ReadRequest::GetAllChildrenNumber { path: read_str(r)? })
            }
            op::GET_EPHEMERALS => ClientRequest::Read(ReadRequest::GetEphemerals {
                prefix_path: read_str(r)?,
            }),
            op::MULTI_READ => {
                ClientRequest::Read(ReadRequest::MultiRead(read_multi_read_request(r)?))
            }
            op::SYNC => ClientRequest::Sync { path: read_str(r)? },
            op::PING => ClientRequest::Ping,
            op::AUTH => {
                let _auth_type = r.i32()?;
                ClientRequest::Auth {
                    scheme: read_str(r)?,
                    auth: read_data(r)?.unwrap_or_default(),
                }
            }
            op::SET_WATCHES | op::SET_WATCHES2 => {
                let mut w = SetWatches {
                    relative_zxid: r.i64()?,
                    data_watches: read_strings(r)?,
                    exist_watches: read_strings(r)?,
                    child_watches: read_strings(r)?,
                    ..SetWatches::default()
                };
                if opcode == op::SET_WATCHES2 {
                    w.persistent_watches = read_strings(r)?;
                    w.persistent_recursive_watches = read_strings(r)?;
                    ClientRequest::SetWatches2(w)
                } else {
                    ClientRequest::SetWatches(w)
                }
            }
            op::ADD_WATCH => {
                let path = read_str(r)?;
                match AddWatchMode::from_mode(r.i32()?) {
                    Ok(mode) => ClientRequest::AddWatch { path, mode },
                    Err(err) => ClientRequest::Invalid { opcode, err },
                }
            }
            op::CHECK_WATCHES | op::REMOVE_WATCHES => {
                let path = read_str(r)?;
                match WatcherType::from_code(r.i32()?) {
                    Ok(watcher_type) if opcode == op::CHECK_WATCHES => {
                        ClientRequest::CheckWatches { path, watcher_type }
                    }
                    Ok(watcher_type) => ClientRequest::RemoveWatches { path, watcher_type },
                    Err(err) => ClientRequest::Invalid { opcode, err },
                }
            }
            op::WHO_AM_I => ClientRequest::WhoAmI,
            op::CLOSE_SESSION => ClientRequest::CloseSession,
            op::RECONFIG => ClientRequest::Reconfig {
                joining_servers: r.ustring()?,
                leaving_servers: r.ustring()?,
                new_members: r.ustring()?,
                cur_config_id: r.i64()?,
            },
            op::SASL => ClientRequest::Sasl {
                token: read_data(r)?,
            },
            other => ClientRequest::Unimplemented(other),
        })
    }
}

/// The wire number of a watcher type (1 Children, 2 Data, 3 Any, 4 Persistent,
/// 5 PersistentRecursive).
pub fn watcher_type_code(t: WatcherType) -> i32 {
    match t {
        WatcherType::Children => 1,
        WatcherType::Data => 2,
        WatcherType::Any => 3,
        WatcherType::Persistent => 4,
        WatcherType::PersistentRecursive => 5,
    }
}

/// Decodes a request frame body (without its length prefix).
pub fn decode_request(body: &[u8]) -> Result<(RequestHeader, ClientRequest), JuteError> {
    let mut r = reader(body);
    let h = RequestHeader::read(&mut r)?;
    let req = ClientRequest::read(h.opcode, &mut r)?;
    Ok((h, req))
}

/// Appends a whole request frame (length prefix included).
pub fn encode_request(out: &mut Vec<u8>, xid: i32, req: &ClientRequest) {
    let at = begin_frame(out);
    RequestHeader {
        xid,
        opcode: req.opcode(),
    }
    .put(out);
    req.put(out);
    end_frame(out, at);
}
