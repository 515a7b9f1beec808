//! `zablab bench`: a load generator over ZooKeeper's wire protocol, so the same program
//! measures ZabLab and Apache ZooKeeper.
//!
//! ```text
//! zablab bench --hosts H[,H...] [--op create|set|get|mixed] [--read-ratio 0.9]
//!              [--sessions 1] [--inflight 64] [--rate OPS_PER_S] [--znodes N]
//!              [--secs 10] [--size 100] [--progress 10] [--json] [--keep]
//! ```
//!
//! `--sessions` sessions (session *s* starts at host *s* mod the list, so they spread over the
//! servers), each with `--inflight` tasks. Without `--rate` every task sends its next request
//! as soon as the last one is answered (closed loop); with `--rate` the run's requests are due
//! at fixed times, `rate` per second over all tasks (open loop), and a latency counts from when
//! its request was due, so queueing behind a slow server is measured (at most `inflight` per
//! session are outstanding; requests due before the end are still sent after it, for up to
//! another `--secs` (at most 60 s), so the queue a saturated server built is measured, and
//! those not sent even then are reported as `behind`). `set`, `get` and `mixed` work on `--znodes` znodes of `--size` bytes created
//! before the run (default: one per task); `mixed` reads `--read-ratio` of its requests,
//! spread evenly. Latencies go into HdrHistograms (1 µs to 1 h, 3 significant digits), reads
//! and writes apart. Everything lives under a fresh `/zablab-bench-<pid>-<n>` that is deleted
//! afterwards (unless `--keep`).
//!
//! Output: a header line, the counts, and as the last line (bench/compare.sh reads it)
//! `ops/s: X p50_us: A p99_us: B p999_us: C`; with `--json`, one JSON object on stdout and the
//! rest on stderr. `--progress S` prints a line on stderr every S seconds (default 10, 0: none).

mod load;
mod report;

pub use load::{bench, Schedule};
pub use report::{BenchReport, Latencies, LatencySummary, LATENCY_US_MAX};

/// Limits on what the command line may ask for (memory and connections are taken per task).
pub const SESSIONS_MAX: usize = 10_000;
pub const INFLIGHT_MAX: usize = 10_000;
pub const TASKS_MAX: usize = 100_000;
pub const ZNODES_MAX: usize = 1_000_000;
/// ZooKeeper refuses packets over jute.maxbuffer (1 MiB by default).
pub const SIZE_BYTES_MAX: usize = 1_000_000;
pub const PRELOAD_BYTES_MAX: usize = 1 << 30;
pub const SECS_MAX: f64 = 86_400.0;
pub const RATE_MAX: f64 = 10_000_000.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BenchOp {
    Create,
    Set,
    Get,
    Mixed,
}

