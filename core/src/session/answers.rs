//! What comes back from the peer: answers to the writes and syncs this layer sent, released
//! in each connection's request order ([`ClientSessions::flush`]); the watch events the
//! applied transactions fired, in zxid order with the replies ([`FiredEvents`]); and the
//! connections closed after a step (the server stopped serving, a session expired).

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use crate::durable::RequestTag;
use crate::peer::{Output, Peer};
use crate::tree::{session_password, ConnId, ErrorCode, WatchedEvent, WriteResponse};
use crate::zxid::Zxid;

use super::{
    local, zxid_i64, ClientMachine, ClientOp, ClientReply, ClientSessions, Queued, ReplyBody,
    SessionHost, REPLY_HEADROOM_BYTES,
};

/// Watch events fired by one peer step, released in zxid order with the step's replies: an
/// event of transaction z goes out before the reply to any write after z.
#[derive(Debug, Default)]
pub struct FiredEvents {
    events: VecDeque<(ConnId, WatchedEvent)>,
}

impl FiredEvents {
    /// The events of transactions up to and including `zxid`.
    pub fn until(&mut self, zxid: Zxid) -> Vec<(ConnId, WatchedEvent)> {
        let mut due = Vec::new();
        while let Some((_, e)) = self.events.front() {
            if e.zxid > zxid.0 as i64 {
                break;
            }
            due.extend(self.events.pop_front());
        }
        due
    }

    /// Every event left.
    pub fn rest(&mut self) -> Vec<(ConnId, WatchedEvent)> {
        self.events.drain(..).collect()
    }
}

