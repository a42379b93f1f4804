//! Small numeric helpers for the pacing model: normal and lognormal distribution functions.
//!
//! Pure functions; no allocation (but for one table of Φ built on first use). Accuracy (about
//! 1e-7 absolute, 2e-6 for the table) is far finer than the estimates they are fed.

use std::sync::OnceLock;

/// Standard normal cumulative distribution function Φ(x).
pub fn norm_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

/// Φ(x) from a table with linear interpolation (absolute error below 2e-6), for the pacer's
/// inner loops: about five times faster than [`norm_cdf`].
pub fn norm_cdf_fast(x: f64) -> f64 {
    const LO: f64 = -8.5;
    const PER_UNIT: f64 = 128.0;
    const N: usize = 17 * 128 + 2;
    static TABLE: OnceLock<Box<[f64]>> = OnceLock::new();
    let t = TABLE.get_or_init(|| (0..N).map(|i| norm_cdf(LO + i as f64 / PER_UNIT)).collect());
    let u = (x - LO) * PER_UNIT;
    if u.is_nan() {
        return 0.5;
    }
    if u <= 0.0 {
        return 0.0;
    }
    if u >= (N - 1) as f64 {
        return 1.0;
    }
    let i = u as usize;
    let f = u - i as f64;
    t[i] + f * (t[i + 1] - t[i])
}

/// Standard normal density φ(x).
pub fn norm_pdf(x: f64) -> f64 {
    const INV_SQRT_2PI: f64 = 0.398_942_280_401_432_7;
    INV_SQRT_2PI * (-0.5 * x * x).exp()
}

/// Complementary error function (W. J. Cody's rational Chebyshev form via Numerical Recipes'
/// `erfcc`, fractional error below 1.2e-7 everywhere).
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// E[X⁺] for X ~ Normal(mean, sd²): the expected positive part.
pub fn expected_positive_part(mean: f64, sd: f64) -> f64 {
    if sd <= 1e-12 {
        return mean.max(0.0);
    }
    let z = mean / sd;
    mean * norm_cdf(z) + sd * norm_pdf(z)
}

/// The distribution of a count that is a sum of independent yes/no events, fitted by its mean
/// and variance: a binomial (whose variance is below its mean, like every such sum), a Poisson
/// when the variance is about the mean. Unlike a normal fit it keeps the right skew of small
/// counts, which is where abandons come from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CountFit {
    Zero,
    Binomial { n: u32, p: f64 },
    Poisson { mean: f64 },
}

impl CountFit {
    pub fn new(mean: f64, var: f64) -> Self {
        if mean <= 1e-9 {
            return CountFit::Zero;
        }
        let gap = mean - var.max(0.0);
        if gap <= mean * 1e-3 || mean * mean / gap > 5000.0 {
            return CountFit::Poisson { mean };
        }
        let n = (mean * mean / gap).round().max(1.0);
        CountFit::Binomial {
            n: n as u32,
            p: (mean / n).min(1.0),
        }
    }

    /// Calls `f(k, P(X = k))` for every k with non-negligible probability, in order.
    pub fn for_each(&self, mut f: impl FnMut(u32, f64)) {
        self.for_each_while(|k, q| {
            f(k, q);
            true
        });
    }

    /// Like [`for_each`](Self::for_each), but stops as soon as `f` returns false.
    pub fn for_each_while(&self, mut f: impl FnMut(u32, f64) -> bool) {
        match *self {
            CountFit::Zero => {
                f(0, 1.0);
            }
            CountFit::Binomial { n, p } if p >= 1.0 => {
                f(n, 1.0);
            }
            CountFit::Binomial { n, p } => {
                let mean = f64::from(n) * p;
                let hi = (mean + 12.0 * (mean * (1.0 - p)).sqrt() + 12.0).min(f64::from(n)) as u32;
                let lp0 = f64::from(n) * (-p).ln_1p();
                if lp0 < -700.0 {
                    return normal_counts(mean, (mean * (1.0 - p)).sqrt(), f);
                }
                binomial_direct(n, p, lp0, hi, f);
            }
            CountFit::Poisson { mean } => {
                if mean > 600.0 {
                    return normal_counts(mean, mean.sqrt(), f);
                }
                let hi = (mean + 12.0 * mean.sqrt() + 12.0) as u32;
                let mut q = (-mean).exp();
                for k in 0..=hi {
                    if !f(k, q) {
                        return;
                    }
                    q *= mean / f64::from(k + 1);
                }
            }
        }
    }
}

