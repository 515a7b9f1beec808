//! A chaos run of the real node: `zablab server` processes on 127.0.0.1, concurrent clients
//! over the ZooKeeper wire protocol, a nemesis (kill -9, SIGSTOP, partitions through the fault
//! hook, torn log tails), a Jepsen-format history on disk and its check with `stateright`.
//! Used by `node/examples/chaos` (the command) and `node/tests/chaos.rs` (CI's 60 s run).
//!
//! What each op is checked under (see `check.rs`):
//! * setData (write) and setData-with-version (CAS, BadVersion answers included):
//!   **linearizable**, per register;
//! * reads (`sync` then `getData`) together with the writes: **sequentially consistent**
//!   (one total order respecting each process's order), which is what ZooKeeper promises;
//!   whether they were also linearizable is reported, not required;
//! * sequential creates: every acknowledged one on every server at the end, none twice;
//! * the whole tree identical on every server at the end.

pub mod check;
pub mod endcheck;
pub mod ensemble;
pub mod history;
pub mod nemesis;
pub mod workload;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use check::Model;
use nemesis::NemesisReport;

/// A small seeded PRNG (splitmix64): the run's choices come from `--seed`.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (0 when n is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            v.swap(i, j);
        }
    }
}

#[derive(Clone, Debug)]
pub struct Options {
    /// The `zablab` binary.
    pub exe: PathBuf,
    pub servers: u64,
    pub clients: u64,
    pub secs: u64,
    pub seed: u64,
    pub tick_time_ms: u64,
    /// Where servers, logs and the history go (kept).
    pub dir: PathBuf,
    pub workload: workload::WorkloadOptions,
}

impl Options {
    pub fn new(exe: PathBuf, dir: PathBuf) -> Options {
        Options {
            exe,
            servers: 3,
            clients: 5,
            secs: 60,
            seed: 1,
            tick_time_ms: 500,
            dir,
            workload: workload::WorkloadOptions {
                keys: 4,
                ops_per_key: 60,
                op_timeout: Duration::from_secs(5),
                session_timeout_ms: 5000,
                create_percent: 15,
            },
        }
    }

    /// The command that repeats this run.
    pub fn command(&self) -> String {
        format!(
            "cargo run --release -p zablab-node --example chaos -- --servers {} --clients {} --secs {} --seed {} --tick-time {} --ops-per-key {}",
            self.servers, self.clients, self.secs, self.seed, self.tick_time_ms, self.workload.ops_per_key
        )
    }
}

/// Counts of one op kind by outcome.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counts {
    pub ok: u64,
    pub fail: u64,
    pub info: u64,
}

#[derive(Debug, Default)]
pub struct Report {
    pub reads: Counts,
    pub writes: Counts,
    pub cas: Counts,
    pub creates: Counts,
    pub nemesis: NemesisReport,
    pub models: Vec<(Model, check::ModelVerdict)>,
    pub end: endcheck::EndReport,
    pub recovered_at_end: bool,
    pub history_dir: PathBuf,
    pub elapsed_s: f64,
    pub check_s: f64,
    /// Harness failures (not verdicts): the run could not be carried out as planned.
    pub errors: Vec<String>,
}

impl Report {
    /// The violations found: empty means the run is clean.
    pub fn violations(&self) -> Vec<String> {
        let mut v = Vec::new();
        for (m, verdict) in &self.models {
            if *m != Model::AllLinearizable {
                for (k, why) in &verdict.bad_keys {
                    v.push(format!("{}: key {k}: {why}", m.name()));
                }
            }
        }
        v.extend(self.end.tree_mismatches.iter().cloned());
        v.extend(self.end.lost_creates.iter().cloned());
        for (id, n) in &self.end.duplicates {
            v.push(format!("create {id} applied {n} times"));
        }
        if self.nemesis.corruption_detected != self.nemesis.corrupted {
            v.push(format!(
                "{} torn log tails written, {} reported on restart",
                self.nemesis.corrupted, self.nemesis.corruption_detected
            ));
        }
        v
    }

