//! Random fault sweep over the simulator.
//!
//! `cargo run --release -p zablab-core --example sweep -- --seeds N [--from S] [--servers 3..7]`
//! runs seeds S..S+N on every core and prints `N seeds, V violations` last, with seeds/s. On
//! the first violation it prints the seed's fault profile and the command that reproduces it.
//! `--seed S` runs one seed and prints its report (and the violation, if any); with `--trace`
//! it first prints the seed's trace up to the violation. A sweep prints every violating seed
//! to stderr as it finds it.
//! `--mutation NAME` (built with `--features mutations`) switches on a seeded protocol bug
//! (see `zablab_core::mutation`). `--tree` runs the data-tree sweep
//! ([`zablab_core::sim::sweep_tree`]: sessions, ephemerals, sequential nodes, multi) instead
//! of the chain machine's. `--reconfig` also asks the leader for reconfigs (role changes and
//! new member lists, `reconfigEnabled` on; [`zablab_core::sim::sweep::schedule_reconfigs`]).

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
    reconfig: bool,
    trace: bool,
    mutations: zablab_core::mutation::Mutations,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        seeds: 100,
        from: 0,
        single: None,
        servers: None,
        tree: false,
        reconfig: false,
        trace: false,
        mutations: zablab_core::mutation::Mutations::NONE,
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
            "--reconfig" => args.reconfig = true,
            "--trace" => args.trace = true,
            "--mutation" => {
                let v = value()?;
                let m = zablab_core::mutation::Mutation::from_name(&v)
                    .ok_or_else(|| format!("unknown mutation {v}"))?;
                if cfg!(not(feature = "mutations")) {
                    return Err("--mutation needs a build with --features mutations".into());
                }
                args.mutations.0 |= zablab_core::mutation::Mutations::only(m).0;
            }
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

fn params_for(
    servers: Option<(u64, u64)>,
    mutations: zablab_core::mutation::Mutations,
    reconfig: bool,
    seed: u64,
) -> SweepParams {
    let servers = servers.map(|(lo, hi)| {
        if hi <= lo {
            lo
        } else {
            lo + seed % (hi - lo + 1)
        }
    });
    SweepParams {
        servers,
        mutations,
        reconfig,
        ..SweepParams::default()
    }
}

/// Prints every trace record of the seed's run up to its first violation (the liveness
/// phase included), one per line, for reading a failure by hand.
fn print_trace(params: SweepParams, seed: u64) {
    let (mut cluster, _) = zablab_core::sim::sweep::seed_cluster(params, seed);
    let end = zablab_core::time::Instant(params.fault_ms);
    let _ = cluster.run_until_pred(end, |c| c.violation().is_some());
    if cluster.violation().is_none() {
        let probe = u64::MAX - seed;
        let _ = zablab_core::sim::invariants::liveness::converge(
            &mut cluster,
            probe,
            params.liveness_ms,
        );
    }
    for r in cluster.trace().records() {
        println!("{:>7} s{} {:?}", r.time.0, r.node, r.event);
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
        let params = params_for(args.servers, args.mutations, args.reconfig, seed);
        let violation = if args.tree {
            let r = sweep_tree::run_seed(params, seed);
            println!(
                "seed {seed}: {} servers + {} observers, {} deliveries, {} acked writes, {} sessions ({} moves), {} multis ({} failed), {} zxids compared, trace hash {:016x}",
                r.servers, r.observers, r.deliveries, r.acked_writes, r.sessions, r.session_moves, r.multis, r.failed_multis, r.compared_zxids, r.trace_hash
            );
            r.violation
        } else {
            if args.trace {
                print_trace(params, seed);
            }
            let r = run_seed(params, seed);
            println!(
                "seed {seed}: {} servers + {} observers, {} deliveries, {} acked writes, trace hash {:016x}",
                r.servers, r.observers, r.deliveries, r.acked_writes, r.trace_hash
            );
            println!("profile: {}", r.profile);
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
    let first: Mutex<Option<(u64, Violation, SweepParams, String)>> = Mutex::new(None);
    let started = std::time::Instant::now();
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
                let params = params_for(args.servers, args.mutations, args.reconfig, seed);
                let (violation, profile) = if args.tree {
                    (sweep_tree::run_seed(params, seed).violation, String::new())
                } else {
                    let r = run_seed(params, seed);
                    (r.violation, r.profile)
                };
                if let Some(v) = violation {
                    violations.fetch_add(1, Ordering::Relaxed);
                    eprintln!("seed {seed}: {v}");
                    let mut f = first.lock().unwrap_or_else(|e| e.into_inner());
                    if f.as_ref().is_none_or(|(s, _, _, _)| *s > seed) {
                        *f = Some((seed, v, params, profile));
                    }
                }
            });
        }
    });
    let v = violations.load(Ordering::Relaxed);
    let secs = started.elapsed().as_secs_f64();
    if let Some((seed, violation, params, profile)) =
        first.into_inner().unwrap_or_else(|e| e.into_inner())
    {
        println!("seed {seed}: {violation}");
        if !profile.is_empty() {
            println!("profile: {profile}");
        }
        let command = if args.tree {
            sweep_tree::reproduce_command(seed, &params)
        } else {
            reproduce_command(seed, &params)
        };
        println!("reproduce: {command}");
    }
    println!(
        "{:.0} seeds/s on {threads} threads ({secs:.1} s)",
        args.seeds as f64 / secs.max(1e-9)
    );
    println!("{} seeds, {v} violations", args.seeds);
    if v == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
