//! Leader (master) election with an ephemeral `/master` (ZooKeeper recipes, "Leader
//! Election", the simple form kazoo's and Curator's tutorials start with): whoever creates
//! `/master` is master; the others watch it with exists and try again when it is deleted.
//! The master's ephemeral lives as long as its session, so a master whose process dies is
//! replaced only once the leader expires its session.

use std::collections::BTreeSet;

use zablab_core::sim::zk::ClientId;
use zablab_core::tree::{ErrorCode, EventType};

use crate::support::*;

/// Every candidate tries to create `/master` at once; the winner, after checking that the
/// losers got NodeExists and set their watches.
fn run_election(lab: &mut Lab, candidates: &[ClientId]) -> ClientId {
    let tags: Vec<_> = candidates
        .iter()
        .map(|c| {
            let name = format!("candidate-{c}");
            lab.submit(*c, create_op("/master", name.as_bytes(), EPHEMERAL))
        })
        .collect();
    let outcomes = lab.await_replies(&tags);
    let winners: Vec<ClientId> = candidates
        .iter()
        .zip(&outcomes)
        .filter(|(_, o)| o.is_ok())
        .map(|(c, _)| *c)
        .collect();
    assert_eq!(winners.len(), 1, "exactly one candidate wins: {outcomes:?}");
    for (c, o) in candidates.iter().zip(&outcomes) {
        if *c != winners[0] {
            assert_eq!(o, &Err(ErrorCode::NodeExists));
            let stat = lab.exists(*c, "/master", true);
            assert!(stat.is_ok(), "loser {c} sees the master node: {stat:?}");
        }
    }
    winners[0]
}

/// Every running server agrees `/master` belongs to `master`'s session.
fn assert_master_everywhere(lab: &mut Lab, master: ClientId) {
    lab.assert_replicas_agree();
    let session = lab.session(master);
    for (sid, node) in lab.cluster.nodes() {
        let Some(peer) = &node.peer else { continue };
        let stat = peer.machine().exists(&[], "/master").expect("a master");
        assert_eq!(stat.ephemeral_owner, session, "server {sid}");
        let (data, _) = peer.machine().get_data(&[], "/master").unwrap();
        assert_eq!(data.unwrap(), format!("candidate-{master}").into_bytes());
    }
}

#[test]
fn master_election_has_one_master_and_a_crashed_master_is_replaced_after_session_expiry() {
    let mut lab = Lab::new(3, 201);
    let mut candidates: Vec<ClientId> = (1..=3).map(|s| lab.connect(s)).collect();
    let mut masters = Vec::new();
    let mut master = run_election(&mut lab, &candidates);
    assert_master_everywhere(&mut lab, master);
    masters.push(master);
    while candidates.len() > 1 {
        // The master's process dies. Until the leader expires its session, the others must
        // neither be told nor see /master gone.
        lab.clients.crash(&mut lab.cluster, master);
        candidates.retain(|c| *c != master);
        let crashed_at = lab.cluster.now();
        lab.run_for(TIMEOUT_MS as u64 / 2);
        assert!(
            lab.take_all_events().is_empty(),
            "no takeover before the session expires"
        );
        assert_master_everywhere(&mut lab, master);
        let events = lab.events_after(&candidates);
        let expired_after = lab.cluster.now().saturating_sub(crashed_at);
        assert!(expired_after >= TIMEOUT_MS as u64 - 200, "{expired_after}");
        for c in &candidates {
            let ev = &events[c];
            assert_eq!(ev.len(), 1, "one NodeDeleted for candidate {c}");
            assert_eq!(
                (ev[0].event_type, ev[0].path.as_str()),
                (EventType::NodeDeleted, "/master")
            );
        }
        master = run_election(&mut lab, &candidates);
        assert_master_everywhere(&mut lab, master);
        masters.push(master);
    }
    let distinct: BTreeSet<ClientId> = masters.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        3,
        "each candidate was master once: {masters:?}"
    );
}

#[test]
fn a_master_whose_server_crashes_moves_its_session_and_stays_master() {
    let mut lab = Lab::new(3, 202);
    let candidates: Vec<ClientId> = (1..=3).map(|s| lab.connect(s)).collect();
    let master = run_election(&mut lab, &candidates);
    let server = lab.clients.get(master).unwrap().server;
    lab.cluster.act(zablab_core::sim::Action::Crash(server));
    // The client reconnects to another server as soon as one serves it.
    let target = (1..=3).find(|s| *s != server).unwrap();
    let mut moved = false;
    for _ in 0..500 {
        if lab
            .clients
            .move_to(&mut lab.cluster, master, target)
            .is_ok()
        {
            moved = true;
            break;
        }
        lab.run_for(20);
    }
    assert!(moved, "the session moved to server {target}");
    // Several session timeouts later it is still master, and nobody was told otherwise.
    lab.run_for(3 * TIMEOUT_MS as u64);
    let events = lab.take_all_events();
    assert!(
        events.values().flatten().all(|e| e.path != "/master"),
        "{events:?}"
    );
    assert_master_everywhere(&mut lab, master);
}
