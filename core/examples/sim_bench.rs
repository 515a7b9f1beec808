//! Simulator throughput: a 5-server cluster under a steady write workload (64 writes in flight
//! from clients spread over all servers), no faults. Prints message deliveries per second of
//! wall time, with the invariant checker off and then on; the last line is
//! `deliveries/s: X` (checker off, trace hashed but not kept).
//!
//! `cargo run --release -p zablab-core --example sim_bench [-- --secs 3]`

use std::time::Instant as WallClock;

use zablab_core::sim::bench::SteadyWrites;

fn run(secs: f64, check: bool) -> (u64, u64, f64) {
    let mut w = SteadyWrites::new(check).expect("the benchmark cluster elects a leader");
    let start = WallClock::now();
    let (d0, w0) = (w.deliveries(), w.writes);
    while start.elapsed().as_secs_f64() < secs {
        w.round();
    }
    assert!(
        w.cluster().violation().is_none(),
        "{:?}",
        w.cluster().violation()
    );
    (
        w.deliveries() - d0,
        w.writes - w0,
        start.elapsed().as_secs_f64(),
    )
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
