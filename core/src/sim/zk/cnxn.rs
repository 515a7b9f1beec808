//! The client side of a ZooKeeper connection, as ZooKeeper 3.8's `ClientCnxn` runs it, for
//! clients given a connect string ([`ZkClients::connect_with_hosts`]): the session timers
//! and the move to another server. A lesson about sessions has to show what a client sees
//! (Disconnected, SyncConnected, Expired) and when; the server side (the leader's session
//! expiry) is the ensemble's own.
//!
//! The timers, with `t` the negotiated session timeout:
//! * `readTimeout = t·2/3`: a connected client that has heard nothing from its server for
//!   that long gives the connection up (Disconnected) and tries the next server.
//! * a ping when nothing was sent for `readTimeout/2 = t/3`, less ClientCnxn's one-second
//!   margin once the idle time passes a second (`readTimeout/2 − idleSend − 1000 ≤ 0`), and
//!   at least every 10 s; the ping's answer is what keeps `idleRecv` small.
//! * `connectTimeout = t / (number of servers)`: how long one connection attempt may take.
//! * before every attempt but the first, a pause of up to 1 s (random), and a further second
//!   once every server of the list was tried since the last successful connection
//!   (`StaticHostProvider.next(1000)`).
//!
//! A killed server's operating system resets the TCP connection, so its clients see
//! Disconnected at once; a server that stops answering (paused, or the machine cut off) is
//! only noticed when `readTimeout` runs out. A server that is not serving (looking for a
//! leader) closes its connections and refuses new ones; a server whose last processed zxid
//! is behind the client's last seen zxid refuses the session (`ZooKeeperServer`: "Refusing
//! session request … as it has seen zxid"); a server that no longer knows the session
//! answers with timeout 0 and the client's session is Expired for good.
//!
//! Simplifications: a request sent while disconnected fails with ConnectionLoss at once
//! (ClientCnxn queues it); a write's reply does not count as "heard from the server" (the
//! pings do); the session's validity is checked on the new server's own data tree (a real
//! follower asks the leader).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::time::Instant;
use crate::zxid::{Sid, Zxid};

use super::{ClientId, Connected, ZkClients, ZkCluster};

/// `ClientCnxn`'s largest gap between pings (`MAX_SEND_PING_INTERVAL`).
const MAX_SEND_PING_INTERVAL_MS: u64 = 10_000;

/// The connection state a client reports (`ZooKeeper.States`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CnxnState {
    Connected,
    Connecting,
    /// Expired (or closed): the handle is dead and a new session is needed.
    Closed,
}

impl CnxnState {
    pub fn name(self) -> &'static str {
        match self {
            CnxnState::Connected => "CONNECTED",
            CnxnState::Connecting => "CONNECTING",
            CnxnState::Closed => "CLOSED",
        }
    }
}

/// One line of a client's connection log: what happened, when.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CnxnLogEntry {
    pub at: Instant,
    /// The state change the client's watcher receives (`Disconnected`, `SyncConnected`,
    /// `Expired`), or `None` for a line only the client's log shows (a refused attempt).
    pub event: Option<&'static str>,
    pub text: String,
}

/// The client-side connection of a client with a connect string.
#[derive(Clone, Debug)]
pub struct Cnxn {
    /// The connect string, in the order the client tries it (ZooKeeper shuffles it once).
    pub hosts: Vec<Sid>,
    index: usize,
    pub state: CnxnState,
    last_send: Instant,
    last_recv: Instant,
    /// When the pending connection attempt starts (Connecting only).
    attempt_at: Instant,
    /// Attempts since the last successful connection.
    tried: usize,
    rng: u64,
    pub read_timeout_ms: u64,
    pub connect_timeout_ms: u64,
    /// Pings sent (and answered) so far.
    pub pings: u64,
    pub log: Vec<CnxnLogEntry>,
}

impl Cnxn {
    pub(super) fn new(hosts: Vec<Sid>, connected_to: Sid, timeout_ms: i32, now: Instant) -> Cnxn {
        let t = timeout_ms.max(0) as u64;
        let n = hosts.len().max(1) as u64;
        let index = hosts.iter().position(|h| *h == connected_to).unwrap_or(0);
        Cnxn {
            index,
            state: CnxnState::Connected,
            last_send: now,
            last_recv: now,
            attempt_at: now,
            tried: 0,
            rng: 0x9e37_79b9_7f4a_7c15 ^ (connected_to ^ t.rotate_left(17)),
            read_timeout_ms: t * 2 / 3,
            connect_timeout_ms: t / n,
            pings: 0,
            log: Vec::new(),
            hosts,
        }
    }

    /// Idle-send time after which ClientCnxn sends a ping.
    pub fn ping_after_ms(&self) -> u64 {
        let half = self.read_timeout_ms / 2;
        let p = if half <= 1000 {
            half
        } else if half <= 2000 {
            1001
        } else {
            half - 1000
        };
        p.min(MAX_SEND_PING_INTERVAL_MS + 1)
    }

