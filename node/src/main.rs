//! `zablab`: the native ZabLab server and its tools.
//!
//! ```text
//! zablab server <zoo.cfg> [--trace-addr 127.0.0.1:PORT [--trace-wait MS]] [--fault-addr 127.0.0.1:PORT]
//! zablab cluster [--size 3] [--observers 0] [--dir DIR] [--base-port 2181] [--tick-time 2000] [--tls] [--stop-with-stdin] [--live] [--control 127.0.0.1:PORT]
//! zablab status [host:port,...]
//! zablab cli [-server host:port,...] [command args...]
//! zablab bench --hosts H[,H...] [--op create|set|get|mixed] [--sessions 1] [--rate N] [--json] ...
//! zablab bench-plot --points FILE --metrics ops|p50,p99,p999 --x-label LABEL [--svg OUT.svg] ...
//! ```

use std::path::PathBuf;

use zablab_core::tree::DataTree;
use zablab_node::config::NodeConfig;
use zablab_node::tools::cluster::{self, ClusterOptions};

const USAGE: &str = "usage:
  zablab server <zoo.cfg> [--trace-addr 127.0.0.1:PORT [--trace-wait MS]] [--fault-addr 127.0.0.1:PORT]
  zablab cluster [--size 3] [--observers 0] [--dir DIR] [--base-port 2181] [--tick-time 2000] [--tls] [--stop-with-stdin] [--live] [--control 127.0.0.1:PORT]
  zablab status [host:port,...]
  zablab lesson list | <name> [--lang zh] [--auto] | <name> --exercise <id>
  zablab cli [-server host:port,...] [-timeout ms] [-r] [command args...]
  zablab bench --hosts H[,H...] [--op create|set|get|mixed] [--read-ratio 0.9] [--sessions 1] [--inflight 64]
               [--rate OPS_PER_S] [--znodes N] [--secs 10] [--size 100] [--progress 10] [--json] [--keep]
  zablab bench-plot --points FILE --metrics ops|p50,p99,p999,max --x-label LABEL [--title TITLE]
               [--x-log] [--y-log] [--svg OUT.svg]";

fn usage_error(msg: &str) -> ! {
    eprintln!("zablab: {msg}\n{USAGE}");
    std::process::exit(2);
}

fn value<T: std::str::FromStr>(args: &mut impl Iterator<Item = String>, flag: &str) -> T {
    match args.next().map(|v| v.parse::<T>()) {
        Some(Ok(v)) => v,
        _ => usage_error(&format!("{flag} needs a valid value")),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("zablab: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let cmd = args.next().unwrap_or_default();
    match cmd.as_str() {
        "server" => {
            let mut cfg_path = None;
            let mut opts = zablab_node::server::runtime::ServerOptions::default();
            while let Some(a) = args.next() {
                match a.as_str() {
                    "--trace-addr" => {
                        opts.trace_addr = Some(value::<String>(&mut args, "--trace-addr"))
                    }
                    "--trace-wait" => opts.trace_wait_ms = value(&mut args, "--trace-wait"),
                    "--fault-addr" => {
                        opts.fault_addr = Some(value::<String>(&mut args, "--fault-addr"))
                    }
                    _ if cfg_path.is_none() && !a.starts_with("--") => {
                        cfg_path = Some(PathBuf::from(a))
                    }
                    _ => usage_error(&format!("unexpected argument `{a}`")),
                }
            }
            let Some(cfg_path) = cfg_path else {
                usage_error("server needs a zoo.cfg")
            };
            let cfg = match NodeConfig::load(&cfg_path) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("zablab: {}: {e}", cfg_path.display());
                    std::process::exit(2);
                }
            };
            for w in &cfg.warnings {
                eprintln!("zablab: warning: {}: {w}", cfg_path.display());
            }
            let result = runtime().block_on(zablab_node::server::runtime::run_server::<DataTree>(
                cfg, opts,
            ));
            if let Err(e) = result {
                eprintln!("zablab: {e}");
                std::process::exit(1);
            }
        }
        "cluster" => {
            let mut o = ClusterOptions::default();
            while let Some(a) = args.next() {
                match a.as_str() {
                    "--size" => o.size = value(&mut args, "--size"),
                    "--observers" => o.observers = value(&mut args, "--observers"),
                    "--dir" => o.dir = Some(value::<PathBuf>(&mut args, "--dir")),
                    "--base-port" => o.base_port = value(&mut args, "--base-port"),
                    "--tick-time" => o.tick_time_ms = value(&mut args, "--tick-time"),
                    "--tls" => o.tls = true,
                    "--stop-with-stdin" => o.stop_with_stdin = true,
                    "--live" => o.live = true,
                    "--control" => {
                        let a = value::<String>(&mut args, "--control");
                        match cluster::control_addr(&a) {
                            Ok(a) => {
                                o.control = Some(a);
                                o.live = true;
                            }
                            Err(e) => usage_error(&e),
                        }
                    }
                    _ => usage_error(&format!("unexpected argument `{a}`")),
                }
            }
            if o.size == 0 || o.tick_time_ms == 0 {
                usage_error("--size and --tick-time must be positive");
            }
            if let Err(e) = runtime().block_on(cluster::run_cluster(o)) {
                eprintln!("zablab: {e}");
                std::process::exit(1);
            }
        }
        "status" => {
            let hosts: Vec<String> = match args.next() {
                Some(h) => h
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect(),
                None => (2181..=2183).map(|p| format!("127.0.0.1:{p}")).collect(),
            };
            let code = runtime().block_on(cluster::run_status(&hosts));
            std::process::exit(code);
        }
        "lesson" => std::process::exit(zablab_node::tools::lesson_cmd::run(args.collect())),
        "cli" => std::process::exit(
            runtime().block_on(zablab_node::tools::cli_shell::run(args.collect())),
        ),
        "bench" => {
            std::process::exit(runtime().block_on(zablab_node::tools::bench::run(args.collect())))
        }
        "bench-plot" => std::process::exit(zablab_node::tools::bench_plot::run(args.collect())),
        "-h" | "--help" | "help" => println!("{USAGE}"),
        "" => usage_error("missing command"),
        other => usage_error(&format!("unknown command `{other}`")),
    }
}
