//! The [`Peer`]: one ZooKeeper server's protocol state, driven by its host.
//!
//! ```text
//!   host                                   Peer<M>
//!   ────                                   ───────
//!   Input::Start ───────────────────────▶  LOOKING: FastLeaderElection (election.rs)
//!   Input::Receive{from, msg} ──────────▶  LEADING: discovery, sync, broadcast (zab/leader*.rs)
//!   Input::Tick   (at next_deadline()) ─▶  FOLLOWING/OBSERVING: the learner (zab/learner.rs)
//!   Input::Persisted{id} ───────────────▶  releases what waited for durability
//!   Input::ClientWrite / ClientSync ────▶  prepped + proposed (leader) or forwarded (learner)
//!                          ◀─────────────  Output::Send / Persist / Reply / SyncDone /
//!                                          RequestFailed / Disconnect / Trace
//! ```
//!
//! **Driving contract.**
//! 1. Build with [`Peer::new`] (empty disk) or [`Peer::recover`] (after a crash: the durable
//!    state the host kept), then step it with [`Input::Start`].
//! 2. Call [`Peer::step`] with the current time for every input. It appends outputs to `out`;
//!    execute them in order.
//! 3. Whenever `now >= next_deadline()`, step with [`Input::Tick`]. Ticks early are harmless.
//! 4. Execute each `Output::Persist { id, op }` in issue order and, once it is durable, step
//!    with `Input::Persisted { id }` (one call may acknowledge every id up to `id`). The peer
//!    sends nothing that depends on unpersisted data: ACK after the proposal is logged,
//!    ACKEPOCH after acceptedEpoch is written, the NEWLEADER ACK after the synced transactions
//!    and currentEpoch are durable.
//! 5. A crash is not an input: drop the peer, keep only what was persisted, call `recover`.
//! 6. Messages between two peers must arrive in the order sent (ZAB assumes FIFO links); they
//!    may be lost. When a connection to a peer breaks, step with `Input::PeerDisconnected`.
//!    What each output asks of the host, and what both hosts assume, is the host contract on
//!    [`Output`] (`core/src/peer/host_contract.md`).
//!
//! The peer never reads a clock, does IO or draws randomness, and uses only ordered containers,
//! so the same inputs always give the same outputs.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;

use crate::config::PeerConfig;
use crate::durable::{DurableState, LogEntry, PersistOp};
use crate::election::Election;
use crate::machine::StateMachine;
use crate::message::{Forwarded, Message, PeerState, SessionTouch, Vote};
use crate::time::Instant;
use crate::trace::{GiveUpReason, ResetReason, TraceEvent, ZabPhase};
use crate::zab::{leader::Leader, learner::Learner};
use crate::zxid::{Epoch, Sid, Zxid};

pub use crate::durable::RequestTag;

mod reconfig;
mod store;
mod timers;

pub use timers::{PeerTimer, TimerKind};

/// A message between peers of a given state machine.
pub type PeerMessage<M> =
    Message<<M as StateMachine>::Txn, <M as StateMachine>::Snapshot, <M as StateMachine>::Request>;
/// A persist request of a given state machine.
pub type PeerPersistOp<M> = PersistOp<<M as StateMachine>::Txn, <M as StateMachine>::Snapshot>;
/// The durable state of a given state machine.
pub type PeerDurable<M> = DurableState<<M as StateMachine>::Txn, <M as StateMachine>::Snapshot>;

/// Everything that can happen to a peer.
#[derive(Clone, Debug)]
pub enum Input<M: StateMachine> {
    /// The server process started: enter LOOKING.
    Start,
    /// Time passed; timers due at or before `now` fire.
    Tick,
    /// A message from another server.
    Receive { from: Sid, msg: PeerMessage<M> },
    /// Every persist request up to and including `id` is durable.
    Persisted { id: u64 },
    /// The current quorum connection with `peer` closed or broke: EOF, a reset, a failed dial,
    /// the other end's `Output::Disconnect`, a lost packet (see the host contract on
    /// [`Output`]). Never for a replaced connection or an election link.
    PeerDisconnected { peer: Sid },
    /// A client of this server asks for a write: the leader preps and proposes it, a
    /// learner forwards it.
    ClientWrite {
        tag: RequestTag,
        request: M::Request,
    },
    /// A client of this server asks for `sync`: answered once everything the leader proposed
    /// before it is applied here.
    ClientSync { tag: RequestTag },
    /// A client session connected to this server is alive (sent to the leader with the next PING).
    SessionTouch { session_id: i64, timeout_ms: i32 },
    /// A client of this server asks for `reconfig` (docs/protocol.md §2.8): the leader checks
    /// and proposes it; answered with `Reply` once committed (the outcome of applying the
    /// reconfig transaction), or `ReconfigFailed`. Only the leader takes one: a learner
    /// answers `RequestFailed` (it does not forward reconfigs yet).
    ClientReconfig {
        tag: RequestTag,
        request: crate::reconfig::ReconfigRequest,
    },
}

