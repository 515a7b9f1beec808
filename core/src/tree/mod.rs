//! The ZooKeeper data tree: the replicated state machine ZAB orders transactions for
//! (docs/protocol.md §5, §7, §8).
//!
//! # How a host drives it
//! * **Writes.** Build a [`Request`] (session id, cxid, the connection's auth [`Id`]s, a
//!   [`WriteOp`]) and submit it to the `Peer`. The leader's prep stage ([`prep`],
//!   `StateMachine::prep`) checks it in ZooKeeper's order against the tree and its outstanding
//!   changes and turns it into a [`Txn`] (ZooKeeper's `CreateTxn`, `SetDataTxn`, `ErrorTxn`,
//!   ...); every replica applies that transaction through [`StateMachine::apply`], which
//!   returns the response or the error code ([`WriteOutcome`]). A failed write still takes a
//!   zxid.
//! * **Reads** are served by the local server: [`DataTree::read`] (registers watches for
//!   `watch: true`), or the typed helpers ([`DataTree::get_data`] and friends).
//! * **Watches** are server-local: [`DataTree::add_watch`], [`DataTree::remove_watches`],
//!   [`DataTree::set_watches`], [`DataTree::remove_connection`]. Events fired by `apply` queue
//!   inside the tree; drain them with [`DataTree::take_watch_events`] after each peer step.
//! * **Sessions.** The accepting server picks the id ([`initial_session_id`],
//!   [`next_session_id`]), negotiates the timeout ([`negotiate_timeout`]) and proposes
//!   [`WriteOp::CreateSession`]; the password is [`session_password`]. A reconnect anywhere is
//!   checked with [`DataTree::validate_session`]. Expiry is leader-local (the trait's
//!   `leader_tick` / `touch_session` / `on_leading`).
//! * **Snapshots.** [`TreeSnapshot`] is what SNAP sync carries; [`TreeSnapshot::encode`] and
//!   [`TreeSnapshot::decode`] give the deterministic bytes for files and sockets.
//!
//! What is replicated (nodes, sessions, the config that decides validation) goes into the
//! snapshot and the [`digest`](DataTree::digest); watch tables, queued events and expiry
//! deadlines do not.

pub mod acl;
mod apply;
mod digest;
pub mod error;
pub mod path;
pub mod prep;
mod read;
pub mod reconfig;
pub mod request;
pub mod session;
pub mod snapshot;
pub mod stat;
pub mod txn;
pub mod watch;

#[cfg(test)]
mod apply_tests;
#[cfg(test)]
mod prep_tests;
#[cfg(test)]
mod prop_tests;
#[cfg(test)]
mod session_read_tests;
#[cfg(test)]
mod watch_tests;

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::vec::Vec;

pub use acl::{authenticate, digest_id, perms, Acl, AuthConfig, Id};
pub use error::ErrorCode;
pub use prep::{ChangeRecord, NodeView, OutstandingChanges};
pub use request::*;
pub use session::{
    initial_session_id, negotiate_timeout, next_session_id, session_password, Session,
};
pub use snapshot::{NodeRecord, SnapshotError, TreeSnapshot};
pub use stat::{CreateMode, Stat, StatPersisted};
pub use txn::*;
pub use watch::{ConnId, EventType, WatchedEvent};

use crate::machine::{PrepSummary, StateMachine, TxnContext};
use crate::time::Instant;
use session::ExpiryTracker;
use stat::EphemeralKind;
use watch::WatchManager;

/// `jute.maxbuffer`'s default: 1 MiB − 1.
pub const DEFAULT_MAX_BUFFER_BYTES: u32 = 0xfffff;

