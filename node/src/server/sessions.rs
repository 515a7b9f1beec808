//! Client sessions, as the peer task sees them: which connection holds which session, the
//! order replies must go out in, and where watch events go.
//!
//! ZooKeeper answers a session's requests in the order they arrived even though writes go
//! through ZAB and reads are served locally (its CommitProcessor holds a read behind the
//! session's pending writes). Here each connection has a queue: writes are submitted to the
//! peer at once (so they pipeline), and an entry leaves the queue only when it and everything
//! before it is answered; a read is executed when it reaches the head. Watch events go out as
//! soon as the transaction that fired them is applied, before the replies of later
//! transactions (zxid order).
//!
//! The connection tasks (client port) decode bytes into [`ClientEvent`]s and encode the
//! [`ClientReply`]s they get back; nothing here touches a socket.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;

use tokio::sync::mpsc::UnboundedSender;
use zablab_core::durable::RequestTag;
use zablab_core::peer::{Input, Peer};
use zablab_core::tree::{
    initial_session_id, negotiate_timeout, next_session_id, session_password, AuthConfig,
    ErrorCode, Id, Txn, WatchedEvent, WriteOp, WriteOutcome, WriteResponse,
};
use zablab_core::zxid::{Sid, Zxid};

use crate::codec::machine::NodeMachine;

mod auth;
mod inspect;
pub mod limits;
mod local;
mod types;

use local::{local_op, wall_ms};

pub use inspect::{expiry_bucket, Inspection};
pub use limits::ReplyBudget;
pub use types::{ClientEvent, ClientOp, ClientReply, ConnId, ReplyBody};

/// A request waiting for its reply; `bytes` is its frame length, counted in flight.
enum Queued {
    Write {
        xid: i32,
        bytes: usize,
        tag: RequestTag,
        done: Option<(Zxid, WriteOutcome)>,
    },
    Sync {
        xid: i32,
        bytes: usize,
        tag: RequestTag,
        path: String,
        done: Option<Zxid>,
    },
    Local {
        xid: i32,
        bytes: usize,
        op: ClientOp,
    },
}

struct Conn {
    tx: UnboundedSender<ClientReply>,
    budget: Arc<ReplyBudget>,
    session_id: i64,
    timeout_ms: i32,
    auth: Vec<Id>,
    /// The createSession transaction while the session is being created.
    creating: Option<RequestTag>,
    queue: VecDeque<Queued>,
    /// A closeSession was answered: close once the queue drains.
    closing: bool,
    /// Paths this connection asked to watch in the data table ([`inspect`]).
    watch_paths: std::collections::BTreeSet<String>,
    watch_paths_pruned_at: usize,
    /// Wall ms of the last touch of the session through this connection.
    touched_ms: u64,
}

impl Conn {
    /// Queues a reply for the connection's writer, counting its bytes against the budget.
    fn send(&self, reply: ClientReply) {
        self.budget.queued(limits::reply_bytes(&reply));
        let _ = self.tx.send(reply);
    }
}

/// The sessions of this server's client connections.
pub struct Sessions {
    conns: HashMap<ConnId, Conn>,
    tags: HashMap<RequestTag, ConnId>,
    next_tag: RequestTag,
    last_session_id: Option<i64>,
    known_sessions: usize,
    /// `jute.maxbuffer`: the largest transaction record proposed and reply built.
    max_buffer_bytes: usize,
    /// This server's authentication settings (superDigest): used when an auth packet
    /// arrives, so only the resulting ids travel in transactions.
    auth_config: AuthConfig,
}

fn zxid_i64(z: Zxid) -> i64 {
    z.0 as i64
}

