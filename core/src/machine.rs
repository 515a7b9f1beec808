//! The replicated state machine is pluggable: ZAB orders and delivers transactions, a
//! [`StateMachine`] gives them meaning. The ZooKeeper data tree ([`crate::tree`]) is the real one;
//! [`ChainMachine`] is a small one for protocol tests whose state is a hash chain over
//! everything it applied, so two replicas with equal digests at a zxid applied equal histories.
//!
//! The pipeline is ZooKeeper's: a client's [`StateMachine::Request`] reaches the leader (a
//! learner forwards it in a REQUEST packet), the leader's [`StateMachine::prep`] turns it into
//! a [`StateMachine::Txn`] at the zxid it will propose it under (PrepRequestProcessor), and
//! only that transaction is proposed, logged, sent in DIFF and SNAP sync and applied
//! ([`StateMachine::apply`]) on every replica in zxid order. Prep checks the request against
//! the applied state *and* the leader's outstanding changes (prepped, not yet applied), so a
//! failed request becomes an idempotent error transaction (ZooKeeper's `ErrorTxn`) that still
//! takes a zxid, and every replica answers the client the same without re-checking.
//!
//! The outstanding-changes view belongs to the machine: `prep` adds to it, `apply` of a zxid
//! retires what that zxid covers, and [`StateMachine::on_leading`] /
//! [`StateMachine::on_stop_leading`] drop it. A new leader has applied its whole log (the
//! peer fast-forwards on entering LOOKING, and NEWLEADER commits that log as the new epoch's
//! initial history) before it preps anything, so prep sees every transaction a previous epoch
//! left logged but uncommitted.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Debug;

use crate::config::Ensemble;
use crate::reconfig::ReconfigRequest;
use crate::time::Instant;
use crate::zxid::{Sid, Zxid};

/// What a replica knows about a transaction besides its body (ZooKeeper's `TxnHeader`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct TxnContext {
    pub zxid: Zxid,
    /// The leader's clock when it proposed (ZooKeeper's `TxnHeader.time`, used for ctime/mtime).
    pub time_ms: u64,
    /// The server whose client sent the request, if any.
    pub origin: Option<Sid>,
}

/// A state machine ZAB can replicate.
pub trait StateMachine: Sized {
    /// A client's write as the accepting server hands it to the leader (ZooKeeper's `Request`).
    type Request: Clone + Debug + PartialEq;
    /// A transaction as the leader proposes it, logs it and every replica applies it.
    type Txn: Clone + Debug + PartialEq;
    /// The result of applying a transaction, returned to the client that sent it.
    type Outcome: Clone + Debug + PartialEq;
    /// A full copy of the state, used for SNAP sync and snapshot files.
    type Snapshot: Clone + Debug;

    /// An empty database.
    fn empty() -> Self;
    /// Leader only: the transaction `request` becomes when proposed at `ctx.zxid`, checked
    /// against the applied state and every change prepped before it; records its own changes
    /// as outstanding until `apply` reaches `ctx.zxid`. Called in zxid order.
    fn prep(&mut self, ctx: &TxnContext, request: &Self::Request) -> Self::Txn;
    /// Applies a committed (or, while replaying a log on recovery, logged) transaction without
    /// checking it (prep did), and retires the outstanding changes up to `ctx.zxid`.
    fn apply(&mut self, ctx: &TxnContext, txn: &Self::Txn) -> Self::Outcome;
    /// What the trace shows of one prep (request opcode → transaction type or error); `None`
    /// for a machine with nothing to show (the trace then has no prep event).
    fn prep_summary(_request: &Self::Request, _txn: &Self::Txn) -> Option<PrepSummary> {
        None
    }
    /// A few words for `txn` in a status record's log ([`crate::trace::PeerStatus`]), e.g.
    /// `setData /a`; the default is its debug form.
    fn txn_label(txn: &Self::Txn) -> String {
        alloc::format!("{txn:?}")
    }
    fn snapshot(&self) -> Self::Snapshot;
    fn restore(snapshot: &Self::Snapshot) -> Self;
    /// A hash of the replicated state; equal states have equal digests.
    fn digest(&self) -> u64;

