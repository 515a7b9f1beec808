//! The leader's discovery and synchronization (docs/protocol.md §3.4–3.5): `Leader.lead()` and the
//! first half of each `LearnerHandler`. Broadcast lives in `leader_broadcast.rs`.
//!
//! ZooKeeper runs one thread per learner that blocks in `getEpochToPropose`,
//! `waitForEpochAck` and `waitForNewLeaderAck`; here each learner has a [`LearnerHandler`]
//! whose `stage` records where that thread would be blocked.

use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::vec::Vec;

use crate::config::LearnerType;
use crate::durable::{LogEntry, PersistOp, RequestTag};
use crate::machine::StateMachine;
use crate::message::Message;
use crate::mutation::Mutation;
use crate::peer::{AfterPersist, Peer, PeerMessage, Role};
use crate::time::Instant;
use crate::trace::{GiveUpReason, RefuseReason, SyncMode, SyncReason, TraceEvent, ZabPhase};
use crate::zab::sync::{sync_plan, SyncPlan, TxnLogView};
use crate::zxid::{Epoch, Sid, Zxid};

/// Where a learner's handler on the leader stands.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum HandlerStage {
    /// FOLLOWERINFO received; the epoch is not fixed yet (blocked in getEpochToPropose).
    WaitingForEpoch,
    /// LEADERINFO sent; waiting for ACKEPOCH.
    WaitingForAckEpoch,
    /// ACKEPOCH received; waiting for a quorum of them (blocked in waitForEpochAck).
    WaitingForEpochQuorum,
    /// Sync packets and NEWLEADER sent; waiting for the NEWLEADER ACK.
    WaitingForNewLeaderAck,
    /// NEWLEADER acknowledged; waiting for the leader to be established (waitForNewLeaderAck).
    WaitingForStartup,
    /// UPTODATE sent: broadcast.
    Broadcast,
}

/// How the leader synchronized a learner, kept for the UI's "why DIFF/TRUNC/SNAP".
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SyncRecord {
    pub mode: SyncMode,
    pub reason: SyncReason,
    pub peer_last_zxid: Zxid,
    pub min_committed: Zxid,
    pub max_committed: Zxid,
    pub target: Zxid,
    pub proposals: usize,
}

/// The leader's view of one learner (ZooKeeper's `LearnerHandler`).
#[derive(Clone, Debug)]
pub struct LearnerHandler {
    pub sid: Sid,
    pub learner_type: LearnerType,
    pub stage: HandlerStage,
    pub accepted_epoch: Epoch,
    /// From ACKEPOCH: the learner's (currentEpoch, lastLoggedZxid).
    pub last_logged_zxid: Zxid,
    pub learner_current_epoch: Option<Epoch>,
    /// The learner counts as synced while the leader's tick is at most this.
    pub tick_of_next_ack_deadline: u64,
    /// Proposals (participant) sent after sync, so new broadcasts go to it as well.
    pub forwarding: bool,
    /// Proposals sent and not yet acknowledged by this learner, oldest first (SyncLimitCheck).
    pub unacked: VecDeque<(Zxid, Instant)>,
    pub sync: Option<SyncRecord>,
}

/// A proposal waiting for a quorum of ACKs.
#[derive(Clone, Debug)]
pub struct Outstanding<T> {
    pub entry: LogEntry<T>,
    pub acks: BTreeSet<Sid>,
}

/// The leader's state (`Leader` + the shared parts of its `LearnerHandler`s).
#[derive(Clone, Debug)]
pub struct Leader<M: StateMachine> {
    /// The epoch being established (final once `epoch_fixed`).
    pub epoch: Epoch,
    pub epoch_fixed: bool,
    /// Participants that sent FOLLOWERINFO, and the leader (getEpochToPropose).
    pub connecting: BTreeSet<Sid>,
    /// Participants whose ACKEPOCH counts, and the leader (waitForEpochAck).
    pub electing: BTreeSet<Sid>,
    pub current_epoch_written: bool,
    /// Participants that acknowledged NEWLEADER, and the leader (waitForNewLeaderAck).
    pub newleader_acks: BTreeSet<Sid>,
    /// A quorum acknowledged NEWLEADER: serving and proposing.
    pub established: bool,
    pub learners: BTreeMap<Sid, LearnerHandler>,
    /// Discovery and sync must finish by this time (initLimit for each wait).
    pub phase_deadline: Instant,
    pub last_proposed: Zxid,
    pub last_committed: Zxid,
    pub outstanding: BTreeMap<Zxid, Outstanding<M::Txn>>,
    /// Forwarded or local `sync`s waiting for `zxid` to commit: (zxid, origin, tag).
    pub pending_syncs: Vec<(Zxid, Sid, RequestTag)>,
    /// ZooKeeper's leader tick, advanced every tickTime.
    pub tick: u64,
    pub tick_skip: bool,
    pub next_wake: Instant,
}

