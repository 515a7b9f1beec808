//! Simulated ZooKeeper clients for runs whose state machine is the data tree
//! ([`crate::tree::DataTree`]): sessions, writes that go through ZAB, reads served by the
//! client's own server, and watch events — what a recipe, a lesson or the browser lab needs
//! to act like a kazoo program against the simulated ensemble.
//!
//! [`ZkClients`] owns the clients. Drive time with [`ZkClients::run_for`] (or call
//! [`ZkClients::pump`] between your own steps): it routes each server's watch events to the
//! client whose connection registered the watch and keeps live sessions touched, so a
//! client that stops (a crash) has its session expire and its ephemerals removed.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::durable::RequestTag;
use crate::sim::{Action, ClientResult, Cluster};
use crate::time::Instant;
use crate::tree::DataTree;
use crate::tree::{
    initial_session_id, negotiate_timeout, next_session_id, session_password, ConnId, ErrorCode,
    Id, ReadRequest, ReadResponse, Txn, WatchedEvent, WriteOp, WriteOutcome, WriteResponse,
};
use crate::zxid::{Sid, Zxid};

mod cnxn;
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
    /// Requests sent and not yet answered (their replies raise `last_zxid`).
    pending: Vec<RequestTag>,
    cxid: i32,
}

/// The clients of a simulated ensemble.
#[derive(Clone, Debug, Default)]
pub struct ZkClients {
    clients: BTreeMap<ClientId, ZkClient>,
    next_client: ClientId,
    next_conn: ConnId,
    last_session: BTreeMap<Sid, i64>,
    last_touch: Instant,
}

