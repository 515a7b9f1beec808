//! Clients keep writing to the data tree while the leader is crashed and restarted again and
//! again: creates, setData, multis that succeed and multis that fail, ephemerals. Clients of
//! a crashed server move their sessions elsewhere. At the end every replica holds the same
//! tree (digest and snapshot bytes), no invariant broke, and every acknowledged write's
//! effect is there.

use std::collections::BTreeMap;

use zablab_core::sim::invariants::liveness;
use zablab_core::sim::sweep_tree::tree_contains;
use zablab_core::sim::zk::{ClientId, ZkClients, ZkCluster};
use zablab_core::sim::{Action, ClientResult, SimConfig};
use zablab_core::tree::{
    acl, CreateRequest, DeleteRequest, OpResult, Request, SetDataRequest, WriteOp, WriteResponse,
};
use zablab_core::{RequestTag, Sid, StateMachine};

fn create(path: &str, data: &[u8], flags: i32) -> WriteOp {
    WriteOp::Create(CreateRequest {
        path: path.into(),
        data: Some(data.to_vec()),
        acl: acl::open_acl_unsafe(),
        flags,
    })
}

fn set_data(path: &str, data: &[u8]) -> WriteOp {
    WriteOp::SetData(SetDataRequest {
        path: path.into(),
        data: Some(data.to_vec()),
        version: -1,
    })
}

/// What an acknowledged request must have left in the tree.
#[derive(Debug)]
enum Expect {
    /// This node exists (a create, or a multi that succeeded).
    Exists(String),
    /// A multi that must have failed atomically: this node of it does not exist.
    Absent(String),
    /// Client `.0`'s counter holds at least round `.1`.
    CounterAtLeast(usize, u32),
    /// An ephemeral that exists as long as client `.0`'s session does.
    Ephemeral(usize, String),
}

/// Runs the ensemble (pumping clients) until `done` or 20 s of virtual time.
fn run_until(
    cluster: &mut ZkCluster,
    clients: &mut ZkClients,
    mut done: impl FnMut(&ZkCluster) -> bool,
) -> bool {
    for _ in 0..1000 {
        if done(cluster) {
            return true;
        }
        clients.run_for(cluster, 20);
    }
    done(cluster)
}

/// Moves every client whose server is down to a serving server.
fn reconnect(cluster: &mut ZkCluster, clients: &mut ZkClients, ids: &[ClientId], seed: u64) {
    for id in ids {
        let server = clients.get(*id).unwrap().server;
        if cluster.peer(server).is_some() {
            continue;
        }
        let mut ok = false;
        for _ in 0..500 {
            let targets: Vec<Sid> = cluster
                .nodes()
                .iter()
                .filter(|(_, n)| n.peer.as_ref().is_some_and(|p| p.is_serving()))
                .map(|(s, _)| *s)
                .collect();
            if let Some(t) = targets.first() {
                if clients.move_to(cluster, *id, *t).is_ok() {
                    ok = true;
                    break;
                }
            }
            clients.run_for(cluster, 20);
        }
        assert!(ok, "seed {seed}: client {id} found no server to move to");
    }
}