/// Settings that decide how transactions validate; every server of an ensemble must agree on
/// them (as on ZooKeeper's system properties), so they travel in the snapshot.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TreeConfig {
    /// `zookeeper.extendedTypesEnabled` (TTL nodes). On by default in ZabLab.
    pub extended_types: bool,
    /// `jute.maxbuffer`. ZooKeeper refuses larger packets at the wire by closing the
    /// connection; the tree refuses data above it with BadArguments.
    pub max_buffer_bytes: u32,
    /// tickTime, the bucket width of session expiry.
    pub tick_time_ms: u64,
    /// `znode.container.checkIntervalMs`: how often the leader looks for empty containers and
    /// expired TTL nodes.
    pub container_check_interval_ms: u64,
    pub auth: AuthConfig,
}

impl Default for TreeConfig {
    fn default() -> TreeConfig {
        TreeConfig {
            extended_types: true,
            max_buffer_bytes: DEFAULT_MAX_BUFFER_BYTES,
            tick_time_ms: 3000,
            container_check_interval_ms: 60_000,
            auth: AuthConfig::default(),
        }
    }
}

/// A znode in memory: its record plus the names of its children.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) struct ZNode {
    pub(crate) rec: NodeRecord,
    pub(crate) children: BTreeSet<String>,
}

/// The ZooKeeper data tree. See the module doc for how to drive it.
#[derive(Clone, Debug)]
pub struct DataTree {
    pub(crate) config: TreeConfig,
    pub(crate) nodes: BTreeMap<String, ZNode>,
    pub(crate) sessions: BTreeMap<i64, Session>,
    // Derived from the above (rebuilt on restore).
    pub(crate) ephemerals: BTreeMap<i64, BTreeSet<String>>,
    /// Containers and TTL nodes, which the leader may delete.
    pub(crate) containers: BTreeSet<String>,
    pub(crate) digest: u64,
    // Server-local, never replicated.
    pub(crate) watches: WatchManager,
    pub(crate) conn_auth: BTreeMap<ConnId, Vec<Id>>,
    pub(crate) events: Vec<(ConnId, WatchedEvent)>,
    pub(crate) expiry: ExpiryTracker,
    pub(crate) next_container_check_ms: u64,
    /// Leader only: what prep recorded and apply has not reached yet.
    pub(crate) outstanding: OutstandingChanges,
    /// The newest member lists applied (see [`StateMachine::applied_configs`]). Derived: each
    /// reconfig transaction applied adds one; a tree restored from a snapshot knows only the
    /// one its `/zookeeper/config` text holds. Not in the snapshot (whose format is
    /// ZooKeeper's) nor in the digest.
    pub(crate) applied_configs: Vec<(crate::zxid::Zxid, crate::config::Ensemble)>,
}

impl DataTree {
    /// A fresh database with the built-in nodes (§7.5).
    pub fn new(config: TreeConfig) -> DataTree {
        let mut t = DataTree::bare(config);
        let empty = || NodeRecord {
            data: Some(Vec::new()),
            acl: acl::open_acl_unsafe(),
            stat: StatPersisted::default(),
        };
        t.insert_node(
            String::from("/"),
            NodeRecord {
                data: Some(Vec::new()),
                ..empty()
            },
        );
        t.insert_node(String::from(path::ZOOKEEPER_PATH), empty());
        t.insert_node(String::from(path::QUOTA_PATH), empty());
        t.insert_node(
            String::from(path::CONFIG_PATH),
            NodeRecord {
                data: Some(Vec::new()),
                acl: acl::read_acl_unsafe(),
                stat: StatPersisted::default(),
            },
        );
        t
    }

    fn bare(config: TreeConfig) -> DataTree {
        let tick = config.tick_time_ms;
        DataTree {
            config,
            nodes: BTreeMap::new(),
            sessions: BTreeMap::new(),
            ephemerals: BTreeMap::new(),
            containers: BTreeSet::new(),
            digest: 0,
            watches: WatchManager::default(),
            conn_auth: BTreeMap::new(),
            events: Vec::new(),
            expiry: ExpiryTracker::new(tick),
            next_container_check_ms: 0,
            outstanding: OutstandingChanges::default(),
            applied_configs: Vec::new(),
        }
    }

