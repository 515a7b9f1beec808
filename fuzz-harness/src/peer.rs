//! `peer`: the structure-aware target. The fuzzer's bytes become (through [`arbitrary`]) a
//! [`Script`]: where a core [`Peer`] starts (an empty disk, or a server of a stable simulated
//! ensemble: its leader, a follower, an observer) and a sequence of inputs a host could feed it:
//! messages of every kind from any sid (its own and strangers' too: a stranger on the quorum port
//! can claim any member's sid), timer ticks, persist completions, client requests, broken
//! connections, crashes and restarts from what was persisted.
//!
//! Epochs and zxids are mostly drawn relative to the peer's own (its epoch ± a little, its last
//! zxid ± a little), so scripts land near the values the protocol compares against, and one
//! step answers a message the peer sent as an honest learner would, so discovery and sync are
//! reached too.
//!
//! Checked: nothing panics, the core's `debug_assert`s hold (debug build), and after every step
//! `acceptedEpoch ≥ currentEpoch`, the persist ids issued increase, and the log is in zxid order.

use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use zablab_core::machine::ChainMachine;
use zablab_core::message::{Forwarded, SessionTouch};
use zablab_core::sim::{Cluster, SimConfig};
use zablab_core::{
    DurableState, Ensemble, Epoch, Input, Instant, LearnerType, LogEntry, Message, Notification,
    Output, Peer, PeerConfig, PeerState, Sid, Zxid,
};

type M = ChainMachine;
type Msg = Message<u64, ChainMachine, u64>;
type Disk = DurableState<u64, ChainMachine>;

/// At most this many steps per script (keeps one run short).
const MAX_STEPS: usize = 256;
/// Sids a message may come from: 0 (never a member), the members 1–4, and a stranger 5.
const SIDS: u8 = 6;

#[derive(Arbitrary, Debug)]
pub enum Start {
    /// An empty disk; `myid` in 1–3 of three participants (plus observer 4 if `observer`).
    Fresh {
        myid: u8,
        observer: bool,
        snap_count: u8,
        commit_log_count: u8,
    },
    /// A server of a simulated ensemble that is serving, after some writes.
    Leader,
    Follower,
    Observer,
}

/// An epoch near the peer's own, or any.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum EpochSel {
    Accepted(i8),
    Current(i8),
    Raw(u32),
}

/// A zxid near the peer's, or any.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum ZxidSel {
    LastLogged(i8),
    LastProcessed(i8),
    EpochStart(EpochSel),
    At(EpochSel, u16),
    Raw(u64),
}

#[derive(Arbitrary, Debug)]
pub enum MsgSel {
    Notification {
        state: u8,
        vote_id: u8,
        vote_zxid: ZxidSel,
        round: u8,
        peer_epoch: EpochSel,
    },
    FollowerInfo(EpochSel),
    ObserverInfo(EpochSel),
    LeaderInfo(EpochSel),
    AckEpoch(ZxidSel, Option<EpochSel>),
    Diff(ZxidSel),
    Trunc(ZxidSel),
    Snap(ZxidSel, u64, Vec<u64>),
    NewLeader(ZxidSel),
    UpToDate,
    Proposal(ZxidSel, u64, Option<(u8, u8)>),
    Ack(ZxidSel),
    Commit(ZxidSel),
    Inform(ZxidSel, u64),
    Ping(ZxidSel, Vec<(i64, i32)>),
    Request(u16, Option<u64>),
    Sync(u16),
}

#[derive(Arbitrary, Debug)]
pub enum Step {
    Receive {
        from: u8,
        msg: MsgSel,
    },
    /// Answer the `n`-th most recent message the peer sent, as that server would honestly.
    Answer(u8),
    /// Advance the clock by this many ms, then tick.
    Tick(u16),
    /// Jump to the peer's next deadline and tick.
    TickToDeadline,
    /// Persist requests complete up to the `n`-th most recent one issued.
    Persisted(u8),
    PersistedAll,
    PeerDisconnected(u8),
    ClientWrite(u64),
    ClientSync,
    SessionTouch(i64, i32),
    /// Crash and restart from what was persisted.
    Restart,
}

#[derive(Arbitrary, Debug)]
pub struct Script {
    pub start: Start,
    pub steps: Vec<Step>,
}

/// A server of the simulated ensemble: its sid, the time, its peer and its disk.
type StartingPoint = (Sid, Instant, Peer<M>, Disk);

