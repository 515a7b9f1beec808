//! The peer's side of dynamic reconfiguration (docs/protocol.md §2.8, ZooKeeper 3.5+): which
//! member list is active, which one is pending, the quorum rule while one is pending, the
//! leader's checks of a `reconfig` (PrepRequestProcessor), and what activation does.
//!
//! * **Active** is `config.ensemble`, with its version `active_version` (the zxid of the
//!   reconfig that made it; zero for the configuration the server was started with). Every
//!   quorum, vote and learner-role check reads it, so a server that never reconfigures
//!   behaves exactly as before.
//! * **Pending** (`joint`) is a member list that may or may not be committed: the one the
//!   leader proposed and not yet committed (ZooKeeper's `lastSeenQuorumVerifier`), or one a
//!   server finds applied from its own log after a restart or on entering LOOKING (the log
//!   holds it; whether it committed nobody can tell locally). While one is pending, every
//!   quorum needs a majority of the active voters *and* of the pending voters (Leader's
//!   `qvAcksetPairs`, FastLeaderElection's `addQuorumVerifier`): any quorum either side of the
//!   change may use then intersects it.
//! * **Activation** happens when the reconfig transaction is applied as committed (the
//!   leader's commit, COMMIT or INFORM on a learner, a DIFF's PROPOSAL/COMMIT pair), and when
//!   a history becomes committed as a whole (a leader established, a learner's UPTODATE,
//!   which also covers SNAP: the member lists travel in the state machine, as ZooKeeper's in
//!   `/zookeeper/config`). A server whose role changed, or whose leader is no longer a voter,
//!   then goes back to LOOKING and joins again (ZooKeeper's processReconfig asks for a new
//!   election too; its designated-leader handoff without an election is not modelled).
//!
//! Reconfigs are one at a time, so the member list before the newest applied one was
//! committed: a restarted server needs no more than the last two
//! ([`APPLIED_CONFIGS_KEPT`](crate::machine::APPLIED_CONFIGS_KEPT)).

use alloc::vec::Vec;

use crate::config::{Ensemble, LearnerType};
use crate::durable::RequestTag;
use crate::machine::StateMachine;
use crate::mutation::Mutation;
use crate::reconfig::{next_members, ReconfigError, ReconfigRequest};
use crate::trace::{GiveUpReason, TraceEvent};
use crate::zab::leader::HandlerStage;
use crate::zxid::{Sid, Zxid};

use super::{Output, Peer, Role};

impl<M: StateMachine> Peer<M> {
    /// ZooKeeper's `reconfigEnabled`, a server setting: whether this server, leading, takes
    /// `reconfig` requests. Changing it changes nothing else.
    pub fn set_reconfig_enabled(&mut self, enabled: bool) {
        self.config.reconfig_enabled = enabled;
    }

    /// The active member list and its version.
    pub fn active_config(&self) -> (Zxid, &Ensemble) {
        (self.active_version, &self.config.ensemble)
    }

    /// The member list that is pending (proposed or found in the log, not known committed).
    pub fn pending_config(&self) -> Option<&(Zxid, Ensemble)> {
        self.joint.as_ref()
    }