fn writes_through_leader_crashes(servers: u64, seed: u64) {
    println!("seed {seed}, {servers} servers");
    let config = SimConfig {
        participants: servers,
        ..SimConfig::default()
    };
    let mut cluster = ZkCluster::new(config, seed);
    cluster.set_write_check(tree_contains);
    let mut clients = ZkClients::new();
    assert!(run_until(&mut cluster, &mut clients, |c| c.is_stable()));
    let ids: Vec<ClientId> = (1..=servers)
        .map(|s| clients.connect(&mut cluster, s, 4000).unwrap())
        .collect();
    for dir in ["/keep", "/cnt", "/eph"] {
        clients
            .write(&mut cluster, ids[0], create(dir, b"", 0))
            .unwrap();
    }
    for i in 0..ids.len() {
        let path = format!("/cnt/c{i}");
        clients
            .write(&mut cluster, ids[0], create(&path, b"0", 0))
            .unwrap();
    }
    let mut sent: Vec<(RequestTag, Expect)> = Vec::new();
    let mut leaders = Vec::new();
    for round in 1..=8u32 {
        for (i, id) in ids.iter().enumerate() {
            let mut submit = |op: WriteOp, e: Expect| {
                if let Some(tag) = clients.submit(&mut cluster, *id, op) {
                    sent.push((tag, e));
                }
            };
            let keep = format!("/keep/r{round}-c{i}");
            submit(create(&keep, b"", 0), Expect::Exists(keep));
            let counter = format!("/cnt/c{i}");
            let value = round.to_string();
            submit(
                set_data(&counter, value.as_bytes()),
                Expect::CounterAtLeast(i, round),
            );
            let m = format!("/keep/m{round}-c{i}");
            let ok_multi = WriteOp::Multi(vec![
                create(&m, b"", 0),
                set_data(&counter, value.as_bytes()),
            ]);
            submit(ok_multi, Expect::Exists(m));
            let f = format!("/keep/f{round}-c{i}");
            let failing_multi = WriteOp::Multi(vec![
                create(&f, b"", 0),
                WriteOp::Delete(DeleteRequest {
                    path: "/keep/never".into(),
                    version: -1,
                }),
            ]);
            submit(failing_multi, Expect::Absent(f));
            let e = format!("/eph/r{round}-c{i}");
            submit(create(&e, b"", 1), Expect::Ephemeral(i, e));
        }
        // The leader dies 1 to 60 ms later, with none, some or all of them committed.
        clients.run_for(&mut cluster, [1, 4, 12, 60][round as usize % 4]);
        let leader = cluster.leader().expect("a leader before the crash");
        leaders.push((leader, cluster.peer(leader).unwrap().current_epoch()));
        cluster.act(Action::Crash(leader));
        assert!(
            run_until(&mut cluster, &mut clients, |c| c.leader().is_some()),
            "seed {seed}: no new leader after crashing {leader} in round {round}"
        );
        reconnect(&mut cluster, &mut clients, &ids, seed);
        cluster.act(Action::Restart(leader));
        clients.run_for(&mut cluster, 200);
    }
    let epochs: std::collections::BTreeSet<_> = leaders.iter().map(|(_, e)| *e).collect();
    assert_eq!(
        epochs.len(),
        leaders.len(),
        "each round had its own leader epoch"
    );

    let probe = Request::new(
        0x7e00_0000_0000_0001,
        0,
        Vec::new(),
        WriteOp::CreateSession { timeout_ms: 4000 },
    );
    if let Err(v) = liveness::converge(&mut cluster, probe, 60_000) {
        panic!("seed {seed}: {v}");
    }
    assert!(cluster.violation().is_none(), "{:?}", cluster.violation());

    let running: Vec<(Sid, &zablab_core::tree::DataTree)> = cluster
        .nodes()
        .iter()
        .filter_map(|(s, n)| n.peer.as_ref().map(|p| (*s, p.machine())))
        .collect();
    assert_eq!(running.len() as u64, servers);
    let bytes = running[0].1.to_snapshot().encode();
    for (sid, tree) in &running {
        assert_eq!(
            tree.digest(),
            running[0].1.digest(),
            "seed {seed}: server {sid}"
        );
        assert!(
            tree.to_snapshot().encode() == bytes,
            "seed {seed}: server {sid} snapshot"
        );
    }
    let mut acked = 0;
    let mut checked: BTreeMap<&str, usize> = BTreeMap::new();
    for (tag, expect) in &sent {
        let Some(ClientResult::Replied { outcome, .. }) = cluster.request(*tag) else {
            continue;
        };
        acked += 1;
        for (sid, tree) in &running {
            let here = |p: &str| tree.exists(&[], p).is_ok();
            match expect {
                Expect::Exists(p) => {
                    let ok = match outcome {
                        Ok(WriteResponse::Multi(r)) => {
                            !r.iter().any(|x| matches!(x, OpResult::Error(_)))
                        }
                        o => o.is_ok(),
                    };
                    assert!(ok, "seed {seed}: {p} answered {outcome:?}");
                    assert!(here(p), "seed {seed}: server {sid} lacks acknowledged {p}");
                    *checked.entry("exists").or_default() += 1;
                }
                Expect::Absent(p) => {
                    assert!(
                        matches!(outcome, Ok(WriteResponse::Multi(r)) if matches!(r[0], OpResult::Error(_))),
                        "seed {seed}: {outcome:?}"
                    );
                    assert!(
                        !here(p),
                        "seed {seed}: server {sid} holds {p} of a failed multi"
                    );
                    *checked.entry("absent").or_default() += 1;
                }
                Expect::CounterAtLeast(i, round) => {
                    let (data, _) = tree.get_data(&[], &format!("/cnt/c{i}")).unwrap();
                    let v: u32 = String::from_utf8(data.unwrap()).unwrap().parse().unwrap();
                    assert!(
                        v >= *round,
                        "seed {seed}: server {sid} counter {i} = {v} < {round}"
                    );
                    *checked.entry("counter").or_default() += 1;
                }
                Expect::Ephemeral(i, p) => {
                    let session = clients.get(ids[*i]).unwrap().session_id;
                    assert!(outcome.is_ok(), "seed {seed}: {p} answered {outcome:?}");
                    if tree.sessions().contains_key(&session) {
                        assert!(
                            here(p),
                            "seed {seed}: server {sid} lacks live ephemeral {p}"
                        );
                        *checked.entry("ephemeral").or_default() += 1;
                    }
                }
            }
        }
    }
    println!(
        "seed {seed}: {acked} of {} writes acknowledged, checks {checked:?}",
        sent.len()
    );
    assert!(
        acked > sent.len() / 4 && acked < sent.len(),
        "seed {seed}: the crashes hit writes in flight, yet many were acknowledged"
    );
    assert!(checked.get("absent").copied().unwrap_or(0) > 0);
    assert!(checked.get("ephemeral").copied().unwrap_or(0) > 0);
}

#[test]
fn three_servers_writing_through_eight_leader_crashes_end_with_identical_trees() {
    for seed in [11, 12, 13] {
        writes_through_leader_crashes(3, seed);
    }
}

#[test]
fn five_servers_writing_through_eight_leader_crashes_end_with_identical_trees() {
    for seed in [21, 22, 23] {
        writes_through_leader_crashes(5, seed);
    }
}
