//! Client sessions on the peer task: the node's host of the core's session layer
//! ([`zablab_core::session::ClientSessions`], which orders replies per session, serves local
//! reads, syncs, routes watch events, touches sessions and closes connections when the
//! server stops serving). This adapter only moves its replies into each connection's channel
//! and keeps the byte budgets ([`limits`]): the connection tasks (client port) decode bytes
//! into [`ClientEvent`]s and encode the [`ClientReply`]s they get back.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::mpsc::UnboundedSender;
use zablab_core::peer::{Input, Output, Peer};
use zablab_core::session::{
    reply_bytes, ClientSessions, ConnectRequest, FiredEvents, SessionHost, SessionLimits,
};
use zablab_core::time::Instant;
use zablab_core::tree::{AuthConfig, Id, WatchedEvent};

use crate::codec::machine::NodeMachine;

pub mod limits;
mod types;

pub use limits::ReplyBudget;
pub use types::ClientEvent;
pub use zablab_core::session::{
    expiry_bucket, ClientOp, ClientReply, Inspection, ReadOnlyChange, ReplyBody,
};
pub use zablab_core::tree::ConnId;

/// Where one connection's replies go, and its budget.
struct Link {
    tx: UnboundedSender<ClientReply>,
    budget: Arc<ReplyBudget>,
}

/// The connections' channels as the session layer's host: every reply is counted against its
/// connection's budget; a closed connection's channel is dropped after its last reply.
struct Links<'a>(&'a mut HashMap<ConnId, Link>);

impl SessionHost for Links<'_> {
    fn send(&mut self, conn: ConnId, reply: ClientReply) {
        let last = matches!(reply, ClientReply::Close(_) | ClientReply::Expired);
        if let Some(l) = self.0.get(&conn) {
            l.budget.queued(reply_bytes(&reply));
            let _ = l.tx.send(reply);
        }
        if last {
            self.0.remove(&conn);
        }
    }

    fn request_done(&mut self, conn: ConnId, bytes: usize) {
        if let Some(l) = self.0.get(&conn) {
            l.budget.request_done(bytes);
        }
    }

    fn held(&self, conn: ConnId) -> bool {
        self.0.get(&conn).is_some_and(|l| l.budget.over())
    }
}

/// The encoded size of a request record (as a REQUEST packet carries it, auth ids
/// included), for the layer's `jute.maxbuffer` check.
fn txn_bytes<M: NodeMachine>(request: &M::Request) -> usize {
    let mut record = Vec::new();
    M::write_request(request, &mut record);
    record.len()
}

/// The sessions of this server's client connections.
pub struct Sessions<M: NodeMachine> {
    layer: ClientSessions<M>,
    links: HashMap<ConnId, Link>,
    /// No `server.N` lines: ZooKeeper's standalone server, which cannot reconfigure.
    standalone: bool,
}

impl<M: NodeMachine> Sessions<M> {
    /// Sessions of a server with this `jute.maxbuffer`, authentication settings,
    /// `readonlymode.enabled`, and whether it runs standalone.
    pub fn new(
        max_buffer_bytes: usize,
        auth_config: AuthConfig,
        read_only_mode: bool,
        standalone: bool,
    ) -> Sessions<M> {
        let limits = SessionLimits {
            max_buffer_bytes,
            txn_bytes: txn_bytes::<M>,
        };
        let mut layer = ClientSessions::new(limits, auth_config);
        layer.set_read_only_mode(read_only_mode);
        Sessions {
            layer,
            links: HashMap::new(),
            standalone,
        }
    }

    /// Number of open client connections.
    pub fn len(&self) -> usize {
        self.layer.len()
    }

    pub fn is_empty(&self) -> bool {
        self.layer.is_empty()
    }

