//! Simulated ZooKeeper clients for runs whose state machine is the data tree
//! ([`crate::tree::DataTree`]): sessions, writes that go through ZAB, reads served by the
//! client's own server, and watch events — what a recipe, a lesson or the browser lab needs
//! to act like a kazoo program against the simulated ensemble.
//!
//! [`ZkClients`] owns the clients and, for every server, that server's side of their
//! sessions: the same [`ClientSessions`] layer the native node runs (request order per
//! session, reads behind the session's earlier writes, sync, watch routing, session touches,
//! closing connections when the server stops serving). This module is only the host: it
//! turns the layer's peer inputs into cluster actions and the cluster's request results back
//! into the layer's events. Drive time with [`ZkClients::run_for`] (or call
//! [`ZkClients::pump`] between your own steps): it delivers each server's replies and watch
//! events and keeps live sessions touched (a ping per tick), so a client that stops (a crash)
//! has its session expire and its ephemerals removed.
//!
//! A client without a connect string stays on its server: when the server closes its
//! connection (it stopped serving, or a request could not complete), the client connects
//! again to the same server with its session as soon as that server serves, as ClientCnxn
//! would with a one-server connect string, and sends its watches again (`setWatches`).

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use crate::durable::RequestTag;
use crate::peer::Input;
use crate::session::{
    ClientOp, ClientReply, ClientSessions, ConnectRequest, ReplyBody, SessionLimits,
};
use crate::sim::{Action, ClientResult, Cluster};
use crate::time::Instant;
use crate::tree::DataTree;
use crate::tree::{
    session_password, AuthConfig, ConnId, ErrorCode, Id, ReadRequest, ReadResponse, SetWatches,
    WatchedEvent, WriteOp, WriteOutcome, WriteResponse,
};
use crate::zxid::{Sid, Zxid};

mod cnxn;
mod host;
pub use cnxn::{Cnxn, CnxnLogEntry, CnxnState};

/// A cluster replicating the ZooKeeper data tree.
pub type ZkCluster = Cluster<DataTree>;

/// Names a simulated client.
pub type ClientId = u32;

/// One simulated ZooKeeper client.
#[derive(Clone, Debug)]
pub struct ZkClient {
    /// The server it is connected to.
    pub server: Sid,
    pub session_id: i64,
    pub timeout_ms: i32,
    /// Its connection id on that server (watches belong to the connection).
    pub conn: ConnId,
    /// The ids it authenticated with; sent again on every connection, as ClientCnxn does.
    pub auth: Vec<Id>,
    /// False once crashed or closed: it no longer touches its session.
    pub alive: bool,
    /// Watch events delivered to it, oldest first.
    pub events: Vec<WatchedEvent>,
    /// The largest zxid its replies carried (`lastZxid`): a server behind it refuses the
    /// session, so a client never goes back in time by moving.
    pub last_zxid: Zxid,
    /// The client-side connection, for a client given a connect string (see [`Cnxn`]).
    pub cnxn: Option<Cnxn>,
    /// False after its server closed the connection, until it is connected again.
    pub attached: bool,
    /// Why the server closed the connection last.
    closed_why: Option<&'static str>,
    /// The watches it holds (ClientCnxn's watch manager), sent again with `setWatches`.
    watches: SetWatches,
    /// The read it waits for (its xid) and, once answered, the answer.
    awaiting: Option<(i32, Option<ReplyBody>)>,
    cxid: i32,
}

/// One server's side of the clients' sessions, and the requests its layer sent into the
/// cluster: the cluster's tag → the layer's tag.
#[derive(Clone, Debug)]
struct ServerSide {
    layer: ClientSessions<DataTree>,
    sent: BTreeMap<RequestTag, RequestTag>,
}

impl ServerSide {
    fn new() -> ServerSide {
        let limits = SessionLimits {
            max_buffer_bytes: usize::MAX,
            txn_bytes: |_| 0,
        };
        ServerSide {
            layer: ClientSessions::new(limits, AuthConfig::default()),
            sent: BTreeMap::new(),
        }
    }
}

