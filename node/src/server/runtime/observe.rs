//! Counts and times the protocol events ZooKeeper's `ServerMetrics` reports, from the core's
//! trace (the same events the trace stream shows): entering LOOKING, the election's duration,
//! the sync each learner got, proposals, commits and the time a quorum took to ACK.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Instant;

use zablab_core::message::{Message, PeerState};
use zablab_core::trace::{SyncMode, TraceEvent, ZabPhase};
use zablab_core::zxid::Zxid;

use super::{Host, NodeMachine};
use crate::codec::wire::NodeMessage;

/// Proposals whose start is remembered for `quorum_ack_latency`, at most; past that the oldest
/// is forgotten (its commit is then not timed). A leader has at most this many in flight only
/// when its quorum is gone, and then nothing commits anyway.
const MAX_TIMED_PROPOSALS: usize = 100_000;

/// When the current election started, when this server stopped serving, when its sync with
/// a leader began, and when each in-flight proposal was made.
#[derive(Default)]
pub(super) struct Timings {
    looking_since: Option<Instant>,
    unavailable_since: Option<Instant>,
    sync_since: Option<Instant>,
    proposed_at: BTreeMap<Zxid, Instant>,
}

fn ms_since(t: Instant) -> u64 {
    u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)
}

impl<M: NodeMachine> Host<M> {
    /// A server starts LOOKING without a state change: that is its first LOOKING.
    pub(super) fn observe_start(&mut self) {
        if self.peer.state() == PeerState::Looking {
            self.shared
                .metrics
                .looking_count
                .fetch_add(1, Ordering::Relaxed);
            self.timings.looking_since = Some(Instant::now());
        }
        self.timings.unavailable_since = Some(Instant::now());
    }

    pub(super) fn observe(&mut self, ev: &TraceEvent) {
        let m = &self.shared.metrics;
        let rel = Ordering::Relaxed;
        match ev {
            TraceEvent::StateChanged { to, .. } => {
                if *to != PeerState::Leading {
                    self.timings.proposed_at.clear();
                }
                match to {
                    PeerState::Looking => {
                        m.looking_count.fetch_add(1, rel);
                        self.timings.looking_since = Some(Instant::now());
                        // QuorumPeer.run: unavailable from here until BROADCAST again.
                        self.timings
                            .unavailable_since
                            .get_or_insert_with(Instant::now);
                    }
                    // ZooKeeper records election_time when lead() / followLeader() start;
                    // an observer does not record it.
                    PeerState::Leading | PeerState::Following => {
                        if let Some(t) = self.timings.looking_since.take() {
                            m.election_time.add(ms_since(t));
                        }
                    }
                    PeerState::Observing => self.timings.looking_since = None,
                }
            }
            TraceEvent::PhaseChanged { phase } => match phase {
                ZabPhase::Synchronization => self.timings.sync_since = Some(Instant::now()),
                ZabPhase::Broadcast => {
                    // Follower.followLeader / Observer.observeLeader time syncWithLeader.
                    if let Some(t) = self.timings.sync_since.take() {
                        match self.peer.state() {
                            PeerState::Following => m.follower_sync_time.add(ms_since(t)),
                            PeerState::Observing => m.observer_sync_time.add(ms_since(t)),
                            _ => {}
                        }
                    }
                    if let Some(t) = self.timings.unavailable_since.take() {
                        let ms = ms_since(t);
                        m.unavailable_time.add(ms);
                        if self.peer.state() == PeerState::Leading {
                            m.leader_unavailable_time.add(ms);
                        }
                    }
                }
                _ => {}
            },
            TraceEvent::SyncChosen { mode, .. } => {
                // ZooKeeper counts every sync without a snapshot as a diff (TRUNC included);
                // trunc_count tells the TRUNCs apart.
                match mode {
                    SyncMode::Snap => m.snap_count.fetch_add(1, rel),
                    SyncMode::Diff => m.diff_count.fetch_add(1, rel),
                    SyncMode::Trunc => {
                        m.trunc_count.fetch_add(1, rel);
                        m.diff_count.fetch_add(1, rel)
                    }
                };
            }
            TraceEvent::Proposed { zxid } if self.peer.state() == PeerState::Leading => {
                m.proposal_count.fetch_add(1, rel);
                if self.timings.proposed_at.len() >= MAX_TIMED_PROPOSALS {
                    self.timings.proposed_at.pop_first();
                }
                self.timings.proposed_at.insert(*zxid, Instant::now());
            }
            TraceEvent::Committed { zxid } if self.peer.state() == PeerState::Leading => {
                m.commit_count.fetch_add(1, rel);
                if let Some(t) = self.timings.proposed_at.remove(zxid) {
                    m.quorum_ack_latency.add(ms_since(t));
                }
            }
            _ => {}
        }
    }

    /// A quorum packet from this learner's leader.
    pub(super) fn observe_received(&self, msg: &NodeMessage<M>) {
        if self.peer.state() != PeerState::Following {
            return;
        }
        let m = &self.shared.metrics;
        match msg {
            Message::Proposal(_) => m
                .learner_proposal_received_count
                .fetch_add(1, Ordering::Relaxed),
            Message::Commit { .. } => m
                .learner_commit_received_count
                .fetch_add(1, Ordering::Relaxed),
            _ => return,
        };
    }
}
