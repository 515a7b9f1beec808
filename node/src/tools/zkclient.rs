//! A small async ZooKeeper client over [`crate::codec::proto`]: what `zablab cli`, `zablab bench` and
//! the tests use, against ZabLab or Apache ZooKeeper 3.8 alike.
//!
//! # Using it
//! [`ZkClient::connect`] opens a session on the first reachable host and returns the client
//! and a stream of [`WatchEvent`]s (watch notifications, and session state changes with type
//! `None`). Every call is a request frame with the next xid; replies are matched to requests by
//! xid, in order (a mismatch is a lost connection, as in the Java client). Requests may be
//! issued concurrently from many tasks: they pipeline on the one connection.
//!
//! # Behind the calls (see `zkclient/conn.rs`)
//! A manager task owns the connection: a writer task batches frames, a pinger sends a ping
//! every third of the negotiated timeout, and the reader times out after two thirds of it.
//! When the connection drops, pending requests fail with ConnectionLoss and the manager
//! reconnects to the next host with the same session id, password and last seen zxid, then
//! re-sends the auth credentials and the client's watches (setWatches, or setWatches2 when
//! there are persistent watches), before any new request. New requests wait for the
//! reconnection (at most one session timeout). Chroot suffixes in host strings are not
//! supported.

mod conn;
mod watches;

use std::collections::BTreeSet;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use zablab_core::tree::{
    Acl, AddWatchMode, CheckVersionRequest, CreateMode, CreateRequest, CreateTtlRequest,
    DeleteRequest, ErrorCode, OpResult, ReadRequest, ReadResponse, SetAclRequest, SetDataRequest,
    Stat, WatcherType, WriteOp, WriteResponse,
};

use crate::codec::proto::{event, state, ClientInfo, ClientRequest, Response};
use conn::Inner;

/// How to open (or resume) a session.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    /// `host:port` strings, tried in order.
    pub hosts: Vec<String>,
    /// The requested session timeout; the server clamps it to `[2, 20] × tickTime`.
    pub session_timeout_ms: i32,
    /// Accept a read-only server (the readOnly byte of the ConnectRequest).
    pub read_only: bool,
    /// Resume this session (id, password) instead of creating one.
    pub session: Option<(i64, Vec<u8>)>,
    /// Per-host limit on TCP connect plus handshake.
    pub connect_timeout: Duration,
}

impl ConnectOptions {
    /// Hosts from a `host:port,host:port` list, 30 s session timeout.
    pub fn new(hosts: &str) -> ConnectOptions {
        ConnectOptions {
            hosts: hosts
                .split(',')
                .map(str::trim)
                .filter(|h| !h.is_empty())
                .map(str::to_string)
                .collect(),
            session_timeout_ms: 30_000,
            read_only: false,
            session: None,
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// Why a call failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ZkError {
    /// The server answered with this error code.
    Code(ErrorCode),
    /// The connection dropped before the answer came (the request may or may not have been
    /// applied), or no server could be reached.
    ConnectionLoss(String),
    /// The server declared the session expired.
    SessionExpired,
    /// The client was closed.
    Closed,
    /// The server sent bytes this client cannot make sense of.
    Protocol(String),
}

impl ZkError {
    /// The matching ZooKeeper error code.
    pub fn code(&self) -> ErrorCode {
        match self {
            ZkError::Code(c) => *c,
            ZkError::ConnectionLoss(_) | ZkError::Closed => ErrorCode::ConnectionLoss,
            ZkError::SessionExpired => ErrorCode::SessionExpired,
            ZkError::Protocol(_) => ErrorCode::MarshallingError,
        }
    }
}

impl fmt::Display for ZkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ZkError::Code(c) => write!(f, "KeeperErrorCode = {c:?}"),
            ZkError::ConnectionLoss(why) => write!(f, "KeeperErrorCode = ConnectionLoss ({why})"),
            ZkError::SessionExpired => write!(f, "KeeperErrorCode = Session expired"),
            ZkError::Closed => write!(f, "the client is closed"),
            ZkError::Protocol(why) => write!(f, "protocol error: {why}"),
        }
    }
}

impl std::error::Error for ZkError {}

pub type ZkResult<T> = Result<T, ZkError>;

/// A watch notification, or a session state change (`event_type == event::NONE`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchEvent {
    pub event_type: i32,
    pub state: i32,
    /// Empty for state changes.
    pub path: String,
}

impl fmt::Display for WatchEvent {
    /// zkCli's form: `WatchedEvent state:SyncConnected type:NodeDataChanged path:/a`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() {
            "null"
        } else {
            &self.path
        };
        write!(
            f,
            "WatchedEvent state:{} type:{} path:{}",
            state::name(self.state),
            event::name(self.event_type),
            path
        )
    }
}