#[doc = include_str!("peer/host_contract.md")]
#[derive(Clone, Debug)]
pub enum Output<M: StateMachine> {
    /// Send `msg` to server `to`: over the election port for a notification, else on the
    /// quorum connection with `to`, which a FOLLOWERINFO/OBSERVERINFO opens anew.
    Send { to: Sid, msg: PeerMessage<M> },
    /// Make `op` durable, after every earlier request; then step with `Input::Persisted`.
    Persist { id: u64, op: PeerPersistOp<M> },
    /// A client write sent here was committed and applied; `outcome` is its result.
    Reply {
        tag: RequestTag,
        zxid: Zxid,
        outcome: M::Outcome,
    },
    /// A client `sync` sent here completed; this server has applied everything up to `zxid`.
    SyncDone { tag: RequestTag, zxid: Zxid },
    /// A client request sent here cannot complete (no leader, or the leader changed).
    RequestFailed { tag: RequestTag },
    /// The leader refused a client's `reconfig` (the client gets `error`'s KeeperException).
    ReconfigFailed {
        tag: RequestTag,
        error: crate::reconfig::ReconfigError,
    },
    /// Close the quorum connection with `peer` (ZooKeeper closes the learner's socket); the
    /// other end is told with `Input::PeerDisconnected`, this one is not.
    Disconnect { peer: Sid },
    /// What the peer did, for the trace; executing it changes nothing.
    Trace(TraceEvent),
}

/// The role-specific part of the state.
#[derive(Clone, Debug)]
pub(crate) enum Role<M: StateMachine> {
    Looking,
    Leader(alloc::boxed::Box<Leader<M>>),
    Learner(alloc::boxed::Box<Learner<M>>),
}

/// Something that may happen only once a persist request is durable: the condition an
/// effect waits for, named (docs/protocol.md §9.2, "Persistence obligations").
#[derive(Clone, Debug)]
pub(crate) enum AfterPersist {
    /// Learner: send `ACK(zxid)` of a proposal to the leader once the proposal is logged
    /// (§3.6: the follower appends to its log, then ACKs).
    ProposalAck { to: Sid, zxid: Zxid },
    /// Learner: send ACKEPOCH once the new acceptedEpoch is written (§3.4). `current_epoch`
    /// is `None` when the epoch was already promised (-1 on the wire).
    AckEpoch {
        to: Sid,
        last_logged_zxid: Zxid,
        current_epoch: Option<Epoch>,
    },
    /// Leader: count its own ACK of `zxid` once it logged the proposal itself (§3.6).
    LeaderSelfAck { zxid: Zxid },
    /// Leader: its acceptedEpoch for the proposed epoch is written (§3.4 step 4).
    LeaderEpochWritten,
    /// Leader: its currentEpoch is written; synchronization may start (§3.4 step 8).
    LeaderCurrentEpochWritten,
    /// Learner: send the NEWLEADER ACK (`ACK(zxid)`, zxid = `newEpoch << 32`) once the synced
    /// transactions and currentEpoch are durable (§3.5, ZOOKEEPER-3911/4646).
    LearnerNewLeaderAck { to: Sid, zxid: Zxid },
}

/// An [`AfterPersist`] action queued until persist request `persist_id` is durable.
#[derive(Clone, Debug)]
pub(crate) struct AwaitingPersist {
    /// The last persist request issued when the action was queued: it runs once the host
    /// reported this id (and so every earlier one) durable.
    pub(crate) persist_id: u64,
    /// [`Peer::generation`] when it was queued: an action of a role the peer has left is
    /// dropped, not run.
    pub(crate) generation: u64,
    pub(crate) action: AfterPersist,
}