    pub fn config(&self) -> &TreeConfig {
        &self.config
    }

    /// Replaces the settings (all servers must use the same ones).
    pub fn set_config(&mut self, config: TreeConfig) {
        self.expiry = ExpiryTracker::new(config.tick_time_ms);
        self.config = config;
    }

    /// Sets the text of `/zookeeper/config` (the ensemble's membership, §2.8). Each server sets
    /// it from its own configuration; it is left out of the digest for that reason.
    pub fn set_config_text(&mut self, text: &str) {
        let data = Some(text.as_bytes().to_vec());
        self.modify(path::CONFIG_PATH, |rec| rec.data = data);
    }

    /// The number of znodes, the root included (`mntr`'s znode_count).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The replicated session table.
    pub fn sessions(&self) -> &BTreeMap<i64, Session> {
        &self.sessions
    }

    /// When the leader's expiry queue closes `session_id` unless the session is touched first
    /// (virtual ms, rounded up to a tickTime bucket as `ExpiryQueue` does). `None` on a
    /// learner, before the session's first tick, or for an unknown session. Read-only: for
    /// the lab's countdowns.
    pub fn session_expiry_ms(&self, session_id: i64) -> Option<u64> {
        self.expiry.deadline_of(session_id)
    }

    /// True when `session_id` is live and `password` is its password: how any server
    /// validates a reconnecting client (sessions are replicated, so it may have moved here).
    pub fn validate_session(&self, session_id: i64, password: &[u8]) -> bool {
        self.sessions.contains_key(&session_id) && password == session_password(session_id)
    }

    /// The stat of a node as clients see it.
    pub(crate) fn stat_of(&self, node: &ZNode) -> Stat {
        let len = node.rec.data.as_ref().map_or(0, |d| d.len()) as i32;
        node.rec
            .stat
            .to_stat(len, node.children.len() as i32, self.config.extended_types)
    }

    pub(crate) fn kind_of(&self, owner: i64) -> EphemeralKind {
        stat::ephemeral_kind(owner, self.config.extended_types)
    }

    // ---- mutation primitives: every change goes through these so the digest and the derived
    // indexes stay exact (and multi's rollback restores them exactly).

    /// Adds a node (its parent, if any, must exist) and links it under the parent.
    pub(crate) fn insert_node(&mut self, p: String, rec: NodeRecord) {
        self.digest = self.digest.wrapping_add(digest::node_hash(&p, &rec));
        self.index_add(&p, rec.stat.ephemeral_owner);
        if let Some(parent) = path::parent_of(&p) {
            if let Some(pn) = self.nodes.get_mut(parent) {
                pn.children.insert(String::from(path::name_of(&p)));
            }
        }
        self.nodes.insert(
            p,
            ZNode {
                rec,
                children: BTreeSet::new(),
            },
        );
    }

    /// Removes a node (and unlinks it from its parent). The caller has checked it is a leaf.
    pub(crate) fn remove_node(&mut self, p: &str) -> Option<NodeRecord> {
        let node = self.nodes.remove(p)?;
        self.digest = self.digest.wrapping_sub(digest::node_hash(p, &node.rec));
        self.index_remove(p, node.rec.stat.ephemeral_owner);
        if let Some(parent) = path::parent_of(p) {
            if let Some(pn) = self.nodes.get_mut(parent) {
                pn.children.remove(path::name_of(p));
            }
        }
        Some(node.rec)
    }

    /// Changes a node's record in place (not its ephemeral owner).
    pub(crate) fn modify(&mut self, p: &str, f: impl FnOnce(&mut NodeRecord)) {
        if let Some(node) = self.nodes.get_mut(p) {
            let before = digest::node_hash(p, &node.rec);
            f(&mut node.rec);
            let after = digest::node_hash(p, &node.rec);
            self.digest = self.digest.wrapping_sub(before).wrapping_add(after);
        }
    }

