//! Locks (ZooKeeper recipes, "Locks" and "Shared Locks"): sequential ephemeral nodes under a
//! lock node; a client holds the lock when no earlier node blocks it, and otherwise watches
//! only the node just before the one it must wait for, so a release wakes one waiter (no herd
//! effect).

use std::collections::{BTreeMap, BTreeSet};

use zablab_core::sim::zk::ClientId;
use zablab_core::tree::{ErrorCode, EventType};

use crate::support::*;

/// What a lock attempt found.
#[derive(Clone, Debug, PartialEq)]
enum Attempt {
    Acquired,
    /// Waiting; a watch is set on this path.
    Waiting(String),
}

/// The exclusive-lock check: lowest sequence holds; else watch the predecessor (retrying if it
/// vanished between getChildren and exists, as the recipe says).
fn try_lock(lab: &mut Lab, id: ClientId, dir: &str, mine: &str) -> Attempt {
    loop {
        let children = lab.children(id, dir, false).expect("lock dir exists");
        let mut nodes: Vec<String> = children.iter().map(|c| format!("{dir}/{c}")).collect();
        nodes.sort_by_key(|p| seq_of(p));
        let at = nodes
            .iter()
            .position(|p| p == mine)
            .unwrap_or_else(|| panic!("{mine} is not among {nodes:?}"));
        if at == 0 {
            return Attempt::Acquired;
        }
        let pred = nodes[at - 1].clone();
        match lab.exists(id, &pred, true) {
            Ok(_) => return Attempt::Waiting(pred),
            Err(ErrorCode::NoNode) => continue,
            Err(e) => panic!("exists({pred}): {e:?}"),
        }
    }
}

/// Five clients, one per server, create their lock nodes at once. Returns (client, node) in
/// sequence order.
fn contenders(lab: &mut Lab) -> Vec<(ClientId, String)> {
    let admin = lab.connect(lab.leader());
    lab.create(admin, "/lock", b"", PERSISTENT).unwrap();
    let clients: Vec<ClientId> = (1..=5).map(|s| lab.connect(s)).collect();
    let tags: Vec<_> = clients
        .iter()
        .map(|c| lab.submit(*c, create_op("/lock/lock-", b"", EPHEMERAL_SEQUENTIAL)))
        .collect();
    let outcomes = lab.await_replies(&tags);
    let mut held: Vec<(ClientId, String)> = clients
        .iter()
        .zip(outcomes)
        .map(|(c, o)| {
            let path = match o.expect("lock node created") {
                zablab_core::tree::WriteResponse::Create { path } => path,
                other => panic!("create answered {other:?}"),
            };
            (*c, path)
        })
        .collect();
    held.sort_by_key(|(_, p)| seq_of(p));
    held
}

#[test]
fn exclusive_lock_is_granted_in_sequence_order_and_each_release_wakes_exactly_one_waiter() {
    let mut lab = Lab::new(5, 101);
    let order = contenders(&mut lab);
    let attempts: Vec<Attempt> = order
        .iter()
        .map(|(c, p)| try_lock(&mut lab, *c, "/lock", p))
        .collect();
    assert_eq!(attempts[0], Attempt::Acquired);
    for (i, a) in attempts.iter().enumerate().skip(1) {
        assert_eq!(
            a,
            &Attempt::Waiting(order[i - 1].1.clone()),
            "waiter {i} watches its predecessor"
        );
    }
    let mut acquired = vec![order[0].0];
    for i in 0..order.len() - 1 {
        let (holder, node) = order[i].clone();
        lab.delete(holder, &node, -1).unwrap();
        let next = order[i + 1].0;
        let events = lab.events_after(&[next]);
        assert_eq!(
            events.keys().copied().collect::<Vec<_>>(),
            vec![next],
            "release {i}: only the next waiter is notified (no herd)"
        );
        let ev = &events[&next];
        assert_eq!(ev.len(), 1);
        assert_eq!(
            (ev[0].event_type, ev[0].path.as_str()),
            (EventType::NodeDeleted, node.as_str())
        );
        assert_eq!(
            try_lock(&mut lab, next, "/lock", &order[i + 1].1),
            Attempt::Acquired
        );
        acquired.push(next);
    }
    let by_sequence: Vec<ClientId> = order.iter().map(|(c, _)| *c).collect();
    assert_eq!(acquired, by_sequence);
    lab.assert_replicas_agree();
}

