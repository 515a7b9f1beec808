//! Client sessions, as a server sees them: one sans-IO layer above [`Peer`] used by every
//! host — the native node (sockets), the simulator's clients ([`crate::sim::zk::ZkClients`])
//! and the browser lab.
//!
//! ```text
//!   host (sockets, simulated clients, UI form)        ClientSessions               Peer
//!   connect / request / ping / auth / drained / gone ─▶ per-connection queue ─▶ Input::ClientWrite
//!                                                        (cxid order)          Input::ClientSync
//!                                                                              Input::SessionTouch
//!   Output::Reply / SyncDone / RequestFailed ─────────▶ answers in order   ◀── Output::*
//!   SessionHost::send(conn, ClientReply) ◀─────────── replies, watch events, closes
//! ```
//!
//! ZooKeeper answers a session's requests in the order they arrived even though writes go
//! through ZAB and reads are served locally (its CommitProcessor holds a read behind the
//! session's pending writes). Here each connection has a queue: writes are submitted to the
//! peer at once (so they pipeline), and an entry leaves the queue only when it and everything
//! before it is answered; a read is executed when it reaches the head. Watch events go out as
//! soon as the transaction that fired them is applied, before the replies of later
//! transactions (zxid order, [`FiredEvents`]).
//!
//! Driving contract: the host calls the event methods ([`ClientSessions::connect`],
//! [`request`](ClientSessions::request), [`ping`](ClientSessions::ping),
//! [`auth`](ClientSessions::auth), [`drained`](ClientSessions::drained),
//! [`gone`](ClientSessions::gone)) and feeds every [`Input`] they return to the peer, in order.
//! After each peer step it passes the client outputs ([`ClientSessions::on_output`]) with the
//! watch events fired by that step in between ([`ClientSessions::take_fired`]), then calls
//! [`ClientSessions::after_step`], which closes every connection when the peer stopped serving
//! and the connections whose session expired. Time comes in as an [`Instant`]; the layer keeps
//! no clock, does no IO and decides nothing the peer decides.

use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::vec::Vec;

use crate::durable::RequestTag;
use crate::peer::{Input, Peer};
use crate::time::Instant;
use crate::tree::{
    initial_session_id, negotiate_timeout, next_session_id, session_password, AuthConfig, ConnId,
    ErrorCode, Id, Request, WriteOp, WriteOutcome,
};
use crate::zxid::Zxid;

mod answers;
mod auth;
mod inspect;
mod local;
mod machine;
mod read_only;
mod types;

#[cfg(test)]
mod tests;

pub use answers::FiredEvents;
pub use auth::{add_ids, AuthLimitError, MAX_AUTH_IDS, MAX_AUTH_ID_BYTES};
pub use inspect::{expiry_bucket, Inspection};
pub use local::{read_response_bytes, reply_bytes};
pub use machine::ClientMachine;
pub use read_only::{
    ReadOnlyChange, ReadOnlyClient, MAX_READ_ONLY_SESSIONS, READ_ONLY_GRACE_MIN_MS,
};
pub use types::{ClientOp, ClientReply, ConnectRequest, ReplyBody, SessionHost};

/// A reply may exceed `jute.maxbuffer` by this much: the reply header and Stat around the
/// largest data the tree stores.
pub const REPLY_HEADROOM_BYTES: usize = 1024;

/// A request waiting for its reply; `cost` is the host's, handed back when it leaves.
#[derive(Clone, Debug)]
enum Queued {
    Write {
        xid: i32,
        cost: usize,
        tag: RequestTag,
        done: Option<(Zxid, WriteOutcome)>,
    },
    Sync {
        xid: i32,
        cost: usize,
        tag: RequestTag,
        path: alloc::string::String,
        done: Option<Zxid>,
    },
    Local {
        xid: i32,
        cost: usize,
        op: ClientOp,
    },
    /// A reconfig: the zxid its transaction was applied at here, or the leader's refusal.
    Reconfig {
        xid: i32,
        cost: usize,
        tag: RequestTag,
        done: Option<Result<Zxid, ErrorCode>>,
    },
}

/// One client connection on this server (ZooKeeper's `ServerCnxn`).
#[derive(Clone, Debug)]
struct ServerCnxn {
    session_id: i64,
    timeout_ms: i32,
    auth: Vec<Id>,
    /// The createSession transaction while the session is being created.
    creating: Option<RequestTag>,
    queue: VecDeque<Queued>,
    /// A closeSession was answered: close once the queue drains.
    closing: bool,
    /// Paths this connection asked to watch in the data table ([`inspect`]).
    watch_paths: BTreeSet<alloc::string::String>,
    watch_paths_pruned_at: usize,
    /// The last touch of the session through this connection.
    touched: Instant,
    /// A session of the read-only server ([`read_only`]): local, not in the replicated tree.
    local: bool,
}