impl<M: StateMachine> Peer<M> {
    pub(crate) fn leader_mut(&mut self) -> &mut Leader<M> {
        match &mut self.role {
            Role::Leader(l) => l,
            _ => unreachable!("leader handler called while not leading"),
        }
    }

    pub(crate) fn leader_ref(&self) -> &Leader<M> {
        match &self.role {
            Role::Leader(l) => l,
            _ => unreachable!("leader handler called while not leading"),
        }
    }

    /// `Leader.lead()`: start discovery. The leader counts itself for every quorum.
    pub(crate) fn lead(&mut self) {
        self.generation += 1;
        let me = self.config.myid;
        let deadline = self.now + self.config.timing.init_limit_ms();
        let mut connecting = BTreeSet::new();
        connecting.insert(me);
        self.role = Role::Leader(alloc::boxed::Box::new(Leader {
            // `accepted_epoch` never reaches MAX_EPOCH (plausible_epoch refuses it), so no wrap.
            epoch: self.accepted_epoch.saturating_add(1).min(MAX_EPOCH),
            epoch_fixed: false,
            connecting,
            electing: BTreeSet::new(),
            current_epoch_written: false,
            newleader_acks: BTreeSet::new(),
            established: false,
            learners: BTreeMap::new(),
            phase_deadline: deadline,
            last_proposed: Zxid::ZERO,
            last_committed: Zxid::ZERO,
            outstanding: BTreeMap::new(),
            pending_syncs: Vec::new(),
            tick: 0,
            // Leader.lead(): `tickSkip = true`, so the first half tick after establishment only
            // pings; the tick advances and the quorum is checked on every second one.
            tick_skip: true,
            next_wake: deadline,
        }));
        self.set_phase(ZabPhase::Discovery);
        self.check_epoch_quorum();
    }

    /// Messages a leader receives from learners.
    pub(crate) fn leader_on_message(&mut self, from: Sid, msg: PeerMessage<M>) {
        match msg {
            Message::FollowerInfo { accepted_epoch } => {
                self.on_learner_info(from, LearnerType::Participant, accepted_epoch)
            }
            Message::ObserverInfo { accepted_epoch } => {
                self.on_learner_info(from, LearnerType::Observer, accepted_epoch)
            }
            other => {
                let tick = self.leader_ref().tick;
                let sync_limit = self.config.timing.sync_limit as u64;
                let Some(h) = self.leader_mut().learners.get_mut(&from) else {
                    return; // no handler: the connection was closed
                };
                // Any packet from a learner sets its deadline to tick + syncLimit
                // (LearnerHandler.run: `tickOfNextAckDeadline = getTickOfNextAckDeadline()`).
                // An assignment, not a maximum: the initial initLimit + syncLimit allowance ends
                // with the learner's first packet, so a leader cut off right after its election
                // steps down within syncLimit ticks, as ZooKeeper's does.
                h.tick_of_next_ack_deadline = tick + sync_limit;
                match other {
                    Message::AckEpoch {
                        last_logged_zxid,
                        current_epoch,
                    } => self.on_ack_epoch(from, last_logged_zxid, current_epoch),
                    Message::Ack { zxid } => self.on_learner_ack(from, zxid),
                    Message::Ping { touches, .. } => {
                        for t in touches {
                            self.machine
                                .touch_session(t.session_id, t.timeout_ms, self.now);
                        }
                    }
                    Message::Request { tag, body } => self.on_forwarded_request(from, tag, body),
                    // Leader-to-learner packets or a second FOLLOWERINFO are not for us.
                    _ => {}
                }
            }
        }
    }

