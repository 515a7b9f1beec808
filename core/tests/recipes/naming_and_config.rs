//! Globally unique ids from sequential nodes, and configuration publish/subscribe with
//! one-shot data watches that subscribers re-register (ZooKeeper programmer's guide, "Naming
//! service" and "Configuration management").

use std::collections::BTreeSet;

use zablab_core::sim::zk::{created_path, ClientId};
use zablab_core::tree::EventType;

use crate::support::*;

#[test]
fn sequential_nodes_give_unique_increasing_ids_to_clients_on_every_server() {
    let mut lab = Lab::new(5, 301);
    let admin = lab.connect(lab.leader());
    lab.create(admin, "/ids", b"", PERSISTENT).unwrap();
    let clients: Vec<ClientId> = (1..=5).map(|s| lab.connect(s)).collect();
    const PER_CLIENT: usize = 10;
    // Fifty requests in flight at once, interleaved across the five servers.
    let mut tags = Vec::new();
    for _ in 0..PER_CLIENT {
        for c in &clients {
            tags.push((
                *c,
                lab.submit(*c, create_op("/ids/id-", b"", PERSISTENT_SEQUENTIAL)),
            ));
        }
    }
    let outcomes = lab.await_replies(&tags.iter().map(|(_, t)| *t).collect::<Vec<_>>());
    let mut all = BTreeSet::new();
    for c in &clients {
        let ids: Vec<u32> = tags
            .iter()
            .zip(&outcomes)
            .filter(|((owner, _), _)| owner == c)
            .map(|(_, o)| seq_of(created_path(o).expect("create succeeded")))
            .collect();
        assert_eq!(ids.len(), PER_CLIENT);
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "client {c}'s ids increase in the order it asked: {ids:?}"
        );
        for id in ids {
            assert!(all.insert(id), "id {id} handed out twice");
        }
    }
    let expected: BTreeSet<u32> = (0..(PER_CLIENT * clients.len()) as u32).collect();
    assert_eq!(
        all, expected,
        "the ids are exactly the parent's counter values"
    );
    lab.assert_replicas_agree();
    for s in 1..=5 {
        let tree = lab.cluster.peer(s).unwrap().machine();
        let (children, _) = tree.get_children(&[], "/ids").unwrap();
        assert_eq!(children.len(), PER_CLIENT * clients.len(), "server {s}");
    }
}

/// A subscriber's loop body: read the config, re-registering the data watch.
fn read_config(lab: &mut Lab, id: ClientId) -> u32 {
    let (data, _) = lab.get_data(id, "/config", true).unwrap();
    String::from_utf8(data).unwrap().parse().unwrap()
}

#[test]
fn config_subscribers_on_every_server_see_each_update_and_always_end_on_the_latest() {
    let mut lab = Lab::new(5, 302);
    let publisher = lab.connect(1);
    lab.create(publisher, "/config", b"0", PERSISTENT).unwrap();
    let subscribers: Vec<ClientId> = (1..=5).map(|s| lab.connect(s)).collect();
    let mut seen: Vec<Vec<u32>> = subscribers
        .iter()
        .map(|s| vec![read_config(&mut lab, *s)])
        .collect();
    // Slow updates: every subscriber hears each one once and reads it.
    for v in 1..=5u32 {
        lab.set_data(publisher, "/config", v.to_string().as_bytes(), -1)
            .unwrap();
        let events = lab.events_after(&subscribers);
        assert_eq!(events.len(), subscribers.len(), "only the subscribers");
        for (i, s) in subscribers.iter().enumerate() {
            assert_eq!(
                events[s].len(),
                1,
                "update {v}: one event for subscriber {s}"
            );
            assert_eq!(
                (events[s][0].event_type, events[s][0].path.as_str()),
                (EventType::NodeDataChanged, "/config")
            );
            seen[i].push(read_config(&mut lab, *s));
        }
    }
    for (i, s) in seen.iter().enumerate() {
        assert_eq!(s, &(0..=5).collect::<Vec<_>>(), "subscriber {i}");
    }
    // A burst: a one-shot watch fires once, so subscribers may skip versions, but never
    // see them out of order and always end on the latest.
    let tags: Vec<_> = (6..=10u32)
        .map(|v| {
            lab.submit(
                publisher,
                set_data_op("/config", v.to_string().as_bytes(), -1),
            )
        })
        .collect();
    for o in lab.await_replies(&tags) {
        o.unwrap();
    }
    let events = lab.events_after(&subscribers);
    for (i, s) in subscribers.iter().enumerate() {
        assert_eq!(events[s].len(), 1, "one event per registered watch");
        seen[i].push(read_config(&mut lab, *s));
        assert!(seen[i].windows(2).all(|w| w[0] < w[1]), "{:?}", seen[i]);
        assert_eq!(seen[i].last(), Some(&10));
    }
    lab.assert_replicas_agree();
}