/// The serving three-server ensemble with an observer, built once: leader, follower, observer.
fn stable_ensemble() -> &'static Vec<StartingPoint> {
    static CACHE: OnceLock<Vec<StartingPoint>> = OnceLock::new();
    CACHE.get_or_init(|| {
        let config = SimConfig {
            participants: 3,
            observers: 1,
            commit_log_count: 8,
            snap_count: 16,
            ..SimConfig::default()
        };
        let mut sim: Cluster<M> = Cluster::new(config, 7);
        let limit = sim.now() + 20_000;
        assert!(
            sim.run_until_pred(limit, |s| s.is_stable()),
            "the ensemble settles"
        );
        let leader = sim.leader().expect("a leader");
        for i in 0..12u64 {
            let server = 1 + i % 4;
            sim.act(zablab_core::sim::Action::Write {
                server,
                txn: 100 + i,
            });
            sim.run_for(50);
        }
        sim.run_for(2_000);
        assert!(sim.is_stable(), "still serving after the writes");
        let now = sim.now();
        let follower = (1..=3).find(|s| *s != leader).expect("a follower");
        [leader, follower, 4]
            .into_iter()
            .map(|sid| {
                let node = &sim.nodes()[&sid];
                let peer = node.peer.clone().expect("running");
                (sid, now, peer, node.durable.clone())
            })
            .collect()
    })
}

/// The host's view of one peer: its clock, the persist requests issued and what is on disk.
struct Host {
    peer: Peer<M>,
    now: Instant,
    /// Persist requests issued and not yet known durable, oldest first.
    pending: Vec<(u64, zablab_core::PersistOp<u64, ChainMachine>)>,
    last_issued: Option<u64>,
    disk: Disk,
    /// Messages the peer sent recently (for [`Step::Answer`]).
    sent: Vec<(Sid, Msg)>,
    next_tag: u64,
}

fn epoch(p: &Peer<M>, e: EpochSel) -> Epoch {
    match e {
        EpochSel::Accepted(d) => p.accepted_epoch().wrapping_add_signed(d as i32),
        EpochSel::Current(d) => p.current_epoch().wrapping_add_signed(d as i32),
        EpochSel::Raw(e) => e,
    }
}

fn zxid(p: &Peer<M>, z: ZxidSel) -> Zxid {
    match z {
        ZxidSel::LastLogged(d) => Zxid(p.last_logged_zxid().0.wrapping_add_signed(d as i64)),
        ZxidSel::LastProcessed(d) => Zxid(p.last_processed_zxid().0.wrapping_add_signed(d as i64)),
        ZxidSel::EpochStart(e) => Zxid::epoch_start(epoch(p, e)),
        ZxidSel::At(e, c) => Zxid::new(epoch(p, e), c as u32),
        ZxidSel::Raw(z) => Zxid(z),
    }
}

fn entry(z: Zxid, txn: u64, origin: Option<(u8, u8)>) -> LogEntry<u64> {
    LogEntry {
        zxid: z,
        time_ms: 0,
        origin: origin.map(|(s, t)| ((s % SIDS) as Sid, t as u64)),
        txn,
    }
}

fn message(p: &Peer<M>, from: Sid, m: MsgSel) -> Msg {
    match m {
        MsgSel::Notification {
            state,
            vote_id,
            vote_zxid,
            round,
            peer_epoch,
        } => Message::Notification(Notification {
            state: PeerState::from_code((state % 4) as i32).unwrap_or(PeerState::Looking),
            vote_id: (vote_id % SIDS) as Sid,
            vote_zxid: zxid(p, vote_zxid),
            // Near the peer's round, or (rarely) near the largest the wire decoder accepts.
            logicclock: if round >= 252 {
                i64::MAX as u64 - (255 - round) as u64
            } else {
                (p.election().logicclock + (round % 4) as u64).saturating_sub(1)
            },
            peer_epoch: epoch(p, peer_epoch),
            sender: from,
        }),
        MsgSel::FollowerInfo(e) => Message::FollowerInfo {
            accepted_epoch: epoch(p, e),
        },
        MsgSel::ObserverInfo(e) => Message::ObserverInfo {
            accepted_epoch: epoch(p, e),
        },
        MsgSel::LeaderInfo(e) => Message::LeaderInfo {
            new_epoch: epoch(p, e),
        },
        MsgSel::AckEpoch(z, e) => Message::AckEpoch {
            last_logged_zxid: zxid(p, z),
            // The wire carries an i32: the decoder never yields an epoch above i32::MAX.
            current_epoch: e.map(|e| epoch(p, e) & 0x7fff_ffff),
        },
        MsgSel::Diff(z) => Message::Diff { zxid: zxid(p, z) },
        MsgSel::Trunc(z) => Message::Trunc { zxid: zxid(p, z) },
        MsgSel::Snap(z, chain, mut writes) => {
            writes.truncate(32);
            Message::Snap {
                zxid: zxid(p, z),
                snapshot: ChainMachine {
                    chain,
                    writes,
                    configs: Vec::new(),
                },
            }
        }
        MsgSel::NewLeader(z) => Message::NewLeader { zxid: zxid(p, z) },
        MsgSel::UpToDate => Message::UpToDate,
        MsgSel::Proposal(z, txn, origin) => Message::Proposal(entry(zxid(p, z), txn, origin)),
        MsgSel::Ack(z) => Message::Ack { zxid: zxid(p, z) },
        MsgSel::Commit(z) => Message::Commit { zxid: zxid(p, z) },
        MsgSel::Inform(z, txn) => Message::Inform(entry(zxid(p, z), txn, None)),
        MsgSel::Ping(z, mut t) => {
            t.truncate(8);
            Message::Ping {
                zxid: zxid(p, z),
                touches: t
                    .into_iter()
                    .map(|(session_id, timeout_ms)| SessionTouch {
                        session_id,
                        timeout_ms,
                    })
                    .collect(),
            }
        }
        MsgSel::Request(tag, txn) => Message::Request {
            tag: tag as u64,
            body: txn.map_or(Forwarded::Sync, Forwarded::Write),
        },
        MsgSel::Sync(tag) => Message::Sync { tag: tag as u64 },
    }
}