    /// FOLLOWERINFO/OBSERVERINFO: a new learner connection (any older one for the sid is closed).
    fn on_learner_info(&mut self, sid: Sid, learner_type: LearnerType, accepted_epoch: Epoch) {
        if !self.learner_type_allowed(sid, learner_type) {
            // A follower that is an observer in our config (or vice versa) is refused.
            self.outbox
                .push(crate::peer::Output::Disconnect { peer: sid });
            return;
        }
        if !plausible_epoch(accepted_epoch, self.accepted_epoch) {
            // An acceptedEpoch no leader of this ensemble could have proposed (a stranger's or
            // a corrupted one): taking it would push every server's epoch towards overflow.
            self.trace(TraceEvent::LearnerRefused {
                learner: sid,
                accepted_epoch,
                reason: RefuseReason::ImplausibleEpoch,
            });
            self.outbox
                .push(crate::peer::Output::Disconnect { peer: sid });
            return;
        }
        let fixed_epoch = self
            .leader_ref()
            .epoch_fixed
            .then(|| self.leader_ref().epoch);
        if let Some(epoch) = fixed_epoch {
            if accepted_epoch > epoch && !self.mutated(Mutation::AcceptOlderEpoch) {
                // The learner promised a newer epoch to a leader that never got established.
                // ZooKeeper's LearnerHandler refuses it (the learner fails LEADERINFO and looks
                // again) and the leader keeps its quorum: one FOLLOWERINFO must never depose a
                // leader. The learner can join once a later election picks a higher epoch.
                self.trace(TraceEvent::LearnerRefused {
                    learner: sid,
                    accepted_epoch,
                    reason: RefuseReason::PromisedNewerEpoch,
                });
                self.forget_acks_of(sid);
                self.leader_mut().learners.remove(&sid);
                self.outbox
                    .push(crate::peer::Output::Disconnect { peer: sid });
                return;
            }
        }
        // A new connection replaces the learner's old handler: whatever the old connection
        // acknowledged no longer counts (see `forget_acks_of`).
        self.forget_acks_of(sid);
        let init = self.config.timing.init_limit as u64;
        let sync = self.config.timing.sync_limit as u64;
        let l = self.leader_mut();
        let handler = LearnerHandler {
            sid,
            learner_type,
            stage: HandlerStage::WaitingForEpoch,
            accepted_epoch,
            last_logged_zxid: Zxid::ZERO,
            learner_current_epoch: None,
            tick_of_next_ack_deadline: l.tick + init + sync,
            forwarding: false,
            unacked: VecDeque::new(),
            sync: None,
        };
        l.learners.insert(sid, handler);
        if l.epoch_fixed {
            self.send_leader_info(sid);
            return;
        }
        // getEpochToPropose: the new epoch is above every accepted epoch we hear of.
        if accepted_epoch >= l.epoch {
            // `plausible_epoch` keeps accepted_epoch below MAX_EPOCH, so this cannot wrap.
            l.epoch = accepted_epoch + 1;
        }
        if learner_type == LearnerType::Participant || self.mutated(Mutation::ObserverInQuorum) {
            self.leader_mut().connecting.insert(sid);
        }
        self.check_epoch_quorum();
    }

    /// Removes `sid`'s ACKs from every outstanding proposal. Called whenever the leader loses
    /// or replaces a learner's connection: the learner may have restarted, or been TRUNCated
    /// and not yet re-logged what it acknowledged, so an ACK of an earlier connection says
    /// nothing about what its disk holds now. (Apache ZooKeeper 3.8's `processAck` keeps
    /// such ACKs; with five servers that loses an acknowledged write, see
    /// `core/tests/safety_regressions.rs`.) The learner acknowledges the proposals again
    /// after its NEWLEADER, from its new log.
    fn forget_acks_of(&mut self, sid: Sid) {
        if self.mutated(Mutation::StaleAckAfterTrunc) {
            return;
        }
        for o in self.leader_mut().outstanding.values_mut() {
            o.acks.remove(&sid);
        }
    }

