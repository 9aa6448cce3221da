//! Statistics of the runs: medians, and paired ratios with a distribution-free confidence
//! interval for their median.
//!
//! Two contenders' runs are paired by round: round `r` runs every contender once, one after
//! the other, so the machine's drift over minutes hits both runs of a pair alike. The ratio
//! of each pair is one observation; the median of the ratios is reported with the interval
//! between two of their order statistics, chosen from the binomial distribution so that it
//! holds the true median with at least 95% probability (no assumption about the shape of
//! the distribution; with few runs the interval is wide, as it should be).

use std::time::Duration;

/// The median of `values` (the mean of the two middle ones for an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    if sorted.len() % 2 == 1 { sorted[middle] } else { (sorted[middle - 1] + sorted[middle]) / 2.0 }
}

pub fn median_duration(durations: &[Duration]) -> Duration {
    Duration::from_secs_f64(median(&durations.iter().map(Duration::as_secs_f64).collect::<Vec<_>>()))
}

/// A median with its confidence interval and the interval's actual coverage.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub median: f64,
    pub low: f64,
    pub high: f64,
    /// The probability that the interval holds the true median (at least 0.95 where the
    /// number of runs allows it; the most it can be otherwise).
    pub coverage: f64,
}

impl Estimate {
    /// The median of `values` and the order-statistic interval around it.
    pub fn of(values: &[f64]) -> Estimate {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let (rank, coverage) = interval_rank(n);
        Estimate { median: median(&sorted), low: sorted[rank - 1], high: sorted[n - rank], coverage }
    }

    /// Whether the whole interval is at least `goal`.
    pub fn clears(&self, goal: f64) -> bool {
        self.low >= goal
    }

    /// Whether the whole interval is below `goal`.
    pub fn misses(&self, goal: f64) -> bool {
        self.high < goal
    }
}

/// The 1-based rank `k` for the interval `[x(k), x(n+1-k)]`: the largest `k` whose coverage
/// `1 - 2 P(Binomial(n, 1/2) < k)` is at least 95%, or `k = 1` (the range) when none is.
fn interval_rank(n: usize) -> (usize, f64) {
    let coverage = |k: usize| 1.0 - 2.0 * (0..k).map(|i| binomial_half(n, i)).sum::<f64>();
    let mut rank = 1;
    while rank < n.div_ceil(2) && coverage(rank + 1) >= 0.95 {
        rank += 1;
    }
    (rank, coverage(rank))
}

/// P(Binomial(n, 1/2) = i).
fn binomial_half(n: usize, i: usize) -> f64 {
    let mut choose = 1.0_f64;
    for j in 0..i {
        choose = choose * (n - j) as f64 / (j + 1) as f64;
    }
    choose * 0.5_f64.powi(n as i32)
}

/// The per-round speed of `a` relative to `b` (b's time over a's: above 1 when `a` is faster),
/// for the rounds both ran.
pub fn paired_speed(a: &[Duration], b: &[Duration]) -> Vec<f64> {
    a.iter().zip(b).map(|(a, b)| b.as_secs_f64() / a.as_secs_f64()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
    }

    #[test]
    fn the_interval_rank_is_the_classic_one() {
        // n = 15: x(4)..x(12), coverage 96.5%; n = 5: only the range reaches 93.75%.
        let (rank, coverage) = interval_rank(15);
        assert_eq!(rank, 4);
        assert!((coverage - 0.9648).abs() < 1e-3, "{coverage}");
        let (rank, coverage) = interval_rank(5);
        assert_eq!(rank, 1);
        assert!((coverage - 0.9375).abs() < 1e-9, "{coverage}");
        let (rank, _) = interval_rank(1);
        assert_eq!(rank, 1);
    }

    #[test]
    fn an_estimate_spans_its_order_statistics() {
        let values: Vec<f64> = (1..=15).map(f64::from).collect();
        let estimate = Estimate::of(&values);
        assert_eq!((estimate.median, estimate.low, estimate.high), (8.0, 4.0, 12.0));
        assert!(estimate.clears(4.0) && !estimate.clears(4.5));
        assert!(estimate.misses(12.5) && !estimate.misses(12.0));
    }

    #[test]
    fn paired_speeds_are_time_ratios() {
        let a = [Duration::from_millis(10), Duration::from_millis(20)];
        let b = [Duration::from_millis(30), Duration::from_millis(20)];
        assert_eq!(paired_speed(&a, &b), vec![3.0, 1.0]);
    }
}
