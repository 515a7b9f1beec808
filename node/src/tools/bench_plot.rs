//! `zablab bench-plot`: one curve of bench/compare.sh as a Markdown table and an SVG, both
//! from the same points, so the figure in BENCHMARKS.md and its table cannot disagree.
//!
//! ```text
//! zablab bench-plot --points FILE --metrics ops|p50,p99,p999,... --x-label LABEL
//!                   [--title TITLE] [--x-log] [--y-log] [--svg OUT.svg]
//! ```
//!
//! Each line of FILE is one point: `{"system": "ZabLab", "servers": 3, "x": 25, "bench": {...}}`
//! where `bench` is what `zablab bench --json` printed. A series is one (system, servers); the
//! table (on stdout) has a row per x, a column per series and metric, and where two systems ran
//! with the same number of servers, the second over the first for each metric. A cell is empty
//! where a series has no point (an open-loop ladder that stopped at saturation); `*` marks a
//! point whose run fell behind its offered rate, `†` one with failed requests.

mod svg;

pub use svg::{render, Chart, Line};

/// Limits on the input (it is a file a script wrote, but still from outside the program).
pub const POINTS_FILE_BYTES_MAX: u64 = 16 << 20;
pub const POINTS_MAX: usize = 10_000;
pub const METRICS_MAX: usize = 4;

/// What a column shows, read from a point's `bench` object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    Ops,
    P50,
    P99,
    P999,
    Max,
}

impl Metric {
    fn parse(s: &str) -> Result<Metric, String> {
        Ok(match s {
            "ops" => Metric::Ops,
            "p50" => Metric::P50,
            "p99" => Metric::P99,
            "p999" => Metric::P999,
            "max" => Metric::Max,
            other => {
                return Err(format!(
                    "unknown metric `{other}` (ops, p50, p99, p999, max)"
                ))
            }
        })
    }

    fn name(self) -> &'static str {
        match self {
            Metric::Ops => "ops/s",
            Metric::P50 => "p50 ms",
            Metric::P99 => "p99 ms",
            Metric::P999 => "p99.9 ms",
            Metric::Max => "max ms",
        }
    }

    fn is_latency(self) -> bool {
        self != Metric::Ops
    }

    /// The value from `zablab bench --json` (latencies in milliseconds).
    fn of(self, bench: &serde_json::Value) -> Option<f64> {
        let us = |q: &str| bench["latency_us"]["all"][q].as_f64().map(|v| v / 1000.0);
        match self {
            Metric::Ops => bench["ops_per_s"].as_f64(),
            Metric::P50 => us("p50_us"),
            Metric::P99 => us("p99_us"),
            Metric::P999 => us("p999_us"),
            Metric::Max => us("max_us"),
        }
    }
}

/// One measured point.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub system: String,
    pub servers: u64,
    pub x: f64,
    /// The metrics' values, in the order asked for.
    pub values: Vec<f64>,
    pub behind: u64,
    pub errors: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PlotOptions {
    pub points: String,
    pub metrics: Vec<Metric>,
    pub x_label: String,
    pub title: String,
    pub x_log: bool,
    pub y_log: bool,
    pub svg: Option<String>,
}

pub const USAGE: &str = "usage: zablab bench-plot --points FILE --metrics ops|p50,p99,p999,max --x-label LABEL [--title TITLE] [--x-log] [--y-log] [--svg OUT.svg]";

pub fn parse(args: Vec<String>) -> Result<PlotOptions, String> {
    let (mut points, mut metrics, mut x_label) = (None, None, None);
    let mut o = PlotOptions {
        points: String::new(),
        metrics: Vec::new(),
        x_label: String::new(),
        title: String::new(),
        x_log: false,
        y_log: false,
        svg: None,
    };
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let mut val = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--points" => points = Some(val("--points")?),
            "--metrics" => metrics = Some(val("--metrics")?),
            "--x-label" => x_label = Some(val("--x-label")?),
            "--title" => o.title = val("--title")?,
            "--svg" => o.svg = Some(val("--svg")?),
            "--x-log" => o.x_log = true,
            "--y-log" => o.y_log = true,
            other => return Err(format!("unexpected argument `{other}`")),
        }
    }
    o.points = points.ok_or("--points FILE is required")?;
    o.x_label = x_label.ok_or("--x-label is required")?;
    o.metrics = metrics
        .ok_or("--metrics is required")?
        .split(',')
        .map(Metric::parse)
        .collect::<Result<_, _>>()?;
    if o.metrics.len() > METRICS_MAX {
        return Err(format!("--metrics takes at most {METRICS_MAX}"));
    }
    let mixed = o.metrics.iter().any(|m| m.is_latency()) && o.metrics.contains(&Metric::Ops);
    if mixed && o.svg.is_some() {
        return Err("--metrics: ops and latencies need two plots (one y axis each); a table alone may mix them".into());
    }
    Ok(o)
}