/// The connection state as the application sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Connecting,
    Connected,
    ConnectedReadOnly,
    Expired,
    Closed,
}

/// The watches this client holds, re-sent after a reconnect.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WatchBook {
    pub data: BTreeSet<String>,
    pub exist: BTreeSet<String>,
    pub child: BTreeSet<String>,
    pub persistent: BTreeSet<String>,
    pub recursive: BTreeSet<String>,
}

/// A ZooKeeper session. Cheap to clone; all clones share the session. When the last clone
/// is dropped the connection is dropped too (without closeSession: call [`ZkClient::close`]).
#[derive(Clone)]
pub struct ZkClient {
    inner: Arc<Inner>,
    _guard: Arc<conn::DropGuard>,
}

fn unexpected<T>(r: Response) -> ZkResult<T> {
    Err(ZkError::Protocol(format!("unexpected response {r:?}")))
}

fn create_request(path: &str, data: Option<&[u8]>, acl: &[Acl], flags: i32) -> CreateRequest {
    CreateRequest {
        path: path.to_string(),
        data: data.map(<[u8]>::to_vec),
        acl: acl.to_vec(),
        flags,
    }
}

impl ZkClient {
    /// Opens (or resumes) a session on the first host that answers.
    pub async fn connect(
        opts: ConnectOptions,
    ) -> ZkResult<(ZkClient, mpsc::UnboundedReceiver<WatchEvent>)> {
        let (inner, guard, events) = conn::start(opts).await?;
        Ok((
            ZkClient {
                inner,
                _guard: guard,
            },
            events,
        ))
    }

    pub fn session_id(&self) -> i64 {
        self.inner.lock().session_id
    }

    pub fn session_password(&self) -> Vec<u8> {
        self.inner.lock().passwd.clone()
    }

    pub fn negotiated_timeout_ms(&self) -> i32 {
        self.inner.lock().timeout_ms
    }

    /// The highest zxid seen in a reply.
    pub fn last_zxid(&self) -> i64 {
        self.inner.lock().last_zxid
    }

    /// The host the session is connected to (or was, last).
    pub fn current_host(&self) -> String {
        self.inner.lock().current_host.clone()
    }

    pub fn status(&self) -> Status {
        *self.inner.status.borrow()
    }

    /// The watches this client holds.
    pub fn watches(&self) -> WatchBook {
        self.inner.lock().watches.clone()
    }

    /// Drops the connection and resumes the session on `host` (or the next host in the list):
    /// a session move. Returns once connected there.
    pub async fn reconnect(&self, host: Option<&str>) -> ZkResult<()> {
        conn::reconnect(&self.inner, host.map(str::to_string)).await
    }

    /// Sends any request and returns the server's response record.
    pub async fn request(&self, req: ClientRequest) -> ZkResult<Response> {
        conn::submit(&self.inner, req).await
    }

    /// create (1) for the persistent, ephemeral and sequential modes, createContainer (19)
    /// for a container; returns the actual path. TTL modes need [`ZkClient::create_ttl`].
    pub async fn create(
        &self,
        path: &str,
        data: Option<&[u8]>,
        acl: &[Acl],
        mode: CreateMode,
    ) -> ZkResult<String> {
        let c = create_request(path, data, acl, mode.flag());
        let op = match mode {
            CreateMode::Container => WriteOp::CreateContainer(c),
            m if m.is_ttl() => return Err(ZkError::Code(ErrorCode::BadArguments)),
            _ => WriteOp::Create(c),
        };
        match self.request(ClientRequest::Write(op)).await? {
            Response::Write(WriteResponse::Create { path })
            | Response::Write(WriteResponse::Create2 { path, .. }) => Ok(path),
            r => unexpected(r),
        }
    }

    /// create2 (15), or createContainer (19) for a container: the path and the new Stat.
    pub async fn create2(
        &self,
        path: &str,
        data: Option<&[u8]>,
        acl: &[Acl],
        mode: CreateMode,
    ) -> ZkResult<(String, Stat)> {
        let c = create_request(path, data, acl, mode.flag());
        let op = match mode {
            CreateMode::Container => WriteOp::CreateContainer(c),
            _ => WriteOp::Create2(c),
        };
        match self.request(ClientRequest::Write(op)).await? {
            Response::Write(WriteResponse::Create2 { path, stat }) => Ok((path, stat)),
            r => unexpected(r),
        }
    }

    /// createTTL (21).
    pub async fn create_ttl(
        &self,
        path: &str,
        data: Option<&[u8]>,
        acl: &[Acl],
        mode: CreateMode,
        ttl_ms: i64,
    ) -> ZkResult<(String, Stat)> {
        let op = WriteOp::CreateTtl(CreateTtlRequest {
            path: path.to_string(),
            data: data.map(<[u8]>::to_vec),
            acl: acl.to_vec(),
            flags: mode.flag(),
            ttl: ttl_ms,
        });
        match self.request(ClientRequest::Write(op)).await? {
            Response::Write(WriteResponse::Create2 { path, stat }) => Ok((path, stat)),
            r => unexpected(r),
        }
    }

