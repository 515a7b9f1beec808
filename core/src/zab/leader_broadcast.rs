//! The leader in broadcast (docs/protocol.md §3.6): PROPOSAL to forwarding followers, ACKs counted
//! by a strict majority of voters (the leader's own ACK once its log write is durable), COMMIT in
//! zxid order, INFORM to observers, PINGs every half tick and the quorum check every tick.

use alloc::collections::BTreeSet;
use alloc::vec::Vec;

use crate::config::LearnerType;
use crate::durable::{LogEntry, RequestTag};
use crate::machine::{StateMachine, TxnContext};
use crate::message::{Forwarded, Message};
use crate::mutation::Mutation;
use crate::peer::{AfterPersist, Output, Peer};
use crate::trace::{GiveUpReason, TraceEvent};
use crate::zab::leader::{HandlerStage, Outstanding};
use crate::zxid::{Sid, Zxid};

impl<M: StateMachine> Peer<M> {
    /// PrepRequestProcessor then `Leader.propose`: next zxid, prep the request into the
    /// transaction at that zxid, log it, send PROPOSAL to every forwarding follower.
    pub(crate) fn leader_propose(
        &mut self,
        origin: Option<(Sid, RequestTag)>,
        request: M::Request,
    ) {
        let Some(zxid) = self.leader_ref().last_proposed.next() else {
            self.give_up(GiveUpReason::CounterRollover);
            return;
        };
        let time_ms = self.now.as_millis();
        let ctx = TxnContext {
            zxid,
            time_ms,
            origin: origin.map(|(s, _)| s),
        };
        let txn = self.machine.prep(&ctx, &request);
        if let Some(s) = M::prep_summary(&request, &txn) {
            self.trace(TraceEvent::Prepped {
                zxid,
                request_type: s.request_type,
                txn_type: s.txn_type,
                err: s.err,
            });
        }
        self.propose_entry(zxid, time_ms, origin, txn);
    }

    /// `Leader.propose` of a transaction the leader made itself (a reconfig's): the next
    /// zxid, or `None` when the counter would roll over (the leader gave up).
    pub(crate) fn leader_propose_txn(
        &mut self,
        origin: Option<(Sid, RequestTag)>,
        txn: M::Txn,
    ) -> Option<Zxid> {
        let Some(zxid) = self.leader_ref().last_proposed.next() else {
            self.give_up(GiveUpReason::CounterRollover);
            return None;
        };
        let time_ms = self.now.as_millis();
        self.propose_entry(zxid, time_ms, origin, txn);
        Some(zxid)
    }

    /// Records `txn` as outstanding at `zxid`, sends PROPOSAL to the forwarding followers
    /// and logs it; the leader's own ACK waits for the log write.
    fn propose_entry(
        &mut self,
        zxid: Zxid,
        time_ms: u64,
        origin: Option<(Sid, RequestTag)>,
        txn: M::Txn,
    ) {
        let entry = LogEntry {
            zxid,
            time_ms,
            origin,
            txn,
        };
        let now = self.now;
        let l = self.leader_mut();
        l.last_proposed = zxid;
        l.outstanding.insert(
            zxid,
            Outstanding {
                entry: entry.clone(),
                acks: BTreeSet::new(),
            },
        );
        let mut targets: Vec<Sid> = Vec::new();
        for h in l.learners.values_mut() {
            if h.forwarding && h.learner_type == LearnerType::Participant {
                h.unacked.push_back((zxid, now));
                targets.push(h.sid);
            }
        }
        self.trace(TraceEvent::Proposed { zxid });
        for sid in targets {
            self.send(sid, Message::Proposal(entry.clone()));
        }
        self.log_append(entry);
        self.after_persisted(AfterPersist::LeaderSelfAck { zxid });
    }

    pub(crate) fn leader_self_ack(&mut self, zxid: Zxid) {
        let me = self.config.myid;
        self.process_ack(me, zxid);
    }

    /// An ACK from a learner: the NEWLEADER ACK while its handler waits for it, else a proposal ACK.
    pub(crate) fn on_learner_ack(&mut self, sid: Sid, zxid: Zxid) {
        let Some(h) = self.leader_mut().learners.get_mut(&sid) else {
            return;
        };
        if h.stage == HandlerStage::WaitingForNewLeaderAck {
            let epoch = self.leader_ref().epoch;
            if zxid == Zxid::epoch_start(epoch) {
                self.on_newleader_ack(sid);
            }
            return;
        }
        while matches!(h.unacked.front(), Some((z, _)) if *z <= zxid) {
            h.unacked.pop_front();
        }
        self.process_ack(sid, zxid);
    }

    /// `Leader.processAck`: count a voter's ACK and commit what has a quorum, in order.
    fn process_ack(&mut self, sid: Sid, zxid: Zxid) {
        if zxid.is_new_epoch() || !self.is_voter_any(sid) {
            return;
        }
        let l = self.leader_mut();
        if zxid <= l.last_committed {
            return;
        }
        let Some(p) = l.outstanding.get_mut(&zxid) else {
            return;
        };
        p.acks.insert(sid);
        self.try_to_commit();
    }

    /// Commits the oldest outstanding proposals while each has a quorum (zxid - 1 first).
    fn try_to_commit(&mut self) {
        loop {
            let l = self.leader_ref();
            let Some((zxid, p)) = l.outstanding.iter().next() else {
                return;
            };
            let minority = self.mutated(Mutation::CommitWithMinority)
                && 2 * (p.acks.len() + 1) > self.config.ensemble.voter_count();
            if !self.commit_quorum(&p.acks) && !minority {
                return;
            }
            let zxid = *zxid;
            let p = self
                .leader_mut()
                .outstanding
                .remove(&zxid)
                .expect("present");
            self.commit(p.entry);
        }
    }

