//! Seeded percentile bootstrap for 95% confidence intervals.
//!
//! Units (documents) are resampled with replacement, the statistic is
//! recomputed on each resample, and the interval is the 2.5th and 97.5th
//! percentiles of the resampled values (linear interpolation between order
//! statistics, numpy's default). Resampling whole documents keeps the
//! examples of one document together (a FinEntity snippet's entities, a
//! NewsMTSC sentence's targets), so the interval is not made too narrow by
//! correlated examples. Same seed, same units: same interval.

use serde::Serialize;

/// SplitMix64: a small, well-mixed generator, enough for resampling and
/// fully determined by its seed (no dependency, same on every platform).
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0), by rejection so that no value is favored.
    pub fn below(&mut self, n: usize) -> usize {
        let n = n as u64;
        let zone = u64::MAX - u64::MAX % n;
        loop {
            let x = self.next_u64();
            if x < zone {
                return (x % n) as usize;
            }
        }
    }
}

/// A figure with its bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    pub value: f64,
    /// 2.5th percentile of the resampled values.
    pub ci_low: f64,
    /// 97.5th percentile of the resampled values.
    pub ci_high: f64,
}

/// The bootstrap settings (recorded in the report).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bootstrap {
    pub resamples: usize,
    pub seed: u64,
}

impl Default for Bootstrap {
    fn default() -> Self {
        Bootstrap {
            resamples: 1000,
            seed: 13,
        }
    }
}

/// `q`-quantile (0..=1) of sorted values, numpy's linear method.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

impl Bootstrap {
    /// Estimates of several statistics of the same units, all computed on the
    /// same resamples. `stats(indices)` returns one value per statistic for
    /// the units at `indices` (repeats allowed). With no units, every
    /// interval is the point value.
    pub fn estimate(&self, units: usize, stats: impl Fn(&[usize]) -> Vec<f64>) -> Vec<Estimate> {
        let all: Vec<usize> = (0..units).collect();
        let point = stats(&all);
        if units == 0 || self.resamples == 0 {
            return point
                .iter()
                .map(|&v| Estimate {
                    value: v,
                    ci_low: v,
                    ci_high: v,
                })
                .collect();
        }
        let mut rng = SplitMix64::new(self.seed);
        let mut samples: Vec<Vec<f64>> = vec![Vec::with_capacity(self.resamples); point.len()];
        let mut idx = vec![0usize; units];
        for _ in 0..self.resamples {
            for i in idx.iter_mut() {
                *i = rng.below(units);
            }
            for (s, v) in samples.iter_mut().zip(stats(&idx)) {
                s.push(v);
            }
        }
        point
            .iter()
            .zip(samples)
            .map(|(&value, mut s)| {
                s.sort_by(f64::total_cmp);
                Estimate {
                    value,
                    ci_low: quantile(&s, 0.025),
                    ci_high: quantile(&s, 0.975),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_match_numpy() {
        // numpy.percentile([1,2,3,4], [2.5, 50, 97.5]) = [1.075, 2.5, 3.925]
        let v = [1.0, 2.0, 3.0, 4.0];
        assert!((quantile(&v, 0.025) - 1.075).abs() < 1e-12);
        assert!((quantile(&v, 0.5) - 2.5).abs() < 1e-12);
        assert!((quantile(&v, 0.975) - 3.925).abs() < 1e-12);
    }

    #[test]
    fn seeded_and_sensible() {
        let values: Vec<f64> = (0..200).map(|i| f64::from(i % 2)).collect();
        let mean =
            |idx: &[usize]| vec![idx.iter().map(|&i| values[i]).sum::<f64>() / idx.len() as f64];
        let b = Bootstrap::default();
        let e = b.estimate(values.len(), mean)[0];
        assert_eq!(e, b.estimate(values.len(), mean)[0], "same seed, same CI");
        assert_eq!(e.value, 0.5);
        // Binomial standard error sqrt(.25/200) = 0.035: CI about ±0.07.
        assert!(e.ci_low < 0.5 && e.ci_low > 0.4, "{e:?}");
        assert!(e.ci_high > 0.5 && e.ci_high < 0.6, "{e:?}");
        let other = Bootstrap { seed: 7, ..b }.estimate(values.len(), mean)[0];
        assert_ne!(e, other, "another seed resamples differently");
        // A constant statistic has a zero-width interval.
        let c = b.estimate(10, |_| vec![0.3])[0];
        assert_eq!((c.ci_low, c.ci_high), (0.3, 0.3));
    }
}
