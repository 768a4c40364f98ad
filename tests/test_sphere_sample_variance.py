"""impl.estimators.snr_sphere.sphere_sample_relvar: the exact variance of one sample behind C9.sphere.snr's Catoni
interval, against Archimedes' closed form on S^2, a quadrature of the projection's density (not the Bessel form),
and a direct simulation that does not use the memory's read."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import quad

from impl.estimators.snr import estimate_snr
from impl.estimators.snr_sphere import sphere_sample_relvar
from impl.memories.kernel import SphereMemory


def _moment(d_k: int, s: float) -> float:
    """E[e^{s (t - 1)}], t = x^T q for x uniform on S^{d-1}: t has density proportional to (1 - t^2)^{(d-3)/2}."""
    dens = lambda t: (1 - t * t) ** ((d_k - 3) / 2)  # noqa: E731
    num = quad(lambda t: math.exp(s * (t - 1)) * dens(t), -1, 1, epsabs=0, epsrel=1e-13, limit=200)[0]
    return num / quad(dens, -1, 1, epsabs=0, epsrel=1e-13, limit=200)[0]


@pytest.mark.parametrize("b", [0.5, 2.0, 8.0])
def test_one_interfering_pair_on_s2_is_archimedes(b):
    """N = 2, d_v = 1: X = w^2 z^2, Var X / (E X)^2 = 3 m_4 / m_2^2 - 1; on S^2 the projection is uniform on [-1, 1],
    so E[e^{s t}] = sinh(s)/s."""
    m2 = math.sinh(2 * b) / (2 * b) * math.exp(-2 * b)
    m4 = math.sinh(4 * b) / (4 * b) * math.exp(-4 * b)
    assert sphere_sample_relvar(2, 3, 1, b) == pytest.approx(3 * m4 / m2**2 - 1, rel=1e-12)


@pytest.mark.parametrize("n_pairs, d_k, d_v, b", [(8, 4, 4, 2.0), (64, 16, 16, 8.0), (9, 5, 3, 0.5), (33, 8, 1, 4.0)])
def test_relvar_from_quadrature_of_the_projection(n_pairs, d_k, d_v, b):
    """(2/d_v)(1 + rho) + rho with rho = (m_4/m_2^2 - 1)/(N-1), the moments by quadrature of t's density."""
    rho = (_moment(d_k, 4 * b) / _moment(d_k, 2 * b) ** 2 - 1) / (n_pairs - 1)
    assert sphere_sample_relvar(n_pairs, d_k, d_v, b) == pytest.approx(2 / d_v * (1 + rho) + rho, rel=1e-9)


@pytest.mark.parametrize("n_pairs, d_k, d_v, b", [(8, 4, 4, 2.0), (4, 3, 2, 4.0)])
def test_the_relvar_matches_a_direct_simulation(n_pairs, d_k, d_v, b):
    """X = ||sum_j w_j v_j||^2 drawn here (numpy), 400,000 trials; |s^2/mean^2 - relvar| <= 5 se with se from the
    sample fourth central moment (asymptotic; fixed seed), se below 5 % of it; and the dropped-mixture mutant
    (only the chi^2 part, 2/d_v) outside the same band."""
    rng = np.random.default_rng(11 + n_pairs)
    q = np.zeros(d_k)
    q[0] = 1.0
    xs = []
    for _ in range(8):
        k = rng.standard_normal((50_000, n_pairs - 1, d_k))
        k /= np.linalg.norm(k, axis=-1, keepdims=True)
        w = np.exp(b * (k @ q - 1))
        r = np.einsum("tn,tnv->tv", w, rng.standard_normal((50_000, n_pairs - 1, d_v)))
        xs.append((r * r).sum(-1))
    x = np.concatenate(xs)
    exact = (n_pairs - 1) * d_v * _moment(d_k, 2 * b)
    cen = x - x.mean()
    s2, m4 = (cen**2).mean(), (cen**4).mean()
    se = math.sqrt((m4 - s2**2) / x.size) / exact**2
    relvar = sphere_sample_relvar(n_pairs, d_k, d_v, b)
    assert x.size == 400_000 and abs(x.mean() / exact - 1) < 0.01 and se < 0.05 * relvar
    assert abs(s2 / exact**2 - relvar) <= 5 * se, (s2 / exact**2, relvar, se)
    assert abs(s2 / exact**2 - 2 / d_v) > 5 * se


def test_the_check_uses_catonis_interval_and_too_few_trials_the_t_interval():
    res = estimate_snr(SphereMemory(2.0), 16, 8, 4, 300, 1)["conditional"]
    assert res.details["interval"] == "catoni" and res.interval().dof is None
    assert set(res.details["intervals"]) == {"0.05", "0.01", "0.001"}
    half = (res.interval().hi - res.interval().lo) / 2
    var = sphere_sample_relvar(16, 8, 4, 2.0) * res.exact**2
    big_l = math.log(2 / 1e-6)
    assert half == pytest.approx(math.sqrt(2 * var * big_l / (300 - 2 * big_l)), rel=1e-12)
    few = estimate_snr(SphereMemory(2.0), 16, 8, 4, 20, 1)["conditional"]  # Catoni needs n > 2 log(2e3)
    assert "interval" not in few.details and few.interval().dof == 19
