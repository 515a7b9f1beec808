//! The learner side (follower or observer): `Learner.registerWithLeader`, `syncWithLeader`
//! and the broadcast loop of `Follower.processPacket` / `Observer.processPacket`
//! (docs/protocol.md §3.4–3.7).
//!
//! Simplification of ZooKeeper's sync bookkeeping: proposals received before NEWLEADER are
//! held in memory (`packetsNotLogged`); a COMMIT applies the head one in memory at once; at
//! NEWLEADER they are all logged, currentEpoch is written, and the NEWLEADER ACK leaves only
//! once that is durable (ZOOKEEPER-3911/4646 ordering). Their own ACKs follow it.

use alloc::collections::VecDeque;

use crate::durable::{LogEntry, PersistOp};
use crate::machine::StateMachine;
use crate::message::{Message, PeerState};
use crate::mutation::Mutation;
use crate::peer::{AfterPersist, Output, Peer, PeerMessage, Role};
use crate::time::Instant;
use crate::trace::{GiveUpReason, ResetReason, SyncMode, TraceEvent, ZabPhase};
use crate::zxid::{Epoch, Sid, Zxid};

/// Where a learner stands with its leader.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum LearnerStage {
    /// FOLLOWERINFO/OBSERVERINFO sent, waiting for LEADERINFO.
    Discovery,
    /// ACKEPOCH sent, waiting for DIFF/TRUNC/SNAP.
    AwaitingSyncMode,
    /// Receiving sync packets until NEWLEADER.
    Syncing,
    /// NEWLEADER processed; waiting for UPTODATE.
    AwaitingUpToDate,
    Broadcast,
}

/// A learner's state.
#[derive(Clone, Debug)]
pub struct Learner<M: StateMachine> {
    pub leader: Sid,
    pub stage: LearnerStage,
    pub new_epoch: Epoch,
    pub sync_mode: Option<SyncMode>,
    /// Proposals received during sync and not yet logged (`packetsNotLogged`).
    pub not_logged: VecDeque<LogEntry<M::Txn>>,
    /// The last proposal zxid received (for the contiguity check).
    pub last_queued: Zxid,
    /// No packet from the leader by this time: back to LOOKING.
    pub deadline: Instant,
    /// While registering: when to try connecting to the leader again, and tries left.
    pub retry_at: Option<Instant>,
    pub retries_left: u32,
}

/// ZooKeeper's learner tries to connect 5 times, 100 ms apart
/// (`zookeeper.leaderConnectDelayDuringRetryMs`), before it gives up.
const CONNECT_RETRIES: u32 = 5;
pub(crate) const CONNECT_RETRY_DELAY_MS: u64 = 100;

impl<M: StateMachine> Peer<M> {
    fn learner_mut(&mut self) -> &mut Learner<M> {
        match &mut self.role {
            Role::Learner(l) => l,
            _ => unreachable!("learner handler called while not a learner"),
        }
    }

    fn learner_ref(&self) -> &Learner<M> {
        match &self.role {
            Role::Learner(l) => l,
            _ => unreachable!("learner handler called while not a learner"),
        }
    }

    /// `followLeader()` / `observeLeader()`: register with the elected leader.
    pub(crate) fn follow(&mut self, leader: Sid) {
        self.generation += 1;
        let deadline = self.now + self.config.timing.init_limit_ms();
        let last = self.last_logged_zxid();
        self.role = Role::Learner(alloc::boxed::Box::new(Learner {
            leader,
            stage: LearnerStage::Discovery,
            new_epoch: 0,
            sync_mode: None,
            not_logged: VecDeque::new(),
            last_queued: last,
            deadline,
            retry_at: None,
            retries_left: CONNECT_RETRIES,
        }));
        self.set_phase(ZabPhase::Discovery);
        self.send_learner_info();
    }

    fn send_learner_info(&mut self) {
        let leader = self.learner_ref().leader;
        let accepted_epoch = self.accepted_epoch;
        let msg = if self.config.is_participant() {
            Message::FollowerInfo { accepted_epoch }
        } else {
            Message::ObserverInfo { accepted_epoch }
        };
        self.send(leader, msg);
    }

    pub(crate) fn learner_tick(&mut self) {
        let l = self.learner_ref();
        if matches!(l.retry_at, Some(t) if self.now >= t) {
            self.learner_mut().retry_at = None;
            self.send_learner_info();
        }
        if self.now >= self.learner_ref().deadline {
            self.give_up(GiveUpReason::LeaderSilent);
        }
    }

