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