/// What server `to` would honestly answer to `msg` from this peer, if anything.
fn answer(p: &Peer<M>, msg: &Msg) -> Option<Msg> {
    Some(match msg {
        Message::LeaderInfo { new_epoch } => Message::AckEpoch {
            last_logged_zxid: p.last_logged_zxid(),
            current_epoch: Some(new_epoch.saturating_sub(1) & 0x7fff_ffff),
        },
        Message::NewLeader { zxid } | Message::Proposal(LogEntry { zxid, .. }) => {
            Message::Ack { zxid: *zxid }
        }
        Message::Ping { zxid, .. } => Message::Ping {
            zxid: *zxid,
            touches: Vec::new(),
        },
        Message::Notification(n) => Message::Notification(Notification {
            state: PeerState::Looking,
            sender: 0, // filled in by the caller
            ..*n
        }),
        Message::FollowerInfo { accepted_epoch } => Message::LeaderInfo {
            new_epoch: accepted_epoch.saturating_add(1),
        },
        Message::AckEpoch { .. } => Message::NewLeader {
            zxid: p.last_logged_zxid(),
        },
        Message::Request { tag, .. } => Message::Sync { tag: *tag },
        _ => return None,
    })
}

impl Host {
    fn step(&mut self, input: Input<M>) {
        let mut out = Vec::new();
        self.peer.step(self.now, input, &mut out);
        for o in out {
            match o {
                Output::Persist { id, op } => {
                    if let Some(last) = self.last_issued {
                        assert!(id > last, "persist id {id} after {last}");
                    }
                    self.last_issued = Some(id);
                    self.pending.push((id, op));
                }
                Output::Send { to, msg } => {
                    if self.sent.len() >= 16 {
                        self.sent.remove(0);
                    }
                    self.sent.push((to, msg));
                }
                _ => {}
            }
        }
        let p = &self.peer;
        assert!(
            p.accepted_epoch() >= p.current_epoch(),
            "acceptedEpoch {} below currentEpoch {}",
            p.accepted_epoch(),
            p.current_epoch()
        );
        assert!(
            p.log().windows(2).all(|w| w[0].zxid < w[1].zxid),
            "log out of zxid order"
        );
    }

    /// Persist requests up to `id` are durable: apply them to the disk, then tell the peer.
    fn persisted(&mut self, upto: usize) {
        let Some(&(id, _)) = self.pending.get(upto) else {
            return;
        };
        for (_, op) in self.pending.drain(..=upto) {
            self.disk.apply(&op);
        }
        self.step(Input::Persisted { id });
    }
}

