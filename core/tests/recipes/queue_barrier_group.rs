//! A FIFO queue, a double barrier and group membership (ZooKeeper recipes, "Queues",
//! "Barriers"/"Double Barriers", and the group membership example of the programmer's guide).

use std::collections::BTreeMap;

use zablab_core::sim::zk::ClientId;
use zablab_core::sim::ClientResult;
use zablab_core::tree::{ErrorCode, EventType};

use crate::support::*;

#[test]
fn fifo_queue_consumers_on_different_servers_take_each_item_once_in_sequence_order() {
    let mut lab = Lab::new(3, 401);
    let admin = lab.connect(lab.leader());
    lab.create(admin, "/queue", b"", PERSISTENT).unwrap();
    let producers: Vec<ClientId> = vec![lab.connect(1), lab.connect(2)];
    let consumers: Vec<ClientId> = vec![lab.connect(2), lab.connect(3), lab.connect(1)];
    const ITEMS: usize = 6;
    let mut tags = Vec::new();
    for k in 0..ITEMS {
        for (p, producer) in producers.iter().enumerate() {
            let data = format!("p{p}-{k}");
            let op = create_op("/queue/item-", data.as_bytes(), PERSISTENT_SEQUENTIAL);
            tags.push(lab.submit(*producer, op));
        }
    }
    for o in lab.await_replies(&tags) {
        o.unwrap();
    }
    // Rounds: every consumer looks at its own server's view and, at the same time, tries to
    // delete the head after reading it; NoNode means another consumer was faster.
    let mut taken: Vec<(u64, u32, String, ClientId)> = Vec::new(); // (zxid, seq, data, who)
    let mut lost = 0;
    for _round in 0..100 {
        let mut attempts = Vec::new();
        for c in &consumers {
            let children = lab.children(*c, "/queue", false).unwrap();
            let Some(head) = children.iter().min_by_key(|n| seq_of(n)) else {
                continue;
            };
            let path = format!("/queue/{head}");
            let (data, _) = lab.get_data(*c, &path, false).unwrap();
            let tag = lab.submit(*c, delete_op(&path, -1));
            attempts.push((*c, path, String::from_utf8(data).unwrap(), tag));
        }
        if attempts.is_empty() {
            break;
        }
        let outcomes = lab.await_replies(&attempts.iter().map(|a| a.3).collect::<Vec<_>>());
        let mut winners: BTreeMap<String, usize> = BTreeMap::new();
        for ((c, path, data, tag), o) in attempts.into_iter().zip(outcomes) {
            match o {
                Ok(_) => {
                    *winners.entry(path.clone()).or_default() += 1;
                    taken.push((lab.reply_zxid(tag), seq_of(&path), data, c));
                }
                Err(ErrorCode::NoNode) => lost += 1,
                Err(e) => panic!("delete {path}: {e:?}"),
            }
        }
        assert!(winners.values().all(|n| *n == 1), "{winners:?}");
    }
    assert_eq!(taken.len(), ITEMS * producers.len(), "every item consumed");
    taken.sort();
    let seqs: Vec<u32> = taken.iter().map(|t| t.1).collect();
    assert_eq!(
        seqs,
        (0..(ITEMS * producers.len()) as u32).collect::<Vec<_>>(),
        "items leave in sequence order, each exactly once"
    );
    for (p, _) in producers.iter().enumerate() {
        let mine: Vec<&str> = taken
            .iter()
            .map(|t| t.2.as_str())
            .filter(|d| d.starts_with(&format!("p{p}-")))
            .collect();
        let expected: Vec<String> = (0..ITEMS).map(|k| format!("p{p}-{k}")).collect();
        assert_eq!(mine, expected, "producer {p}'s items in the order produced");
    }
    for c in &consumers {
        let seqs: Vec<u32> = taken.iter().filter(|t| t.3 == *c).map(|t| t.1).collect();
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "consumer {c}: {seqs:?}"
        );
    }
    assert!(lost > 0, "the consumers actually raced for items");
    lab.assert_replicas_agree();
}

/// Double barrier state of one participant.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Phase {
    Waiting,
    Inside,
    Leaving,
    Left,
}

/// Barrier members: the children of `/barrier` but the `ready` flag.
fn members(lab: &mut Lab, id: ClientId, watch: bool) -> Vec<String> {
    let mut v = lab.children(id, "/barrier", watch).unwrap();
    v.retain(|n| n != "ready");
    v
}