    /// The connection to the leader closed. While still registering, the leader may simply
    /// not be listening yet (it is finishing its own election): retry a few times.
    pub(crate) fn learner_disconnected(&mut self) {
        let now = self.now;
        let l = self.learner_mut();
        if l.stage == LearnerStage::Discovery && l.retries_left > 0 {
            l.retries_left -= 1;
            l.retry_at = Some(now + CONNECT_RETRY_DELAY_MS);
        } else {
            self.give_up(GiveUpReason::LeaderDisconnected);
        }
    }

    pub(crate) fn learner_on_message(&mut self, from: Sid, msg: PeerMessage<M>) {
        let l = self.learner_ref();
        if from != l.leader {
            return;
        }
        // Every packet from the leader resets the read timeout: initLimit until NEWLEADER,
        // syncLimit after it.
        let timing = self.config.timing;
        let limit = match l.stage {
            LearnerStage::AwaitingUpToDate | LearnerStage::Broadcast => timing.sync_limit_ms(),
            _ => timing.init_limit_ms(),
        };
        let deadline = self.now + limit;
        let l = self.learner_mut();
        l.deadline = deadline;
        // A packet from the leader means the connection is up: a retry scheduled by an earlier
        // refused attempt must not send a second FOLLOWERINFO in the middle of the sync
        // (the leader would answer with a new LEADERINFO and the sync would fail).
        l.retry_at = None;
        let stage = self.learner_ref().stage;
        match (stage, msg) {
            (LearnerStage::Discovery, Message::LeaderInfo { new_epoch }) => {
                self.on_leader_info(new_epoch)
            }
            // Stale packets of an earlier connection to this leader precede LEADERINFO.
            (LearnerStage::Discovery, _) => {}
            (LearnerStage::AwaitingSyncMode, Message::Diff { zxid }) => self.on_diff(zxid),
            (LearnerStage::AwaitingSyncMode, Message::Trunc { zxid }) => self.on_trunc(zxid),
            (LearnerStage::AwaitingSyncMode, Message::Snap { zxid, snapshot }) => {
                self.on_snap(zxid, snapshot)
            }
            (LearnerStage::Syncing, Message::Proposal(p)) => {
                if self.check_contiguous(p.zxid) {
                    self.learner_mut().not_logged.push_back(p);
                }
            }
            (LearnerStage::Syncing, Message::Commit { zxid }) => self.on_sync_commit(zxid),
            (LearnerStage::Syncing, Message::NewLeader { zxid }) => self.on_new_leader(zxid),
            (LearnerStage::AwaitingUpToDate, Message::UpToDate) => self.on_up_to_date(),
            (LearnerStage::AwaitingUpToDate | LearnerStage::Broadcast, Message::Proposal(p))
                if self.config.is_participant() =>
            {
                self.on_proposal(p)
            }
            (
                LearnerStage::AwaitingUpToDate | LearnerStage::Broadcast,
                Message::Commit { zxid },
            ) => self.on_commit(zxid),
            (LearnerStage::AwaitingUpToDate | LearnerStage::Broadcast, Message::Inform(p))
                if !self.config.is_participant() =>
            {
                self.on_inform(p)
            }
            (_, Message::Ping { zxid, .. }) => {
                let touches = core::mem::take(&mut self.touches);
                let leader = self.learner_ref().leader;
                self.send(leader, Message::Ping { zxid, touches });
            }
            (LearnerStage::Broadcast, Message::Sync { tag }) => {
                if self.pending_requests.remove(&tag).is_some() {
                    let zxid = self.last_processed;
                    self.outbox.push(Output::SyncDone { tag, zxid });
                }
            }
            // Anything else is a packet in the wrong phase (the TLA+ spec's messageIllegal /
            // stateInconsistent): drop the connection and elect again.
            _ => self.give_up(GiveUpReason::ProtocolViolation),
        }
    }

    /// LEADERINFO: promise the new epoch (acceptedEpoch durable before ACKEPOCH).
    fn on_leader_info(&mut self, new_epoch: Epoch) {
        let leader = self.learner_ref().leader;
        let last_logged_zxid = self.last_logged_zxid();
        if new_epoch >= crate::zab::leader::MAX_EPOCH {
            // No leader of this ensemble proposes such an epoch (see MAX_EPOCH).
            self.give_up(GiveUpReason::ProtocolViolation);
            return;
        }
        let current_epoch = if new_epoch > self.accepted_epoch {
            self.accepted_epoch = new_epoch;
            self.persist(PersistOp::AcceptedEpoch(new_epoch));
            Some(self.current_epoch)
        } else if new_epoch == self.accepted_epoch {
            None // already promised: -1 on the wire
        } else if self.mutated(Mutation::AcceptOlderEpoch) {
            self.accepted_epoch = new_epoch;
            self.persist(PersistOp::AcceptedEpoch(new_epoch));
            Some(self.current_epoch)
        } else {
            self.give_up(GiveUpReason::ProtocolViolation);
            return;
        };
        let l = self.learner_mut();
        l.new_epoch = new_epoch;
        l.stage = LearnerStage::AwaitingSyncMode;
        self.set_phase(ZabPhase::Synchronization);
        self.after_persisted(AfterPersist::AckEpoch {
            to: leader,
            last_logged_zxid,
            current_epoch,
        });
    }