/// Reads the points, one JSON object a line (blank lines skipped).
pub fn parse_points(text: &str, metrics: &[Metric]) -> Result<Vec<Point>, String> {
    let mut out = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let at = |e: &str| format!("line {}: {e}", i + 1);
        if out.len() == POINTS_MAX {
            return Err(at(&format!("more than {POINTS_MAX} points")));
        }
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| at(&format!("not JSON: {e}")))?;
        let system = v["system"]
            .as_str()
            .ok_or_else(|| at("no \"system\" string"))?;
        let servers = v["servers"]
            .as_u64()
            .ok_or_else(|| at("no \"servers\" count"))?;
        let x = v["x"].as_f64().ok_or_else(|| at("no \"x\" number"))?;
        let bench = &v["bench"];
        let values = metrics
            .iter()
            .map(|m| {
                m.of(bench)
                    .ok_or_else(|| at(&format!("bench has no {}", m.name())))
            })
            .collect::<Result<Vec<f64>, String>>()?;
        let count = |k: &str| {
            bench[k]
                .as_u64()
                .ok_or_else(|| at(&format!("bench has no \"{k}\" count")))
        };
        out.push(Point {
            system: system.to_string(),
            servers,
            x,
            values,
            behind: count("behind")?,
            errors: count("errors")?,
        });
    }
    if out.is_empty() {
        return Err("no points".into());
    }
    Ok(out)
}

/// The series (system, servers) in the order they first appear.
fn series(points: &[Point]) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = Vec::new();
    for p in points {
        if !out.iter().any(|s| s.0 == p.system && s.1 == p.servers) {
            out.push((p.system.clone(), p.servers));
        }
    }
    out
}

fn find<'a>(points: &'a [Point], s: &(String, u64), x: f64) -> Option<&'a Point> {
    points
        .iter()
        .find(|p| p.system == s.0 && p.servers == s.1 && p.x == x)
}

