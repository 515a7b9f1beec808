//! Dynamic reconfiguration on the ZooKeeper data tree (docs/protocol.md §2.8, §2.9): the
//! reconfig transaction is a SetDataTxn (type 16) of `/zookeeper/config` holding the dynamic
//! config text, every replica reads the member list back from it, a follower forwards a
//! reconfig to its leader like any write (a refused one comes back as an ErrorTxn), and the
//! list survives a restart from the log and from a snapshot.

use zablab_core::config::LearnerType;
use zablab_core::reconfig::ReconfigRequest;
use zablab_core::sim::{Action, ClientResult, Cluster, HostEvent, SimConfig};
use zablab_core::tree::{DataTree, ErrorCode, WriteOutcome, WriteResponse};
use zablab_core::{TraceEvent, Zxid};

type TreeSim = Cluster<DataTree>;

const SPEC_100: &str = "0.0.0.0:1234:2345:observer;0.0.0.0:3456";
const SPEC_101: &str = "10.1.1.1:1:2:observer;10.1.1.1:2181";

fn cluster(participants: u64, snap_count: u64, seed: u64) -> TreeSim {
    let config = SimConfig {
        participants,
        observers: 0,
        snap_count,
        ..SimConfig::default()
    };
    let mut sim = TreeSim::new(config, seed);
    sim.set_reconfig_enabled(true);
    sim
}

fn stable(sim: &mut TreeSim) -> u64 {
    let limit = sim.now() + 10_000;
    assert!(
        sim.run_until_pred(limit, |s| s.is_stable()),
        "no stable leader"
    );
    sim.leader().expect("a leader")
}

fn add_observer(sid: u64, spec: &str) -> ReconfigRequest {
    ReconfigRequest {
        joining: vec![(sid, LearnerType::Observer)],
        specs: vec![(sid, spec.to_string())],
        auth: super_user(),
        ..Default::default()
    }
}

/// The ids of a connection authenticated as the super user: only it (or skipACL) may write
/// `/zookeeper/config`, the leader's last check.
fn super_user() -> Vec<(String, String)> {
    vec![("super".into(), "super".into())]
}

/// Sends `request` to `server` and runs until it is answered (5 s at most), then 1 s more so
/// the COMMITs reach every learner.
fn reconfig(
    sim: &mut TreeSim,
    server: u64,
    request: ReconfigRequest,
) -> ClientResult<WriteOutcome> {
    let tag = sim
        .act(Action::Reconfig { server, request })
        .expect("a reconfig gets a tag");
    let limit = sim.now() + 5_000;
    sim.run_until_pred(limit, |s| {
        !matches!(s.request(tag), Some(ClientResult::Pending))
    });
    sim.run_for(1_000);
    sim.request(tag).cloned().expect("request recorded")
}

/// The zxid of a reconfig that committed with a SetData response.
fn committed(result: ClientResult<WriteOutcome>) -> Zxid {
    match result {
        ClientResult::Replied {
            zxid,
            outcome: Ok(WriteResponse::SetData { .. }),
        } => zxid,
        other => panic!("reconfig not committed: {other:?}"),
    }
}

fn config_text(sim: &TreeSim, sid: u64) -> String {
    let tree = sim.peer(sid).expect("running").machine();
    let (data, _) = tree
        .get_data(&[], "/zookeeper/config")
        .expect("the config node is readable");
    String::from_utf8(data.expect("config data")).expect("utf-8")
}

fn refusals(sim: &TreeSim, sid: u64) -> Vec<i32> {
    sim.trace()
        .records()
        .iter()
        .filter(|r| r.node == sid)
        .filter_map(|r| match &r.event {
            HostEvent::Peer(TraceEvent::ReconfigRefused { err }) => Some(*err),
            _ => None,
        })
        .collect()
}

fn assert_no_violation(sim: &TreeSim) {
    if let Some(v) = sim.violation() {
        panic!("invariant violated: {v}");
    }
}