impl Sessions {
    /// Sessions of a server with this `jute.maxbuffer` and authentication settings.
    pub fn new(max_buffer_bytes: usize, auth_config: AuthConfig) -> Sessions {
        Sessions {
            conns: HashMap::new(),
            tags: HashMap::new(),
            next_tag: 0,
            last_session_id: None,
            known_sessions: 0,
            max_buffer_bytes,
            auth_config,
        }
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

    /// Handles one event from a connection task. Returns the inputs to feed the peer
    /// (writes, syncs, session touches), in order.
    pub fn on_event<M: NodeMachine>(
        &mut self,
        ev: ClientEvent,
        peer: &mut Peer<M>,
        myid: Sid,
    ) -> Vec<Input<M>> {
        let mut inputs = Vec::new();
        match ev {
            ClientEvent::Connect {
                conn,
                tx,
                budget,
                remote_ip,
                last_zxid_seen,
                timeout_ms,
                session_id,
                password,
            } => self.connect(
                peer,
                myid,
                conn,
                tx,
                budget,
                remote_ip,
                last_zxid_seen,
                timeout_ms,
                session_id,
                &password,
                &mut inputs,
            ),
            ClientEvent::Request {
                conn,
                xid,
                op,
                bytes,
            } => self.request(peer, conn, xid, op, bytes, &mut inputs),
            ClientEvent::Auth {
                conn,
                xid,
                scheme,
                auth,
            } => self.auth(peer, conn, xid, &scheme, &auth),
            ClientEvent::Ping { conn } => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.touched_ms = wall_ms();
                    let zxid = zxid_i64(peer.last_processed_zxid());
                    c.send(ClientReply::Reply {
                        xid: -2,
                        zxid,
                        body: ReplyBody::Status(ErrorCode::Ok),
                    });
                    inputs.push(Input::SessionTouch {
                        session_id: c.session_id,
                        timeout_ms: c.timeout_ms,
                    });
                }
            }
            ClientEvent::Drained { conn } => self.flush(peer, conn),
            ClientEvent::Inspect { reply } => {
                let _ = reply.send(self.inspect(peer));
            }
            ClientEvent::Gone { conn } => self.drop_conn(peer, conn),
        }
        inputs
    }

    #[allow(clippy::too_many_arguments)]
    fn connect<M: NodeMachine>(
        &mut self,
        peer: &mut Peer<M>,
        myid: Sid,
        conn: ConnId,
        tx: UnboundedSender<ClientReply>,
        budget: Arc<ReplyBudget>,
        remote_ip: IpAddr,
        last_zxid_seen: i64,
        timeout_ms: i32,
        session_id: i64,
        password: &[u8],
        inputs: &mut Vec<Input<M>>,
    ) {
        if !peer.is_serving() || peer.machine().tree().is_none() {
            let _ = tx.send(ClientReply::Close("this server is not serving requests"));
            return;
        }
        // A client that saw a newer state than ours must try another server.
        if last_zxid_seen > zxid_i64(peer.last_processed_zxid()) {
            let _ = tx.send(ClientReply::Close(
                "client has seen a zxid this server has not",
            ));
            return;
        }
        let tick = peer.config().timing.tick_time_ms;
        let timeout_ms = negotiate_timeout(timeout_ms, tick);
        let auth = vec![Id::new("ip", &remote_ip.to_string())];
        if session_id == 0 {
            let id = match self.last_session_id {
                Some(prev) => next_session_id(prev),
                None => initial_session_id(myid, wall_ms()),
            };
            self.last_session_id = Some(id);
            let tag = self.tag(conn);
            self.conns.insert(
                conn,
                Conn {
                    tx,
                    budget,
                    session_id: id,
                    timeout_ms,
                    auth,
                    creating: Some(tag),
                    queue: VecDeque::new(),
                    closing: false,
                    watch_paths: Default::default(),
                    watch_paths_pruned_at: 0,
                    touched_ms: wall_ms(),
                },
            );
            let txn = Txn::new(id, 0, Vec::new(), WriteOp::CreateSession { timeout_ms });
            if let Some(txn) = M::txn_from_tree(txn) {
                inputs.push(Input::ClientWrite { tag, txn });
            }
            return;
        }
        let valid = peer
            .machine()
            .tree()
            .is_some_and(|t| t.validate_session(session_id, password));
        if !valid {
            let _ = tx.send(ClientReply::Expired);
            return;
        }
        // The session moves here: any other connection holding it is closed.
        let others: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.session_id == session_id)
            .map(|(id, _)| *id)
            .collect();
        for other in others {
            if let Some(c) = self.conns.get(&other) {
                c.send(ClientReply::Close("session moved to another connection"));
            }
            self.drop_conn(peer, other);
        }
        let password = session_password(session_id);
        let _ = tx.send(ClientReply::Connected {
            session_id,
            timeout_ms,
            password,
        });
        self.conns.insert(
            conn,
            Conn {
                tx,
                budget,
                session_id,
                timeout_ms,
                auth,
                creating: None,
                queue: VecDeque::new(),
                closing: false,
                watch_paths: Default::default(),
                watch_paths_pruned_at: 0,
                touched_ms: wall_ms(),
            },
        );
        if let Some(t) = peer.machine_mut().tree_mut() {
            let ids = self
                .conns
                .get(&conn)
                .map(|c| c.auth.clone())
                .unwrap_or_default();
            t.set_connection_auth(conn, &ids);
        }
        inputs.push(Input::SessionTouch {
            session_id,
            timeout_ms,
        });
    }

    fn request<M: NodeMachine>(
        &mut self,
        peer: &mut Peer<M>,
        conn: ConnId,
        xid: i32,
        op: ClientOp,
        bytes: usize,
        inputs: &mut Vec<Input<M>>,
    ) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if c.creating.is_some() || c.closing {
            c.budget.request_done(bytes);
            return;
        }
        c.touched_ms = wall_ms();
        c.note_watch(&op);
        let (session_id, timeout_ms, auth) = (c.session_id, c.timeout_ms, c.auth.clone());
        inputs.push(Input::SessionTouch {
            session_id,
            timeout_ms,
        });
        let queued = match op {
            ClientOp::Write(op) => {
                let Some(txn) = M::txn_from_tree(Txn::new(session_id, xid, auth, op)) else {
                    c.budget.request_done(bytes);
                    return;
                };
                // The transaction carries the auth ids: it may be larger than the request.
                // One above jute.maxbuffer is refused here, before it is forwarded or proposed.
                let mut record = Vec::new();
                M::write_txn(&txn, &mut record);
                if record.len() > self.max_buffer_bytes {
                    Queued::Local {
                        xid,
                        bytes,
                        op: ClientOp::Invalid(ErrorCode::BadArguments),
                    }
                } else {
                    let tag = self.tag(conn);
                    inputs.push(Input::ClientWrite { tag, txn });
                    Queued::Write {
                        xid,
                        bytes,
                        tag,
                        done: None,
                    }
                }
            }
            ClientOp::Sync { path } => {
                let tag = self.tag(conn);
                inputs.push(Input::ClientSync { tag });
                Queued::Sync {
                    xid,
                    bytes,
                    tag,
                    path,
                    done: None,
                }
            }
            other => Queued::Local {
                xid,
                bytes,
                op: other,
            },
        };
        if let Some(c) = self.conns.get_mut(&conn) {
            c.queue.push_back(queued);
        }
        self.flush(peer, conn);
        self.maybe_prune_watches(peer, conn);
    }

    /// Sends every answered entry at the head of a connection's queue, executing local
    /// operations (reads, watch management) when they reach the head. While the connection's
    /// queued replies are over its budget (a client that does not read), local operations
    /// wait at the head; the writer's [`ClientEvent::Drained`] resumes them.
    fn flush<M: NodeMachine>(&mut self, peer: &mut Peer<M>, conn: ConnId) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        loop {
            let ready = match c.queue.front() {
                None => break,
                Some(Queued::Write { done, .. }) => done.is_some(),
                Some(Queued::Sync { done, .. }) => done.is_some(),
                Some(Queued::Local { .. }) => !c.budget.over(),
            };
            if !ready {
                break;
            }
            let reply = match c.queue.pop_front().expect("front exists") {
                Queued::Write {
                    xid,
                    bytes,
                    done: Some((zxid, outcome)),
                    ..
                } => {
                    c.budget.request_done(bytes);
                    if matches!(outcome, Ok(WriteResponse::CloseSession)) {
                        c.closing = true;
                    }
                    ClientReply::Reply {
                        xid,
                        zxid: zxid_i64(zxid),
                        body: ReplyBody::Write(outcome),
                    }
                }
                Queued::Sync {
                    xid,
                    bytes,
                    path,
                    done: Some(zxid),
                    ..
                } => {
                    c.budget.request_done(bytes);
                    ClientReply::Reply {
                        xid,
                        zxid: zxid_i64(zxid),
                        body: ReplyBody::Sync(Ok(path)),
                    }
                }
                Queued::Local { xid, bytes, op } => {
                    c.budget.request_done(bytes);
                    let max_reply = self.max_buffer_bytes + limits::REPLY_HEADROOM_BYTES;
                    let body = local_op(peer, conn, c.session_id, &c.auth, op, max_reply);
                    ClientReply::Reply {
                        xid,
                        zxid: zxid_i64(peer.last_processed_zxid()),
                        body,
                    }
                }
                _ => unreachable!("checked ready above"),
            };
            c.send(reply);
        }
        if c.closing && c.queue.is_empty() {
            c.send(ClientReply::Close("session closed"));
            self.drop_conn(peer, conn);
        }
    }

    /// A write of one of our connections committed and was applied here.
    pub fn on_reply<M: NodeMachine>(
        &mut self,
        peer: &mut Peer<M>,
        tag: RequestTag,
        zxid: Zxid,
        outcome: &M::Outcome,
    ) {
        let Some(conn) = self.tags.remove(&tag) else {
            return;
        };
        let Some(outcome) = M::outcome_as_tree(outcome).cloned() else {
            return;
        };
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if c.creating == Some(tag) {
            c.creating = None;
            match outcome {
                Ok(_) => {
                    let (session_id, timeout_ms) = (c.session_id, c.timeout_ms);
                    let password = session_password(session_id);
                    let _ = c.tx.send(ClientReply::Connected {
                        session_id,
                        timeout_ms,
                        password,
                    });
                    let auth = c.auth.clone();
                    if let Some(t) = peer.machine_mut().tree_mut() {
                        t.set_connection_auth(conn, &auth);
                    }
                }
                Err(_) => {
                    let _ =
                        c.tx.send(ClientReply::Close("session could not be created"));
                    self.drop_conn(peer, conn);
                }
            }
            return;
        }
        for q in c.queue.iter_mut() {
            if let Queued::Write { tag: t, done, .. } = q {
                if *t == tag {
                    *done = Some((zxid, outcome));
                    break;
                }
            }
        }
        self.flush(peer, conn);
    }

    /// A `sync` of one of our connections completed.
    pub fn on_sync_done<M: NodeMachine>(
        &mut self,
        peer: &mut Peer<M>,
        tag: RequestTag,
        zxid: Zxid,
    ) {
        let Some(conn) = self.tags.remove(&tag) else {
            return;
        };
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        for q in c.queue.iter_mut() {
            if let Queued::Sync { tag: t, done, .. } = q {
                if *t == tag {
                    *done = Some(zxid);
                    break;
                }
            }
        }
        self.flush(peer, conn);
    }

    /// A request could not complete (this server lost its leader): the client must reconnect,
    /// as with ZooKeeper, where the connection closes when the server stops serving.
    pub fn on_failed<M: NodeMachine>(&mut self, peer: &mut Peer<M>, tag: RequestTag) {
        let Some(conn) = self.tags.remove(&tag) else {
            return;
        };
        if let Some(c) = self.conns.get(&conn) {
            c.send(ClientReply::Close(
                "the request could not complete (no leader)",
            ));
        }
        self.drop_conn(peer, conn);
    }

    /// Routes watch events fired by applied transactions to their connections.
    pub fn dispatch_events(&mut self, events: Vec<(ConnId, WatchedEvent)>) {
        for (conn, ev) in events {
            if let Some(c) = self.conns.get(&conn) {
                c.send(ClientReply::Event(ev));
            }
        }
    }

    /// After every peer step: a server that stopped serving closes its client connections;
    /// a connection whose session was closed or expired is closed.
    pub fn after_step<M: NodeMachine>(&mut self, peer: &mut Peer<M>) {
        if self.conns.is_empty() {
            return;
        }
        if !peer.is_serving() {
            let all: Vec<ConnId> = self.conns.keys().copied().collect();
            for conn in all {
                if let Some(c) = self.conns.get(&conn) {
                    c.send(ClientReply::Close("this server is not serving requests"));
                }
                self.drop_conn(peer, conn);
            }
            return;
        }
        let Some(tree) = peer.machine().tree() else {
            return;
        };
        let sessions = tree.sessions().len();
        if sessions >= self.known_sessions {
            self.known_sessions = sessions;
            return;
        }
        self.known_sessions = sessions;
        let gone: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.creating.is_none() && !tree.sessions().contains_key(&c.session_id))
            .map(|(id, _)| *id)
            .collect();
        for conn in gone {
            if let Some(c) = self.conns.get(&conn) {
                c.send(ClientReply::Close("session expired"));
            }
            self.drop_conn(peer, conn);
        }
    }

    /// Shutdown, as ZooKeeper's `closeAll(SERVER_SHUTDOWN)`: every connection is closed after
    /// the replies already queued on it; the sessions themselves stay in the tree (they are
    /// replicated state), so a client reconnects to another server within its session timeout
    /// and keeps its ephemerals and watches. Returns how many connections were closed.
    pub fn close_all<M: NodeMachine>(&mut self, peer: &mut Peer<M>, why: &'static str) -> usize {
        let ids: Vec<ConnId> = self.conns.keys().copied().collect();
        for conn in &ids {
            if let Some(c) = self.conns.get(conn) {
                c.send(ClientReply::Close(why));
            }
            self.drop_conn(peer, *conn);
        }
        ids.len()
    }

    fn drop_conn<M: NodeMachine>(&mut self, peer: &mut Peer<M>, conn: ConnId) {
        if self.conns.remove(&conn).is_some() {
            self.tags.retain(|_, c| *c != conn);
            if let Some(t) = peer.machine_mut().tree_mut() {
                t.remove_connection(conn);
            }
        }
    }
}