fn number(v: f64) -> String {
    let a = v.abs();
    // Whole numbers (read %, rates, session counts) and anything from 100 up: no decimals.
    if (v.fract() == 0.0 && a < 1e15) || a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// The Markdown table: for each number of servers (ascending), its series' columns, then the
/// second system over the first where two ran with that many servers.
pub fn table(points: &[Point], metrics: &[Metric], x_label: &str) -> String {
    let mut all = series(points);
    all.sort_by_key(|s| s.1); // stable: systems keep their order of appearance
    let mut servers: Vec<u64> = all.iter().map(|s| s.1).collect();
    servers.dedup();
    let mut xs: Vec<f64> = points.iter().map(|p| p.x).collect();
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    // A column: a series' metric, or the ratio of two series' metric.
    enum Col<'a> {
        Value(&'a (String, u64), usize),
        Ratio(&'a (String, u64), &'a (String, u64), usize),
    }
    let mut cols = Vec::new();
    let mut head = vec![x_label.to_string()];
    for n in &servers {
        let group: Vec<&(String, u64)> = all.iter().filter(|s| s.1 == *n).collect();
        for s in &group {
            for (k, m) in metrics.iter().enumerate() {
                head.push(format!("{} ({} servers) {}", s.0, s.1, m.name()));
                cols.push(Col::Value(s, k));
            }
        }
        if let [a, b] = group[..] {
            for (k, m) in metrics.iter().enumerate() {
                head.push(format!("{} / {} ({n} servers) {}", b.0, a.0, m.name()));
                cols.push(Col::Ratio(a, b, k));
            }
        }
    }
    let mut out = format!("| {} |\n|{}\n", head.join(" | "), "---|".repeat(head.len()));
    let (mut any_behind, mut any_errors) = (false, false);
    for x in &xs {
        let mut row = vec![number(*x)];
        for c in &cols {
            row.push(match c {
                Col::Value(s, k) => match find(points, s, *x) {
                    Some(p) => {
                        let mut c = number(p.values[*k]);
                        if p.behind > 0 {
                            c.push_str(" *");
                            any_behind = true;
                        }
                        if p.errors > 0 {
                            c.push_str(" †");
                            any_errors = true;
                        }
                        c
                    }
                    None => String::new(),
                },
                Col::Ratio(a, b, k) => match (find(points, a, *x), find(points, b, *x)) {
                    (Some(pa), Some(pb)) if pa.values[*k] > 0.0 => {
                        format!("{:.2}×", pb.values[*k] / pa.values[*k])
                    }
                    _ => String::new(),
                },
            });
        }
        out.push_str(&format!("| {} |\n", row.join(" | ")));
    }
    if any_behind {
        out.push_str(
            "\n\\* fell behind the offered rate: requests were due that the run never sent.\n",
        );
    }
    if any_errors {
        out.push_str("\n† some requests failed.\n");
    }
    out
}

/// The chart: a colour per system, a dash pattern per (servers, metric).
pub fn chart(points: &[Point], o: &PlotOptions) -> Chart {
    let all = series(points);
    let systems: Vec<&String> = all.iter().fold(Vec::new(), |mut v, s| {
        if !v.contains(&&s.0) {
            v.push(&s.0);
        }
        v
    });
    let mut servers: Vec<u64> = all.iter().map(|s| s.1).collect();
    servers.sort_unstable();
    servers.dedup();
    let mut lines = Vec::new();
    for s in &all {
        let colour = systems.iter().position(|n| **n == s.0).unwrap_or(0);
        let srv = servers.iter().position(|n| *n == s.1).unwrap_or(0);
        for (k, m) in o.metrics.iter().enumerate() {
            let mut pts: Vec<(f64, f64)> = points
                .iter()
                .filter(|p| p.system == s.0 && p.servers == s.1)
                .map(|p| (p.x, p.values[k]))
                .collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut label = format!("{}, {} servers", s.0, s.1);
            if o.metrics.len() > 1 {
                label = format!("{label}, {}", m.name().trim_end_matches(" ms"));
            }
            lines.push(Line {
                label,
                color: svg::COLORS[colour % svg::COLORS.len()],
                dash: svg::DASHES[(srv * o.metrics.len() + k) % svg::DASHES.len()],
                points: pts,
            });
        }
    }
    let y_label = if o.metrics[0].is_latency() {
        "latency (ms)"
    } else {
        "throughput (ops/s)"
    };
    Chart {
        title: o.title.clone(),
        x_label: o.x_label.clone(),
        y_label: y_label.into(),
        x_log: o.x_log,
        y_log: o.y_log,
        lines,
    }
}

fn plot(o: &PlotOptions) -> Result<String, String> {
    let len = std::fs::metadata(&o.points)
        .map_err(|e| format!("{}: {e}", o.points))?
        .len();
    if len > POINTS_FILE_BYTES_MAX {
        return Err(format!(
            "{}: more than {POINTS_FILE_BYTES_MAX} bytes",
            o.points
        ));
    }
    let text = std::fs::read_to_string(&o.points).map_err(|e| format!("{}: {e}", o.points))?;
    let points = parse_points(&text, &o.metrics).map_err(|e| format!("{}: {e}", o.points))?;
    if let Some(path) = &o.svg {
        let svg = render(&chart(&points, o))?;
        std::fs::write(path, svg).map_err(|e| format!("{path}: {e}"))?;
    }
    Ok(table(&points, &o.metrics, &o.x_label))
}

/// The `zablab bench-plot` entry point; returns the process exit code.
pub fn run(args: Vec<String>) -> i32 {
    let o = match parse(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("zablab bench-plot: {e}\n{USAGE}");
            return 2;
        }
    };
    match plot(&o) {
        Ok(t) => {
            print!("{t}");
            0
        }
        Err(e) => {
            eprintln!("zablab bench-plot: {e}");
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

    fn line(system: &str, servers: u64, x: f64, ops: f64, p99_us: u64, behind: u64) -> String {
        serde_json::json!({
            "system": system, "servers": servers, "x": x,
            "bench": {"ops_per_s": ops, "errors": 0, "behind": behind,
                      "latency_us": {"all": {"p50_us": p99_us / 2, "p99_us": p99_us,
                                             "p999_us": p99_us * 2, "max_us": p99_us * 3}}}
        })
        .to_string()
    }

    #[test]
    fn arguments_and_their_errors() {
        let o = parse(a(
            "--points p.jsonl --metrics p50,p99 --x-label rate --x-log --svg o.svg",
        ))
        .expect("parses");
        assert_eq!(o.metrics, vec![Metric::P50, Metric::P99]);
        assert!(o.x_log && !o.y_log && o.svg.as_deref() == Some("o.svg"));
        // A table alone may mix throughput and latency columns.
        let t = parse(a("--points p --metrics ops,p99 --x-label r")).expect("parses");
        assert_eq!(t.metrics, vec![Metric::Ops, Metric::P99]);
        for (args, needle) in [
            ("--metrics ops --x-label r", "--points"),
            ("--points p --x-label r", "--metrics"),
            ("--points p --metrics ops", "--x-label"),
            (
                "--points p --metrics ops,p99 --x-label r --svg o.svg",
                "two plots",
            ),
            (
                "--points p --metrics p42 --x-label r",
                "unknown metric `p42`",
            ),
            (
                "--points p --metrics p50,p50,p50,p50,p50 --x-label r",
                "at most 4",
            ),
            ("--points", "--points needs a value"),
            ("--nope", "`--nope`"),
        ] {
            match parse(a(args)) {
                Ok(o) => panic!("{args}: accepted as {o:?}"),
                Err(e) => assert!(e.contains(needle), "{args}: {e}"),
            }
        }
    }

    #[test]
    fn points_are_read_with_the_line_of_a_bad_one() {
        let text = format!(
            "{}\n\n{}\n",
            line("ZK", 3, 0.0, 10.0, 2000, 0),
            line("ZL", 3, 0.0, 40.0, 500, 3)
        );
        let p = parse_points(&text, &[Metric::Ops, Metric::P99]).expect("parses");
        assert_eq!(p.len(), 2);
        assert_eq!((p[1].values.clone(), p[1].behind), (vec![40.0, 0.5], 3));
        let bad = format!(
            "{}\n{{\"system\":\"ZK\",\"servers\":3,\"x\":1,\"bench\":{{}}}}",
            line("ZK", 3, 0.0, 1.0, 1, 0)
        );
        assert!(parse_points(&bad, &[Metric::Ops])
            .is_err_and(|e| e.starts_with("line 2: ") && e.contains("ops/s")));
        assert!(parse_points("nope", &[Metric::Ops]).is_err_and(|e| e.contains("line 1: not JSON")));
        assert!(parse_points("\n", &[Metric::Ops]).is_err_and(|e| e == "no points"));
    }

    #[test]
    fn table_has_a_row_per_x_a_column_per_series_and_the_ratio() {
        let text = [
            line("ZooKeeper", 3, 0.0, 100.0, 1000, 0),
            line("ZooKeeper", 3, 50.0, 200.0, 1000, 0),
            line("ZabLab", 3, 0.0, 400.0, 1000, 0),
            line("ZabLab", 3, 50.0, 1000.0, 1000, 5),
            line("ZabLab", 5, 50.0, 900.0, 1000, 0),
        ]
        .join("\n");
        let p = parse_points(&text, &[Metric::Ops]).expect("parses");
        let t = table(&p, &[Metric::Ops], "read %");
        let rows: Vec<&str> = t.lines().collect();
        assert_eq!(
            rows[0],
            "| read % | ZooKeeper (3 servers) ops/s | ZabLab (3 servers) ops/s | ZabLab / ZooKeeper (3 servers) ops/s | ZabLab (5 servers) ops/s |"
        );
        assert_eq!(rows[1], "|---|---|---|---|---|");
        assert_eq!(rows[2], "| 0 | 100 | 400 | 4.00× |  |");
        assert_eq!(rows[3], "| 50 | 200 | 1000 * | 5.00× | 900 |");
        assert!(t.contains("fell behind") && !t.contains("failed"));
        // The chart: one line per series, points in x order, a colour per system.
        let o = parse(a("--points p --metrics ops --x-label r")).expect("parses");
        let c = chart(&p, &o);
        assert_eq!(c.lines.len(), 3);
        assert_eq!(c.lines[1].points, vec![(0.0, 400.0), (50.0, 1000.0)]);
        assert_eq!(c.lines[1].color, c.lines[2].color);
        assert_ne!(c.lines[0].color, c.lines[1].color);
        assert_ne!(c.lines[1].dash, c.lines[2].dash);
        assert!(render(&c).is_ok());
    }
}