/// One ZooKeeper server's protocol state. See the module documentation for how to drive it.
#[derive(Clone, Debug)]
pub struct Peer<M: StateMachine> {
    pub(crate) config: PeerConfig,
    pub(crate) now: Instant,
    pub(crate) started: bool,
    pub(crate) state: PeerState,
    pub(crate) phase: ZabPhase,
    pub(crate) accepted_epoch: Epoch,
    pub(crate) current_epoch: Epoch,
    /// In-memory mirror of the snapshot on disk.
    pub(crate) snapshot: Option<(Zxid, M::Snapshot)>,
    /// In-memory mirror of the transaction log after the snapshot (appends issued, in order).
    pub(crate) log: Vec<LogEntry<M::Txn>>,
    pub(crate) logged_since_snapshot: u64,
    pub(crate) machine: M,
    /// ZooKeeper's `lastProcessedZxid`: the last transaction applied to the state machine.
    pub(crate) last_processed: Zxid,
    /// The last `commit_log_count` applied transactions (ZooKeeper's `committedLog`).
    pub(crate) committed_log: VecDeque<LogEntry<M::Txn>>,
    pub(crate) election: Election,
    /// The vote this server reports while not LOOKING, and the round it was decided in.
    pub(crate) current_vote: Vote,
    pub(crate) role: Role<M>,
    /// Bumped on every role change so that stale after-persist actions are dropped.
    pub(crate) generation: u64,
    pub(crate) next_persist_id: u64,
    pub(crate) persisted_id: u64,
    /// Actions waiting for durability, in the order they were queued (ids never decrease).
    pub(crate) after_persist: VecDeque<AwaitingPersist>,
    /// Client requests of this server waiting to complete.
    pub(crate) pending_requests: BTreeMap<RequestTag, ()>,
    /// Sessions touched since the last PING reply (follower).
    pub(crate) touches: Vec<SessionTouch>,
    pub(crate) outbox: Vec<Output<M>>,
    /// The version of the active member list (`config.ensemble`): the zxid of the reconfig
    /// that made it, zero for the one the server started with (peer/reconfig.rs).
    pub(crate) active_version: Zxid,
    /// A member list that is pending: proposed by this leader and not yet committed, or
    /// found applied from the log and not known committed. Quorums need it too.
    pub(crate) joint: Option<(Zxid, crate::config::Ensemble)>,
    /// A member list was activated during this step; roles are checked at its end.
    pub(crate) reconfig_activated: bool,
}

impl<M: StateMachine> Peer<M> {
    /// A server with an empty disk.
    pub fn new(config: PeerConfig) -> Peer<M> {
        Peer::recover(config, DurableState::default())
    }

    /// A server restarting with what it had persisted: load the snapshot, replay the whole
    /// log (logged but uncommitted transactions included, as ZooKeeper does; a TRUNC from the
    /// next leader removes those that did not commit).
    pub fn recover(config: PeerConfig, durable: PeerDurable<M>) -> Peer<M> {
        let (machine, base) = match &durable.snapshot {
            Some((z, s)) => (M::restore(s), *z),
            None => (M::empty(), Zxid::ZERO),
        };
        let myid = config.myid;
        let mutations = config.mutations;
        let mut peer = Peer {
            election: Election::new(myid),
            config,
            now: Instant::ZERO,
            started: false,
            state: PeerState::Looking,
            phase: ZabPhase::Election,
            accepted_epoch: if crate::mutation::enabled(
                mutations,
                crate::mutation::Mutation::ForgetAcceptedEpoch,
            ) {
                durable.current_epoch
            } else {
                durable.accepted_epoch
            },
            current_epoch: durable.current_epoch,
            snapshot: durable.snapshot,
            log: Vec::new(),
            logged_since_snapshot: 0,
            machine,
            last_processed: base,
            committed_log: VecDeque::new(),
            current_vote: Vote {
                vote_id: 0,
                vote_zxid: Zxid::ZERO,
                peer_epoch: 0,
            },
            role: Role::Looking,
            generation: 0,
            next_persist_id: 0,
            persisted_id: 0,
            after_persist: VecDeque::new(),
            pending_requests: BTreeMap::new(),
            touches: Vec::new(),
            outbox: Vec::new(),
            active_version: Zxid::ZERO,
            joint: None,
            reconfig_activated: false,
        };
        peer.logged_since_snapshot = durable.log.len() as u64;
        peer.log = durable.log;
        peer.fast_forward();
        peer.note_applied_configs();
        let digest = peer.machine.digest();
        peer.trace(TraceEvent::StateReset {
            zxid: peer.last_processed,
            digest,
            reason: ResetReason::Recovered,
        });
        peer
    }