impl BenchOp {
    pub fn name(self) -> &'static str {
        match self {
            BenchOp::Create => "create",
            BenchOp::Set => "set",
            BenchOp::Get => "get",
            BenchOp::Mixed => "mixed",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct BenchOptions {
    pub hosts: Vec<String>,
    pub op: BenchOp,
    /// Requests in flight per session (closed loop), or the most outstanding (open loop).
    pub inflight: usize,
    pub secs: f64,
    pub size: usize,
    pub sessions: usize,
    pub keep: bool,
    /// Requests per second over all sessions (open loop); None: closed loop.
    pub rate: Option<f64>,
    /// Share of reads for `--op mixed`.
    pub read_ratio: f64,
    /// Znodes created before the run for set/get/mixed (None: one per task; create: none).
    pub znodes: Option<usize>,
    pub json: bool,
    /// Seconds between progress lines on stderr (0: none).
    pub progress_secs: f64,
}

impl Default for BenchOptions {
    fn default() -> BenchOptions {
        BenchOptions {
            hosts: vec!["127.0.0.1:2181".into()],
            op: BenchOp::Set,
            inflight: 64,
            secs: 10.0,
            size: 100,
            sessions: 1,
            keep: false,
            rate: None,
            read_ratio: 0.9,
            znodes: None,
            json: false,
            progress_secs: 10.0,
        }
    }
}

impl BenchOptions {
    /// The number of znodes created before the run.
    pub fn znodes_count(&self) -> usize {
        match (self.znodes, self.op) {
            (Some(n), _) => n,
            (None, BenchOp::Create) => 0,
            (None, _) => self.sessions * self.inflight,
        }
    }

    /// Every limit, with the reason it is there.
    pub fn validate(&self) -> Result<(), String> {
        let within =
            |v: f64, lo_exclusive: f64, hi: f64| v.is_finite() && v > lo_exclusive && v <= hi;
        if self.hosts.is_empty() {
            return Err("--hosts needs at least one host:port".into());
        }
        if !(1..=SESSIONS_MAX).contains(&self.sessions) {
            return Err(format!("--sessions must be 1..={SESSIONS_MAX}"));
        }
        if !(1..=INFLIGHT_MAX).contains(&self.inflight) {
            return Err(format!("--inflight must be 1..={INFLIGHT_MAX}"));
        }
        if self.sessions * self.inflight > TASKS_MAX {
            return Err(format!(
                "--sessions × --inflight must be at most {TASKS_MAX}"
            ));
        }
        if !within(self.secs, 0.0, SECS_MAX) {
            return Err(format!("--secs must be more than 0 and at most {SECS_MAX}"));
        }
        if self.size > SIZE_BYTES_MAX {
            return Err(format!(
                "--size must be at most {SIZE_BYTES_MAX} bytes (ZooKeeper's jute.maxbuffer)"
            ));
        }
        if let Some(r) = self.rate {
            if !within(r, 0.0, RATE_MAX) {
                return Err(format!("--rate must be more than 0 and at most {RATE_MAX}"));
            }
        }
        if !(self.read_ratio.is_finite() && (0.0..=1.0).contains(&self.read_ratio)) {
            return Err("--read-ratio must be between 0 and 1".into());
        }
        if let Some(n) = self.znodes {
            if !(1..=ZNODES_MAX).contains(&n) {
                return Err(format!("--znodes must be 1..={ZNODES_MAX}"));
            }
        }
        if self.znodes_count().saturating_mul(self.size) > PRELOAD_BYTES_MAX {
            return Err(format!(
                "--znodes × --size must be at most {PRELOAD_BYTES_MAX} bytes"
            ));
        }
        if !(self.progress_secs.is_finite() && self.progress_secs >= 0.0) {
            return Err("--progress must be 0 (none) or more".into());
        }
        Ok(())
    }
}

pub const USAGE: &str = "usage: zablab bench --hosts H[,H...] [--op create|set|get|mixed] [--read-ratio 0.9] [--sessions 1] [--inflight 64] [--rate OPS_PER_S] [--znodes N] [--secs 10] [--size 100] [--progress 10] [--json] [--keep]";

/// Parses `zablab bench`'s arguments (`--clients` is the old name of `--sessions`).
pub fn parse(args: Vec<String>) -> Result<BenchOptions, String> {
    fn number<T: std::str::FromStr>(flag: &str, v: String) -> Result<T, String> {
        v.parse()
            .map_err(|_| format!("{flag}: `{v}` is not a valid number"))
    }
    let mut o = BenchOptions::default();
    let mut read_ratio_given = false;
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
            "--inflight" => o.inflight = number(&a, val(&a)?)?,
            "--secs" => o.secs = number(&a, val(&a)?)?,
            "--size" => o.size = number(&a, val(&a)?)?,
            "--sessions" | "--clients" => o.sessions = number(&a, val(&a)?)?,
            "--rate" => o.rate = Some(number(&a, val(&a)?)?),
            "--read-ratio" => {
                o.read_ratio = number(&a, val(&a)?)?;
                read_ratio_given = true;
            }
            "--znodes" => o.znodes = Some(number(&a, val(&a)?)?),
            "--progress" => o.progress_secs = number(&a, val(&a)?)?,
            "--json" => o.json = true,
            "--keep" => o.keep = true,
            other => return Err(format!("unexpected argument `{other}`")),
        }
    }
    if read_ratio_given && o.op != BenchOp::Mixed {
        return Err("--read-ratio is for --op mixed".into());
    }
    o.validate()?;
    Ok(o)
}