/// Runs a script (see the module documentation); returns the peer as the script left it.
pub fn run(script: Script) -> Peer<M> {
    let (config, peer, now, disk) = match script.start {
        Start::Fresh {
            myid,
            observer,
            snap_count,
            commit_log_count,
        } => {
            let mut ensemble = Ensemble::new(3, 0);
            if observer {
                ensemble.members.insert(4, LearnerType::Observer);
            }
            let mut config = PeerConfig::new(1 + (myid % 3) as Sid, ensemble);
            config.snap_count = (snap_count % 32) as u64;
            config.commit_log_count = (commit_log_count % 16) as usize;
            let peer = Peer::new(config.clone());
            (config, peer, Instant::ZERO, Disk::default())
        }
        Start::Leader | Start::Follower | Start::Observer => {
            let i = match script.start {
                Start::Leader => 0,
                Start::Follower => 1,
                _ => 2,
            };
            let (_, now, peer, disk) = &stable_ensemble()[i];
            (peer.config().clone(), peer.clone(), *now, disk.clone())
        }
    };
    let fresh = now == Instant::ZERO;
    let mut host = Host {
        peer,
        now,
        pending: Vec::new(),
        last_issued: None,
        disk,
        sent: Vec::new(),
        next_tag: 1 << 40,
    };
    if fresh {
        host.step(Input::Start);
    }
    for step in script.steps.into_iter().take(MAX_STEPS) {
        match step {
            Step::Receive { from, msg } => {
                let from = (from % SIDS) as Sid;
                let msg = message(&host.peer, from, msg);
                host.step(Input::Receive { from, msg });
            }
            Step::Answer(n) => {
                let Some(i) = host.sent.len().checked_sub(1 + n as usize % 16) else {
                    continue;
                };
                let (to, msg) = host.sent[i].clone();
                if let Some(mut reply) = answer(&host.peer, &msg) {
                    if let Message::Notification(n) = &mut reply {
                        n.sender = to;
                    }
                    host.step(Input::Receive {
                        from: to,
                        msg: reply,
                    });
                }
            }
            Step::Tick(ms) => {
                host.now = Instant(host.now.0 + ms as u64);
                host.step(Input::Tick);
            }
            Step::TickToDeadline => {
                if let Some(d) = host.peer.next_deadline() {
                    host.now = host.now.max(d);
                }
                host.step(Input::Tick);
            }
            Step::Persisted(n) => {
                if let Some(i) = host.pending.len().checked_sub(1 + n as usize % 8) {
                    host.persisted(i);
                }
            }
            Step::PersistedAll => {
                if let Some(i) = host.pending.len().checked_sub(1) {
                    host.persisted(i);
                }
            }
            Step::PeerDisconnected(s) => host.step(Input::PeerDisconnected {
                peer: (s % SIDS) as Sid,
            }),
            Step::ClientWrite(txn) => {
                host.next_tag += 1;
                let tag = host.next_tag;
                host.step(Input::ClientWrite { tag, request: txn });
            }
            Step::ClientSync => {
                host.next_tag += 1;
                let tag = host.next_tag;
                host.step(Input::ClientSync { tag });
            }
            Step::SessionTouch(session_id, timeout_ms) => host.step(Input::SessionTouch {
                session_id,
                timeout_ms,
            }),
            Step::Restart => {
                // Unpersisted requests are lost with the process.
                host.pending.clear();
                host.last_issued = None;
                host.sent.clear();
                host.peer = Peer::recover(config.clone(), host.disk.clone());
                host.step(Input::Start);
            }
        }
    }
    host.peer
}

/// The target body: bytes → [`Script`] → [`run`]. Bytes that do not form a script are skipped.
pub fn peer(data: &[u8]) {
    let mut u = Unstructured::new(data);
    if let Ok(script) = Script::arbitrary(&mut u) {
        run(script);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cached starting points are what their names say, so scripts start in broadcast.
    #[test]
    fn the_simulated_starting_points_are_a_serving_leader_follower_and_observer() {
        let e = stable_ensemble();
        let states: Vec<PeerState> = e.iter().map(|(_, _, p, _)| p.state()).collect();
        assert_eq!(
            states,
            [
                PeerState::Leading,
                PeerState::Following,
                PeerState::Observing
            ]
        );
        assert!(e.iter().all(|(_, _, p, _)| p.is_serving()));
        assert!(
            e[0].2.last_processed_zxid().counter() >= 12,
            "the writes committed"
        );
    }

    /// A fresh peer (sid 3) whose notifications the others answer with its own vote is elected.
    #[test]
    fn honest_answers_drive_a_fresh_peer_through_election() {
        // Three rounds: answer, persist, tick (the finalize wait). Longer and the leader gives
        // up: nobody sends FOLLOWERINFO within initLimit.
        let mut steps = Vec::new();
        for _ in 0..3 {
            steps.push(Step::Answer(0));
            steps.push(Step::PersistedAll);
            steps.push(Step::TickToDeadline);
        }
        let peer = run(Script {
            start: Start::Fresh {
                myid: 2,
                observer: false,
                snap_count: 0,
                commit_log_count: 4,
            },
            steps,
        });
        assert_eq!((peer.id(), peer.state()), (3, PeerState::Leading));
    }
}
