"""U3.delta_below_linear's far-tail arguments, each against a source that does not share the claim's code:
linear attention's exact per-trial variance (SciPy's Beta moments; a numpy simulation of unit keys), the delta
rule's proven error range (the rule run on random keys), the values' expectation taken exactly (orthogonal values),
and the empirical Bernstein bound (hand values, its scaling, its coverage)."""

import dataclasses
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from assocmem.claims import updates_memory as um
from impl.estimators import bounded
from impl.numerics.device import generator
from impl.numerics.errors import InputError
from impl.rules.experiments import unit_keys, write_and_probe


# ------------------------------------------------------------------ linear attention's exact variance -------------
@pytest.mark.parametrize("d", [2, 3, 8, 16])
def test_inner_product_moments_match_scipy_beta(d):
    """t^2 = (k_i^T k_j)^2 ~ Beta(1/2, (d - 1)/2) for uniform unit vectors: the variance formula's Var(t^2)."""
    var_t2 = stats.beta(0.5, (d - 1) / 2).var()
    for n in (2, 9, 40):
        assert um.linear_unit_key_error_variance(n, d) == pytest.approx(2 * (n - 1) / n * var_t2, rel=1e-12)


@pytest.mark.parametrize("n,d", [(9, 2), (9, 8), (3, 3), (20, 5)])
def test_linear_trial_variance_matches_a_numpy_simulation(n, d):
    """The trial statistic (1/N) sum_i sum_{j != i} (k_i^T k_j)^2 simulated with numpy's own unit vectors
    (normalised Gaussians), 200,000 trials: its sample variance within 5 standard errors of the formula (the
    standard error from the sample's fourth central moment); the formula without the pairwise-independence
    argument's factor 2 (N - 1)/N, i.e. one probe's variance, lies outside for N > 2."""
    rng = np.random.default_rng(20261207 + 100 * n + d)
    trials = 200_000
    k = rng.standard_normal((trials, n, d))
    k /= np.linalg.norm(k, axis=-1, keepdims=True)
    g = k @ k.transpose(0, 2, 1)
    x = ((g**2).sum((1, 2)) - (np.diagonal(g, axis1=1, axis2=2) ** 2).sum(1)) / n
    assert abs(x.mean() - um.linear_unit_key_error(n, d)) < 5 * x.std() / math.sqrt(trials)
    s2 = x.var(ddof=1)
    se = math.sqrt((((x - x.mean()) ** 4).mean() - s2**2) / trials)
    assert abs(s2 - um.linear_unit_key_error_variance(n, d)) < 5 * se
    one_probe = (n - 1) * stats.beta(0.5, (d - 1) / 2).var()
    assert abs(s2 - one_probe) > 5 * se


# ------------------------------------------------------------------ the values' expectation, exactly --------------
@pytest.mark.parametrize("memory", ["linear", "deltanet"])
def test_basis_values_equal_any_orthogonal_values(memory):
    """The memories are linear in the values, so the error with the basis vectors as values equals the error with
    any orthogonal N x N matrix as values (||Q^T r||= ||r||), probe by probe: the premise of taking the values'
    expectation exactly."""
    n, d, trials = 12, 5, 7
    gen = generator(4)
    K = unit_keys((trials, n, d), gen)
    q, _ = torch.linalg.qr(torch.randn((trials, n, n), generator=gen, dtype=torch.float64))
    direct = write_and_probe(memory, K, q, b=1.0).mean(1).numpy()
    assert np.allclose(um.basis_value_errors(memory, K), direct, rtol=1e-10, atol=1e-12)
    # batches of one trial give the same numbers
    assert np.allclose(um.basis_value_errors(memory, K, batch_elements=1), direct, rtol=1e-10, atol=1e-12)


def test_basis_values_are_the_gaussian_values_mean():
    """With Gaussian values the per-dimension error averages to the basis-value error (a Monte Carlo over 4000 value
    draws for one fixed set of keys, within 5 standard errors)."""
    n, d = 10, 4
    gen = generator(9)
    K = unit_keys((1, n, d), gen).expand(4000, n, d).contiguous()
    V = torch.randn((4000, n, 3), generator=gen, dtype=torch.float64)
    per_dim = write_and_probe("deltanet", K, V, b=1.0).mean(1).numpy() / 3
    exact = um.basis_value_errors("deltanet", K[:1])[0]
    assert abs(per_dim.mean() - exact) < 5 * per_dim.std() / math.sqrt(per_dim.size)


