//! ZooKeeper's transactions (`zookeeper.jute`, module `org.apache.zookeeper.txn`): what the
//! leader's prep stage ([`super::prep`]) makes of a client's [`Request`](super::Request), what
//! proposals, log records and SNAP-synced learners carry, and what every replica applies
//! without checking anything ([`super::apply`]).
//!
//! A transaction is idempotent state: the final path of a sequential create, the parent's new
//! cversion, the node's new version, the ephemerals a closing session leaves behind. A request
//! that fails is still a transaction, an [`ErrorTxn`], and still takes a zxid, so every replica
//! answers the client the same error without re-running the checks.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::acl::Acl;
use super::error::ErrorCode;

/// ZooKeeper's opcodes (`ZooDefs.OpCode`) that appear in a `TxnHeader.type`.
pub mod op_code {
    pub const ERROR: i32 = -1;
    pub const CREATE: i32 = 1;
    pub const DELETE: i32 = 2;
    pub const SET_DATA: i32 = 5;
    pub const SET_ACL: i32 = 7;
    pub const CHECK: i32 = 13;
    pub const MULTI: i32 = 14;
    pub const CREATE2: i32 = 15;
    /// A reconfig: a [`super::SetDataTxn`] of `/zookeeper/config` (see [`crate::tree::reconfig`]).
    pub const RECONFIG: i32 = 16;
    pub const CREATE_CONTAINER: i32 = 19;
    pub const DELETE_CONTAINER: i32 = 20;
    pub const CREATE_TTL: i32 = 21;
    pub const CREATE_SESSION: i32 = -10;
    pub const CLOSE_SESSION: i32 = -11;
}

/// `CreateTxn{path, data, acl, ephemeral, parentCVersion}`: the path is final (a sequential
/// create's suffix included) and the ACL fixed up; an ephemeral node belongs to the header's
/// clientId.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CreateTxn {
    pub path: String,
    pub data: Option<Vec<u8>>,
    pub acl: Vec<Acl>,
    pub ephemeral: bool,
    /// The parent's cversion after this create.
    pub parent_cversion: i32,
}

/// `CreateTTLTxn{path, data, acl, parentCVersion, ttl}`.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CreateTtlTxn {
    pub path: String,
    pub data: Option<Vec<u8>>,
    pub acl: Vec<Acl>,
    pub parent_cversion: i32,
    pub ttl: i64,
}

/// `CreateContainerTxn{path, data, acl, parentCVersion}`.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CreateContainerTxn {
    pub path: String,
    pub data: Option<Vec<u8>>,
    pub acl: Vec<Acl>,
    pub parent_cversion: i32,
}

/// `DeleteTxn{path}` (delete 2 and deleteContainer 20).
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DeleteTxn {
    pub path: String,
}

/// `SetDataTxn{path, data, version}`: `version` is the node's version after the write.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SetDataTxn {
    pub path: String,
    pub data: Option<Vec<u8>>,
    pub version: i32,
}

/// `SetACLTxn{path, acl, version}`: `version` is the aversion after the write.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SetAclTxn {
    pub path: String,
    pub acl: Vec<Acl>,
    pub version: i32,
}

/// `CheckVersionTxn{path, version}`: the check passed on the leader; applying changes nothing.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CheckVersionTxn {
    pub path: String,
    pub version: i32,
}

/// `CreateSessionTxn{timeOut}`; the session id is the header's clientId.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CreateSessionTxn {
    pub time_out: i32,
}

/// `CloseSessionTxn{paths2Delete}`: the session's ephemerals as the leader's outstanding view
/// had them, in path order.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CloseSessionTxn {
    pub paths2_delete: Vec<String>,
}

/// `ErrorTxn{err}`: the request failed on the leader with this code.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ErrorTxn {
    pub err: ErrorCode,
}

/// One entry of `MultiTxn.txns`: jute's `Txn{type, data}` with the data decoded.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SubTxn {
    /// The sub-op's opcode (which also decides its result's shape), or -1 for an ErrorTxn.
    pub txn_type: i32,
    pub body: TxnBody,
}

/// `MultiTxn{txns}`. A multi that failed on the leader is all ErrorTxns: Ok for the ops before
/// the failing one, its error at it, RuntimeInconsistency after.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MultiTxn {
    pub txns: Vec<SubTxn>,
}