impl<M: ClientMachine> ClientSessions<M> {
    /// Sends every answered entry at the head of a connection's queue, executing local
    /// operations (reads, watch management) when they reach the head. While the host holds
    /// the connection (over its budget), local operations wait at the head.
    pub(super) fn flush(&mut self, peer: &mut Peer<M>, host: &mut impl SessionHost, conn: ConnId) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        loop {
            let ready = match c.queue.front() {
                None => break,
                Some(Queued::Write { done, .. }) => done.is_some(),
                Some(Queued::Sync { done, .. }) => done.is_some(),
                Some(Queued::Reconfig { done, .. }) => done.is_some(),
                Some(Queued::Local { .. }) => !host.held(conn),
            };
            if !ready {
                break;
            }
            let Some(entry) = c.queue.pop_front() else {
                break;
            };
            let reply = match entry {
                Queued::Write {
                    xid,
                    cost,
                    done: Some((zxid, outcome)),
                    ..
                } => {
                    host.request_done(conn, cost);
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
                    cost,
                    path,
                    done: Some(zxid),
                    ..
                } => {
                    host.request_done(conn, cost);
                    ClientReply::Reply {
                        xid,
                        zxid: zxid_i64(zxid),
                        body: ReplyBody::Sync(Ok(path)),
                    }
                }
                // The answer is the new config's getData, read here once applied.
                Queued::Reconfig {
                    xid,
                    cost,
                    done: Some(done),
                    ..
                } => {
                    host.request_done(conn, cost);
                    let max_reply = self.limits.max_buffer_bytes + REPLY_HEADROOM_BYTES;
                    let (zxid, body) = match done {
                        Ok(zxid) => {
                            let read = ClientOp::Read(crate::tree::ReadRequest::GetData {
                                path: crate::tree::path::CONFIG_PATH.into(),
                                watch: false,
                            });
                            let tree = peer.machine_mut().tree_mut();
                            (
                                zxid,
                                local::local_op(tree, conn, c.session_id, &c.auth, read, max_reply),
                            )
                        }
                        Err(e) => (peer.last_processed_zxid(), ReplyBody::Read(Err(e))),
                    };
                    ClientReply::Reply {
                        xid,
                        zxid: zxid_i64(zxid),
                        body,
                    }
                }
                Queued::Local { xid, cost, op } => {
                    host.request_done(conn, cost);
                    let max_reply = self.limits.max_buffer_bytes + REPLY_HEADROOM_BYTES;
                    let tree = peer.machine_mut().tree_mut();
                    let body = local::local_op(tree, conn, c.session_id, &c.auth, op, max_reply);
                    ClientReply::Reply {
                        xid,
                        zxid: zxid_i64(peer.last_processed_zxid()),
                        body,
                    }
                }
                Queued::Write { done: None, .. }
                | Queued::Sync { done: None, .. }
                | Queued::Reconfig { done: None, .. } => {
                    unreachable!("only answered entries are ready")
                }
            };
            host.send(conn, reply);
        }
        if c.closing && c.queue.is_empty() {
            self.close(peer, host, conn, "session closed");
        }
    }

    /// Handles a peer output that concerns clients (`Reply`, `SyncDone`, `RequestFailed` of a
    /// tag this layer issued). False for every other output, which the host executes.
    pub fn on_output(
        &mut self,
        peer: &mut Peer<M>,
        host: &mut impl SessionHost,
        output: &Output<M>,
    ) -> bool {
        match output {
            Output::Reply { tag, zxid, outcome } => self.on_reply(peer, host, *tag, *zxid, outcome),
            Output::SyncDone { tag, zxid } => self.on_sync_done(peer, host, *tag, *zxid),
            Output::ReconfigFailed { tag, error } => {
                let code = ErrorCode::from_code(error.code()).unwrap_or(ErrorCode::SystemError);
                self.on_reconfig_done(peer, host, *tag, Err(code))
            }
            Output::RequestFailed { tag } => self.on_failed(peer, host, *tag),
            _ => return false,
        }
        true
    }

    /// A write of one of our connections committed and was applied here.
    pub fn on_reply(
        &mut self,
        peer: &mut Peer<M>,
        host: &mut impl SessionHost,
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
                    host.send(
                        conn,
                        ClientReply::Connected {
                            session_id,
                            timeout_ms,
                            password: session_password(session_id),
                            read_only: false,
                        },
                    );
                    let auth = c.auth.clone();
                    if let Some(t) = peer.machine_mut().tree_mut() {
                        t.set_connection_auth(conn, &auth);
                    }
                }
                Err(_) => self.close(peer, host, conn, "session could not be created"),
            }
            return;
        }
        for q in c.queue.iter_mut() {
            match q {
                Queued::Write { tag: t, done, .. } if *t == tag => {
                    *done = Some((zxid, outcome));
                    break;
                }
                // A forwarded reconfig the leader refused commits as an ErrorTxn.
                Queued::Reconfig { tag: t, done, .. } if *t == tag => {
                    *done = Some(outcome.map(|_| zxid));
                    break;
                }
                _ => {}
            }
        }
        self.flush(peer, host, conn);
    }

    /// The leader refused a reconfig of one of our connections (`Output::ReconfigFailed`).
    fn on_reconfig_done(
        &mut self,
        peer: &mut Peer<M>,
        host: &mut impl SessionHost,
        tag: RequestTag,
        result: Result<Zxid, ErrorCode>,
    ) {
        self.answer(peer, host, tag, |q| match q {
            Queued::Reconfig { tag: t, done, .. } if *t == tag => {
                *done = Some(result);
                true
            }
            _ => false,
        });
    }

    /// The peer answered `tag`: `mark` records the answer in the issuing connection's queued
    /// entry (true once it found it), then what is answered at the head goes out.
    fn answer(
        &mut self,
        peer: &mut Peer<M>,
        host: &mut impl SessionHost,
        tag: RequestTag,
        mut mark: impl FnMut(&mut Queued) -> bool,
    ) {
        let Some(conn) = self.tags.remove(&tag) else {
            return;
        };
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        for q in c.queue.iter_mut() {
            if mark(q) {
                break;
            }
        }
        self.flush(peer, host, conn);
    }

    /// A `sync` of one of our connections completed.
    pub fn on_sync_done(
        &mut self,
        peer: &mut Peer<M>,
        host: &mut impl SessionHost,
        tag: RequestTag,
        zxid: Zxid,
    ) {
        self.answer(peer, host, tag, |q| match q {
            Queued::Sync { tag: t, done, .. } if *t == tag => {
                *done = Some(zxid);
                true
            }
            _ => false,
        });
    }

    /// A request could not complete (this server lost its leader): the client must reconnect,
    /// as with ZooKeeper, where the connection closes when the server stops serving.
    pub fn on_failed(&mut self, peer: &mut Peer<M>, host: &mut impl SessionHost, tag: RequestTag) {
        let Some(conn) = self.tags.remove(&tag) else {
            return;
        };
        self.close(
            peer,
            host,
            conn,
            "the request could not complete (no leader)",
        );
    }

    /// The watch events the last peer step (or a local operation) fired, to be released with
    /// [`FiredEvents::until`] before each reply and [`FiredEvents::rest`] after the step.
    pub fn take_fired(&self, peer: &mut Peer<M>) -> FiredEvents {
        let events = peer
            .machine_mut()
            .tree_mut()
            .map(|t| t.take_watch_events())
            .unwrap_or_default();
        FiredEvents {
            events: events.into(),
        }
    }

    /// Routes watch events to the connections that registered them (each event once, to its
    /// connection; events of connections no longer here are dropped).
    pub fn dispatch_events(
        &mut self,
        host: &mut impl SessionHost,
        events: Vec<(ConnId, WatchedEvent)>,
    ) {
        for (conn, ev) in events {
            if self.conns.contains_key(&conn) {
                host.send(conn, ClientReply::Event(ev));
            }
        }
    }

    /// After every peer step: a server that stopped serving closes its client connections;
    /// a connection whose session was closed or expired is closed.
    pub fn after_step(&mut self, peer: &mut Peer<M>, host: &mut impl SessionHost) {
        if self.conns.is_empty() {
            return;
        }
        if !peer.is_serving() {
            // The read-only server's connections are closed when it stops (read_only_step).
            if !self.read_only.is_active() {
                self.close_all(peer, host, "this server is not serving requests");
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
            .filter(|(_, c)| {
                c.creating.is_none() && !c.local && !tree.sessions().contains_key(&c.session_id)
            })
            .map(|(id, _)| *id)
            .collect();
        for conn in gone {
            self.close(peer, host, conn, "session expired");
        }
    }
}