# ------------------------------------------------------------------ the delta rule's proven range ----------------
@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 30), d=st.integers(1, 10), seed=st.integers(0, 2**31 - 1))
def test_delta_rule_errors_lie_in_their_proven_range(n, d, seed):
    """At b = 1 with unit keys the state's map from values has operator norm <= 1, so every probe's error with basis
    values lies in [0, 4]; the last key is retrieved exactly; and the state has rank <= d_k, so the probe average is
    at least (N - d_k)/N (the best rank-d_k approximation of the identity)."""
    gen = generator(seed)
    K = unit_keys((3, n, d), gen)
    eye = torch.eye(n, dtype=torch.float64).expand(3, n, n)
    e = write_and_probe("deltanet", K, eye, b=1.0)
    tol = 1e-12 * n
    assert float(e.min()) >= -tol and float(e.max()) <= 4 + tol
    assert float(e[:, -1].abs().max()) <= tol
    assert float(e.mean(1).min()) >= max(n - d, 0) / n - tol


def test_range_bound_needs_b_equal_one():
    """The range is proven for b = 1 only: at b = 1.9 the state's map stretches the values and a probe's error leaves
    [0, 4] (one key written twice: S = b (1 - b) v_1 + b v_2, so probe 1 misses by (b (1 - b) - 1)^2 + b^2 = 10.95),
    which is why the claim fixes b = 1."""
    n, d = 2, 1
    K = torch.ones((1, n, d), dtype=torch.float64)
    eye = torch.eye(n, dtype=torch.float64).expand(1, n, n)
    e = write_and_probe("deltanet", K, eye, b=1.9)
    assert float(e[0, 0]) == pytest.approx((1.9 * (1 - 1.9) - 1) ** 2 + 1.9**2, rel=1e-12)
    assert float(e[0, 0]) > 4


# ------------------------------------------------------------------ the empirical Bernstein bound ----------------
def test_empirical_bernstein_hand_values():
    """Maurer and Pontil's Theorem 4 at two samples worked by hand: [0, 1, 0, 1] (mean 1/2, unbiased variance 1/3)
    at delta = 0.1, and a constant sample (variance 0: only the range term 7 log(2/delta) / (3 (n - 1)))."""
    big_l = math.log(20.0)
    assert bounded.mean_upper_bound([0, 1, 0, 1], 0, 1, 0.1) == pytest.approx(
        0.5 + math.sqrt(2 * (1 / 3) * big_l / 4) + 7 * big_l / 9, rel=1e-12)
    assert bounded.mean_upper_bound([0.25] * 11, 0, 1, 0.1) == pytest.approx(0.25 + 7 * big_l / 30, rel=1e-12)
    # the smallest sample the theorem allows, n = 2 ([0, 1]: unbiased variance 1/2), and one below it refused
    assert bounded.mean_upper_bound([0, 1], 0, 1, 0.1) == pytest.approx(
        0.5 + math.sqrt(2 * 0.5 * big_l / 2) + 7 * big_l / 3, rel=1e-12)
    with pytest.raises(InputError) as e:
        bounded.mean_upper_bound([0.5], 0, 1, 0.1)
    assert e.value.parameter == "trials"


def test_empirical_bernstein_scales_with_the_range():
    rng = np.random.default_rng(3)
    u = rng.beta(2, 5, size=300)
    b01 = bounded.mean_upper_bound(u, 0, 1, 1e-3)
    assert bounded.mean_upper_bound(-2 + 4 * u, -2, 2, 1e-3) == pytest.approx(-2 + 4 * b01, rel=1e-12)


