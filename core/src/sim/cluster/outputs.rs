//! Executing a peer's outputs in the simulator: messages onto links (FIFO, latency, cuts,
//! drops, TCP-like quorum connections), persist requests onto the simulated disk, client
//! replies into the request table, and peer trace events into the trace.

use alloc::borrow::Cow;

use crate::config::{Ensemble, LearnerType};
use crate::machine::StateMachine;
use crate::message::Message;
use crate::peer::{Output, PeerMessage};
use crate::trace::HostEvent;
use crate::trace::TraceEvent;
use crate::zxid::{Sid, Zxid};

use super::{ClientResult, Cluster, Event};

impl<M: StateMachine + Clone> Cluster<M> {
    pub(super) fn execute(&mut self, sid: Sid, output: Output<M>) {
        match output {
            Output::Send { to, msg } => self.send(sid, to, msg),
            Output::Persist { id, op } => {
                let (lo, hi) = self.config.disk_latency_ms;
                let slow = self.faults.slow_persist_per_million;
                let latency = if slow > 0 && self.rng.chance(slow) {
                    let (lo, hi) = self.faults.slow_persist_ms;
                    self.rng.range(lo, hi)
                } else {
                    self.rng.range(lo, hi)
                };
                let n = self.nodes.get_mut(&sid).expect("node exists");
                let done = (self.now + latency).max(n.last_persist_done);
                n.last_persist_done = done;
                let inc = n.incarnation;
                let kind = Cow::Borrowed(op.kind());
                n.pending_persist.push_back((id, op));
                self.record(sid, HostEvent::Persist { id, op: kind });
                self.push_event(done, Event::PersistDone { node: sid, inc, id });
            }
            Output::Reply { tag, zxid, outcome } => {
                if let Some(r) = self.requests.get_mut(&tag) {
                    r.result = ClientResult::Replied { zxid, outcome };
                    if let (Some(checker), Some(txn)) = (&mut self.checker, r.txn.as_ref()) {
                        checker.acked.push((zxid, txn.clone()));
                    }
                }
                self.record(sid, HostEvent::ClientReply { tag, zxid });
            }
            Output::SyncDone { tag, zxid } => {
                if let Some(r) = self.requests.get_mut(&tag) {
                    r.result = ClientResult::Synced { zxid };
                }
                self.record(sid, HostEvent::ClientSyncDone { tag, zxid });
            }
            Output::RequestFailed { tag } | Output::ReconfigFailed { tag, .. } => {
                if let Some(r) = self.requests.get_mut(&tag) {
                    r.result = ClientResult::Failed;
                }
                self.record(sid, HostEvent::ClientFailed { tag });
            }
            Output::Disconnect { peer } => {
                let Some(link) = self.links.get_mut(sid, peer) else {
                    return;
                };
                if link.state.cut {
                    return;
                }
                let (lo, hi) = self.config.latency_ms;
                let latency = self.rng.range(lo, hi) + link.state.extra_ms;
                let arrives = (self.now + latency).max(link.last_arrival);
                link.last_arrival = arrives;
                let Some(to_inc) = self.nodes.get(&peer).map(|n| n.incarnation) else {
                    return;
                };
                let conn = self.conn_of(sid, peer);
                self.push_event(
                    arrives,
                    Event::Disconnect {
                        from: sid,
                        to: peer,
                        to_inc,
                        conn,
                    },
                );
            }
            Output::Trace(event) => {
                self.track_member_lists(sid, &event);
                if let (TraceEvent::Committed { zxid }, true, None) =
                    (&event, self.checker.is_some(), &self.violation)
                {
                    // The leader's member lists as its trace told them up to this commit
                    // (outputs run after the step, when the peer may have moved on): the
                    // active one, and the pending one while a reconfig is pending.
                    let seen = self.member_lists.get(&sid);
                    let active = seen.map_or(&self.ensemble, |s| &s.active);
                    let disks = self.nodes.iter().map(|(s, n)| (*s, &n.durable));
                    if let Err(v) = crate::sim::invariants::committed_durably::check(
                        self.now, sid, *zxid, active, disks,
                    ) {
                        self.violation = Some(v);
                    }
                    let pending = seen.and_then(|s| s.pending.as_ref());
                    if let (Some((version, members)), None) = (pending, &self.violation) {
                        let disks = self.nodes.iter().map(|(s, n)| (*s, &n.durable));
                        if let Err(v) = crate::sim::invariants::reconfig_quorums::check(
                            self.now, sid, *zxid, *version, members, disks,
                        ) {
                            self.violation = Some(v);
                        }
                    }
                }
                if let (TraceEvent::LeaderEstablished { .. }, Some(checker)) =
                    (&event, &mut self.checker)
                {
                    if self.violation.is_none() {
                        if let Some(peer) = self.nodes.get(&sid).and_then(|n| n.peer.as_ref()) {
                            if let Err(v) =
                                checker.check_leader_has_acked_writes(self.now, sid, peer)
                            {
                                self.violation = Some(v);
                            }
                        }
                    }
                }
                self.record(sid, HostEvent::Peer(event));
            }
        }
    }

