//! What `zablab bench` measured: latencies in HdrHistograms (memory fixed whatever the number
//! of requests), the report, its machine-readable last line and its JSON.

use hdrhistogram::Histogram;
use serde::Serialize;

/// The largest latency a histogram holds apart (1 h); longer ones are recorded as 1 h.
pub const LATENCY_US_MAX: u64 = 3_600_000_000;
/// Significant decimal digits kept for every latency (values within 0.1% share a bucket).
const SIGNIFICANT_DIGITS: u8 = 3;

/// Latencies in microseconds, 1 µs to [`LATENCY_US_MAX`], at 3 significant digits.
#[derive(Clone, Debug)]
pub struct Latencies {
    h: Histogram<u64>,
}

impl Default for Latencies {
    fn default() -> Latencies {
        Latencies::new()
    }
}

impl Latencies {
    pub fn new() -> Latencies {
        let h = Histogram::new_with_bounds(1, LATENCY_US_MAX, SIGNIFICANT_DIGITS)
            .expect("constant bounds 1..LATENCY_US_MAX at 3 digits are valid");
        Latencies { h }
    }

    /// Records one latency (above [`LATENCY_US_MAX`]: recorded as the maximum).
    pub fn record(&mut self, us: u64) {
        self.h.saturating_record(us);
    }

    /// Adds every latency of `other` (same bounds, so this cannot fail).
    pub fn add(&mut self, other: &Latencies) {
        self.h
            .add(&other.h)
            .expect("histograms with the same bounds add");
    }

    pub fn count(&self) -> u64 {
        self.h.len()
    }

    /// The latency at quantile `q` (0 when nothing was recorded).
    pub fn quantile_us(&self, q: f64) -> u64 {
        if self.h.is_empty() {
            0
        } else {
            self.h.value_at_quantile(q)
        }
    }

    pub fn summary(&self) -> LatencySummary {
        LatencySummary {
            count: self.count(),
            mean_us: if self.h.is_empty() {
                0.0
            } else {
                self.h.mean()
            },
            p50_us: self.quantile_us(0.50),
            p90_us: self.quantile_us(0.90),
            p99_us: self.quantile_us(0.99),
            p999_us: self.quantile_us(0.999),
            max_us: if self.h.is_empty() { 0 } else { self.h.max() },
        }
    }

    /// `(upper bound µs, count)` of the power-of-two buckets (…, 1024..2047, 2048..4095, …; the
    /// last one holds the maximum); empty buckets are left out.
    pub fn log_buckets(&self) -> Vec<(u64, u64)> {
        if self.h.is_empty() {
            return Vec::new();
        }
        self.h
            .iter_log(1, 2.0)
            .map(|v| (v.value_iterated_to(), v.count_since_last_iteration()))
            .filter(|b| b.1 > 0)
            .collect()
    }
}

/// Count and quantiles of one kind of request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct LatencySummary {
    pub count: u64,
    pub mean_us: f64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct BenchReport {
    /// Requests that succeeded (their latencies are in `all`).
    pub ops: u64,
    pub errors: u64,
    /// Open loop only: requests due before the end that were still not sent when the drain
    /// after it ended (the servers, or this client, could not keep up with `--rate`).
    pub behind: u64,
    pub elapsed_secs: f64,
    pub ops_per_sec: f64,
    pub all: LatencySummary,
    pub reads: LatencySummary,
    pub writes: LatencySummary,
    /// `all` as `(upper bound µs, count)` power-of-two buckets ([`Latencies::log_buckets`]).
    pub buckets_us: Vec<(u64, u64)>,
}

impl BenchReport {
    pub fn new(
        reads: &Latencies,
        writes: &Latencies,
        errors: u64,
        behind: u64,
        elapsed_secs: f64,
    ) -> Self {
        let mut all = reads.clone();
        all.add(writes);
        BenchReport {
            ops: all.count(),
            errors,
            behind,
            elapsed_secs,
            ops_per_sec: all.count() as f64 / elapsed_secs.max(1e-9),
            all: all.summary(),
            reads: reads.summary(),
            writes: writes.summary(),
            buckets_us: all.log_buckets(),
        }
    }

    /// The machine-readable last line (bench/compare.sh reads it).
    pub fn summary_line(&self) -> String {
        format!(
            "ops/s: {:.1} p50_us: {} p99_us: {} p999_us: {}",
            self.ops_per_sec, self.all.p50_us, self.all.p99_us, self.all.p999_us
        )
    }