    /// Something was sent and answered at once (a read, a sync).
    pub(super) fn exchanged(&mut self, now: Instant) {
        self.last_send = now;
        self.last_recv = now;
    }

    fn next_random_ms(&mut self) -> u64 {
        // xorshift64*: deterministic from the client, so lessons replay exactly.
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d) % 1000
    }

    fn log(&mut self, at: Instant, event: Option<&'static str>, text: String) {
        self.log.push(CnxnLogEntry { at, event, text });
    }

    /// Gives the connection up and schedules an attempt on the next server.
    fn disconnect(&mut self, now: Instant, why: &str) {
        if self.state == CnxnState::Connected {
            self.log(now, Some("Disconnected"), format!("Disconnected ({why})"));
        }
        self.schedule_next(now);
    }

    fn schedule_next(&mut self, now: Instant) {
        self.state = CnxnState::Connecting;
        self.index = (self.index + 1) % self.hosts.len().max(1);
        let spin = if self.tried >= self.hosts.len() {
            1000
        } else {
            0
        };
        self.tried += 1;
        self.attempt_at = now + (spin + self.next_random_ms());
    }

    fn target(&self) -> Option<Sid> {
        self.hosts.get(self.index).copied()
    }

    /// The next time this connection has something to do, if it is after `now`.
    pub(super) fn deadline(&self, cluster: &ZkCluster, server: Sid) -> Option<Instant> {
        let t = match self.state {
            CnxnState::Closed => return None,
            CnxnState::Connected if answering(cluster, server) => {
                self.last_send + self.ping_after_ms()
            }
            CnxnState::Connected => self.last_recv + self.read_timeout_ms,
            CnxnState::Connecting if cluster.now() < self.attempt_at => self.attempt_at,
            CnxnState::Connecting => self.attempt_at + self.connect_timeout_ms,
        };
        (t > cluster.now()).then_some(t)
    }
}

/// Whether `server` runs, serves clients and is not paused.
pub(super) fn answering(cluster: &ZkCluster, server: Sid) -> bool {
    cluster
        .nodes()
        .get(&server)
        .is_some_and(|n| n.paused_until <= cluster.now())
        && cluster.peer(server).is_some_and(|p| p.is_serving())
}

/// What an attempt to connect to a server gives.
enum Attempt {
    Refused(String),
    /// The server accepted the TCP connection but does not answer (paused).
    Silent,
    Behind(Zxid, Zxid),
    Expired,
    Connected,
}

impl ZkClients {
    /// The earliest deadline of any client's connection timers after now.
    pub fn next_deadline(&self, cluster: &ZkCluster) -> Option<Instant> {
        self.clients
            .values()
            .filter(|c| c.alive)
            .filter_map(|c| c.cnxn.as_ref()?.deadline(cluster, c.server))
            .min()
    }

