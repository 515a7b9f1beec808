//! `/metrics` in the Prometheus text exposition format (version 0.0.4), as ZooKeeper's
//! `PrometheusMetricsProvider` serves it through Prometheus' Java `simpleclient` 0.9: a
//! `# HELP name name` and `# TYPE` line per family, values printed as Java doubles (`5.0`,
//! `NaN`), summaries as `name{quantile="0.5",}` samples then `name_count` and `name_sum`.
//! Served on `metricsProvider.httpHost:httpPort` when `metricsProvider.className` names the
//! Prometheus provider.

use std::sync::Arc;

use crate::server::http::{self, Request, Response};
use crate::server::monitor::{catalogue, max_fds, open_fds, Kind, Metric, Value};
use crate::server::shared::Shared;

/// The Content-Type Prometheus' text format is served with.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A double as Java's `Double.toString` prints it (what simpleclient writes): `5.0`, `0.25`,
/// `1.0E7`, `NaN`, `+Inf`.
pub fn java_double(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let a = x.abs();
    if a != 0.0 && !(1e-3..1e7).contains(&a) {
        // Rust prints "1e7" / "1.5e-5"; Java "1.0E7" / "1.5E-5".
        let s = format!("{x:e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let mantissa = if mantissa.contains('.') {
            mantissa.to_string()
        } else {
            format!("{mantissa}.0")
        };
        return format!("{mantissa}E{exp}");
    }
    if x.fract() == 0.0 {
        format!("{x:.1}")
    } else {
        format!("{x}")
    }
}

fn family(out: &mut String, m: &Metric) {
    let ty = match m.kind {
        Kind::Counter => "counter",
        Kind::Gauge => "gauge",
        Kind::Summary { .. } => "summary",
    };
    let n = m.name;
    out.push_str(&format!("# HELP {n} {n}\n# TYPE {n} {ty}\n"));
    match &m.value {
        Value::Int(i) => out.push_str(&format!("{n} {}\n", java_double(*i as f64))),
        Value::Float(f) => out.push_str(&format!("{n} {}\n", java_double(*f))),
        Value::Summary(v) => {
            let quantiles: &[f64] = match m.kind {
                Kind::Summary { advanced: true } => &[0.5, 0.9, 0.99],
                _ => &[0.5],
            };
            for q in quantiles {
                let value = v.quantile(*q).map_or(f64::NAN, |x| x as f64);
                out.push_str(&format!(
                    "{n}{{quantile=\"{}\",}} {}\n",
                    java_double(*q),
                    java_double(value)
                ));
            }
            out.push_str(&format!("{n}_count {}\n", java_double(v.count as f64)));
            out.push_str(&format!("{n}_sum {}\n", java_double(v.sum as f64)));
        }
    }
}

/// The whole exposition of `metrics`.
pub fn render(metrics: &[Metric]) -> String {
    let mut out = String::with_capacity(metrics.len() * 96);
    for m in metrics {
        family(&mut out, m);
    }
    out
}

/// One `process_*` family of Prometheus' standard exports (`StandardExports`), with its help.
fn process_family(out: &mut String, name: &str, ty: &str, help: &str, value: f64) {
    out.push_str(&format!(
        "# HELP {name} {help}\n# TYPE {name} {ty}\n{name} {}\n",
        java_double(value)
    ));
}

/// The `process_*` families, read from `/proc/self` (the figures are absent where it is not).
fn process_families(out: &mut String, shared: &Shared) {
    // utime and stime (fields 14 and 15) in clock ticks: USER_HZ, 100 on Linux.
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_comm = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok());
    // After "pid (comm)" the fields start at 3 (state): utime is field 14, so index 11.
    if let (Some(u), Some(s)) = (ticks(11), ticks(12)) {
        let secs = u.saturating_add(s) as f64 / 100.0;
        process_family(
            out,
            "process_cpu_seconds_total",
            "counter",
            "Total user and system CPU time spent in seconds.",
            secs,
        );
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let start = now - shared.started.elapsed().as_secs_f64();
    process_family(
        out,
        "process_start_time_seconds",
        "gauge",
        "Start time of the process since unix epoch in seconds.",
        start,
    );
    process_family(
        out,
        "process_open_fds",
        "gauge",
        "Number of open file descriptors.",
        open_fds() as f64,
    );
    process_family(
        out,
        "process_max_fds",
        "gauge",
        "Maximum number of open file descriptors.",
        max_fds() as f64,
    );
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
    };
    for (key, name, help) in [
        (
            "VmSize:",
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
        ),
        (
            "VmRSS:",
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
        ),
    ] {
        if let Some(k) = kib(key) {
            process_family(out, name, "gauge", help, k.saturating_mul(1024) as f64);
        }
    }
}

/// What the metrics port answers: `/metrics` (ZooKeeper's servlet path), else 404.
pub fn answer(shared: &Shared, req: &Request) -> Response {
    if req.path != "/metrics" {
        return Response::text(404, "not found; try /metrics\n");
    }
    let mut text = render(&catalogue(shared));
    if shared.config.metrics_export_process_info {
        process_families(&mut text, shared);
    }
    Response::new(200, CONTENT_TYPE, text)
}

/// Serves `/metrics` on `listener`.
pub fn spawn(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    http::spawn(
        listener,
        Arc::new(move |req| {
            let shared = shared.clone();
            Box::pin(async move { answer(&shared, &req) })
        }),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::metrics::Summary;

    #[test]
    fn doubles_print_as_java_does() {
        assert_eq!(java_double(5.0), "5.0");
        assert_eq!(java_double(0.0), "0.0");
        assert_eq!(java_double(0.25), "0.25");
        assert_eq!(java_double(-3.0), "-3.0");
        assert_eq!(java_double(1e7), "1.0E7");
        assert_eq!(java_double(12345678.0), "1.2345678E7");
        assert_eq!(java_double(f64::NAN), "NaN");
        assert_eq!(java_double(f64::INFINITY), "+Inf");
    }

    #[test]
    fn families_have_simpleclients_lines() {
        let s = Summary::default();
        s.add(10);
        s.add(10);
        let text = render(&[
            Metric {
                name: "cc",
                kind: Kind::Counter,
                value: Value::Int(10),
            },
            Metric {
                name: "gg",
                kind: Kind::Gauge,
                value: Value::Float(2.5),
            },
            Metric {
                name: "ss",
                kind: Kind::Summary { advanced: true },
                value: Value::Summary(s.view()),
            },
            Metric {
                name: "bb",
                kind: Kind::Summary { advanced: false },
                value: Value::Summary(Summary::default().view()),
            },
        ]);
        let want = "# HELP cc cc\n# TYPE cc counter\ncc 10.0\n\
                    # HELP gg gg\n# TYPE gg gauge\ngg 2.5\n\
                    # HELP ss ss\n# TYPE ss summary\nss{quantile=\"0.5\",} 10.0\n\
                    ss{quantile=\"0.9\",} 10.0\nss{quantile=\"0.99\",} 10.0\nss_count 2.0\nss_sum 20.0\n\
                    # HELP bb bb\n# TYPE bb summary\nbb{quantile=\"0.5\",} NaN\nbb_count 0.0\nbb_sum 0.0\n";
        assert_eq!(text, want);
    }
}
