"""C4's probe-averaged and ratio-of-expectations intervals, both Catoni's. Probe-averaged: at the exact variance of
ONE probe's ratio, which bounds the variance of a trial's mean over its N probes. Ratio of expectations: at the exact
variances of a trial's N-probe means of numerator and denominator (``trial_mean_moments``). Checked against numpy
simulations that share no code with the memory or with ``kernel_moments``, and at N = 2 against a hand derivation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from assocmem import calibration, registry
from impl.estimators import catoni
from impl.memories.linear import trial_mean_moments

ALPHA = 1e-6


def _probes(rng, reps, n, dk, dv):
    """Per memory of n Gaussian pairs, every probe's noise ||r_i||^2 and signal c_i^2 ||v_i||^2 (numpy)."""
    K = rng.standard_normal((reps, n, dk))
    V = rng.standard_normal((reps, n, dv))
    G = K @ K.transpose(0, 2, 1)  # k_j^T k_i
    c = np.einsum("rii->ri", G)
    W = G - c[:, :, None] * np.eye(n)  # off-diagonal weights: r_i = sum_{j != i} (k_j^T k_i) v_j
    R = W @ V
    return (R**2).sum(-1), c**2 * (V**2).sum(-1)


@pytest.mark.parametrize("n, d", [(8, 12), (3, 16)])
def test_the_probe_averaged_interval_uses_the_simulated_variance_of_one_probe_and_it_bounds_the_trials_mean(n, d):
    rng = np.random.default_rng(20251207 + 10 * n + d)
    noise, signal = _probes(rng, 200_000, n, d, d)
    one = noise[:, 0] / signal[:, 0]  # one probe per memory: i.i.d. single-probe samples
    mean_of_n = (noise / signal).mean(1)
    c = one - one.mean()
    s2 = (c**2).mean()
    se = math.sqrt(((c**4).mean() - s2**2) / one.size)  # the sample variance's standard error (finite 4th moment)
    assert se < 0.03 * s2
    res = registry.get("C4.probe_averaged").run({"n_pairs": n, "d_k": d, "d_v": d, "trials": 1500}, 3)
    assert res.extra["interval"] == "catoni"
    width_var = ((res.hi - res.lo) / 2) ** 2 * (1500 - 2 * math.log(2 / ALPHA)) / (2 * math.log(2 / ALPHA))
    assert abs(width_var - s2) <= 5 * se, (width_var, s2, se)  # the interval's variance is one probe's
    assert mean_of_n.var() < width_var  # ... which bounds the variance of the N-probe mean the trial reports
    assert res.lo < res.theory < res.hi


def _variance_and_se(x):
    """The sample variance and its standard error (from the sample fourth central moment)."""
    c = x - x.mean()
    s2 = (c**2).mean()
    return s2, math.sqrt(((c**4).mean() - s2**2) / x.size)


@pytest.mark.parametrize("n, d, dv", [(8, 10, 10), (16, 6, 3), (3, 9, 2)])
def test_the_trial_means_moments_match_simulated_memories(n, d, dv):
    """E X, Var X and Var Y of a trial's N-probe means against numpy memories (5 standard errors, each under 3 % of
    the value, so a 15 % error in a formula is outside; fixed seed)."""
    rng = np.random.default_rng(20251209 + 100 * n + d)
    noise, signal = _probes(rng, 400_000, n, d, dv)
    x, y = signal.mean(1), noise.mean(1)
    ex, vx, vy = trial_mean_moments(n, d, dv)
    assert abs(x.mean() - ex) <= 5 * math.sqrt(vx / x.size)
    for sample, exact in ((x, vx), (y, vy)):
        s2, se = _variance_and_se(sample)
        assert se < 0.03 * exact and abs(s2 - exact) <= 5 * se, (s2, exact, se)


