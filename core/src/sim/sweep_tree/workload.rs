//! The tree sweep's client workload: simulated clients with sessions (connect to a serving
//! server, touch once per tick, move, crash, close) and the writes they send.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use super::{COUNTERS, MAX_TIMEOUT_MS, TMP_NAMES};
use crate::durable::RequestTag;
use crate::rng::Rng;
use crate::sim::zk::ZkCluster;
use crate::sim::{Action, ClientResult};
use crate::time::Instant;
use crate::tree::{
    acl, initial_session_id, negotiate_timeout, next_session_id, session_password,
    CheckVersionRequest, CreateRequest, DataTree, DeleteRequest, Request, SetDataRequest, WriteOp,
};
use crate::zxid::Sid;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum ClientState {
    Connecting(RequestTag),
    Live,
    /// Crashed, closed, expired, or never connected: it touches nothing any more.
    Gone,
}

#[derive(Clone, Debug)]
pub(super) struct Client {
    pub(super) server: Sid,
    pub(super) session_id: i64,
    pub(super) timeout_ms: i32,
    pub(super) cxid: i32,
    pub(super) state: ClientState,
}

/// What a reply must mean for the tree at the end.
#[derive(Clone, Debug)]
pub(super) enum Expect {
    /// A plain create of a `/keep` node.
    Keep(String),
    /// A multi that creates this `/keep` node.
    Multi(String),
    /// A persistent sequential create under `/seq`.
    Seq,
    Other,
}

/// The workload's state: its clients and what it sent.
pub(super) struct Workload {
    pub(super) rng: Rng,
    pub(super) servers: Vec<Sid>,
    pub(super) clients: Vec<Client>,
    pub(super) sent: Vec<(RequestTag, Expect)>,
    pub(super) last_session: BTreeMap<Sid, i64>,
    pub(super) last_touch: Instant,
    pub(super) next_name: u64,
    pub(super) moves: usize,
}

pub(super) fn create(path: &str, data: &[u8], flags: i32) -> WriteOp {
    WriteOp::Create(CreateRequest {
        path: path.into(),
        data: Some(data.to_vec()),
        acl: acl::open_acl_unsafe(),
        flags,
    })
}

pub(super) fn counter_value(tree: &DataTree, path: &str) -> Option<(u64, i32)> {
    let (data, stat) = tree.get_data(&[], path).ok()?;
    let n = core::str::from_utf8(data.as_deref()?).ok()?.parse().ok()?;
    Some((n, stat.version))
}

/// A version the node is certainly past: a read may be stale, so `v + 1` may be current by
/// now, but versions only grow (and -1 would match any version).
fn stale(v: i32) -> i32 {
    if v >= 1 {
        v - 1
    } else {
        -2
    }
}

impl Workload {
    /// Runs the cluster to `until`, touching every live session once per tick.
    pub(super) fn drive(&mut self, cluster: &mut ZkCluster, until: Instant) {
        let tick = cluster.config().timing.tick_time_ms;
        while let Some(t) = cluster.next_event_time() {
            if t > until || cluster.violation().is_some() {
                break;
            }
            cluster.step();
            if cluster.now().saturating_sub(self.last_touch) >= tick {
                self.last_touch = cluster.now();
                for c in self.clients.iter().filter(|c| c.state == ClientState::Live) {
                    cluster.touch_session(c.server, c.session_id, c.timeout_ms);
                }
            }
        }
        cluster.run_until(until.max(cluster.now()));
    }

    /// Settles connects and lets clients whose server is gone reconnect elsewhere.
    pub(super) fn update(&mut self, cluster: &mut ZkCluster) {
        for i in 0..self.clients.len() {
            match self.clients[i].state {
                ClientState::Connecting(tag) => match cluster.request(tag) {
                    Some(ClientResult::Replied { outcome: Ok(_), .. }) => {
                        self.clients[i].state = ClientState::Live;
                    }
                    Some(ClientResult::Pending) => {}
                    _ => self.clients[i].state = ClientState::Gone,
                },
                ClientState::Live if cluster.peer(self.clients[i].server).is_none() => {
                    let to = self.servers[self.rng.below(self.servers.len() as u64) as usize];
                    self.move_client(cluster, i, to);
                }
                _ => {}
            }
        }
    }

    /// A client reconnects its session to `to`; a server that does not know the session
    /// answers SessionExpired and the client gives up.
    fn move_client(&mut self, cluster: &mut ZkCluster, i: usize, to: Sid) {
        let c = &mut self.clients[i];
        let Some(peer) = cluster.peer(to) else { return };
        if !peer.is_serving() {
            return;
        }
        if peer
            .machine()
            .validate_session(c.session_id, &session_password(c.session_id))
        {
            self.moves += usize::from(c.server != to);
            c.server = to;
            cluster.touch_session(to, c.session_id, c.timeout_ms);
        } else {
            c.state = ClientState::Gone;
        }
    }

    pub(super) fn connect(&mut self, cluster: &mut ZkCluster, server: Sid) -> Option<RequestTag> {
        let tick = cluster.config().timing.tick_time_ms;
        let timeout_ms = negotiate_timeout(self.rng.range(600, MAX_TIMEOUT_MS as u64) as i32, tick);
        let session_id = match self.last_session.get(&server) {
            Some(prev) => next_session_id(*prev),
            None => initial_session_id(server, cluster.now().as_millis()),
        };
        self.last_session.insert(server, session_id);
        let txn = Request::new(
            session_id,
            0,
            Vec::new(),
            WriteOp::CreateSession { timeout_ms },
        );
        let tag = cluster.act(Action::Write { server, txn })?;
        self.clients.push(Client {
            server,
            session_id,
            timeout_ms,
            cxid: 0,
            state: ClientState::Connecting(tag),
        });
        self.sent.push((tag, Expect::Other));
        Some(tag)
    }

