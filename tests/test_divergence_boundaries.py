"""Where the kernel memories' SNR^-1 moments diverge (``kernel_moments.divergence``), at both sides of every
boundary, the boundaries written here from the moments themselves: probe-averaged E[1/nu] with nu ~ chi^2_{d_v} is
finite iff d_v > 2; E[1/kappa] (linear, relu) iff d_k > 2; E[kappa^-p] (poly) iff d_k > 2p; exp's E[e^{a kappa}]
with a = 2(1/tau^2 - 1/tau) iff 1 - 2a > 0, i.e. tau > 2 sqrt(2) - 2; the ratio of expectations' E[e^{2 kappa/tau}]
(exp) iff tau > 4; RBF's and the fixed-probe conventions' moments are always finite."""

import math

import pytest

from impl.estimators import kernel_moments as km

TAU0 = 2 * math.sqrt(2) - 2
EPS = 1e-9


def _div(kernel, conv, d_k, d_v, **prm):
    return bool(km.divergence(kernel, conv, d_k, d_v, **prm))


@pytest.mark.parametrize("kernel,prm", [("linear", {}), ("relu", {}), ("poly", {"p": 2}), ("poly", {"p": 3}),
                                        ("exp", {"tau": 8.0}), ("rbf", {"s": 1.0})])
def test_probe_averaged_boundaries(kernel, prm):
    big = 64
    assert _div(kernel, "probe_averaged", big, 2, **prm) and not _div(kernel, "probe_averaged", big, 3, **prm)
    if kernel in ("linear", "relu"):
        assert _div(kernel, "probe_averaged", 2, big) and not _div(kernel, "probe_averaged", 3, big)
    elif kernel == "poly":
        p = prm["p"]
        assert _div(kernel, "probe_averaged", 2 * p, big, p=p) and not _div(kernel, "probe_averaged", 2 * p + 1, big, p=p)
    else:  # exp (at tau = 8) and rbf: no condition on d_k
        assert not _div(kernel, "probe_averaged", 1, big, **prm)
    for conv in ("conditional", "typical"):
        assert not _div(kernel, conv, 1, 1, **prm)


def test_exp_temperature_boundaries():
    assert _div("exp", "probe_averaged", 8, 8, tau=TAU0 - EPS) and not _div("exp", "probe_averaged", 8, 8, tau=TAU0 + EPS)
    assert _div("exp", "ratio_of_expectations", 8, 8, tau=4.0) and not _div("exp", "ratio_of_expectations", 8, 8, tau=4.0 + EPS)
    for kernel, prm in [("linear", {}), ("relu", {}), ("poly", {"p": 3}), ("rbf", {"s": 0.5})]:
        assert not _div(kernel, "ratio_of_expectations", 1, 1, **prm)
    assert 1 - 2 * km.exp_a(TAU0) == pytest.approx(0.0, abs=1e-12)  # the boundary is where 1 - 2a vanishes