/// The clients of a simulated ensemble.
#[derive(Clone, Debug, Default)]
pub struct ZkClients {
    clients: BTreeMap<ClientId, ZkClient>,
    next_client: ClientId,
    next_conn: ConnId,
    servers: BTreeMap<Sid, ServerSide>,
    last_touch: Instant,
    /// The connection a blocking connect waits on, and the replies it got so far.
    connecting: Option<(Sid, ConnId, Vec<ClientReply>)>,
}

/// How long a blocking call waits for the ensemble (virtual ms).
const CALL_LIMIT_MS: u64 = 30_000;

/// What a connection attempt through the server's session layer gave.
pub(crate) enum Connected {
    Yes(i32),
    Closed,
    Expired,
}

impl ZkClients {
    pub fn new() -> ZkClients {
        ZkClients::default()
    }

    pub fn get(&self, id: ClientId) -> Option<&ZkClient> {
        self.clients.get(&id)
    }

    pub fn iter(&self) -> impl Iterator<Item = (ClientId, &ZkClient)> {
        self.clients.iter().map(|(id, c)| (*id, c))
    }

    /// Feeds the layer's peer inputs to the cluster; the cluster tag of the last request.
    fn execute(
        &mut self,
        cluster: &mut ZkCluster,
        server: Sid,
        inputs: Vec<Input<DataTree>>,
    ) -> Option<RequestTag> {
        let mut last = None;
        for input in inputs {
            let (action, layer_tag) = match input {
                Input::ClientWrite { tag, request } => (
                    Action::Write {
                        server,
                        txn: request,
                    },
                    tag,
                ),
                Input::ClientSync { tag } => (Action::Sync { server }, tag),
                Input::SessionTouch {
                    session_id,
                    timeout_ms,
                } => {
                    cluster.touch_session(server, session_id, timeout_ms);
                    continue;
                }
                _ => continue,
            };
            if let Some(tag) = cluster.act(action) {
                self.servers
                    .entry(server)
                    .or_insert_with(ServerSide::new)
                    .sent
                    .insert(tag, layer_tag);
                last = Some(tag);
            }
        }
        last
    }

    /// A ConnectRequest for `conn` on `server`, answered (a new session waits for its
    /// createSession to commit, bounded).
    fn connect_conn(
        &mut self,
        cluster: &mut ZkCluster,
        server: Sid,
        conn: ConnId,
        req: ConnectRequest,
    ) -> Connected {
        let now = cluster.now();
        let Some(peer) = cluster.peer_mut(server) else {
            return Connected::Closed;
        };
        let side = self.servers.entry(server).or_insert_with(ServerSide::new);
        let mut out = Vec::new();
        let inputs = side.layer.connect(peer, &mut out, now, conn, req);
        self.execute(cluster, server, inputs);
        let limit = cluster.now() + CALL_LIMIT_MS;
        let mut got: Vec<ClientReply> = out
            .into_iter()
            .filter(|(c, _)| *c == conn)
            .map(|(_, r)| r)
            .collect();
        loop {
            for reply in got.drain(..) {
                match reply {
                    ClientReply::Connected { timeout_ms, .. } => return Connected::Yes(timeout_ms),
                    ClientReply::Close(_) => return Connected::Closed,
                    ClientReply::Expired => return Connected::Expired,
                    _ => {}
                }
            }
            if cluster.now() >= limit {
                if let (Some(p), Some(side)) =
                    (cluster.peer_mut(server), self.servers.get_mut(&server))
                {
                    side.layer.gone(p, conn);
                }
                return Connected::Closed;
            }
            let until = (cluster.now() + 10).min(limit);
            self.connecting = Some((server, conn, Vec::new()));
            self.run_until(cluster, until);
            got = self
                .connecting
                .take()
                .map(|(_, _, v)| v)
                .unwrap_or_default();
        }
    }

