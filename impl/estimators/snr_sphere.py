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


def sphere_sample_relvar(n_pairs: int, d_k: int, d_v: int, b: float) -> float:
    """Var/mean^2 of one sample X = ||r||^2 of the sphere memory's conditional SNR^{-1} (the exact variance behind
    its Catoni interval). With w_j = e^{b (k_j^T q - 1)} (keys uniform on S^{d-1}, ||q|| = 1) and v_j ~ N(0, I_{d_v}),
    r = sum_{j<N} w_j v_j is N(0, S I) given the keys, S = sum_j w_j^2, so ||r||^2 = S chi^2_{d_v} given S and

        Var X = E[Var(X | S)] + Var(E[X | S]) = 2 d_v E[S^2] + d_v^2 Var S,   E X = d_v E S,
        E S = (N-1) m_2,  Var S = (N-1)(m_4 - m_2^2),   m_2 = E[w^2],  m_4 = E[w^4] (sphere_log_m2 at b and 2b),

    so with rho = Var S / (E S)^2 = (m_4/m_2^2 - 1)/(N-1):  Var X / (E X)^2 = (2/d_v)(1 + rho) + rho.
    Every moment is finite (w <= 1): the variance exists for every b > 0."""
    if n_pairs < 2:
        return 0.0
    ratio = math.exp(sphere_log_m2(d_k, 2 * b) - 2 * sphere_log_m2(d_k, b))  # m_4 / m_2^2
    rho = (ratio - 1) / (n_pairs - 1)
    return 2 / d_v * (1 + rho) + rho