/// How long a blocking call waits for the ensemble (virtual ms).
const CALL_LIMIT_MS: u64 = 30_000;

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

    /// Opens a session on `server` (a createSession transaction through ZAB) and waits for it.
    pub fn connect(
        &mut self,
        cluster: &mut ZkCluster,
        server: Sid,
        timeout_ms: i32,
    ) -> Result<ClientId, ErrorCode> {
        let tick = cluster.config().timing.tick_time_ms;
        let timeout_ms = negotiate_timeout(timeout_ms, tick);
        let session_id = match self.last_session.get(&server) {
            Some(prev) => next_session_id(*prev),
            None => initial_session_id(server, cluster.now().as_millis()),
        };
        self.last_session.insert(server, session_id);
        let txn = Txn::new(
            session_id,
            0,
            Vec::new(),
            WriteOp::CreateSession { timeout_ms },
        );
        let tag = cluster
            .act(Action::Write { server, txn })
            .ok_or(ErrorCode::ConnectionLoss)?;
        self.wait(cluster, tag)?;
        self.next_conn += 1;
        self.next_client += 1;
        let id = self.next_client;
        let client = ZkClient {
            server,
            session_id,
            timeout_ms,
            conn: self.next_conn,
            auth: Vec::new(),
            alive: true,
            events: Vec::new(),
            last_zxid: Zxid::ZERO,
            cnxn: None,
            pending: Vec::new(),
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

    /// Adds identities to the client's connection (an `auth` packet, e.g. `digest` ids).
    pub fn add_auth(&mut self, id: ClientId, ids: &[Id]) {
        if let Some(c) = self.clients.get_mut(&id) {
            for i in ids {
                if !c.auth.contains(i) {
                    c.auth.push(i.clone());
                }
            }
        }
    }

    /// Whether the client can send now: alive and, with a connect string, connected.
    fn can_send(c: &ZkClient) -> bool {
        c.alive
            && c.cnxn
                .as_ref()
                .is_none_or(|x| x.state == CnxnState::Connected)
    }

    /// Sends a `sync` through the client's server without waiting: when it is answered, the
    /// server has applied every transaction the leader committed before the sync.
    pub fn sync(&mut self, cluster: &mut ZkCluster, id: ClientId) -> Option<RequestTag> {
        let c = self.clients.get(&id)?;
        if !Self::can_send(c) {
            return None;
        }
        let server = c.server;
        let tag = cluster.act(Action::Sync { server })?;
        let now = cluster.now();
        if let Some(c) = self.clients.get_mut(&id) {
            c.pending.push(tag);
            if let Some(x) = c.cnxn.as_mut() {
                x.exchanged(now);
            }
        }
        Some(tag)
    }

    /// Sends a write and returns its request tag without waiting.
    pub fn submit(
        &mut self,
        cluster: &mut ZkCluster,
        id: ClientId,
        op: WriteOp,
    ) -> Option<RequestTag> {
        let c = self.clients.get_mut(&id)?;
        if !Self::can_send(c) {
            return None;
        }
        c.cxid += 1;
        let txn = Txn::new(c.session_id, c.cxid, c.auth.clone(), op);
        let server = c.server;
        let tag = cluster.act(Action::Write { server, txn })?;
        let now = cluster.now();
        if let Some(c) = self.clients.get_mut(&id) {
            c.pending.push(tag);
            if let Some(x) = c.cnxn.as_mut() {
                x.exchanged(now);
            }
        }
        Some(tag)
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

    /// A read served by the client's server (registering a watch if asked).
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
        let (server, conn, session, auth) = (c.server, c.conn, c.session_id, c.auth.clone());
        let now = cluster.now();
        let peer = cluster.peer_mut(server).ok_or(ErrorCode::ConnectionLoss)?;
        if !peer.is_serving() {
            return Err(ErrorCode::ConnectionLoss);
        }
        // A read's reply carries the server's last processed zxid.
        let seen = peer.last_processed_zxid();
        let r = peer.machine_mut().read(conn, session, &auth, req);
        if let Some(c) = self.clients.get_mut(&id) {
            c.last_zxid = c.last_zxid.max(seen);
            if let Some(x) = c.cnxn.as_mut() {
                x.exchanged(now);
            }
        }
        r
    }

    /// The client process dies: it stops touching its session, which the leader expires.
    pub fn crash(&mut self, cluster: &mut ZkCluster, id: ClientId) {
        if let Some(c) = self.clients.get_mut(&id) {
            c.alive = false;
            let (server, conn) = (c.server, c.conn);
            if let Some(p) = cluster.peer_mut(server) {
                p.machine_mut().remove_connection(conn);
            }
        }
    }

    /// Closes the session (a closeSession transaction removes its ephemerals everywhere).
    pub fn close(&mut self, cluster: &mut ZkCluster, id: ClientId) -> WriteOutcome {
        let out = self.write(cluster, id, WriteOp::CloseSession);
        self.crash(cluster, id);
        out
    }

    /// Moves the session to another server (its id and password are checked there); its
    /// watches stay behind, as a real client's would until it sends setWatches.
    pub fn move_to(
        &mut self,
        cluster: &mut ZkCluster,
        id: ClientId,
        server: Sid,
    ) -> Result<(), ErrorCode> {
        let c = self.clients.get(&id).ok_or(ErrorCode::ConnectionLoss)?;
        let password = session_password(c.session_id);
        let peer = cluster.peer(server).ok_or(ErrorCode::ConnectionLoss)?;
        if !peer.is_serving() {
            return Err(ErrorCode::ConnectionLoss);
        }
        if peer.last_processed_zxid() < c.last_zxid {
            // ZooKeeperServer refuses a session whose client has seen a later zxid.
            return Err(ErrorCode::ConnectionLoss);
        }
        if !peer.machine().validate_session(c.session_id, &password) {
            return Err(ErrorCode::SessionExpired);
        }
        let old = (c.server, c.conn);
        if let Some(p) = cluster.peer_mut(old.0) {
            p.machine_mut().remove_connection(old.1);
        }
        self.next_conn += 1;
        let conn = self.next_conn;
        let c = self.clients.get_mut(&id).expect("checked above");
        c.server = server;
        c.conn = conn;
        self.touch(cluster, id);
        Ok(())
    }

    /// Watch events the client received since the last call.
    pub fn take_events(&mut self, id: ClientId) -> Vec<WatchedEvent> {
        self.clients
            .get_mut(&id)
            .map(|c| core::mem::take(&mut c.events))
            .unwrap_or_default()
    }

    fn touch(&mut self, cluster: &mut ZkCluster, id: ClientId) {
        if let Some(c) = self.clients.get(&id) {
            if Self::can_send(c) {
                cluster.touch_session(c.server, c.session_id, c.timeout_ms);
            }
        }
    }

    /// Routes watch events to their clients and, once per tick, touches every live session.
    pub fn pump(&mut self, cluster: &mut ZkCluster) {
        let servers: Vec<Sid> = cluster.nodes().keys().copied().collect();
        for server in servers {
            let Some(peer) = cluster.peer_mut(server) else {
                continue;
            };
            for (conn, event) in peer.machine_mut().take_watch_events() {
                if let Some(c) = self
                    .clients
                    .values_mut()
                    .find(|c| c.conn == conn && c.server == server)
                {
                    c.events.push(event);
                }
            }
        }
        for c in self.clients.values_mut() {
            let mut seen = c.last_zxid;
            c.pending.retain(|tag| match cluster.request(*tag) {
                Some(ClientResult::Replied { zxid, .. }) | Some(ClientResult::Synced { zxid }) => {
                    seen = seen.max(*zxid);
                    false
                }
                Some(ClientResult::Pending) => true,
                _ => false,
            });
            c.last_zxid = seen;
        }
        self.tick_connections(cluster);
        let tick = cluster.config().timing.tick_time_ms;
        if cluster.now().saturating_sub(self.last_touch) >= tick {
            self.last_touch = cluster.now();
            // Clients with a connect string touch their session with their pings instead.
            let ids: Vec<ClientId> = self
                .clients
                .iter()
                .filter(|(_, c)| c.cnxn.is_none())
                .map(|(id, _)| *id)
                .collect();
            for id in ids {
                self.touch(cluster, id);
            }
        }
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