impl ServerCnxn {
    fn new(session_id: i64, timeout_ms: i32, auth: Vec<Id>, now: Instant) -> ServerCnxn {
        ServerCnxn {
            session_id,
            timeout_ms,
            auth,
            creating: None,
            queue: VecDeque::new(),
            closing: false,
            watch_paths: BTreeSet::new(),
            watch_paths_pruned_at: 0,
            touched: now,
            local: false,
        }
    }
}

/// What bounds the layer enforces on what a client makes the server build or propose.
#[derive(Clone, Copy, Debug)]
pub struct SessionLimits<T> {
    /// `jute.maxbuffer`: the largest transaction record proposed and reply built
    /// (replies get [`REPLY_HEADROOM_BYTES`] more).
    pub max_buffer_bytes: usize,
    /// The encoded size of a request as the host's codec forwards it. Every write carries the
    /// connection's auth ids, so it may be larger than the client's packet: one above
    /// `max_buffer_bytes` is answered BadArguments and never proposed.
    pub txn_bytes: fn(&T) -> usize,
}

/// The sessions of one server's client connections.
#[derive(Clone, Debug)]
pub struct ClientSessions<M: ClientMachine> {
    conns: BTreeMap<ConnId, ServerCnxn>,
    tags: BTreeMap<RequestTag, ConnId>,
    next_tag: RequestTag,
    last_session_id: Option<i64>,
    known_sessions: usize,
    limits: SessionLimits<M::Request>,
    /// This server's authentication settings (superDigest): used when an auth packet
    /// arrives, so only the resulting ids travel in transactions.
    auth_config: AuthConfig,
    /// `readonlymode.enabled` and the read-only server's state ([`read_only`]).
    read_only: read_only::ReadOnlyServer,
}

fn zxid_i64(z: Zxid) -> i64 {
    z.0 as i64
}

impl<M: ClientMachine> ClientSessions<M> {
    /// Sessions of a server with these limits and authentication settings.
    pub fn new(limits: SessionLimits<M::Request>, auth_config: AuthConfig) -> ClientSessions<M> {
        ClientSessions {
            conns: BTreeMap::new(),
            tags: BTreeMap::new(),
            next_tag: 0,
            last_session_id: None,
            known_sessions: 0,
            limits,
            auth_config,
            read_only: read_only::ReadOnlyServer::default(),
        }
    }

    /// Answers ConnectResponse on `conn` and opens its connection state: the one step a
    /// session takes on every connect, replicated or (`local`, read-only mode) not.
    #[allow(clippy::too_many_arguments)]
    fn admit(
        &mut self,
        peer: &mut Peer<M>,
        host: &mut impl SessionHost,
        conn: ConnId,
        session_id: i64,
        timeout_ms: i32,
        auth: Vec<Id>,
        now: Instant,
        local: bool,
    ) {
        host.send(
            conn,
            ClientReply::Connected {
                session_id,
                timeout_ms,
                password: session_password(session_id),
                read_only: local,
            },
        );
        if let Some(t) = peer.machine_mut().tree_mut() {
            t.set_connection_auth(conn, &auth);
        }
        let mut c = ServerCnxn::new(session_id, timeout_ms, auth, now);
        c.local = local;
        self.conns.insert(conn, c);
    }

    fn tag(&mut self, conn: ConnId) -> RequestTag {
        self.next_tag += 1;
        self.tags.insert(self.next_tag, conn);
        self.next_tag
    }

