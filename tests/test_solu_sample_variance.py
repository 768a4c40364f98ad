"""impl.memories.solu.sample_relvar: the exact variance of one per-sample ratio that carries the SoLU memory's Catoni
intervals (C11.solu conditional, typical, probe_averaged), against constructions that share none of its code:
Gauss-Hermite quadrature, the elementwise FFN memory's formula for the same slot kernel, quadrature over the probe's
chi-square norm, and a direct simulation of the normalised layer."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from impl.memories import ffn, solu


@pytest.mark.parametrize("var", [0.02, 0.1, 0.5])
def test_fourth_moment_matches_gauss_hermite(var):
    x, w = np.polynomial.hermite_e.hermegauss(200)
    z = math.sqrt(var) * x
    ref = float((w * (z * np.exp(z)) ** 4).sum() / math.sqrt(2 * math.pi))
    assert solu.fourth_moment(var) == pytest.approx(ref, rel=1e-10)


@pytest.mark.parametrize("convention", ["conditional", "typical"])
def test_fixed_probe_relvar_is_the_slot_kernels(convention):
    """The normaliser cancels sample by sample: at a fixed probe the ratio is the elementwise memory's with the GLU
    exponential s(z) z = z e^z (impl.memories.ffn, tested against Gauss-Hermite and a simulation)."""
    n, d_k, d_v, beta, kappa = 16, 8, 8, 0.25 / math.sqrt(8), 9.3
    got = solu.sample_relvar(convention, n, d_k, d_v, beta, kappa)
    assert got == pytest.approx(ffn.sample_relvar("exp", n - 1, d_v, beta**2 * kappa, glu=True), rel=1e-12)
    assert solu.sample_relvar(convention, 1, d_k, d_v, beta, kappa) is None  # N = 1: nothing interferes


def _conditional_moments(kappa, beta, n):
    """E[(sum_j w_j^2)/c^2 | kappa] and E[(sum_j w_j^2)^2/c^4 | kappa], by Gauss-Hermite over one slot."""
    x, w = np.polynomial.hermite_e.hermegauss(200)
    z = beta * math.sqrt(kappa) * x
    a = beta * kappa  # c = a e^a: each ratio is taken in the log domain (no overflow at large kappa)
    r2 = float((w * z**2 * np.exp(2 * z - 2 * a)).sum() / math.sqrt(2 * math.pi)) / a**2  # m2 / c^2
    r4 = float((w * z**4 * np.exp(4 * z - 4 * a)).sum() / math.sqrt(2 * math.pi)) / a**4  # m4 / c^4
    return n * r2, n * r4 + n * (n - 1) * r2 * r2


@pytest.mark.parametrize("n_pairs, d_k, d_v, scale", [(16, 8, 16, 0.25), (64, 16, 16, 0.5), (32, 6, 6, 0.5)])
def test_probe_averaged_relvar_matches_quadrature_over_the_probe_norm(n_pairs, d_k, d_v, scale):
    """Integrate the conditional moments against the chi^2_{d_k} density of kappa (scipy.integrate.quad), with
    E[1/nu] = 1/(d_v - 2) and E[1/nu^2] = 1/((d_v - 2)(d_v - 4)): no tilted-Gamma algebra shared."""
    beta, n = scale / math.sqrt(d_k), n_pairs - 1
    dens = stats.chi2(d_k).pdf
    e1 = integrate.quad(lambda k: _conditional_moments(k, beta, n)[0] * dens(k), 0, np.inf, epsrel=1e-11, limit=400)[0]
    e2 = integrate.quad(lambda k: _conditional_moments(k, beta, n)[1] * dens(k), 0, np.inf, epsrel=1e-11, limit=400)[0]
    first = e1 * d_v / (d_v - 2)
    second = e2 * d_v * (d_v + 2) / ((d_v - 2) * (d_v - 4))
    assert first == pytest.approx(solu.theory("probe_averaged", n_pairs, d_k, d_v, beta), rel=1e-8)
    assert solu.sample_relvar("probe_averaged", n_pairs, d_k, d_v, beta) == pytest.approx(second / first**2 - 1, rel=1e-8)


def test_probe_averaged_relvar_is_none_where_the_variance_is_infinite():
    beta = 0.1
    assert solu.sample_relvar("probe_averaged", 16, 4, 16, beta) is None  # E[1/kappa^2] needs d_k > 4
    assert solu.sample_relvar("probe_averaged", 16, 16, 4, beta) is None  # E[1/nu^2] needs d_v > 4
    assert solu.sample_relvar("probe_averaged", 16, 16, 16, 0.7) is None  # the tilt 8 beta^2 - 4 beta >= 1/2
    assert solu.sample_relvar("probe_averaged", 16, 5, 5, beta) is not None
    assert solu.sample_relvar("ratio_of_expectations", 16, 16, 16, beta) is None


def test_probe_averaged_relvar_matches_a_simulation_of_the_layer():
    """The normalised SoLU layer itself (solu_read, torch) at fresh probes, 300,000 trials, d_k = d_v = 16 (so that
    the sample variance has a finite variance: E[1/kappa^4] needs d_k > 8); |s^2/mean^2 - relvar| <= 5 se with se
    from the sample fourth central moment (asymptotic), se asserted below 4 % of the relvar."""
    import torch

    n_pairs, d_k, d_v, beta = 16, 16, 16, 0.5 / 4
    gen = torch.Generator().manual_seed(20250525)
    xs = []
    for _ in range(10):
        t = 30_000
        probe = torch.randn((t, d_k), generator=gen, dtype=torch.float64)
        pv = torch.randn((t, d_v), generator=gen, dtype=torch.float64)
        K = torch.randn((t, n_pairs - 1, d_k), generator=gen, dtype=torch.float64)
        V = torch.randn((t, n_pairs - 1, d_v), generator=gen, dtype=torch.float64)
        c, r, _ = solu.solu_read(beta, probe, K, V)
        xs.append(((r * r).sum(-1) / (c * c * (pv * pv).sum(-1))).numpy())
    x = np.concatenate(xs)
    exact = solu.theory("probe_averaged", n_pairs, d_k, d_v, beta)
    cen = x - x.mean()
    s2, m4 = (cen**2).mean(), (cen**4).mean()
    se = math.sqrt((m4 - s2**2) / x.size) / exact**2
    relvar = solu.sample_relvar("probe_averaged", n_pairs, d_k, d_v, beta)
    assert se < 0.04 * relvar
    assert abs(s2 / exact**2 - relvar) <= 5 * se, (s2 / exact**2, relvar, se)
