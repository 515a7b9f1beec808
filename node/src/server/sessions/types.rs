//! The messages between client connection tasks and the peer task.

use std::net::IpAddr;
use std::sync::Arc;

use super::limits::ReplyBudget;
use tokio::sync::mpsc::UnboundedSender;
use zablab_core::tree::{
    AddWatchMode, ErrorCode, ReadRequest, ReadResponse, SetWatches, WatchedEvent, WatcherType,
    WriteOp, WriteOutcome,
};

/// A client connection on this server.
pub type ConnId = u64;

/// A request from a client connection, decoded and mapped onto the data tree's types.
#[derive(Clone, Debug, PartialEq)]
pub enum ClientOp {
    Write(WriteOp),
    Read(ReadRequest),
    Sync {
        path: String,
    },
    SetWatches(SetWatches),
    AddWatch {
        path: String,
        mode: AddWatchMode,
    },
    CheckWatches {
        path: String,
        kind: WatcherType,
    },
    RemoveWatches {
        path: String,
        kind: WatcherType,
    },
    WhoAmI,
    /// An opcode this server does not serve (reconfig, sasl): answered Unimplemented.
    Unimplemented(i32),
    /// A request that could not be decoded into an operation (bad flags, …).
    Invalid(ErrorCode),
}

/// What a connection task sends to the peer task.
#[derive(Debug)]
pub enum ClientEvent {
    /// The ConnectRequest, with the channel the replies should go to.
    Connect {
        conn: ConnId,
        tx: UnboundedSender<ClientReply>,
        /// Shared with the connection's reader and writer: what is queued and in flight.
        budget: Arc<ReplyBudget>,
        remote_ip: IpAddr,
        last_zxid_seen: i64,
        timeout_ms: i32,
        session_id: i64,
        password: Vec<u8>,
    },
    Request {
        conn: ConnId,
        xid: i32,
        op: ClientOp,
        /// The request frame's length, counted in flight until the request is answered.
        bytes: usize,
    },
    /// An auth packet, answered at once with the request's xid (ZooKeeper echoes it: Java,
    /// C and kazoo send -4, the Rust client its own xid).
    Auth {
        conn: ConnId,
        xid: i32,
        scheme: String,
        auth: Vec<u8>,
    },
    /// A ping (xid -2): answered at once, and the session is alive.
    Ping { conn: ConnId },
    /// The writer drained the connection's replies below its budget: reads held back
    /// because of a slow reader may run again.
    Drained { conn: ConnId },
    /// The socket closed.
    Gone { conn: ConnId },
    /// A four-letter word asks for the watches, ephemerals and session buckets.
    Inspect {
        reply: tokio::sync::oneshot::Sender<super::Inspection>,
    },
}

/// The body of a reply; the connection task encodes it for the request's opcode.
#[derive(Clone, Debug, PartialEq)]
pub enum ReplyBody {
    Write(WriteOutcome),
    Read(Result<ReadResponse, ErrorCode>),
    Sync(Result<String, ErrorCode>),
    /// setWatches, checkWatches, removeWatches, ping, auth: the error code only.
    Status(ErrorCode),
    /// addWatch: an `ErrorResponse{err}` body on success.
    AddWatch(ErrorCode),
    /// whoAmI: (scheme, id) of every id the connection holds.
    WhoAmI(Vec<(String, String)>),
}

/// What the peer task sends back to a connection, in the order it must be written.
#[derive(Clone, Debug, PartialEq)]
pub enum ClientReply {
    Connected {
        session_id: i64,
        timeout_ms: i32,
        password: [u8; 16],
    },
    /// The session is unknown or the password wrong: ConnectResponse of zeros, then close.
    Expired,
    Reply {
        xid: i32,
        zxid: i64,
        body: ReplyBody,
    },
    Event(WatchedEvent),
    /// Close the connection (server not serving, session closed or expired, leader lost).
    Close(&'static str),
}