    fn check_epoch_quorum(&mut self) {
        let l = self.leader_ref();
        if l.epoch_fixed || !self.leader_quorum(&l.connecting) {
            return;
        }
        let epoch = l.epoch;
        self.leader_mut().epoch_fixed = true;
        self.accepted_epoch = epoch;
        self.persist(PersistOp::AcceptedEpoch(epoch));
        self.after_persisted(AfterPersist::LeaderEpochWritten);
    }

    /// acceptedEpoch is durable: tell every waiting learner the new epoch.
    pub(crate) fn leader_epoch_written(&mut self) {
        let epoch = self.leader_ref().epoch;
        self.trace(TraceEvent::EpochProposed { epoch });
        let me = self.config.myid;
        let deadline = self.now + self.config.timing.init_limit_ms();
        let l = self.leader_mut();
        l.electing.insert(me);
        l.phase_deadline = deadline;
        l.next_wake = deadline;
        let waiting: Vec<Sid> = l
            .learners
            .values()
            .filter(|h| h.stage == HandlerStage::WaitingForEpoch)
            .map(|h| h.sid)
            .collect();
        for sid in waiting {
            self.send_leader_info(sid);
        }
        self.check_epoch_ack_quorum();
    }

    fn send_leader_info(&mut self, sid: Sid) {
        let epoch = self.leader_ref().epoch;
        if let Some(h) = self.leader_mut().learners.get_mut(&sid) {
            h.stage = HandlerStage::WaitingForAckEpoch;
        }
        self.send(sid, Message::LeaderInfo { new_epoch: epoch });
    }

    /// ACKEPOCH: the learner's (currentEpoch, lastLoggedZxid). A learner ahead of the leader
    /// is refused (it should have won the election); `None` means it had already promised.
    fn on_ack_epoch(&mut self, sid: Sid, last_logged_zxid: Zxid, current_epoch: Option<Epoch>) {
        let mine = (self.current_epoch, self.last_processed);
        let Some(h) = self.leader_mut().learners.get_mut(&sid) else {
            return;
        };
        if h.stage != HandlerStage::WaitingForAckEpoch {
            return;
        }
        h.last_logged_zxid = last_logged_zxid;
        h.learner_current_epoch = current_epoch;
        h.stage = HandlerStage::WaitingForEpochQuorum;
        let participant = h.learner_type == LearnerType::Participant;
        if let Some(ce) = current_epoch {
            if (ce, last_logged_zxid) > mine {
                self.leader_drop_learner(sid);
                return;
            }
            if participant || self.mutated(Mutation::ObserverInQuorum) {
                self.leader_mut().electing.insert(sid);
            }
        }
        if self.leader_ref().current_epoch_written {
            self.sync_learner(sid);
        } else {
            self.check_epoch_ack_quorum();
        }
    }

    fn check_epoch_ack_quorum(&mut self) {
        let l = self.leader_ref();
        let no_wait = self.mutated(Mutation::NoAckEpochQuorum);
        if !l.epoch_fixed
            || l.current_epoch_written
            || !(no_wait || self.leader_quorum(&l.electing))
        {
            return;
        }
        let epoch = l.epoch;
        self.leader_mut().current_epoch_written = true;
        self.current_epoch = epoch;
        self.persist(PersistOp::CurrentEpoch(epoch));
        self.after_persisted(AfterPersist::LeaderCurrentEpochWritten);
    }

    /// currentEpoch is durable: synchronize every learner that acknowledged the epoch.
    pub(crate) fn leader_current_epoch_written(&mut self) {
        self.set_phase(ZabPhase::Synchronization);
        let me = self.config.myid;
        let deadline = self.now + self.config.timing.init_limit_ms();
        let l = self.leader_mut();
        l.newleader_acks.insert(me);
        l.phase_deadline = deadline;
        l.next_wake = deadline;
        let ready: Vec<Sid> = l
            .learners
            .values()
            .filter(|h| h.stage == HandlerStage::WaitingForEpochQuorum)
            .map(|h| h.sid)
            .collect();
        for sid in ready {
            self.sync_learner(sid);
        }
        self.check_newleader_quorum();
    }