#[test]
fn adding_and_removing_an_observer_rewrites_the_config_text_on_every_server() {
    let mut sim = cluster(3, 100_000, 11);
    let leader = stable(&mut sim);
    // (a) add observer 100 through the leader.
    let version = committed(reconfig(&mut sim, leader, add_observer(100, SPEC_100)));
    let line = format!("server.100={SPEC_100}");
    let last = format!("version={:x}", version.0);
    for sid in 1..=3 {
        let text = config_text(&sim, sid);
        assert!(text.lines().any(|l| l == line), "server {sid}: {text}");
        assert!(
            text.ends_with(&last),
            "server {sid} ends with {last}: {text:?}"
        );
        assert!(!text.ends_with('\n'));
        // The members without a spec anywhere get the placeholder, in sid order.
        assert!(
            text.starts_with("server.1=127.0.0.1:0:0:participant\nserver.2="),
            "server {sid}: {text}"
        );
        let (v, members) = sim.peer(sid).expect("running").active_config();
        assert_eq!(v, version, "server {sid}");
        assert_eq!(members.members.get(&100), Some(&LearnerType::Observer));
        assert_eq!(members.voters().collect::<Vec<_>>(), [1, 2, 3]);
    }
    // (c) fromConfig one past the current version: BadVersion (-103), nothing changes.
    let stale = ReconfigRequest {
        from_config: Some(Zxid(version.0 + 1)),
        leaving: vec![100],
        ..Default::default()
    };
    assert_eq!(reconfig(&mut sim, leader, stale), ClientResult::Failed);
    assert_eq!(refusals(&sim, leader), [ErrorCode::BadVersion.code()]);
    assert_eq!(ErrorCode::BadVersion.code(), -103);
    // Without the super user: NoAuth (-102), but only after every other check passed (the
    // stale request above had no auth either and was refused for its version).
    let anonymous = ReconfigRequest {
        auth: Vec::new(),
        ..add_observer(103, SPEC_100)
    };
    assert_eq!(reconfig(&mut sim, leader, anonymous), ClientResult::Failed);
    assert_eq!(
        refusals(&sim, leader),
        [ErrorCode::BadVersion.code(), ErrorCode::NoAuth.code()]
    );
    assert!(!config_text(&sim, leader).contains("server.103="));
    assert!(config_text(&sim, leader).contains(&line));
    // (b) remove 100 (fromConfig the current version, so that check passes too).
    let remove = ReconfigRequest {
        from_config: Some(version),
        leaving: vec![100],
        auth: super_user(),
        ..Default::default()
    };
    let removed = committed(reconfig(&mut sim, leader, remove));
    assert!(removed > version);
    for sid in 1..=3 {
        let text = config_text(&sim, sid);
        assert!(!text.contains("server.100="), "server {sid}: {text}");
        assert!(text.ends_with(&format!("version={:x}", removed.0)));
        assert_eq!(
            text.lines().count(),
            4,
            "three servers and the version: {text}"
        );
        let (v, members) = sim.peer(sid).expect("running").active_config();
        assert_eq!(v, removed);
        assert!(!members.is_member(100));
    }
    assert_no_violation(&sim);
}

