//! The cluster's fault and workload actions: starting, crashing and restarting servers,
//! wiping disks, cutting and healing links, and client requests. Split from `cluster.rs` so
//! the event loop reads on its own.

use alloc::vec::Vec;

use crate::config::PeerConfig;
use crate::durable::RequestTag;
use crate::machine::StateMachine;
use crate::peer::{Input, Peer, PeerDurable};
use crate::sim::network::LinkState;
use crate::sim::scenario::Action;
use crate::trace::HostEvent;
use crate::zxid::Sid;

use super::{ClientRequest, ClientResult, Cluster, Event};

impl<M: StateMachine + Clone> Cluster<M> {
    fn peer_config(&self, sid: Sid) -> PeerConfig {
        let mut c = PeerConfig::new(sid, self.ensemble.clone());
        c.timing = self.config.timing;
        c.commit_log_count = self.config.commit_log_count;
        c.snapshot_size_factor_percent = self.config.snapshot_size_factor_percent;
        c.snap_count = self.config.snap_count;
        c.mutations = self.config.mutations;
        c.reconfig_enabled = self.reconfig_enabled;
        c
    }

    pub(super) fn start_node(&mut self, sid: Sid) {
        let config = self.peer_config(sid);
        let Some(n) = self.nodes.get_mut(&sid) else {
            return;
        };
        if n.peer.is_some() {
            return;
        }
        let restarted = n.started;
        n.started = true;
        n.peer = Some(Peer::recover(config, n.durable.clone()));
        self.record(
            sid,
            if restarted {
                HostEvent::Restarted
            } else {
                HostEvent::Started
            },
        );
        self.step_peer(sid, Input::Start);
    }

    fn crash(&mut self, sid: Sid) {
        let Some(n) = self.nodes.get_mut(&sid) else {
            return;
        };
        if n.peer.take().is_none() {
            return;
        }
        n.incarnation += 1;
        n.paused_until = self.now;
        n.pending_persist.clear();
        n.timer_at = None;
        n.last_persist_done = self.now;
        self.record(sid, HostEvent::Crashed);
        self.member_lists.remove(&sid);
        self.broken.retain(|(a, b)| *a != sid && *b != sid);
        // The operating system closes a killed process's sockets: its peers see a reset.
        let others: Vec<Sid> = self.nodes.keys().copied().filter(|s| *s != sid).collect();
        for peer in others {
            self.execute_disconnect_notice(sid, peer);
        }
        let tags: Vec<RequestTag> = self
            .requests
            .iter()
            .filter(|(_, r)| r.server == sid && r.result == ClientResult::Pending)
            .map(|(t, _)| *t)
            .collect();
        for tag in tags {
            if let Some(r) = self.requests.get_mut(&tag) {
                r.result = ClientResult::Failed;
            }
            self.record(sid, HostEvent::ClientFailed { tag });
        }
    }

    pub(super) fn execute_disconnect_notice(&mut self, from: Sid, to: Sid) {
        let Some(link) = self.links.get_mut(from, to) else {
            return;
        };
        if link.state.cut {
            return;
        }
        let (lo, hi) = self.config.latency_ms;
        let arrives = (self.now + self.rng.range(lo, hi)).max(link.last_arrival);
        let Some(to_inc) = self.nodes.get(&to).map(|n| n.incarnation) else {
            return;
        };
        let conn = self.conn_of(from, to);
        self.push_event(
            arrives,
            Event::Disconnect {
                from,
                to,
                to_inc,
                conn,
            },
        );
    }

    fn set_link(&mut self, from: Sid, to: Sid, f: impl Fn(&mut LinkState)) {
        if from == to || !self.nodes.contains_key(&from) || !self.nodes.contains_key(&to) {
            return;
        }
        let Some(link) = self.links.get_mut(from, to) else {
            return;
        };
        f(&mut link.state);
        let s = link.state;
        self.record(
            from,
            HostEvent::LinkChanged {
                to,
                cut: s.cut,
                extra_ms: s.extra_ms,
                drop_per_million: s.drop_per_million,
            },
        );
    }

