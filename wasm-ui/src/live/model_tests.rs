//! The live picture folded from hand-made records and from a simulated cluster's statuses.

use super::*;
use std::borrow::Cow;
use zablab_core::sim::{Cluster, SimConfig};
use zablab_core::trace::TraceHeader;
use zablab_core::tree::DataTree;
use zablab_core::Instant;

fn rec(time: u64, node: Sid, event: HostEvent) -> TraceRecord {
    TraceRecord {
        time: Instant(time),
        node,
        event,
    }
}

fn send(time: u64, from: Sid, to: Sid, kind: &'static str, zxid: u64) -> TraceRecord {
    rec(
        time,
        from,
        HostEvent::Send {
            to,
            msg_id: time,
            kind: Cow::Borrowed(kind),
            arrives: None,
            zxid: Some(Zxid(zxid)),
        },
    )
}

fn deliver(time: u64, at: Sid, from: Sid, kind: &'static str) -> TraceRecord {
    rec(
        time,
        at,
        HostEvent::Deliver {
            from,
            msg_id: None,
            kind: Cow::Borrowed(kind),
        },
    )
}

/// A simulated cluster's servers as a node's streams describe them: one Status each.
fn statuses_of_a_stable_cluster() -> (LiveModel, Sid) {
    let mut c: Cluster<DataTree> = Cluster::new(SimConfig::default(), 5);
    let limit = c.now() + 20_000;
    assert!(
        c.run_until_pred(limit, |c| c.is_stable()),
        "no stable leader"
    );
    let leader = c.leader().expect("stable");
    let mut m = LiveModel::new(true);
    for sid in c.ensemble().all() {
        let status = PeerStatus::of(c.peer(sid).expect("up"));
        m.connected(sid);
        m.apply(rec(c.now().0, sid, HostEvent::Status(Box::new(status))));
    }
    (m, leader)
}

#[test]
fn a_delivery_pairs_with_the_oldest_unpaired_send_of_its_kind_on_its_link() {
    let mut m = LiveModel::new(false);
    m.apply(send(10, 1, 2, "PROPOSAL", 1));
    m.apply(send(11, 1, 2, "PROPOSAL", 2));
    m.apply(send(12, 1, 3, "PROPOSAL", 1));
    m.apply(deliver(13, 2, 1, "PROPOSAL"));
    m.apply(deliver(14, 2, 1, "COMMIT"));
    let got: Vec<_> = m
        .messages()
        .map(|x| (x.to, x.zxid.map(|z| z.0), x.delivered))
        .collect();
    assert_eq!(
        got,
        vec![
            (2, Some(1), Some(13)),
            (2, Some(2), None),
            (3, Some(1), None)
        ],
        "the first PROPOSAL to S2 was delivered; a COMMIT never sent pairs with nothing"
    );
    // Drawn while they cross their lane, newest first, then gone.
    let drawn: Vec<u64> = m
        .in_flight(12 + MESSAGE_SHOW_MS / 2)
        .iter()
        .map(|(x, _)| x.sent)
        .collect();
    assert_eq!(drawn, vec![12, 11, 10]);
    assert!(m
        .in_flight(11 + MESSAGE_SHOW_MS + 1)
        .iter()
        .all(|(x, _)| x.sent == 12));
}

#[test]
fn a_message_the_receivers_fault_hook_drops_is_marked_lost_and_never_delivered() {
    let mut m = LiveModel::new(false);
    m.apply(send(10, 1, 2, "PING", 0));
    m.apply(rec(
        11,
        2,
        HostEvent::Drop {
            from: 1,
            to: 2,
            msg_id: None,
            kind: Cow::Borrowed("PING"),
            reason: Cow::Borrowed("cut"),
        },
    ));
    m.apply(deliver(12, 2, 1, "PING"));
    let only: Vec<_> = m.messages().collect();
    assert_eq!(only.len(), 1);
    assert_eq!(only[0].dropped.as_deref(), Some("cut"));
    assert_eq!(
        only[0].delivered, None,
        "the later delivery is another PING's"
    );
}

#[test]
fn the_statuses_of_a_simulated_cluster_show_its_one_leader_until_its_stream_closes() {
    let (mut m, leader) = statuses_of_a_stable_cluster();
    assert_eq!(m.leaders(), vec![leader]);
    let t = m.latest;
    m.disconnected(leader, t);
    assert_eq!(m.servers[&leader].state_name(), "DOWN");
    assert!(m.leaders().is_empty());
    // A follower that becomes LOOKING says so before its next status.
    let follower = *m
        .servers
        .keys()
        .find(|s| **s != leader)
        .expect("a follower");
    m.apply(rec(
        t + 1,
        follower,
        HostEvent::Peer(TraceEvent::StateChanged {
            from: zablab_core::PeerState::Following,
            to: zablab_core::PeerState::Looking,
        }),
    ));
    assert_eq!(m.servers[&follower].state_name(), "LOOKING");
    assert_eq!(m.events.back().map(|e| e.marker), Some(Marker::Election));
}

#[test]
fn a_benchmarks_writes_are_one_timeline_entry_per_server_and_the_clock_waits_for_the_slowest_stream(
) {
    let mut m = LiveModel::new(false);
    for sid in [1, 2] {
        m.connected(sid);
    }
    for i in 1..=300u64 {
        m.apply(rec(
            i,
            1,
            HostEvent::ClientReply {
                tag: i,
                zxid: Zxid((1 << 32) | i),
            },
        ));
    }
    m.apply(rec(5, 2, HostEvent::Started));
    m.apply(rec(
        301,
        1,
        HostEvent::ClientReply {
            tag: 301,
            zxid: Zxid((1 << 32) | 301),
        },
    ));
    let got: Vec<_> = m
        .events
        .iter()
        .map(|e| (e.node, e.marker, e.count))
        .collect();
    assert_eq!(
        got,
        vec![
            (1, Marker::Write, 300),
            (2, Marker::Life, 1),
            (1, Marker::Write, 1)
        ]
    );
    assert_eq!(m.latest, 301);
    assert_eq!(m.settled(), 5, "S2's stream has only reached 5");
}

#[test]
fn a_saved_session_reads_back_as_the_same_records_and_replays_to_the_same_picture() {
    let (mut m, leader) = statuses_of_a_stable_cluster();
    m.apply(send(m.latest + 1, leader, 2, "PROPOSAL", 7));
    let text = session_file(&m.recorded);
    let header: TraceHeader = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert!(header.is_readable() && header.node.is_none());
    let back = read_session(&text).expect("reads");
    assert_eq!(back, m.recorded);
    let replayed = m.replayed(&back);
    assert_eq!(replayed.leaders(), vec![leader]);
    assert_eq!(replayed.messages().count(), 1);
    assert!(
        replayed.recorded.is_empty(),
        "a replay does not record itself"
    );
    let old = text.replacen("\"version\":1", "\"version\":99", 1);
    assert!(read_session(&old).unwrap_err().contains("version 99"));
    assert!(read_session("{}\n").is_err());
}
