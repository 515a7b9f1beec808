//! The simulator's clients as the host of each server's session layer: what the layers send
//! goes to the clients ([`ZkClients::route`]), and [`ZkClients::pump`] feeds the cluster's
//! request results and watch events into the layers after every step.

use alloc::string::String;
use alloc::vec::Vec;

use crate::durable::RequestTag;
use crate::session::{ClientOp, ClientReply};
use crate::sim::ClientResult;
use crate::tree::{ConnId, ErrorCode, ReadRequest, ReadResponse, SetWatches, WatchedEvent};
use crate::zxid::{Sid, Zxid};

use super::{cnxn, ClientId, Connected, ServerSide, ZkClient, ZkClients, ZkCluster};

impl ZkClients {
    /// Delivers what a server's layer sent to its connections: replies raise the client's
    /// `lastZxid` (pings do not, as in ClientCnxn), events go to the client, a close detaches it.
    pub(super) fn route(&mut self, server: Sid, out: Vec<(ConnId, ClientReply)>) {
        for (conn, reply) in out {
            if let Some((s, c, got)) = &mut self.connecting {
                if *s == server && *c == conn {
                    got.push(reply);
                    continue;
                }
            }
            let Some(c) = self
                .clients
                .values_mut()
                .find(|c| c.attached && c.server == server && c.conn == conn)
            else {
                continue;
            };
            match reply {
                ClientReply::Reply { xid: -2, .. } => {}
                ClientReply::Reply { xid, zxid, body } => {
                    if zxid > 0 {
                        c.last_zxid = c.last_zxid.max(Zxid(zxid as u64));
                    }
                    if let Some((x, answer)) = &mut c.awaiting {
                        if *x == xid {
                            *answer = Some(body);
                        }
                    }
                }
                ClientReply::Event(ev) => {
                    c.forget_watch(&ev);
                    c.events.push(ev);
                }
                ClientReply::Close(why) => {
                    c.attached = false;
                    c.closed_why = Some(why);
                    if why == "session expired" && c.cnxn.is_none() {
                        c.alive = false;
                    }
                }
                ClientReply::Connected { .. } | ClientReply::Expired => {}
            }
        }
    }

    /// Routes watch events and request results to their clients through each server's
    /// session layer, reconnects clients without a connect string whose server closed their
    /// connection, runs the connection timers and, once per tick, touches every live session.
    pub fn pump(&mut self, cluster: &mut ZkCluster) {
        let now = cluster.now();
        let servers: Vec<Sid> = cluster.nodes().keys().copied().collect();
        for server in servers {
            let paused = cluster
                .nodes()
                .get(&server)
                .is_some_and(|n| n.paused_until > now);
            let side = self.servers.entry(server).or_insert_with(ServerSide::new);
            let mut out = Vec::new();
            let Some(peer) = cluster.peer_mut(server) else {
                // The process is gone with its connections.
                side.layer.forget_all(&mut out, "the server is down");
                side.sent.clear();
                self.route(server, out);
                continue;
            };
            if paused {
                continue;
            }
            let fired = side.layer.take_fired(peer).rest();
            side.layer.dispatch_events(&mut out, fired);
            let sent: Vec<(RequestTag, RequestTag)> =
                side.sent.iter().map(|(c, l)| (*c, *l)).collect();
            for (cluster_tag, layer_tag) in sent {
                let result = match cluster.request(cluster_tag) {
                    Some(ClientResult::Pending) => continue,
                    r => r.cloned(),
                };
                let (Some(side), Some(peer)) =
                    (self.servers.get_mut(&server), cluster.peer_mut(server))
                else {
                    break;
                };
                side.sent.remove(&cluster_tag);
                match result {
                    Some(ClientResult::Replied { zxid, outcome }) => side
                        .layer
                        .on_reply(peer, &mut out, layer_tag, zxid, &outcome),
                    Some(ClientResult::Synced { zxid }) => {
                        side.layer.on_sync_done(peer, &mut out, layer_tag, zxid)
                    }
                    _ => side.layer.on_failed(peer, &mut out, layer_tag),
                }
            }
            if let (Some(side), Some(peer)) =
                (self.servers.get_mut(&server), cluster.peer_mut(server))
            {
                side.layer.after_step(peer, &mut out);
            }
            self.route(server, out);
        }
        self.reattach(cluster);
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

    /// Clients without a connect string whose server closed their connection connect again
    /// to it once it serves, and send their watches again.
    fn reattach(&mut self, cluster: &mut ZkCluster) {
        let ids: Vec<ClientId> = self
            .clients
            .iter()
            .filter(|(_, c)| c.alive && !c.attached && c.cnxn.is_none())
            .filter(|(_, c)| cnxn::answering(cluster, c.server))
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            let Some(server) = self.clients.get(&id).map(|c| c.server) else {
                continue;
            };
            match self.reconnect(cluster, id, server) {
                Connected::Yes(_) => self.send_watches(cluster, id),
                Connected::Expired => {
                    if let Some(c) = self.clients.get_mut(&id) {
                        c.alive = false;
                    }
                }
                Connected::Closed => {}
            }
        }
    }

    /// `setWatches` with the watches the client holds, relative to its `lastZxid`.
    fn send_watches(&mut self, cluster: &mut ZkCluster, id: ClientId) {
        let Some(c) = self.clients.get_mut(&id) else {
            return;
        };
        let mut w = c.watches.clone();
        if w == SetWatches::default() {
            return;
        }
        w.relative_zxid = c.last_zxid.0 as i64;
        let _ = self.send(cluster, id, ClientOp::SetWatches(w));
    }
}

impl ZkClient {
    /// A watching read that succeeded (or found no node, for exists) left a watch.
    pub(super) fn note_watch(&mut self, req: &ReadRequest, r: &Result<ReadResponse, ErrorCode>) {
        let add = |v: &mut Vec<String>, p: &String| {
            if !v.contains(p) {
                v.push(p.clone());
            }
        };
        match (req, r) {
            (ReadRequest::Exists { path, watch: true }, Ok(_))
            | (ReadRequest::GetData { path, watch: true }, Ok(_)) => {
                add(&mut self.watches.data_watches, path)
            }
            (ReadRequest::Exists { path, watch: true }, Err(ErrorCode::NoNode)) => {
                add(&mut self.watches.exist_watches, path)
            }
            (ReadRequest::GetChildren { path, watch: true }, Ok(_))
            | (ReadRequest::GetChildren2 { path, watch: true }, Ok(_)) => {
                add(&mut self.watches.child_watches, path)
            }
            _ => {}
        }
    }

    /// A standard watch fires once: the event removes it.
    pub(super) fn forget_watch(&mut self, ev: &WatchedEvent) {
        use crate::tree::EventType;
        let w = &mut self.watches;
        match ev.event_type {
            EventType::NodeChildrenChanged => w.child_watches.retain(|p| *p != ev.path),
            EventType::NodeDeleted => {
                w.child_watches.retain(|p| *p != ev.path);
                w.data_watches.retain(|p| *p != ev.path);
                w.exist_watches.retain(|p| *p != ev.path);
            }
            _ => {
                w.data_watches.retain(|p| *p != ev.path);
                w.exist_watches.retain(|p| *p != ev.path);
            }
        }
    }
}