    /// About how many bytes `txn` takes in a transaction-log record, headers included: the
    /// leader weighs a DIFF from its log against `snapshotSizeFactor` × the snapshot.
    fn txn_log_bytes(_txn: &Self::Txn) -> u64 {
        TXN_RECORD_OVERHEAD
    }
    /// About how many bytes `snapshot` takes on disk; 0 when unknown, which (like ZooKeeper
    /// with no snapshot file) puts no size limit on a DIFF from the transaction log.
    fn snapshot_bytes(_snapshot: &Self::Snapshot) -> u64 {
        0
    }

    /// Leader only, called every tick: requests the leader makes on its own (ZooKeeper's
    /// session expiry, which submits `closeSession`); they are prepped like a client's.
    fn leader_tick(&mut self, _now: Instant) -> Vec<Self::Request> {
        Vec::new()
    }
    /// Leader only: a session was seen alive (directly or through a follower's PING).
    fn touch_session(&mut self, _session_id: i64, _timeout_ms: i32, _now: Instant) {}
    /// Leader only: this server just became the established leader; rebuild leader-local
    /// tracking (e.g. give every session a fresh expiry deadline, as ZooKeeper does) and start
    /// from an empty outstanding-changes view (its whole log is applied by now).
    fn on_leading(&mut self, _now: Instant) {}
    /// This server stopped leading: drop the outstanding-changes view. The prepped
    /// transactions are in the log, so the fast-forward on entering LOOKING applies them, and
    /// a stale view must never be consulted by a later leadership (ZooKeeper throws the
    /// leader's ZooKeeperServer, and its outstandingChanges, away).
    fn on_stop_leading(&mut self) {}

    /// Reconfig (docs/protocol.md §2.8), leader only: the transaction that installs the
    /// member list `members`, which the client's `request` asked for, as the configuration
    /// with version `version` (the zxid the transaction will be proposed under). `self` is
    /// the leader's applied state (e.g. the current config text, for the members the request
    /// gives no spec for). `None` when this machine cannot carry one (the leader then answers
    /// reconfig as disabled).
    fn reconfig_txn(
        &self,
        _members: &Ensemble,
        _request: &ReconfigRequest,
        _version: Zxid,
    ) -> Option<Self::Txn> {
        None
    }
    /// The transaction that answers a failed request with ZooKeeper's error `code` (an
    /// `ErrorTxn`): the leader proposes it for a reconfig forwarded by a learner that fails
    /// its checks, so the learner answers its client when it commits (PrepRequestProcessor
    /// does the same for every failed request). `None` when this machine has none: the
    /// leader then drops the request, and the learner fails it when it loses its leader.
    fn error_txn(_code: i32) -> Option<Self::Txn> {
        None
    }
    /// Whether `request`'s requester may reconfigure (ZooKeeper: WRITE on `/zookeeper/config`
    /// with its auth ids, the leader's last check). Machines without ACLs permit everyone.
    fn reconfig_permitted(&self, _request: &ReconfigRequest) -> bool {
        true
    }
    /// The member list `txn` installs, if it is a reconfig transaction.
    fn txn_members(_txn: &Self::Txn) -> Option<Ensemble> {
        None
    }
    /// The newest member lists applied, oldest first, at most [`APPLIED_CONFIGS_KEPT`], each
    /// with its version (the zxid of its reconfig): ZooKeeper keeps the newest in
    /// `/zookeeper/config`, so it travels in snapshots and SNAP sync like any data.
    fn applied_configs(&self) -> &[(Zxid, Ensemble)] {
        &[]
    }
}

/// How many applied configurations a machine keeps: the newest and the one before it. One
/// reconfig at a time means the one before the newest was committed, so a server that cannot
/// tell whether the newest committed (after a restart) needs quorums of just these two.
pub const APPLIED_CONFIGS_KEPT: usize = 2;