    pub async fn delete(&self, path: &str, version: i32) -> ZkResult<()> {
        let op = WriteOp::Delete(DeleteRequest {
            path: path.to_string(),
            version,
        });
        self.request(ClientRequest::Write(op)).await.map(|_| ())
    }

    /// exists (3): `None` for a missing node (a watch is still set when asked).
    pub async fn exists(&self, path: &str, watch: bool) -> ZkResult<Option<Stat>> {
        let req = ReadRequest::Exists {
            path: path.to_string(),
            watch,
        };
        match self.request(ClientRequest::Read(req)).await {
            Ok(Response::Read(ReadResponse::Exists { stat })) => Ok(Some(stat)),
            Err(ZkError::Code(ErrorCode::NoNode)) => Ok(None),
            Ok(r) => unexpected(r),
            Err(e) => Err(e),
        }
    }

    /// getData (4): the data (`None` for a null buffer) and the Stat.
    pub async fn get_data(&self, path: &str, watch: bool) -> ZkResult<(Option<Vec<u8>>, Stat)> {
        let req = ReadRequest::GetData {
            path: path.to_string(),
            watch,
        };
        match self.request(ClientRequest::Read(req)).await? {
            Response::Read(ReadResponse::GetData { data, stat }) => Ok((data, stat)),
            r => unexpected(r),
        }
    }

    /// setData (5); `version` -1 matches any version.
    pub async fn set_data(&self, path: &str, data: Option<&[u8]>, version: i32) -> ZkResult<Stat> {
        let op = WriteOp::SetData(SetDataRequest {
            path: path.to_string(),
            data: data.map(<[u8]>::to_vec),
            version,
        });
        match self.request(ClientRequest::Write(op)).await? {
            Response::Write(WriteResponse::SetData { stat }) => Ok(stat),
            r => unexpected(r),
        }
    }

    pub async fn get_acl(&self, path: &str) -> ZkResult<(Vec<Acl>, Stat)> {
        let req = ReadRequest::GetAcl {
            path: path.to_string(),
        };
        match self.request(ClientRequest::Read(req)).await? {
            Response::Read(ReadResponse::GetAcl { acl, stat }) => Ok((acl, stat)),
            r => unexpected(r),
        }
    }

    pub async fn set_acl(&self, path: &str, acl: &[Acl], version: i32) -> ZkResult<Stat> {
        let op = WriteOp::SetAcl(SetAclRequest {
            path: path.to_string(),
            acl: acl.to_vec(),
            version,
        });
        match self.request(ClientRequest::Write(op)).await? {
            Response::Write(WriteResponse::SetAcl { stat }) => Ok(stat),
            r => unexpected(r),
        }
    }

    /// getChildren (8): child names.
    pub async fn get_children(&self, path: &str, watch: bool) -> ZkResult<Vec<String>> {
        let req = ReadRequest::GetChildren {
            path: path.to_string(),
            watch,
        };
        match self.request(ClientRequest::Read(req)).await? {
            Response::Read(ReadResponse::GetChildren { children }) => Ok(children),
            r => unexpected(r),
        }
    }

    /// getChildren2 (12): child names and the parent's Stat.
    pub async fn get_children2(&self, path: &str, watch: bool) -> ZkResult<(Vec<String>, Stat)> {
        let req = ReadRequest::GetChildren2 {
            path: path.to_string(),
            watch,
        };
        match self.request(ClientRequest::Read(req)).await? {
            Response::Read(ReadResponse::GetChildren2 { children, stat }) => Ok((children, stat)),
            r => unexpected(r),
        }
    }

    pub async fn get_all_children_number(&self, path: &str) -> ZkResult<i32> {
        let req = ReadRequest::GetAllChildrenNumber {
            path: path.to_string(),
        };
        match self.request(ClientRequest::Read(req)).await? {
            Response::Read(ReadResponse::GetAllChildrenNumber { total_number }) => Ok(total_number),
            r => unexpected(r),
        }
    }

    pub async fn get_ephemerals(&self, prefix: &str) -> ZkResult<Vec<String>> {
        let req = ReadRequest::GetEphemerals {
            prefix_path: prefix.to_string(),
        };
        match self.request(ClientRequest::Read(req)).await? {
            Response::Read(ReadResponse::GetEphemerals { ephemerals }) => Ok(ephemerals),
            r => unexpected(r),
        }
    }

    /// sync (9): returns once this server has seen the leader's writes up to now.
    pub async fn sync(&self, path: &str) -> ZkResult<String> {
        match self
            .request(ClientRequest::Sync {
                path: path.to_string(),
            })
            .await?
        {
            Response::Sync { path } => Ok(path),
            r => unexpected(r),
        }
    }

