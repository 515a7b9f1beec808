//! FastLeaderElection (docs/protocol.md §2.4–2.6), run whenever a server enters LOOKING.
//!
//! ZooKeeper runs `lookForLeader` as a blocking loop polling a queue with a timeout; here the
//! same loop is unrolled into handlers: a notification arrives ([`Peer::on_notification`]) or
//! the poll timeout expires ([`Peer::election_tick`]). The receiver thread's immediate replies
//! (§2.5) happen in `on_notification` before the vote is considered.

use alloc::collections::BTreeMap;

use crate::machine::StateMachine;
use crate::message::{Message, Notification, PeerState, Vote};
use crate::peer::{Peer, Role};
use crate::time::Instant;
use crate::trace::{TraceEvent, VoteDecision, ZabPhase};
use crate::zxid::{Sid, Zxid};

/// A vote as recorded in the vote box: who voted for what, in which round, from which state.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ReceivedVote {
    pub vote: Vote,
    pub logicclock: u64,
    pub state: PeerState,
}

impl ReceivedVote {
    /// ZooKeeper's `Vote.equals` as termPredicate uses it: when either side is LOOKING, all of
    /// (id, zxid, round, peer_epoch) must match; between established votes only (id,
    /// peer_epoch) — ignoring zxid and round is deliberate (ZOOKEEPER-1732).
    fn agrees_with(&self, other: &ReceivedVote) -> bool {
        if self.state == PeerState::Looking || other.state == PeerState::Looking {
            self.vote == other.vote && self.logicclock == other.logicclock
        } else {
            self.vote.vote_id == other.vote.vote_id && self.vote.peer_epoch == other.vote.peer_epoch
        }
    }
}

/// FastLeaderElection's state. Nothing here is persisted: `logicclock` restarts from 0 after a
/// crash, as in ZooKeeper.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Election {
    /// The election round.
    pub logicclock: u64,
    /// This server's current proposal.
    pub proposal: Vote,
    /// Votes of the current round, by sender (each voter's last vote only).
    pub recvset: BTreeMap<Sid, ReceivedVote>,
    /// Votes from FOLLOWING/LEADING servers, of any round.
    pub outofelection: BTreeMap<Sid, ReceivedVote>,
    /// The current poll timeout (`notTimeout`), doubling up to maxNotificationInterval.
    pub not_timeout_ms: u64,
    /// When the poll times out if no notification arrives.
    pub poll_deadline: Instant,
    /// Set while a quorum agrees with the proposal: the election ends at this time unless a
    /// newer vote arrives first (finalizeWait).
    pub finalize_deadline: Option<Instant>,
}

impl Election {
    pub(crate) fn new(_myid: Sid) -> Election {
        Election {
            logicclock: 0,
            proposal: Vote {
                vote_id: 0,
                vote_zxid: Zxid::ZERO,
                peer_epoch: 0,
            },
            recvset: BTreeMap::new(),
            outofelection: BTreeMap::new(),
            not_timeout_ms: 0,
            poll_deadline: Instant::ZERO,
            finalize_deadline: None,
        }
    }

    /// The senders in `recvset` whose vote agrees with this server's proposal, as
    /// termPredicate counts them (a quorum of voters among them starts finalizeWait).
    /// Read-only, for hosts that show the vote box.
    pub fn agreeing_with_proposal(&self) -> alloc::vec::Vec<Sid> {
        let target = ReceivedVote {
            vote: self.proposal,
            logicclock: self.logicclock,
            state: PeerState::Looking,
        };
        self.recvset
            .iter()
            .filter(|(_, v)| v.agrees_with(&target))
            .map(|(s, _)| *s)
            .collect()
    }

    pub(crate) fn deadline(&self) -> Instant {
        match self.finalize_deadline {
            Some(f) => f.min(self.poll_deadline),
            None => self.poll_deadline,
        }
    }
}

