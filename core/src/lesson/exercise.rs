//! Exercises: goals a student reaches by free play, checked from the cluster and its trace.
//! A try that misses the goal gets the exercise's hint and a sentence saying what the run
//! shows instead.

use alloc::collections::BTreeSet;
use alloc::format;
use alloc::string::String;

use crate::message::PeerState;
use crate::message::Vote;
use crate::sim::zk::ZkCluster;
use crate::sim::HostEvent;
use crate::trace::TraceEvent;
use crate::trace::VoteDecision;
use crate::tree::watch::Table;
use crate::zxid::Sid;
use crate::zxid::Zxid;

use super::format::{Exercise, Goal, Text};
use super::run::LessonRun;

/// The verdict on a try.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ExerciseResult {
    pub passed: bool,
    /// The exercise's hint, after a try that missed (None when passed).
    pub hint: Option<Text>,
    /// What the run shows, in English (e.g. `the leader is server 2`).
    pub observed: String,
}

/// Checks an exercise against the whole run.
pub fn check_exercise(exercise: &Exercise, cluster: &ZkCluster) -> ExerciseResult {
    check_exercise_since(exercise, cluster, 0)
}

/// Checks an exercise against the run, looking at trace records from `first_record` on
/// (where free play began).
pub fn check_exercise_since(
    exercise: &Exercise,
    cluster: &ZkCluster,
    first_record: usize,
) -> ExerciseResult {
    let records = cluster.trace().records();
    let recent = records.get(first_record..).unwrap_or_default();
    let (passed, observed) = match &exercise.goal {
        Goal::LeaderIs(s) => {
            let ok = cluster.leader() == Some(*s) && cluster.is_stable();
            let seen = match cluster.leader() {
                Some(l) if cluster.is_stable() => format!("the leader is server {l}"),
                Some(l) => format!("server {l} leads but not every running server follows it yet"),
                None => String::from("no leader is established"),
            };
            (ok, seen)
        }
        Goal::SyncMode(mode) => {
            let modes: BTreeSet<&str> = recent
                .iter()
                .filter_map(|r| match &r.event {
                    HostEvent::Peer(TraceEvent::SyncChosen { mode, .. }) => Some(mode.name()),
                    _ => None,
                })
                .collect();
            let seen = if modes.is_empty() {
                String::from("no leader synchronized a learner")
            } else {
                let v: alloc::vec::Vec<&str> = modes.iter().copied().collect();
                format!("leaders chose {}", v.join(", "))
            };
            (modes.contains(mode.as_str()), seen)
        }
        Goal::LoseUncommittedProposal => lost_proposal(cluster, recent),
        Goal::Znode { path, data } => {
            let tree = cluster
                .leader()
                .and_then(|l| cluster.peer(l))
                .map(|p| p.machine());
            let got = tree.map(|t| t.get_data(&super::observer(), path));
            match got {
                None => (false, String::from("no leader is established")),
                Some(Err(_)) => (false, format!("the leader has no {path}")),
                Some(Ok((d, _))) => {
                    let d = String::from_utf8_lossy(d.as_deref().unwrap_or_default()).into_owned();
                    (d == *data, format!("{path} holds {d:?}"))
                }
            }
        }
        Goal::NoLeaderWith { running } => {
            let up = cluster
                .nodes()
                .values()
                .filter(|n| n.peer.is_some())
                .count() as u64;
            let since = cluster.now().as_millis().saturating_sub(3000);
            let recent_leader = records
                .iter()
                .rev()
                .take_while(|r| r.time.as_millis() >= since)
                .any(|r| {
                    matches!(
                        r.event,
                        HostEvent::Peer(TraceEvent::LeaderEstablished { .. })
                    )
                });
            let ok = cluster.leader().is_none()
                && !recent_leader
                && up >= *running
                && cluster.now().as_millis() >= 3000;
            let seen = match cluster.leader() {
                Some(l) => format!("server {l} leads with {up} servers running"),
                None if up < *running => format!("only {up} servers run"),
                None if recent_leader => String::from("a leader was established less than 3 s ago"),
                None => format!("no leader with {up} servers running"),
            };
            (ok, seen)
        }
        Goal::WinsOn {
            leader,
            over,
            field,
        } => wins_on(cluster, recent, *leader, *over, field),
        Goal::CommittedByNextLeader => committed_by_next_leader(cluster, recent),
        Goal::LeaderBackToLooking(s) => back_to_looking(cluster, recent, *s),
        Goal::Notified { .. }
        | Goal::MissedUpdate { .. }
        | Goal::Rejected { .. }
        | Goal::ReadLatest { .. }
        | Goal::MovedSession { .. } => (
            false,
            String::from(
                "this goal needs the lesson's clients: check it with LessonRun::check_exercise",
            ),
        ),
    };
    ExerciseResult {
        passed,
        hint: (!passed).then(|| exercise.hint.clone()),
        observed,
    }
}