    /// Opens a session on `server` (a createSession transaction through ZAB) and waits for it.
    pub fn connect(
        &mut self,
        cluster: &mut ZkCluster,
        server: Sid,
        timeout_ms: i32,
    ) -> Result<ClientId, ErrorCode> {
        self.next_conn += 1;
        let conn = self.next_conn;
        let req = ConnectRequest {
            last_zxid_seen: 0,
            timeout_ms,
            session_id: 0,
            password: Vec::new(),
            auth: Vec::new(),
            read_only: false,
        };
        let timeout_ms = match self.connect_conn(cluster, server, conn, req) {
            Connected::Yes(t) => t,
            Connected::Expired => return Err(ErrorCode::SessionExpired),
            Connected::Closed => return Err(ErrorCode::ConnectionLoss),
        };
        let session_id = self
            .servers
            .get(&server)
            .and_then(|s| s.layer.session_of(conn))
            .ok_or(ErrorCode::ConnectionLoss)?;
        self.next_client += 1;
        let id = self.next_client;
        let client = ZkClient {
            server,
            session_id,
            timeout_ms,
            conn,
            auth: Vec::new(),
            alive: true,
            events: Vec::new(),
            last_zxid: Zxid::ZERO,
            cnxn: None,
            attached: true,
            closed_why: None,
            watches: SetWatches::default(),
            awaiting: None,
            cxid: 0,
        };
        self.clients.insert(id, client);
        self.touch(cluster, id);
        Ok(id)
    }
    /// Opens a session on `server` like [`ZkClients::connect`], for a client whose connect
    /// string is `hosts`: from then on the client runs ClientCnxn's timers (pings, readTimeout,
    /// connectTimeout) and moves to the next server of `hosts` when its connection is lost.
    pub fn connect_with_hosts(
        &mut self,
        cluster: &mut ZkCluster,
        server: Sid,
        hosts: Vec<Sid>,
        timeout_ms: i32,
    ) -> Result<ClientId, ErrorCode> {
        let id = self.connect(cluster, server, timeout_ms)?;
        let now = cluster.now();
        if let Some(c) = self.clients.get_mut(&id) {
            c.last_zxid = cluster
                .peer(server)
                .map_or(Zxid::ZERO, |p| p.last_processed_zxid());
            c.cnxn = Some(Cnxn::new(hosts, server, c.timeout_ms, now));
        }
        Ok(id)
    }

    /// Adds identities to the client (an `auth` packet, e.g. `digest` ids): its server's
    /// session layer adds them to the connection, and the client sends them again whenever
    /// it connects.
    pub fn add_auth(&mut self, cluster: &mut ZkCluster, id: ClientId, ids: &[Id]) {
        let Some(c) = self.clients.get_mut(&id) else {
            return;
        };
        for i in ids {
            if !c.auth.contains(i) {
                c.auth.push(i.clone());
            }
        }
        let (server, conn) = (c.server, c.conn);
        if let (Some(side), Some(peer)) = (self.servers.get_mut(&server), cluster.peer_mut(server))
        {
            // Past the layer's limits the server would close the connection; lessons stay
            // far below them.
            let _ = side.layer.grant(peer, conn, ids);
        }
    }

    /// Whether the client can send now: alive, connected and, with a connect string, in
    /// the Connected state.
    fn can_send(c: &ZkClient) -> bool {
        c.alive
            && c.attached
            && c.cnxn
                .as_ref()
                .is_none_or(|x| x.state == CnxnState::Connected)
    }

    /// Sends one request of client `id` through its server's session layer; the cluster tag
    /// of the write or sync it became, and the request's xid.
    fn send(
        &mut self,
        cluster: &mut ZkCluster,
        id: ClientId,
        op: ClientOp,
    ) -> Option<(Option<RequestTag>, i32)> {
        let c = self.clients.get_mut(&id)?;
        if !Self::can_send(c) {
            return None;
        }
        c.cxid += 1;
        let (xid, server, conn) = (c.cxid, c.server, c.conn);
        if matches!(op, ClientOp::Read(_)) {
            c.awaiting = Some((xid, None));
        }
        let now = cluster.now();
        let peer = cluster.peer_mut(server)?;
        let side = self.servers.entry(server).or_insert_with(ServerSide::new);
        let mut out = Vec::new();
        let inputs = side.layer.request(peer, &mut out, now, conn, xid, op, 0);
        let tag = self.execute(cluster, server, inputs);
        self.route(server, out);
        if let Some(x) = self.clients.get_mut(&id).and_then(|c| c.cnxn.as_mut()) {
            x.exchanged(now);
        }
        Some((tag, xid))
    }

    /// Sends a `sync` through the client's server without waiting: when it is answered, the
    /// server has applied every transaction the leader committed before the sync.
    pub fn sync(&mut self, cluster: &mut ZkCluster, id: ClientId) -> Option<RequestTag> {
        let op = ClientOp::Sync {
            path: String::from("/"),
        };
        self.send(cluster, id, op)?.0
    }