/// The `zablab bench` entry point; returns the process exit code.
pub async fn run(args: Vec<String>) -> i32 {
    let o = match parse(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("zablab bench: {e}\n{USAGE}");
            return 2;
        }
    };
    let header = format!(
        "zablab bench: op={} hosts={} sessions={} inflight={} size={} secs={} rate={} read_ratio={} znodes={}",
        o.op.name(),
        o.hosts.join(","),
        o.sessions,
        o.inflight,
        o.size,
        o.secs,
        o.rate.map_or("closed-loop".to_string(), |r| r.to_string()),
        if o.op == BenchOp::Mixed { o.read_ratio.to_string() } else { "-".into() },
        o.znodes_count(),
    );
    if o.json {
        eprintln!("{header}");
    } else {
        println!("{header}");
    }
    match bench(&o).await {
        Ok(r) if o.json => {
            println!("{}", r.to_json(&o));
            0
        }
        Ok(r) => {
            println!(
                "ops: {} errors: {} behind: {} elapsed_s: {:.2} max_us: {}",
                r.ops, r.errors, r.behind, r.elapsed_secs, r.all.max_us
            );
            for (name, s) in [("reads", r.reads), ("writes", r.writes)] {
                if s.count > 0 {
                    println!(
                        "{name}: {} p50_us: {} p90_us: {} p99_us: {} p999_us: {} max_us: {}",
                        s.count, s.p50_us, s.p90_us, s.p99_us, s.p999_us, s.max_us
                    );
                }
            }
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

    fn a(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_string).collect()
    }

    #[test]
    fn arguments() {
        let o = parse(a(
            "--hosts a:1,b:2 --op mixed --inflight 8 --secs 0.5 --size 10 --clients 3",
        ))
        .expect("parses");
        assert_eq!(o.hosts, vec!["a:1", "b:2"]);
        assert_eq!(
            (o.op, o.inflight, o.size, o.sessions),
            (BenchOp::Mixed, 8, 10, 3)
        );
        assert!(parse(a("--op nope")).is_err());
        assert!(parse(a("--inflight")).is_err());
    }

    #[test]
    fn curve_options() {
        let o = parse(a(
            "--op mixed --read-ratio 0.75 --sessions 500 --inflight 2 --rate 2500 --znodes 100000 --json --progress 0",
        ))
        .expect("parses");
        assert_eq!(o.read_ratio, 0.75);
        assert_eq!(
            (o.sessions, o.inflight, o.znodes_count()),
            (500, 2, 100_000)
        );
        assert_eq!(o.rate, Some(2500.0));
        assert!(o.json && o.progress_secs == 0.0);
        // Defaults: closed loop, one znode per task, none for create, progress every 10 s.
        let d = parse(a("--sessions 3 --inflight 4")).expect("parses");
        assert_eq!(
            (d.rate, d.znodes_count(), d.progress_secs),
            (None, 12, 10.0)
        );
        let c = parse(a("--op create")).expect("parses");
        assert_eq!(c.znodes_count(), 0);
        assert_eq!(
            parse(a("--op create --znodes 7"))
                .expect("parses")
                .znodes_count(),
            7
        );
    }

    #[test]
    fn limits_and_bad_values_are_refused_with_the_flag_named() {
        for (args, needle) in [
            ("--read-ratio 0.5", "--op mixed"),
            ("--op mixed --read-ratio 1.5", "--read-ratio"),
            ("--op mixed --read-ratio NaN", "--read-ratio"),
            ("--rate 0", "--rate"),
            ("--rate -5", "--rate"),
            ("--rate fast", "--rate"),
            ("--sessions 0", "--sessions"),
            ("--sessions 10001", "--sessions"),
            ("--sessions 1000 --inflight 101", "--sessions × --inflight"),
            ("--inflight 0", "--inflight"),
            ("--secs 0", "--secs"),
            ("--secs inf", "--secs"),
            ("--size 2000000", "--size"),
            ("--znodes 0", "--znodes"),
            ("--znodes 1000000 --size 2000", "--znodes × --size"),
            ("--progress -1", "--progress"),
            ("--hosts ,", "--hosts"),
            ("--bogus", "--bogus"),
        ] {
            match parse(a(args)) {
                Ok(o) => panic!("{args}: accepted as {o:?}"),
                Err(e) => assert!(e.contains(needle), "{args}: {e}"),
            }
        }
    }
}