    pub(crate) fn put_session(&mut self, id: i64, s: Session) {
        if let Some(old) = self.sessions.insert(id, s) {
            self.digest = self.digest.wrapping_sub(digest::session_hash(id, &old));
        }
        self.digest = self.digest.wrapping_add(digest::session_hash(id, &s));
    }

    pub(crate) fn drop_session(&mut self, id: i64) -> Option<Session> {
        let old = self.sessions.remove(&id)?;
        self.digest = self.digest.wrapping_sub(digest::session_hash(id, &old));
        Some(old)
    }

    fn index_add(&mut self, p: &str, owner: i64) {
        match self.kind_of(owner) {
            EphemeralKind::Session(s) => {
                self.ephemerals
                    .entry(s)
                    .or_default()
                    .insert(String::from(p));
            }
            EphemeralKind::Container | EphemeralKind::Ttl(_) => {
                self.containers.insert(String::from(p));
            }
            EphemeralKind::Persistent => {}
        }
    }

    fn index_remove(&mut self, p: &str, owner: i64) {
        match self.kind_of(owner) {
            EphemeralKind::Session(s) => {
                if let Some(set) = self.ephemerals.get_mut(&s) {
                    set.remove(p);
                    if set.is_empty() {
                        self.ephemerals.remove(&s);
                    }
                }
            }
            EphemeralKind::Container | EphemeralKind::Ttl(_) => {
                self.containers.remove(p);
            }
            EphemeralKind::Persistent => {}
        }
    }

    /// The digest recomputed from scratch (tests compare it with the incremental one).
    pub fn recompute_digest(&self) -> u64 {
        let nodes = self.nodes.iter().map(|(p, n)| digest::node_hash(p, &n.rec));
        let sessions = self
            .sessions
            .iter()
            .map(|(id, s)| digest::session_hash(*id, s));
        nodes.chain(sessions).fold(0u64, |a, h| a.wrapping_add(h))
    }

    /// The replicated state as a snapshot.
    pub fn to_snapshot(&self) -> TreeSnapshot {
        TreeSnapshot {
            config: self.config.clone(),
            nodes: self
                .nodes
                .iter()
                .map(|(p, n)| (p.clone(), n.rec.clone()))
                .collect(),
            sessions: self.sessions.clone(),
        }
    }

    /// A tree holding a snapshot's state (no watches, no expiry deadlines). A node whose
    /// parent is missing is dropped ([`TreeSnapshot::decode`] never yields one).
    pub fn from_snapshot(s: &TreeSnapshot) -> DataTree {
        let mut t = DataTree::bare(s.config.clone());
        for (p, rec) in &s.nodes {
            let parent_ok = match path::parent_of(p) {
                None => p == "/",
                Some(parent) => t.nodes.contains_key(parent),
            };
            if parent_ok {
                t.insert_node(p.clone(), rec.clone());
            }
        }
        for (id, sess) in &s.sessions {
            t.put_session(*id, *sess);
        }
        t.applied_configs = t.config_in_text().into_iter().collect();
        t
    }

    /// The text of `/zookeeper/config` (empty when it has no data or is not UTF-8).
    pub fn config_text(&self) -> &str {
        self.nodes
            .get(path::CONFIG_PATH)
            .and_then(|n| n.rec.data.as_deref())
            .and_then(|d| core::str::from_utf8(d).ok())
            .unwrap_or("")
    }