/// Calls `f(k, P(X = k))` for X ~ Bin(n, p), k = 0, 1, … until `f` returns false or the mass
/// left is negligible. Exact for any n (the log domain takes over where `(1 − p)^n`
/// underflows), so a larger `n` always gives a stochastically larger X.
pub fn binomial_for_each_while(n: u32, p: f64, mut f: impl FnMut(u32, f64) -> bool) {
    if n == 0 || p <= 0.0 {
        f(0, 1.0);
        return;
    }
    if p >= 1.0 {
        f(n, 1.0);
        return;
    }
    let nf = f64::from(n);
    let mean = nf * p;
    let hi = (mean + 12.0 * (mean * (1.0 - p)).sqrt() + 12.0).min(nf) as u32;
    let lp0 = nf * (-p).ln_1p();
    let log_odds = p.ln() - (-p).ln_1p();
    if lp0 >= -700.0 {
        binomial_direct(n, p, lp0, hi, f);
    } else {
        let mut lq = lp0;
        for k in 0..=hi {
            if !f(k, if lq < -745.0 { 0.0 } else { lq.exp() }) {
                return;
            }
            lq += (f64::from(n - k) / f64::from(k + 1)).ln() + log_odds;
        }
    }
}

/// `f(k, P(X = k))` for X ~ Bin(n, p), k = 0..=hi, from `P(X = 0) = e^{lp0}` by the ratio of
/// successive terms, until `f` returns false (`lp0` must not underflow).
fn binomial_direct(n: u32, p: f64, lp0: f64, hi: u32, mut f: impl FnMut(u32, f64) -> bool) {
    let odds = p / (1.0 - p);
    let mut q = lp0.exp();
    for k in 0..=hi {
        if !f(k, q) {
            return;
        }
        q *= f64::from(n - k) / f64::from(k + 1) * odds;
    }
}

/// Discretised normal, for counts too large for the exact forms.
fn normal_counts(mean: f64, sd: f64, mut f: impl FnMut(u32, f64) -> bool) {
    let lo = (mean - 8.0 * sd).floor().max(0.0) as u32;
    let hi = (mean + 8.0 * sd).ceil() as u32;
    for k in lo..=hi {
        let x = f64::from(k);
        let q = norm_cdf((x + 0.5 - mean) / sd) - norm_cdf((x - 0.5 - mean) / sd);
        if !f(k, q) {
            return;
        }
    }
}

/// A lognormal distribution given by its mean and standard deviation (not log-space ones).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogNormal {
    mu: f64,
    sigma: f64,
    mean: f64,
}

impl LogNormal {
    /// Fit by moments. A non-positive sd gives a (nearly) fixed value.
    pub fn from_mean_sd(mean: f64, sd: f64) -> Self {
        let mean = mean.max(1e-3);
        let cv2 = (sd.max(0.0) / mean).powi(2).max(1e-6);
        let sigma2 = (1.0 + cv2).ln();
        LogNormal {
            mu: mean.ln() - sigma2 / 2.0,
            sigma: sigma2.sqrt(),
            mean,
        }
    }

    pub fn mean(&self) -> f64 {
        self.mean
    }