    pub(super) fn do_action(&mut self, action: Action<M::Request>) -> Option<RequestTag> {
        match action {
            Action::Start(sid) | Action::Restart(sid) => self.start_node(sid),
            Action::Crash(sid) => self.crash(sid),
            Action::WipeDisk(sid) => {
                self.crash(sid);
                if let Some(n) = self.nodes.get_mut(&sid) {
                    n.durable = PeerDurable::<M>::default();
                    self.record(sid, HostEvent::Wiped);
                }
            }
            Action::Cut { from, to, both } => {
                self.set_link(from, to, |l| l.cut = true);
                if both {
                    self.set_link(to, from, |l| l.cut = true);
                }
            }
            Action::Heal { from, to, both } => {
                self.set_link(from, to, |l| *l = LinkState::default());
                if both {
                    self.set_link(to, from, |l| *l = LinkState::default());
                }
            }
            Action::HealAll => {
                let keys: Vec<(Sid, Sid)> = self
                    .links
                    .iter()
                    .filter(|(_, _, l)| l.state != LinkState::default())
                    .map(|(from, to, _)| (from, to))
                    .collect();
                for (from, to) in keys {
                    self.set_link(from, to, |l| *l = LinkState::default());
                }
            }
            Action::Isolate(sid) => {
                let others: Vec<Sid> = self.nodes.keys().copied().filter(|s| *s != sid).collect();
                for other in others {
                    self.set_link(sid, other, |l| l.cut = true);
                    self.set_link(other, sid, |l| l.cut = true);
                }
            }
            Action::DropNext { from, to } => self.set_link(from, to, |l| l.drop_next = true),
            Action::SetLink {
                from,
                to,
                extra_ms,
                drop_per_million,
            } => self.set_link(from, to, |l| {
                l.extra_ms = extra_ms;
                l.drop_per_million = drop_per_million;
            }),
            Action::Pause { server, ms } => {
                let until = self.now + ms;
                if let Some(n) = self.nodes.get_mut(&server) {
                    if n.peer.is_some() {
                        n.paused_until = n.paused_until.max(until);
                        self.any_paused = true;
                        self.record(server, HostEvent::Paused { until });
                    }
                }
            }
            Action::StallDisk { server, ms } => {
                let until = self.now + ms;
                if let Some(n) = self.nodes.get_mut(&server) {
                    n.last_persist_done = n.last_persist_done.max(until);
                }
            }
            Action::WipeIfRedundant {
                server,
                restart_after_ms,
            } => {
                if self.wipe_is_redundant(server) {
                    self.do_action(Action::WipeDisk(server));
                    let at = self.now + restart_after_ms;
                    self.push_event(at, Event::Action(Action::Restart(server)));
                }
            }
            Action::Write { server, txn } => return Some(self.client_request(server, Some(txn))),
            Action::Sync { server } => return Some(self.client_request(server, None)),
            Action::Reconfig { server, request } => {
                return Some(self.client_reconfig(server, request))
            }
        }
        None
    }

    /// See [`Action::WipeIfRedundant`]. Observers hold nothing a quorum depends on.
    fn wipe_is_redundant(&self, sid: Sid) -> bool {
        if !self.ensemble.is_voter(sid) {
            return true;
        }
        let Some(mine) = self.nodes.get(&sid).map(|n| &n.durable) else {
            return false;
        };
        let others: Vec<&PeerDurable<M>> = self
            .nodes
            .iter()
            .filter(|(s, _)| **s != sid && self.ensemble.is_voter(**s))
            .map(|(_, n)| &n.durable)
            .collect();
        if others
            .iter()
            .any(|o| o.accepted_epoch < mine.accepted_epoch || o.current_epoch < mine.current_epoch)
        {
            return false;
        }
        let quorum = self.ensemble.voter_count() / 2 + 1;
        let holds = |o: &PeerDurable<M>, z: crate::zxid::Zxid| {
            o.log.binary_search_by_key(&z, |e| e.zxid).is_ok()
                || o.snapshot.as_ref().is_some_and(|(s, _)| *s >= z)
        };
        let zxids = mine
            .log
            .iter()
            .map(|e| e.zxid)
            .chain(mine.snapshot.as_ref().map(|(z, _)| *z));
        for z in zxids {
            if others.iter().filter(|o| holds(o, z)).count() < quorum {
                return false;
            }
        }
        true
    }

    fn client_request(&mut self, server: Sid, txn: Option<M::Request>) -> RequestTag {
        self.next_tag += 1;
        let tag = self.next_tag;
        let write = txn.is_some();
        self.requests.insert(
            tag,
            ClientRequest {
                server,
                txn: txn.clone(),
                result: ClientResult::Pending,
            },
        );
        self.record(server, HostEvent::ClientRequest { tag, write });
        let running = self.peer(server).is_some();
        if !running {
            if let Some(r) = self.requests.get_mut(&tag) {
                r.result = ClientResult::Failed;
            }
            self.record(server, HostEvent::ClientFailed { tag });
            return tag;
        }
        match txn {
            Some(request) => self.step_peer(server, Input::ClientWrite { tag, request }),
            None => self.step_peer(server, Input::ClientSync { tag }),
        }
        tag
    }

    /// A `reconfig` from a client of `server` (0: of the current leader, if one is in
    /// broadcast and not paused).
    fn client_reconfig(
        &mut self,
        server: Sid,
        request: crate::reconfig::ReconfigRequest,
    ) -> RequestTag {
        let now = self.now;
        let server = if server != 0 {
            server
        } else {
            self.leader()
                .filter(|l| self.nodes.get(l).is_some_and(|n| n.paused_until <= now))
                .unwrap_or(0)
        };
        self.next_tag += 1;
        let tag = self.next_tag;
        self.requests.insert(
            tag,
            ClientRequest {
                server,
                txn: None,
                result: ClientResult::Pending,
            },
        );
        self.record(server, HostEvent::ClientRequest { tag, write: true });
        if self.peer(server).is_none() {
            if let Some(r) = self.requests.get_mut(&tag) {
                r.result = ClientResult::Failed;
            }
            self.record(server, HostEvent::ClientFailed { tag });
            return tag;
        }
        self.step_peer(server, Input::ClientReconfig { tag, request });
        tag
    }

    /// A client session connected to `server` is alive (the server reports it to the leader).
    pub fn touch_session(&mut self, server: Sid, session_id: i64, timeout_ms: i32) {
        self.step_peer(
            server,
            Input::SessionTouch {
                session_id,
                timeout_ms,
            },
        );
    }
}
