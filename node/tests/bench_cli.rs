//! `zablab bench` against a 3-server `zablab cluster`: a short open-loop mixed run with many
//! sessions, preloaded znodes and JSON output (then drawn by `zablab bench-plot`, as
//! bench/compare.sh does), and a closed-loop create run in text; the runs clean up after themselves. No timing thresholds: the counts checked follow from the schedule.

mod common;
mod realclients;

use std::process::Command;

use common::BIN;
use realclients::ZablabCluster;

fn zablab(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN).args(args).output().expect("run zablab");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn open_loop_mixed_json_and_closed_loop_create_against_zablab_cluster() {
    let cluster = ZablabCluster::start("bench");
    let hosts = cluster.addrs().join(",");

    // 400 requests due over 1 s, half of them reads, on 6 sessions × 2, over 50 znodes.
    let (ok, out, err) = zablab(&[
        "bench",
        "--hosts",
        &hosts,
        "--op",
        "mixed",
        "--read-ratio",
        "0.5",
        "--sessions",
        "6",
        "--inflight",
        "2",
        "--rate",
        "400",
        "--znodes",
        "50",
        "--secs",
        "1",
        "--json",
        "--progress",
        "0.5",
    ]);
    assert!(ok, "bench failed: {out}\n{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "--json prints one line on stdout: {out}");
    let j: serde_json::Value = serde_json::from_str(lines[0]).expect("JSON");
    let n = |v: &serde_json::Value| v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"));
    let (ops, errors, behind) = (n(&j["ops"]), n(&j["errors"]), n(&j["behind"]));
    assert_eq!(errors, 0, "{j}");
    assert!(ops > 0, "{j}");
    // Open loop: exactly the 400 requests due were sent, or reported as behind.
    assert_eq!(ops + errors + behind, 400, "{j}");
    let (reads, writes) = (
        n(&j["latency_us"]["read"]["count"]),
        n(&j["latency_us"]["write"]["count"]),
    );
    assert_eq!(reads + writes, ops, "{j}");
    if behind == 0 {
        assert_eq!((reads, writes), (200, 200), "read ratio 0.5 is exact: {j}");
    }
    let all = &j["latency_us"]["all"];
    let quantiles: Vec<u64> = ["p50_us", "p90_us", "p99_us", "p999_us", "max_us"]
        .iter()
        .map(|k| n(&all[k]))
        .collect();
    assert!(
        quantiles.windows(2).all(|w| w[0] <= w[1]),
        "percentiles ordered: {j}"
    );
    assert_eq!(n(&all["count"]), ops, "{j}");
    let buckets = j["buckets_us"].as_array().expect("buckets");
    assert_eq!(buckets.iter().map(|b| n(&b[1])).sum::<u64>(), ops, "{j}");
    assert_eq!(j["options"]["sessions"], 6);
    assert_eq!(j["options"]["znodes"], 50);
    assert_eq!(j["options"]["read_ratio"], 0.5);

    // bench/compare.sh's next step: the JSON as a point of a curve, through `zablab bench-plot`.
    let dir = std::env::temp_dir().join(format!("zablab-bench-plot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let points = dir.join("points.jsonl");
    let point = format!(
        "{{\"system\":\"ZabLab\",\"servers\":3,\"x\":50,\"bench\":{}}}\n",
        lines[0]
    );
    std::fs::write(&points, point).expect("write points");
    let svg = dir.join("p.svg");
    let (ok, table, err) = zablab(&[
        "bench-plot",
        "--points",
        &points.to_string_lossy(),
        "--metrics",
        "p50,p99,p999",
        "--x-label",
        "read %",
        "--svg",
        &svg.to_string_lossy(),
    ]);
    assert!(ok, "bench-plot failed: {table}\n{err}");
    let row = table.lines().nth(2).unwrap_or_default();
    let ms = |k: &str| n(&all[k]) as f64 / 1000.0;
    let cells: Vec<f64> = row
        .split('|')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| c.trim_end_matches(" *").parse().unwrap_or(f64::NAN))
        .collect();
    assert_eq!(cells.len(), 4, "x and three quantiles: {table}");
    assert_eq!(cells[0], 50.0, "{table}");
    for (c, k) in cells[1..].iter().zip(["p50_us", "p99_us", "p999_us"]) {
        // The table rounds to 3 significant digits at most.
        assert!(
            (c - ms(k)).abs() <= ms(k) * 0.01 + 0.005,
            "{k}: {c} vs {}: {table}",
            ms(k)
        );
    }
    let svg_text = std::fs::read_to_string(&svg).expect("the SVG was written");
    assert_eq!(
        svg_text.matches("<polyline ").count(),
        3,
        "one line per quantile"
    );
    let _ = std::fs::remove_dir_all(&dir);

    // Closed loop, text: the last line is the one bench/compare.sh reads.
    let (ok, out, err) = zablab(&[
        "bench",
        "--hosts",
        &hosts,
        "--op",
        "create",
        "--sessions",
        "2",
        "--inflight",
        "4",
        "--secs",
        "0.5",
    ]);
    assert!(ok, "bench failed: {out}\n{err}");
    let counts = out
        .lines()
        .find(|l| l.starts_with("ops: "))
        .unwrap_or_default();
    let created: u64 = counts
        .split(' ')
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!(
        created > 0 && counts.contains(" errors: 0 behind: 0 "),
        "{out}\n{err}"
    );
    let last = out.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("ops/s: ") && last.contains(" p999_us: "),
        "{out}"
    );

    // Bad options exit 2 and name the flag.
    let (ok, _, err) = zablab(&[
        "bench",
        "--hosts",
        &hosts,
        "--op",
        "set",
        "--read-ratio",
        "0.5",
    ]);
    assert!(
        !ok && err.contains("--read-ratio is for --op mixed"),
        "{err}"
    );

    // Both runs deleted what they made.
    let (ok, out, err) = zablab(&["cli", "-server", &hosts, "ls", "/"]);
    assert!(ok, "{out}\n{err}");
    assert!(!out.contains("zablab-bench"), "{out}");
}