    /// A majority of the active voters and, while a reconfig is pending, of its voters too.
    pub(crate) fn is_quorum<'a>(&self, sids: impl IntoIterator<Item = &'a Sid>) -> bool {
        match &self.joint {
            None => self.config.ensemble.is_quorum(sids),
            Some((_, pending)) => {
                let sids: Vec<Sid> = sids.into_iter().copied().collect();
                self.config.ensemble.is_quorum(&sids) && pending.is_quorum(&sids)
            }
        }
    }

    /// A leader's commit rule (`tryToCommit` with `qvAcksetPairs`): [`Self::is_quorum`];
    /// the `ReconfigNewQuorumOnly` mutation asks only the pending voters.
    pub(crate) fn commit_quorum<'a>(&self, sids: impl IntoIterator<Item = &'a Sid>) -> bool {
        if let Some((_, pending)) = &self.joint {
            if self.mutated(Mutation::ReconfigNewQuorumOnly) {
                return pending.is_quorum(sids);
            }
        }
        self.is_quorum(sids)
    }

    /// A voter of the active or the pending member list.
    pub(crate) fn is_voter_any(&self, sid: Sid) -> bool {
        self.config.ensemble.is_voter(sid)
            || self.joint.as_ref().is_some_and(|(_, p)| p.is_voter(sid))
    }

    /// A member of the active or the pending member list.
    pub(crate) fn is_member_any(&self, sid: Sid) -> bool {
        self.config.ensemble.is_member(sid)
            || self.joint.as_ref().is_some_and(|(_, p)| p.is_member(sid))
    }

    /// Every voter of the active and the pending member list, in id order.
    pub(crate) fn voters_any(&self) -> Vec<Sid> {
        let mut voters: Vec<Sid> = self.config.ensemble.voters().collect();
        if let Some((_, p)) = &self.joint {
            voters.extend(p.voters());
            voters.sort_unstable();
            voters.dedup();
        }
        voters
    }

    /// Whether `sid` may connect as `learner_type`. With the member list the ensemble was
    /// started with, only in its role there (a misconfigured server is refused, as before).
    /// Once the membership changed, a learner that missed a reconfig connects in the role
    /// its stale list gives it; any member is taken in either role, learns the lists from
    /// the sync, and comes back in its real role (ZooKeeper's learner likewise restarts when
    /// the NEWLEADER config changes its role). Only a handler of a participant counts
    /// towards quorums, and the quorum rule filters by the leader's lists anyway.
    pub(crate) fn learner_type_allowed(&self, sid: Sid, learner_type: LearnerType) -> bool {
        if self.active_version == Zxid::ZERO && self.joint.is_none() {
            return self.config.ensemble.members.get(&sid) == Some(&learner_type);
        }
        self.is_member_any(sid)
    }

    /// After the machine was rebuilt from the log (recovery, entering LOOKING): the newest
    /// member list applied becomes pending unless it is the active one, and the one before
    /// it, committed (one reconfig at a time), becomes active if it is newer.
    pub(crate) fn note_applied_configs(&mut self) {
        let configs = self.machine.applied_configs();
        let n = configs.len();
        let prev = (n >= 2).then(|| configs[n - 2].clone());
        let newest = configs.last().cloned();
        if let Some((version, members)) = prev {
            if version > self.active_version {
                self.set_active(version, members);
            }
        }
        self.joint = newest.filter(|(version, _)| *version > self.active_version);
    }

    /// A reconfig transaction was applied as committed: its member list is active now.
    pub(crate) fn activate(&mut self, version: Zxid, members: Ensemble) {
        if version <= self.active_version {
            return;
        }
        self.set_active(version, members);
        if self.joint.as_ref().is_some_and(|(v, _)| *v <= version) {
            self.joint = None;
        }
        self.reconfig_activated = true;
    }

    /// A history became committed as a whole (leader established, learner UPTODATE): the
    /// newest member list applied is active.
    pub(crate) fn activate_applied(&mut self) {
        if let Some((version, members)) = self.machine.applied_configs().last().cloned() {
            self.activate(version, members);
        }
        self.joint = None;
    }

    fn set_active(&mut self, version: Zxid, members: Ensemble) {
        let voters = members.voters().collect();
        let observers = members.observers().collect();
        self.config.ensemble = members;
        self.active_version = version;
        self.trace(TraceEvent::ConfigActivated {
            version,
            voters,
            observers,
        });
    }

    /// After a step that activated a member list while serving: a server whose role changed,
    /// or whose leader is no longer a voter, starts over; a leader drops the learners whose
    /// role changed (they come back with their new one).
    pub(crate) fn after_activation(&mut self) {
        if !core::mem::take(&mut self.reconfig_activated) || !self.is_serving() {
            return;
        }
        let me = self.config.myid;
        match &self.role {
            Role::Looking => {}
            Role::Leader(l) => {
                if !self.config.ensemble.is_voter(me) {
                    self.give_up(GiveUpReason::Reconfigured);
                    return;
                }
                let changed: Vec<Sid> = l
                    .learners
                    .values()
                    .filter(|h| self.config.ensemble.members.get(&h.sid) != Some(&h.learner_type))
                    .map(|h| h.sid)
                    .collect();
                for sid in changed {
                    self.leader_drop_learner(sid);
                }
            }
            Role::Learner(l) => {
                let leader = l.leader;
                let mine = self.config.ensemble.members.get(&me).copied();
                let as_now = if self.state == crate::message::PeerState::Following {
                    LearnerType::Participant
                } else {
                    LearnerType::Observer
                };
                if mine != Some(as_now) || !self.config.ensemble.is_voter(leader) {
                    self.give_up(GiveUpReason::Reconfigured);
                }
            }
        }
    }

    /// With reconfig on and a reconfig activated: the active member list follows each
    /// notification (see [`crate::message::Message::Config`]). Active lists are committed
    /// ones, so whoever adopts it adopts a committed list.
    pub(crate) fn gossip_config(&mut self, to: Sid) {
        if self.config.reconfig_enabled && self.active_version > Zxid::ZERO {
            let msg = crate::message::Message::Config {
                version: self.active_version,
                members: self.config.ensemble.clone(),
            };
            self.send(to, msg);
        }
    }

    /// A member list heard on the election port: a LOOKING server with reconfig on adopts a
    /// newer one and starts a new election round under it (ZooKeeper's WorkerReceiver does
    /// the same with the list inside a notification).
    pub(crate) fn on_config_gossip(&mut self, version: Zxid, members: Ensemble) {
        if !self.config.reconfig_enabled
            || !matches!(self.role, Role::Looking)
            || version <= self.active_version
            || members.voter_count() == 0
            || members.members.len() > crate::reconfig::MAX_MEMBERS
        {
            return;
        }
        self.set_active(version, members);
        if self.joint.as_ref().is_some_and(|(v, _)| *v <= version) {
            self.joint = None;
        }
        self.start_looking();
    }

    /// A client `reconfig`: a serving leader checks and proposes it, a serving learner
    /// forwards it to its leader in a REQUEST (as ZooKeeper's learners forward every write)
    /// and answers when the leader's transaction commits; anyone else refuses it.
    pub(crate) fn on_client_reconfig(&mut self, tag: RequestTag, request: ReconfigRequest) {
        let serving = self.is_serving();
        match &self.role {
            Role::Leader(_) if serving => {
                let me = self.config.myid;
                self.leader_reconfig(me, tag, request);
            }
            Role::Learner(l) if serving => {
                let leader = l.leader;
                self.pending_requests.insert(tag, ());
                let body = crate::message::Forwarded::Reconfig(request);
                self.send(leader, crate::message::Message::Request { tag, body });
            }
            _ => {
                self.trace(TraceEvent::RequestRefused);
                self.outbox.push(Output::RequestFailed { tag });
            }
        }
    }

    /// A `reconfig` on the leader, from its own client (`from` is this server) or forwarded
    /// by learner `from`: PrepRequestProcessor's checks, then the proposal with origin
    /// `(from, tag)`, so whoever took the request answers on commit. A refused local request
    /// is answered at once ([`Output::ReconfigFailed`]); a refused forwarded one becomes the
    /// machine's error transaction ([`StateMachine::error_txn`], ZooKeeper's ErrorTxn), which
    /// the learner answers on commit like a failed forwarded write. A machine without one
    /// (the chain machine) leaves it unanswered: the learner fails it when its leader
    /// changes.
    pub(crate) fn leader_reconfig(&mut self, from: Sid, tag: RequestTag, request: ReconfigRequest) {
        let me = self.config.myid;
        let local = from == me;
        let checked = self.check_reconfig(&request).and_then(|members| {
            // The zxid the transaction will have is the new configuration's version.
            let Some(zxid) = self.leader_ref().last_proposed.next() else {
                return Ok(None);
            };
            let txn = self
                .machine
                .reconfig_txn(&members, &request, zxid)
                .ok_or(ReconfigError::Disabled)?;
            Ok(Some((zxid, members, txn)))
        });
        match checked {
            Err(error) => {
                self.trace(TraceEvent::ReconfigRefused { err: error.code() });
                if local {
                    self.outbox.push(Output::ReconfigFailed { tag, error });
                } else if let Some(txn) = M::error_txn(error.code()) {
                    self.leader_propose_txn(Some((from, tag)), txn);
                }
            }
            Ok(None) => {
                // The zxid counter would roll over: as Leader.propose, step down.
                if local {
                    self.outbox.push(Output::RequestFailed { tag });
                }
                self.give_up(GiveUpReason::CounterRollover);
            }
            Ok(Some((zxid, members, txn))) => {
                let voters = members.voters().collect();
                let observers = members.observers().collect();
                self.trace(TraceEvent::ReconfigProposed {
                    zxid,
                    voters,
                    observers,
                });
                // Pending before the proposal exists, so nothing commits on the old voters alone.
                self.joint = Some((zxid, members));
                if local {
                    self.pending_requests.insert(tag, ());
                }
                let proposed = self.leader_propose_txn(Some((from, tag)), txn);
                debug_assert_eq!(proposed, Some(zxid));
            }
        }
    }

    /// `case OpCode.reconfig`: enabled, one at a time, `fromConfig`, a valid member list,
    /// and a quorum of it connected and synced (Leader.isQuorumSynced).
    fn check_reconfig(&self, request: &ReconfigRequest) -> Result<Ensemble, ReconfigError> {
        if !self.config.reconfig_enabled {
            return Err(ReconfigError::Disabled);
        }
        request.check_specs()?;
        if self.joint.is_some() {
            return Err(ReconfigError::InProgress);
        }
        if request
            .from_config
            .is_some_and(|v| v != self.active_version)
        {
            return Err(ReconfigError::BadVersion);
        }
        let members = next_members(&self.config.ensemble, request)?;
        let me = self.config.myid;
        let l = self.leader_ref();
        let synced: Vec<Sid> = l
            .learners
            .values()
            .filter(|h| {
                h.forwarding
                    && h.stage == HandlerStage::Broadcast
                    && h.learner_type == LearnerType::Participant
                    && l.tick <= h.tick_of_next_ack_deadline
            })
            .map(|h| h.sid)
            .chain(core::iter::once(me))
            .collect();
        if !members.is_quorum(&synced) {
            return Err(ReconfigError::NewConfigNoQuorum);
        }
        if !self.machine.reconfig_permitted(request) {
            return Err(ReconfigError::NoAuth);
        }
        Ok(members)
    }
}