    /// multi (14): per-op results. A failed multi is `Ok` with error results (§5.6); use
    /// [`first_error`] to find the failing op.
    pub async fn multi(&self, ops: Vec<WriteOp>) -> ZkResult<Vec<OpResult>> {
        match self
            .request(ClientRequest::Write(WriteOp::Multi(ops)))
            .await?
        {
            Response::Write(WriteResponse::Multi(results)) => Ok(results),
            r => unexpected(r),
        }
    }

    /// multiRead (22): getData/getChildren ops, each succeeding or failing on its own.
    pub async fn multi_read(
        &self,
        ops: Vec<ReadRequest>,
    ) -> ZkResult<Vec<Result<ReadResponse, ErrorCode>>> {
        match self
            .request(ClientRequest::Read(ReadRequest::MultiRead(ops)))
            .await?
        {
            Response::Read(ReadResponse::MultiRead(results)) => Ok(results),
            r => unexpected(r),
        }
    }

    /// check (13) as a one-op multi: Ok when `path` has `version`.
    pub async fn check(&self, path: &str, version: i32) -> ZkResult<()> {
        let op = WriteOp::Check(CheckVersionRequest {
            path: path.to_string(),
            version,
        });
        match first_error(&self.multi(vec![op]).await?) {
            None => Ok(()),
            Some(c) => Err(ZkError::Code(c)),
        }
    }

    /// auth (100, xid -4), e.g. `("digest", b"user:password")`. Remembered and re-sent after
    /// a reconnect.
    pub async fn add_auth(&self, scheme: &str, auth: &[u8]) -> ZkResult<()> {
        conn::add_auth(&self.inner, scheme, auth).await
    }

    /// addWatch (106): a persistent or persistent-recursive watch.
    pub async fn add_watch(&self, path: &str, mode: AddWatchMode) -> ZkResult<()> {
        self.request(ClientRequest::AddWatch {
            path: path.to_string(),
            mode,
        })
        .await
        .map(|_| ())
    }

    /// removeWatches (18): NoWatcher when this session has none of that type on `path`.
    pub async fn remove_watches(&self, path: &str, watcher_type: WatcherType) -> ZkResult<()> {
        self.request(ClientRequest::RemoveWatches {
            path: path.to_string(),
            watcher_type,
        })
        .await
        .map(|_| ())
    }

    /// checkWatches (17).
    pub async fn check_watches(&self, path: &str, watcher_type: WatcherType) -> ZkResult<()> {
        self.request(ClientRequest::CheckWatches {
            path: path.to_string(),
            watcher_type,
        })
        .await
        .map(|_| ())
    }

    /// getConfig: getData (4) of `/zookeeper/config`, the ensemble's membership text and its
    /// Stat (ZooKeeper's `ZooKeeper.getConfig`).
    pub async fn get_config(&self, watch: bool) -> ZkResult<(Option<Vec<u8>>, Stat)> {
        self.get_data(zablab_core::tree::path::CONFIG_PATH, watch)
            .await
    }

    /// reconfig (16), ZooKeeper's `ZooKeeperAdmin.reconfigure`: incremental (`joining` server
    /// lines, `leaving` server ids, each comma-separated) or non-incremental (`members`), from
    /// config version `from_config` (-1: any). Returns the committed configuration and its Stat.
    pub async fn reconfig(
        &self,
        joining: Option<&str>,
        leaving: Option<&str>,
        members: Option<&str>,
        from_config: i64,
    ) -> ZkResult<(Option<Vec<u8>>, Stat)> {
        let req = ClientRequest::Reconfig {
            joining_servers: joining.map(str::to_string),
            leaving_servers: leaving.map(str::to_string),
            new_members: members.map(str::to_string),
            cur_config_id: from_config,
        };
        match self.request(req).await? {
            Response::Read(ReadResponse::GetData { data, stat }) => Ok((data, stat)),
            r => unexpected(r),
        }
    }

    /// whoAmI (107).
    pub async fn who_am_i(&self) -> ZkResult<Vec<ClientInfo>> {
        match self.request(ClientRequest::WhoAmI).await? {
            Response::WhoAmI(v) => Ok(v),
            r => unexpected(r),
        }
    }

    /// closeSession (-11): ends the session (its ephemerals go) and the connection.
    pub async fn close(&self) -> ZkResult<()> {
        conn::close(&self.inner).await
    }
}

/// The first failing op's code in a multi result (Ok entries before it are skipped).
pub fn first_error(results: &[OpResult]) -> Option<ErrorCode> {
    results.iter().find_map(|r| match r {
        OpResult::Error(c) if *c != ErrorCode::Ok => Some(*c),
        _ => None,
    })
}

/// Shared state guarded by a mutex that is never held across an await.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