#[test]
fn double_barrier_lets_nobody_in_before_all_joined_and_nobody_out_before_all_left() {
    const N: usize = 5;
    let mut lab = Lab::new(5, 402);
    let admin = lab.connect(lab.leader());
    lab.create(admin, "/barrier", b"", PERSISTENT).unwrap();
    let parts: Vec<ClientId> = (1..=N as u64).map(|s| lab.connect(s)).collect();
    let mut phase = vec![Phase::Waiting; N];
    // Enter: watch for /barrier/ready, join, and the N-th to join raises the flag.
    for (i, c) in parts.iter().enumerate() {
        assert_eq!(
            lab.exists(*c, "/barrier/ready", true),
            Err(ErrorCode::NoNode)
        );
        lab.create(*c, &format!("/barrier/p{i}"), b"", EPHEMERAL)
            .unwrap();
        if members(&mut lab, *c, false).len() == N {
            lab.create(*c, "/barrier/ready", b"", PERSISTENT).unwrap();
            phase[i] = Phase::Inside;
            break;
        }
        let events = lab.events_after(&[]);
        assert!(events.is_empty(), "{} joined: nobody proceeds yet", i + 1);
    }
    let earlier = &parts[..N - 1];
    let events = lab.events_after(earlier);
    for (i, c) in earlier.iter().enumerate() {
        assert_eq!(events[c].len(), 1);
        assert_eq!(
            (events[c][0].event_type, events[c][0].path.as_str()),
            (EventType::NodeCreated, "/barrier/ready")
        );
        phase[i] = Phase::Inside;
    }
    // Leave: delete our node, then wait until no member is left.
    for i in 0..N {
        lab.delete(parts[i], &format!("/barrier/p{i}"), -1).unwrap();
        phase[i] = Phase::Leaving;
        if members(&mut lab, parts[i], true).is_empty() {
            phase[i] = Phase::Left;
        }
        // Those still waiting hear of each departure and look again.
        let expected: Vec<ClientId> = (0..i).map(|j| parts[j]).collect();
        let events = lab.events_after(&expected);
        assert_eq!(events.keys().copied().collect::<Vec<_>>(), expected);
        for j in 0..i {
            assert_eq!(
                events[&parts[j]][0].event_type,
                EventType::NodeChildrenChanged
            );
            if members(&mut lab, parts[j], true).is_empty() {
                phase[j] = Phase::Left;
            }
        }
        let left = phase.iter().filter(|p| **p == Phase::Left).count();
        if i + 1 < N {
            assert_eq!(left, 0, "{} left the barrier: nobody is out yet", i + 1);
        }
    }
    assert!(phase.iter().all(|p| *p == Phase::Left), "{phase:?}");
    lab.assert_replicas_agree();
}

#[test]
fn group_members_notice_a_crashed_member_once_its_session_expires() {
    let mut lab = Lab::new(5, 403);
    let admin = lab.connect(lab.leader());
    lab.create(admin, "/group", b"", PERSISTENT).unwrap();
    let members: Vec<ClientId> = (1..=5).map(|s| lab.connect(s)).collect();
    for (i, m) in members.iter().enumerate() {
        lab.create(*m, &format!("/group/m{i}"), b"", EPHEMERAL)
            .unwrap();
    }
    lab.run_for(SETTLE_MS);
    for m in &members {
        assert_eq!(lab.children(*m, "/group", true).unwrap().len(), 5);
    }
    // Member 2's process dies.
    lab.clients.crash(&mut lab.cluster, members[2]);
    let crashed_at = lab.cluster.now();
    let others: Vec<ClientId> = members
        .iter()
        .copied()
        .filter(|m| *m != members[2])
        .collect();
    lab.run_for(TIMEOUT_MS as u64 / 2);
    assert!(lab.take_all_events().is_empty(), "too early to notice");
    assert!(lab
        .children(others[0], "/group", false)
        .unwrap()
        .contains(&"m2".to_string()));
    let events = lab.events_after(&others);
    assert!(lab.cluster.now().saturating_sub(crashed_at) >= TIMEOUT_MS as u64 - 200);
    assert_eq!(events.keys().copied().collect::<Vec<_>>(), others);
    for m in &others {
        assert_eq!(events[m].len(), 1);
        assert_eq!(
            (events[m][0].event_type, events[m][0].path.as_str()),
            (EventType::NodeChildrenChanged, "/group")
        );
        let now = lab.children(*m, "/group", true).unwrap();
        assert_eq!(now, vec!["m0", "m1", "m3", "m4"], "member {m}'s view");
    }
    // A graceful leave (closeSession) is noticed at once, not after a timeout.
    let closed_at = lab.cluster.now();
    let tag = lab.submit(members[4], zablab_core::tree::WriteOp::CloseSession);
    let watchers: Vec<ClientId> = others
        .iter()
        .copied()
        .filter(|m| *m != members[4])
        .collect();
    let mut events = lab.events_after(&watchers);
    events.remove(&members[4]);
    assert!(matches!(
        lab.cluster.request(tag),
        Some(ClientResult::Replied { outcome: Ok(_), .. })
    ));
    lab.clients.crash(&mut lab.cluster, members[4]);
    assert!(lab.cluster.now().saturating_sub(closed_at) < TIMEOUT_MS as u64);
    assert_eq!(events.keys().copied().collect::<Vec<_>>(), watchers);
    for m in &watchers {
        assert_eq!(
            lab.children(*m, "/group", false).unwrap(),
            vec!["m0", "m1", "m3"]
        );
    }
    lab.assert_replicas_agree();
}
