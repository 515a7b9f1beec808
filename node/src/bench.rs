//! `zablab bench --hosts H[,H...] [--op create|set|get|mixed] [--inflight 64] [--secs 10]
//! [--size 100] [--clients 1] [--keep]`: a load generator over ZooKeeper's wire protocol, so
//! the same program measures ZabLab and Apache ZooKeeper.
//!
//! Each client is one session (client *i* starts at host *i* mod the list, so clients spread
//! over the servers) with `inflight` tasks issuing requests back to back on it; every request's
//! latency is recorded in microseconds. Operations: `create` makes new nodes, `set` and `get`
//! work on one pre-created node per task, `mixed` is one setData in ten, the rest getData.
//! Everything lives under a fresh `/zablab-bench-<pid>-<n>` that is deleted afterwards (unless
//! `--keep`). The last line is machine-readable:
//! `ops/s: X p50_us: A p99_us: B p999_us: C`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use zablab_core::tree::{Acl, CreateMode};

use crate::zkclient::{ConnectOptions, ZkClient, ZkError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BenchOp {
    Create,
    Set,
    Get,
    Mixed,
}

#[derive(Clone, Debug)]
pub struct BenchOptions {
    pub hosts: Vec<String>,
    pub op: BenchOp,
    pub inflight: usize,
    pub secs: f64,
    pub size: usize,
    pub clients: usize,
    pub keep: bool,
}

impl Default for BenchOptions {
    fn default() -> BenchOptions {
        BenchOptions {
            hosts: vec!["127.0.0.1:2181".into()],
            op: BenchOp::Set,
            inflight: 64,
            secs: 10.0,
            size: 100,
            clients: 1,
            keep: false,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct BenchReport {
    pub ops: u64,
    pub errors: u64,
    pub elapsed_secs: f64,
    pub ops_per_sec: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
}

impl BenchReport {
    /// The machine-readable last line.
    pub fn summary_line(&self) -> String {
        format!(
            "ops/s: {:.1} p50_us: {} p99_us: {} p999_us: {}",
            self.ops_per_sec, self.p50_us, self.p99_us, self.p999_us
        )
    }
}

/// The value at quantile `q` of sorted samples (nearest rank).
pub fn percentile(sorted: &[u32], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as u64
}

fn open_acl() -> Vec<Acl> {
    vec![Acl::new(31, "world", "anyone")]
}

async fn connect_at(hosts: &[String], first: usize) -> Result<ZkClient, ZkError> {
    let n = hosts.len();
    let rotated: Vec<String> = (0..n).map(|i| hosts[(first + i) % n].clone()).collect();
    let mut o = ConnectOptions::new("");
    o.hosts = rotated;
    o.session_timeout_ms = 30_000;
    ZkClient::connect(o).await.map(|(c, _)| c)
}

/// What one task did: latencies, errors, and the nodes it created.
#[derive(Default)]
struct TaskResult {
    latencies_us: Vec<u32>,
    errors: u64,
    created: Vec<String>,
}

async fn task(
    zk: ZkClient,
    op: BenchOp,
    node: String,
    prefix: String,
    data: Arc<Vec<u8>>,
    deadline: Instant,
) -> TaskResult {
    let mut r = TaskResult::default();
    let mut i: u64 = 0;
    while Instant::now() < deadline {
        let write = match op {
            BenchOp::Create | BenchOp::Set => true,
            BenchOp::Get => false,
            BenchOp::Mixed => i.is_multiple_of(10),
        };
        let t0 = Instant::now();
        let ok = match (op, write) {
            (BenchOp::Create, _) => {
                let p = format!("{prefix}-{i}");
                let res = zk
                    .create(&p, Some(&data), &open_acl(), CreateMode::Persistent)
                    .await;
                if res.is_ok() {
                    r.created.push(p);
                }
                res.is_ok()
            }
            (_, true) => zk.set_data(&node, Some(&data), -1).await.is_ok(),
            (_, false) => zk.get_data(&node, false).await.is_ok(),
        };
        let us = t0.elapsed().as_micros().min(u32::MAX as u128) as u32;
        if ok {
            r.latencies_us.push(us);
        } else {
            r.errors += 1;
        }
        i += 1;
    }
    r
}

/// Deletes `paths` (children before parents), `inflight` at a time.
async fn delete_all(zk: &ZkClient, paths: Vec<String>, inflight: usize) {
    let mut set = JoinSet::new();
    for p in paths {
        while set.len() >= inflight.max(1) {
            set.join_next().await;
        }
        let zk = zk.clone();
        set.spawn(async move {
            let _ = zk.delete(&p, -1).await;
        });
    }
    while set.join_next().await.is_some() {}
}

/// Runs the benchmark.
pub async fn bench(o: &BenchOptions) -> Result<BenchReport, String> {
    if o.hosts.is_empty() || o.inflight == 0 || o.clients == 0 {
        return Err("need hosts, --inflight >= 1 and --clients >= 1".into());
    }
    let setup = connect_at(&o.hosts, 0)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() % 1_000_000_000)
        .unwrap_or(0);
    let root = format!("/zablab-bench-{}-{stamp}", std::process::id());
    let data = Arc::new(vec![b'x'; o.size]);
    setup
        .create(&root, None, &open_acl(), CreateMode::Persistent)
        .await
        .map_err(|e| format!("create {root}: {e}"))?;
    let nodes: Vec<String> = (0..o.clients * o.inflight)
        .map(|i| format!("{root}/n-{i}"))
        .collect();
    if o.op != BenchOp::Create {
        let mut set = JoinSet::new();
        for p in nodes.clone() {
            let zk = setup.clone();
            let d = data.clone();
            set.spawn(async move {
                zk.create(&p, Some(&d), &open_acl(), CreateMode::Persistent)
                    .await
            });
        }
        while let Some(r) = set.join_next().await {
            if let Ok(Err(e)) = r {
                return Err(format!("setup: {e}"));
            }
        }
    }
    let mut clients = Vec::new();
    for c in 0..o.clients {
        let zk = connect_at(&o.hosts, c)
            .await
            .map_err(|e| format!("client {c}: {e}"))?;
        clients.push(zk);
    }
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(o.secs.max(0.0));
    let mut set = JoinSet::new();
    for (c, zk) in clients.iter().enumerate() {
        for t in 0..o.inflight {
            let k = c * o.inflight + t;
            set.spawn(task(
                zk.clone(),
                o.op,
                nodes[k].clone(),
                format!("{root}/c-{k}"),
                data.clone(),
                deadline,
            ));
        }
    }
    let mut all = Vec::new();
    let mut errors = 0;
    let mut created = Vec::new();
    while let Some(r) = set.join_next().await {
        if let Ok(r) = r {
            all.extend(r.latencies_us);
            errors += r.errors;
            created.extend(r.created);
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    for zk in &clients {
        let _ = zk.close().await;
    }
    if !o.keep {
        let mut doomed = created;
        if o.op != BenchOp::Create {
            doomed.extend(nodes);
        }
        delete_all(&setup, doomed, 256).await;
        let _ = setup.delete(&root, -1).await;
    }
    let _ = setup.close().await;
    all.sort_unstable();
    Ok(BenchReport {
        ops: all.len() as u64,
        errors,
        elapsed_secs: elapsed,
        ops_per_sec: all.len() as f64 / elapsed.max(1e-9),
        p50_us: percentile(&all, 0.50),
        p99_us: percentile(&all, 0.99),
        p999_us: percentile(&all, 0.999),
        max_us: all.last().copied().unwrap_or(0) as u64,
    })
}

fn parse(args: Vec<String>) -> Result<BenchOptions, String> {
    let mut o = BenchOptions::default();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let mut val = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--hosts" => {
                o.hosts = val("--hosts")?
                    .split(',')
                    .map(str::trim)
                    .filter(|h| !h.is_empty())
                    .map(str::to_string)
                    .collect()
            }
            "--op" => {
                o.op = match val("--op")?.as_str() {
                    "create" => BenchOp::Create,
                    "set" => BenchOp::Set,
                    "get" => BenchOp::Get,
                    "mixed" => BenchOp::Mixed,
                    other => return Err(format!("unknown --op {other}")),
                }
            }
            "--inflight" => {
                o.inflight = val("--inflight")?.parse().map_err(|_| "bad --inflight")?
            }
            "--secs" => o.secs = val("--secs")?.parse().map_err(|_| "bad --secs")?,
            "--size" => o.size = val("--size")?.parse().map_err(|_| "bad --size")?,
            "--clients" => o.clients = val("--clients")?.parse().map_err(|_| "bad --clients")?,
            "--keep" => o.keep = true,
            other => return Err(format!("unexpected argument `{other}`")),
        }
    }
    Ok(o)
}

/// The `zablab bench` entry point; returns the process exit code.
pub async fn run(args: Vec<String>) -> i32 {
    let o = match parse(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("zablab bench: {e}\nusage: zablab bench --hosts H[,H...] [--op create|set|get|mixed] [--inflight 64] [--secs 10] [--size 100] [--clients 1] [--keep]");
            return 2;
        }
    };
    println!(
        "zablab bench: op={:?} hosts={} clients={} inflight={} size={} secs={}",
        o.op,
        o.hosts.join(","),
        o.clients,
        o.inflight,
        o.size,
        o.secs
    );
    match bench(&o).await {
        Ok(r) => {
            println!(
                "ops: {} errors: {} elapsed_s: {:.2} max_us: {}",
                r.ops, r.errors, r.elapsed_secs, r.max_us
            );
            println!("{}", r.summary_line());
            0
        }
        Err(e) => {
            eprintln!("zablab bench: {e}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<u32> = (1..=1000).collect();
        assert_eq!(percentile(&v, 0.5), 500);
        assert_eq!(percentile(&v, 0.99), 990);
        assert_eq!(percentile(&v, 0.999), 999);
        assert_eq!(percentile(&[], 0.5), 0);
        assert_eq!(percentile(&[7], 0.999), 7);
    }

    #[test]
    fn arguments() {
        let a = |s: &str| s.split(' ').map(str::to_string).collect::<Vec<_>>();
        let o = parse(a(
            "--hosts a:1,b:2 --op mixed --inflight 8 --secs 0.5 --size 10 --clients 3",
        ))
        .expect("parses");
        assert_eq!(o.hosts, vec!["a:1", "b:2"]);
        assert_eq!(
            (o.op, o.inflight, o.size, o.clients),
            (BenchOp::Mixed, 8, 10, 3)
        );
        assert!(parse(a("--op nope")).is_err());
        assert!(parse(a("--inflight")).is_err());
    }
}