    fn start_syncing(&mut self, mode: SyncMode) {
        let last = self.last_logged_zxid();
        let l = self.learner_mut();
        l.sync_mode = Some(mode);
        l.stage = LearnerStage::Syncing;
        l.last_queued = last;
    }

    /// DIFF: our log is a prefix of the leader's; the missing proposals follow.
    fn on_diff(&mut self, _zxid: Zxid) {
        self.start_syncing(SyncMode::Diff);
    }

    /// TRUNC: drop logged transactions above `zxid` and reload the state from disk.
    fn on_trunc(&mut self, zxid: Zxid) {
        if zxid > self.last_logged_zxid() {
            self.give_up(GiveUpReason::ProtocolViolation);
            return;
        }
        if matches!(self.snapshot, Some((s, _)) if s > zxid) {
            // Our snapshot already contains what must go: discard the database and start over
            // (the next sync is a SNAP). acceptedEpoch stays: it is a promise, and forgetting
            // it would let this server help establish a second leader of an epoch it already
            // promised to another. currentEpoch goes to 0 with the history it described (see
            // PersistOp::DiscardDatabase), so this server's vote ranks below every server
            // that holds data.
            self.persist(PersistOp::DiscardDatabase);
            self.current_epoch = 0;
            self.snapshot = None;
            self.log.clear();
            self.reload(Zxid::ZERO);
            let digest = self.machine.digest();
            self.trace(TraceEvent::StateReset {
                zxid: Zxid::ZERO,
                digest,
                reason: ResetReason::Discarded,
            });
            self.give_up(GiveUpReason::CannotTruncate);
            return;
        }
        self.persist(PersistOp::Truncate(zxid));
        self.reload(zxid);
        self.logged_since_snapshot = self.log.len() as u64;
        let digest = self.machine.digest();
        self.trace(TraceEvent::StateReset {
            zxid,
            digest,
            reason: ResetReason::Truncated,
        });
        self.start_syncing(SyncMode::Trunc);
    }

    /// SNAP: replace the whole database with the leader's.
    fn on_snap(&mut self, zxid: Zxid, snapshot: M::Snapshot) {
        self.machine = M::restore(&snapshot);
        self.last_processed = zxid;
        self.committed_log.clear();
        self.log.clear();
        self.logged_since_snapshot = 0;
        self.snapshot = Some((zxid, snapshot.clone()));
        self.persist(PersistOp::InstallSnapshot { zxid, snapshot });
        let digest = self.machine.digest();
        self.trace(TraceEvent::StateReset {
            zxid,
            digest,
            reason: ResetReason::SnapshotInstalled,
        });
        self.start_syncing(SyncMode::Snap);
    }

    /// Within an epoch proposals must be contiguous. ZooKeeper allows any jump to a higher
    /// epoch with a warning; here the only such jump is to the new leader's first proposal
    /// (`newEpoch:1`), because the leader sends everything else in order — anything else means
    /// a packet was lost and the connection cannot be trusted.
    fn check_contiguous(&mut self, zxid: Zxid) -> bool {
        let l = self.learner_ref();
        let (last, new_epoch) = (l.last_queued, l.new_epoch);
        let ok = if zxid.epoch() == last.epoch() {
            zxid.counter() == last.counter().wrapping_add(1)
        } else {
            zxid.epoch() > last.epoch() && zxid.epoch() <= new_epoch && zxid.counter() == 1
        };
        if ok {
            self.learner_mut().last_queued = zxid;
        } else {
            self.give_up(GiveUpReason::ProtocolViolation);
        }
        ok
    }

    /// COMMIT during sync: apply the head of the unlogged proposals in memory.
    fn on_sync_commit(&mut self, zxid: Zxid) {
        let next = self
            .learner_ref()
            .not_logged
            .iter()
            .find(|p| p.zxid > self.last_processed)
            .map(|p| p.zxid);
        if next != Some(zxid) {
            self.give_up(GiveUpReason::ProtocolViolation);
            return;
        }
        let entry = self
            .learner_ref()
            .not_logged
            .iter()
            .find(|p| p.zxid == zxid)
            .cloned()
            .expect("found above");
        self.apply_entry(&entry);
    }

