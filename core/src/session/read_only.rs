//! Read-only mode (`readonlymode.enabled`), both sides of it.
//!
//! **Server side** ([`ReadOnlyServer`], driven by [`ClientSessions::read_only_step`]). ZooKeeper
//! 3.8's `QuorumPeer` starts a `ReadOnlyZooKeeperServer` when it has been LOOKING for
//! `max(2000 ms, tickTime)` (it cannot tell a partition from an election that takes long), and
//! shuts it down, closing every connection, as soon as the election ends. While it runs:
//! * only clients whose ConnectRequest allows read-only (`readOnly = true`) are let in
//!   ("Refusing session request for not-read-only client"); the others are closed as when the
//!   server does not serve at all;
//! * the ConnectResponse says `readOnly = true`;
//! * reads, watches (`setWatches`, `addWatch`, …), `whoAmI`, auth and pings are served from
//!   this server's own tree, as it was when it lost its quorum;
//! * writes and `sync` are answered NotReadOnly (-119) with the last processed zxid
//!   (`ReadOnlyRequestProcessor`), in the session's request order;
//! * its sessions are *local* (ZooKeeper's `LocalSessionTracker`, which kazoo's harness turns on
//!   with `localSessionsEnabled`): not proposed, not in the replicated session table, ids from
//!   this server's own generator (server id in the top byte), the usual negotiated timeout,
//!   expired here when nothing touched them for that long. A global session (one the ensemble
//!   created) cannot reconnect to a read-only server ("Refusing global session reconnection in
//!   RO mode"); a local one may, within its timeout, and closeSession ends it.
//!
//! **Client side** ([`ReadOnlyClient`]): ZooKeeper's `ClientCnxn` keeps `canBeReadOnly` (the
//! flag it sends) and `seenRwServerBefore`. Until a client has been connected to a read-write
//! server it sends session id 0 on every (re)connect, so a session a read-only server made
//! (which no other server knows) is never presented to a read-write one: the client gets a new,
//! global session there. A client given a session to resume has, by definition, seen one.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::message::PeerState;
use crate::peer::Peer;
use crate::time::Instant;
use crate::tree::{
    initial_session_id, negotiate_timeout, next_session_id, session_password, ConnId, ErrorCode,
    WriteOp, WriteResponse,
};

use super::{
    zxid_i64, ClientMachine, ClientOp, ClientReply, ClientSessions, ConnectRequest, Queued,
    SessionHost,
};

/// ZooKeeper's lower bound on the grace period before a LOOKING server goes read-only.
pub const READ_ONLY_GRACE_MIN_MS: u64 = 2000;

/// Local sessions remembered at most (each is a few bytes; a client that reconnects in a loop
/// with session id 0 makes a new one each time, and they expire after their timeout).
pub const MAX_READ_ONLY_SESSIONS: usize = 100_000;

/// A local session of the read-only server: its timeout and last touch.
#[derive(Clone, Copy, Debug)]
struct LocalSession {
    timeout_ms: i32,
    touched: Instant,
}

/// The read-only server of one peer: off unless [`ClientSessions::set_read_only_mode`] enabled it.
#[derive(Clone, Debug, Default)]
pub(super) struct ReadOnlyServer {
    enabled: bool,
    /// When the current LOOKING period began (None while not looking).
    looking_since: Option<Instant>,
    /// The read-only server runs: read-only clients are served.
    active: bool,
    sessions: BTreeMap<i64, LocalSession>,
}

impl ReadOnlyServer {
    pub(super) fn is_active(&self) -> bool {
        self.active
    }

    /// The server process is gone: nothing of the read-only server survives.
    pub(super) fn forget(&mut self) {
        self.active = false;
        self.looking_since = None;
        self.sessions.clear();
    }
}

/// What [`ClientSessions::read_only_step`] changed, for the host's log and status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadOnlyChange {
    /// The grace period passed while LOOKING: read-only clients are served from now on.
    Started,
    /// The election ended: the read-only server shut down and closed this many connections.
    Stopped { closed: usize },
}

impl<M: ClientMachine> ClientSessions<M> {
    /// `readonlymode.enabled`: whether this server serves read-only clients while it is cut
    /// from its quorum. Off by default (the simulator and the lab never turn it on).
    pub fn set_read_only_mode(&mut self, enabled: bool) {
        self.read_only.enabled = enabled;
    }