    fn send(&mut self, from: Sid, to: Sid, msg: PeerMessage<M>) {
        if self.checker.is_some() && self.violation.is_none() {
            if let Some(n) = self.nodes.get(&from) {
                if let Some(peer) = &n.peer {
                    let synced = self.synced_log.get(&from).copied();
                    let checked = crate::sim::invariants::durable_acks::check(
                        self.now, from, peer, &n.durable, synced, &msg,
                    );
                    if let Err(v) = checked {
                        self.violation = Some(v);
                    }
                }
            }
        }
        self.next_msg_id += 1;
        let msg_id = self.next_msg_id;
        let kind = Cow::Borrowed(msg.kind());
        let (lo, hi) = self.config.latency_ms;
        let jitter = self.rng.range(lo, hi);
        // Quorum traffic runs over one TCP connection per learner: a lost packet means the
        // connection broke, and nothing more passes until the learner reconnects.
        let quorum = !msg.is_election();
        let pair = (from.min(to), from.max(to));
        if matches!(
            msg,
            Message::FollowerInfo { .. } | Message::ObserverInfo { .. }
        ) {
            self.broken.remove(&pair);
            *self.conn_gen.entry(pair).or_insert(0) += 1;
        }
        let Some(link) = self.links.get_mut(from, to) else {
            return;
        };
        let dropped = if link.state.cut {
            Some("cut")
        } else if link.state.drop_next {
            link.state.drop_next = false;
            Some("dropped")
        } else if link.state.drop_per_million > 0 && self.rng.chance(link.state.drop_per_million) {
            Some("dropped")
        } else if quorum && self.broken.contains(&pair) {
            Some("connection closed")
        } else {
            None
        };
        if let Some(reason) = dropped {
            let reason = Cow::Borrowed(reason);
            self.record(
                from,
                HostEvent::Drop {
                    from,
                    to,
                    msg_id: Some(msg_id),
                    kind,
                    reason,
                },
            );
            if quorum && self.broken.insert(pair) {
                self.execute_disconnect_notice(to, from);
                self.execute_disconnect_notice(from, to);
            }
            return;
        }
        let link = self.links.get_mut(from, to).expect("checked above");
        let arrives = (self.now + jitter + link.state.extra_ms).max(link.last_arrival);
        link.last_arrival = arrives;
        let from_inc = self.nodes.get(&from).map(|n| n.incarnation).unwrap_or(0);
        let to_inc = self.nodes.get(&to).map(|n| n.incarnation).unwrap_or(0);
        self.record(
            from,
            HostEvent::Send {
                to,
                msg_id,
                kind,
                arrives: Some(arrives),
                zxid: msg.zxid(),
            },
        );
        let sent = self.now;
        let conn = quorum.then(|| self.conn_of(from, to));
        self.push_event(
            arrives,
            Event::Deliver {
                from,
                to,
                from_inc,
                to_inc,
                msg_id,
                sent,
                conn,
                msg,
            },
        );
    }
}

/// A server's member lists as its trace reports them (ConfigActivated, ReconfigProposed),
/// kept only for servers that reconfigured; the others run with the cluster's.
#[derive(Clone, Debug)]
pub(crate) struct MemberLists {
    pub(crate) active: Ensemble,
    pub(crate) pending: Option<(Zxid, Ensemble)>,
}

fn member_list(voters: &[Sid], observers: &[Sid]) -> Ensemble {
    let mut members = alloc::collections::BTreeMap::new();
    for sid in voters {
        members.insert(*sid, LearnerType::Participant);
    }
    for sid in observers {
        members.insert(*sid, LearnerType::Observer);
    }
    Ensemble { members }
}

impl<M: StateMachine + Clone> Cluster<M> {
    /// Follows a server's member lists through its trace, in output order.
    fn track_member_lists(&mut self, sid: Sid, event: &TraceEvent) {
        match event {
            TraceEvent::ConfigActivated {
                version,
                voters,
                observers,
            } => {
                let active = member_list(voters, observers);
                let entry = self.member_lists.entry(sid).or_insert(MemberLists {
                    active: active.clone(),
                    pending: None,
                });
                entry.active = active;
                if entry.pending.as_ref().is_some_and(|(v, _)| v <= version) {
                    entry.pending = None;
                }
            }
            TraceEvent::ReconfigProposed {
                zxid,
                voters,
                observers,
            } => {
                let active = self.ensemble.clone();
                let entry = self.member_lists.entry(sid).or_insert(MemberLists {
                    active,
                    pending: None,
                });
                entry.pending = Some((*zxid, member_list(voters, observers)));
            }
            TraceEvent::StateChanged { .. } => {
                if let Some(entry) = self.member_lists.get_mut(&sid) {
                    entry.pending = None;
                }
            }
            _ => {}
        }
    }
}
