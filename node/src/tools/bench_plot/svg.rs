//! A line chart as SVG text: axes with round-number ticks (linear or log), one polyline per
//! series with a dot at each point, and a legend. Hand-written so the plots in BENCHMARKS.md
//! need no plotting library; the output is a pure function of the chart, so it diffs cleanly.

use std::fmt::Write;

/// One line of the chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    pub label: String,
    pub color: &'static str,
    /// An SVG `stroke-dasharray` (None: solid).
    pub dash: Option<&'static str>,
    pub points: Vec<(f64, f64)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub x_log: bool,
    pub y_log: bool,
    pub lines: Vec<Line>,
}

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 440.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 230.0;
const TOP: f64 = 44.0;
const BOTTOM: f64 = 56.0;
/// Lines drawn at most (the legend has room for this many).
pub const LINES_MAX: usize = 16;

/// The colours lines take in turn (distinguishable in colour-blind palettes too).
pub const COLORS: [&str; 6] = [
    "#d55e00", "#0072b2", "#009e73", "#cc79a7", "#e69f00", "#56b4e9",
];
/// The dash patterns lines take in turn within a colour.
pub const DASHES: [Option<&str>; 4] = [None, Some("7 4"), Some("2 3"), Some("10 3 2 3")];

/// An axis: where its range maps, its ticks, and whether it is logarithmic.
struct Axis {
    lo: f64,
    hi: f64,
    log: bool,
    ticks: Vec<f64>,
}

impl Axis {
    fn new(values: &[f64], log: bool, from_zero: bool) -> Result<Axis, String> {
        let (mut lo, mut hi) = values
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(*v), b.max(*v))
            });
        if !(lo.is_finite() && hi.is_finite()) {
            return Err("no finite values to plot".into());
        }
        if log {
            if lo <= 0.0 {
                return Err(format!("{lo} cannot be drawn on a log axis"));
            }
            let (a, b) = (
                lo.log10().floor(),
                hi.log10().ceil().max(lo.log10().floor() + 1.0),
            );
            let ticks = log_ticks(a as i32, b as i32);
            return Ok(Axis {
                lo: 10f64.powf(a),
                hi: 10f64.powf(b),
                log,
                ticks,
            });
        }
        if from_zero {
            lo = lo.min(0.0);
        }
        if hi <= lo {
            hi = lo + 1.0;
        }
        let ticks = linear_ticks(lo, hi);
        let (first, last) = (ticks[0], ticks[ticks.len() - 1]);
        Ok(Axis {
            lo: first.min(lo),
            hi: last.max(hi),
            log,
            ticks,
        })
    }

    /// Where `v` falls, 0 at `lo` to 1 at `hi`.
    fn frac(&self, v: f64) -> f64 {
        if self.log {
            (v.log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        }
    }
}

/// Round-number ticks (1, 2 or 5 × 10ᵏ apart) covering `lo..=hi`, 4 to 10 of them.
pub fn linear_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let span = (hi - lo).max(f64::MIN_POSITIVE);
    let raw = span / 6.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| span / s <= 8.0)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).floor() * step;
    let n = ((hi - first) / step).ceil() as usize;
    (0..=n).map(|i| first + i as f64 * step).collect()
}

/// Ticks of a log axis from 10^a to 10^b: every decade, and 2 and 5 within it when the axis
/// spans at most two decades.
pub fn log_ticks(a: i32, b: i32) -> Vec<f64> {
    let mut out = Vec::new();
    for e in a..=b {
        let d = 10f64.powi(e);
        out.push(d);
        if b - a <= 2 && e < b {
            out.extend([2.0 * d, 5.0 * d]);
        }
    }
    out
}

