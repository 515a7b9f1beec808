//! Mutation check: every seeded protocol bug must be caught by the fault sweep.
//!
//! `cargo run --release -p zablab-core --features mutations --example mutations -- [--max N] [--only NAME]`
//!
//! For each [`Mutation`], runs sweep seeds 0, 1, 2, … with that one bug switched on (on every
//! core) until a seed violates an invariant or `--max` seeds (default 100,000) passed. Prints a
//! table — mutation, caught, seeds until caught, the invariant that caught it, the command
//! that reproduces it — and last `mutations: K/N caught`. Exits non-zero unless all are caught.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use zablab_core::mutation::{Mutation, Mutations};
use zablab_core::sim::sweep::{run_seed, SweepParams};

fn main() -> ExitCode {
    let mut max = 100_000u64;
    let mut only: Option<Mutation> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match (a.as_str(), args.next()) {
            ("--max", Some(v)) => max = v.parse().expect("--max takes a number"),
            ("--only", Some(v)) => {
                only = Some(Mutation::from_name(&v).unwrap_or_else(|| {
                    eprintln!("unknown mutation {v}");
                    std::process::exit(2)
                }))
            }
            (flag, _) => {
                eprintln!("usage: mutations [--max N] [--only NAME] (bad argument {flag})");
                return ExitCode::from(2);
            }
        }
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chosen: Vec<Mutation> = Mutation::ALL
        .into_iter()
        .filter(|m| only.is_none_or(|o| o == *m))
        .collect();
    println!("| mutation | caught | seeds until caught | invariant | reproduce |");
    println!("|---|---|---|---|---|");
    let mut caught = 0;
    let mut seeds_needed = Vec::new();
    let started = Instant::now();
    for m in &chosen {
        let params = SweepParams {
            mutations: Mutations::only(*m),
            // A reconfig bug needs reconfigs to show.
            reconfig: *m == zablab_core::mutation::Mutation::ReconfigNewQuorumOnly,
            ..SweepParams::default()
        };
        let next = AtomicU64::new(0);
        let found = AtomicBool::new(false);
        let first: Mutex<Option<(u64, String)>> = Mutex::new(None);
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| loop {
                    let seed = next.fetch_add(1, Ordering::Relaxed);
                    if seed >= max || found.load(Ordering::Relaxed) {
                        break;
                    }
                    if let Some(v) = run_seed(params, seed).violation {
                        found.store(true, Ordering::Relaxed);
                        let mut f = first.lock().unwrap_or_else(|e| e.into_inner());
                        if f.as_ref().is_none_or(|(s, _)| *s > seed) {
                            *f = Some((seed, v.invariant));
                        }
                    }
                });
            }
        });
        match first.into_inner().unwrap_or_else(|e| e.into_inner()) {
            Some((seed, invariant)) => {
                caught += 1;
                seeds_needed.push(seed + 1);
                let reconfig = if params.reconfig { " --reconfig" } else { "" };
                println!(
                    "| {} | yes | {} | {invariant} | `--example sweep -- --seed {seed} --mutation {}{reconfig}` |",
                    m.name(),
                    seed + 1,
                    m.name()
                );
            }
            None => println!("| {} | NO | > {max} | - | - |", m.name()),
        }
    }
    seeds_needed.sort_unstable();
    let median = seeds_needed
        .get(seeds_needed.len() / 2)
        .copied()
        .unwrap_or(0);
    println!(
        "median seeds until caught: {median}; {:.1} s on {threads} threads",
        started.elapsed().as_secs_f64()
    );
    println!("mutations: {caught}/{} caught", chosen.len());
    if caught == chosen.len() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
