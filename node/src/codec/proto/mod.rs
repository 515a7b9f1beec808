//! ZooKeeper's client wire protocol (docs/protocol.md §5), both directions, as pure byte codecs over
//! the core's request and response types ([`zablab_core::tree`]). No sockets here: the server
//! ([`crate::server::client`]) and the client ([`crate::tools::zkclient`]) move the frames.
//!
//! # Frames
//! Every frame is `i32 len` + body ([`frame_len`] checks a length prefix against
//! `jute.maxbuffer`; [`begin_frame`]/[`end_frame`] write one). After the handshake:
//!
//! ```text
//! client → server   RequestHeader{xid, type} + request record      decode_request / encode_request
//! server → client   ReplyHeader{xid, zxid, err} + response record  encode_reply / decode_reply
//!                   (err != 0: header only; xid -1: WatcherEvent)  encode_notification
//! ```
//! The first frame each way has no header: [`ConnectRequest`] and [`ConnectResponse`].
//!
//! # Mapping onto the core
//! A decoded request is a [`ClientRequest`]: writes become a [`WriteOp`] (the server wraps it
//! into a `Txn` with the session, cxid and auth ids), reads a [`ReadRequest`]; everything the
//! server answers itself (ping, auth, setWatches, sync, addWatch, ...) has its own variant.
//! Replies encode from a [`Response`], which wraps the core's [`WriteResponse`] /
//! [`ReadResponse`], or from an [`ErrorCode`] (header only).
//!
//! Create flags are carried as sent: the tree validates them when it applies the txn
//! (`CreateMode::from_flag`, BadArguments for anything outside 0–6), as ZooKeeper's
//! PrepRequestProcessor turns them into an error txn. Unknown opcodes decode to
//! [`ClientRequest::Unimplemented`]; reconfig (16) and sasl (102) are decoded and answered
//! Unimplemented by the server.
//!
//! # Robustness
//! Decoders read from untrusted sockets: they never panic, never allocate from a length field
//! beyond what the input holds (strings and buffers are capped at [`MAX_BUFFER_BYTES`]; vector
//! counts are bounded by the bytes left), and nested multi records are depth-limited. A
//! truncated record is [`JuteError::Eof`], anything else malformed [`JuteError::Malformed`].
//! Like Java's `BinaryInputArchive`, a request decoder ignores bytes after its record.
//!
//! Null and empty buffers stay distinct (`Option<Vec<u8>>`): kazoo sends -1 for empty data and
//! gets -1 back from getData.

mod connect;
mod multi;
mod read_response;
mod records;
mod request;
mod response;
mod write_op;

#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
mod tests;

pub use connect::{ConnectRequest, ConnectResponse};
pub use multi::MultiHeader;
pub use records::{
    put_acls, put_id, put_ids, put_stat, put_strings, read_acls, read_id, read_ids, read_stat,
    read_strings, STAT_BYTES,
};
pub(crate) use records::{put_data, put_str, read_data, read_str};
pub use request::{decode_request, encode_request, ClientRequest, RequestHeader};
pub use response::{
    decode_reply, encode_error, encode_notification, encode_reply, ClientInfo, ReplyHeader,
    Response, WatcherEvent,
};
pub use write_op::{put_write_op, read_write_op};

pub use zablab_core::tree::{
    Acl, AddWatchMode, ErrorCode, Id, OpResult, ReadRequest, ReadResponse, SetWatches, Stat,
    WatcherType, WriteOp, WriteResponse,
};

use crate::codec::jute::{self, JuteError, Reader};

/// `jute.maxbuffer`'s default: the largest frame either side accepts, and the longest string
/// or buffer a decoder reads.
pub const MAX_BUFFER_BYTES: usize = 0xfffff;

/// How deep multi records may nest in a transaction record (clients cannot nest at all).
pub const MAX_MULTI_DEPTH: usize = 4;