/// One prep as the trace shows it (docs/trace-format.md, `Prepped`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PrepSummary {
    /// The request's opcode (create 1, setData 5, multi 14, closeSession -11, ...).
    pub request_type: i32,
    /// `TxnHeader.type` of the transaction: the opcode, or -1 for an ErrorTxn.
    pub txn_type: i32,
    /// The ErrorTxn's code (0 when the request succeeded; for a multi, its first failing
    /// sub-op's code).
    pub err: i32,
}

/// The bytes a ZooKeeper transaction-log record takes besides its transaction body: the
/// checksum (8), the length (4), the TxnHeader (clientId 8, cxid 4, zxid 8, time 8, type 4)
/// and the end-of-record byte.
pub const TXN_RECORD_OVERHEAD: u64 = 45;

/// A protocol-test state machine: each transaction is a write id; the state is a 64-bit hash
/// chain over `(zxid, id)` plus the ids in order.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ChainMachine {
    pub chain: u64,
    pub writes: Vec<u64>,
    /// The member lists its reconfig transactions installed (see
    /// [`StateMachine::applied_configs`]); reconfig words are not client writes.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Vec::is_empty")
    )]
    pub configs: Vec<(Zxid, Ensemble)>,
}

/// SplitMix-style mixing; not cryptographic, but a collision in a test run is not a concern.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The chain machine's requests need no preparing: prep is the identity.
impl StateMachine for ChainMachine {
    type Request = u64;
    type Txn = u64;
    type Outcome = u64;
    type Snapshot = ChainMachine;

    fn empty() -> Self {
        ChainMachine::default()
    }

    fn prep(&mut self, _ctx: &TxnContext, request: &u64) -> u64 {
        *request
    }

    fn apply(&mut self, ctx: &TxnContext, txn: &u64) -> u64 {
        self.chain = mix64(self.chain ^ mix64(ctx.zxid.0 ^ mix64(*txn)));
        match crate::reconfig::chain_decode(*txn) {
            Some(members) => {
                if self.configs.len() >= APPLIED_CONFIGS_KEPT {
                    self.configs.remove(0);
                }
                self.configs.push((ctx.zxid, members));
            }
            None => self.writes.push(*txn),
        }
        self.chain
    }

    fn snapshot(&self) -> ChainMachine {
        self.clone()
    }

    fn restore(snapshot: &ChainMachine) -> Self {
        snapshot.clone()
    }

    fn digest(&self) -> u64 {
        self.chain
    }

    fn txn_log_bytes(_txn: &u64) -> u64 {
        TXN_RECORD_OVERHEAD + 8
    }

    fn snapshot_bytes(snapshot: &ChainMachine) -> u64 {
        16 + 8 * snapshot.writes.len() as u64
    }

    /// The chain word carries the member list only: specs and version are not kept.
    fn reconfig_txn(
        &self,
        members: &Ensemble,
        _request: &ReconfigRequest,
        _version: Zxid,
    ) -> Option<u64> {
        crate::reconfig::chain_encode(members)
    }

    fn txn_members(txn: &u64) -> Option<Ensemble> {
        crate::reconfig::chain_decode(*txn)
    }

    fn applied_configs(&self) -> &[(Zxid, Ensemble)] {
        &self.configs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(counter: u32) -> TxnContext {
        TxnContext {
            zxid: Zxid::new(1, counter),
            time_ms: 0,
            origin: None,
        }
    }

    #[test]
    fn chain_digest_depends_on_order_and_zxid() {
        let (mut a, mut b) = (ChainMachine::empty(), ChainMachine::empty());
        a.apply(&ctx(1), &10);
        a.apply(&ctx(2), &20);
        b.apply(&ctx(1), &20);
        b.apply(&ctx(2), &10);
        assert_ne!(a.digest(), b.digest());
        let c = ChainMachine::restore(&a.snapshot());
        assert_eq!(c.digest(), a.digest());
    }
}
