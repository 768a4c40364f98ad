"""Catoni's interval with a known variance (impl.estimators.catoni): the closed forms written out, the estimating
equation, and coverage where the Student-t interval fails (a rare large value carries the mean)."""

import math

import numpy as np
import pytest
from scipy.stats import binomtest

from impl.estimators import catoni
from impl.estimators.stats import mean_interval
from impl.numerics.errors import InputError


def test_psi_is_catonis_narrowest_influence_function():
    x = np.array([-3.0, -1.0, -0.25, 0.0, 0.5, 1.0, 4.0])
    want = [-math.log(1 + 3 + 4.5), -math.log(2.5), -math.log(1 + 0.25 + 0.03125), 0.0, math.log(1.625),
            math.log(2.5), math.log(13.0)]
    assert np.allclose(catoni.psi(x), want, rtol=1e-15, atol=0)


def test_half_width_is_the_bound_written_out():
    n, v, a = 1500, 2.7, 1e-6
    big_l = math.log(2 / a)
    assert math.isclose(catoni.half_width(n, v, a), math.sqrt(2 * v * big_l / (n - 2 * big_l)), rel_tol=1e-15)
    # at 1e-6 and n = 1500 it is about 1.11 x the normal interval's half-width with the same (true) sd
    ratio = catoni.half_width(n, v, a) / (4.891638475 * math.sqrt(v / n))
    assert 1.10 < ratio < 1.12
    with pytest.raises(InputError, match="trials"):
        catoni.half_width(20, v, a)  # n <= 2 log(2/alpha) = 29


def test_estimate_solves_the_estimating_equation():
    rng = np.random.default_rng(3)
    x = rng.lognormal(0, 1, 500)
    v, a = (math.e - 1) * math.e, 0.01
    t = catoni.estimate(x, v, a)
    big_l = math.log(2 / a)
    alpha_p = math.sqrt(2 * big_l / (len(x) * v * (1 + 2 * big_l / (len(x) - 2 * big_l))))
    f = lambda th: catoni.psi(alpha_p * (x - th)).sum()  # noqa: E731
    assert abs(f(t)) < 1e-9 * len(x) and f(t - 1e-6) > 0 > f(t + 1e-6)
    # psi damps the large values: below the mean of a right-skewed sample, above its median
    assert np.median(x) < t < x.mean()


def test_estimate_of_a_symmetric_sample_is_its_centre_and_large_variance_gives_the_mean():
    x = np.array([1.0, 2.0, 3.0, 7.0, 11.0, 12.0, 13.0] * 10)
    assert math.isclose(catoni.estimate(x, 25.0, 0.05), 7.0, rel_tol=1e-12)
    y = np.random.default_rng(0).exponential(size=400)
    assert math.isclose(catoni.estimate(y, 1e12, 0.05), y.mean(), rel_tol=1e-6)  # psi(x) ~ x for small x


def test_bad_inputs_are_refused():
    with pytest.raises(InputError, match="variance"):
        catoni.interval(np.ones(100), 0.0, 0.05)
    with pytest.raises(InputError, match="samples"):
        catoni.interval(np.array([1.0, np.nan] * 50), 1.0, 0.05)


@pytest.mark.parametrize("alpha", [0.05, 0.01])
def test_covers_where_the_t_interval_fails(alpha):
    """X = M with probability q, else 0 (n q = 3: in ~5 % of samples the value that carries the mean never occurs,
    and the t interval, whose standard deviation is then 0 or tiny, misses). Catoni's interval at the true variance
    must miss at most alpha of the time (one-sided exact binomial test at 1e-3), and the t interval must be shown
    to miss far more often at the same samples (the test has power)."""
    rng = np.random.default_rng(12345)
    n, q, big_m, reps = 300, 0.01, 100.0, 2000
    mu, var = q * big_m, q * (1 - q) * big_m**2
    miss_c = miss_t = 0
    for _ in range(reps):
        x = np.where(rng.random(n) < q, big_m, 0.0)
        _, lo, hi = catoni.interval(x, var, alpha)
        miss_c += not lo <= mu <= hi
        if x.std() > 0:
            t = mean_interval(x, alpha)
            miss_t += not t.lo <= mu <= t.hi
        else:
            miss_t += 1
    assert binomtest(miss_c, reps, alpha, alternative="greater").pvalue > 1e-3, (miss_c, reps)
    assert binomtest(miss_t, reps, alpha, alternative="greater").pvalue < 1e-6, (miss_t, reps)


def test_an_understated_variance_is_caught_by_the_same_coverage_test():
    """Power of the coverage test: Catoni's interval with the variance understated 16x (sd 4x: what the sample variance
    does when the rare values are absent) misses far more than alpha."""
    rng = np.random.default_rng(7)
    n, q, big_m, reps, alpha = 300, 0.01, 100.0, 2000, 0.05
    mu, var = q * big_m, q * (1 - q) * big_m**2
    miss = 0
    for _ in range(reps):
        x = np.where(rng.random(n) < q, big_m, 0.0)
        _, lo, hi = catoni.interval(x, var / 16, alpha)
        miss += not lo <= mu <= hi
    assert binomtest(miss, reps, alpha, alternative="greater").pvalue < 1e-6, miss