@pytest.mark.parametrize("d, dv", [(5, 3), (12, 1)])
def test_with_two_pairs_the_noise_variance_is_the_hand_computed_one(d, dv):
    """N = 2: r_1 = w v_2, r_2 = w v_1 with w = k_1^T k_2, so Y = w^2 (||v_1||^2 + ||v_2||^2)/2 and
    Var Y = E w^4 E[(chi^2_{2 d_v})^2] / 4 - (d d_v)^2 with E w^4 = 3 d (d + 2)."""
    _, _, vy = trial_mean_moments(2, d, dv)
    assert vy == 3 * d * (d + 2) * (2 * dv) * (2 * dv + 2) / 4 - (d * dv) ** 2


def test_the_ratio_interval_is_catonis_at_the_simulated_variances_of_the_trial_means():
    """The ratio's interval is [Y_lo / X_hi, Y_hi / X_lo] from Catoni's intervals at alpha/2: rebuilt here from the
    simulated variances of a trial's N-probe means of Y = ||r||^2 and X = c^2 ||v||^2 and the exact means, its
    width agrees with the run's to within the simulation's error (a few % in each variance moves it by ~2 %)."""
    n, d, trials = 8, 10, 1500
    rng = np.random.default_rng(20251208)
    noise, signal = _probes(rng, 200_000, n, d, d)
    vy, vx = noise.mean(1).var(), signal.mean(1).var()
    res = registry.get("C4.ratio_of_expectations").run({"n_pairs": n, "d_k": d, "d_v": d, "trials": trials}, 5)
    assert res.extra["interval"] == "catoni" and res.lo < res.theory < res.hi
    hy, hx = catoni.half_width(trials, vy, ALPHA / 2), catoni.half_width(trials, vx, ALPHA / 2)
    ey = (n - 1) * d * d  # E||r||^2 = (N - 1) d_k d_v
    ex = d * (d + 2) * d  # E[c^2 ||v||^2] = d_k (d_k + 2) d_v
    assert abs(res.hi - res.lo - ((ey + hy) / (ex - hx) - (ey - hy) / (ex + hx))) <= 0.05 * (res.hi - res.lo)


@pytest.mark.parametrize("cid", ["C4.probe_averaged", "C4.ratio_of_expectations"])
def test_the_linear_memorys_intervals_carry_the_far_tail_by_catoni(cid):
    run = calibration._runs([registry.get(cid).run({"n_pairs": 16, "d_k": 5, "d_v": 5, "trials": 1500}, 1)])[0]
    assert run["kind"] == "catoni" and run["se"] is None
    assert calibration.tail_argument(registry.get(cid), run["kind"]).startswith("finite-sample bound")


def test_without_a_finite_variance_the_probe_averaged_interval_says_it_is_not_calibrated():
    from impl.estimators.snr import estimate_snr
    from impl.memories.linear import LinearMemory

    res = estimate_snr(LinearMemory(), 8, 4, 9, 200, 0, conventions=("probe_averaged",))["probe_averaged"]
    assert res.details.get("interval") != "catoni" and "NOT calibrated" in res.note


def test_the_linear_memory_bounds_every_convention_from_two_pairs_on():
    """Catoni's interval needs one sample's exact variance, which the linear memory has as soon as anything
    interferes (N >= 2); at N = 2 every convention must carry it (only N = 1, where every sample is 0 up to round-off,
    falls back)."""
    from impl.estimators.snr import estimate_snr
    from impl.memories.linear import LinearMemory

    out = estimate_snr(LinearMemory(), 2, 6, 6, 40, 3)
    for conv in ("conditional", "typical", "probe_averaged", "ratio_of_expectations"):
        assert out[conv].details.get("interval") == "catoni", (conv, out[conv].note)
    one = estimate_snr(LinearMemory(), 1, 6, 6, 40, 3)
    for conv in ("conditional", "probe_averaged"):  # nothing interferes: samples are round-off (~1e-32), no Catoni
        assert one[conv].details.get("interval") != "catoni" and abs(one[conv].estimate) < 1e-20, one[conv]
