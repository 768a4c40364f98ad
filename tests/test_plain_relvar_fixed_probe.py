"""The plain-sampling diagnostic at a fixed probe (``kernel_moments.plain_relvar`` for the conditional and typical
conventions): the relative variance of one sample, the relative variance of one interference term w^2 and that
term's skewness, against moments computed here from the kernels' definitions with SciPy (distributions' own
moments and numerical expectations), sharing none of the module's algebra.

At a probe with ||k_i||^2 = kappa and k_j ~ N(0, I): k_j^T k_i ~ N(0, kappa), so for
linear w^2 = kappa Z^2, relu w^2 = kappa Z^2 1{Z > 0}, poly w^2 = kappa^p Z^(2p), exp log w^2 ~ N(0, 4 kappa / tau^2)
(lognormal); rbf w^2 = exp(-X / s^2) with X = ||k_j - k_i||^2 ~ noncentral chi-square(d_k, kappa). One plain sample
is ||r||^2 with r = sum_j w_j v_j (n1 = N - 1 terms), so E||r||^2 = n1 d_v m_2 and
E||r||^4 = d_v (d_v + 2) (n1 m_4 + n1 (n1 - 1) m_2^2), m_q = E[w^q]."""

import math

import numpy as np
import pytest
from scipy import integrate, special, stats

from impl.estimators import kernel_moments as km


def _raw_moments_of_w2(kernel, kappa, d_k, *, p=2, s=1.0, tau=1.0):
    """E[(w^2)^m] for m = 1, 2, 3."""
    if kernel == "linear":
        return [kappa**m * stats.norm.moment(2 * m) for m in (1, 2, 3)]
    if kernel == "relu":
        return [kappa**m * stats.norm.moment(2 * m) / 2 for m in (1, 2, 3)]
    if kernel == "poly":
        return [kappa ** (p * m) * special.factorial2(2 * p * m - 1, exact=True) for m in (1, 2, 3)]
    if kernel == "exp":
        sd = 2 * math.sqrt(kappa) / tau  # log w^2 ~ N(0, sd^2)
        return [float(stats.lognorm(sd).moment(m)) for m in (1, 2, 3)]
    law = stats.ncx2(d_k, kappa)  # rbf
    return [integrate.quad(lambda x, m=m: math.exp(-m * x / s**2) * law.pdf(x), 0, np.inf, epsabs=0,
                           epsrel=1e-12, limit=200)[0] for m in (1, 2, 3)]


CASES = [("linear", {}, 5.0, 6), ("relu", {}, 3.0, 6), ("poly", {"p": 2}, 4.0, 12), ("poly", {"p": 3}, 2.0, 16),
         ("exp", {"tau": 4.0}, 3.0, 6), ("rbf", {"s": 1.5}, 2.0, 4), ("rbf", {"s": 0.7}, 5.0, 3)]


@pytest.mark.parametrize("convention", ["conditional", "typical"])
@pytest.mark.parametrize("kernel,prm,kappa,d_k", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_fixed_probe_relvar_term_and_skewness(kernel, prm, kappa, d_k, convention):
    n_pairs, d_v = 7, 5
    k = float(d_k) if convention == "typical" else kappa
    m1, m2, m3 = _raw_moments_of_w2(kernel, k, d_k, **prm)
    var = m2 - m1**2
    term = var / m1**2
    skew = (m3 - 3 * m2 * m1 + 2 * m1**3) / var**1.5
    n1 = n_pairs - 1
    e1 = n1 * d_v * m1
    e2 = d_v * (d_v + 2) * (n1 * m2 + n1 * (n1 - 1) * m1**2)
    rel = e2 / e1**2 - 1
    got = km.plain_relvar(kernel, convention, n_pairs, d_k, d_v, kappa=kappa, **prm)
    # quadrature (rbf) to ~1e-12 relative; the rest are closed forms in float64: the cancellations in the central
    # moments (m3 - 3 m2 m1 + 2 m1^3) lose at most a few digits at these skewnesses
    assert got[0] == pytest.approx(rel, rel=1e-9)
    assert got[1] == pytest.approx(term, rel=1e-9)
    assert got[2] == pytest.approx(skew, rel=1e-8)