    /// Three values and weights that stand for the distribution in sums and convolutions
    /// (Gauss–Hermite quadrature in log space: exact for log-polynomials up to degree 5).
    pub fn three_points(&self) -> [(f64, f64); 3] {
        let d = 3f64.sqrt() * self.sigma;
        [
            ((self.mu - d).exp(), 1.0 / 6.0),
            (self.mu.exp(), 2.0 / 3.0),
            ((self.mu + d).exp(), 1.0 / 6.0),
        ]
    }

    /// P(X ≤ x).
    pub fn cdf(&self, x: f64) -> f64 {
        if x <= 0.0 {
            return 0.0;
        }
        norm_cdf_fast((x.ln() - self.mu) / self.sigma)
    }

    /// `(P(a < X ≤ b), E[X; a < X ≤ b], E[X²; a < X ≤ b])`: the mass and the first two partial
    /// moments over `(a, b]` (the lognormal's moments are `e^{kμ + k²σ²/2}` times a shifted Φ).
    pub fn partial_moments(&self, a: f64, b: f64) -> (f64, f64, f64) {
        if b <= a {
            return (0.0, 0.0, 0.0);
        }
        let (mu, s) = (self.mu, self.sigma);
        let z = |x: f64, shift: f64| {
            if x <= 0.0 {
                0.0
            } else if x.is_infinite() {
                1.0
            } else {
                norm_cdf_fast((x.ln() - mu - shift) / s)
            }
        };
        let part = |k: f64| {
            let shift = k * s * s;
            (k * mu + k * k * s * s / 2.0).exp() * (z(b, shift) - z(a, shift)).max(0.0)
        };
        (part(0.0), part(1.0), part(2.0))
    }

    /// The spread (σ of the logarithm).
    pub fn sigma(&self) -> f64 {
        self.sigma
    }