    /// The member list `/zookeeper/config` holds and its version: the `version=` line, else
    /// the node's mzxid. `None` when the text names no server, or its version is zero (the
    /// configuration a server starts with, which is not a reconfig's: [`Self::set_config_text`]
    /// writes such texts).
    ///
    /// This is all a restored tree knows of past reconfigs: a snapshot holds applied state, of
    /// which the config text is the newest configuration. The one before it is lost, which
    /// costs nothing: the peer treats a restored server's newest list as pending (it cannot
    /// tell locally that it committed, e.g. from a SNAP of a leader not yet established) and
    /// the list it started with as active until a leader's sync settles it, exactly as after
    /// replaying a log with one reconfig in it (docs/protocol.md §2.8).
    fn config_in_text(&self) -> Option<(crate::zxid::Zxid, crate::config::Ensemble)> {
        let text = self.config_text();
        let members = reconfig::parse_members(text)?;
        let version = reconfig::parse_version(text).or_else(|| {
            self.nodes
                .get(path::CONFIG_PATH)
                .and_then(|n| u64::try_from(n.rec.stat.mzxid).ok())
                .map(crate::zxid::Zxid)
        })?;
        (version > crate::zxid::Zxid::ZERO).then_some((version, members))
    }

    /// Watch events fired since the last call, in the order the transactions applied.
    pub fn take_watch_events(&mut self) -> Vec<(ConnId, WatchedEvent)> {
        core::mem::take(&mut self.events)
    }

    /// Leader only: closeSession requests for sessions whose deadline passed, and
    /// deleteContainer requests for empty containers and expired TTL nodes (prep checks them
    /// against the outstanding changes like any request).
    pub fn expired_requests(&mut self, now: Instant) -> Vec<Request> {
        let sessions = &self.sessions;
        let expired = self
            .expiry
            .expire(now, |s| sessions.get(&s).map(|x| x.timeout_ms));
        let mut out: Vec<Request> = expired
            .into_iter()
            .map(|s| Request::new(s, 0, Vec::new(), WriteOp::CloseSession))
            .collect();
        if now.as_millis() >= self.next_container_check_ms {
            self.next_container_check_ms = now
                .as_millis()
                .saturating_add(self.config.container_check_interval_ms.max(1));
            for p in &self.containers {
                let Some(node) = self.nodes.get(p) else {
                    continue;
                };
                if !node.children.is_empty() {
                    continue;
                }
                let due = match self.kind_of(node.rec.stat.ephemeral_owner) {
                    EphemeralKind::Container => node.rec.stat.cversion > 0,
                    EphemeralKind::Ttl(ttl) => {
                        (now.as_millis() as i64).saturating_sub(node.rec.stat.mtime) > ttl
                    }
                    _ => false,
                };
                if due {
                    out.push(Request::new(
                        0,
                        0,
                        Vec::new(),
                        WriteOp::DeleteContainer { path: p.clone() },
                    ));
                }
            }
        }
        out
    }
}

impl Default for DataTree {
    fn default() -> DataTree {
        DataTree::new(TreeConfig::default())
    }
}

impl StateMachine for DataTree {
    type Request = Request;
    type Txn = Txn;
    type Outcome = WriteOutcome;
    type Snapshot = TreeSnapshot;

    fn empty() -> Self {
        DataTree::default()
    }

    fn prep(&mut self, ctx: &TxnContext, request: &Request) -> Txn {
        self.prep_request(ctx, request)
    }

    fn apply(&mut self, ctx: &TxnContext, txn: &Txn) -> WriteOutcome {
        let outcome = self.apply_txn(ctx, txn);
        if let Some(members) = reconfig::txn_members(txn) {
            reconfig::push_config(
                &mut self.applied_configs,
                ctx.zxid,
                members,
                crate::machine::APPLIED_CONFIGS_KEPT,
            );
        }
        outcome
    }

    fn txn_label(txn: &Txn) -> String {
        txn.body.label()
    }

    fn prep_summary(request: &Request, txn: &Txn) -> Option<PrepSummary> {
        let err = match &txn.body {
            TxnBody::Error(e) => e.err.code(),
            TxnBody::Multi(m) => m
                .txns
                .iter()
                .filter_map(|t| match &t.body {
                    TxnBody::Error(e) if e.err != ErrorCode::Ok => Some(e.err.code()),
                    _ => None,
                })
                .next()
                .unwrap_or(0),
            _ => 0,
        };
        Some(PrepSummary {
            request_type: request.op.opcode(),
            txn_type: txn.txn_type,
            err,
        })
    }