impl<M: StateMachine> Peer<M> {
    /// Enters LOOKING and starts a new round: `logicclock += 1`, vote for ourselves with our
    /// last logged zxid and current epoch (an observer proposes nobody), tell every voter.
    pub(crate) fn start_looking(&mut self) {
        self.generation += 1;
        if matches!(self.role, Role::Leader(_)) {
            self.machine.on_stop_leading();
        }
        self.role = Role::Looking;
        self.fail_pending_requests();
        self.touches.clear();
        let before = self.last_processed;
        if self.last_processed > self.last_logged_zxid() {
            // A sync ended before NEWLEADER: what it applied in memory was never logged.
            // Go back to what the disk holds, as a restart would.
            let logged = self.last_logged_zxid();
            self.reload(logged);
        }
        self.fast_forward();
        self.note_applied_configs();
        if self.last_processed != before {
            let digest = self.machine.digest();
            self.trace(TraceEvent::StateReset {
                zxid: self.last_processed,
                digest,
                reason: crate::trace::ResetReason::FastForward,
            });
        }
        self.set_state(PeerState::Looking);
        self.set_phase(ZabPhase::Election);
        let initial = self.initial_vote();
        let e = &mut self.election;
        e.logicclock += 1;
        e.recvset.clear();
        e.outofelection.clear();
        e.finalize_deadline = None;
        e.not_timeout_ms = self.config.timing.min_notification_interval_ms;
        e.poll_deadline = self.now + e.not_timeout_ms;
        e.proposal = initial;
        let (logicclock, vote) = (e.logicclock, e.proposal);
        self.trace(TraceEvent::ElectionRound { logicclock, vote });
        self.send_notifications();
        // Our own vote counts too (Java loops it back through the receive queue): alone in
        // a one-voter ensemble it is already a quorum.
        self.check_proposal_quorum();
    }

    fn initial_vote(&self) -> Vote {
        if self.is_voter_any(self.config.myid) {
            Vote {
                vote_id: self.config.myid,
                vote_zxid: self.last_logged_zxid(),
                peer_epoch: self.current_epoch,
            }
        } else {
            Vote {
                vote_id: 0,
                vote_zxid: Zxid::ZERO,
                peer_epoch: 0,
            }
        }
    }

    fn my_notification(&self) -> Notification {
        let vote = self.vote();
        Notification {
            state: self.state,
            vote_id: vote.vote_id,
            vote_zxid: vote.vote_zxid,
            logicclock: self.election.logicclock,
            peer_epoch: vote.peer_epoch,
            sender: self.config.myid,
        }
    }

    /// Sends our proposal to every voter; our own vote goes straight into our vote box (Java
    /// loops it back through its receive queue).
    fn send_notifications(&mut self) {
        let n = self.my_notification();
        let me = self.config.myid;
        let voters: alloc::vec::Vec<Sid> = self.voters_any();
        for sid in voters {
            if sid == me {
                let own = ReceivedVote {
                    vote: n.vote(),
                    logicclock: n.logicclock,
                    state: n.state,
                };
                self.election.recvset.insert(me, own);
            } else {
                self.send(sid, Message::Notification(n));
                self.gossip_config(sid);
            }
        }
    }

    fn reply_with_my_vote(&mut self, to: Sid) {
        let n = self.my_notification();
        self.send(to, Message::Notification(n));
        self.gossip_config(to);
    }

    /// `totalOrderPredicate` with the weight check: an observer (weight 0) can never win.
    fn newer(&self, new: &Vote, cur: &Vote) -> bool {
        if self.mutated(crate::mutation::Mutation::FleZxidBeforeEpoch) {
            return self.is_voter_any(new.vote_id)
                && (new.vote_zxid, new.peer_epoch, new.vote_id)
                    > (cur.vote_zxid, cur.peer_epoch, cur.vote_id);
        }
        self.is_voter_any(new.vote_id) && new.is_newer_than(cur)
    }

    /// A notification arrives (WorkerReceiver, then lookForLeader).
    pub(crate) fn on_notification(&mut self, from: Sid, n: Notification) {
        let max = crate::zab::leader::MAX_EPOCH;
        if n.peer_epoch >= max || n.vote_zxid.epoch() >= max {
            // No server of this ensemble can hold such an epoch (see MAX_EPOCH): a stranger's
            // or a corrupted vote must not win an election.
            self.trace_vote(from, n, VoteDecision::Ignored);
            return;
        }
        // Receiver thread: a non-voter gets our current vote back at once and nothing else.
        // With reconfig on, an established leader or follower that is a voter only in a
        // member list we missed is still heard: following it is how we learn that list
        // (ZooKeeper sends the list inside the notification instead). Its vote never counts
        // towards our quorums, which only our voters make.
        if !self.is_voter_any(from) && !self.may_join_through(from, &n) {
            self.reply_with_my_vote(from);
            return;
        }
        if self.state != PeerState::Looking {
            // Receiver thread: tell a LOOKING server who leads, with the round we decided in.
            if n.state == PeerState::Looking {
                self.reply_with_my_vote(from);
            }
            return;
        }
        if n.state == PeerState::Looking && n.logicclock < self.election.logicclock {
            self.reply_with_my_vote(from);
        }
        self.look_for_leader(from, n);
    }

