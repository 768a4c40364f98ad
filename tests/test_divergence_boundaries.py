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
