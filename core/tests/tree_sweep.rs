//! The fault sweep with the ZooKeeper data tree as the replicated state machine
//! (`sim::sweep_tree`): sessions, ephemerals, sequential nodes, versioned setData and multi
//! under crashes, partitions and lossy links. Each failing seed prints the command that
//! reproduces it.

use zablab_core::sim::sweep::SweepParams;
use zablab_core::sim::sweep_tree::{reproduce_command, run_seed};

#[test]
fn the_same_tree_sweep_seed_gives_the_same_trace_twice() {
    for seed in [3, 77] {
        println!("tree sweep seed {seed}");
        let a = run_seed(SweepParams::default(), seed);
        let b = run_seed(SweepParams::default(), seed);
        assert_eq!(
            a.trace_hash, b.trace_hash,
            "seed {seed} is not deterministic"
        );
        assert_eq!(a.acked_writes, b.acked_writes);
    }
}

#[test]
fn three_hundred_tree_sweep_seeds_keep_every_invariant_and_replicas_agree() {
    let params = SweepParams::default();
    let mut failures = Vec::new();
    let (mut acked, mut multis, mut failed_multis, mut compared) = (0, 0, 0, 0);
    let (mut sessions, mut moves) = (0, 0);
    for seed in 0..300 {
        let r = run_seed(params, seed);
        acked += r.acked_writes;
        multis += r.multis;
        failed_multis += r.failed_multis;
        compared += r.compared_zxids;
        sessions += r.sessions;
        moves += r.session_moves;
        if let Some(v) = r.violation {
            failures.push(format!(
                "seed {seed}: {v}\n  reproduce: {}",
                reproduce_command(seed, &params)
            ));
        }
    }
    println!(
        "300 tree seeds: {acked} acked writes, {sessions} sessions ({moves} moves), {multis} multis ({failed_multis} failed), {compared} zxids compared across replicas"
    );
    assert!(
        failures.is_empty(),
        "{} seeds violated invariants:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The workload must really exercise what the invariants check.
    assert!(acked > 20_000, "acked writes: {acked}");
    assert!(
        failed_multis > 500 && multis - failed_multis > 500,
        "{multis} multis, {failed_multis} failed"
    );
    assert!(compared > 20_000, "zxids compared: {compared}");
    assert!(
        sessions > 2_000 && moves > 500,
        "{sessions} sessions, {moves} moves"
    );
}