    /// NEWLEADER: log what sync brought, write currentEpoch, and ACK once both are durable.
    fn on_new_leader(&mut self, zxid: Zxid) {
        let new_epoch = self.learner_ref().new_epoch;
        if zxid != Zxid::epoch_start(new_epoch) {
            self.give_up(GiveUpReason::ProtocolViolation);
            return;
        }
        let pending = core::mem::take(&mut self.learner_mut().not_logged);
        let leader = self.learner_ref().leader;
        let early_ack = self.mutated(Mutation::CurrentEpochBeforeSyncLogged);
        if early_ack {
            // ZOOKEEPER-4643/4646: currentEpoch first, and the ACK waits only for it.
            self.current_epoch = new_epoch;
            self.persist(PersistOp::CurrentEpoch(new_epoch));
            self.after_persisted(AfterPersist::LearnerNewLeaderAck { to: leader, zxid });
        }
        let mut uncommitted = alloc::vec::Vec::new();
        for p in pending {
            if p.zxid > self.last_processed {
                uncommitted.push(p.zxid);
            }
            self.log_append(p);
        }
        if !early_ack {
            self.current_epoch = new_epoch;
            self.persist(PersistOp::CurrentEpoch(new_epoch));
        }
        self.trace(TraceEvent::NewEpochAccepted { epoch: new_epoch });
        self.learner_mut().stage = LearnerStage::AwaitingUpToDate;
        self.learner_mut().deadline = self.now + self.config.timing.sync_limit_ms();
        if !early_ack {
            self.after_persisted(AfterPersist::LearnerNewLeaderAck { to: leader, zxid });
        }
        if self.config.is_participant() {
            for z in uncommitted {
                self.after_persisted(AfterPersist::ProposalAck {
                    to: leader,
                    zxid: z,
                });
            }
        }
    }

    pub(crate) fn learner_newleader_acked(&mut self, to: Sid, zxid: Zxid) {
        self.send(to, Message::Ack { zxid });
    }

    /// UPTODATE: start serving; ACK `epoch << 32` (the leader ignores it) and adopt the epoch
    /// in the vote we report to joining servers.
    fn on_up_to_date(&mut self) {
        let l = self.learner_ref();
        let (leader, epoch) = (l.leader, l.new_epoch);
        self.learner_mut().stage = LearnerStage::Broadcast;
        self.set_phase(ZabPhase::Broadcast);
        // What sync brought is the leader's committed history, its member lists too (by
        // DIFF or inside a SNAP): the newest is active; the role check runs at step's end.
        self.activate_applied();
        self.reconfig_activated = true;
        self.current_vote.peer_epoch = epoch;
        self.send(
            leader,
            Message::Ack {
                zxid: Zxid::epoch_start(epoch),
            },
        );
    }

    /// PROPOSAL in broadcast: log it, ACK once durable.
    fn on_proposal(&mut self, p: LogEntry<M::Txn>) {
        if !self.check_contiguous(p.zxid) {
            return;
        }
        let (zxid, leader) = (p.zxid, self.learner_ref().leader);
        if self.mutated(Mutation::ApplyUncommitted) {
            self.log_append(p.clone());
            self.apply_entry(&p);
        } else {
            self.log_append(p);
        }
        if self.mutated(Mutation::AckBeforeDurable) {
            self.send(leader, Message::Ack { zxid });
            return;
        }
        self.after_persisted(AfterPersist::ProposalAck { to: leader, zxid });
    }

    /// COMMIT in broadcast: apply the next logged transaction, which must be this one.
    fn on_commit(&mut self, zxid: Zxid) {
        let i = self.log.partition_point(|e| e.zxid <= self.last_processed);
        match self.log.get(i) {
            Some(e) if e.zxid == zxid => {
                let entry = e.clone();
                self.apply_entry(&entry);
            }
            _ if self.mutated(Mutation::ApplyUncommitted) && zxid <= self.last_processed => {}
            _ => self.give_up(GiveUpReason::ProtocolViolation),
        }
    }

    /// INFORM (observer): a committed transaction; log and apply it.
    fn on_inform(&mut self, p: LogEntry<M::Txn>) {
        if !self.check_contiguous(p.zxid) {
            return;
        }
        self.log_append(p.clone());
        self.apply_entry(&p);
    }

    /// Used by the UI: the state of a learner as a `PeerState`.
    pub fn learner_state(&self) -> Option<PeerState> {
        match &self.role {
            Role::Learner(_) => Some(self.state),
            _ => None,
        }
    }
}
