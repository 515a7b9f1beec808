//! [`Cluster`]: the simulated ensemble and its event loop.

use alloc::borrow::Cow;
use alloc::collections::{BTreeMap, BinaryHeap, VecDeque};
use alloc::vec::Vec;
use core::cmp::Reverse;

use crate::config::Ensemble;
use crate::durable::RequestTag;
use crate::machine::StateMachine;
use crate::message::PeerState;
use crate::peer::{Input, Output, Peer, PeerDurable, PeerMessage, PeerPersistOp};
use crate::rng::Rng;
use crate::sim::fault_model::{global_time, local_time, CrashPoint, FaultModel};
use crate::sim::invariants::{Checker, Violation};
use crate::sim::network::{LinkState, Links};
use crate::sim::scenario::{Action, SimConfig};
use crate::sim::trace::SimTrace;
use crate::time::Instant;
use crate::trace::ZabPhase;
use crate::trace::{HostEvent, TraceRecord};
use crate::zxid::{Sid, Zxid};

mod fault_hooks;
mod faults;
mod outputs;

/// One simulated server: its process (if running) and its disk.
#[derive(Clone, Debug)]
pub struct SimNode<M: StateMachine> {
    pub peer: Option<Peer<M>>,
    /// What survives a crash.
    pub durable: PeerDurable<M>,
    /// Persist requests issued and not yet durable.
    pending_persist: VecDeque<(u64, PeerPersistOp<M>)>,
    /// Bumped by every crash; messages and timers of an older incarnation are void.
    pub incarnation: u64,
    timer_at: Option<Instant>,
    last_persist_done: Instant,
    pub started: bool,
    /// A paused process (SIGSTOP) handles nothing before this time; its events wait.
    pub paused_until: Instant,
}

/// A client request's fate.
#[derive(Clone, PartialEq, Debug)]
pub enum ClientResult<O> {
    Pending,
    Replied { zxid: Zxid, outcome: O },
    Synced { zxid: Zxid },
    Failed,
}

/// A client request sent to a server and what became of it.
#[derive(Clone, Debug)]
pub struct ClientRequest<M: StateMachine> {
    pub server: Sid,
    /// The write (None for a `sync`).
    pub txn: Option<M::Request>,
    pub result: ClientResult<M::Outcome>,
}

/// A message on its way.
pub struct InFlight<'a, M: StateMachine> {
    pub from: Sid,
    pub to: Sid,
    pub msg_id: u64,
    pub sent: Instant,
    pub arrives: Instant,
    pub msg: &'a PeerMessage<M>,
}

#[derive(Clone, Debug)]
enum Event<M: StateMachine> {
    Deliver {
        from: Sid,
        to: Sid,
        from_inc: u64,
        to_inc: u64,
        msg_id: u64,
        sent: Instant,
        /// The quorum connection it travels on (`None` for election notifications): bytes of
        /// a connection that was replaced never arrive on the new one.
        conn: Option<u64>,
        msg: PeerMessage<M>,
    },
    Disconnect {
        from: Sid,
        to: Sid,
        to_inc: u64,
        /// The pair's connection this close ends (`conn_gen` when it was closed).
        conn: u64,
    },
    Timer {
        node: Sid,
        inc: u64,
    },
    PersistDone {
        node: Sid,
        inc: u64,
        id: u64,
    },
    Action(Action<M::Request>),
}

/// Low 24 bits of a queue key: the event's slot (at most 16M events pending at once).
const SLOT_MASK: u64 = (1 << 24) - 1;