/// The record that follows a `TxnHeader`.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum TxnBody {
    Create(CreateTxn),
    CreateTtl(CreateTtlTxn),
    CreateContainer(CreateContainerTxn),
    Delete(DeleteTxn),
    SetData(SetDataTxn),
    SetAcl(SetAclTxn),
    CheckVersion(CheckVersionTxn),
    CreateSession(CreateSessionTxn),
    CloseSession(CloseSessionTxn),
    Error(ErrorTxn),
    Multi(MultiTxn),
}

/// A transaction as proposed, logged and applied: the `TxnHeader` fields that are not in
/// [`crate::machine::TxnContext`] (zxid and time are) plus the body.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Txn {
    /// `TxnHeader.clientId`: the client's session (0 for the leader's own deleteContainer).
    pub client_id: i64,
    /// `TxnHeader.cxid`.
    pub cxid: i32,
    /// `TxnHeader.type`: the request's opcode, or -1 when it failed (an [`ErrorTxn`]). The
    /// opcode decides the response's shape (create 1 answers a path, create2 15 a path and a
    /// Stat, both from a [`CreateTxn`]).
    pub txn_type: i32,
    pub body: TxnBody,
}

impl Txn {
    /// The failed request's error, if this is an ErrorTxn.
    pub fn error(&self) -> Option<ErrorCode> {
        match &self.body {
            TxnBody::Error(e) => Some(e.err),
            _ => None,
        }
    }

    /// About how many bytes the body takes in jute (what a log record or a proposal carries
    /// after the 28-byte TxnHeader).
    pub fn encoded_len(&self) -> u64 {
        self.body.encoded_len()
    }
}

impl TxnBody {
    /// A few words for the lab's log views: ZooKeeper's operation name and the path it
    /// changes (`setData /a`), or the error of an ErrorTxn.
    pub fn label(&self) -> String {
        match self {
            TxnBody::Create(t) => format!("create {}", t.path),
            TxnBody::CreateTtl(t) => format!("createTTL {}", t.path),
            TxnBody::CreateContainer(t) => format!("createContainer {}", t.path),
            TxnBody::Delete(t) => format!("delete {}", t.path),
            TxnBody::SetData(t) => format!("setData {}", t.path),
            TxnBody::SetAcl(t) => format!("setACL {}", t.path),
            TxnBody::CheckVersion(t) => format!("check {}", t.path),
            TxnBody::CreateSession(_) => String::from("createSession"),
            TxnBody::CloseSession(_) => String::from("closeSession"),
            TxnBody::Error(e) => format!("error {}", e.err.code()),
            TxnBody::Multi(m) => format!("multi ({} ops)", m.txns.len()),
        }
    }

    /// The jute size of the record.
    pub fn encoded_len(&self) -> u64 {
        let text = |s: &str| 4 + s.len() as u64;
        let data = |d: &Option<Vec<u8>>| 4 + d.as_ref().map_or(0, |d| d.len() as u64);
        let acl = |a: &[Acl]| {
            4 + a
                .iter()
                .map(|a| 4 + text(&a.id.scheme) + text(&a.id.id))
                .sum::<u64>()
        };
        match self {
            TxnBody::Create(c) => text(&c.path) + data(&c.data) + acl(&c.acl) + 1 + 4,
            TxnBody::CreateTtl(c) => text(&c.path) + data(&c.data) + acl(&c.acl) + 4 + 8,
            TxnBody::CreateContainer(c) => text(&c.path) + data(&c.data) + acl(&c.acl) + 4,
            TxnBody::Delete(d) => text(&d.path),
            TxnBody::SetData(s) => text(&s.path) + data(&s.data) + 4,
            TxnBody::SetAcl(s) => text(&s.path) + acl(&s.acl) + 4,
            TxnBody::CheckVersion(c) => text(&c.path) + 4,
            TxnBody::CreateSession(_) => 4,
            TxnBody::CloseSession(c) => 4 + c.paths2_delete.iter().map(|p| text(p)).sum::<u64>(),
            TxnBody::Error(_) => 4,
            TxnBody::Multi(m) => {
                4 + m
                    .txns
                    .iter()
                    .map(|t| 4 + 4 + t.body.encoded_len())
                    .sum::<u64>()
            }
        }
    }
}