    pub fn print(&self, o: &Options) {
        let c = |n: &str, c: Counts| {
            println!("  {n:<8} ok={:<7} fail={:<6} info={}", c.ok, c.fail, c.info)
        };
        println!("ops ({} clients over {:.0} s):", o.clients, self.elapsed_s);
        c("read", self.reads);
        c("write", self.writes);
        c("cas", self.cas);
        c("create", self.creates);
        let faults: Vec<String> = self
            .nemesis
            .injected
            .iter()
            .map(|(f, n)| format!("{}={n}", f.name()))
            .collect();
        println!(
            "faults: {} (skipped {}, not recovered within 30 s {}; torn tails {} written, {} reported on restart)",
            faults.join(" "),
            self.nemesis.skipped,
            self.nemesis.not_recovered,
            self.nemesis.corrupted,
            self.nemesis.corruption_detected
        );
        println!("checks ({:.1} s of checking):", self.check_s);
        for (m, v) in &self.models {
            let verdict = if v.bad_keys.is_empty() {
                "PASS".to_string()
            } else if *m == Model::AllLinearizable {
                format!("no, on {} keys (reported only)", v.bad_keys.len())
            } else {
                format!("FAIL on {} keys", v.bad_keys.len())
            };
            println!("  {:<60} {verdict} ({} keys, stateright)", m.name(), v.keys);
        }
        let walked = self.end.servers_walked == o.servers as usize;
        let pass = |bad: bool| match (bad, walked) {
            (true, _) => "FAIL",
            (false, true) => "PASS",
            (false, false) => "NOT CHECKED (a server's tree could not be read)",
        };
        println!(
            "  {:<60} {} ({} acknowledged)",
            "every acknowledged create on every server",
            pass(!self.end.lost_creates.is_empty()),
            self.end.acked_creates
        );
        println!(
            "  {:<60} {}",
            "no sequential create applied twice",
            pass(!self.end.duplicates.is_empty())
        );
        println!(
            "  {:<60} {} ({} znodes)",
            "identical trees on every server",
            pass(!self.end.tree_mismatches.is_empty()),
            self.end.nodes
        );
        for e in self.errors.iter().chain(&self.nemesis.errors) {
            println!("harness error: {e}");
        }
        let v = self.violations();
        for x in &v {
            println!("VIOLATION: {x}");
        }
        println!("history: {}", self.history_dir.display());
        if v.is_empty() && self.errors.is_empty() {
            println!("verdict: OK");
        } else {
            println!(
                "verdict: {} (repeat: {})",
                if v.is_empty() {
                    "HARNESS ERROR"
                } else {
                    "VIOLATION"
                },
                o.command()
            );
        }
    }

    /// Clean: no violation and the run went as planned.
    pub fn clean(&self) -> bool {
        self.violations().is_empty() && self.errors.is_empty()
    }
}

fn count(events: &[history::Event]) -> (Counts, Counts, Counts, Counts) {
    use history::{Kind, Op, RegOp};
    let (mut r, mut w, mut c, mut k) = Default::default();
    for e in events {
        let slot: &mut Counts = match &e.op {
            Op::Register {
                op: RegOp::Read, ..
            } => &mut r,
            Op::Register {
                op: RegOp::Write(_),
                ..
            } => &mut w,
            Op::Register {
                op: RegOp::Cas { .. },
                ..
            } => &mut c,
            Op::Create { .. } => &mut k,
        };
        match e.kind {
            Kind::Invoke => {}
            Kind::Ok => slot.ok += 1,
            Kind::Fail => slot.fail += 1,
            Kind::Info => slot.info += 1,
        }
    }
    (r, w, c, k)
}