    /// With reconfig on: `sid` is a member that `n` reports as an established leader, or
    /// one of its learners (see `on_notification`).
    fn may_join_through(&self, sid: Sid, n: &Notification) -> bool {
        self.config.reconfig_enabled
            && matches!(
                n.state,
                PeerState::Following | PeerState::Leading | PeerState::Observing
            )
            && self.is_member_any(sid)
    }

    /// One iteration of `lookForLeader`'s loop for a received notification.
    fn look_for_leader(&mut self, from: Sid, n: Notification) {
        // A notification resets the poll timeout (the blocking poll returned).
        self.election.poll_deadline = self.now + self.election.not_timeout_ms;
        let nvote = n.vote();
        if let Some(deadline) = self.election.finalize_deadline {
            // finalizeWait: only a newer vote interrupts; anything else is discarded and
            // restarts the wait.
            if self.newer(&nvote, &self.election.proposal) {
                self.election.finalize_deadline = None;
            } else {
                let _ = deadline;
                self.election.finalize_deadline =
                    Some(self.now + self.config.timing.finalize_wait_ms);
                return;
            }
        }
        let counts = |sid| self.is_voter_any(sid) || self.may_join_through(sid, &n);
        if !counts(n.sender) || !counts(n.vote_id) {
            self.trace_vote(from, n, VoteDecision::Ignored);
            return;
        }
        match n.state {
            PeerState::Looking => self.on_looking_vote(from, n),
            // An observer in broadcast with a leader is evidence that the leader is
            // established, as a follower is (stronger: a follower is FOLLOWING from the end
            // of its election, an observer OBSERVING only once synced). With reconfig on,
            // servers we still count as voters may have become observers in a member list we
            // missed, and only they can tell us who leads.
            PeerState::Observing if self.config.reconfig_enabled => {
                self.on_established_vote(from, n)
            }
            PeerState::Observing => self.trace_vote(from, n, VoteDecision::Ignored),
            PeerState::Following | PeerState::Leading => self.on_established_vote(from, n),
        }
    }

    fn on_looking_vote(&mut self, from: Sid, n: Notification) {
        let nvote = n.vote();
        let decision;
        if n.logicclock > self.election.logicclock {
            self.election.logicclock = n.logicclock;
            self.election.recvset.clear();
            let initial = self.initial_vote();
            let adopted = self.newer(&nvote, &initial);
            self.election.proposal = if adopted { nvote } else { initial };
            decision = VoteDecision::NewRound { adopted };
            self.send_notifications();
        } else if n.logicclock < self.election.logicclock {
            self.trace_vote(from, n, VoteDecision::StaleRound);
            return;
        } else if self.newer(&nvote, &self.election.proposal) {
            self.election.proposal = nvote;
            decision = VoteDecision::Adopted;
            self.send_notifications();
        } else {
            decision = VoteDecision::Kept;
        }
        self.election.recvset.insert(
            from,
            ReceivedVote {
                vote: nvote,
                logicclock: n.logicclock,
                state: PeerState::Looking,
            },
        );
        self.trace_vote(from, n, decision);
        self.check_proposal_quorum();
    }

    /// termPredicate on our proposal: when a quorum agrees, start finalizeWait.
    fn check_proposal_quorum(&mut self) {
        let target = ReceivedVote {
            vote: self.election.proposal,
            logicclock: self.election.logicclock,
            state: PeerState::Looking,
        };
        if self.election.finalize_deadline.is_none()
            && self.has_quorum(&self.election.recvset, &target)
        {
            self.election.finalize_deadline = Some(self.now + self.config.timing.finalize_wait_ms);
            let vote = self.election.proposal;
            self.trace(TraceEvent::Finalizing { vote });
        }
    }