    pub(super) fn submit(
        &mut self,
        cluster: &mut ZkCluster,
        i: usize,
        op: WriteOp,
        expect: Expect,
    ) {
        let c = &mut self.clients[i];
        c.cxid += 1;
        let txn = Request::new(c.session_id, c.cxid, Vec::new(), op);
        if let Some(tag) = cluster.act(Action::Write {
            server: c.server,
            txn,
        }) {
            self.sent.push((tag, expect));
        }
    }

    fn name(&mut self) -> u64 {
        self.next_name += 1;
        self.next_name
    }

    /// One client action: connect, crash, close, move, or a write by a live client.
    pub(super) fn client_action(&mut self, cluster: &mut ZkCluster) {
        self.update(cluster);
        let live: Vec<usize> = (0..self.clients.len())
            .filter(|i| self.clients[*i].state == ClientState::Live)
            .collect();
        let roll = self.rng.below(100);
        let pick_server =
            |rng: &mut Rng, servers: &[Sid]| servers[rng.below(servers.len() as u64) as usize];
        if live.is_empty() || roll < 8 {
            // A few connects at a time: while no server can serve, clients wait.
            let connecting = self
                .clients
                .iter()
                .filter(|c| matches!(c.state, ClientState::Connecting(_)))
                .count();
            // As a client library does, try servers until one accepts: only a serving server
            // takes a connection (it may still lose its leader before the session commits).
            let serving: Vec<Sid> = self
                .servers
                .iter()
                .copied()
                .filter(|s| cluster.peer(*s).is_some_and(|p| p.is_serving()))
                .collect();
            if connecting < 2 && live.len() < 10 && !serving.is_empty() {
                let server = pick_server(&mut self.rng, &serving);
                self.connect(cluster, server);
            }
            if live.is_empty() {
                return;
            }
        }
        let i = live[self.rng.below(live.len() as u64) as usize];
        match roll {
            8..=10 => self.clients[i].state = ClientState::Gone, // the client process dies
            11..=12 => {
                self.submit(cluster, i, WriteOp::CloseSession, Expect::Other);
                self.clients[i].state = ClientState::Gone;
            }
            13..=17 => {
                let to = pick_server(&mut self.rng, &self.servers);
                self.move_client(cluster, i, to);
            }
            _ => self.write(cluster, i),
        }
    }

    fn write(&mut self, cluster: &mut ZkCluster, i: usize) {
        let Some(tree) = cluster.peer(self.clients[i].server).map(|p| p.machine()) else {
            return;
        };
        let counter = format!("/cnt/c{}", self.rng.below(COUNTERS));
        let tmp = format!("/tmp/t{}", self.rng.below(TMP_NAMES));
        let tmp_exists = tree.exists(&[], &tmp).is_ok();
        let read = counter_value(tree, &counter);
        let (op, expect) = match self.rng.below(10) {
            0 | 1 => {
                let path = format!("/keep/k{}", self.name());
                (create(&path, b"k", 0), Expect::Keep(path))
            }
            2 => (create("/seq/s-", b"s", 2), Expect::Seq),
            3 => {
                let flags = if self.rng.below(2) == 0 { 1 } else { 3 };
                let path = format!("/eph/e{}", self.name());
                (create(&path, b"e", flags), Expect::Other)
            }
            4 if tmp_exists => {
                let version = self.rng.range(0, 1) as i32 - 1; // -1 or a likely-stale 0
                let op = WriteOp::Delete(DeleteRequest { path: tmp, version });
                (op, Expect::Other)
            }
            4 => (create(&tmp, b"t", 0), Expect::Other),
            5..=6 => {
                let Some((n, v)) = read else { return };
                let version = if self.rng.below(5) == 0 { stale(v) } else { v };
                let data = Some((n + 1).to_string().into_bytes());
                let op = WriteOp::SetData(SetDataRequest {
                    path: counter,
                    data,
                    version,
                });
                (op, Expect::Other)
            }
            _ => {
                let Some((n, v)) = read else { return };
                let keep = format!("/keep/m{}", self.name());
                let version = if self.rng.below(4) == 0 { stale(v) } else { v };
                let mut ops = vec![
                    create(&keep, b"m", 0),
                    WriteOp::SetData(SetDataRequest {
                        path: counter.clone(),
                        data: Some((n + 1).to_string().into_bytes()),
                        version,
                    }),
                ];
                // The /tmp op follows this server's view, which may be stale.
                ops.push(if tmp_exists {
                    WriteOp::Delete(DeleteRequest {
                        path: tmp,
                        version: -1,
                    })
                } else {
                    create(&tmp, b"t", 0)
                });
                match self.rng.below(4) {
                    0 => ops.push(create(&format!("/eph/m{}", self.name()), b"", 1)),
                    1 => ops.push(WriteOp::Check(CheckVersionRequest {
                        path: counter,
                        version: version + 1,
                    })),
                    _ => {}
                }
                let at = self.rng.below(ops.len() as u64) as usize;
                ops.rotate_left(at);
                (WriteOp::Multi(ops), Expect::Multi(keep))
            }
        };
        self.submit(cluster, i, op, expect);
    }
}
