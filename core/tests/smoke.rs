use zablab_core::machine::ChainMachine;
use zablab_core::sim::{Action, ClientResult, Cluster, SimConfig};
use zablab_core::Instant;

#[test]
fn three_servers_elect_one_leader_and_commit_writes() {
    let mut c: Cluster<ChainMachine> = Cluster::new(SimConfig::default(), 1);
    assert!(
        c.run_until_pred(Instant(10_000), |c| c.is_stable()),
        "no stable leader"
    );
    let leader = c.leader().unwrap();
    let tag = c
        .act(Action::Write {
            server: leader,
            txn: 7,
        })
        .unwrap();
    c.run_for(1000);
    assert!(
        matches!(c.request(tag), Some(ClientResult::Replied { .. })),
        "{:?}",
        c.request(tag)
    );
    assert!(c.violation().is_none(), "{:?}", c.violation());
}
