//! The arithmetic behind the reported figures (percentiles, medians, rates, ratios), written once
//! so that the same name means the same computation in every benchmark.

use std::time::Instant;

/// Nearest-rank percentile `p` (0..=1) of sorted values; NaN when there are none.
pub fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The value at index `len / 2` of the values once sorted (the upper of the two middle values
/// for an even count), as the ClickHouse tables report their p50; 0 when there are none.
pub fn upper_median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// Milliseconds since `started`.
pub fn ms_since(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1000.0
}

/// `count` per second over `secs`.
pub fn rate(count: u64, secs: f64) -> f64 {
    count as f64 / secs
}

/// `numerator / denominator`, the denominator kept above zero so a near-zero baseline gives a
/// large finite ratio rather than infinity.
pub fn ratio(numerator: f64, denominator: f64) -> f64 {
    numerator / denominator.max(1e-9)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(pct(&v, 0.5), 2.0);
        assert_eq!(pct(&v, 0.95), 4.0);
        assert_eq!(pct(&v, 0.0), 1.0);
        assert!(pct(&[], 0.5).is_nan());
    }

    #[test]
    fn upper_median_of_even_and_odd_counts() {
        assert_eq!(upper_median(&[4.0, 1.0, 3.0, 2.0]), 3.0);
        assert_eq!(upper_median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(upper_median(&[]), 0.0);
    }

    #[test]
    fn ratio_of_zero_baseline_is_finite() {
        assert!(ratio(1.0, 0.0).is_finite());
        assert_eq!(ratio(3.0, 2.0), 1.5);
    }
}
