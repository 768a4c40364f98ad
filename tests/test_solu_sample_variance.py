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
    # N = 2, one interfering slot: still the slot kernel's value (the smallest N with a noise term)
    assert solu.sample_relvar(convention, 2, d_k, d_v, beta, kappa) == pytest.approx(
        ffn.sample_relvar("exp", 1, d_v, beta**2 * kappa, glu=True), rel=1e-12)


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
    e1, e2 = integrate.quad_vec(lambda k: np.array(_conditional_moments(k, beta, n)) * dens(k), 0, np.inf,
                                epsrel=1e-11, limit=400)[0]
    first = e1 * d_v / (d_v - 2)
    second = e2 * d_v * (d_v + 2) / ((d_v - 2) * (d_v - 4))
    assert first == pytest.approx(solu.theory("probe_averaged", n_pairs, d_k, d_v, beta), rel=1e-8)
    assert solu.sample_relvar("probe_averaged", n_pairs, d_k, d_v, beta) == pytest.approx(second / first**2 - 1, rel=1e-8)


def test_probe_averaged_relvar_is_none_where_the_variance_is_infinite():
    beta = 0.1
    assert solu.sample_relvar("probe_averaged", 16, 4, 16, beta) is None  # E[1/kappa^2] needs d_k > 4
    assert solu.sample_relvar("probe_averaged", 16, 16, 4, beta) is None  # E[1/nu^2] needs d_v > 4
    assert solu.sample_relvar("probe_averaged", 16, 16, 16, 0.7) is None  # the tilt 8 beta^2 - 4 beta >= 1/2
    # the tilt reaches 1/2 at beta* = (1 + sqrt 2)/4 = 0.6036: finite (and large) just below, infinite from there on
    star = (1 + math.sqrt(2)) / 4
    assert 8 * star**2 - 4 * star == pytest.approx(0.5, rel=1e-15)
    for below in (0.55, 0.58, star - 1e-4):
        got = solu.sample_relvar("probe_averaged", 16, 16, 16, below)
        assert got is not None and math.isfinite(got) and got > 0, below
    assert solu.sample_relvar("probe_averaged", 16, 16, 16, 0.55) < solu.sample_relvar("probe_averaged", 16, 16, 16, star - 1e-4)
    for above in (star + 1e-4, 0.65):
        assert solu.sample_relvar("probe_averaged", 16, 16, 16, above) is None, above
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


def _energy_moments_given_kappa(kappa, beta, n, d_v):
    """E[Y | kappa], E[Y^2 | kappa], E[X | kappa], E[X^2 | kappa] by Gauss-Hermite over one slot (no Gamma algebra):
    Y = (sum_j s(Z_j)^2) chi^2_{d_v}, X = c_u^2 nu with nu ~ chi^2_{d_v}."""
    x, w = np.polynomial.hermite_e.hermegauss(200)
    z = beta * math.sqrt(kappa) * x
    s2 = (z * np.exp(z)) ** 2
    m2 = float((w * s2).sum() / math.sqrt(2 * math.pi))
    m4 = float((w * s2 * s2).sum() / math.sqrt(2 * math.pi))
    c2 = (beta * kappa) ** 2 * math.exp(2 * beta * kappa)
    return (n * d_v * m2, d_v * (d_v + 2) * (n * m4 + n * (n - 1) * m2 * m2), c2 * d_v, c2 * c2 * d_v * (d_v + 2))


@pytest.mark.parametrize("n_pairs, d_k, d_v, scale", [(16, 8, 8, 0.125), (64, 16, 16, 0.125), (32, 8, 16, 0.3)])
def test_ratio_variances_match_quadrature_over_the_probe_norm_and_give_the_exact_ratio(n_pairs, d_k, d_v, scale):
    beta = scale / math.sqrt(d_k)
    dens = stats.chi2(d_k).pdf
    # to kappa = 1500: the slowest tail (X^2 at scale 0.3, d_k = 8) decays like e^{-(1/2 - 4 beta) kappa} = e^{-0.076 kappa}
    m = integrate.quad_vec(lambda k: np.array(_energy_moments_given_kappa(k, beta, n_pairs - 1, d_v)) * dens(k), 0, 1500,
                           epsrel=1e-11, limit=800, points=[10, 50, 200])[0]
    ey, var_y, var_x = solu.ratio_variances(n_pairs, d_k, d_v, beta)
    assert ey == pytest.approx(m[0], rel=1e-8)
    assert var_y == pytest.approx(m[1] - m[0] ** 2, rel=1e-8) and var_x == pytest.approx(m[3] - m[2] ** 2, rel=1e-8)
    assert m[0] / m[2] == pytest.approx(solu.theory("ratio_of_expectations", n_pairs, d_k, d_v, beta), rel=1e-8)


def test_ratio_variances_are_none_where_the_signal_energys_variance_is_infinite():
    """Var X holds E[kappa^4 e^{4 beta kappa}], finite iff beta < 1/8; N = 1 has no noise energy."""
    assert solu.ratio_variances(16, 8, 8, 0.125) is None and solu.ratio_variances(16, 8, 8, 0.1249) is not None
    assert solu.ratio_variances(1, 8, 8, 0.05) is None


def test_catoni_ratio_holds_the_ratio_of_means_and_nests_its_levels():
    """Paired samples with known variances (Y ~ Exp(mean 3), X ~ Gamma(4, 1/2): E Y / E X = 1.5): the interval at
    1e-6 contains the ratio and the intervals at 0.05, 0.01, 1e-3 nest inside it; a denominator whose lower end
    reaches 0 gives no upper end."""
    rng = np.random.default_rng(5)
    y, x = rng.exponential(3.0, 4000), rng.gamma(4.0, 0.5, 4000)
    est, per = solu.catoni_ratio(y, x, 9.0, 1.0, 1e-6)
    assert est.lo < 1.5 < est.hi and est.n == 4000 and est.dof is None
    # the union bound: each mean's Catoni interval at alpha/2, and the ratio's extremes over that rectangle
    from impl.estimators import catoni

    ty, ylo, yhi = catoni.interval(y, 9.0, 0.5e-6)
    tx, xlo, xhi = catoni.interval(x, 1.0, 0.5e-6)
    assert (est.value, est.lo, est.hi) == pytest.approx((ty / tx, ylo / xhi, yhi / xlo), rel=1e-12)
    widths = [per[k][1] - per[k][0] for k in ("0.05", "0.01", "0.001")]
    assert widths == sorted(widths) and widths[-1] < est.hi - est.lo
    assert all(est.lo <= per[k][0] and per[k][1] <= est.hi for k in per)
    tiny = rng.normal(0.01, 1.0, 200)
    assert math.isinf(solu.catoni_ratio(y[:200], tiny, 9.0, 1.0, 1e-6)[0].hi)