/// A simulated ZooKeeper ensemble. See the module documentation of [`crate::sim`].
#[derive(Clone, Debug)]
pub struct Cluster<M: StateMachine> {
    config: SimConfig,
    ensemble: Ensemble,
    now: Instant,
    rng: Rng,
    nodes: BTreeMap<Sid, SimNode<M>>,
    links: Links,
    /// Quorum connections (learner ↔ leader, over TCP) that broke; closed until the learner
    /// connects again with FOLLOWERINFO/OBSERVERINFO. Keyed by (lower sid, higher sid).
    broken: alloc::collections::BTreeSet<(Sid, Sid)>,
    /// The current quorum connection of each pair, counted up by every FOLLOWERINFO /
    /// OBSERVERINFO (a learner dials a new TCP connection). A close or reset names the
    /// connection it ends, so one of an earlier connection never ends a newer one (as in the
    /// node, where each connection has an id).
    conn_gen: BTreeMap<(Sid, Sid), u64>,
    /// Pending events as `time << 64 | seq << 24 | slot`: ordered by (time, sequence) in one
    /// integer comparison.
    queue: BinaryHeap<Reverse<u128>>,
    slots: Vec<Option<Event<M>>>,
    free: Vec<usize>,
    seq: u64,
    next_msg_id: u64,
    next_tag: RequestTag,
    trace: SimTrace,
    outputs: Vec<Output<M>>,
    requests: BTreeMap<RequestTag, ClientRequest<M>>,
    checker: Option<Checker<M>>,
    violation: Option<Violation>,
    deliveries: u64,
    faults: FaultModel,
    /// Each learner's last logged zxid right after it handled its latest NEWLEADER: what its
    /// NEWLEADER ACK must find on its disk (the DurableAcknowledgement invariant).
    synced_log: BTreeMap<Sid, Zxid>,
    /// Whether any server was ever paused (skips the pause check on every event otherwise).
    any_paused: bool,
    /// `reconfigEnabled` for every server (see [`Cluster::set_reconfig_enabled`]).
    reconfig_enabled: bool,
    /// Member lists of servers that reconfigured, as their traces report them.
    member_lists: BTreeMap<Sid, outputs::MemberLists>,
}

impl<M: StateMachine + Clone> Cluster<M> {
    /// A cluster with every record kept and the invariants checked.
    pub fn new(config: SimConfig, seed: u64) -> Cluster<M> {
        Cluster::build(config, seed, true, true)
    }

    /// A cluster for benchmarking: records are hashed but not kept; invariants optional.
    pub fn for_benchmark(config: SimConfig, seed: u64, check: bool) -> Cluster<M> {
        Cluster::build(config, seed, false, check)
    }

    fn build(config: SimConfig, seed: u64, keep: bool, check: bool) -> Cluster<M> {
        let ensemble = Ensemble::new(config.participants, config.observers);
        let ensemble_size = config.participants + config.observers;
        let mut nodes = BTreeMap::new();
        for sid in ensemble.all() {
            nodes.insert(
                sid,
                SimNode {
                    peer: None,
                    durable: PeerDurable::<M>::default(),
                    pending_persist: VecDeque::new(),
                    incarnation: 0,
                    timer_at: None,
                    last_persist_done: Instant::ZERO,
                    started: false,
                    paused_until: Instant::ZERO,
                },
            );
        }
        let mut cluster = Cluster {
            ensemble,
            now: Instant::ZERO,
            rng: Rng::new(seed),
            nodes,
            links: Links::new(ensemble_size),
            broken: alloc::collections::BTreeSet::new(),
            conn_gen: BTreeMap::new(),
            queue: BinaryHeap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            seq: 0,
            next_msg_id: 0,
            next_tag: 0,
            trace: SimTrace::new(keep),
            outputs: Vec::new(),
            requests: BTreeMap::new(),
            checker: if check { Some(Checker::new()) } else { None },
            violation: None,
            deliveries: 0,
            faults: FaultModel::default(),
            synced_log: BTreeMap::new(),
            any_paused: false,
            reconfig_enabled: false,
            member_lists: BTreeMap::new(),
            config,
        };
        if cluster.config.start_all {
            for sid in cluster.ensemble.all() {
                cluster.start_node(sid);
            }
        }
        cluster
    }

    /// Replaces a server's disk before it starts (lessons and tests set initial zxids and
    /// epochs this way). Ignored for a running server.
    pub fn preload(&mut self, sid: Sid, durable: PeerDurable<M>) {
        if let Some(n) = self.nodes.get_mut(&sid) {
            if n.peer.is_none() {
                // What a preloaded disk holds was proposed before the run began.
                if let Some(c) = &mut self.checker {
                    for e in &durable.log {
                        c.integrity.proposed_by.entry(e.zxid).or_insert(sid);
                    }
                }
                n.durable = durable;
            }
        }
    }