    /// Handles one event from a connection task. Returns the inputs to feed the peer
    /// (writes, syncs, session touches), in order.
    pub fn on_event(&mut self, ev: ClientEvent, peer: &mut Peer<M>, now: Instant) -> Vec<Input<M>> {
        let layer = &mut self.layer;
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
                read_only,
            } => {
                self.links.insert(conn, Link { tx, budget });
                let req = ConnectRequest {
                    last_zxid_seen,
                    timeout_ms,
                    session_id,
                    password,
                    auth: vec![Id::new("ip", &remote_ip.to_string())],
                    read_only,
                };
                layer.connect(peer, &mut Links(&mut self.links), now, conn, req)
            }
            ClientEvent::Request {
                conn,
                xid,
                mut op,
                bytes,
            } => {
                // ZooKeeper's standalone server answers a reconfig Unimplemented, after the
                // reconfigEnabled check (its ZooKeeperServer is no LeaderZooKeeperServer).
                if self.standalone && matches!(op, ClientOp::Reconfig(_)) {
                    op = ClientOp::Reconfig(Err(zablab_core::tree::ErrorCode::Unimplemented));
                }
                layer.request(peer, &mut Links(&mut self.links), now, conn, xid, op, bytes)
            }
            ClientEvent::Auth {
                conn,
                xid,
                scheme,
                auth,
            } => {
                layer.auth(peer, &mut Links(&mut self.links), conn, xid, &scheme, &auth);
                Vec::new()
            }
            ClientEvent::Ping { conn } => layer.ping(peer, &mut Links(&mut self.links), now, conn),
            ClientEvent::Drained { conn } => {
                layer.drained(peer, &mut Links(&mut self.links), conn);
                Vec::new()
            }
            ClientEvent::Inspect { reply } => {
                let _ = reply.send(layer.inspect(peer));
                Vec::new()
            }
            ClientEvent::Gone { conn } => {
                layer.gone(peer, conn);
                self.links.remove(&conn);
                Vec::new()
            }
        }
    }

    /// A peer output for the clients (`Reply`, `SyncDone`, `RequestFailed`); false for the
    /// others.
    pub fn on_output(&mut self, peer: &mut Peer<M>, output: &Output<M>) -> bool {
        self.layer
            .on_output(peer, &mut Links(&mut self.links), output)
    }

    /// The watch events the last peer step fired, released in zxid order with its replies.
    pub fn take_fired(&self, peer: &mut Peer<M>) -> FiredEvents {
        self.layer.take_fired(peer)
    }

    /// Routes watch events to their connections.
    pub fn dispatch_events(&mut self, events: Vec<(ConnId, WatchedEvent)>) {
        self.layer
            .dispatch_events(&mut Links(&mut self.links), events)
    }

    /// After every peer step: closes every connection of a server that stopped serving and
    /// the connections whose session expired.
    pub fn after_step(&mut self, peer: &mut Peer<M>) {
        self.layer.after_step(peer, &mut Links(&mut self.links))
    }

    /// Starts or stops the read-only server (`readonlymode.enabled`) as the peer's state and
    /// the time say; see [`ClientSessions::read_only_step`].
    pub fn read_only_step(&mut self, peer: &mut Peer<M>, now: Instant) -> Option<ReadOnlyChange> {
        self.layer
            .read_only_step(peer, &mut Links(&mut self.links), now)
    }

    /// When [`Sessions::read_only_step`] must run next, if before the peer's own deadline.
    pub fn read_only_deadline(&self, peer: &Peer<M>) -> Option<Instant> {
        self.layer.read_only_deadline(peer)
    }

    /// True while the read-only server runs.
    pub fn is_read_only(&self) -> bool {
        self.layer.is_read_only()
    }

    /// Shutdown, as ZooKeeper's `closeAll(SERVER_SHUTDOWN)`: every connection is closed after
    /// the replies already queued on it; the sessions stay in the tree. Returns how many
    /// connections were closed.
    pub fn close_all(&mut self, peer: &mut Peer<M>, why: &'static str) -> usize {
        self.layer.close_all(peer, &mut Links(&mut self.links), why)
    }
}