def test_memory_divergence_boundaries():
    """The same boundaries through the memories' own ``divergence``: the linear memory (E[1/kappa], E[1/nu]: d_k, d_v
    > 2), the user memories (E[1/nu]: d_v > 2; a linear feature map also needs rank > 2), SoLU (probe-averaged: d_k,
    d_v > 2 and beta < (1 + sqrt 2)/2; ratio of expectations: finite below beta = 1/4, degenerate to 1/2, undefined
    from 1/2)."""
    import torch

    from impl.memories.linear import LinearMemory
    from impl.memories.solu import SoLUMemory
    from impl.memories.user import FeatureMapMemory, KernelFunctionMemory

    lin = LinearMemory()
    assert lin.divergence("probe_averaged", 2, 8) and lin.divergence("probe_averaged", 8, 2)
    assert not lin.divergence("probe_averaged", 3, 3) and not lin.divergence("conditional", 1, 1)
    kf = KernelFunctionMemory("t:poly", lambda x, y: (1 + (x * y).sum(-1)) ** 2)
    assert kf.divergence("probe_averaged", 8, 2) and not kf.divergence("probe_averaged", 8, 3)
    assert not kf.divergence("conditional", 8, 1)
    rank2 = FeatureMapMemory("t:rank2", lambda x: x[..., :2] * 1.0, 6)  # phi(x) = L^T x with rank 2
    rank3 = FeatureMapMemory("t:rank3", lambda x: x[..., :3] * 1.0, 6)
    assert rank2.divergence("probe_averaged", 6, 8) and not rank3.divergence("probe_averaged", 6, 8)
    nonlinear = FeatureMapMemory("t:square", lambda x: torch.cat([x, x * x], -1), 6)
    assert not nonlinear.divergence("probe_averaged", 6, 3) and nonlinear.divergence("probe_averaged", 6, 2)
    beta0 = (1 + math.sqrt(2)) / 2
    assert SoLUMemory(beta=0.1).divergence("probe_averaged", 2, 8) and SoLUMemory(beta=0.1).divergence("probe_averaged", 8, 2)
    assert not SoLUMemory(beta=0.1).divergence("probe_averaged", 3, 3)
    assert SoLUMemory(beta=beta0 + 1e-9).divergence("probe_averaged", 8, 8)
    assert not SoLUMemory(beta=beta0 - 1e-9).divergence("probe_averaged", 8, 8)
    for beta, finite in [(0.25 - 1e-9, True), (0.25, False), (0.5 - 1e-9, False), (0.5, False)]:
        assert (not SoLUMemory(beta=beta).divergence("ratio_of_expectations", 8, 8)) == finite, beta
    assert SoLUMemory(beta=0.3).divergence("ratio_of_expectations", 8, 8) != SoLUMemory(beta=0.6).divergence(
        "ratio_of_expectations", 8, 8)  # degenerate (SNR^-1 = 0) and undefined are told apart


@pytest.mark.parametrize("tau", [3.9, 4.0, 4.5, 8.0, 8.01, 8.5, 9.0, 12.0, 40.0])
def test_exp_ratio_parts_finite_exactly_where_their_moments_are(tau):
    """exp's ratio-of-expectations parts (``ratio_parts``) against the chi-square MGF E[e^{t chi2_d}] = (1-2t)^{-d/2}
    written out here: X = c^2 nu with c = e^{||q||^2/tau} has E[X] = d_v (1 - 4/tau)^{-d_k/2} (finite iff tau > 4)
    and relative variance (d_v + 2)/d_v (1 - 8/tau)^{-d_k/2} / (1 - 4/tau)^{-d_k} - 1 (finite iff tau > 8); Y's
    needs E[e^{4 k.q/tau}] = E[e^{8 ||q||^2/tau^2}] (finite iff tau > 4). Points on both sides of 4 and 8, and
    inside (8, 9], where a boundary moved from 8 to 9 would still hold everywhere else."""
    n, d_k, d_v = 5, 6, 4
    rx, ry, log_ex = km.ratio_parts("exp", n, d_k, d_v, tau=tau)
    if tau <= 4:
        assert rx == ry == log_ex == math.inf
        return
    assert log_ex == pytest.approx(math.log(d_v) - d_k / 2 * math.log(1 - 4 / tau), rel=1e-12)
    assert math.isfinite(ry) and ry > 0
    if tau <= 8:
        assert rx == math.inf
    else:
        closed = (d_v + 2) / d_v * (1 - 8 / tau) ** (-d_k / 2) / (1 - 4 / tau) ** (-d_k) - 1
        assert rx == pytest.approx(closed, rel=1e-9)


@pytest.mark.parametrize("kernel,prm,g", [("linear", {}, 1), ("relu", {}, 1), ("poly", {"p": 2}, 2)])
def test_probe_averaged_skewness_defined_exactly_where_the_third_moment_is(kernel, prm, g):
    """One probe-averaged sample's skewness needs E[X^3]: E[nu^-3] (d_v > 6) and E[kappa^(-3g)] with kappa ~ chi^2_{d_k}
    (d_k > 6g, g the kernel's homogeneity degree: E[chi2_d^-m] is finite iff m < d/2). nan on the boundary, finite
    one past it, on each axis."""
    big = 64
    edge = 6 * g
    assert math.isnan(km.probe_averaged_skewness(kernel, 6, edge, big, **prm))
    assert math.isfinite(km.probe_averaged_skewness(kernel, 6, edge + 1, big, **prm))
    assert math.isnan(km.probe_averaged_skewness(kernel, 6, big, 6, **prm))
    assert math.isfinite(km.probe_averaged_skewness(kernel, 6, big, 7, **prm))