    /// Feeds one input at time `now`; outputs are appended to `out`.
    pub fn step(&mut self, now: Instant, input: Input<M>, out: &mut Vec<Output<M>>) {
        core::mem::swap(&mut self.outbox, out);
        if now > self.now {
            self.now = now;
        }
        match input {
            Input::Start => self.start(),
            Input::Tick => self.on_tick(),
            Input::Receive { from, msg } => self.on_message(from, msg),
            Input::Persisted { id } => self.on_persisted(id),
            Input::PeerDisconnected { peer } => self.on_disconnected(peer),
            Input::ClientWrite { tag, request } => {
                self.on_client_request(tag, Forwarded::Write(request))
            }
            Input::ClientSync { tag } => self.on_client_request(tag, Forwarded::Sync),
            Input::SessionTouch {
                session_id,
                timeout_ms,
            } => self.on_session_touch(session_id, timeout_ms),
            Input::ClientReconfig { tag, request } => self.on_client_reconfig(tag, request),
        }
        self.after_activation();
        core::mem::swap(&mut self.outbox, out);
    }

    /// When the peer next wants an `Input::Tick`.
    pub fn next_deadline(&self) -> Option<Instant> {
        if !self.started {
            return None;
        }
        match &self.role {
            Role::Looking => Some(self.election.deadline()),
            Role::Leader(l) => Some(l.next_wake),
            Role::Learner(l) => Some(l.retry_at.map_or(l.deadline, |r| r.min(l.deadline))),
        }
    }

    // ----- accessors for hosts, the UI and tests -------------------------------------------

    pub fn id(&self) -> Sid {
        self.config.myid
    }
    pub fn config(&self) -> &PeerConfig {
        &self.config
    }
    pub fn state(&self) -> PeerState {
        self.state
    }
    pub fn phase(&self) -> ZabPhase {
        self.phase
    }
    pub fn accepted_epoch(&self) -> Epoch {
        self.accepted_epoch
    }
    pub fn current_epoch(&self) -> Epoch {
        self.current_epoch
    }
    pub fn machine(&self) -> &M {
        &self.machine
    }
    /// For the host-local, non-replicated parts of the state machine only (registering
    /// watches on reads, draining watch events). Changing replicated state through this
    /// breaks agreement between replicas.
    pub fn machine_mut(&mut self) -> &mut M {
        &mut self.machine
    }
    /// ZooKeeper's `lastProcessedZxid`: the last transaction applied here.
    pub fn last_processed_zxid(&self) -> Zxid {
        self.last_processed
    }
    /// ZooKeeper's `lastLoggedZxid`: the last transaction in the log (or snapshot).
    pub fn last_logged_zxid(&self) -> Zxid {
        self.log
            .last()
            .map(|e| e.zxid)
            .or(self.snapshot.as_ref().map(|(z, _)| *z))
            .unwrap_or(Zxid::ZERO)
    }
    pub fn log(&self) -> &[LogEntry<M::Txn>] {
        &self.log
    }
    pub fn snapshot_zxid(&self) -> Option<Zxid> {
        self.snapshot.as_ref().map(|(z, _)| *z)
    }
    pub fn committed_log(&self) -> &VecDeque<LogEntry<M::Txn>> {
        &self.committed_log
    }
    pub fn election(&self) -> &Election {
        &self.election
    }
    /// The vote this server reports (its proposal while LOOKING, the elected leader otherwise).
    pub fn vote(&self) -> Vote {
        if self.state == PeerState::Looking {
            self.election.proposal
        } else {
            self.current_vote
        }
    }
    /// The leader this server follows or is, once elected.
    pub fn leader_id(&self) -> Option<Sid> {
        match &self.role {
            Role::Looking => None,
            Role::Leader(_) => Some(self.config.myid),
            Role::Learner(l) => Some(l.leader),
        }
    }
    /// The leader's view (None unless LEADING).
    pub fn leader(&self) -> Option<&Leader<M>> {
        match &self.role {
            Role::Leader(l) => Some(l),
            _ => None,
        }
    }
    /// The learner's view (None unless FOLLOWING or OBSERVING).
    pub fn learner(&self) -> Option<&Learner<M>> {
        match &self.role {
            Role::Learner(l) => Some(l),
            _ => None,
        }
    }
    /// True when this server may serve client reads and accept writes (broadcast phase).
    pub fn is_serving(&self) -> bool {
        self.phase == ZabPhase::Broadcast
    }

