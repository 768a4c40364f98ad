"""Kernel memory with keys uniform on the unit sphere (docs/CLAIMS.md C9): the exponential kernel exp(b x^T y) and its
exact second moment as a Bessel-function expression. The memory itself (its SNR interface, plain Monte Carlo of the
conditional SNR^{-1}) is ``impl.memories.kernel.SphereMemory``."""

from __future__ import annotations

import math


def sphere_log_m2(d_k: int, b: float) -> float:
    """log E[e^{2b x^T y}] - 2b for x uniform on S^{d-1}, ||y|| = 1: log[Gamma(d/2) b^{1-d/2} I_{d/2-1}(2b) e^{-2b}]
    (scipy.special.ive is the exponentially scaled Bessel function, so nothing overflows)."""
    from scipy.special import gammaln, ive

    nu_ = d_k / 2 - 1
    return gammaln(d_k / 2) - nu_ * math.log(b) + math.log(ive(nu_, 2 * b))