    /// Number of open client connections.
    pub fn len(&self) -> usize {
        self.conns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// The session a connection holds (also while it is being created).
    pub fn session_of(&self, conn: ConnId) -> Option<i64> {
        self.conns.get(&conn).map(|c| c.session_id)
    }

    /// The connection that sent the request `tag`, while it waits for its answer.
    pub fn conn_of(&self, tag: RequestTag) -> Option<ConnId> {
        self.tags.get(&tag).copied()
    }

    /// A ConnectRequest on connection `conn`. A new session (id 0) is created by a
    /// createSession transaction and answered when it commits; an existing one is checked
    /// against the tree (id and password) and moves here. A server that does not serve, or
    /// that is behind what the client has seen, closes the connection. While the read-only
    /// server runs ([`ClientSessions::read_only_step`]) a client that allows read-only gets a
    /// local session instead.
    pub fn connect(
        &mut self,
        peer: &mut Peer<M>,
        host: &mut impl SessionHost,
        now: Instant,
        conn: ConnId,
        req: ConnectRequest,
    ) -> Vec<Input<M>> {
        let mut inputs = Vec::new();
        if !peer.is_serving() || peer.machine().tree().is_none() {
            if self.read_only.is_active() && peer.machine().tree().is_some() {
                self.connect_read_only(peer, host, now, conn, req);
                return inputs;
            }
            host.send(
                conn,
                ClientReply::Close("this server is not serving requests"),
            );
            return inputs;
        }
        // A client that saw a newer state than ours must try another server.
        if req.last_zxid_seen > zxid_i64(peer.last_processed_zxid()) {
            host.send(
                conn,
                ClientReply::Close("client has seen a zxid this server has not"),
            );
            return inputs;
        }
        let tick = peer.config().timing.tick_time_ms;
        let timeout_ms = negotiate_timeout(req.timeout_ms, tick);
        if req.session_id == 0 {
            let id = match self.last_session_id {
                Some(prev) => next_session_id(prev),
                None => initial_session_id(peer.id(), now.0),
            };
            self.last_session_id = Some(id);
            let tag = self.tag(conn);
            let mut c = ServerCnxn::new(id, timeout_ms, req.auth, now);
            c.creating = Some(tag);
            self.conns.insert(conn, c);
            let request = Request::new(id, 0, Vec::new(), WriteOp::CreateSession { timeout_ms });
            if let Some(request) = M::request_from_tree(request) {
                inputs.push(Input::ClientWrite { tag, request });
            }
            return inputs;
        }
        let session_id = req.session_id;
        let valid = peer
            .machine()
            .tree()
            .is_some_and(|t| t.validate_session(session_id, &req.password));
        if !valid {
            host.send(conn, ClientReply::Expired);
            return inputs;
        }
        // The session moves here: any other connection holding it is closed.
        let others: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.session_id == session_id)
            .map(|(id, _)| *id)
            .collect();
        for other in others {
            self.close(peer, host, other, "session moved to another connection");
        }
        self.admit(
            peer, host, conn, session_id, timeout_ms, req.auth, now, false,
        );
        inputs.push(Input::SessionTouch {
            session_id,
            timeout_ms,
        });
        inputs
    }

    /// A request on `conn` with the client's `xid`: writes and syncs go to the peer at once,
    /// everything else waits in the connection's queue until what is before it is answered.
    #[allow(clippy::too_many_arguments)]
    pub fn request(
        &mut self,
        peer: &mut Peer<M>,
        host: &mut impl SessionHost,
        now: Instant,
        conn: ConnId,
        xid: i32,
        op: ClientOp,
        cost: usize,
    ) -> Vec<Input<M>> {
        let mut inputs = Vec::new();
        let Some(c) = self.conns.get_mut(&conn) else {
            return inputs;
        };
        if c.creating.is_some() || c.closing {
            host.request_done(conn, cost);
            return inputs;
        }
        c.touched = now;
        c.note_watch(&op);
        let (session_id, timeout_ms, auth) = (c.session_id, c.timeout_ms, c.auth.clone());
        if c.local {
            let queued = self.read_only_request(peer, session_id, xid, op, cost);
            if let Some(c) = self.conns.get_mut(&conn) {
                c.queue.push_back(queued);
            }
            self.flush(peer, host, conn);
            self.maybe_prune_watches(peer, conn);
            return inputs;
        }
        inputs.push(Input::SessionTouch {
            session_id,
            timeout_ms,
        });
        let queued = match op {
            ClientOp::Write(op) => {
                let Some(request) = M::request_from_tree(Request::new(session_id, xid, auth, op))
                else {
                    host.request_done(conn, cost);
                    return inputs;
                };
                if (self.limits.txn_bytes)(&request) > self.limits.max_buffer_bytes {
                    Queued::Local {
                        xid,
                        cost,
                        op: ClientOp::Invalid(ErrorCode::BadArguments),
                    }
                } else {
                    let tag = self.tag(conn);
                    inputs.push(Input::ClientWrite { tag, request });
                    Queued::Write {
                        xid,
                        cost,
                        tag,
                        done: None,
                    }
                }
            }
            ClientOp::Reconfig(request) => match reconfig_enabled(peer).and(request) {
                Err(code) => Queued::Local {
                    xid,
                    cost,
                    op: ClientOp::Invalid(code),
                },
                Ok(mut request) => {
                    request.auth = auth
                        .iter()
                        .map(|i| (i.scheme.clone(), i.id.clone()))
                        .collect();
                    let tag = self.tag(conn);
                    inputs.push(Input::ClientReconfig { tag, request });
                    Queued::Reconfig {
                        xid,
                        cost,
                        tag,
                        done: None,
                    }
                }
            },
            ClientOp::Sync { path } => {
                let tag = self.tag(conn);
                inputs.push(Input::ClientSync { tag });
                Queued::Sync {
                    xid,
                    cost,
                    tag,
                    path,
                    done: None,
                }
            }
            other => Queued::Local {
                xid,
                cost,
                op: other,
            },
        };
        if let Some(c) = self.conns.get_mut(&conn) {
            c.queue.push_back(queued);
        }
        self.flush(peer, host, conn);
        self.maybe_prune_watches(peer, conn);
        inputs
    }