    // ----- shared plumbing -------------------------------------------------------------------

    /// Whether a seeded bug is switched on (constant `false` without the `mutations` feature).
    #[inline(always)]
    pub(crate) fn mutated(&self, m: crate::mutation::Mutation) -> bool {
        crate::mutation::enabled(self.config.mutations, m)
    }

    pub(crate) fn trace(&mut self, event: TraceEvent) {
        self.outbox.push(Output::Trace(event));
    }

    pub(crate) fn send(&mut self, to: Sid, msg: PeerMessage<M>) {
        self.outbox.push(Output::Send { to, msg });
    }

    /// Issues a persist request and returns its id.
    pub(crate) fn persist(&mut self, op: PeerPersistOp<M>) -> u64 {
        self.next_persist_id += 1;
        let id = self.next_persist_id;
        self.outbox.push(Output::Persist { id, op });
        id
    }

    /// Runs `action` once everything persisted so far is durable.
    pub(crate) fn after_persisted(&mut self, action: AfterPersist) {
        let id = self.next_persist_id;
        if id <= self.persisted_id {
            self.run_after_persist(action);
        } else {
            self.after_persist.push_back(AwaitingPersist {
                persist_id: id,
                generation: self.generation,
                action,
            });
        }
    }

    fn on_persisted(&mut self, id: u64) {
        debug_assert!(
            id <= self.next_persist_id,
            "Persisted {id} was never issued (last issued {})",
            self.next_persist_id
        );
        if id > self.persisted_id {
            self.persisted_id = id;
        }
        while let Some(waiting) = self.after_persist.front() {
            if waiting.persist_id > self.persisted_id {
                break;
            }
            let waiting = self.after_persist.pop_front().expect("front exists");
            if waiting.generation == self.generation {
                self.run_after_persist(waiting.action);
            }
        }
    }

    fn run_after_persist(&mut self, action: AfterPersist) {
        match action {
            AfterPersist::ProposalAck { to, zxid } => self.send(to, Message::Ack { zxid }),
            AfterPersist::AckEpoch {
                to,
                last_logged_zxid,
                current_epoch,
            } => self.send(
                to,
                Message::AckEpoch {
                    last_logged_zxid,
                    current_epoch,
                },
            ),
            AfterPersist::LeaderSelfAck { zxid } => self.leader_self_ack(zxid),
            AfterPersist::LeaderEpochWritten => self.leader_epoch_written(),
            AfterPersist::LeaderCurrentEpochWritten => self.leader_current_epoch_written(),
            AfterPersist::LearnerNewLeaderAck { to, zxid } => {
                self.learner_newleader_acked(to, zxid)
            }
        }
    }

    /// Moves to a new server state, tracing the change.
    pub(crate) fn set_state(&mut self, to: PeerState) {
        if self.state != to {
            let from = self.state;
            self.state = to;
            self.trace(TraceEvent::StateChanged { from, to });
        }
    }

    pub(crate) fn set_phase(&mut self, phase: ZabPhase) {
        if self.phase != phase {
            self.phase = phase;
            self.trace(TraceEvent::PhaseChanged { phase });
        }
    }