    /// `syncFollower` + `startForwarding` + NEWLEADER for one learner.
    fn sync_learner(&mut self, sid: Sid) {
        let epoch = self.leader_ref().epoch;
        let Some(h) = self.leader_ref().learners.get(&sid) else {
            return;
        };
        let peer_last_zxid = h.last_logged_zxid;
        let participant = h.learner_type == LearnerType::Participant;
        let mut plan = self.sync_plan(peer_last_zxid);
        if self.mutated(Mutation::TruncBelowCommitted) && plan.mode == SyncMode::Trunc {
            let mut below = self.committed_log.iter().rev().map(|e| e.zxid);
            plan.target = below.find(|z| *z < plan.target).unwrap_or(Zxid::ZERO);
        }
        let record = SyncRecord {
            mode: plan.mode,
            reason: plan.reason,
            peer_last_zxid,
            min_committed: plan.min_committed,
            max_committed: plan.max_committed,
            target: plan.target,
            proposals: plan.proposals.len(),
        };
        self.trace(TraceEvent::SyncChosen {
            learner: sid,
            mode: plan.mode,
            reason: plan.reason,
            peer_last_zxid,
            min_committed: plan.min_committed,
            max_committed: plan.max_committed,
            target: plan.target,
        });
        match plan.mode {
            SyncMode::Diff => self.send(sid, Message::Diff { zxid: plan.target }),
            SyncMode::Trunc => self.send(sid, Message::Trunc { zxid: plan.target }),
            SyncMode::Snap => {
                let snapshot = self.machine.snapshot();
                self.send(
                    sid,
                    Message::Snap {
                        zxid: plan.target,
                        snapshot,
                    },
                );
            }
        }
        for p in plan.proposals {
            let zxid = p.zxid;
            self.send(sid, Message::Proposal(p));
            self.send(sid, Message::Commit { zxid });
        }
        // startForwarding: a participant also gets every proposal still waiting for a quorum.
        let now = self.now;
        let mut forwarded = Vec::new();
        if participant {
            for o in self.leader_ref().outstanding.values() {
                forwarded.push(o.entry.clone());
            }
        }
        let h = self
            .leader_mut()
            .learners
            .get_mut(&sid)
            .expect("handler exists");
        h.sync = Some(record);
        h.forwarding = true;
        h.stage = HandlerStage::WaitingForNewLeaderAck;
        for e in &forwarded {
            h.unacked.push_back((e.zxid, now));
        }
        for e in forwarded {
            self.send(sid, Message::Proposal(e));
        }
        self.send(
            sid,
            Message::NewLeader {
                zxid: Zxid::epoch_start(epoch),
            },
        );
    }

    /// `syncFollower`'s decision for a learner whose last logged zxid is `peer_last_zxid`;
    /// the transaction log it may read is the in-memory mirror of the log since the newest
    /// snapshot.
    fn sync_plan(&self, peer_last_zxid: Zxid) -> SyncPlan<M::Txn> {
        let snapshot_bytes = self
            .snapshot
            .as_ref()
            .map_or(0, |(_, s)| M::snapshot_bytes(s));
        sync_plan(
            peer_last_zxid,
            self.last_processed,
            &self.committed_log,
            TxnLogView {
                log: &self.log,
                snapshot_bytes,
                size_factor_percent: self.config.snapshot_size_factor_percent,
                txn_bytes: M::txn_log_bytes,
            },
        )
    }

    /// The NEWLEADER ACK (an ACK whose zxid is `epoch << 32` from a handler waiting for it).
    pub(crate) fn on_newleader_ack(&mut self, sid: Sid) {
        let established = self.leader_ref().established;
        let Some(h) = self.leader_mut().learners.get_mut(&sid) else {
            return;
        };
        h.stage = HandlerStage::WaitingForStartup;
        let participant = h.learner_type == LearnerType::Participant;
        if established {
            h.stage = HandlerStage::Broadcast;
            self.send(sid, Message::UpToDate);
            return;
        }
        if participant || self.mutated(Mutation::ObserverInQuorum) {
            self.leader_mut().newleader_acks.insert(sid);
        }
        self.check_newleader_quorum();
    }

