//! The status record a host puts in its trace ([`PeerStatus`]): what a reader that joins late
//! (the browser's live lab) draws a server from, so it must say what the peer's own accessors
//! say, for a leader, a follower and a LOOKING server.

use zablab_core::peer::TimerKind;
use zablab_core::sim::zk::ZkClients;
use zablab_core::sim::{Action, Cluster, SimConfig};
use zablab_core::trace::status::STATUS_LOG_ENTRIES;
use zablab_core::trace::PeerStatus;
use zablab_core::tree::{acl, CreateRequest, DataTree, WriteOp};
use zablab_core::zab::leader::HandlerStage;
use zablab_core::{PeerState, Sid};

fn stable(c: &mut Cluster<DataTree>) -> Sid {
    let limit = c.now() + 20_000;
    assert!(
        c.run_until_pred(limit, |c| c.is_stable()),
        "no stable leader"
    );
    c.leader().expect("stable")
}

fn create(path: &str) -> WriteOp {
    WriteOp::Create(CreateRequest {
        path: path.into(),
        data: Some(b"v".to_vec()),
        acl: acl::open_acl_unsafe(),
        flags: 0,
    })
}

#[test]
fn a_leaders_status_names_its_learners_their_sync_and_the_write_just_applied() {
    let mut c: Cluster<DataTree> = Cluster::new(SimConfig::default(), 11);
    let leader = stable(&mut c);
    let mut clients = ZkClients::new();
    let id = clients.connect(&mut c, leader, 10_000).expect("connects");
    clients
        .write(&mut c, id, create("/status"))
        .expect("created");
    let limit = c.now() + 2_000;
    c.run_until(limit);

    let peer = c.peer(leader).expect("leader up");
    let s = PeerStatus::of(peer);
    assert_eq!(s.state, PeerState::Leading);
    assert_eq!(s.leader, Some(leader));
    assert_eq!(s.last_processed_zxid, peer.last_processed_zxid());
    assert_eq!(s.last_logged_zxid, peer.last_logged_zxid());
    let newest = s.log.last().expect("a log entry");
    assert_eq!(newest.label, "create /status");
    assert!(newest.applied, "{newest:?}");
    assert_eq!(s.learners.len(), 2, "{:?}", s.learners);
    for l in &s.learners {
        assert_ne!(l.sid, leader);
        assert_eq!(l.stage, HandlerStage::Broadcast);
        assert!(l.sync.is_some(), "learner {} has no sync decision", l.sid);
    }
    assert!(
        s.timers.iter().any(|t| t.kind == TimerKind::QuorumCheck),
        "{:?}",
        s.timers
    );
    let window = s.committed_window.expect("a committed window");
    assert!(window.0 <= window.1 && window.1 == s.last_processed_zxid);

    for f in [1, 2, 3].into_iter().filter(|s| *s != leader) {
        let fs = PeerStatus::of(c.peer(f).expect("up"));
        assert_eq!(fs.state, PeerState::Following);
        assert_eq!(fs.leader, Some(leader));
        assert!(fs.learners.is_empty());
        assert_eq!(fs.log.last().map(|e| e.zxid), Some(newest.zxid));
    }
}

#[test]
fn a_looking_servers_status_has_its_vote_box_and_election_timers() {
    let mut c: Cluster<DataTree> = Cluster::new(SimConfig::default(), 12);
    let leader = stable(&mut c);
    // Take the two others down: the leader loses its quorum and looks alone.
    for s in [1, 2, 3].into_iter().filter(|s| *s != leader) {
        c.act(Action::Crash(s));
    }
    let limit = c.now() + 20_000;
    assert!(
        c.run_until_pred(limit, |c| c
            .peer(leader)
            .is_some_and(|p| p.state() == PeerState::Looking)),
        "the leader never gave up"
    );
    let limit = c.now() + 1_000;
    c.run_until(limit);
    let s = PeerStatus::of(c.peer(leader).expect("up"));
    assert_eq!(s.state, PeerState::Looking);
    assert!(s.learners.is_empty());
    assert!(
        s.timers
            .iter()
            .any(|t| t.kind == TimerKind::NotificationTimeout),
        "{:?}",
        s.timers
    );
    assert!(
        s.votes.iter().any(|v| v.from == leader && v.in_round),
        "{:?}",
        s.votes
    );
}

#[test]
fn a_status_holds_at_most_the_newest_log_entries() {
    let mut c: Cluster<DataTree> = Cluster::new(SimConfig::default(), 13);
    let leader = stable(&mut c);
    let mut clients = ZkClients::new();
    let id = clients.connect(&mut c, leader, 10_000).expect("connects");
    for i in 0..(STATUS_LOG_ENTRIES + 10) {
        clients
            .write(&mut c, id, create(&format!("/n{i}")))
            .expect("created");
    }
    let peer = c.peer(leader).expect("up");
    let s = PeerStatus::of(peer);
    assert_eq!(s.log.len(), STATUS_LOG_ENTRIES);
    assert_eq!(s.log_len, peer.log().len() as u64);
    assert_eq!(
        s.log.last().map(|e| e.zxid),
        peer.log().last().map(|e| e.zxid)
    );
}

#[cfg(feature = "serde")]
#[test]
fn a_status_record_survives_the_trace_serialization() {
    use zablab_core::trace::{HostEvent, TraceRecord};
    let mut c: Cluster<DataTree> = Cluster::new(SimConfig::default(), 14);
    let leader = stable(&mut c);
    let record = TraceRecord {
        time: c.now(),
        node: leader,
        event: HostEvent::Status(Box::new(PeerStatus::of(c.peer(leader).expect("up")))),
    };
    let line = serde_json::to_string(&record).expect("serializes");
    let back: TraceRecord = serde_json::from_str(&line).expect("parses");
    assert_eq!(back, record);
}
