"""An upper confidence bound for the mean of a bounded variable, valid at every level (finite-sample).

Maurer and Pontil (2009), "Empirical Bernstein bounds and sample variance penalization" (COLT), Theorem 4: for
i.i.d. X_1 .. X_n in [0, 1], n >= 2, with probability at least 1 - delta,

    E X  <=  mean + sqrt(2 V_n log(2 / delta) / n) + 7 log(2 / delta) / (3 (n - 1)),

V_n = sum_i (X_i - mean)^2 / (n - 1), the unbiased sample variance. A variable in [lo, hi] is mapped to [0, 1] by
(X - lo) / (hi - lo), so the bound scales by (hi - lo). Unlike a t interval it needs no moment beyond the range,
and unlike Hoeffding's it tightens with the sample's variance: when that is small the price of the far tail is the
range term 7 (hi - lo) log(2 / delta) / (3 (n - 1)).
"""

from __future__ import annotations

import math

import numpy as np

from impl.numerics.errors import InputError

TAIL = ("finite-sample bound: the empirical Bernstein bound of Maurer and Pontil (2009, Theorem 4) for a variable "
        "with a proven range, valid at every level")


def mean_upper_bound(samples, lo: float, hi: float, delta: float) -> float:
    """The level-(1 - delta) upper confidence bound on E X for i.i.d. samples of a variable known to lie in
    [lo, hi] (Maurer and Pontil 2009, Theorem 4, scaled from [0, 1]). Refuses samples outside [lo, hi]: the bound
    would then rest on a premise the data contradict."""
    x = np.asarray(samples, dtype=np.float64)
    n = x.size
    if n < 2:
        raise InputError("trials", f"the empirical Bernstein bound needs n >= 2 samples, got {n}")
    if not 0 < delta < 1:
        raise InputError("delta", f"must lie in (0, 1), got {delta!r}")
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise InputError("hi", f"the range [lo, hi] must be finite with lo < hi, got [{lo!r}, {hi!r}]")
    if not np.all(np.isfinite(x)) or x.min() < lo or x.max() > hi:
        raise InputError("samples", f"must lie in the stated range [{lo:g}, {hi:g}], got [{x.min():g}, {x.max():g}]")
    width = hi - lo
    u = (x - lo) / width
    big_l = math.log(2 / delta)
    bound01 = u.mean() + math.sqrt(2 * u.var(ddof=1) * big_l / n) + 7 * big_l / (3 * (n - 1))
    return lo + width * bound01