    /// Lets the invariant checker ask whether a state contains an acknowledged write (the
    /// "no acknowledged write is lost" check at every new leader and at the end of a run).
    pub fn set_write_check(&mut self, contains: fn(&M, &M::Request) -> bool) {
        if let Some(c) = &mut self.checker {
            c.contains = Some(contains);
        }
    }

    // ----- observation -------------------------------------------------------------------

    pub fn now(&self) -> Instant {
        self.now
    }
    pub fn config(&self) -> &SimConfig {
        &self.config
    }
    pub fn ensemble(&self) -> &Ensemble {
        &self.ensemble
    }
    pub fn nodes(&self) -> &BTreeMap<Sid, SimNode<M>> {
        &self.nodes
    }
    pub fn peer(&self, sid: Sid) -> Option<&Peer<M>> {
        self.nodes.get(&sid).and_then(|n| n.peer.as_ref())
    }
    pub fn peer_mut(&mut self, sid: Sid) -> Option<&mut Peer<M>> {
        self.nodes.get_mut(&sid).and_then(|n| n.peer.as_mut())
    }
    pub fn trace(&self) -> &SimTrace {
        &self.trace
    }
    /// The first invariant violation, if any (the run keeps going; callers usually stop).
    pub fn violation(&self) -> Option<&Violation> {
        self.violation.as_ref()
    }
    /// Messages delivered so far.
    pub fn deliveries(&self) -> u64 {
        self.deliveries
    }
    pub fn link(&self, from: Sid, to: Sid) -> LinkState {
        self.links
            .get(from, to)
            .map(|l| l.state)
            .unwrap_or_default()
    }
    /// When the next event happens, if any.
    pub fn next_event_time(&self) -> Option<Instant> {
        self.queue
            .peek()
            .map(|Reverse(key)| Instant((*key >> 64) as u64))
    }
    pub fn request(&self, tag: RequestTag) -> Option<&ClientResult<M::Outcome>> {
        self.requests.get(&tag).map(|r| &r.result)
    }
    /// Every client request so far: tag → (server, write, result).
    pub fn requests(
        &self,
    ) -> impl Iterator<
        Item = (
            RequestTag,
            Sid,
            Option<&M::Request>,
            &ClientResult<M::Outcome>,
        ),
    > {
        self.requests
            .iter()
            .map(|(t, r)| (*t, r.server, r.txn.as_ref(), &r.result))
    }

    /// Messages in flight, in delivery order.
    pub fn in_flight(&self) -> Vec<InFlight<'_, M>> {
        let mut v: Vec<(Instant, u64, InFlight<'_, M>)> = Vec::new();
        for Reverse(key) in self.queue.iter() {
            let (t, seq, slot) = (
                &Instant((*key >> 64) as u64),
                &((*key as u64) >> 24),
                &((*key as u64 & SLOT_MASK) as usize),
            );
            if let Some(Event::Deliver {
                from,
                to,
                msg_id,
                sent,
                msg,
                ..
            }) = &self.slots[*slot]
            {
                v.push((
                    *t,
                    *seq,
                    InFlight {
                        from: *from,
                        to: *to,
                        msg_id: *msg_id,
                        sent: *sent,
                        arrives: *t,
                        msg,
                    },
                ));
            }
        }
        v.sort_by_key(|(t, s, _)| (*t, *s));
        v.into_iter().map(|(_, _, f)| f).collect()
    }

    /// The established leader in broadcast, if exactly one server is.
    pub fn leader(&self) -> Option<Sid> {
        let mut leaders = self.nodes.iter().filter_map(|(sid, n)| {
            let p = n.peer.as_ref()?;
            (p.state() == PeerState::Leading && p.phase() == ZabPhase::Broadcast).then_some(*sid)
        });
        let first = leaders.next()?;
        leaders.next().is_none().then_some(first)
    }

    /// True when one leader is in broadcast and every running server follows or observes it
    /// in broadcast.
    pub fn is_stable(&self) -> bool {
        let Some(leader) = self.leader() else {
            return false;
        };
        self.nodes
            .values()
            .filter_map(|n| n.peer.as_ref())
            .all(|p| p.phase() == ZabPhase::Broadcast && p.leader_id() == Some(leader))
    }