    /// Runs every client's connection timers at the cluster's current time.
    pub(super) fn tick_connections(&mut self, cluster: &mut ZkCluster) {
        let ids: Vec<ClientId> = self
            .clients
            .iter()
            .filter(|(_, c)| c.alive && c.cnxn.is_some())
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            // Instantaneous transitions (a refused attempt, then the next one due at once)
            // are bounded by the number of servers.
            let bound = self
                .clients
                .get(&id)
                .map_or(0, |c| c.cnxn.as_ref().map_or(0, |x| 2 * x.hosts.len() + 2));
            for _ in 0..bound {
                if !self.tick_one(cluster, id) {
                    break;
                }
            }
        }
    }

    /// One transition of one client's connection; false when nothing more is due now.
    fn tick_one(&mut self, cluster: &mut ZkCluster, id: ClientId) -> bool {
        let now = cluster.now();
        let Some(c) = self.clients.get(&id) else {
            return false;
        };
        let Some(x) = c.cnxn.as_ref() else {
            return false;
        };
        let (server, attached, closed_why) = (c.server, c.attached, c.closed_why);
        match x.state {
            CnxnState::Closed => false,
            CnxnState::Connected => {
                let up = cluster.peer(server).is_some();
                let serving = cluster.peer(server).is_some_and(|p| p.is_serving());
                let paused = cluster
                    .nodes()
                    .get(&server)
                    .is_some_and(|n| n.paused_until > now);
                let (due_ping, silent_too_long) = (
                    now.saturating_sub(x.last_send) >= x.ping_after_ms(),
                    now.saturating_sub(x.last_recv) >= x.read_timeout_ms,
                );
                let why = if !up {
                    Some(format!("server {server} closed the connection: it is down"))
                } else if !serving && !paused {
                    Some(format!(
                        "server {server} closed the connection: it is not serving"
                    ))
                } else if paused && silent_too_long {
                    Some(format!(
                        "nothing heard from server {server} for {} ms (readTimeout)",
                        now.saturating_sub(x.last_recv)
                    ))
                } else if !attached {
                    Some(format!(
                        "server {server} closed the connection: {}",
                        closed_why.unwrap_or("closed")
                    ))
                } else {
                    None
                };
                if let Some(why) = why {
                    let conn = c.conn;
                    if let (Some(side), Some(p)) =
                        (self.servers.get_mut(&server), cluster.peer_mut(server))
                    {
                        side.layer.gone(p, conn);
                    }
                    if let Some(c) = self.clients.get_mut(&id) {
                        c.attached = false;
                    }
                    if let Some(x) = self.cnxn_mut(id) {
                        x.disconnect(now, &why);
                    }
                    return true;
                }
                if !paused && due_ping {
                    if let Some(x) = self.cnxn_mut(id) {
                        x.exchanged(now);
                        x.pings += 1;
                    }
                    self.touch(cluster, id);
                }
                false
            }
            CnxnState::Connecting => {
                if now < x.attempt_at {
                    return false;
                }
                let Some(target) = x.target() else {
                    return false;
                };
                let timed_out = now.saturating_sub(x.attempt_at) >= x.connect_timeout_ms;
                match self.attempt(cluster, id, target) {
                    Attempt::Silent if !timed_out => false,
                    Attempt::Silent => {
                        if let Some(x) = self.cnxn_mut(id) {
                            x.log(
                                now,
                                None,
                                format!(
                                    "server {target} did not answer within connectTimeout ({} ms)",
                                    x.connect_timeout_ms
                                ),
                            );
                            x.schedule_next(now);
                        }
                        true
                    }
                    Attempt::Refused(why) => {
                        if let Some(x) = self.cnxn_mut(id) {
                            x.log(now, None, why);
                            x.schedule_next(now);
                        }
                        true
                    }
                    Attempt::Behind(server_zxid, seen) => {
                        if let Some(x) = self.cnxn_mut(id) {
                            x.log(
                                now,
                                None,
                                format!(
                                    "server {target} refused the session: its last zxid {server_zxid} is behind {seen}, which the client has seen"
                                ),
                            );
                            x.schedule_next(now);
                        }
                        true
                    }
                    Attempt::Expired => {
                        if let Some(c) = self.clients.get_mut(&id) {
                            c.alive = false;
                            if let Some(x) = c.cnxn.as_mut() {
                                x.state = CnxnState::Closed;
                                x.log(
                                    now,
                                    Some("Expired"),
                                    format!(
                                        "Expired (server {target} no longer knows the session)"
                                    ),
                                );
                            }
                        }
                        false
                    }
                    Attempt::Connected => {
                        if let Some(x) = self.cnxn_mut(id) {
                            x.state = CnxnState::Connected;
                            x.tried = 0;
                            x.exchanged(now);
                            x.log(
                                now,
                                Some("SyncConnected"),
                                format!("SyncConnected to server {target}"),
                            );
                        }
                        false
                    }
                }
            }
        }
    }

    fn cnxn_mut(&mut self, id: ClientId) -> Option<&mut Cnxn> {
        self.clients.get_mut(&id)?.cnxn.as_mut()
    }

    /// A connection attempt to `target`: what the client sees of the TCP connection (down,
    /// paused), then the ConnectRequest through the server's session layer.
    fn attempt(&mut self, cluster: &mut ZkCluster, id: ClientId, target: Sid) -> Attempt {
        let Some(c) = self.clients.get(&id) else {
            return Attempt::Refused(String::from("no such client"));
        };
        let seen = c.last_zxid;
        let now = cluster.now();
        let Some(peer) = cluster.peer(target) else {
            return Attempt::Refused(format!(
                "server {target} refused the connection: it is down"
            ));
        };
        let server_zxid = peer.last_processed_zxid();
        if cluster
            .nodes()
            .get(&target)
            .is_some_and(|n| n.paused_until > now)
        {
            return Attempt::Silent;
        }
        match self.reconnect(cluster, id, target) {
            Connected::Yes(_) => Attempt::Connected,
            Connected::Expired => Attempt::Expired,
            Connected::Closed if server_zxid < seen => Attempt::Behind(server_zxid, seen),
            Connected::Closed => Attempt::Refused(format!(
                "server {target} closed the connection: it is not serving"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ClientCnxn: ping when `readTimeout/2 − idleSend − (idleSend > 1000 ? 1000 : 0) ≤ 0`,
    /// or after 10 s idle; readTimeout = 2t/3, connectTimeout = t / hosts.
    #[test]
    fn timers_follow_client_cnxn() {
        let at = |t: i32, hosts: usize| {
            let x = Cnxn::new((1..=hosts as u64).collect(), 1, t, Instant::ZERO);
            (x.ping_after_ms(), x.read_timeout_ms, x.connect_timeout_ms)
        };
        assert_eq!(at(3000, 3), (1000, 2000, 1000));
        assert_eq!(at(1500, 1), (500, 1000, 1500));
        // readTimeout/2 = 1333: past 1 s idle the one-second margin makes it due at once.
        assert_eq!(at(4000, 2), (1001, 2666, 2000));
        assert_eq!(at(12000, 3), (3000, 8000, 4000));
        assert_eq!(at(40000, 3).0, 10_001);
    }
}