@pytest.mark.parametrize("delta", [0.05, 0.01])
def test_empirical_bernstein_coverage_and_tightness(delta):
    """Coverage: over 20,000 samples of n = 40 from a skewed law on [0, 1] (Beta(0.3, 4): mean 0.0698), the bound
    falls below the mean no more often than the exact binomial test at 1e-3 allows at rate delta (it is a bound: far
    fewer is expected). Tightness: at n = 20,000 the bound exceeds the mean by at most 1.5 times the asymptotic
    normal half-width sqrt(2 Var log(2/delta)/n) plus the range term; a bound that drops the 1/n under the root or
    inflates the range term fails it."""
    rng = np.random.default_rng(int(1 / delta))
    mean = 0.3 / 4.3
    reps, n = 20_000, 40
    x = rng.beta(0.3, 4.0, size=(reps, n))
    misses = sum(bounded.mean_upper_bound(row, 0, 1, delta) < mean for row in x)
    assert stats.binomtest(int(misses), reps, delta, alternative="greater").pvalue > 1e-3
    big = rng.beta(0.3, 4.0, size=20_000)
    var = stats.beta(0.3, 4.0).var()
    big_l = math.log(2 / delta)
    slack = bounded.mean_upper_bound(big, 0, 1, delta) - mean
    assert 0 < slack < 1.5 * math.sqrt(2 * var * big_l / big.size) + 7 * big_l / (3 * (big.size - 1)) + 3 * math.sqrt(var / big.size)


@pytest.mark.parametrize("args,flag", [
    (([0.5, 1.5], 0, 1, 0.1), "samples"),
    (([0.5, float("nan")], 0, 1, 0.1), "samples"),
    (([0.5], 0, 1, 0.1), "trials"),
    (([0.5, 0.6], 0, 1, 0.0), "delta"),
    (([0.5, 0.6], 1, 1, 0.1), "hi"),
])
def test_empirical_bernstein_refuses(args, flag):
    with pytest.raises(InputError) as e:
        bounded.mean_upper_bound(*args)
    assert e.value.parameter == flag


# ------------------------------------------------------------------ the claim's check -----------------------------
def test_claim_at_its_smallest_gap_passes_with_both_parts():
    res = um.run_delta_vs_linear({"n_pairs": 9, "d_k": 8, "trials": 1000}, 11)
    assert res.passed and res.n == 1000 and res.extra["interval"] == "catoni + empirical Bernstein"
    assert set(res.extra["intervals"]) >= {"0.05", "0.01", "0.001"}
    assert res.level == pytest.approx(1 - 5e-7)
    assert res.extra["delta_upper_bound"] < 1.0 < res.hi
    half = (res.hi - res.lo) / 2
    big_l = math.log(2 / 5e-7)
    assert half == pytest.approx(math.sqrt(2 * um.linear_unit_key_error_variance(9, 8) * big_l / (1000 - 2 * big_l)),
                                 rel=1e-9)


def test_claim_fails_when_the_delta_rule_is_no_better(monkeypatch):
    """Part (b) has power of its own: if the 'delta rule' errors were linear attention's, the check fails."""
    real = um.basis_value_errors
    monkeypatch.setattr(um, "basis_value_errors", lambda memory, K, **kw: real("linear", K))
    res = um.run_delta_vs_linear({"n_pairs": 9, "d_k": 8, "trials": 1000}, 11)
    assert not res.passed and "NOT below" in res.note


def test_claim_fails_when_the_delta_errors_leave_their_range(monkeypatch):
    real = um.basis_value_errors
    monkeypatch.setattr(um, "basis_value_errors",
                        lambda memory, K, **kw: real(memory, K) * (8.0 if memory == "deltanet" else 1.0))
    res = um.run_delta_vs_linear({"n_pairs": 12, "d_k": 4, "trials": 1000}, 2)
    assert not res.passed and "outside their proven range" in res.note
    assert dataclasses.asdict(res)["extra"]["delta_upper_bound"] == math.inf


def test_far_tail_argument_names_both_parts():
    """The claim's check rests on two bounds, and its interval kind says so; the far-tail table names both (the
    claim's declared argument: the kind is not one the calibration knows on its own)."""
    from assocmem import calibration, registry

    kind = um.run_delta_vs_linear({"n_pairs": 9, "d_k": 8, "trials": 100}, 1).extra["interval"]
    tail = calibration.tail_argument(registry.get("U3.delta_below_linear"), kind)
    assert "Catoni" in tail and "Maurer and Pontil" in tail and "[0, 4]" in tail


def test_calibration_worst_corner_is_the_smallest_gap():
    """The declared heaviness puts the calibration's 10,000 seeds where part (a) is heaviest and part (b) weakest."""
    from assocmem import calibration, registry

    where = calibration.corners(registry.get("U3.delta_below_linear"))
    assert where["worst"] == {"n_pairs": 9, "d_k": 8, "trials": 1000}
    assert um._u3_heaviness({"n_pairs": 9, "d_k": 8}) == pytest.approx(4 * 7 / (9 * 8 * 10), rel=1e-12)