    /// True while the read-only server runs.
    pub fn is_read_only(&self) -> bool {
        self.read_only.active
    }

    /// Local (read-only) sessions this server knows.
    pub fn read_only_sessions(&self) -> usize {
        self.read_only.sessions.len()
    }

    /// When [`ClientSessions::read_only_step`] must run next to start the read-only server on
    /// time (the end of the grace period), if the peer is LOOKING and it has not started. A
    /// LOOKING peer's own next deadline may be far later (notification backoff).
    pub fn read_only_deadline(&self, peer: &Peer<M>) -> Option<Instant> {
        let ro = &self.read_only;
        if !ro.enabled || ro.active || peer.state() != PeerState::Looking {
            return None;
        }
        let grace_ms = READ_ONLY_GRACE_MIN_MS.max(peer.config().timing.tick_time_ms);
        ro.looking_since.map(|since| since + grace_ms)
    }

    /// After every peer step and tick, with the host's time: starts the read-only server once
    /// the peer has been LOOKING for `max(2000 ms, tickTime)`, stops it (closing every
    /// connection, so clients find a read-write server) when the peer is no longer LOOKING,
    /// and expires local sessions nothing touched for their timeout.
    pub fn read_only_step(
        &mut self,
        peer: &mut Peer<M>,
        host: &mut impl SessionHost,
        now: Instant,
    ) -> Option<ReadOnlyChange> {
        if !self.read_only.enabled {
            return None;
        }
        if peer.state() != PeerState::Looking {
            self.read_only.looking_since = None;
            if !self.read_only.active {
                return None;
            }
            self.read_only.active = false;
            self.read_only.sessions.clear();
            let closed = self.close_all(peer, host, "the read-only server shut down");
            return Some(ReadOnlyChange::Stopped { closed });
        }
        let since = *self.read_only.looking_since.get_or_insert(now);
        if !self.read_only.active {
            let grace_ms = READ_ONLY_GRACE_MIN_MS.max(peer.config().timing.tick_time_ms);
            if now.saturating_sub(since) < grace_ms || peer.machine().tree().is_none() {
                return None;
            }
            self.read_only.active = true;
            return Some(ReadOnlyChange::Started);
        }
        self.expire_read_only_sessions(peer, host, now);
        None
    }

