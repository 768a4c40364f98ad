"""The exact variance of one importance sample behind the exp kernel's Catoni intervals (C7.heavy_tail):
``snr_kernel.importance_relvar`` (fixed probe) and ``importance_probe_averaged_relvar`` (probe norm tilted too),
against chi-square moments integrated by SciPy and against the sample variance of the estimator's own samples
(which also checks that the proposals are zero-variance: any other tilt adds variance the formula does not have)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from impl.estimators import catoni
from impl.estimators import snr_kernel as sk
from impl.estimators.snr import estimate_snr
from impl.memories.kernel import kernel_memory


@pytest.mark.parametrize("n_pairs, d_v", [(2, 5), (2, 16), (64, 6), (256, 32), (1024, 16)])
def test_probe_averaged_relvar_from_chi_square_moments(n_pairs, d_v):
    """(E[C^2] / E[C]^2) (E[nu^-2] / E[nu^-1]^2) - 1, C ~ chi^2_{(N-1) d_v}, nu ~ chi^2_{d_v}, by SciPy's moments
    and numerical expectations (not the closed forms)."""
    m = (n_pairs - 1) * d_v
    c = stats.chi2(m)
    nu = stats.chi2(d_v)
    inv1 = nu.expect(lambda x: 1 / x, epsrel=1e-12)
    inv2 = nu.expect(lambda x: 1 / x**2, epsrel=1e-12)
    ref = c.moment(2) / c.mean() ** 2 * inv2 / inv1**2 - 1
    assert sk.importance_probe_averaged_relvar(n_pairs, d_v) == pytest.approx(ref, rel=1e-9)


@pytest.mark.parametrize("d_v", [1, 3, 4])
def test_probe_averaged_relvar_is_infinite_without_a_second_moment(d_v):
    assert sk.importance_probe_averaged_relvar(16, d_v) == math.inf


def _samples(monkeypatch, convention, n_pairs, d_k, d_v, tau, trials, seed):
    """The estimator's own importance samples, captured where they enter Catoni's interval."""
    seen, original = {}, catoni.as_estimate

    def capture(samples, variance, alpha):
        seen["x"], seen["var"] = np.asarray(samples), variance
        return original(samples, variance, alpha)

    monkeypatch.setattr(sk.catoni, "as_estimate", capture)
    res = estimate_snr(kernel_memory("exp", tau=tau), n_pairs, d_k, d_v, trials, seed, sampler="importance",
                       conventions=(convention,))[convention]
    return res, seen


@pytest.mark.parametrize("convention, n_pairs, d_k, d_v, tau", [("probe_averaged", 2, 8, 16, 2.0),
                                                                ("probe_averaged", 4, 16, 12, 1.5),
                                                                ("typical", 2, 8, 4, 2.0)])
def test_the_estimators_samples_have_the_stated_variance(monkeypatch, convention, n_pairs, d_k, d_v, tau):
    """200,000 samples: mean within 1 % of the exact value and |s^2/mean^2 - relvar| <= 5 se (se from the sample
    fourth central moment, finite here: d_v > 8 averaged over probes, a fixed ||v_i|| otherwise; fixed seed). A tilt that is not zero-variance (the probe's, say)
    multiplies one sample by a non-constant factor and adds variance, which this compares against."""
    res, seen = _samples(monkeypatch, convention, n_pairs, d_k, d_v, tau, 200_000, 3)
    x, exact = seen["x"], res.exact
    relvar = (sk.importance_probe_averaged_relvar(n_pairs, d_v) if convention == "probe_averaged"
              else sk.importance_relvar(n_pairs, d_v))
    assert x.size == 200_000 and seen["var"] == pytest.approx(relvar * exact**2, rel=1e-12)
    assert res.details["interval"] == "catoni" and set(res.details["intervals"]) == {"0.05", "0.01", "0.001"}
    cen = x - x.mean()
    s2, m4 = (cen**2).mean(), (cen**4).mean()
    se = math.sqrt((m4 - s2**2) / x.size) / exact**2
    assert abs(x.mean() / exact - 1) < 0.01 and se < 0.05 * relvar
    assert abs(s2 / exact**2 - relvar) <= 5 * se, (s2 / exact**2, relvar, se)


def test_probe_averaged_without_a_variance_keeps_the_t_interval():
    """d_v = 4: 1/||v_i||^2 has no second moment, so no Catoni interval (the claim is not made there)."""
    res = estimate_snr(kernel_memory("exp", tau=2.0), 16, 16, 4, 300, 1, sampler="importance",
                       conventions=("probe_averaged",))["probe_averaged"]
    assert "interval" not in res.details and res.interval().dof == 299
