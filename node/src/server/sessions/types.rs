//! The messages from client connection tasks to the peer task (the replies are the core's
//! [`ClientReply`]).

use std::net::IpAddr;
use std::sync::Arc;

use super::limits::ReplyBudget;
use super::{ClientOp, ClientReply, ConnId};
use tokio::sync::mpsc::UnboundedSender;

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
        /// The ConnectRequest's readOnly flag (false when the client left the byte out).
        read_only: bool,
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