    /// Leaves the current role (timeout, lost connection, protocol violation) and starts a new
    /// election round, as QuorumPeer's main loop does after any exception.
    pub(crate) fn give_up(&mut self, reason: GiveUpReason) {
        self.trace(TraceEvent::GaveUp { reason });
        let peers: Vec<Sid> = match &self.role {
            Role::Leader(l) => l.learners.keys().copied().collect(),
            Role::Learner(l) => alloc::vec![l.leader],
            Role::Looking => Vec::new(),
        };
        for peer in peers {
            self.outbox.push(Output::Disconnect { peer });
        }
        self.start_looking();
    }

    /// Fails every client request waiting on this server (its leader connection is gone).
    pub(crate) fn fail_pending_requests(&mut self) {
        let tags: Vec<RequestTag> = self.pending_requests.keys().copied().collect();
        self.pending_requests.clear();
        for tag in tags {
            self.outbox.push(Output::RequestFailed { tag });
        }
    }

    fn start(&mut self) {
        if self.started {
            return;
        }
        self.started = true;
        // A (re)started server begins in ELECTION: say so, so a timeline shows the phase from
        // the first moment (the phase does not change, so set_phase would stay silent).
        self.trace(TraceEvent::PhaseChanged {
            phase: ZabPhase::Election,
        });
        self.start_looking();
    }

    fn on_tick(&mut self) {
        if !self.started {
            return;
        }
        match &self.role {
            Role::Looking => self.election_tick(),
            Role::Leader(_) => self.leader_tick(),
            Role::Learner(_) => self.learner_tick(),
        }
    }

    fn on_message(&mut self, from: Sid, msg: PeerMessage<M>) {
        if !self.started || !self.is_member_any(from) || from == self.config.myid {
            return;
        }
        match msg {
            Message::Notification(n) => self.on_notification(from, n),
            Message::Config { version, members } => self.on_config_gossip(version, members),
            Message::FollowerInfo { .. } | Message::ObserverInfo { .. }
                if !matches!(self.role, Role::Leader(_)) =>
            {
                // Only a leader accepts learner connections: anyone else refuses them, and
                // the learner retries (ZooKeeper's connectToLeader loop).
                self.outbox.push(Output::Disconnect { peer: from });
            }
            other => match &self.role {
                Role::Leader(_) => self.leader_on_message(from, other),
                Role::Learner(_) => self.learner_on_message(from, other),
                // ZooKeeper's messageIllegal: a LOOKING server has no quorum connection.
                Role::Looking => {}
            },
        }
    }

    fn on_disconnected(&mut self, peer: Sid) {
        match &self.role {
            Role::Leader(_) => self.leader_drop_learner(peer),
            Role::Learner(l) if l.leader == peer => self.learner_disconnected(),
            _ => {}
        }
    }

    /// A client write or `sync` sent to this server: the leader handles it, a learner forwards
    /// it as a REQUEST, and a server not in broadcast refuses it.
    fn on_client_request(&mut self, tag: RequestTag, body: Forwarded<M::Request>) {
        let serving = self.is_serving();
        match &self.role {
            Role::Leader(_) if serving => {
                self.pending_requests.insert(tag, ());
                match body {
                    Forwarded::Write(request) => {
                        self.leader_propose(Some((self.config.myid, tag)), request)
                    }
                    Forwarded::Sync => self.leader_sync(self.config.myid, tag),
                    Forwarded::Reconfig(request) => {
                        self.pending_requests.remove(&tag);
                        let me = self.config.myid;
                        self.leader_reconfig(me, tag, request)
                    }
                }
            }
            Role::Learner(l) if serving => {
                let leader = l.leader;
                self.pending_requests.insert(tag, ());
                self.send(leader, Message::Request { tag, body });
            }
            _ => {
                self.trace(TraceEvent::RequestRefused);
                self.outbox.push(Output::RequestFailed { tag });
            }
        }
    }

    fn on_session_touch(&mut self, session_id: i64, timeout_ms: i32) {
        match &self.role {
            Role::Leader(_) => self.machine.touch_session(session_id, timeout_ms, self.now),
            _ => {
                if let Some(t) = self.touches.iter_mut().find(|t| t.session_id == session_id) {
                    t.timeout_ms = timeout_ms;
                } else {
                    self.touches.push(SessionTouch {
                        session_id,
                        timeout_ms,
                    });
                }
            }
        }
    }
}
