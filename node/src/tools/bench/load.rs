//! The load itself: the znodes it works on, the sessions, one task per request in flight, the
//! open-loop schedule, the progress line, and the cleanup afterwards.
//!
//! Request `i` of task `k` (of `tasks` = sessions × inflight) is the run's request
//! `g = k + i * tasks`; [`Schedule`] says from `g` alone when it is due (open loop), whether it
//! reads, and which znode it works on, so the mix is exact and the same on every run.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use zablab_core::tree::{Acl, CreateMode};

use super::report::{BenchReport, Latencies};
use super::{BenchOp, BenchOptions};
use crate::tools::zkclient::{ConnectOptions, ZkClient, ZkError};

/// Histogram shards: task `k` records into shard `k % SHARDS`, so the memory is fixed whatever
/// the number of tasks, and tasks seldom wait for one another's lock.
const SHARDS: usize = 16;
/// Sessions being opened at once.
const CONNECTS_IN_FLIGHT_MAX: usize = 64;
/// Requests in flight while preloading and while deleting afterwards.
const SETUP_IN_FLIGHT_MAX: usize = 256;
/// Open loop: how long after the end requests due before it are still sent (at most `--secs`).
/// Without this, a saturated server's queue would be dropped at the end rather than measured
/// (coordinated omission at the last moment); with it, only a server more than twice too slow
/// leaves requests `behind`.
pub const DRAIN_SECS_MAX: f64 = 60.0;

/// When request `g` is due, whether it reads, and its znode.
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    pub op: BenchOp,
    pub tasks: u64,
    /// Requests per second over all tasks (open loop); None: each task sends back to back.
    pub rate: Option<f64>,
    /// Reads per million requests (`--op mixed`).
    pub read_ppm: u64,
    pub znodes: u64,
}

impl Schedule {
    pub fn from_options(o: &BenchOptions) -> Schedule {
        Schedule {
            op: o.op,
            tasks: (o.sessions * o.inflight) as u64,
            rate: o.rate,
            read_ppm: (o.read_ratio * 1e6).round() as u64,
            znodes: o.znodes_count().max(1) as u64,
        }
    }

    pub fn global(&self, task: u64, i: u64) -> u64 {
        task + i * self.tasks
    }

    /// Seconds after the start at which request `g` is due (open loop only).
    pub fn due_secs(&self, g: u64) -> Option<f64> {
        self.rate.map(|r| g as f64 / r)
    }

    /// Requests due before `secs` (open loop only): the most a run of `secs` sends.
    pub fn due_before(&self, secs: f64) -> Option<u64> {
        self.rate.map(|r| (r * secs).ceil() as u64)
    }

    /// Whether request `g` reads: for `mixed`, exactly `read_ppm` of every million consecutive
    /// requests, spread evenly (request g reads when ⌊(g+1)·ppm/10⁶⌋ > ⌊g·ppm/10⁶⌋).
    pub fn is_read(&self, g: u64) -> bool {
        match self.op {
            BenchOp::Get => true,
            BenchOp::Set | BenchOp::Create => false,
            BenchOp::Mixed => {
                let (g, ppm) = (g as u128, self.read_ppm as u128);
                (g + 1) * ppm / 1_000_000 > g * ppm / 1_000_000
            }
        }
    }

