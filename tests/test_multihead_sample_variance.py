"""impl.memories.multihead.sample_relvar: the exact variance of one sample behind C12.heads_snr.linear's Catoni
interval, against the single-head linear memory's formula (impl.estimators.kernel_moments) and a direct simulation
that does not use the multi-head read."""

from __future__ import annotations

import math

import numpy as np
import pytest

from impl.estimators import kernel_moments as km
from impl.estimators.snr import estimate_snr
from impl.memories import multihead as mh


@pytest.mark.parametrize("n_pairs, d, d_v", [(2, 8, 4), (16, 32, 16), (64, 64, 8)])
def test_one_head_is_the_linear_memorys_typical_relvar(n_pairs, d, d_v):
    ref = km.plain_relvar("linear", "typical", n_pairs, d, d_v, kappa=float(d))[0]
    assert mh.sample_relvar(n_pairs, d, d_v, 1) == pytest.approx(ref, rel=1e-12)


@pytest.mark.parametrize("n_pairs, d, d_v, h", [(8, 16, 8, 4), (32, 32, 16, 2)])
def test_the_relvar_matches_a_direct_simulation(n_pairs, d, d_v, h):
    """X = ||r||^2 / (c^2 nu) with each head's noise drawn from its blocks (numpy), 400,000 trials; |s^2/mean^2 -
    relvar| <= 5 se with se from the sample fourth central moment (asymptotic; fixed seed), se below 3 % of it."""
    rng = np.random.default_rng(7 + h)
    c, nu, trials = d / h, float(d_v), 400_000
    xs = []
    for _ in range(8):
        t = trials // 8
        k0 = np.full(d // h, math.sqrt(1.0))  # a block of norm^2 d/h
        a = rng.standard_normal((t, h, n_pairs - 1, d // h)) @ k0  # k_j^(m) . k_0^(m) ~ N(0, d/h)
        v = rng.standard_normal((t, h, n_pairs - 1, d_v // h))
        r = np.einsum("thn,thnv->thv", a, v)
        xs.append((r * r).sum((1, 2)) / (c * c * nu))
    x = np.concatenate(xs)
    exact = (n_pairs - 1) * h / d
    cen = x - x.mean()
    s2, m4 = (cen**2).mean(), (cen**4).mean()
    se = math.sqrt((m4 - s2**2) / x.size) / exact**2
    relvar = mh.sample_relvar(n_pairs, d, d_v, h)
    assert abs(x.mean() / exact - 1) < 0.01 and se < 0.03 * relvar
    assert abs(s2 / exact**2 - relvar) <= 5 * se, (s2 / exact**2, relvar, se)


def test_the_check_uses_catonis_interval_and_too_few_trials_the_t_interval():
    res = estimate_snr(mh.MultiHeadLinearMemory(2), 16, 16, 8, 300, 1)["typical"]
    assert res.details["interval"] == "catoni" and res.interval().dof is None
    assert set(res.details["intervals"]) == {"0.05", "0.01", "0.001"}
    few = estimate_snr(mh.MultiHeadLinearMemory(2), 16, 16, 8, 20, 1)["typical"]  # Catoni needs n > 2 log(2e3)
    assert "interval" not in few.details and few.interval().dof == 19