/// ZooKeeper's opcodes (`ZooDefs.OpCode`, §5.4).
pub mod op {
    pub const NOTIFICATION: i32 = 0;
    pub const CREATE: i32 = 1;
    pub const DELETE: i32 = 2;
    pub const EXISTS: i32 = 3;
    pub const GET_DATA: i32 = 4;
    pub const SET_DATA: i32 = 5;
    pub const GET_ACL: i32 = 6;
    pub const SET_ACL: i32 = 7;
    pub const GET_CHILDREN: i32 = 8;
    pub const SYNC: i32 = 9;
    pub const PING: i32 = 11;
    pub const GET_CHILDREN2: i32 = 12;
    pub const CHECK: i32 = 13;
    pub const MULTI: i32 = 14;
    pub const CREATE2: i32 = 15;
    pub const RECONFIG: i32 = 16;
    pub const CHECK_WATCHES: i32 = 17;
    pub const REMOVE_WATCHES: i32 = 18;
    pub const CREATE_CONTAINER: i32 = 19;
    pub const DELETE_CONTAINER: i32 = 20;
    pub const CREATE_TTL: i32 = 21;
    pub const MULTI_READ: i32 = 22;
    pub const AUTH: i32 = 100;
    pub const SET_WATCHES: i32 = 101;
    pub const SASL: i32 = 102;
    pub const GET_EPHEMERALS: i32 = 103;
    pub const GET_ALL_CHILDREN_NUMBER: i32 = 104;
    pub const SET_WATCHES2: i32 = 105;
    pub const ADD_WATCH: i32 = 106;
    pub const WHO_AM_I: i32 = 107;
    pub const CREATE_SESSION: i32 = -10;
    pub const CLOSE_SESSION: i32 = -11;
    /// The type of an error result inside a multi response, and of an error txn.
    pub const ERROR: i32 = -1;
}

/// Special xids (§5.3).
pub mod xid {
    pub const NOTIFICATION: i32 = -1;
    pub const PING: i32 = -2;
    pub const AUTH: i32 = -4;
    pub const SET_WATCHES: i32 = -8;
}

/// Keeper states (`WatcherEvent.state`, §5.8).
pub mod state {
    pub const UNKNOWN: i32 = -1;
    pub const DISCONNECTED: i32 = 0;
    pub const NO_SYNC_CONNECTED: i32 = 1;
    pub const SYNC_CONNECTED: i32 = 3;
    pub const AUTH_FAILED: i32 = 4;
    pub const CONNECTED_READ_ONLY: i32 = 5;
    pub const SASL_AUTHENTICATED: i32 = 6;
    pub const CLOSED: i32 = 7;
    pub const EXPIRED: i32 = -112;

    /// The name zkCli prints (`Watcher.Event.KeeperState`).
    pub fn name(state: i32) -> &'static str {
        match state {
            DISCONNECTED => "Disconnected",
            NO_SYNC_CONNECTED => "NoSyncConnected",
            SYNC_CONNECTED => "SyncConnected",
            AUTH_FAILED => "AuthFailed",
            CONNECTED_READ_ONLY => "ConnectedReadOnly",
            SASL_AUTHENTICATED => "SaslAuthenticated",
            CLOSED => "Closed",
            EXPIRED => "Expired",
            _ => "Unknown",
        }
    }
}

/// Event types (`WatcherEvent.type`, §5.8).
pub mod event {
    pub const NONE: i32 = -1;
    pub const NODE_CREATED: i32 = 1;
    pub const NODE_DELETED: i32 = 2;
    pub const NODE_DATA_CHANGED: i32 = 3;
    pub const NODE_CHILDREN_CHANGED: i32 = 4;
    pub const DATA_WATCH_REMOVED: i32 = 5;
    pub const CHILD_WATCH_REMOVED: i32 = 6;
    pub const PERSISTENT_WATCH_REMOVED: i32 = 7;

    /// The name zkCli prints (`Watcher.Event.EventType`).
    pub fn name(t: i32) -> &'static str {
        match t {
            NONE => "None",
            NODE_CREATED => "NodeCreated",
            NODE_DELETED => "NodeDeleted",
            NODE_DATA_CHANGED => "NodeDataChanged",
            NODE_CHILDREN_CHANGED => "NodeChildrenChanged",
            DATA_WATCH_REMOVED => "DataWatchRemoved",
            CHILD_WATCH_REMOVED => "ChildWatchRemoved",
            PERSISTENT_WATCH_REMOVED => "PersistentWatchRemoved",
            _ => "Unknown",
        }
    }
}

/// A reader over a frame body that refuses strings and buffers longer than `jute.maxbuffer`.
pub fn reader(body: &[u8]) -> Reader<'_> {
    Reader::with_max_len(body, MAX_BUFFER_BYTES)
}

/// Checks a frame's length prefix: negative or over `jute.maxbuffer` closes the connection.
pub fn frame_len(prefix: [u8; 4]) -> Result<usize, JuteError> {
    let n = i32::from_be_bytes(prefix);
    if n < 0 || n as usize > MAX_BUFFER_BYTES {
        return jute::malformed(format!("frame length {n} outside 0..={MAX_BUFFER_BYTES}"));
    }
    Ok(n as usize)
}

/// Starts a frame in `out`: reserves the length prefix and returns where it is.
pub fn begin_frame(out: &mut Vec<u8>) -> usize {
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    at
}

/// Fills in the length prefix reserved by [`begin_frame`].
pub fn end_frame(out: &mut [u8], at: usize) {
    let len = (out.len() - at - 4) as i32;
    out[at..at + 4].copy_from_slice(&len.to_be_bytes());
}
