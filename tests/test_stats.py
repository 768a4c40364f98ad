"""The interval functions of impl.estimators.stats on fixed data, against answers computed by hand.

Quantiles are from printed tables (Student t, normal) to 7+ digits, not from scipy, so a wrong quantile call
(alpha instead of alpha/2, n instead of n - 1 degrees of freedom) fails. Every field of every Estimate is asserted:
value, lo, hi, level, n, se, dof.
"""

import dataclasses
import math

import numpy as np
import pytest

from impl.estimators.stats import (
    Estimate,
    binomial_interval,
    critical_value,
    detectable,
    mean_interval,
    ratio_interval,
    samples_for,
)
from impl.estimators import stats
from impl.numerics.errors import InputError

T_975_4 = 2.7764451  # Student t, 4 dof, 0.975 quantile
T_975_3 = 3.1824463  # 3 dof
T_995_10 = 3.1692727  # 10 dof, 0.995 quantile
Z_975 = 1.9599640
Z_99 = 2.3263479
Z_1E6 = 4.8916385  # z_{1 - 1e-6/2}


def _close(a, b, rel=1e-6):
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)


def test_critical_values_are_two_sided_quantiles():
    assert _close(critical_value(0.05), Z_975)
    assert _close(critical_value(1e-6), Z_1E6)
    assert _close(critical_value(0.05, 4), T_975_4)
    assert _close(critical_value(0.01, 10), T_995_10)
    assert _close(critical_value(0.05, 1e8), Z_975)  # huge dof: the normal quantile
    for bad in (0.0, 1.0, -0.1, 2.0):
        with pytest.raises(InputError):
            critical_value(bad)


def test_mean_interval_by_hand():
    # x = 1..5: mean 3, s^2 = (4 + 1 + 0 + 1 + 4)/4 = 2.5, se = sqrt(2.5/5) = sqrt(0.5)
    e = mean_interval([1, 2, 3, 4, 5], alpha=0.05)
    se = math.sqrt(0.5)
    assert isinstance(e, Estimate)
    assert e.value == 3.0 and e.n == 5 and e.dof == 4 and _close(e.level, 0.95)
    assert _close(e.se, se)
    assert _close(e.lo, 3 - T_975_4 * se) and _close(e.hi, 3 + T_975_4 * se)
    assert _close(e.half_width, T_975_4 * se)
    assert e.contains(3 + T_975_4 * se * 0.999) and not e.contains(3 + T_975_4 * se * 1.001)
    d = e.as_dict()
    assert d == {"value": e.value, "lo": e.lo, "hi": e.hi, "level": e.level, "n": 5, "se": e.se, "dof": 4}


def test_mean_interval_level_follows_alpha():
    # 11 samples 0..10: mean 5, s^2 = 110/10 = 11, se = sqrt(1)
    e = mean_interval(list(range(11)), alpha=0.01)
    assert e.value == 5.0 and e.n == 11 and e.dof == 10 and _close(e.level, 0.99) and _close(e.se, 1.0)
    assert _close(e.hi - e.lo, 2 * T_995_10)


def test_mean_interval_needs_two_samples():
    with pytest.raises(InputError) as err:
        mean_interval([1.0])
    assert err.value.parameter == "trials"


@pytest.mark.parametrize("y, x", [([3.0], [1.0]), ([1.0, 2.0, 3.0], [1.0, 2.0]), ([1.0, 2.0], [1.0, 2.0, 3.0])])
def test_ratio_interval_needs_two_paired_samples(y, x):
    """Fewer than two pairs, or samples of different lengths (unpaired), are refused naming trials."""
    with pytest.raises(InputError) as err:
        ratio_interval(y, x)
    assert err.value.parameter == "trials"


def test_ratio_interval_by_hand():
    # y = (2, 4, 6, 8), x = (1, 2, 2, 3): R = 5/2; s_yy = 20/3, s_xx = 2/3, s_xy = 6/3 (ddof 1)
    # Var = (s_yy - 2 R s_xy + R^2 s_xx) / (n xbar^2) = (20/3 - 10 + 25/6) / 16 = (5/6) / 16
    e = ratio_interval([2, 4, 6, 8], [1, 2, 2, 3], alpha=0.05)
    se = math.sqrt(5 / 6 / 16)
    assert e.value == 2.5 and e.n == 4 and e.dof == 3 and _close(e.level, 0.95)
    assert _close(e.se, se)
    assert _close(e.lo, 2.5 - T_975_3 * se) and _close(e.hi, 2.5 + T_975_3 * se)


