//! A ZooKeeper `Summary` (a timing or a size observed many times) and `BufferStats` (the last,
//! smallest and largest of a size, -1 before the first). Both keep a bounded amount of memory
//! whatever the traffic.
//!
//! ZooKeeper's Prometheus provider keeps a summary's quantiles over a sliding time window
//! (Prometheus' `CKMSQuantiles`, ten minutes); ZabLab keeps them over the last
//! [`SUMMARY_WINDOW_SAMPLES`] observations, which answers the same question ("what did recent
//! requests see") with a fixed memory bound. Count, sum, min and max cover every observation
//! since the start, as ZooKeeper's do.

use std::collections::VecDeque;
use std::sync::Mutex;

/// Observations a summary keeps for its quantiles.
pub const SUMMARY_WINDOW_SAMPLES: usize = 4096;

/// What a summary reports at one instant.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SummaryView {
    pub count: u64,
    pub sum: u64,
    /// 0 before the first observation (ZooKeeper's `AvgMinMaxCounter` prints 0 too).
    pub min: u64,
    pub max: u64,
    /// The retained window, sorted ascending.
    window_sorted: Vec<u64>,
}

impl SummaryView {
    pub fn avg(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum as f64 / self.count as f64
        }
    }

    /// The `q`-quantile (0 ≤ q ≤ 1) of the retained window, None when nothing was observed
    /// (Prometheus then reports NaN). Nearest rank, as `AvgMinMaxPercentileCounter` does.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        let n = self.window_sorted.len();
        if n == 0 {
            return None;
        }
        let q = q.clamp(0.0, 1.0);
        // Rank ceil(q·n), 1-based; an index in 0..n.
        let rank = (q * n as f64).ceil() as usize;
        let idx = rank.saturating_sub(1).min(n - 1);
        self.window_sorted.get(idx).copied()
    }
}

#[derive(Default)]
struct SummaryState {
    count: u64,
    sum: u64,
    min: Option<u64>,
    max: u64,
    window: VecDeque<u64>,
}

/// A summary shared between the task that observes and the ones that report.
#[derive(Default)]
pub struct Summary {
    state: Mutex<SummaryState>,
}

impl Summary {
    pub fn add(&self, value: u64) {
        if let Ok(mut s) = self.state.lock() {
            s.count = s.count.saturating_add(1);
            s.sum = s.sum.saturating_add(value);
            s.min = Some(s.min.map_or(value, |m| m.min(value)));
            s.max = s.max.max(value);
            if s.window.len() == SUMMARY_WINDOW_SAMPLES {
                s.window.pop_front();
            }
            s.window.push_back(value);
        }
    }

    /// Forgets every observation (`srst` with ZooKeeper's default provider).
    pub fn reset(&self) {
        if let Ok(mut s) = self.state.lock() {
            *s = SummaryState::default();
        }
    }

    pub fn view(&self) -> SummaryView {
        let Ok(s) = self.state.lock() else {
            return SummaryView::default();
        };
        let mut window_sorted: Vec<u64> = s.window.iter().copied().collect();
        window_sorted.sort_unstable();
        SummaryView {
            count: s.count,
            sum: s.sum,
            min: s.min.unwrap_or(0),
            max: s.max,
            window_sorted,
        }
    }
}

/// ZooKeeper's `BufferStats`: sizes of client responses or of proposals.
#[derive(Debug)]
pub struct BufferStats {
    /// (last, min, max); -1 each before the first.
    sizes: Mutex<(i64, i64, i64)>,
}

impl Default for BufferStats {
    fn default() -> Self {
        BufferStats {
            sizes: Mutex::new((-1, -1, -1)),
        }
    }
}

impl BufferStats {
    pub fn record(&self, bytes: usize) {
        let b = i64::try_from(bytes).unwrap_or(i64::MAX);
        if let Ok(mut s) = self.sizes.lock() {
            s.0 = b;
            s.1 = if s.1 < 0 { b } else { s.1.min(b) };
            s.2 = s.2.max(b);
        }
    }
    /// (last, min, max).
    pub fn get(&self) -> (i64, i64, i64) {
        self.sizes.lock().map(|s| *s).unwrap_or((-1, -1, -1))
    }
    pub fn reset(&self) {
        if let Ok(mut s) = self.sizes.lock() {
            *s = (-1, -1, -1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_counts_everything_and_ranks_its_window() {
        let s = Summary::default();
        let v = s.view();
        assert_eq!((v.count, v.sum, v.min, v.max), (0, 0, 0, 0));
        assert_eq!(v.quantile(0.5), None);
        for x in [5, 1, 9, 3, 7] {
            s.add(x);
        }
        let v = s.view();
        assert_eq!((v.count, v.sum, v.min, v.max), (5, 25, 1, 9));
        assert!((v.avg() - 5.0).abs() < 1e-9);
        assert_eq!(v.quantile(0.5), Some(5));
        assert_eq!(v.quantile(0.9), Some(9));
        assert_eq!(v.quantile(0.0), Some(1));
        assert_eq!(v.quantile(1.0), Some(9));
        s.reset();
        assert_eq!(s.view(), SummaryView::default());
    }

    #[test]
    fn summary_window_is_bounded_but_totals_are_not() {
        let s = Summary::default();
        for _ in 0..SUMMARY_WINDOW_SAMPLES {
            s.add(1000);
        }
        for _ in 0..SUMMARY_WINDOW_SAMPLES {
            s.add(1);
        }
        let v = s.view();
        assert_eq!(v.count, 2 * SUMMARY_WINDOW_SAMPLES as u64);
        assert_eq!(v.max, 1000, "max covers every observation");
        assert_eq!(
            v.quantile(0.99),
            Some(1),
            "the window holds only the recent ones"
        );
    }

    #[test]
    fn buffer_stats_start_at_minus_one() {
        let b = BufferStats::default();
        assert_eq!(b.get(), (-1, -1, -1));
        b.record(40);
        b.record(10);
        b.record(25);
        assert_eq!(b.get(), (25, 10, 40));
        b.reset();
        assert_eq!(b.get(), (-1, -1, -1));
    }
}