    /// The report as one JSON object, with the options that produced it.
    pub fn to_json(&self, o: &super::BenchOptions) -> serde_json::Value {
        serde_json::json!({
            "options": {
                "hosts": o.hosts,
                "op": o.op.name(),
                "sessions": o.sessions,
                "inflight": o.inflight,
                "secs": o.secs,
                "size": o.size,
                "rate": o.rate,
                "read_ratio": if o.op == super::BenchOp::Mixed { Some(o.read_ratio) } else { None },
                "znodes": o.znodes_count(),
            },
            "ops": self.ops,
            "errors": self.errors,
            "behind": self.behind,
            "elapsed_s": self.elapsed_secs,
            "ops_per_s": self.ops_per_sec,
            "latency_us": { "all": self.all, "read": self.reads, "write": self.writes },
            "buckets_us": self.buckets_us,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_within_three_digits() {
        let mut l = Latencies::new();
        for us in 1..=1000 {
            l.record(us);
        }
        let s = l.summary();
        assert_eq!(
            (s.count, s.p50_us, s.p99_us, s.p999_us, s.max_us),
            (1000, 500, 990, 999, 1000)
        );
        // 3 significant digits: 123_456 µs is held as 123_4xx.
        let mut big = Latencies::new();
        big.record(123_456);
        assert!(
            big.quantile_us(0.5).abs_diff(123_456) <= 124,
            "{}",
            big.quantile_us(0.5)
        );
        big.record(u64::MAX);
        assert!(
            big.summary().max_us >= LATENCY_US_MAX,
            "saturates at the maximum"
        );
        assert_eq!(Latencies::new().summary(), LatencySummary::default());
        assert!(Latencies::new().log_buckets().is_empty());
    }

    #[test]
    fn report_adds_reads_and_writes_and_buckets_count_everything() {
        let (mut r, mut w) = (Latencies::new(), Latencies::new());
        for us in [10, 20, 30] {
            r.record(us);
        }
        w.record(5000);
        let rep = BenchReport::new(&r, &w, 2, 7, 2.0);
        assert_eq!((rep.ops, rep.errors, rep.behind), (4, 2, 7));
        assert_eq!(
            (rep.reads.count, rep.writes.count, rep.all.count),
            (3, 1, 4)
        );
        assert_eq!(rep.ops_per_sec, 2.0);
        assert_eq!(rep.buckets_us.iter().map(|b| b.1).sum::<u64>(), 4);
        assert!(rep.buckets_us.last().is_some_and(|b| b.0 >= 5000));
        assert_eq!(
            rep.summary_line(),
            format!(
                "ops/s: 2.0 p50_us: 20 p99_us: {} p999_us: {}",
                rep.all.p99_us, rep.all.p999_us
            )
        );
    }

    #[test]
    fn json_has_the_counts_the_quantiles_in_order_and_the_options() {
        let (mut r, w) = (Latencies::new(), Latencies::new());
        for us in 1..=2000 {
            r.record(us * 7);
        }
        let rep = BenchReport::new(&r, &w, 1, 2, 4.0);
        let o = crate::tools::bench::parse(
            "--op mixed --read-ratio 0.25 --rate 500 --sessions 3 --inflight 2"
                .split(' ')
                .map(str::to_string)
                .collect(),
        )
        .expect("parses");
        let j = rep.to_json(&o);
        // One line, so a script can take it from stdout whole.
        assert!(!j.to_string().contains('\n'));
        assert_eq!(
            (
                j["ops"].as_u64(),
                j["errors"].as_u64(),
                j["behind"].as_u64()
            ),
            (Some(2000), Some(1), Some(2))
        );
        assert_eq!(j["ops_per_s"].as_f64(), Some(500.0));
        let all = &j["latency_us"]["all"];
        let q: Vec<u64> = ["p50_us", "p90_us", "p99_us", "p999_us", "max_us"]
            .iter()
            .map(|k| all[k].as_u64().unwrap_or_else(|| panic!("no {k}: {j}")))
            .collect();
        assert!(q.windows(2).all(|w| w[0] <= w[1]), "{q:?}");
        assert_eq!(j["latency_us"]["read"]["count"].as_u64(), Some(2000));
        assert_eq!(j["latency_us"]["write"]["count"].as_u64(), Some(0));
        let opts = &j["options"];
        assert_eq!(
            (
                opts["op"].as_str(),
                opts["read_ratio"].as_f64(),
                opts["rate"].as_f64()
            ),
            (Some("mixed"), Some(0.25), Some(500.0))
        );
        assert_eq!(
            (
                opts["sessions"].as_u64(),
                opts["inflight"].as_u64(),
                opts["znodes"].as_u64()
            ),
            (Some(3), Some(2), Some(6))
        );
        let buckets = j["buckets_us"].as_array().expect("buckets");
        assert_eq!(
            buckets
                .iter()
                .map(|b| b[1].as_u64().unwrap_or(0))
                .sum::<u64>(),
            2000
        );
    }
}