    /// P(X ≤ elapsed + t | X > elapsed): the chance that something that has lasted `elapsed`
    /// ends within the next `t`. Far in the tail, where the survival underflows, it falls back
    /// to a memoryless guess with the distribution's mean.
    pub fn ends_within(&self, elapsed: f64, t: f64) -> f64 {
        if t <= 0.0 {
            return 0.0;
        }
        let f0 = self.cdf(elapsed);
        let surv = 1.0 - f0;
        if surv < 1e-9 {
            return 1.0 - (-t / self.mean).exp();
        }
        ((self.cdf(elapsed + t) - f0) / surv).clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_cdf_matches_table_values() {
        // Values from standard normal tables.
        assert!((norm_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((norm_cdf(1.0) - 0.841_344_75).abs() < 1e-6);
        assert!((norm_cdf(-1.96) - 0.024_997_9).abs() < 1e-6);
        assert!((norm_cdf(3.0) - 0.998_650_1).abs() < 1e-6);
    }

    #[test]
    fn fast_normal_cdf_matches_the_exact_one() {
        let mut worst: f64 = 0.0;
        let mut x = -10.0;
        while x < 10.0 {
            worst = worst.max((norm_cdf_fast(x) - norm_cdf(x)).abs());
            x += 0.001_37;
        }
        assert!(worst < 2e-6, "{worst}");
        assert_eq!(norm_cdf_fast(f64::NEG_INFINITY), 0.0);
        assert_eq!(norm_cdf_fast(f64::INFINITY), 1.0);
    }

    #[test]
    fn expected_positive_part_limits() {
        // Symmetric at zero: E[X⁺] = sd/√(2π).
        assert!((expected_positive_part(0.0, 1.0) - 0.398_942_28).abs() < 1e-6);
        // Far positive: ≈ mean; far negative: ≈ 0.
        assert!((expected_positive_part(10.0, 1.0) - 10.0).abs() < 1e-6);
        assert!(expected_positive_part(-10.0, 1.0) < 1e-12);
        assert_eq!(expected_positive_part(2.0, 0.0), 2.0);
    }

    #[test]
    fn count_fits_keep_mean_variance_and_mass() {
        for (m, v) in [
            (0.5, 0.4),
            (3.3, 2.2),
            (7.0, 1.5),
            (20.0, 15.0),
            (4.0, 4.0),
            (900.0, 800.0),
        ] {
            let fit = CountFit::new(m, v);
            let (mut mass, mut mean, mut sq) = (0.0, 0.0, 0.0);
            fit.for_each(|k, q| {
                mass += q;
                mean += f64::from(k) * q;
                sq += f64::from(k).powi(2) * q;
            });
            let var = sq - mean * mean;
            assert!((mass - 1.0).abs() < 1e-6, "{m},{v}: mass {mass}");
            assert!((mean - m).abs() < 0.05 * m.max(1.0), "{m},{v}: mean {mean}");
            assert!((var - v).abs() < 0.3 * v.max(1.0), "{m},{v}: var {var}");
        }
        // Ten sure things.
        let mut seen = vec![];
        CountFit::new(10.0, 0.0).for_each(|k, q| seen.push((k, q)));
        assert_eq!(seen, vec![(10, 1.0)]);
    }

    #[test]
    fn binomial_masses_sum_to_one_with_the_right_mean_even_where_they_underflow() {
        for (n, p) in [(10u32, 0.3), (377, 0.9), (5000, 0.4), (1, 0.5)] {
            let (mut mass, mut mean) = (0.0, 0.0);
            binomial_for_each_while(n, p, |k, q| {
                mass += q;
                mean += f64::from(k) * q;
                true
            });
            assert!((mass - 1.0).abs() < 1e-9, "Bin({n}, {p}): mass {mass}");
            let want = f64::from(n) * p;
            assert!(
                (mean - want).abs() < 1e-6 * want.max(1.0),
                "Bin({n}, {p}): {mean}"
            );
        }
    }

    #[test]
    fn lognormal_partial_moments_add_up_to_the_whole() {
        let l = LogNormal::from_mean_sd(12.0, 6.0);
        let (p, m1, m2) = l.partial_moments(0.0, f64::INFINITY);
        assert!((p - 1.0).abs() < 1e-5, "{p}");
        assert!((m1 - 12.0).abs() < 1e-3, "{m1}");
        assert!((m2 - (36.0 + 144.0)).abs() < 0.05, "{m2}");
        // Split at 10 s: the parts sum to the whole, and the part above 10 s averages above it.
        let (pa, ma, _) = l.partial_moments(0.0, 10.0);
        let (pb, mb, _) = l.partial_moments(10.0, f64::INFINITY);
        assert!((pa + pb - 1.0).abs() < 1e-5 && (ma + mb - 12.0).abs() < 1e-3);
        assert!((pa - l.cdf(10.0)).abs() < 1e-9);
        assert!(mb / pb > 10.0 && ma / pa < 10.0);
        assert_eq!(l.partial_moments(5.0, 5.0), (0.0, 0.0, 0.0));
    }

    #[test]
    fn lognormal_fit_has_the_asked_median_and_conditional_ends() {
        let d = LogNormal::from_mean_sd(160.0, 90.0);
        // Median = exp(mu) = mean / sqrt(1 + cv²).
        let median = 160.0 / (1.0f64 + (90.0f64 / 160.0).powi(2)).sqrt();
        assert!((d.cdf(median) - 0.5).abs() < 1e-6);
        // Conditional probability is a probability and grows with the window.
        let a = d.ends_within(100.0, 10.0);
        let b = d.ends_within(100.0, 60.0);
        assert!(a > 0.0 && a < b && b < 1.0);
        // The three points keep the mean.
        let m: f64 = d.three_points().iter().map(|(x, w)| x * w).sum();
        assert!((m - 160.0).abs() / 160.0 < 0.02, "{m}");
        // Far in the tail it does not divide by zero.
        let tail = d.ends_within(1e6, 10.0);
        assert!(tail > 0.0 && tail < 1.0);
    }
}