    /// Sends a write and returns its request tag without waiting.
    pub fn submit(
        &mut self,
        cluster: &mut ZkCluster,
        id: ClientId,
        op: WriteOp,
    ) -> Option<RequestTag> {
        self.send(cluster, id, ClientOp::Write(op))?.0
    }

    /// Sends a write and waits for its outcome (`ConnectionLoss` if it could not complete).
    pub fn write(&mut self, cluster: &mut ZkCluster, id: ClientId, op: WriteOp) -> WriteOutcome {
        let tag = self
            .submit(cluster, id, op)
            .ok_or(ErrorCode::ConnectionLoss)?;
        self.wait(cluster, tag)
    }

    fn wait(&mut self, cluster: &mut ZkCluster, tag: RequestTag) -> WriteOutcome {
        let limit = cluster.now() + CALL_LIMIT_MS;
        loop {
            match cluster.request(tag) {
                Some(ClientResult::Replied { outcome, .. }) => return outcome.clone(),
                Some(ClientResult::Pending) if cluster.now() < limit => {
                    let until = (cluster.now() + 10).min(limit);
                    self.run_until(cluster, until);
                }
                _ => return Err(ErrorCode::ConnectionLoss),
            }
        }
    }

    /// A read served by the client's server (registering a watch if asked). As on a real
    /// server it is answered after the client's earlier requests: a read sent behind a write
    /// not yet answered waits for it (bounded), so it sees the write.
    pub fn read(
        &mut self,
        cluster: &mut ZkCluster,
        id: ClientId,
        req: &ReadRequest,
    ) -> Result<ReadResponse, ErrorCode> {
        let c = self.clients.get(&id).ok_or(ErrorCode::ConnectionLoss)?;
        if !c.alive {
            return Err(ErrorCode::SessionExpired);
        }
        if !Self::can_send(c) {
            return Err(ErrorCode::ConnectionLoss);
        }
        let server = c.server;
        if !cluster.peer(server).is_some_and(|p| p.is_serving()) {
            return Err(ErrorCode::ConnectionLoss);
        }
        let (_, xid) = self
            .send(cluster, id, ClientOp::Read(req.clone()))
            .ok_or(ErrorCode::ConnectionLoss)?;
        let limit = cluster.now() + CALL_LIMIT_MS;
        loop {
            let c = self.clients.get_mut(&id).ok_or(ErrorCode::ConnectionLoss)?;
            if let Some((x, Some(_))) = &c.awaiting {
                if *x == xid {
                    let Some((_, Some(body))) = c.awaiting.take() else {
                        return Err(ErrorCode::ConnectionLoss);
                    };
                    let ReplyBody::Read(r) = body else {
                        return Err(ErrorCode::SystemError);
                    };
                    c.note_watch(req, &r);
                    return r;
                }
            }
            if !c.attached || cluster.now() >= limit {
                c.awaiting = None;
                return Err(ErrorCode::ConnectionLoss);
            }
            let until = (cluster.now() + 10).min(limit);
            self.run_until(cluster, until);
        }
    }

    /// The client process dies: it stops touching its session, which the leader expires.
    pub fn crash(&mut self, cluster: &mut ZkCluster, id: ClientId) {
        if let Some(c) = self.clients.get_mut(&id) {
            c.alive = false;
            let (server, conn) = (c.server, c.conn);
            if let (Some(side), Some(p)) = (self.servers.get_mut(&server), cluster.peer_mut(server))
            {
                side.layer.gone(p, conn);
            }
        }
    }

    /// The client's connection breaks (the server closed it, e.g. on a frame above
    /// `jute.maxbuffer`): a client with a connect string moves on, one without connects
    /// again to its server.
    pub fn connection_lost(&mut self, cluster: &mut ZkCluster, id: ClientId, why: &'static str) {
        let Some(c) = self.clients.get_mut(&id) else {
            return;
        };
        let (server, conn) = (c.server, c.conn);
        c.attached = false;
        c.closed_why = Some(why);
        if let (Some(side), Some(p)) = (self.servers.get_mut(&server), cluster.peer_mut(server)) {
            side.layer.gone(p, conn);
        }
    }

