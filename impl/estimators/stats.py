"""Calibrated intervals for Monte Carlo estimates (the statistical method of docs/DESIGN.md).

Every statistical assertion in the suite is "the exact value lies inside a two-sided interval at level
1 - alpha", with alpha declared per assertion (default 1e-6). The intervals here are:

* ``mean_interval``: Student-t interval for the mean of i.i.d. samples (CLT; needs a finite variance);
* ``ratio_interval``: delta-method interval for a ratio of means E[Y]/E[X] from paired i.i.d. samples;
* ``binomial_interval``: exact Clopper-Pearson interval for a proportion (used for observed false-failure rates
  and accuracies).

``detectable`` gives the smallest true discrepancy that the same interval detects with probability ``power``
(the power statement that goes beside every statistical check), and ``samples_for`` the sample size that makes
a relative discrepancy detectable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as _st


@dataclass(frozen=True)
class Estimate:
    """A point estimate with a two-sided interval [lo, hi] at ``level``; ``se`` its standard error, ``n`` samples,
    ``dof`` the degrees of freedom of the t quantile used (None: no t quantile, e.g. the exact binomial interval)."""

    value: float
    lo: float
    hi: float
    level: float
    n: int
    se: float
    dof: int | None = None

    def contains(self, x: float) -> bool:
        return self.lo <= x <= self.hi

    @property
    def half_width(self) -> float:
        return (self.hi - self.lo) / 2

    def as_dict(self) -> dict:
        return {"value": self.value, "lo": self.lo, "hi": self.hi, "level": self.level, "n": self.n, "se": self.se,
                "dof": self.dof}


def _check_alpha(alpha: float) -> float:
    if not (0.0 < alpha < 1.0):
        from impl.numerics.errors import InputError

        raise InputError("alpha", f"must be in (0, 1), got {alpha}")
    return float(alpha)


def critical_value(alpha: float, dof: float | None = None) -> float:
    """Two-sided critical value: z_{1-alpha/2}, or Student's t with ``dof`` degrees of freedom."""
    alpha = _check_alpha(alpha)
    if dof is None or dof > 1e7:
        return float(_st.norm.isf(alpha / 2))
    return float(_st.t.isf(alpha / 2, dof))


def mean_interval(samples, alpha: float = 1e-6) -> Estimate:
    """Student-t interval for E[X] from i.i.d. ``samples`` (1-D). Needs at least 2 samples."""
    x = np.asarray(samples, dtype=np.float64).ravel()
    n = x.size
    if n < 2:
        from impl.numerics.errors import InputError

        raise InputError("trials", f"need at least 2 samples for an interval, got {n}")
    m = float(x.mean())
    se = float(x.std(ddof=1) / math.sqrt(n))
    t = critical_value(alpha, n - 1)
    return Estimate(m, m - t * se, m + t * se, 1 - alpha, n, se, n - 1)


def ratio_interval(y, x, alpha: float = 1e-6) -> Estimate:
    """Delta-method interval for R = E[Y]/E[X] from paired i.i.d. samples (y_t, x_t).

    Var(Ybar/Xbar) ~ (s_Y^2 - 2 R s_XY + R^2 s_X^2) / (n Xbar^2).
    """
    y = np.asarray(y, dtype=np.float64).ravel()
    x = np.asarray(x, dtype=np.float64).ravel()
    n = y.size
    if n < 2 or x.size != n:
        from impl.numerics.errors import InputError

        raise InputError("trials", f"need at least 2 paired samples, got {n}")
    ym, xm = float(y.mean()), float(x.mean())
    r = ym / xm
    cov = np.cov(np.vstack([y, x]), ddof=1)
    var = (cov[0, 0] - 2 * r * cov[0, 1] + r * r * cov[1, 1]) / (n * xm * xm)
    se = math.sqrt(max(var, 0.0))
    t = critical_value(alpha, n - 1)
    return Estimate(r, r - t * se, r + t * se, 1 - alpha, n, se, n - 1)


def binomial_interval(successes: int, n: int, alpha: float = 0.05) -> Estimate:
    """Exact Clopper-Pearson interval for a proportion: lo = Beta(alpha/2; k, n-k+1), hi = Beta(1-alpha/2; k+1, n-k)."""
    alpha = _check_alpha(alpha)
    if not (float(n).is_integer() and float(successes).is_integer() and n >= 1 and 0 <= successes <= n):
        from impl.numerics.errors import InputError

        raise InputError("successes", f"need integers 0 <= successes <= n with n >= 1, got {successes} of {n}")
    p = successes / n
    lo = 0.0 if successes == 0 else float(_st.beta.ppf(alpha / 2, successes, n - successes + 1))
    hi = 1.0 if successes == n else float(_st.beta.ppf(1 - alpha / 2, successes + 1, n - successes))
    return Estimate(p, lo, hi, 1 - alpha, n, math.sqrt(p * (1 - p) / n) if n else float("nan"))


def detectable(se: float, alpha: float = 1e-6, power: float = 0.99) -> float:
    """Smallest |true - claimed| that a level-(1-alpha) interval with standard error ``se`` rejects with
    probability >= ``power`` (normal approximation): (z_{1-alpha/2} + z_{power}) * se."""
    return (critical_value(alpha) + float(_st.norm.ppf(power))) * se


def samples_for(cv: float, rel_effect: float, alpha: float = 1e-6, power: float = 0.99) -> int:
    """Samples n such that a relative discrepancy ``rel_effect`` is detected with probability ``power`` when one
    sample has coefficient of variation ``cv``: n = ((z_{1-alpha/2} + z_power) cv / rel_effect)^2."""
    z = critical_value(alpha) + float(_st.norm.ppf(power))
    return max(2, int(math.ceil((z * cv / rel_effect) ** 2)))
