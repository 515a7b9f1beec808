//! Simulator throughput: a 5-server cluster under a steady write workload (64 writes in flight
//! from clients spread over all servers), no faults. Prints message deliveries per second of
//! wall time, with the invariant checker off and then on; the last line is
//! `deliveries/s: X` (checker off, trace hashed but not kept).
//!
//! `cargo run --release -p zablab-core --example sim_bench [-- --secs 3]`

use std::time::Instant as WallClock;

use zablab_core::machine::ChainMachine;
use zablab_core::sim::{Action, ClientResult, Cluster, SimConfig};
use zablab_core::Instant;

fn run(secs: f64, check: bool) -> (u64, u64, f64) {
    let config = SimConfig {
        participants: 5,
        snap_count: 10_000,
        ..SimConfig::default()
    };
    let mut c: Cluster<ChainMachine> = Cluster::for_benchmark(config, 42, check);
    assert!(
        c.run_until_pred(Instant(20_000), |c| c.is_stable()),
        "no leader"
    );
    let servers: Vec<u64> = (1..=5).collect();
    let mut next_id = 0u64;
    let mut inflight: Vec<u64> = Vec::new();
    let start = WallClock::now();
    let d0 = c.deliveries();
    let mut writes = 0u64;
    loop {
        inflight.retain(|tag| matches!(c.request(*tag), Some(ClientResult::Pending)));
        while inflight.len() < 64 {
            next_id += 1;
            let server = servers[(next_id % 5) as usize];
            if let Some(tag) = c.act(Action::Write {
                server,
                txn: next_id,
            }) {
                inflight.push(tag);
                writes += 1;
            }
        }
        for _ in 0..2000 {
            c.step();
        }
        if start.elapsed().as_secs_f64() >= secs {
            break;
        }
    }
    assert!(c.violation().is_none(), "{:?}", c.violation());
    let elapsed = start.elapsed().as_secs_f64();
    (c.deliveries() - d0, writes, elapsed)
}

fn main() {
    let mut secs = 3.0;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--secs" {
            secs = args.next().and_then(|s| s.parse().ok()).unwrap_or(secs);
        }
    }
    let (d, w, t) = run(secs, true);
    println!(
        "with invariant checks: {} deliveries, {} writes in {:.2} s: {:.0} deliveries/s",
        d,
        w,
        t,
        d as f64 / t
    );
    let (d, w, t) = run(secs, false);
    println!(
        "without checks:        {} deliveries, {} writes in {:.2} s: {:.0} deliveries/s",
        d,
        w,
        t,
        d as f64 / t
    );
    println!("deliveries/s: {:.0}", d as f64 / t);
}
