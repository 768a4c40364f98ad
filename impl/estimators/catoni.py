"""Catoni's M-estimator of a mean with a known variance: an interval whose level holds in the far tail.

A Student-t interval's level is asymptotic: for a skewed sample at a few thousand draws its error in the far tail
(alpha = 1e-6) is large (the calibration found 8 misses in 10,000 seeds at a 1e-6 t interval for the poly kernel's
probe-averaged SNR^{-1}: the rare large samples that carry the mean were absent, so the mean *and* the sample
standard deviation were small). Where the variance v of one sample is known exactly (the kernel memories' closed
forms, ``kernel_moments.plain_relvar``), Catoni (2012, "Challenging the empirical mean and empirical variance: a
deviation study", Ann. IHP) gives a finite-sample bound that holds for *any* distribution with that variance:

    psi(x) = sign(x) log(1 + |x| + x^2 / 2),   theta_hat solves  sum_i psi(a (X_i - theta)) = 0,
    L = log(2 / alpha),  n > 2 L,  a = sqrt(2 L / (n v (1 + 2 L / (n - 2 L)))):
    P( |theta_hat - mu| >= sqrt(2 v L / (n - 2 L)) ) <= alpha.

(Catoni's Proposition 2.4 with epsilon = alpha / 2; also Lugosi and Mendelson's survey, 2019, of heavy-tailed mean
estimation.) The half-width is sqrt(2 L / (n - 2 L)) sd: at alpha = 1e-6, 1.10 times the normal interval's
z_{1 - alpha/2} sd / sqrt(n) at large n, with the *true* sd in place of the sample's.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq

from impl.numerics.errors import InputError


TAIL = ("finite-sample bound: Catoni's M-estimator with the exact variance v of one sample (closed form) deviates by "
        "more than sqrt(2 v log(2/alpha) / (n - 2 log(2/alpha))) with probability <= alpha for any distribution "
        "with that variance (Catoni 2012), so the level holds at 1e-6 as at 0.05")


def psi(x):
    """Catoni's narrowest influence function: log(1 + x + x^2/2) for x >= 0, -log(1 - x + x^2/2) below."""
    x = np.asarray(x, dtype=np.float64)
    return np.sign(x) * np.log1p(np.abs(x) + 0.5 * x * x)


def half_width(n: int, variance: float, alpha: float) -> float:
    """sqrt(2 v L / (n - 2 L)), L = log(2 / alpha): the deviation exceeded with probability at most alpha."""
    big_l = math.log(2 / alpha)
    if n <= 2 * big_l:
        raise InputError("trials", f"Catoni's bound needs n > 2 log(2/alpha) = {2 * big_l:.3g} samples, got {n}")
    return math.sqrt(2 * variance * big_l / (n - 2 * big_l))


def estimate(samples, variance: float, alpha: float) -> float:
    """theta_hat: the root of sum psi(a (X_i - theta)) (decreasing in theta; bracketed by the sample's range)."""
    x = np.asarray(samples, dtype=np.float64)
    n = x.size
    if not (math.isfinite(variance) and variance > 0):
        raise InputError("variance", f"must be finite and > 0, got {variance}")
    if not np.all(np.isfinite(x)):
        raise InputError("samples", "must be finite")
    big_l = math.log(2 / alpha)
    half_width(n, variance, alpha)  # validates n
    a = math.sqrt(2 * big_l / (n * variance * (1 + 2 * big_l / (n - 2 * big_l))))
    lo, hi = float(x.min()), float(x.max())
    if lo == hi:
        return lo
    return float(brentq(lambda t: float(psi(a * (x - t)).sum()), lo, hi, xtol=1e-14 * max(abs(lo), abs(hi)),
                        rtol=4 * np.finfo(float).eps, maxiter=500))


def interval(samples, variance: float, alpha: float) -> tuple[float, float, float]:
    """(theta_hat, lo, hi): Catoni's level-(1 - alpha) interval at the known ``variance`` of one sample."""
    x = np.asarray(samples, dtype=np.float64)
    t = estimate(x, variance, alpha)
    h = half_width(x.size, variance, alpha)
    return t, t - h, t + h


CALIBRATION_LEVELS = (0.05, 0.01, 1e-3)  # where the calibration tests an interval it cannot rebuild from se


def applicable(n: int, alpha: float) -> bool:
    """Whether the bound exists for n samples at level 1 - alpha (and at every calibration level): n > 2 log(2/alpha)."""
    return n > 2 * math.log(2 / min(alpha, *CALIBRATION_LEVELS))


def as_estimate(samples, variance: float, alpha: float):
    """(stats.Estimate, {level: [lo, hi]}): Catoni's interval at the exact ``variance`` of one sample, and the
    interval at each of ``CALIBRATION_LEVELS`` (keyed as the calibration keys them, f"{alpha:g}"). The Estimate's se
    is the standard error a normal interval of the same width would have (half-width / z_{1 - alpha/2}), so a power
    statement built from it is conservative; it has no t degrees of freedom."""
    from impl.estimators.stats import Estimate, critical_value

    t, lo, hi = interval(samples, variance, alpha)
    per_level = {f"{a:g}": list(interval(samples, variance, a)[1:]) for a in CALIBRATION_LEVELS}
    return Estimate(t, lo, hi, 1 - alpha, len(samples), (hi - lo) / 2 / critical_value(alpha), None), per_level