    // ----- driving -----------------------------------------------------------------------

    /// Sets `reconfigEnabled` on every server, running or started later (ZooKeeper's
    /// default is off, and so is the simulator's, so runs without reconfig stay as they were).
    pub fn set_reconfig_enabled(&mut self, enabled: bool) {
        self.reconfig_enabled = enabled;
        for node in self.nodes.values_mut() {
            if let Some(peer) = node.peer.as_mut() {
                peer.set_reconfig_enabled(enabled);
            }
        }
    }

    /// Schedules an action at a virtual time (now, if `at` is in the past).
    pub fn schedule(&mut self, at: Instant, action: Action<M::Request>) {
        let at = at.max(self.now);
        self.push_event(at, Event::Action(action));
    }

    /// Performs an action now. Writes and syncs return the request's tag.
    pub fn act(&mut self, action: Action<M::Request>) -> Option<RequestTag> {
        self.do_action(action)
    }

    /// Processes the next event. Returns false when nothing is left to do.
    pub fn step(&mut self) -> bool {
        let Some(Reverse(key)) = self.queue.pop() else {
            return false;
        };
        let (time, seq, slot) = (
            Instant((key >> 64) as u64),
            (key as u64) >> 24,
            (key as u64 & SLOT_MASK) as usize,
        );
        let event = self.slots[slot].take().expect("queued slot holds an event");
        self.free.push(slot);
        if time > self.now {
            self.now = time;
        }
        self.handle(event, seq);
        true
    }

    /// Runs every event up to and including time `until`, then sets the clock to `until`.
    pub fn run_until(&mut self, until: Instant) {
        while matches!(self.next_event_time(), Some(t) if t <= until) {
            self.step();
        }
        if until > self.now {
            self.now = until;
        }
    }

    /// Runs until `done` holds (checked after every event) or time `limit`; true if it held.
    pub fn run_until_pred(&mut self, limit: Instant, mut done: impl FnMut(&Self) -> bool) -> bool {
        loop {
            if done(self) {
                return true;
            }
            match self.next_event_time() {
                Some(t) if t <= limit => {
                    self.step();
                }
                _ => {
                    self.now = self.now.max(limit);
                    return done(self);
                }
            }
        }
    }

    /// Runs for `ms` more milliseconds of virtual time.
    pub fn run_for(&mut self, ms: u64) {
        let until = self.now + ms;
        self.run_until(until);
    }

    // ----- internals ---------------------------------------------------------------------

    fn push_event(&mut self, at: Instant, event: Event<M>) {
        self.seq += 1;
        self.push_event_seq(at, self.seq, event);
    }

    /// Queues `event` at `at` with sequence number `seq`, which orders events of the same
    /// instant. An event a paused process defers keeps the `seq` it was first queued with, so
    /// whatever waits for the resume is handled in the order it happened — a connection stays
    /// FIFO even when a pause is extended while earlier deferred events are still queued.
    fn push_event_seq(&mut self, at: Instant, seq: u64, event: Event<M>) {
        debug_assert!(seq < 1 << 40, "event sequence numbers fit 40 bits");
        let slot = match self.free.pop() {
            Some(s) => {
                self.slots[s] = Some(event);
                s
            }
            None => {
                self.slots.push(Some(event));
                self.slots.len() - 1
            }
        };
        let key = ((at.0 as u128) << 64) | ((seq as u128) << 24) | slot as u128;
        self.queue.push(Reverse(key));
    }

    fn record(&mut self, node: Sid, event: HostEvent) {
        let record = TraceRecord {
            time: self.now,
            node,
            event,
        };
        if let Some(checker) = &mut self.checker {
            if self.violation.is_none() {
                if let Err(v) = checker.observe(&record) {
                    self.violation = Some(v);
                }
            }
        }
        self.trace.push(record);
    }

    /// The server an event happens at, if it is one a paused process would have to handle.
    fn target(event: &Event<M>) -> Option<Sid> {
        match event {
            Event::Deliver { to, .. } | Event::Disconnect { to, .. } => Some(*to),
            Event::Timer { node, .. } => Some(*node),
            Event::Action(Action::Write { server, .. } | Action::Sync { server }) => Some(*server),
            Event::PersistDone { .. } | Event::Action(_) => None,
        }
    }

