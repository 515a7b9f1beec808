//! **Liveness** (TigerBeetle VOPR's second phase): once faults stop — every link healed, every
//! server running — the cluster converges on one established leader that every server follows
//! in broadcast, a new write commits, and every server ends with the same state.

use alloc::format;
use alloc::vec::Vec;

use super::{violation, Violation};
use crate::machine::StateMachine;
use crate::sim::{Action, ClientResult, Cluster};
use crate::zxid::Sid;

/// Heals everything, restarts every crashed server, then gives the cluster `limit_ms` of
/// virtual time to elect a leader, commit `probe` (a write sent to the leader) and bring every
/// server to the same last zxid and digest.
pub fn converge<M: StateMachine + Clone>(
    cluster: &mut Cluster<M>,
    probe: M::Request,
    limit_ms: u64,
) -> Result<(), Violation> {
    cluster.calm();
    cluster.act(Action::HealAll);
    let down: Vec<Sid> = cluster
        .nodes()
        .iter()
        .filter(|(_, n)| n.peer.is_none())
        .map(|(s, _)| *s)
        .collect();
    for sid in down {
        cluster.act(Action::Restart(sid));
    }
    let deadline = cluster.now() + limit_ms;
    // A server may still believe in a leader it lost during the faults, so the first stable
    // view can dissolve; retry the probe write until it commits or time runs out.
    let mut bounces = 0;
    let leader = loop {
        // ZooKeeper's liveness gap: a server that promised a newer epoch to a candidate that
        // never got established is refused by the established leader (as Apache ZooKeeper's
        // LearnerHandler refuses it) and cannot join until the leader changes; the next leader
        // may fix its epoch before that server's FOLLOWERINFO counts, so this can take more
        // than one change, and each change raises the epoch by as little as one (disk wipes
        // can leave a survivor several epochs ahead). Give the cluster a while, then restart
        // that leader, as an operator would, sooner once a restart was needed (at most
        // MAX_BOUNCES times).
        const MAX_BOUNCES: u32 = 12;
        let wait = if bounces == 0 {
            limit_ms / 6
        } else {
            limit_ms / 24
        };
        let patience = (cluster.now() + wait).min(deadline);
        if !cluster.run_until_pred(patience, |c| c.is_stable()) {
            if patience < deadline {
                if let Some(leader) =
                    waiting_for_a_newer_epoch(cluster).filter(|_| bounces < MAX_BOUNCES)
                {
                    bounces += 1;
                    cluster.act(Action::Crash(leader));
                    cluster.act(Action::Restart(leader));
                }
                continue;
            }
            return Err(no_progress(
                cluster,
                "no stable leader followed by every server",
            ));
        }
        let leader = cluster.leader().expect("stable implies a leader");
        let tag = cluster
            .act(Action::Write {
                server: leader,
                txn: probe.clone(),
            })
            .expect("writes return a tag");
        cluster.run_until_pred(deadline, |c| {
            !matches!(c.request(tag), Some(ClientResult::Pending))
        });
        match cluster.request(tag) {
            Some(ClientResult::Replied { .. }) => break leader,
            Some(ClientResult::Failed) if cluster.now() < deadline => continue,
            _ => return Err(no_progress(cluster, "a write to the leader did not commit")),
        }
    };
    // Writes still in flight from the fault phase may commit after the probe, so wait until
    // every server holds exactly the leader's state. (Compare states, not lastProcessedZxid:
    // a leader sets that to `epoch << 32` when established, its followers keep their last txn.)
    let converged = cluster.run_until_pred(deadline, |c| {
        let Some(target) = c.peer(leader).map(|p| p.machine().digest()) else {
            return false;
        };
        c.nodes()
            .values()
            .all(|n| matches!(&n.peer, Some(p) if p.is_serving() && p.machine().digest() == target))
    });
    if !converged {
        return Err(no_progress(
            cluster,
            "servers did not all apply what the leader applied",
        ));
    }
    let digests: Vec<(Sid, crate::zxid::Zxid, u64)> = cluster
        .nodes()
        .iter()
        .filter_map(|(s, n)| {
            n.peer
                .as_ref()
                .map(|p| (*s, p.last_processed_zxid(), p.machine().digest()))
        })
        .collect();
    if digests.windows(2).any(|w| w[0].2 != w[1].2) {
        let nodes: Vec<Sid> = digests.iter().map(|(s, _, _)| *s).collect();
        return Err(violation(
            "Convergence",
            cluster.now(),
            &nodes,
            format!("servers hold different states (sid, last zxid, digest): {digests:x?}"),
        ));
    }
    cluster.check_final_state()
}

/// The established leader, if some running server cannot join it only because it promised a
/// newer epoch than the leader's.
fn waiting_for_a_newer_epoch<M: StateMachine + Clone>(cluster: &Cluster<M>) -> Option<Sid> {
    let leader = cluster.leader()?;
    let epoch = cluster.peer(leader)?.current_epoch();
    let stuck = cluster
        .nodes()
        .values()
        .filter_map(|n| n.peer.as_ref())
        .any(|p| p.accepted_epoch() > epoch && !(p.is_serving() && p.leader_id() == Some(leader)));
    stuck.then_some(leader)
}

fn no_progress<M: StateMachine + Clone>(cluster: &Cluster<M>, what: &str) -> Violation {
    let states: Vec<(Sid, &str, &str)> = cluster
        .nodes()
        .iter()
        .map(|(s, n)| match &n.peer {
            Some(p) => (*s, p.state().name(), p.phase().name()),
            None => (*s, "DOWN", "-"),
        })
        .collect();
    violation(
        "Liveness",
        cluster.now(),
        &[],
        format!("{what}; servers: {states:?}"),
    )
}
