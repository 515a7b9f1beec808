//! The data tree replicated by the simulated ensemble: sessions, ephemerals and watches seen
//! through simulated clients.

use zablab_core::sim::zk::{ZkClients, ZkCluster};
use zablab_core::sim::{Action, SimConfig};
use zablab_core::tree::{CreateRequest, ErrorCode, EventType, ReadRequest, WriteOp};
use zablab_core::{Instant, StateMachine};

fn create(path: &str, data: &[u8], flags: i32) -> WriteOp {
    WriteOp::Create(CreateRequest {
        path: path.into(),
        data: Some(data.to_vec()),
        acl: zablab_core::tree::acl::open_acl_unsafe(),
        flags,
    })
}

fn stable(cluster: &mut ZkCluster) -> u64 {
    let limit = cluster.now() + 10_000;
    assert!(cluster.run_until_pred(limit, |c| c.is_stable()));
    cluster.leader().unwrap()
}

#[test]
fn an_ephemeral_node_disappears_on_every_replica_when_its_session_expires() {
    let mut cluster = ZkCluster::new(SimConfig::default(), 8);
    let leader = stable(&mut cluster);
    let follower = (1..=3).find(|s| *s != leader).unwrap();
    let mut clients = ZkClients::new();
    let owner = clients.connect(&mut cluster, follower, 1000).unwrap();
    let watcher = clients.connect(&mut cluster, leader, 4000).unwrap();
    clients
        .write(&mut cluster, owner, create("/master", b"owner", 1))
        .unwrap();
    let seen = clients.read(
        &mut cluster,
        watcher,
        &ReadRequest::Exists {
            path: "/master".into(),
            watch: true,
        },
    );
    assert!(seen.is_ok());
    clients.crash(&mut cluster, owner);
    clients.run_for(&mut cluster, 10_000);
    for sid in 1..=3 {
        let tree = cluster.peer(sid).unwrap().machine();
        assert_eq!(
            tree.exists(&[], "/master"),
            Err(ErrorCode::NoNode),
            "server {sid}"
        );
    }
    let events = clients.take_events(watcher);
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].event_type, events[0].path.as_str()),
        (EventType::NodeDeleted, "/master")
    );
    let digests: Vec<u64> = (1..=3)
        .map(|s| cluster.peer(s).unwrap().machine().digest())
        .collect();
    assert!(digests.windows(2).all(|w| w[0] == w[1]));
    assert!(cluster.violation().is_none(), "{:?}", cluster.violation());
}

#[test]
fn a_session_moves_to_another_server_and_keeps_its_ephemerals() {
    let mut cluster = ZkCluster::new(SimConfig::default(), 9);
    let leader = stable(&mut cluster);
    let others: Vec<u64> = (1..=3).filter(|s| *s != leader).collect();
    let mut clients = ZkClients::new();
    let c = clients.connect(&mut cluster, others[0], 2000).unwrap();
    clients
        .write(&mut cluster, c, create("/e", b"", 1))
        .unwrap();
    cluster.act(Action::Crash(others[0]));
    clients.move_to(&mut cluster, c, others[1]).unwrap();
    clients.run_for(&mut cluster, 8_000);
    let tree = cluster.peer(leader).unwrap().machine();
    assert!(
        tree.exists(&[], "/e").is_ok(),
        "the moved session kept its ephemeral"
    );
    let _ = Instant(0);
}
