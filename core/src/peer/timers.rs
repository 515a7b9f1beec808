//! The peer's running timers, named as ZooKeeper names them, for hosts that show them (the
//! browser lab draws each as a countdown). Read-only: [`Peer::timers`] derives every deadline
//! from the state the protocol already keeps (the election's poll and finalizeWait deadlines,
//! the learner's read timeout, the leader's tick and each `LearnerHandler`'s tick deadline), so
//! asking for them changes nothing.
//!
//! The deadlines are in the peer's own time (the `now` its host passes to [`Peer::step`]).

use alloc::vec::Vec;

use crate::machine::StateMachine;
use crate::time::Instant;
use crate::zab::learner::{LearnerStage, CONNECT_RETRY_DELAY_MS};
use crate::zxid::{Sid, Zxid};

use super::{Peer, Role};

/// Which timer.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum TimerKind {
    /// LOOKING: a quorum agrees with this server's proposal; the election ends at the
    /// deadline unless a newer vote arrives first (`finalizeWait`).
    FinalizeWait,
    /// LOOKING: no notification by the deadline re-sends this server's vote and doubles the
    /// timeout (`notTimeout`, up to `maxNotificationInterval`).
    NotificationTimeout,
    /// Discovery and sync must finish by the deadline (`initLimit` ticks): on a leader for
    /// each wait (epoch, ACKEPOCH, NEWLEADER ACK quorum), on a learner for each packet.
    InitLimit,
    /// A learner in broadcast: no packet from the leader by the deadline and it gives up
    /// (`syncLimit` ticks, the read timeout).
    SyncLimit,
    /// A learner whose connection was refused tries again at the deadline.
    ConnectRetry,
    /// An established leader's next full tick: it checks that the synced voters still form a
    /// quorum (`Leader.lead()`), and expires sessions.
    QuorumCheck,
    /// An established leader stops counting `learner` as synced at this full tick unless a
    /// packet from it arrives first (`tickOfNextAckDeadline`, syncLimit ticks).
    LearnerSyncLimit { learner: Sid },
    /// An established leader closes `learner`'s connection at this ping if the proposal
    /// `zxid` is still unacknowledged (syncLimit since it was sent).
    ProposalAck { learner: Sid, zxid: Zxid },
}

/// A running timer: what it is, when it fires, and how long it runs in all (for a progress
/// bar; the time left is `deadline - now`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PeerTimer {
    pub kind: TimerKind,
    pub deadline: Instant,
    pub length_ms: u64,
}

impl<M: StateMachine> Peer<M> {
    /// Every timer this peer is running, soonest first within each group (election, learner,
    /// leader). Empty for a server that has not started.
    pub fn timers(&self) -> Vec<PeerTimer> {
        let mut out = Vec::new();
        if !self.started {
            return out;
        }
        let t = &self.config.timing;
        match &self.role {
            Role::Looking => {
                let e = &self.election;
                if let Some(f) = e.finalize_deadline {
                    out.push(PeerTimer {
                        kind: TimerKind::FinalizeWait,
                        deadline: f,
                        length_ms: t.finalize_wait_ms,
                    });
                }
                out.push(PeerTimer {
                    kind: TimerKind::NotificationTimeout,
                    deadline: e.poll_deadline,
                    length_ms: e.not_timeout_ms,
                });
            }
            Role::Learner(l) => {
                if let Some(r) = l.retry_at {
                    out.push(PeerTimer {
                        kind: TimerKind::ConnectRetry,
                        deadline: r,
                        length_ms: CONNECT_RETRY_DELAY_MS,
                    });
                }
                let (kind, length_ms) = match l.stage {
                    LearnerStage::AwaitingUpToDate | LearnerStage::Broadcast => {
                        (TimerKind::SyncLimit, t.sync_limit_ms())
                    }
                    _ => (TimerKind::InitLimit, t.init_limit_ms()),
                };
                out.push(PeerTimer {
                    kind,
                    deadline: l.deadline,
                    length_ms,
                });
            }
            Role::Leader(l) if !l.established => out.push(PeerTimer {
                kind: TimerKind::InitLimit,
                deadline: l.phase_deadline,
                length_ms: t.init_limit_ms(),
            }),
            Role::Leader(l) => {
                let tick_ms = t.tick_time_ms;
                let half_tick = (tick_ms / 2).max(1);
                // `leader_tick`: a wake with `tick_skip` unset is a full tick (tick += 1).
                let next_full = if l.tick_skip {
                    l.next_wake + half_tick
                } else {
                    l.next_wake
                };
                out.push(PeerTimer {
                    kind: TimerKind::QuorumCheck,
                    deadline: next_full,
                    length_ms: tick_ms,
                });
                for h in l.learners.values() {
                    // Counted while tick <= its deadline: it drops out at the full tick that
                    // makes tick = deadline + 1; the next full tick makes tick = l.tick + 1.
                    let ticks_left = h.tick_of_next_ack_deadline.saturating_sub(l.tick);
                    out.push(PeerTimer {
                        kind: TimerKind::LearnerSyncLimit { learner: h.sid },
                        deadline: next_full + ticks_left.saturating_mul(tick_ms),
                        length_ms: t.sync_limit_ms(),
                    });
                    if let Some((zxid, sent)) = h.unacked.front() {
                        // `ping_learners` closes it at the first wake after sent + syncLimit.
                        let late = *sent + (t.sync_limit_ms() + 1);
                        let wakes = late.saturating_sub(l.next_wake).div_ceil(half_tick);
                        out.push(PeerTimer {
                            kind: TimerKind::ProposalAck {
                                learner: h.sid,
                                zxid: *zxid,
                            },
                            deadline: l.next_wake + wakes.saturating_mul(half_tick),
                            length_ms: t.sync_limit_ms(),
                        });
                    }
                }
            }
        }
        out
    }
}