#[test]
fn a_crashed_lock_waiter_wakes_only_its_successor_which_then_waits_on_the_next_live_node() {
    let mut lab = Lab::new(5, 102);
    let order = contenders(&mut lab);
    for (c, p) in &order {
        try_lock(&mut lab, *c, "/lock", p);
    }
    // The third contender dies while waiting: its session expires and its node goes.
    let (dead, dead_node) = order[2].clone();
    lab.clients.crash(&mut lab.cluster, dead);
    let successor = order[3].0;
    let events = lab.events_after(&[successor]);
    assert_eq!(events.keys().copied().collect::<Vec<_>>(), vec![successor]);
    assert_eq!(events[&successor][0].event_type, EventType::NodeDeleted);
    assert_eq!(events[&successor][0].path, dead_node);
    // It is not first yet: it now watches the second contender's node.
    assert_eq!(
        try_lock(&mut lab, successor, "/lock", &order[3].1),
        Attempt::Waiting(order[1].1.clone())
    );
    // Releases now skip the dead client.
    let mut acquired = vec![order[0].0];
    let live: Vec<(ClientId, String)> = order.iter().filter(|(c, _)| *c != dead).cloned().collect();
    for i in 0..live.len() - 1 {
        lab.delete(live[i].0, &live[i].1, -1).unwrap();
        let next = live[i + 1].0;
        let events = lab.events_after(&[next]);
        assert_eq!(events.keys().copied().collect::<Vec<_>>(), vec![next]);
        assert_eq!(
            try_lock(&mut lab, next, "/lock", &live[i + 1].1),
            Attempt::Acquired
        );
        acquired.push(next);
    }
    assert_eq!(
        acquired,
        live.iter().map(|(c, _)| *c).collect::<Vec<_>>(),
        "the lock went around in sequence order without the dead client"
    );
    lab.assert_replicas_agree();
}

/// The shared-lock check: a reader waits for the last write node before it; a writer waits
/// for the node just before it.
fn try_rw_lock(lab: &mut Lab, id: ClientId, mine: &str) -> Attempt {
    loop {
        let mut nodes: Vec<String> = lab
            .children(id, "/rw", false)
            .unwrap()
            .into_iter()
            .map(|c| format!("/rw/{c}"))
            .collect();
        nodes.sort_by_key(|p| seq_of(p));
        let at = nodes.iter().position(|p| p == mine).unwrap();
        let blocker = if mine.starts_with("/rw/read-") {
            nodes[..at]
                .iter()
                .rfind(|p| p.starts_with("/rw/write-"))
                .cloned()
        } else {
            at.checked_sub(1).map(|i| nodes[i].clone())
        };
        let Some(blocker) = blocker else {
            return Attempt::Acquired;
        };
        match lab.exists(id, &blocker, true) {
            Ok(_) => return Attempt::Waiting(blocker),
            Err(ErrorCode::NoNode) => continue,
            Err(e) => panic!("exists({blocker}): {e:?}"),
        }
    }
}

#[test]
fn shared_lock_lets_readers_share_and_a_writer_wait_for_every_earlier_node() {
    let mut lab = Lab::new(3, 103);
    let admin = lab.connect(lab.leader());
    lab.create(admin, "/rw", b"", PERSISTENT).unwrap();
    // Requests in this order: R1 R2 W3 R4 R5 W6, two clients per server.
    let kinds = ["read", "read", "write", "read", "read", "write"];
    let mut lockers: Vec<(ClientId, String)> = Vec::new();
    for (i, kind) in kinds.iter().enumerate() {
        let c = lab.connect(1 + i as u64 % 3);
        let node = lab
            .create(c, &format!("/rw/{kind}-"), b"", EPHEMERAL_SEQUENTIAL)
            .unwrap();
        lockers.push((c, node));
    }
    let mut holders = BTreeSet::new();
    let mut waiting_on = BTreeMap::new();
    for (i, (c, node)) in lockers.iter().enumerate() {
        match try_rw_lock(&mut lab, *c, node) {
            Attempt::Acquired => {
                holders.insert(i);
            }
            Attempt::Waiting(b) => {
                waiting_on.insert(i, b);
            }
        }
    }
    let node = |i: usize| lockers[i].1.clone();
    assert_eq!(
        holders,
        BTreeSet::from([0, 1]),
        "the two first readers share"
    );
    assert_eq!(
        waiting_on,
        BTreeMap::from([(2, node(1)), (3, node(2)), (4, node(2)), (5, node(4))]),
        "the writer waits on the last reader, readers on the writer, the last writer on R5"
    );
    // (released, the lockers that must wake up and then hold the lock)
    let script: [(usize, &[usize]); 5] = [
        (0, &[]),     // R1 leaves: W3 still waits for R2; nobody is woken
        (1, &[2]),    // R2 leaves: W3 alone
        (2, &[3, 4]), // W3 leaves: both later readers together
        (3, &[]),     // R4 leaves: W6 waits for R5
        (4, &[5]),    // R5 leaves: W6
    ];
    for (released, woken) in script {
        lab.delete(lockers[released].0, &node(released), -1)
            .unwrap();
        holders.remove(&released);
        let expected: Vec<ClientId> = woken.iter().map(|i| lockers[*i].0).collect();
        let events = lab.events_after(&expected);
        assert_eq!(
            events.keys().copied().collect::<Vec<_>>(),
            expected,
            "after releasing {released}: exactly these waiters are woken"
        );
        for i in woken {
            assert_eq!(
                try_rw_lock(&mut lab, lockers[*i].0, &node(*i)),
                Attempt::Acquired
            );
            holders.insert(*i);
        }
        let writers = holders.iter().filter(|i| kinds[**i] == "write").count();
        assert!(
            writers == 0 || holders.len() == 1,
            "a writer holds the lock alone: {holders:?}"
        );
    }
    assert_eq!(holders, BTreeSet::from([5]));
    lab.assert_replicas_agree();
}