/// A proposal made during free play, never committed, on no disk now, and a leader of a later
/// epoch serving.
fn lost_proposal(cluster: &ZkCluster, recent: &[crate::sim::TraceRecord]) -> (bool, String) {
    let proposed: BTreeSet<Zxid> = recent
        .iter()
        .filter_map(|r| match &r.event {
            HostEvent::Peer(TraceEvent::Proposed { zxid }) => Some(*zxid),
            _ => None,
        })
        .collect();
    let committed: BTreeSet<Zxid> = cluster
        .trace()
        .records()
        .iter()
        .filter_map(|r| match &r.event {
            HostEvent::Peer(TraceEvent::Committed { zxid }) => Some(*zxid),
            _ => None,
        })
        .collect();
    let on_disk = |z: Zxid| {
        cluster
            .nodes()
            .values()
            .any(|n| n.durable.log.iter().any(|e| e.zxid == z))
    };
    let leader_epoch = cluster
        .leader()
        .and_then(|l| cluster.peer(l))
        .map(|p| p.current_epoch());
    let lost: alloc::vec::Vec<Zxid> = proposed
        .iter()
        .copied()
        .filter(|z| !committed.contains(z) && !on_disk(*z))
        .filter(|z| leader_epoch.is_some_and(|e| e > z.epoch()))
        .collect();
    let uncommitted = proposed.iter().filter(|z| !committed.contains(z)).count();
    let seen = if let Some(z) = lost.first() {
        format!("proposal {z} was never committed and is gone from every disk")
    } else if proposed.is_empty() {
        String::from("no proposal was made")
    } else if uncommitted == 0 {
        format!("all {} proposals were committed", proposed.len())
    } else if leader_epoch.is_none() {
        String::from("an uncommitted proposal exists, but no new leader serves yet")
    } else {
        String::from("the uncommitted proposal is still on some disk (or no later epoch began)")
    };
    (!lost.is_empty(), seen)
}

/// The first field of (peer epoch, zxid, server id) in which `a` and `b` differ.
fn deciding_field(a: &Vote, b: &Vote) -> &'static str {
    if a.peer_epoch != b.peer_epoch {
        "epoch"
    } else if a.vote_zxid != b.vote_zxid {
        "zxid"
    } else {
        "id"
    }
}

/// `leader` leads, `over` follows it, and `over`'s last switch to `leader`'s vote during free
/// play was decided by `field` against `over`'s own initial vote.
fn wins_on(
    cluster: &ZkCluster,
    recent: &[crate::sim::TraceRecord],
    leader: Sid,
    over: Sid,
    field: &str,
) -> (bool, String) {
    let mut own: Option<Vote> = None;
    let mut decided: Option<(Vote, Vote)> = None;
    for r in recent.iter().filter(|r| r.node == over) {
        match &r.event {
            HostEvent::Peer(TraceEvent::ElectionRound { vote, .. }) => own = Some(*vote),
            HostEvent::Peer(TraceEvent::VoteReceived {
                notification,
                decision: VoteDecision::Adopted | VoteDecision::NewRound { adopted: true },
                proposal,
                ..
            }) if proposal.vote_id == leader => {
                if let Some(own) = own {
                    decided = Some((notification.vote(), own));
                }
            }
            _ => {}
        }
    }
    let following = cluster
        .peer(over)
        .filter(|p| p.state() == PeerState::Following)
        .and_then(|p| p.leader_id());
    let established = cluster.leader() == Some(leader) && cluster.is_stable();
    let seen = match (&decided, established, following) {
        (_, false, _) => match cluster.leader() {
            Some(l) if cluster.is_stable() => format!("the leader is server {l}"),
            _ => String::from("no stable leader is established"),
        },
        (_, true, f) if f != Some(leader) => format!("server {over} does not follow server {leader}"),
        (None, true, _) => format!(
            "server {over} never compared its own vote with server {leader}'s (it joined an established leader, or voted for it from the start)"
        ),
        (Some((theirs, mine)), true, _) => format!(
            "server {over} dropped its vote ({}, {}, epoch {}) for ({}, {}, epoch {}): the {} decided",
            mine.vote_id,
            mine.vote_zxid,
            mine.peer_epoch,
            theirs.vote_id,
            theirs.vote_zxid,
            theirs.peer_epoch,
            deciding_field(theirs, mine)
        ),
    };
    let ok = established
        && following == Some(leader)
        && decided.is_some_and(|(theirs, mine)| deciding_field(&theirs, &mine) == field);
    (ok, seen)
}

