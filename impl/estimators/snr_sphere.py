"""Kernel memory with keys uniform on the unit sphere (docs/CLAIMS.md C9): the exponential kernel exp(b x^T y), its exact
second moment as a Bessel-function expression, and a plain Monte Carlo check of the conditional SNR^{-1}."""

from __future__ import annotations

import math

import torch

from impl.numerics.device import generator
from impl.numerics.errors import InputError, require_positive_int


def sphere_log_m2(d_k: int, b: float) -> float:
    """log E[e^{2b x^T y}] - 2b for x uniform on S^{d-1}, ||y|| = 1: log[Gamma(d/2) b^{1-d/2} I_{d/2-1}(2b) e^{-2b}]
    (scipy.special.ive is the exponentially scaled Bessel function, so nothing overflows)."""
    from scipy.special import gammaln, ive

    nu_ = d_k / 2 - 1
    return gammaln(d_k / 2) - nu_ * math.log(b) + math.log(ive(nu_, 2 * b))


def estimate_sphere_snr(n_pairs: int, d_k: int, d_v: int, b: float, trials: int, seed: int, *, alpha: float = 1e-6) -> dict:
    """Plain Monte Carlo of the conditional SNR^{-1} for the kernel exp(b x^T y) with keys uniform on the unit sphere
    (Gaussian values), fixed probe, fresh other pairs. Returns estimate, interval and the exact Bessel value."""
    from impl.estimators.stats import mean_interval

    n_pairs = require_positive_int("n_pairs", n_pairs, 2)
    d_k, d_v = require_positive_int("d_k", d_k, 2), require_positive_int("d_v", d_v)
    trials = require_positive_int("trials", trials, 2)
    if not (isinstance(b, (int, float)) and math.isfinite(b) and b > 0):
        raise InputError("b", f"the inverse temperature must be a finite number > 0, got {b!r}")
    gen = generator(seed)
    q = torch.randn(d_k, generator=gen, dtype=torch.float64)
    q = q / q.norm()
    v0 = torch.randn(d_v, generator=gen, dtype=torch.float64)
    nu = float(v0 @ v0)
    K = torch.randn((trials, n_pairs - 1, d_k), generator=gen, dtype=torch.float64)
    K = K / K.norm(dim=-1, keepdim=True)
    V = torch.randn((trials, n_pairs - 1, d_v), generator=gen, dtype=torch.float64)
    w = torch.exp(b * (K @ q) - b)  # kappa(k_j, q) / kappa(q, q)
    r = (w[:, None, :] @ V)[:, 0]
    e = mean_interval(((r * r).sum(-1) / nu).numpy(), alpha)
    theory = (n_pairs - 1) * d_v / nu * math.exp(sphere_log_m2(d_k, b))
    return {"estimate": e.value, "lo": e.lo, "hi": e.hi, "level": e.level, "n": e.n, "theory": theory, "probe_nu": nu}
