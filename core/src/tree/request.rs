//! The request/response model of the client protocol (docs/protocol.md §5.4, §5.6), field for field
//! as ZooKeeper's jute records, so the node's codec maps bytes to these types mechanically.
//!
//! Writes become a [`Request`]: the client's operation plus what the accepting server knew
//! about the client (session id, the connection's auth ids, cxid), as ZooKeeper's `Request`
//! object. A learner forwards it to the leader, whose prep stage ([`super::prep`]) turns it
//! into a [`Txn`](super::Txn) checked against its outstanding changes; only that transaction
//! is proposed and applied. Reads are answered by the local server through
//! [`super::DataTree::read`].

use alloc::string::String;
use alloc::vec::Vec;

use super::acl::{Acl, Id};
use super::error::ErrorCode;
use super::stat::Stat;

/// `CreateRequest{path, data, acl, flags}` (create 1, create2 15, createContainer 19).
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CreateRequest {
    pub path: String,
    /// `None` is jute's null buffer (length -1), distinct from empty data.
    pub data: Option<Vec<u8>>,
    pub acl: Vec<Acl>,
    pub flags: i32,
}

/// `CreateTTLRequest{path, data, acl, flags, ttl}` (createTTL 21).
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CreateTtlRequest {
    pub path: String,
    pub data: Option<Vec<u8>>,
    pub acl: Vec<Acl>,
    pub flags: i32,
    pub ttl: i64,
}

/// `DeleteRequest{path, version}`.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DeleteRequest {
    pub path: String,
    pub version: i32,
}

/// `SetDataRequest{path, data, version}`.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SetDataRequest {
    pub path: String,
    pub data: Option<Vec<u8>>,
    pub version: i32,
}

/// `SetACLRequest{path, acl, version}` (version is the expected aversion).
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SetAclRequest {
    pub path: String,
    pub acl: Vec<Acl>,
    pub version: i32,
}

/// `CheckVersionRequest{path, version}` (check 13, inside multi).
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CheckVersionRequest {
    pub path: String,
    pub version: i32,
}

/// A write, by opcode. The opcode decides the response shape (create 1 answers a path,
/// create2/createContainer/createTTL a path and a Stat).
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum WriteOp {
    /// create (1).
    Create(CreateRequest),
    /// create2 (15).
    Create2(CreateRequest),
    /// createContainer (19); flags should be 4.
    CreateContainer(CreateRequest),
    /// createTTL (21).
    CreateTtl(CreateTtlRequest),
    /// delete (2).
    Delete(DeleteRequest),
    /// setData (5).
    SetData(SetDataRequest),
    /// setACL (7).
    SetAcl(SetAclRequest),
    /// check (13): only meaningful inside multi, accepted alone as a one-op check.
    Check(CheckVersionRequest),
    /// multi (14): create/create2/createContainer/createTTL/delete/setData/check only; any
    /// other sub-op is MarshallingError.
    Multi(Vec<WriteOp>),
    /// createSession (-10). The session id is [`Request::session_id`], chosen by the accepting
    /// server; `timeout_ms` is already negotiated.
    CreateSession { timeout_ms: i32 },
    /// closeSession (-11): deletes the session's ephemerals.
    CloseSession,
    /// deleteContainer (20): server-internal removal of an empty container or expired TTL node.
    DeleteContainer { path: String },
}

impl WriteOp {
    /// About how many bytes the operation takes on the wire (jute lengths included).
    pub fn encoded_len(&self) -> u64 {
        let text = |s: &str| 4 + s.len() as u64;
        let data = |d: &Option<Vec<u8>>| 4 + d.as_ref().map_or(0, |d| d.len() as u64);
        let acl = |a: &[Acl]| {
            4 + a
                .iter()
                .map(|a| 4 + text(&a.id.scheme) + text(&a.id.id))
                .sum::<u64>()
        };
        4 + match self {
            WriteOp::Create(c) | WriteOp::Create2(c) | WriteOp::CreateContainer(c) => {
                text(&c.path) + data(&c.data) + acl(&c.acl) + 4
            }
            WriteOp::CreateTtl(c) => text(&c.path) + data(&c.data) + acl(&c.acl) + 4 + 8,
            WriteOp::Delete(d) => text(&d.path) + 4,
            WriteOp::SetData(d) => text(&d.path) + data(&d.data) + 4,
            WriteOp::SetAcl(a) => text(&a.path) + acl(&a.acl) + 4,
            WriteOp::Check(c) => text(&c.path) + 4,
            WriteOp::Multi(ops) => 4 + ops.iter().map(WriteOp::encoded_len).sum::<u64>(),
            WriteOp::CreateSession { .. } => 4,
            WriteOp::CloseSession => 0,
            WriteOp::DeleteContainer { path } => text(path),
        }
    }

    /// ZooKeeper's opcode.
    pub fn opcode(&self) -> i32 {
        match self {
            WriteOp::Create(_) => 1,
            WriteOp::Create2(_) => 15,
            WriteOp::CreateContainer(_) => 19,
            WriteOp::CreateTtl(_) => 21,
            WriteOp::Delete(_) => 2,
            WriteOp::SetData(_) => 5,
            WriteOp::SetAcl(_) => 7,
            WriteOp::Check(_) => 13,
            WriteOp::Multi(_) => 14,
            WriteOp::CreateSession { .. } => -10,
            WriteOp::CloseSession => -11,
            WriteOp::DeleteContainer { .. } => 20,
        }
    }
}

/// A write request as the accepting server forwards it to the leader (ZooKeeper's `Request`:
/// the operation plus `sessionId`, `cxid` and the connection's `authInfo`).
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Request {
    /// The client's session (0 for server-internal txns such as deleteContainer).
    pub session_id: i64,
    pub cxid: i32,
    /// The ids the client's connection holds (from auth packets, plus `ip:<addr>`).
    pub auth: Vec<Id>,
    pub op: WriteOp,
}