    fn check_newleader_quorum(&mut self) {
        let l = self.leader_ref();
        // The leader's own NEWLEADER "ACK" is its currentEpoch on disk (added to
        // newleader_acks once that write is durable). Learners that ACKEPOCHed after the write
        // was issued are synced in parallel, as ZooKeeper's LearnerHandlers are, but even a
        // quorum of their ACKs must not establish the leader before its own write is durable
        // (Leader.lead() starts serving only after setCurrentEpoch returns).
        let own_durable = l.newleader_acks.contains(&self.config.myid);
        if l.established
            || !l.current_epoch_written
            || !own_durable
            || !self.leader_quorum(&l.newleader_acks)
        {
            return;
        }
        let epoch = l.epoch;
        // Prep must see every transaction this leader logged, the previous epochs' uncommitted
        // ones included (NEWLEADER commits them): the fast-forward on entering LOOKING applied
        // them all, and nothing was logged since.
        debug_assert!(
            self.last_processed >= self.last_logged_zxid(),
            "a new leader preps against its whole log: applied {} < logged {}",
            self.last_processed,
            self.last_logged_zxid()
        );
        // startZkServer: lastCommitted and lastProcessedZxid become `epoch << 32`.
        let start = Zxid::epoch_start(epoch);
        if self.last_processed < start {
            self.last_processed = start;
        }
        let now = self.now;
        let half_tick = (self.config.timing.tick_time_ms / 2).max(1);
        let l = self.leader_mut();
        l.established = true;
        l.last_committed = start;
        l.last_proposed = start;
        l.next_wake = now + half_tick;
        self.current_vote.peer_epoch = epoch;
        // NEWLEADER had a quorum of the active and of any pending member list: the whole
        // history is committed, its newest member list with it.
        self.activate_applied();
        self.machine.on_leading(now);
        self.set_phase(ZabPhase::Broadcast);
        self.trace(TraceEvent::LeaderEstablished { epoch });
        let waiting: Vec<Sid> = self
            .leader_ref()
            .learners
            .values()
            .filter(|h| h.stage == HandlerStage::WaitingForStartup)
            .map(|h| h.sid)
            .collect();
        for sid in waiting {
            if let Some(h) = self.leader_mut().learners.get_mut(&sid) {
                h.stage = HandlerStage::Broadcast;
            }
            self.send(sid, Message::UpToDate);
        }
    }

    /// The leader's quorum rule for discovery, sync and its synced-followers check: a strict
    /// majority of voters (`ObserverInQuorum` counts every member instead).
    pub(crate) fn leader_quorum<'a>(&self, sids: impl IntoIterator<Item = &'a Sid>) -> bool {
        if self.mutated(Mutation::ObserverInQuorum) {
            let members = sids
                .into_iter()
                .filter(|s| self.config.ensemble.is_member(**s))
                .count();
            return 2 * members > self.config.ensemble.voter_count();
        }
        self.is_quorum(sids)
    }

    /// Closes a learner's connection and forgets its handler.
    pub(crate) fn leader_drop_learner(&mut self, sid: Sid) {
        self.forget_acks_of(sid);
        if self.leader_mut().learners.remove(&sid).is_some() {
            self.outbox
                .push(crate::peer::Output::Disconnect { peer: sid });
        }
    }

    /// Before the leader is established: give up when a wait exceeds initLimit.
    pub(crate) fn leader_discovery_tick(&mut self) {
        if self.now >= self.leader_ref().phase_deadline {
            self.give_up(GiveUpReason::NoQuorumInDiscovery);
        }
    }
}

/// The largest epoch a ZabLab server takes part in. ZooKeeper's wire formats carry an epoch as
/// a Java `int` in ACKEPOCH and as the high half of a signed 64-bit zxid, so an epoch at or
/// above 2^31 would turn negative on the wire and in every client's zxid comparison.
pub const MAX_EPOCH: Epoch = i32::MAX as Epoch - 1;

/// How far above the leader's own acceptedEpoch a learner's may be. Legitimately a learner
/// is ahead only by the few epochs proposed by candidates that failed to establish while this
/// leader was out of reach; a jump of thousands is a stranger or a corrupted file.
pub const MAX_EPOCH_LEAD: Epoch = 1000;

/// Whether a learner's acceptedEpoch could come from a leader of this ensemble.
pub fn plausible_epoch(learner_accepted: Epoch, own_accepted: Epoch) -> bool {
    learner_accepted < MAX_EPOCH && learner_accepted <= own_accepted.saturating_add(MAX_EPOCH_LEAD)
}