def test_ratio_interval_needs_paired_samples():
    with pytest.raises(InputError):
        ratio_interval([1, 2, 3], [1, 2])
    with pytest.raises(InputError):
        ratio_interval([1], [1])


def test_binomial_interval_clopper_pearson_by_hand():
    # 3 of 10 at 95 %: the tabulated Clopper-Pearson interval [0.0667395, 0.6524529]
    e = binomial_interval(3, 10, alpha=0.05)
    assert e.value == 0.3 and e.n == 10 and _close(e.level, 0.95) and e.dof is None
    assert _close(e.lo, 0.0667395, 1e-5) and _close(e.hi, 0.6524529, 1e-5)
    assert _close(e.se, math.sqrt(0.3 * 0.7 / 10))
    # edges: 0 of n -> [0, 1 - (alpha/2)^(1/n)]; n of n -> [(alpha/2)^(1/n), 1]
    z = binomial_interval(0, 10, alpha=0.05)
    assert z.lo == 0.0 and _close(z.hi, 1 - 0.025 ** 0.1) and _close(z.level, 0.95)
    f = binomial_interval(10, 10, alpha=0.01)
    assert f.hi == 1.0 and _close(f.lo, 0.005 ** 0.1) and _close(f.level, 0.99)


@pytest.mark.parametrize("k, n", [(-1, 10), (11, 10), (1, 0), (1.5, 10)])
def test_binomial_interval_rejects_impossible_counts(k, n):
    with pytest.raises(InputError):
        binomial_interval(k, n)


def test_power_statements_by_hand():
    # detectable effect (z_{1-alpha/2} + z_power) se; samples n = ((z_{1-alpha/2} + z_power) cv / effect)^2
    assert _close(detectable(1.0, 0.05, 0.99), Z_975 + Z_99)
    assert _close(detectable(0.5, 1e-6, 0.99), 0.5 * (Z_1E6 + Z_99))
    assert samples_for(1.0, 0.1, 0.05, 0.99) == math.ceil(((Z_975 + Z_99) * 10) ** 2) == 1838
    assert samples_for(1e-9, 0.5) == 2


def _float32_draws(n=2000, seed=11):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(n) * 3 + 1).astype(np.float32), (rng.random(n) + 0.5).astype(np.float32)


def test_every_sample_estimator_computes_in_float64_whatever_the_samples_dtype():
    """Samples handed over in float32 (a float32 run's trials) are read into float64 before any sum: every estimator
    that takes samples returns exactly what it returns for the float64 copy of the same values (a float32 mean of
    2000 draws is off by ~1e-7 relative, which moves a 1e-6 interval's ends)."""
    from impl.estimators import bounded, catoni
    from impl.estimators.recall_prediction import own_weight_scale

    y, x = _float32_draws()
    u = (x - 0.5).astype(np.float32)  # in [0, 1]
    cases = {
        "mean_interval": lambda c: stats.mean_interval(c(y)),
        "ratio_interval": lambda c: stats.ratio_interval(c(y), c(x)),
        "mean_upper_bound": lambda c: bounded.mean_upper_bound(c(u), 0.0, 1.0, 1e-3),
        "catoni.psi": lambda c: catoni.psi(c(y)),
        "catoni.interval": lambda c: catoni.interval(c(y), 9.0, 1e-3),
        "own_weight_scale": lambda c: own_weight_scale(c(x), 16, 4),
    }
    def flat(r):  # an Estimate, a tuple of floats, a float or an array -> (dtype, the values)
        if dataclasses.is_dataclass(r):
            r = dataclasses.astuple(r)
        a = np.asarray(r)
        return a.dtype, a.astype(np.float64).ravel().tolist()

    for name, run in cases.items():
        assert flat(run(lambda a: a)) == flat(run(lambda a: a.astype(np.float64))), name
    # the comparison can see float32 arithmetic: the float32 mean differs from the float64 one of the same values
    assert float(y.mean(dtype=np.float32)) != float(y.astype(np.float64).mean())