    fn commit(&mut self, entry: LogEntry<M::Txn>) {
        let zxid = entry.zxid;
        debug_assert!(
            zxid > self.leader_ref().last_committed,
            "commit {zxid} not above lastCommitted {}",
            self.leader_ref().last_committed
        );
        self.leader_mut().last_committed = zxid;
        self.trace(TraceEvent::Committed { zxid });
        let mut followers = Vec::new();
        let mut observers = Vec::new();
        for h in self.leader_ref().learners.values() {
            if !h.forwarding {
                continue;
            }
            match h.learner_type {
                LearnerType::Participant => followers.push(h.sid),
                LearnerType::Observer => observers.push(h.sid),
            }
        }
        for sid in followers {
            self.send(sid, Message::Commit { zxid });
        }
        for sid in observers {
            self.send(sid, Message::Inform(entry.clone()));
        }
        self.apply_entry(&entry);
        self.release_syncs();
    }

    /// Answers pending `sync`s whose zxid has committed.
    fn release_syncs(&mut self) {
        let committed = self.leader_ref().last_committed;
        if self
            .leader_ref()
            .pending_syncs
            .iter()
            .all(|(z, _, _)| *z > committed)
        {
            return;
        }
        let syncs = core::mem::take(&mut self.leader_mut().pending_syncs);
        let (due, keep): (Vec<_>, Vec<_>) =
            syncs.into_iter().partition(|(z, _, _)| *z <= committed);
        self.leader_mut().pending_syncs = keep;
        for (_, origin, tag) in due {
            self.answer_sync(origin, tag);
        }
    }

    fn answer_sync(&mut self, origin: Sid, tag: RequestTag) {
        if origin == self.config.myid {
            if self.pending_requests.remove(&tag).is_some() {
                let zxid = self.last_processed;
                self.outbox.push(Output::SyncDone { tag, zxid });
            }
        } else {
            self.send(origin, Message::Sync { tag });
        }
    }

    /// A `sync` from a client here or a learner: answered once everything proposed so far commits.
    pub(crate) fn leader_sync(&mut self, origin: Sid, tag: RequestTag) {
        let l = self.leader_ref();
        if l.outstanding.is_empty() {
            self.answer_sync(origin, tag);
        } else {
            let zxid = l.last_proposed;
            self.leader_mut().pending_syncs.push((zxid, origin, tag));
        }
    }

    pub(crate) fn on_forwarded_request(
        &mut self,
        from: Sid,
        tag: RequestTag,
        body: Forwarded<M::Request>,
    ) {
        let serving = self.leader_ref().established
            && matches!(self.leader_ref().learners.get(&from), Some(h) if h.stage == HandlerStage::Broadcast);
        if !serving {
            return; // the learner fails the request when it loses its leader
        }
        match body {
            Forwarded::Write(request) => self.leader_propose(Some((from, tag)), request),
            Forwarded::Sync => self.leader_sync(from, tag),
            Forwarded::Reconfig(request) => self.leader_reconfig(from, tag, request),
        }
    }

    /// The leader's timer: before establishment, the initLimit deadline; after it, the
    /// `lead()` loop — every half tick ping the learners, every full tick check that the
    /// synced voters still form a quorum and let the state machine expire sessions.
    pub(crate) fn leader_tick(&mut self) {
        if !self.leader_ref().established {
            self.leader_discovery_tick();
            return;
        }
        let half_tick = (self.config.timing.tick_time_ms / 2).max(1);
        while self.now >= self.leader_ref().next_wake {
            let l = self.leader_mut();
            l.next_wake = l.next_wake + half_tick;
            if !l.tick_skip {
                l.tick += 1;
            }
            let full_tick = !l.tick_skip;
            l.tick_skip = !l.tick_skip;
            if full_tick && !self.synced_quorum() {
                self.give_up(GiveUpReason::LostQuorum);
                return;
            }
            self.ping_learners();
            if full_tick {
                let requests = self.machine.leader_tick(self.now);
                for request in requests {
                    self.leader_propose(None, request);
                    if !matches!(self.role, crate::peer::Role::Leader(_)) {
                        return;
                    }
                }
            }
        }
    }

    fn synced_quorum(&self) -> bool {
        let l = self.leader_ref();
        let me = self.config.myid;
        let synced = l
            .learners
            .values()
            .filter(|h| l.tick <= h.tick_of_next_ack_deadline)
            .map(|h| &h.sid)
            .chain(core::iter::once(&me));
        self.leader_quorum(synced)
    }

    /// `LearnerHandler.ping`: PING with the last proposed zxid, or close the connection when a
    /// proposal sent to this learner went unacknowledged for syncLimit ticks.
    fn ping_learners(&mut self) {
        let now = self.now;
        let limit = self.config.timing.sync_limit_ms();
        let l = self.leader_ref();
        let zxid = l.last_proposed;
        let mut late = Vec::new();
        let mut ping = Vec::new();
        for h in l.learners.values() {
            match h.unacked.front() {
                Some((_, sent)) if now.saturating_sub(*sent) > limit => late.push(h.sid),
                _ => ping.push(h.sid),
            }
        }
        for sid in late {
            self.leader_drop_learner(sid);
        }
        for sid in ping {
            self.send(
                sid,
                Message::Ping {
                    zxid,
                    touches: Vec::new(),
                },
            );
        }
    }
}