    fn expire_read_only_sessions(
        &mut self,
        peer: &mut Peer<M>,
        host: &mut impl SessionHost,
        now: Instant,
    ) {
        // A connected client keeps its session alive through its connection's touches.
        for c in self.conns.values().filter(|c| c.local) {
            if let Some(s) = self.read_only.sessions.get_mut(&c.session_id) {
                s.touched = s.touched.max(c.touched);
            }
        }
        let expired: Vec<i64> = self
            .read_only
            .sessions
            .iter()
            .filter(|(_, s)| now.saturating_sub(s.touched) > s.timeout_ms.max(0) as u64)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            self.read_only.sessions.remove(&id);
            let conns: Vec<ConnId> = self
                .conns
                .iter()
                .filter(|(_, c)| c.local && c.session_id == id)
                .map(|(conn, _)| *conn)
                .collect();
            for conn in conns {
                self.close(peer, host, conn, "session expired");
            }
        }
    }

    /// A ConnectRequest while the read-only server runs (ZooKeeper's `processConnectRequest`
    /// on a `ReadOnlyZooKeeperServer`, in its order of checks).
    pub(super) fn connect_read_only(
        &mut self,
        peer: &mut Peer<M>,
        host: &mut impl SessionHost,
        now: Instant,
        conn: ConnId,
        req: ConnectRequest,
    ) {
        if !req.read_only {
            host.send(
                conn,
                ClientReply::Close("refusing session request for not-read-only client"),
            );
            return;
        }
        if req.last_zxid_seen > zxid_i64(peer.last_processed_zxid()) {
            host.send(
                conn,
                ClientReply::Close("client has seen a zxid this server has not"),
            );
            return;
        }
        let timeout_ms = negotiate_timeout(req.timeout_ms, peer.config().timing.tick_time_ms);
        let session_id = if req.session_id == 0 {
            if self.read_only.sessions.len() >= MAX_READ_ONLY_SESSIONS {
                host.send(conn, ClientReply::Close("too many read-only sessions"));
                return;
            }
            let id = match self.last_session_id {
                Some(prev) => next_session_id(prev),
                None => initial_session_id(peer.id(), now.0),
            };
            self.last_session_id = Some(id);
            id
        } else {
            let id = req.session_id;
            let global = peer
                .machine()
                .tree()
                .is_some_and(|t| t.sessions().contains_key(&id));
            if global {
                host.send(
                    conn,
                    ClientReply::Close("refusing global session reconnection in read-only mode"),
                );
                return;
            }
            let alive = self.read_only.sessions.get(&id).is_some_and(|s| {
                now.saturating_sub(s.touched) <= s.timeout_ms.max(0) as u64
                    && req.password.as_slice() == session_password(id).as_slice()
            });
            if !alive {
                host.send(conn, ClientReply::Expired);
                return;
            }
            let others: Vec<ConnId> = self
                .conns
                .iter()
                .filter(|(_, c)| c.session_id == id)
                .map(|(c, _)| *c)
                .collect();
            for other in others {
                self.close(peer, host, other, "session moved to another connection");
            }
            id
        };
        self.read_only.sessions.insert(
            session_id,
            LocalSession {
                timeout_ms,
                touched: now,
            },
        );
        self.admit(
            peer, host, conn, session_id, timeout_ms, req.auth, now, true,
        );
    }

    /// What a request of a read-only session becomes (`ReadOnlyRequestProcessor`): writes and
    /// sync are answered NotReadOnly in order; closeSession ends the local session here.
    pub(super) fn read_only_request(
        &mut self,
        peer: &Peer<M>,
        session_id: i64,
        xid: i32,
        op: ClientOp,
        cost: usize,
    ) -> Queued {
        match op {
            ClientOp::Write(WriteOp::CloseSession) => {
                self.read_only.sessions.remove(&session_id);
                Queued::Write {
                    xid,
                    cost,
                    // Never issued (tags start at 1): nothing waits for the peer.
                    tag: 0,
                    done: Some((peer.last_processed_zxid(), Ok(WriteResponse::CloseSession))),
                }
            }
            ClientOp::Write(_) | ClientOp::Sync { .. } | ClientOp::Reconfig(_) => Queued::Local {
                xid,
                cost,
                op: ClientOp::Invalid(ErrorCode::NotReadOnly),
            },
            other => Queued::Local {
                xid,
                cost,
                op: other,
            },
        }
    }
}

/// A client's side of read-only mode (ZooKeeper's `ClientCnxn.readOnly` and
/// `seenRwServerBefore`), one per client session handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadOnlyClient {
    /// `canBeReadOnly`: the ConnectRequest's readOnly flag.
    pub can_be_read_only: bool,
    seen_rw_server_before: bool,
}

impl ReadOnlyClient {
    /// A new client; `resuming` when it was given a session to resume (ZooKeeper's
    /// constructor with a session id counts that as having seen a read-write server).
    pub fn new(can_be_read_only: bool, resuming: bool) -> ReadOnlyClient {
        ReadOnlyClient {
            can_be_read_only,
            seen_rw_server_before: resuming,
        }
    }

    /// The session id to put in the next ConnectRequest: the client's own once it has been
    /// connected to a read-write server, else 0 (a new session).
    pub fn session_to_send(&self, session_id: i64) -> i64 {
        if self.seen_rw_server_before {
            session_id
        } else {
            0
        }
    }

    /// A ConnectResponse arrived; `read_only` is its readOnly flag.
    pub fn on_connected(&mut self, read_only: bool) {
        self.seen_rw_server_before |= !read_only;
    }

    pub fn seen_rw_server_before(&self) -> bool {
        self.seen_rw_server_before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_sends_session_zero_until_it_has_seen_a_read_write_server() {
        let mut c = ReadOnlyClient::new(true, false);
        assert_eq!(c.session_to_send(0x77), 0, "never connected");
        c.on_connected(true);
        assert_eq!(c.session_to_send(0x77), 0, "only a read-only server so far");
        c.on_connected(false);
        assert_eq!(
            c.session_to_send(0x77),
            0x77,
            "a read-write server was seen"
        );
        c.on_connected(true);
        assert!(c.seen_rw_server_before(), "once seen, always seen");
        let resuming = ReadOnlyClient::new(true, true);
        assert_eq!(resuming.session_to_send(0x42), 0x42);
    }
}