    fn on_established_vote(&mut self, from: Sid, n: Notification) {
        let rv = ReceivedVote {
            vote: n.vote(),
            logicclock: n.logicclock,
            state: n.state,
        };
        self.trace_vote(from, n, VoteDecision::Established);
        if n.logicclock == self.election.logicclock {
            self.election.recvset.insert(from, rv);
            if self.has_established_quorum(&self.election.recvset, &rv)
                && self.check_leader(&self.election.recvset, n.vote_id, n.logicclock)
            {
                self.finish_election(n.vote());
                return;
            }
        }
        self.election.outofelection.insert(from, rv);
        if self.has_established_quorum(&self.election.outofelection, &rv)
            && self.check_leader(&self.election.outofelection, n.vote_id, n.logicclock)
        {
            self.election.logicclock = n.logicclock;
            self.finish_election(n.vote());
        }
    }

    /// termPredicate: the voters whose recorded vote agrees with `target` form a quorum.
    fn has_quorum(&self, votes: &BTreeMap<Sid, ReceivedVote>, target: &ReceivedVote) -> bool {
        let agreeing = votes
            .iter()
            .filter(|(_, v)| v.agrees_with(target))
            .map(|(s, _)| s);
        self.is_quorum(agreeing)
    }

    /// termPredicate for joining an established leader: a quorum of the active voters. A
    /// pending member list is not asked: it may be a reconfig of ours that never committed
    /// (the leader will TRUNC it), whose voters then never gather behind anyone. Joining an
    /// elected leader decides nothing about its history (its own election did, and its
    /// NEWLEADER quorum of all its lists does); the check only keeps us from chasing a
    /// leader nobody follows. Without a pending list it is [`Self::has_quorum`].
    fn has_established_quorum(
        &self,
        votes: &BTreeMap<Sid, ReceivedVote>,
        target: &ReceivedVote,
    ) -> bool {
        if self.joint.is_none() {
            return self.has_quorum(votes, target);
        }
        let agreeing = votes
            .iter()
            .filter(|(_, v)| v.agrees_with(target))
            .map(|(s, _)| s);
        self.config.ensemble.is_quorum(agreeing)
    }

    /// checkLeader: someone else must have told us it is LEADING; we may only lead in the
    /// round we are in.
    fn check_leader(&self, votes: &BTreeMap<Sid, ReceivedVote>, leader: Sid, round: u64) -> bool {
        if leader != self.config.myid {
            matches!(votes.get(&leader), Some(v) if v.state == PeerState::Leading)
        } else {
            self.election.logicclock == round
        }
    }

    fn trace_vote(&mut self, from: Sid, notification: Notification, decision: VoteDecision) {
        let proposal = self.election.proposal;
        self.trace(TraceEvent::VoteReceived {
            from,
            notification,
            decision,
            proposal,
        });
    }

    /// The poll timed out (re-send with doubled timeout) or finalizeWait ended (decide).
    pub(crate) fn election_tick(&mut self) {
        if let Some(deadline) = self.election.finalize_deadline {
            if self.now >= deadline {
                let vote = self.election.proposal;
                self.finish_election(vote);
                return;
            }
        }
        if self.now >= self.election.poll_deadline {
            self.send_notifications();
            let t = &self.config.timing;
            let next = (self.election.not_timeout_ms * 2).min(t.max_notification_interval_ms);
            self.election.not_timeout_ms = next;
            self.election.poll_deadline = self.now + next;
        }
    }

    /// The election ended with `vote`: take the role.
    fn finish_election(&mut self, vote: Vote) {
        self.election.finalize_deadline = None;
        let me = self.config.myid;
        let state = if vote.vote_id == me {
            PeerState::Leading
        } else if self.config.is_participant() {
            PeerState::Following
        } else {
            PeerState::Observing
        };
        self.current_vote = vote;
        let logicclock = self.election.logicclock;
        self.trace(TraceEvent::ElectionDone {
            leader: vote.vote_id,
            logicclock,
            state,
        });
        self.set_state(state);
        if state == PeerState::Leading {
            self.lead();
        } else {
            self.follow(vote.vote_id);
        }
    }
}