/// Runs the whole thing; the caller prints the report.
pub async fn run(o: Options) -> Report {
    let mut report = Report {
        history_dir: o.dir.join("history"),
        ..Report::default()
    };
    let started = Instant::now();
    let mut rng = Rng::new(o.seed);
    if let Err(e) = std::fs::create_dir_all(&o.dir) {
        report
            .errors
            .push(format!("cannot create {}: {e}", o.dir.display()));
        return report;
    }
    let Some(base) = ensemble::free_base_port(o.servers as u16, o.seed ^ std::process::id() as u64)
    else {
        report.errors.push("no free ports".into());
        return report;
    };
    let ens = match ensemble::Ensemble::start(&o.exe, &o.dir, o.servers, o.tick_time_ms, base) {
        Ok(e) => e,
        Err(e) => {
            report.errors.push(format!("cannot start servers: {e}"));
            return report;
        }
    };
    println!(
        "chaos: {} servers (base port {base}), {} clients, {} s, seed {}, dir {}",
        o.servers,
        o.clients,
        o.secs,
        o.seed,
        o.dir.display()
    );
    if !ens.wait_recovered(Duration::from_secs(60)).await {
        report
            .errors
            .push("the ensemble did not start within 60 s".into());
        return report;
    }
    let hosts = ens.hosts();
    // The parent of every generation of registers and sequential nodes.
    let setup = async {
        let c = workload::connect(&hosts, 5000, Duration::from_secs(10)).await?;
        for p in ["/chaos"] {
            let acl = workload::open_acl();
            let r = c.create(p, None, &acl, zablab_core::tree::CreateMode::Persistent);
            match tokio::time::timeout(Duration::from_secs(10), r).await {
                Ok(Ok(_)) => {}
                _ => return None,
            }
        }
        let _ = c.close().await;
        Some(())
    };
    if setup.await.is_none() {
        report.errors.push("cannot create /chaos".into());
        return report;
    }
    let t0 = Instant::now();
    let until = t0 + Duration::from_secs(o.secs);
    let shared = Arc::new(workload::Shared::new(o.clients));
    let mut clients = Vec::new();
    for i in 0..o.clients {
        clients.push(tokio::spawn(workload::client(
            i,
            shared.clone(),
            hosts.clone(),
            until,
            Rng::new(rng.next()),
            o.workload.clone(),
        )));
    }
    let (mut ens, nem) = nemesis::run(ens, &mut rng, t0, until).await;
    report.nemesis = nem;
    for c in clients {
        let _ = c.await;
    }
    report.elapsed_s = t0.elapsed().as_secs_f64();
    if let Err(e) = ens.restore_all() {
        report.errors.push(format!("restore: {e}"));
    }
    ens.heal_all().await;
    report.recovered_at_end = ens.wait_recovered(Duration::from_secs(60)).await;
    if !report.recovered_at_end {
        report
            .errors
            .push("the ensemble did not recover within 60 s after the run".into());
    }
    let mut trees = Vec::new();
    let mut sids = Vec::new();
    for i in 0..ens.len() {
        match endcheck::walk(ens.addr(i), o.workload.session_timeout_ms).await {
            Ok(t) => {
                trees.push(t);
                sids.push(ens.sid(i));
            }
            Err(e) => report
                .errors
                .push(format!("final walk of server {}: {e}", ens.sid(i))),
        }
    }
    drop(ens);
    let events = shared.history.events();
    report.end = endcheck::check(&sids, &trees, &events);
    report.end.servers_walked = trees.len();
    (report.reads, report.writes, report.cas, report.creates) = count(&events);
    if let Err(e) = history::write_files(&report.history_dir, &events, &report.end.found_ids) {
        report.errors.push(format!("cannot write the history: {e}"));
    }
    let check_start = std::time::Instant::now();
    let events = Arc::new(events);
    let ev = events.clone();
    match tokio::task::spawn_blocking(move || check::check_history(&ev, 2, Duration::from_secs(30)))
        .await
    {
        Ok(v) => report.models = v,
        Err(e) => report.errors.push(format!("checker: {e}")),
    }
    report.check_s = check_start.elapsed().as_secs_f64();
    let _ = started;
    report
}
