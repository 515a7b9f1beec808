//! Random fault sweep over the simulator.
//!
//! `cargo run --release -p zablab-core --example sweep -- --seeds N [--from S] [--servers 3..7]`
//! runs seeds S..S+N on every core and prints `N seeds, V violations` last. On the first
//! violation it prints the command that reproduces it. `--seed S` runs one seed and prints
//! its report (and the violation, if any). `--tree` runs the data-tree sweep
//! ([`zablab_core::sim::sweep_tree`]: sessions, ephemerals, sequential nodes, multi) instead
//! of the chain machine's.

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use zablab_core::sim::invariants::Violation;
use zablab_core::sim::sweep::{reproduce_command, run_seed, SweepParams};
use zablab_core::sim::sweep_tree;

struct Args {
    seeds: u64,
    from: u64,
    single: Option<u64>,
    servers: Option<(u64, u64)>,
    tree: bool,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        seeds: 100,
        from: 0,
        single: None,
        servers: None,
        tree: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        let num = |s: String| s.parse::<u64>().map_err(|_| format!("not a number: {s}"));
        match flag.as_str() {
            "--seeds" => args.seeds = num(value()?)?,
            "--from" => args.from = num(value()?)?,
            "--seed" => args.single = Some(num(value()?)?),
            "--tree" => args.tree = true,
            "--servers" => {
                let v = value()?;
                args.servers = Some(match v.split_once("..") {
                    Some((lo, hi)) => (num(lo.into())?, num(hi.trim_start_matches('=').into())?),
                    None => {
                        let n = num(v)?;
                        (n, n)
                    }
                });
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

fn params_for(servers: Option<(u64, u64)>, seed: u64) -> SweepParams {
    let servers = servers.map(|(lo, hi)| {
        if hi <= lo {
            lo
        } else {
            lo + seed % (hi - lo + 1)
        }
    });
    SweepParams {
        servers,
        ..SweepParams::default()
    }
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("sweep: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(seed) = args.single {
        let params = params_for(args.servers, seed);
        let violation = if args.tree {
            let r = sweep_tree::run_seed(params, seed);
            println!(
                "seed {seed}: {} servers + {} observers, {} deliveries, {} acked writes, {} sessions ({} moves), {} multis ({} failed), {} zxids compared, trace hash {:016x}",
                r.servers, r.observers, r.deliveries, r.acked_writes, r.sessions, r.session_moves, r.multis, r.failed_multis, r.compared_zxids, r.trace_hash
            );
            r.violation
        } else {
            let r = run_seed(params, seed);
            println!(
                "seed {seed}: {} servers + {} observers, {} deliveries, {} acked writes, trace hash {:016x}",
                r.servers, r.observers, r.deliveries, r.acked_writes, r.trace_hash
            );
            r.violation
        };
        return match violation {
            Some(v) => {
                println!("VIOLATION: {v}");
                println!("1 seeds, 1 violations");
                ExitCode::FAILURE
            }
            None => {
                println!("1 seeds, 0 violations");
                ExitCode::SUCCESS
            }
        };
    }
    let next = AtomicU64::new(args.from);
    let end = args.from + args.seeds;
    let violations = AtomicU64::new(0);
    let first: Mutex<Option<(u64, Violation, SweepParams)>> = Mutex::new(None);
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let seed = next.fetch_add(1, Ordering::Relaxed);
                if seed >= end {
                    break;
                }
                let params = params_for(args.servers, seed);
                let violation = if args.tree {
                    sweep_tree::run_seed(params, seed).violation
                } else {
                    run_seed(params, seed).violation
                };
                if let Some(v) = violation {
                    violations.fetch_add(1, Ordering::Relaxed);
                    let mut f = first.lock().unwrap_or_else(|e| e.into_inner());
                    if f.as_ref().is_none_or(|(s, _, _)| *s > seed) {
                        *f = Some((seed, v, params));
                    }
                }
            });
        }
    });
    let v = violations.load(Ordering::Relaxed);
    if let Some((seed, violation, params)) = first.into_inner().unwrap_or_else(|e| e.into_inner()) {
        println!("seed {seed}: {violation}");
        let command = if args.tree {
            sweep_tree::reproduce_command(seed, &params)
        } else {
            reproduce_command(seed, &params)
        };
        println!("reproduce: {command}");
    }
    println!("{} seeds, {v} violations", args.seeds);
    if v == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
