//! `chaos`: a chaos run of the real `zablab server` with a linearizability check.
//!
//! ```text
//! cargo build --release -p zablab-node
//! cargo run --release -p zablab-node --example chaos -- [--servers 3] [--clients 5] [--secs 60]
//!     [--seed N] [--tick-time 500] [--ops-per-key 60] [--dir DIR]
//! cargo run --release -p zablab-node --example chaos -- --check DIR/history   # check a kept history again
//! ```
//!
//! Prints the faults as they happen, then the op counts, the faults by kind and each check's
//! verdict; keeps the servers' logs and the history (Jepsen EDN) in DIR; exits 1 on a
//! violation, 2 on bad arguments or when the run could not be carried out. See
//! `harness/mod.rs` for what each op is checked under.

mod harness;

use std::path::PathBuf;

fn main() {
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent()?.parent().map(|d| d.join("zablab")))
        .filter(|p| p.exists());
    let Some(exe) = exe else {
        eprintln!("zablab binary not found next to the example: run `cargo build --release -p zablab-node` first");
        std::process::exit(2);
    };
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(1);
    let mut o = harness::Options::new(exe, PathBuf::new());
    o.seed = seed;
    let mut dir = None;
    let mut check_only: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    let usage = "usage: chaos [--servers 3] [--clients 5] [--secs 60] [--seed N] [--tick-time 500] [--ops-per-key 60] [--dir DIR] | chaos --check HISTORY_DIR";
    while let Some(a) = args.next() {
        let mut num = |what: &str| -> u64 {
            match args.next().and_then(|v| v.parse().ok()) {
                Some(v) if v > 0 => v,
                _ => {
                    eprintln!("chaos: {what} needs a positive number\n{usage}");
                    std::process::exit(2);
                }
            }
        };
        match a.as_str() {
            "--servers" => o.servers = num("--servers"),
            "--clients" => o.clients = num("--clients"),
            "--secs" => o.secs = num("--secs"),
            "--seed" => o.seed = num("--seed"),
            "--tick-time" => o.tick_time_ms = num("--tick-time"),
            "--ops-per-key" => o.workload.ops_per_key = num("--ops-per-key"),
            "--dir" => dir = args.next().map(PathBuf::from),
            "--check" => check_only = args.next().map(PathBuf::from),
            _ => {
                eprintln!("chaos: unexpected argument `{a}`\n{usage}");
                std::process::exit(2);
            }
        }
    }
    o.dir = dir.unwrap_or_else(|| {
        std::env::temp_dir().join(format!(
            "zablab-chaos-{}-seed{}",
            std::process::id(),
            o.seed
        ))
    });
    if let Some(d) = check_only {
        std::process::exit(check_kept(&d));
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("chaos: cannot start the runtime: {e}");
            std::process::exit(2);
        }
    };
    let report = rt.block_on(harness::run(o.clone()));
    report.print(&o);
    if !report.violations().is_empty() {
        std::process::exit(1);
    }
    if !report.clean() {
        std::process::exit(2);
    }
}

/// `--check DIR`: checks a kept `registers.edn` again and prints each model's verdict.
fn check_kept(dir: &std::path::Path) -> i32 {
    let path = dir.join("registers.edn");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("chaos: {}: {e}", path.display());
            return 2;
        }
    };
    let events = match harness::history::parse_registers_edn(&text) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("chaos: {}: {e}", path.display());
            return 2;
        }
    };
    let mut code = 0;
    let t = std::time::Instant::now();
    let verdicts = harness::check::check_history(&events, 2, std::time::Duration::from_secs(30));
    for (m, v) in verdicts {
        println!(
            "{:<60} {} ({} keys)",
            m.name(),
            if v.bad_keys.is_empty() {
                "PASS".to_string()
            } else {
                format!(
                    "FAIL on keys {:?}",
                    v.bad_keys.iter().map(|b| b.0).collect::<Vec<_>>()
                )
            },
            v.keys,
        );
        if !v.bad_keys.is_empty() && m != harness::check::Model::AllLinearizable {
            code = 1;
        }
    }
    println!("checked in {:.1} s", t.elapsed().as_secs_f64());
    code
}