impl Request {
    /// About how many bytes the request takes in a REQUEST packet (session, cxid, the
    /// connection's auth ids and the operation's paths, data and ACLs).
    pub fn encoded_len(&self) -> u64 {
        let auth: u64 = self
            .auth
            .iter()
            .map(|id| 8 + (id.scheme.len() + id.id.len()) as u64)
            .sum();
        8 + 4 + 4 + auth + self.op.encoded_len()
    }

    pub fn new(session_id: i64, cxid: i32, auth: Vec<Id>, op: WriteOp) -> Request {
        Request {
            session_id,
            cxid,
            auth,
            op,
        }
    }
}

/// One multi sub-result (§5.6).
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum OpResult {
    /// type 1: `CreateResponse{path}`.
    Create { path: String },
    /// type 15: `Create2Response{path, stat}`.
    Create2 { path: String, stat: Stat },
    /// type 2.
    Delete,
    /// type 5: `SetDataResponse{stat}`.
    SetData { stat: Stat },
    /// type 13.
    Check,
    /// type -1: `ErrorResponse{err}`; `Ok` for sub-ops before the failing one,
    /// RuntimeInconsistency for those after.
    Error(ErrorCode),
}

/// A successful write's response record.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum WriteResponse {
    /// `CreateResponse{path}` (create 1).
    Create {
        path: String,
    },
    /// `Create2Response{path, stat}` (create2, createContainer, createTTL).
    Create2 {
        path: String,
        stat: Stat,
    },
    Delete,
    /// `SetDataResponse{stat}`.
    SetData {
        stat: Stat,
    },
    /// `SetACLResponse{stat}`.
    SetAcl {
        stat: Stat,
    },
    Check,
    /// Per-op results; the outer error is Ok even when a sub-op failed (§5.6).
    Multi(Vec<OpResult>),
    CreateSession {
        session_id: i64,
        timeout_ms: i32,
    },
    CloseSession,
    DeleteContainer,
}

/// What applying a transaction returns to the client: the response or ZooKeeper's error.
pub type WriteOutcome = Result<WriteResponse, ErrorCode>;

/// A read, answered by the local server.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ReadRequest {
    /// exists (3): `ExistsRequest{path, watch}`.
    Exists { path: String, watch: bool },
    /// getData (4).
    GetData { path: String, watch: bool },
    /// getACL (6).
    GetAcl { path: String },
    /// getChildren (8).
    GetChildren { path: String, watch: bool },
    /// getChildren2 (12).
    GetChildren2 { path: String, watch: bool },
    /// getAllChildrenNumber (104).
    GetAllChildrenNumber { path: String },
    /// getEphemerals (103): `GetEphemeralsRequest{prefixPath}`.
    GetEphemerals { prefix_path: String },
    /// multiRead (22): getChildren/getData sub-ops only (watch false), else MarshallingError.
    MultiRead(Vec<ReadRequest>),
}

/// A successful read's response record.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ReadResponse {
    /// `ExistsResponse{stat}`.
    Exists { stat: Stat },
    /// `GetDataResponse{data, stat}`.
    GetData { data: Option<Vec<u8>>, stat: Stat },
    /// `GetACLResponse{acl, stat}`.
    GetAcl { acl: Vec<Acl>, stat: Stat },
    /// `GetChildrenResponse{children}` (names, sorted here).
    GetChildren { children: Vec<String> },
    /// `GetChildren2Response{children, stat}`.
    GetChildren2 { children: Vec<String>, stat: Stat },
    /// `GetAllChildrenNumberResponse{totalNumber}`.
    GetAllChildrenNumber { total_number: i32 },
    /// `GetEphemeralsResponse{ephemerals}`.
    GetEphemerals { ephemerals: Vec<String> },
    /// One result per sub-op; each succeeds or fails on its own.
    MultiRead(Vec<Result<ReadResponse, ErrorCode>>),
}

/// addWatch modes (`AddWatchRequest.mode`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum AddWatchMode {
    Persistent,
    PersistentRecursive,
}

impl AddWatchMode {
    /// 0 persistent, 1 persistent recursive; anything else BadArguments.
    pub fn from_mode(mode: i32) -> Result<AddWatchMode, ErrorCode> {
        match mode {
            0 => Ok(AddWatchMode::Persistent),
            1 => Ok(AddWatchMode::PersistentRecursive),
            _ => Err(ErrorCode::BadArguments),
        }
    }
}

/// The watcher type of checkWatches/removeWatches (1 Children, 2 Data, 3 Any; master adds
/// 4 Persistent and 5 PersistentRecursive).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum WatcherType {
    Children,
    Data,
    Any,
    Persistent,
    PersistentRecursive,
}

impl WatcherType {
    pub fn from_code(t: i32) -> Result<WatcherType, ErrorCode> {
        Ok(match t {
            1 => WatcherType::Children,
            2 => WatcherType::Data,
            3 => WatcherType::Any,
            4 => WatcherType::Persistent,
            5 => WatcherType::PersistentRecursive,
            _ => return Err(ErrorCode::BadArguments),
        })
    }
}

/// `SetWatches2{relativeZxid, data, exist, child, persistent, persistentRecursive}`
/// (setWatches 101 leaves the last two empty).
#[derive(Clone, PartialEq, Eq, Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SetWatches {
    pub relative_zxid: i64,
    pub data_watches: Vec<String>,
    pub exist_watches: Vec<String>,
    pub child_watches: Vec<String>,
    pub persistent_watches: Vec<String>,
    pub persistent_recursive_watches: Vec<String>,
}