    /// Closes the session (a closeSession transaction removes its ephemerals everywhere).
    pub fn close(&mut self, cluster: &mut ZkCluster, id: ClientId) -> WriteOutcome {
        let out = self.write(cluster, id, WriteOp::CloseSession);
        self.crash(cluster, id);
        out
    }

    /// A ConnectRequest of client `id`'s session on `server` through a new connection.
    fn reconnect(&mut self, cluster: &mut ZkCluster, id: ClientId, server: Sid) -> Connected {
        let Some(c) = self.clients.get(&id) else {
            return Connected::Closed;
        };
        let req = ConnectRequest {
            last_zxid_seen: c.last_zxid.0 as i64,
            timeout_ms: c.timeout_ms,
            session_id: c.session_id,
            password: session_password(c.session_id).to_vec(),
            auth: c.auth.clone(),
            read_only: false,
        };
        let old = (c.server, c.conn);
        self.next_conn += 1;
        let conn = self.next_conn;
        let answer = self.connect_conn(cluster, server, conn, req);
        if let Connected::Yes(_) = answer {
            if let (Some(side), Some(p)) = (self.servers.get_mut(&old.0), cluster.peer_mut(old.0)) {
                side.layer.gone(p, old.1);
            }
            if let Some(c) = self.clients.get_mut(&id) {
                c.server = server;
                c.conn = conn;
                c.attached = true;
                c.closed_why = None;
            }
        }
        answer
    }

    /// Moves the session to another server (its id and password are checked there); its
    /// watches stay behind, as a real client's would until it sends setWatches.
    pub fn move_to(
        &mut self,
        cluster: &mut ZkCluster,
        id: ClientId,
        server: Sid,
    ) -> Result<(), ErrorCode> {
        if !self.clients.contains_key(&id) {
            return Err(ErrorCode::ConnectionLoss);
        }
        match self.reconnect(cluster, id, server) {
            Connected::Yes(_) => Ok(()),
            Connected::Expired => Err(ErrorCode::SessionExpired),
            Connected::Closed => Err(ErrorCode::ConnectionLoss),
        }
    }

    /// Watch events the client received since the last call.
    pub fn take_events(&mut self, id: ClientId) -> Vec<WatchedEvent> {
        self.clients
            .get_mut(&id)
            .map(|c| core::mem::take(&mut c.events))
            .unwrap_or_default()
    }

    /// A ping from client `id`: its server's layer answers it and touches the session.
    fn touch(&mut self, cluster: &mut ZkCluster, id: ClientId) {
        let Some(c) = self.clients.get(&id) else {
            return;
        };
        if !Self::can_send(c) {
            return;
        }
        let (server, conn) = (c.server, c.conn);
        let now = cluster.now();
        let (Some(side), Some(peer)) = (self.servers.get_mut(&server), cluster.peer_mut(server))
        else {
            return;
        };
        let mut out = Vec::new();
        let inputs = side.layer.ping(peer, &mut out, now, conn);
        self.execute(cluster, server, inputs);
        self.route(server, out);
    }

    /// The next time anything happens: the ensemble's next event or a client's timer.
    pub fn next_time(&self, cluster: &ZkCluster) -> Option<Instant> {
        match (cluster.next_event_time(), self.next_deadline(cluster)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Runs the cluster to `until`, pumping events and touches along the way.
    pub fn run_until(&mut self, cluster: &mut ZkCluster, until: Instant) {
        while let Some(t) = self.next_time(cluster) {
            if t > until {
                break;
            }
            if cluster.next_event_time() == Some(t) {
                cluster.step();
            } else {
                cluster.run_until(t);
            }
            self.pump(cluster);
        }
        cluster.run_until(until);
        self.pump(cluster);
    }

    pub fn run_for(&mut self, cluster: &mut ZkCluster, ms: u64) {
        let until = cluster.now() + ms;
        self.run_until(cluster, until);
    }
}

/// The created path of a successful create, if that is what `outcome` holds.
pub fn created_path(outcome: &WriteOutcome) -> Option<&str> {
    match outcome {
        Ok(WriteResponse::Create { path }) | Ok(WriteResponse::Create2 { path, .. }) => Some(path),
        _ => None,
    }
}