#[test]
fn a_follower_forwards_a_reconfig_and_answers_a_refused_one_with_the_error_txn() {
    let mut sim = cluster(3, 100_000, 12);
    let leader = stable(&mut sim);
    let follower = (1..=3).find(|s| *s != leader).expect("a follower");
    let first = committed(reconfig(&mut sim, leader, add_observer(100, SPEC_100)));
    // (d) the same kind of add, sent to a follower: forwarded, answered there on commit.
    let tag = sim
        .act(Action::Reconfig {
            server: follower,
            request: add_observer(101, SPEC_101),
        })
        .expect("tag");
    let limit = sim.now() + 5_000;
    sim.run_until_pred(limit, |s| {
        !matches!(s.request(tag), Some(ClientResult::Pending))
    });
    sim.run_for(1_000);
    let request = sim.request(tag).expect("recorded");
    let version = committed(request.clone());
    assert!(version > first);
    assert!(
        sim.trace().records().iter().any(|r| r.node == follower
            && matches!(&r.event, HostEvent::Send { to, kind, .. } if *to == leader && kind == "REQUEST")),
        "the follower sent a REQUEST to its leader"
    );
    assert!(refusals(&sim, leader).is_empty());
    for sid in 1..=3 {
        let text = config_text(&sim, sid);
        // 100's spec came from the config text, 101's from the request.
        assert!(text.contains(&format!("server.100={SPEC_100}\n")), "{text}");
        assert!(text.contains(&format!("server.101={SPEC_101}\n")), "{text}");
        assert!(text.ends_with(&format!("version={:x}", version.0)));
        let (v, members) = sim.peer(sid).expect("running").active_config();
        assert_eq!(v, version);
        assert_eq!(members.members.get(&101), Some(&LearnerType::Observer));
    }
    // A forwarded reconfig with a wrong fromConfig: the leader proposes an ErrorTxn, and
    // the follower answers BadVersion (-103) when it commits.
    let bad = ReconfigRequest {
        from_config: Some(Zxid(version.0 + 1)),
        ..add_observer(102, SPEC_101)
    };
    match reconfig(&mut sim, follower, bad) {
        ClientResult::Replied {
            zxid,
            outcome: Err(err),
        } => {
            assert_eq!(err, ErrorCode::BadVersion);
            assert_eq!(err.code(), -103);
            assert!(zxid > version, "the ErrorTxn took a zxid");
        }
        other => panic!("the forwarded refusal was not answered: {other:?}"),
    }
    assert_eq!(refusals(&sim, leader), [-103]);
    for sid in 1..=3 {
        assert_eq!(sim.peer(sid).expect("running").active_config().0, version);
        assert!(!config_text(&sim, sid).contains("server.102="));
    }
    assert_no_violation(&sim);
}

/// (e) The new list survives a restart: rebuilt from the log (snapCount large) or from the
/// config text of a snapshot (snapCount 1, so the snapshot covers the reconfig).
#[test]
fn a_restarted_server_gets_the_new_list_back_from_its_log_or_its_snapshot() {
    for (snap_count, seed) in [(100_000, 13), (1, 14)] {
        let mut sim = cluster(3, snap_count, seed);
        let leader = stable(&mut sim);
        let version = committed(reconfig(&mut sim, leader, add_observer(100, SPEC_100)));
        let victim = (1..=3).find(|s| *s != leader).expect("a follower");
        let snapshot_zxid = sim.nodes()[&victim]
            .durable
            .snapshot
            .as_ref()
            .map(|(z, _)| *z);
        if snap_count == 1 {
            assert!(
                snapshot_zxid.is_some_and(|z| z >= version),
                "the snapshot covers the reconfig: {snapshot_zxid:?}"
            );
            assert!(
                sim.nodes()[&victim]
                    .durable
                    .log
                    .iter()
                    .all(|e| e.zxid > version),
                "the reconfig is not in the log, only in the snapshot"
            );
        } else {
            assert_eq!(
                snapshot_zxid, None,
                "no snapshot: the log holds the reconfig"
            );
        }
        sim.act(Action::Crash(victim));
        sim.run_for(500);
        sim.act(Action::Restart(victim));
        {
            let peer = sim.peer(victim).expect("restarted");
            let (v, pending) = peer.pending_config().expect("the applied list is pending");
            assert_eq!(*v, version, "snap_count {snap_count}");
            assert_eq!(pending.members.get(&100), Some(&LearnerType::Observer));
        }
        stable(&mut sim);
        let peer = sim.peer(victim).expect("running");
        let (v, members) = peer.active_config();
        assert_eq!(v, version, "snap_count {snap_count}");
        assert_eq!(members.members.get(&100), Some(&LearnerType::Observer));
        assert!(peer.pending_config().is_none());
        assert!(config_text(&sim, victim).contains(&format!("server.100={SPEC_100}")));
        assert_no_violation(&sim);
    }
}