    /// A ping (xid -2): answered at once, and the session is alive.
    pub fn ping(
        &mut self,
        peer: &mut Peer<M>,
        host: &mut impl SessionHost,
        now: Instant,
        conn: ConnId,
    ) -> Vec<Input<M>> {
        let Some(c) = self.conns.get_mut(&conn) else {
            return Vec::new();
        };
        c.touched = now;
        host.send(
            conn,
            ClientReply::Reply {
                xid: -2,
                zxid: zxid_i64(peer.last_processed_zxid()),
                body: crate::session::ReplyBody::Status(ErrorCode::Ok),
            },
        );
        if c.local {
            return Vec::new();
        }
        alloc::vec![Input::SessionTouch {
            session_id: c.session_id,
            timeout_ms: c.timeout_ms,
        }]
    }

    /// The host drained the connection's replies below its budget: reads held back because of
    /// a slow reader may run again.
    pub fn drained(&mut self, peer: &mut Peer<M>, host: &mut impl SessionHost, conn: ConnId) {
        self.flush(peer, host, conn);
    }

    /// The connection is gone (socket closed, client crashed): forgotten without a reply.
    /// Its session stays in the tree until it is closed or expires.
    pub fn gone(&mut self, peer: &mut Peer<M>, conn: ConnId) {
        self.drop_conn(peer, conn);
    }

    /// Every connection is closed after the replies already sent on it; the sessions
    /// themselves stay in the tree (they are replicated state), so a client reconnects to
    /// another server within its session timeout and keeps its ephemerals and watches.
    /// Returns how many connections were closed.
    pub fn close_all(
        &mut self,
        peer: &mut Peer<M>,
        host: &mut impl SessionHost,
        why: &'static str,
    ) -> usize {
        let ids: Vec<ConnId> = self.conns.keys().copied().collect();
        for conn in &ids {
            self.close(peer, host, *conn, why);
        }
        ids.len()
    }

    /// The server process is gone with its data tree: every connection is closed and
    /// forgotten (nothing to update in a tree that no longer exists).
    pub fn forget_all(&mut self, host: &mut impl SessionHost, why: &'static str) {
        for conn in core::mem::take(&mut self.conns).into_keys() {
            host.send(conn, ClientReply::Close(why));
        }
        self.tags.clear();
        self.known_sessions = 0;
        self.read_only.forget();
    }

    /// Forgets `conn` and tells the host to close it.
    fn close(
        &mut self,
        peer: &mut Peer<M>,
        host: &mut impl SessionHost,
        conn: ConnId,
        why: &'static str,
    ) {
        host.send(conn, ClientReply::Close(why));
        self.drop_conn(peer, conn);
    }

    fn drop_conn(&mut self, peer: &mut Peer<M>, conn: ConnId) {
        if self.conns.remove(&conn).is_some() {
            self.tags.retain(|_, c| *c != conn);
            if let Some(t) = peer.machine_mut().tree_mut() {
                t.remove_connection(conn);
            }
        }
    }
}

/// A reconfig on a server with reconfigEnabled off is answered here (ZooKeeper's first
/// check); the others (in progress, version, arguments, quorum, then WRITE on
/// `/zookeeper/config` with the request's ids) are the leader's.
fn reconfig_enabled<M: ClientMachine>(peer: &Peer<M>) -> Result<(), ErrorCode> {
    if peer.config().reconfig_enabled {
        Ok(())
    } else {
        Err(ErrorCode::ReconfigDisabled)
    }
}