    fn snapshot(&self) -> TreeSnapshot {
        self.to_snapshot()
    }

    fn restore(snapshot: &TreeSnapshot) -> Self {
        DataTree::from_snapshot(snapshot)
    }

    fn digest(&self) -> u64 {
        self.digest
    }

    fn txn_log_bytes(txn: &Txn) -> u64 {
        crate::machine::TXN_RECORD_OVERHEAD + txn.encoded_len()
    }

    fn snapshot_bytes(snapshot: &TreeSnapshot) -> u64 {
        snapshot.encoded_len()
    }

    fn leader_tick(&mut self, now: Instant) -> Vec<Request> {
        self.expired_requests(now)
    }

    fn touch_session(&mut self, session_id: i64, timeout_ms: i32, now: Instant) {
        if self.sessions.contains_key(&session_id) {
            self.expiry.touch(session_id, timeout_ms, now);
        }
    }

    fn on_leading(&mut self, now: Instant) {
        self.expiry.clear();
        let all: Vec<(i64, i32)> = self
            .sessions
            .iter()
            .map(|(id, s)| (*id, s.timeout_ms))
            .collect();
        for (id, t) in all {
            self.expiry.touch(id, t, now);
        }
        self.next_container_check_ms = now.as_millis();
        self.outstanding.clear();
    }

    fn on_stop_leading(&mut self) {
        self.outstanding.clear();
    }

    /// ZooKeeper's reconfig transaction: a SetDataTxn (type 16) of `/zookeeper/config` with
    /// the new configuration's text ([`reconfig::config_text`]). A member's spec is the one
    /// the request gives, else its `server.N=` line in this tree's current config text, else
    /// a placeholder ([`reconfig::placeholder_spec`]: the simulator's trees start with no
    /// config text). Like ZooKeeper's it records no change in the outstanding-changes view
    /// (only a superuser could write `/zookeeper/config` otherwise; its ACL is read-only).
    fn reconfig_txn(
        &self,
        members: &crate::config::Ensemble,
        request: &crate::reconfig::ReconfigRequest,
        version: crate::zxid::Zxid,
    ) -> Option<Txn> {
        let current = self.config_text();
        let text = reconfig::config_text(members, version, |sid| {
            request.spec_of(sid).or_else(|| {
                reconfig::server_lines(current)
                    .find(|(s, _)| *s == sid)
                    .map(|(_, spec)| spec)
            })
        });
        Some(reconfig::reconfig_txn_of(text))
    }

    fn txn_members(txn: &Txn) -> Option<crate::config::Ensemble> {
        reconfig::txn_members(txn)
    }

    /// PrepRequestProcessor's last reconfig check: WRITE on `/zookeeper/config` (its ACL is
    /// world:anyone read, so only the super user or skipACL passes) with the requester's ids.
    fn reconfig_permitted(&self, request: &crate::reconfig::ReconfigRequest) -> bool {
        let ids: Vec<Id> = request
            .auth
            .iter()
            .map(|(scheme, id)| Id {
                scheme: scheme.clone(),
                id: id.clone(),
            })
            .collect();
        let Ok((acl, _)) = self.get_acl(&[], path::CONFIG_PATH) else {
            return false;
        };
        acl::check_acl(&self.config.auth, &acl, acl::perms::WRITE, &ids).is_ok()
    }

    fn applied_configs(&self) -> &[(crate::zxid::Zxid, crate::config::Ensemble)] {
        &self.applied_configs
    }

    /// An ErrorTxn (type -1) with `code`; `None` for a code ZooKeeper does not define.
    fn error_txn(code: i32) -> Option<Txn> {
        let err = ErrorCode::from_code(code)?;
        Some(Txn {
            client_id: 0,
            cxid: 0,
            txn_type: op_code::ERROR,
            body: TxnBody::Error(ErrorTxn { err }),
        })
    }
}
