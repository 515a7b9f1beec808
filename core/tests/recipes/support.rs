//! A small kazoo-like layer over [`ZkClients`] for the recipe scenarios: blocking calls that
//! return ZooKeeper's error codes, watch-event collection with bounded waiting, and the
//! end-of-scenario check that every replica holds the same tree.

use std::collections::BTreeMap;

use zablab_core::sim::zk::{created_path, ClientId, ZkClients, ZkCluster};
use zablab_core::sim::{ClientResult, SimConfig};
use zablab_core::tree::{
    acl, CreateRequest, DeleteRequest, ErrorCode, ReadRequest, ReadResponse, SetDataRequest, Stat,
    WatchedEvent, WriteOp, WriteOutcome, WriteResponse,
};
use zablab_core::{RequestTag, Sid, StateMachine};

pub const PERSISTENT: i32 = 0;
pub const EPHEMERAL: i32 = 1;
pub const PERSISTENT_SEQUENTIAL: i32 = 2;
pub const EPHEMERAL_SEQUENTIAL: i32 = 3;

/// Session timeout the recipes ask for (tickTime is 200 ms, so it is within [400, 4000]).
pub const TIMEOUT_MS: i32 = 2000;

/// Virtual milliseconds of one waiting round.
const ROUND_MS: u64 = 20;
/// Waiting rounds before a test gives up on an event (10 s of virtual time).
const MAX_ROUNDS: usize = 500;
/// After the awaited events arrived, run this much longer to catch any unexpected ones.
pub const SETTLE_MS: u64 = 400;

pub fn create_op(path: &str, data: &[u8], flags: i32) -> WriteOp {
    WriteOp::Create(CreateRequest {
        path: path.into(),
        data: Some(data.to_vec()),
        acl: acl::open_acl_unsafe(),
        flags,
    })
}

pub fn delete_op(path: &str, version: i32) -> WriteOp {
    WriteOp::Delete(DeleteRequest {
        path: path.into(),
        version,
    })
}

pub fn set_data_op(path: &str, data: &[u8], version: i32) -> WriteOp {
    WriteOp::SetData(SetDataRequest {
        path: path.into(),
        data: Some(data.to_vec()),
        version,
    })
}

/// The sequence number of a sequential node (its last ten digits).
pub fn seq_of(path: &str) -> u32 {
    let digits = &path[path.len() - 10..];
    digits
        .parse()
        .expect("a sequential node ends in ten digits")
}

/// A simulated ensemble with its clients.
pub struct Lab {
    pub cluster: ZkCluster,
    pub clients: ZkClients,
    pub seed: u64,
}

impl Lab {
    /// `servers` participants started with `seed`, run until a leader is established.
    pub fn new(servers: u64, seed: u64) -> Lab {
        println!("recipe seed {seed}, {servers} servers");
        let config = SimConfig {
            participants: servers,
            ..SimConfig::default()
        };
        let mut cluster = ZkCluster::new(config, seed);
        let limit = cluster.now() + 10_000;
        assert!(
            cluster.run_until_pred(limit, |c| c.is_stable()),
            "seed {seed}: no leader within 10 s"
        );
        Lab {
            cluster,
            clients: ZkClients::new(),
            seed,
        }
    }

    pub fn leader(&self) -> Sid {
        self.cluster.leader().expect("a leader is established")
    }

    pub fn connect(&mut self, server: Sid) -> ClientId {
        self.clients
            .connect(&mut self.cluster, server, TIMEOUT_MS)
            .unwrap_or_else(|e| panic!("seed {}: connect to {server}: {e:?}", self.seed))
    }

    pub fn session(&self, id: ClientId) -> i64 {
        self.clients.get(id).expect("known client").session_id
    }

    pub fn write(&mut self, id: ClientId, op: WriteOp) -> WriteOutcome {
        self.clients.write(&mut self.cluster, id, op)
    }

    /// create; the created path.
    pub fn create(
        &mut self,
        id: ClientId,
        path: &str,
        data: &[u8],
        flags: i32,
    ) -> Result<String, ErrorCode> {
        let out = self.write(id, create_op(path, data, flags))?;
        Ok(created_path(&Ok(out))
            .expect("create answers a path")
            .into())
    }

    pub fn delete(&mut self, id: ClientId, path: &str, version: i32) -> Result<(), ErrorCode> {
        self.write(id, delete_op(path, version)).map(|_| ())
    }

    pub fn set_data(
        &mut self,
        id: ClientId,
        path: &str,
        data: &[u8],
        version: i32,
    ) -> Result<Stat, ErrorCode> {
        match self.write(id, set_data_op(path, data, version))? {
            WriteResponse::SetData { stat } => Ok(stat),
            other => panic!("setData answered {other:?}"),
        }
    }

    fn read(&mut self, id: ClientId, req: ReadRequest) -> Result<ReadResponse, ErrorCode> {
        self.clients.read(&mut self.cluster, id, &req)
    }

    /// exists, from the client's own server (watching even a missing node when asked).
    pub fn exists(&mut self, id: ClientId, path: &str, watch: bool) -> Result<Stat, ErrorCode> {
        let path = path.into();
        match self.read(id, ReadRequest::Exists { path, watch })? {
            ReadResponse::Exists { stat } => Ok(stat),
            other => panic!("exists answered {other:?}"),
        }
    }

    pub fn get_data(
        &mut self,
        id: ClientId,
        path: &str,
        watch: bool,
    ) -> Result<(Vec<u8>, Stat), ErrorCode> {
        let path = path.into();
        match self.read(id, ReadRequest::GetData { path, watch })? {
            ReadResponse::GetData { data, stat } => Ok((data.unwrap_or_default(), stat)),
            other => panic!("getData answered {other:?}"),
        }
    }

