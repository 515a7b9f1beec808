//! What goes into the session layer (requests mapped onto the data tree's types, connection
//! events) and what comes out (replies in the order they must be written, watch events,
//! closes), and the [`SessionHost`] that receives the replies.

use alloc::string::String;
use alloc::vec::Vec;

use crate::tree::{
    AddWatchMode, ConnId, ErrorCode, Id, ReadRequest, ReadResponse, SetWatches, WatchedEvent,
    WatcherType, WriteOp, WriteOutcome,
};

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
    /// `reconfig` (opcode 16): checked here (reconfigEnabled, then WRITE on
    /// `/zookeeper/config`, which only the super user or skipACL has), then handed to the
    /// peer, which forwards it to the leader like a write; answered with the new config's
    /// getData once applied here. `Err` is a request the host could not parse (BadArguments),
    /// answered after the checks that come first, as ZooKeeper orders them.
    Reconfig(Result<crate::reconfig::ReconfigRequest, ErrorCode>),
    /// An opcode this server does not serve (sasl): answered Unimplemented.
    Unimplemented(i32),
    /// A request that could not be decoded into an operation (bad flags, …).
    Invalid(ErrorCode),
}

/// A client's ConnectRequest, as the session layer needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnectRequest {
    /// The largest zxid the client has seen (`lastZxidSeen`): a server behind it refuses.
    pub last_zxid_seen: i64,
    /// The timeout the client asks for; the server negotiates it within its tick bounds.
    pub timeout_ms: i32,
    /// 0 for a new session, else the session the client resumes.
    pub session_id: i64,
    pub password: Vec<u8>,
    /// The ids the connection holds from the start (the node adds `ip:<remote address>`).
    pub auth: Vec<Id>,
    /// `readOnly`: the client accepts a read-only server (served only while this server is
    /// cut from its quorum, with `readonlymode.enabled`).
    pub read_only: bool,
}

/// The body of a reply; the host encodes it for the request's opcode.
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

/// What the session layer sends to a connection, in the order it must be written.
#[derive(Clone, Debug, PartialEq)]
pub enum ClientReply {
    Connected {
        session_id: i64,
        timeout_ms: i32,
        password: [u8; 16],
        /// The ConnectResponse's readOnly flag: a session of the read-only server.
        read_only: bool,
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
    /// The layer has already forgotten the connection when it sends this.
    Close(&'static str),
}

/// The host side of the session layer: where replies go, and the host's accounting.
///
/// The layer calls [`SessionHost::send`] with each connection's replies in the order they
/// must be written. A host that bounds what it holds per connection (the node counts bytes of
/// encoded replies) answers [`SessionHost::held`] with true while a connection is over its
/// budget: local requests (reads) then wait at the head of that connection's queue until the
/// host reports [`crate::session::ClientSessions::drained`]. Every request carries a `cost`
/// chosen by the host (the node: its frame length); the layer hands it back through
/// [`SessionHost::request_done`] once the request is answered or dropped.
pub trait SessionHost {
    fn send(&mut self, conn: ConnId, reply: ClientReply);
    fn request_done(&mut self, _conn: ConnId, _cost: usize) {}
    fn held(&self, _conn: ConnId) -> bool {
        false
    }
}

/// A host that keeps every reply in a list, oldest first (tests, the simulator).
impl SessionHost for Vec<(ConnId, ClientReply)> {
    fn send(&mut self, conn: ConnId, reply: ClientReply) {
        self.push((conn, reply));
    }
}
