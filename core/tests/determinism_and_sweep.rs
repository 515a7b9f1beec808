//! A run is a pure function of (config, seed, actions), and random fault schedules never
//! break an invariant. Each failing seed prints the command that reproduces it.

use zablab_core::sim::sweep::{reproduce_command, run_seed, SweepParams};

#[test]
fn the_same_seed_gives_the_same_trace_twice() {
    for seed in [1, 7, 42, 1234] {
        let a = run_seed(SweepParams::default(), seed);
        let b = run_seed(SweepParams::default(), seed);
        assert_eq!(
            a.trace_hash, b.trace_hash,
            "seed {seed} is not deterministic"
        );
        assert_eq!(a.deliveries, b.deliveries);
    }
    assert_ne!(
        run_seed(SweepParams::default(), 1).trace_hash,
        run_seed(SweepParams::default(), 2).trace_hash
    );
}

#[test]
fn a_thousand_random_fault_seeds_keep_every_invariant() {
    let params = SweepParams::default();
    let mut failures = Vec::new();
    let mut acked = 0;
    for seed in 0..1000 {
        let r = run_seed(params, seed);
        acked += r.acked_writes;
        if let Some(v) = r.violation {
            failures.push(format!(
                "seed {seed}: {v}\n  reproduce: {}",
                reproduce_command(seed, &params)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} seeds violated invariants:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        acked > 10_000,
        "the sweep should exercise many acknowledged writes, saw {acked}"
    );
}