    /// getChildren, sorted by name.
    pub fn children(
        &mut self,
        id: ClientId,
        path: &str,
        watch: bool,
    ) -> Result<Vec<String>, ErrorCode> {
        let path = path.into();
        match self.read(id, ReadRequest::GetChildren { path, watch })? {
            ReadResponse::GetChildren { mut children } => {
                children.sort();
                Ok(children)
            }
            other => panic!("getChildren answered {other:?}"),
        }
    }

    pub fn run_for(&mut self, ms: u64) {
        self.clients.run_for(&mut self.cluster, ms);
    }

    /// Sends writes without waiting; the request tags.
    pub fn submit(&mut self, id: ClientId, op: WriteOp) -> RequestTag {
        self.clients
            .submit(&mut self.cluster, id, op)
            .expect("a live client can submit")
    }

    /// Waits (bounded) for every tag's reply; the outcomes in the same order.
    pub fn await_replies(&mut self, tags: &[RequestTag]) -> Vec<WriteOutcome> {
        for _ in 0..MAX_ROUNDS {
            if tags
                .iter()
                .all(|t| !matches!(self.cluster.request(*t), Some(ClientResult::Pending)))
            {
                break;
            }
            self.run_for(ROUND_MS);
        }
        tags.iter()
            .map(|t| match self.cluster.request(*t) {
                Some(ClientResult::Replied { outcome, .. }) => outcome.clone(),
                other => panic!("seed {}: request {t} ended as {other:?}", self.seed),
            })
            .collect()
    }

    /// The zxid a reply was sent at.
    pub fn reply_zxid(&self, tag: RequestTag) -> u64 {
        match self.cluster.request(tag) {
            Some(ClientResult::Replied { zxid, .. }) => zxid.0,
            other => panic!("request {tag} ended as {other:?}"),
        }
    }

    /// Runs until each client in `expected` has at least one watch event (bounded: panics
    /// after 10 s of virtual time), then [`SETTLE_MS`] longer, and takes the events of every
    /// client. With `expected` empty it just runs [`SETTLE_MS`]: what arrives then is what a
    /// test asserts did not happen.
    pub fn events_after(&mut self, expected: &[ClientId]) -> BTreeMap<ClientId, Vec<WatchedEvent>> {
        let mut rounds = 0;
        while !expected.iter().all(|id| self.has_events(*id)) {
            rounds += 1;
            assert!(
                rounds <= MAX_ROUNDS,
                "seed {}: clients {expected:?} got no watch event within 10 s",
                self.seed
            );
            self.run_for(ROUND_MS);
        }
        self.run_for(SETTLE_MS);
        self.take_all_events()
    }

    pub fn has_events(&self, id: ClientId) -> bool {
        self.clients.get(id).is_some_and(|c| !c.events.is_empty())
    }

    pub fn take_all_events(&mut self) -> BTreeMap<ClientId, Vec<WatchedEvent>> {
        let ids: Vec<ClientId> = self.clients.iter().map(|(id, _)| id).collect();
        ids.into_iter()
            .map(|id| (id, self.clients.take_events(id)))
            .filter(|(_, ev)| !ev.is_empty())
            .collect()
    }

    /// No invariant broke, every running server reaches the leader's digest, and then all of
    /// them hold the same snapshot bytes (the digest check at every zxid is the checker's).
    pub fn assert_replicas_agree(&mut self) {
        if let Some(v) = self.cluster.violation() {
            panic!("seed {}: invariant violated: {v}", self.seed);
        }
        // A new leader's own last zxid is `epoch:0` until its first proposal, so "caught up"
        // is judged by state: a stable ensemble whose running servers all hold the leader's.
        let caught_up = |c: &ZkCluster| {
            let Some(target) = c.leader().and_then(|l| c.peer(l)) else {
                return false;
            };
            let target = target.machine().digest();
            c.is_stable()
                && c.nodes()
                    .values()
                    .filter_map(|n| n.peer.as_ref())
                    .all(|p| p.machine().digest() == target)
        };
        let mut rounds = 0;
        while !caught_up(&self.cluster) {
            rounds += 1;
            if rounds > MAX_ROUNDS {
                let states: Vec<String> = self
                    .cluster
                    .nodes()
                    .iter()
                    .map(|(sid, n)| match &n.peer {
                        Some(p) => format!(
                            "{sid}: {} {} {}",
                            p.state().name(),
                            p.phase().name(),
                            p.last_processed_zxid()
                        ),
                        None => format!("{sid}: down"),
                    })
                    .collect();
                panic!("seed {}: servers did not catch up: {states:?}", self.seed);
            }
            self.run_for(ROUND_MS);
        }
        let states: Vec<(Sid, u64, Vec<u8>)> = self
            .cluster
            .nodes()
            .iter()
            .filter_map(|(sid, n)| n.peer.as_ref().map(|p| (*sid, p.machine())))
            .map(|(sid, t)| (sid, t.digest(), t.to_snapshot().encode()))
            .collect();
        for w in states.windows(2) {
            assert_eq!(
                w[0].1, w[1].1,
                "seed {}: servers {} and {} differ in digest",
                self.seed, w[0].0, w[1].0
            );
            assert!(
                w[0].2 == w[1].2,
                "seed {}: servers {} and {} differ in snapshot bytes",
                self.seed,
                w[0].0,
                w[1].0
            );
        }
    }
}