    fn handle(&mut self, event: Event<M>, seq: u64) {
        if let Some(sid) = Self::target(&event).filter(|_| self.any_paused) {
            if let Some(until) = self.nodes.get(&sid).map(|n| n.paused_until) {
                if until > self.now {
                    // SIGSTOP: the process handles it when it resumes, in the same order.
                    self.push_event_seq(until, seq, event);
                    return;
                }
            }
        }
        match event {
            Event::Deliver {
                from,
                to,
                from_inc,
                to_inc,
                msg_id,
                sent: _,
                conn,
                msg,
            } => {
                let alive = |n: Option<&SimNode<M>>, inc| matches!(n, Some(n) if n.incarnation == inc && n.peer.is_some());
                let replaced = conn.is_some_and(|c| c != self.conn_of(from, to));
                if replaced
                    || !alive(self.nodes.get(&to), to_inc)
                    || !alive(self.nodes.get(&from), from_inc)
                {
                    let kind = Cow::Borrowed(msg.kind());
                    let reason = Cow::Borrowed(if replaced {
                        "connection replaced"
                    } else {
                        "crash"
                    });
                    self.record(
                        to,
                        HostEvent::Drop {
                            from,
                            to,
                            msg_id: Some(msg_id),
                            kind,
                            reason,
                        },
                    );
                    return;
                }
                self.deliveries += 1;
                self.record(
                    to,
                    HostEvent::Deliver {
                        from,
                        msg_id: Some(msg_id),
                        kind: Cow::Borrowed(msg.kind()),
                    },
                );
                let kind = msg.kind();
                // Only a NEWLEADER the learner acts on (from the leader it syncs with) defines
                // what its NEWLEADER ACK must cover; a late one from a leader it left is ignored.
                let syncing_with_sender = kind == "NEWLEADER"
                    && self.peer(to).and_then(|p| p.learner()).is_some_and(|l| {
                        l.leader == from && l.stage == crate::zab::learner::LearnerStage::Syncing
                    });
                self.step_peer(to, Input::Receive { from, msg });
                if syncing_with_sender {
                    if let Some(p) = self.peer(to) {
                        let last = p.last_logged_zxid();
                        self.synced_log.insert(to, last);
                    }
                }
                if self.crash_point_fires(CrashPoint::Delivered(kind)) {
                    self.crash_at_point(to);
                }
            }
            Event::Disconnect {
                from,
                to,
                to_inc,
                conn,
            } => {
                if conn != self.conn_of(from, to) {
                    return; // it closed a connection that a newer one has replaced
                }
                if matches!(self.nodes.get(&to), Some(n) if n.incarnation == to_inc && n.peer.is_some())
                {
                    self.record(to, HostEvent::Disconnected { peer: from });
                    self.step_peer(to, Input::PeerDisconnected { peer: from });
                }
            }
            Event::Timer { node, inc } => {
                let local = Instant(local_time(self.now.0, self.ppm(node)));
                let Some(n) = self.nodes.get_mut(&node) else {
                    return;
                };
                if n.incarnation != inc {
                    return;
                }
                if n.timer_at.is_some_and(|t| t <= self.now) {
                    // This timer (possibly held back by a pause) is the armed one, or a stale
                    // one: either way nothing is armed any more.
                    n.timer_at = None;
                }
                let due = matches!(n.peer.as_ref().and_then(|p| p.next_deadline()), Some(d) if d <= local);
                if due {
                    self.record(node, HostEvent::Timer);
                    self.step_peer(node, Input::Tick);
                } else {
                    self.arm_timer(node);
                }
            }
            Event::PersistDone { node, inc, id } => {
                let Some(n) = self.nodes.get_mut(&node) else {
                    return;
                };
                if n.incarnation != inc {
                    return;
                }
                // The disk finishes whether or not the process runs.
                let points_armed = !self.faults.crash_points.is_empty();
                let mut kinds = Vec::new();
                let mut completed = false;
                let mut discarded = false;
                let before = (n.durable.accepted_epoch, n.durable.current_epoch);
                while matches!(n.pending_persist.front(), Some((pid, _)) if *pid <= id) {
                    let (_, op) = n.pending_persist.pop_front().expect("front exists");
                    discarded |= matches!(op, crate::durable::PersistOp::DiscardDatabase);
                    if points_armed {
                        kinds.push(op.kind());
                    }
                    completed = true;
                    n.durable.apply(&op);
                }
                let after = (n.durable.accepted_epoch, n.durable.current_epoch);
                if self.checker.is_some() && self.violation.is_none() {
                    if let Err(v) = crate::sim::invariants::epochs::check(
                        self.now, node, before, after, discarded,
                    ) {
                        self.violation = Some(v);
                    }
                }
                if completed {
                    self.record(node, HostEvent::Persisted { id });
                    if kinds
                        .iter()
                        .any(|k| self.crash_point_fires(CrashPoint::Persisted(k)))
                    {
                        self.crash_at_point(node);
                        return;
                    }
                }
                let paused_until = self
                    .nodes
                    .get(&node)
                    .map_or(Instant::ZERO, |n| n.paused_until);
                if paused_until > self.now {
                    self.push_event_seq(paused_until, seq, Event::PersistDone { node, inc, id });
                    return;
                }
                self.step_peer(node, Input::Persisted { id });
            }
            Event::Action(action) => {
                self.do_action(action);
            }
        }
    }