/// A tick label: no trailing zeros, thousands as `k`, millions as `M`.
pub fn tick_label(v: f64) -> String {
    let trim = |s: String| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    };
    let a = v.abs();
    if a >= 1e6 {
        format!("{}M", trim(format!("{:.2}", v / 1e6)))
    } else if a >= 1e4 {
        format!("{}k", trim(format!("{:.1}", v / 1e3)))
    } else if a >= 1.0 || a == 0.0 {
        trim(format!("{v:.1}"))
    } else {
        trim(format!("{v:.3}"))
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The chart as a standalone SVG document.
pub fn render(c: &Chart) -> Result<String, String> {
    if c.lines.is_empty() || c.lines.len() > LINES_MAX {
        return Err(format!(
            "a chart has 1..={LINES_MAX} lines, not {}",
            c.lines.len()
        ));
    }
    if let Some(l) = c.lines.iter().find(|l| {
        l.points
            .iter()
            .any(|p| !(p.0.is_finite() && p.1.is_finite()))
    }) {
        return Err(format!(
            "line `{}` has a point that is not a finite number",
            l.label
        ));
    }
    let xs: Vec<f64> = c
        .lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.0))
        .collect();
    let ys: Vec<f64> = c
        .lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.1))
        .collect();
    let x = Axis::new(&xs, c.x_log, false).map_err(|e| format!("x axis: {e}"))?;
    let y = Axis::new(&ys, c.y_log, true).map_err(|e| format!("y axis: {e}"))?;
    let (pw, ph) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    let px = |v: f64| LEFT + x.frac(v) * pw;
    let py = |v: f64| TOP + (1.0 - y.frac(v)) * ph;
    let mut s = String::new();
    // Writing into a String cannot fail; the results are ignored for that reason.
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="24" text-anchor="middle" font-size="15">{}</text>"#,
        LEFT + pw / 2.0,
        escape(&c.title)
    );
    for t in x.ticks.iter().filter(|t| **t >= x.lo && **t <= x.hi) {
        let xp = px(*t);
        let _ = writeln!(
            s,
            r##"<line x1="{xp:.1}" y1="{TOP}" x2="{xp:.1}" y2="{:.1}" stroke="#e5e5e5"/><text x="{xp:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            TOP + ph,
            TOP + ph + 16.0,
            tick_label(*t)
        );
    }
    for t in y.ticks.iter().filter(|t| **t >= y.lo && **t <= y.hi) {
        let yp = py(*t);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{yp:.1}" x2="{:.1}" y2="{yp:.1}" stroke="#e5e5e5"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT + pw,
            LEFT - 6.0,
            yp + 4.0,
            tick_label(*t)
        );
    }
    let _ = writeln!(
        s,
        r##"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>"##
    );
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        LEFT + pw / 2.0,
        HEIGHT - 14.0,
        escape(&c.x_label)
    );
    let _ = writeln!(
        s,
        r#"<text x="18" y="{:.1}" text-anchor="middle" transform="rotate(-90 18 {:.1})">{}</text>"#,
        TOP + ph / 2.0,
        TOP + ph / 2.0,
        escape(&c.y_label)
    );
    for (i, l) in c.lines.iter().enumerate() {
        let dash = l
            .dash
            .map(|d| format!(r#" stroke-dasharray="{d}""#))
            .unwrap_or_default();
        let pts: Vec<String> = l
            .points
            .iter()
            .map(|p| format!("{:.1},{:.1}", px(p.0), py(p.1)))
            .collect();
        let _ = writeln!(
            s,
            r#"<polyline fill="none" stroke="{}" stroke-width="2"{dash} points="{}"/>"#,
            l.color,
            pts.join(" ")
        );
        for p in &l.points {
            let _ = writeln!(
                s,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{}"/>"#,
                px(p.0),
                py(p.1),
                l.color
            );
        }
        let ly = TOP + 10.0 + i as f64 * 20.0;
        let lx = LEFT + pw + 14.0;
        let _ = writeln!(
            s,
            r#"<line x1="{lx}" y1="{ly}" x2="{}" y2="{ly}" stroke="{}" stroke-width="2"{dash}/><text x="{}" y="{}">{}</text>"#,
            lx + 28.0,
            l.color,
            lx + 34.0,
            ly + 4.0,
            escape(&l.label)
        );
    }
    s.push_str("</svg>\n");
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_ticks_are_round_and_cover_the_range() {
        assert_eq!(
            linear_ticks(0.0, 100.0),
            vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
        );
        let t = linear_ticks(0.0, 73_412.0);
        assert_eq!((t[0], t[1]), (0.0, 10_000.0));
        assert!(*t.last().unwrap_or(&0.0) >= 73_412.0 && t.len() <= 10);
        let t = linear_ticks(0.0, 0.37);
        assert!((t[1] - 0.05).abs() < 1e-12 && t.len() <= 10, "{t:?}");
    }

    #[test]
    fn log_ticks_by_decade() {
        assert_eq!(log_ticks(0, 3), vec![1.0, 10.0, 100.0, 1000.0]);
        assert_eq!(log_ticks(2, 3), vec![100.0, 200.0, 500.0, 1000.0]);
        assert_eq!(
            (
                tick_label(0.0),
                tick_label(2.5),
                tick_label(20_000.0),
                tick_label(1.5e6)
            ),
            ("0".into(), "2.5".into(), "20k".into(), "1.5M".into())
        );
        assert_eq!(tick_label(0.05), "0.05");
    }

    fn chart(y_log: bool, ys: &[f64]) -> Chart {
        Chart {
            title: "a <b> & c".into(),
            x_label: "read %".into(),
            y_label: "ops/s".into(),
            x_log: false,
            y_log,
            lines: vec![
                Line {
                    label: "ZooKeeper".into(),
                    color: COLORS[0],
                    dash: None,
                    points: ys.iter().enumerate().map(|(i, y)| (i as f64, *y)).collect(),
                },
                Line {
                    label: "ZabLab".into(),
                    color: COLORS[1],
                    dash: DASHES[1],
                    points: vec![(0.0, 5.0), (2.0, 9.0)],
                },
            ],
        }
    }

    #[test]
    fn one_polyline_per_line_a_dot_per_point_and_escaped_text() {
        let svg = render(&chart(false, &[1.0, 2.0, 3.0])).expect("renders");
        assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>\n"));
        assert_eq!(svg.matches("<polyline ").count(), 2);
        assert_eq!(svg.matches("<circle ").count(), 5);
        assert!(svg.contains("a &lt;b&gt; &amp; c") && !svg.contains("<b>"));
        assert!(svg.contains(r#"stroke-dasharray="7 4""#));
        // Every drawn coordinate is inside the picture.
        for pts in svg.split("points=\"").skip(1) {
            for xy in pts.split('"').next().unwrap_or_default().split(' ') {
                let (x, y) = xy.split_once(',').expect("x,y");
                let (x, y): (f64, f64) = (x.parse().expect("x"), y.parse().expect("y"));
                assert!(
                    (LEFT..=WIDTH - RIGHT).contains(&x) && (TOP..=HEIGHT - BOTTOM).contains(&y)
                );
            }
        }
    }

    #[test]
    fn refuses_what_it_cannot_draw() {
        assert!(render(&chart(true, &[0.0, 1.0])).is_err_and(|e| e.contains("log axis")));
        assert!(render(&chart(false, &[f64::NAN])).is_err_and(|e| e.contains("finite")));
        let mut empty = chart(false, &[1.0]);
        empty.lines.clear();
        assert!(render(&empty).is_err());
    }
}