    /// The preloaded znode request `g` works on.
    pub fn znode(&self, g: u64) -> usize {
        (g % self.znodes) as usize
    }
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

/// Opens `count` sessions, session `s` starting at host `s` mod the list.
async fn connect_sessions(hosts: &[String], count: usize) -> Result<Vec<ZkClient>, String> {
    let mut out: Vec<Option<ZkClient>> = (0..count).map(|_| None).collect();
    let mut set: JoinSet<(usize, Result<ZkClient, ZkError>)> = JoinSet::new();
    for s in 0..count {
        while set.len() >= CONNECTS_IN_FLIGHT_MAX {
            if let Some(Ok((i, r))) = set.join_next().await {
                out[i] = Some(r.map_err(|e| format!("session {i}: {e}"))?);
            }
        }
        let hosts = hosts.to_vec();
        set.spawn(async move { (s, connect_at(&hosts, s).await) });
    }
    while let Some(r) = set.join_next().await {
        if let Ok((i, r)) = r {
            out[i] = Some(r.map_err(|e| format!("session {i}: {e}"))?);
        }
    }
    out.into_iter()
        .enumerate()
        .map(|(i, c)| c.ok_or(format!("session {i}: its task failed")))
        .collect()
}

/// Creates (or deletes, `create == false`) `paths`, at most [`SETUP_IN_FLIGHT_MAX`] at a time;
/// the first create error stops it.
async fn create_or_delete_all(
    zk: &ZkClient,
    paths: Vec<String>,
    data: Arc<Vec<u8>>,
    create: bool,
) -> Result<(), String> {
    let mut set = JoinSet::new();
    let check = |r: Option<Result<Result<(), ZkError>, _>>| match r {
        Some(Ok(Err(e))) if create => Err(format!("preload: {e}")),
        _ => Ok(()),
    };
    for p in paths {
        while set.len() >= SETUP_IN_FLIGHT_MAX {
            check(set.join_next().await)?;
        }
        let (zk, d) = (zk.clone(), data.clone());
        set.spawn(async move {
            if create {
                zk.create(&p, Some(&d), &open_acl(), CreateMode::Persistent)
                    .await
                    .map(|_| ())
            } else {
                zk.delete(&p, -1).await.map(|_| ())
            }
        });
    }
    while let Some(r) = set.join_next().await {
        check(Some(r))?;
    }
    Ok(())
}

/// What the tasks share: histograms by shard (reads, writes), and running counts for the
/// progress line.
struct Shared {
    shards: Vec<Mutex<(Latencies, Latencies)>>,
    done: AtomicU64,
    errors: AtomicU64,
}

struct Task {
    zk: ZkClient,
    k: u64,
    schedule: Schedule,
    nodes: Arc<Vec<String>>,
    prefix: String,
    data: Arc<Vec<u8>>,
    start: Instant,
    secs: f64,
}

/// Sends task `k`'s requests until the run ends; returns the znodes it created.
async fn task(t: Task, shared: Arc<Shared>) -> Vec<String> {
    let deadline = t.start + Duration::from_secs_f64(t.secs);
    let drained = deadline + Duration::from_secs_f64(t.secs.min(DRAIN_SECS_MAX));
    let mut created = Vec::new();
    for i in 0.. {
        let g = t.schedule.global(t.k, i);
        // Open loop: latency counts from when the request was due, so time spent waiting
        // behind a slow server is measured too.
        let t0 = match t.schedule.due_secs(g) {
            Some(due) if due >= t.secs => break,
            Some(due) => {
                if Instant::now() >= drained {
                    break;
                }
                let at = t.start + Duration::from_secs_f64(due);
                tokio::time::sleep_until(at.into()).await;
                at
            }
            None => {
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                now
            }
        };
        let read = t.schedule.is_read(g);
        let node = || &t.nodes[t.schedule.znode(g) % t.nodes.len()];
        let ok = match t.schedule.op {
            BenchOp::Create => {
                let p = format!("{}-{i}", t.prefix);
                let res =
                    t.zk.create(&p, Some(&t.data), &open_acl(), CreateMode::Persistent)
                        .await;
                if res.is_ok() {
                    created.push(p);
                }
                res.is_ok()
            }
            _ if read => t.zk.get_data(node(), false).await.is_ok(),
            _ => t.zk.set_data(node(), Some(&t.data), -1).await.is_ok(),
        };
        let us = t0.elapsed().as_micros().min(u64::MAX as u128) as u64;
        if ok {
            let mut s = shared.shards[t.k as usize % SHARDS]
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if read {
                s.0.record(us)
            } else {
                s.1.record(us)
            }
            drop(s);
            shared.done.fetch_add(1, Ordering::Relaxed);
        } else {
            shared.errors.fetch_add(1, Ordering::Relaxed);
        }
    }
    created
}

/// Prints a progress line on stderr every `every_secs` until aborted.
async fn progress(shared: Arc<Shared>, start: Instant, every_secs: f64) {
    let every = Duration::from_secs_f64(every_secs);
    let mut last = 0;
    let mut next = start + every;
    loop {
        tokio::time::sleep_until(next.into()).await;
        let done = shared.done.load(Ordering::Relaxed);
        let errors = shared.errors.load(Ordering::Relaxed);
        eprintln!(
            "progress: {:.1}s ops {done} ({:.1}/s over the last {every_secs}s) errors {errors}",
            start.elapsed().as_secs_f64(),
            (done - last) as f64 / every_secs
        );
        last = done;
        next += every;
    }
}

/// Runs the benchmark.
pub async fn bench(o: &BenchOptions) -> Result<BenchReport, String> {
    o.validate()?;
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
    let nodes: Arc<Vec<String>> = Arc::new(
        (0..o.znodes_count())
            .map(|i| format!("{root}/n-{i}"))
            .collect(),
    );
    let loaded = Instant::now();
    create_or_delete_all(&setup, nodes.to_vec(), data.clone(), true).await?;
    if nodes.len() >= 10_000 {
        eprintln!(
            "zablab bench: preloaded {} znodes in {:.1} s",
            nodes.len(),
            loaded.elapsed().as_secs_f64()
        );
    }
    let sessions = connect_sessions(&o.hosts, o.sessions).await?;
    let schedule = Schedule::from_options(o);
    let shared = Arc::new(Shared {
        shards: (0..SHARDS)
            .map(|_| Mutex::new(Default::default()))
            .collect(),
        done: AtomicU64::new(0),
        errors: AtomicU64::new(0),
    });
    let start = Instant::now();
    let ticker = (o.progress_secs > 0.0)
        .then(|| tokio::spawn(progress(shared.clone(), start, o.progress_secs)));
    let mut set = JoinSet::new();
    for (s, zk) in sessions.iter().enumerate() {
        for t in 0..o.inflight {
            let k = (s * o.inflight + t) as u64;
            let t = Task {
                zk: zk.clone(),
                k,
                schedule,
                nodes: nodes.clone(),
                prefix: format!("{root}/c-{k}"),
                data: data.clone(),
                start,
                secs: o.secs,
            };
            set.spawn(task(t, shared.clone()));
        }
    }
    let mut created = Vec::new();
    let mut failed = None;
    while let Some(r) = set.join_next().await {
        match r {
            Ok(c) => created.extend(c),
            Err(e) => failed = Some(format!("a load task failed: {e}")),
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    if let Some(t) = ticker {
        t.abort();
    }
    for zk in &sessions {
        let _ = zk.close().await;
    }
    if !o.keep {
        created.extend(nodes.iter().cloned());
        let _ = create_or_delete_all(&setup, created, data, false).await;
        let _ = setup.delete(&root, -1).await;
    }
    let _ = setup.close().await;
    if let Some(e) = failed {
        return Err(e);
    }
    let (mut reads, mut writes) = (Latencies::new(), Latencies::new());
    for s in &shared.shards {
        let s = s.lock().unwrap_or_else(|e| e.into_inner());
        reads.add(&s.0);
        writes.add(&s.1);
    }
    let errors = shared.errors.load(Ordering::Relaxed);
    let sent = reads.count() + writes.count() + errors;
    let behind = schedule
        .due_before(o.secs)
        .map_or(0, |due| due.saturating_sub(sent));
    Ok(BenchReport::new(&reads, &writes, errors, behind, elapsed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(op: BenchOp, read_ratio: f64, rate: Option<f64>) -> Schedule {
        let o = BenchOptions {
            op,
            read_ratio,
            rate,
            sessions: 2,
            inflight: 3,
            ..BenchOptions::default()
        };
        Schedule::from_options(&o)
    }

    #[test]
    fn mixed_reads_exactly_the_ratio_spread_evenly() {
        for (ratio, reads) in [(0.0, 0), (0.9, 900), (0.5, 500), (0.999, 999), (1.0, 1000)] {
            let s = schedule(BenchOp::Mixed, ratio, None);
            assert_eq!(
                (0..1000).filter(|g| s.is_read(*g)).count(),
                reads,
                "{ratio}"
            );
        }
        // 0.9: one write in every ten consecutive requests.
        let s = schedule(BenchOp::Mixed, 0.9, None);
        for w in 0..100 {
            assert_eq!((w * 10..w * 10 + 10).filter(|g| !s.is_read(*g)).count(), 1);
        }
        assert!(schedule(BenchOp::Get, 0.0, None).is_read(3));
        assert!(!schedule(BenchOp::Set, 1.0, None).is_read(3));
    }

    #[test]
    fn open_loop_spreads_requests_over_tasks_and_time() {
        let s = schedule(BenchOp::Set, 0.9, Some(600.0));
        assert_eq!(s.tasks, 6);
        // Task 2's requests are the run's requests 2, 8, 14, … due every 10 ms.
        assert_eq!((s.global(2, 0), s.global(2, 1), s.global(2, 2)), (2, 8, 14));
        assert_eq!(s.due_secs(8), Some(8.0 / 600.0));
        assert_eq!(s.due_before(0.5), Some(300));
        assert_eq!(schedule(BenchOp::Set, 0.9, None).due_before(0.5), None);
        // One znode per task by default: task k always works on znode k.
        assert!((0..50).all(|i| s.znode(s.global(4, i)) == 4));
    }
}