    /// The current quorum connection between two servers (see `conn_gen`).
    pub(super) fn conn_of(&self, a: Sid, b: Sid) -> u64 {
        self.conn_gen
            .get(&(a.min(b), a.max(b)))
            .copied()
            .unwrap_or(0)
    }

    fn step_peer(&mut self, sid: Sid, input: Input<M>) {
        let mut outputs = core::mem::take(&mut self.outputs);
        let local = Instant(local_time(self.now.0, self.ppm(sid)));
        {
            let Some(peer) = self.nodes.get_mut(&sid).and_then(|n| n.peer.as_mut()) else {
                self.outputs = outputs;
                return;
            };
            peer.step(local, input, &mut outputs);
        }
        let mut crashed = false;
        let points_armed = !self.faults.crash_points.is_empty();
        for output in outputs.drain(..) {
            if crashed {
                continue; // the process died: the rest of this step never happened
            }
            let mid_step = self.faults.crash_mid_step_per_million;
            if mid_step > 0 && self.rng.chance(mid_step) {
                self.crash_at_point(sid);
                crashed = true;
                continue;
            }
            let event_point = match &output {
                Output::Trace(ev) if points_armed => Some(CrashPoint::Event(ev.name())),
                _ => None,
            };
            self.execute(sid, output);
            if event_point.is_some_and(|p| self.crash_point_fires(p)) {
                self.crash_at_point(sid);
                crashed = true;
            }
        }
        self.outputs = outputs;
        if !crashed {
            self.arm_timer(sid);
        }
    }

    fn arm_timer(&mut self, sid: Sid) {
        let Some(n) = self.nodes.get_mut(&sid) else {
            return;
        };
        let Some(deadline) = n.peer.as_ref().and_then(|p| p.next_deadline()) else {
            return;
        };
        let ppm = self.faults.clock_ppm.get(&sid).copied().unwrap_or(0);
        let deadline = Instant(global_time(deadline.0, ppm)).max(self.now);
        let n = self.nodes.get_mut(&sid).expect("checked above");
        if n.timer_at.is_none_or(|t| deadline < t) {
            n.timer_at = Some(deadline);
            let inc = n.incarnation;
            self.push_event(deadline, Event::Timer { node: sid, inc });
        }
    }

    /// Checks the end-of-run properties: every running server holds every acknowledged write,
    /// and every running server that applied the same last zxid has the same digest.
    pub fn check_final_state(&mut self) -> Result<(), Violation> {
        if let Some(v) = &self.violation {
            return Err(v.clone());
        }
        let Some(checker) = &self.checker else {
            return Ok(());
        };
        let peers: Vec<(Sid, &Peer<M>)> = self
            .nodes
            .iter()
            .filter_map(|(s, n)| n.peer.as_ref().map(|p| (*s, p)))
            .collect();
        checker.check_final(self.now, &peers)
    }
}
