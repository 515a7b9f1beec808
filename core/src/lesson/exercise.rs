//! Exercises: goals a student reaches by free play, checked from the cluster and its trace.
//! A try that misses the goal gets the exercise's hint and a sentence saying what the run
//! shows instead.

use alloc::collections::BTreeSet;
use alloc::format;
use alloc::string::String;

use crate::sim::zk::ZkCluster;
use crate::sim::SimEvent;
use crate::trace::TraceEvent;
use crate::zxid::Zxid;

use super::format::{Exercise, Goal, Text};

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
                    SimEvent::Peer(TraceEvent::SyncChosen { mode, .. }) => Some(mode.name()),
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
            let got = tree.map(|t| t.get_data(&[], path));
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
                        SimEvent::Peer(TraceEvent::LeaderEstablished { .. })
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
            SimEvent::Peer(TraceEvent::Proposed { zxid }) => Some(*zxid),
            _ => None,
        })
        .collect();
    let committed: BTreeSet<Zxid> = cluster
        .trace()
        .records()
        .iter()
        .filter_map(|r| match &r.event {
            SimEvent::Peer(TraceEvent::Committed { zxid }) => Some(*zxid),
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