/// A free-play proposal that no leader committed in its own epoch (no COMMIT was sent for it)
/// and that the stable leader of a later epoch holds and has applied.
fn committed_by_next_leader(
    cluster: &ZkCluster,
    recent: &[crate::sim::TraceRecord],
) -> (bool, String) {
    let proposed: BTreeSet<Zxid> = recent
        .iter()
        .filter_map(|r| match &r.event {
            HostEvent::Peer(TraceEvent::Proposed { zxid }) => Some(*zxid),
            _ => None,
        })
        .collect();
    let committed: BTreeSet<Zxid> = cluster
        .trace()
        .records()
        .iter()
        .filter_map(|r| match &r.event {
            HostEvent::Peer(TraceEvent::Committed { zxid }) => Some(*zxid),
            _ => None,
        })
        .collect();
    let uncommitted: alloc::vec::Vec<Zxid> = proposed
        .iter()
        .copied()
        .filter(|z| !committed.contains(z))
        .collect();
    let leader = cluster
        .leader()
        .filter(|_| cluster.is_stable())
        .and_then(|l| Some((l, cluster.peer(l)?, cluster.nodes().get(&l)?)));
    let kept = |z: &Zxid| {
        leader.is_some_and(|(_, p, n)| {
            p.current_epoch() > z.epoch()
                && p.last_processed_zxid() >= *z
                && n.durable.log.iter().any(|e| e.zxid == *z)
        })
    };
    let seen = if proposed.is_empty() {
        String::from("no proposal was made")
    } else if uncommitted.is_empty() {
        format!(
            "all {} proposals were committed by the leader that made them",
            proposed.len()
        )
    } else if let Some(z) = uncommitted.iter().find(|z| kept(z)) {
        let (l, p, _) = leader.expect("kept implies a leader");
        format!(
            "proposal {z} got no COMMIT in epoch {}, and leader {l} of epoch {} committed it",
            z.epoch(),
            p.current_epoch()
        )
    } else if leader.is_none() {
        String::from("an uncommitted proposal exists, but no stable leader serves")
    } else {
        format!(
            "proposal {} was never committed and the new leader does not have it",
            uncommitted[0]
        )
    };
    (uncommitted.iter().any(kept), seen)
}

/// `sid` went from LEADING to LOOKING during free play and was not stopped on the way (a
/// crash or restart starts a new incarnation, which does not count).
fn back_to_looking(
    cluster: &ZkCluster,
    recent: &[crate::sim::TraceRecord],
    sid: Sid,
) -> (bool, String) {
    let mut leading = false;
    let mut fell_back = false;
    let mut stopped = false;
    for r in recent.iter().filter(|r| r.node == sid) {
        match &r.event {
            HostEvent::Peer(TraceEvent::StateChanged { from, to }) => {
                if *to == PeerState::Leading {
                    leading = true;
                } else if *from == PeerState::Leading && *to == PeerState::Looking {
                    fell_back = true;
                }
            }
            HostEvent::Crashed | HostEvent::Restarted | HostEvent::Wiped => stopped = true,
            _ => {}
        }
    }
    // Leading when free play began counts too.
    let was_leading = leading
        || recent.first().is_some_and(|_| {
            cluster.trace().records()[..cluster.trace().records().len() - recent.len()]
                .iter()
                .rev()
                .filter(|r| r.node == sid)
                .find_map(|r| match &r.event {
                    HostEvent::Peer(TraceEvent::StateChanged { to, .. }) => Some(*to),
                    _ => None,
                })
                == Some(PeerState::Leading)
        });
    let seen = if stopped {
        format!("server {sid} was stopped (a crash is not losing leadership)")
    } else if fell_back {
        format!("server {sid} stopped leading and went back to LOOKING")
    } else if was_leading {
        format!("server {sid} is still leading")
    } else {
        format!("server {sid} did not lead")
    };
    (fell_back && was_leading && !stopped, seen)
}

/// Goals about a lesson's clients ([`Goal::Notified`], [`Goal::MissedUpdate`]), checked from
/// what the clients saw since free play began; other goals go to [`check_exercise_since`].
pub(crate) fn check_with_clients(exercise: &Exercise, run: &LessonRun) -> ExerciseResult {
    let (passed, observed) = match &exercise.goal {
        Goal::Notified { client, event } => {
            let got = run.events_since_free_play(client);
            let seen = if got.is_empty() {
                format!("{client} received no watch event")
            } else {
                format!("{client} received {}", got.join(", "))
            };
            (got.iter().any(|e| e == event), seen)
        }
        Goal::MissedUpdate { client, path } => missed_update(run, client, path),
        Goal::ReadLatest { client, path } => {
            let read = run
                .reads_since_free_play(client)
                .then(|| run.read_data.get(client).cloned())
                .flatten();
            let leader = run
                .cluster()
                .leader()
                .and_then(|l| run.cluster().peer(l))
                .and_then(|p| p.machine().get_data(&super::observer(), path).ok())
                .map(|(d, _)| {
                    String::from_utf8_lossy(d.as_deref().unwrap_or_default()).into_owned()
                });
            let seen = match (&read, &leader) {
                (None, _) => format!("{client} read nothing during free play"),
                (_, None) => format!("the leader has no {path}"),
                (Some(r), Some(l)) if r == l => format!("{client} read {r:?}, the latest value"),
                (Some(r), Some(l)) => format!("{client} read {r:?} but the leader holds {l:?}"),
            };
            (read.is_some() && read == leader, seen)
        }
        Goal::MovedSession { client } => {
            let c = run.client_id(client).and_then(|id| run.clients().get(id));
            let events = run.connection_events_since_free_play(client);
            let open = c.is_some_and(|c| {
                run.reference_server()
                    .and_then(|s| run.cluster().peer(s))
                    .is_some_and(|p| p.machine().sessions().contains_key(&c.session_id))
            });
            let moved = c.map(|c| c.server) != run.free_play_server(client);
            let reconnected =
                events.contains(&"Disconnected") && events.last() == Some(&"SyncConnected");
            let seen = format!(
                "{client} saw [{}], is on server {}, its session is {}",
                events.join(", "),
                c.map_or(0, |c| c.server),
                if open { "open" } else { "closed" }
            );
            (reconnected && moved && open, seen)
        }
        Goal::Rejected { client, code } => {
            let got = run.last_result_since_free_play(client);
            let seen = match &got {
                None => format!("{client} sent no request during free play"),
                Some(r) => format!("{client}'s last request: {r}"),
            };
            (got.as_deref() == Some(code.as_str()), seen)
        }
        _ => {
            return check_exercise_since(exercise, run.cluster(), run.free_play_from);
        }
    };
    ExerciseResult {
        passed,
        hint: (!passed).then(|| exercise.hint.clone()),
        observed,
    }
}

fn missed_update(run: &LessonRun, client: &str, path: &str) -> (bool, String) {
    let Some(c) = run.client_id(client).and_then(|id| run.clients().get(id)) else {
        return (false, format!("{client} is not connected"));
    };
    let Some(tree) = run.cluster().peer(c.server).map(|p| p.machine()) else {
        return (false, format!("{client}'s server {} is down", c.server));
    };
    let now = match tree.get_data(&super::observer(), path) {
        Ok((d, _)) => String::from_utf8_lossy(d.as_deref().unwrap_or_default()).into_owned(),
        Err(_) => return (false, format!("{path} does not exist")),
    };
    let believed = run.read_data.get(client).cloned();
    let armed = tree.watches.has(Table::Data, path, c.conn);
    let seen = match &believed {
        None => format!("{client} never read {path}"),
        Some(b) if *b == now => format!("{client} last read {b:?}, which is what {path} holds"),
        Some(b) if !armed => format!(
            "{client} last read {b:?}, {path} holds {now:?}, but {client} has no watch on it (so it is not waiting to be told)"
        ),
        Some(b) => format!(
            "{client} believes {b:?}, {path} holds {now:?}, and {client}'s watch will only fire on the next change"
        ),
    };
    let ok = armed && believed.is_some_and(|b| b != now);
    (ok, seen)
}
