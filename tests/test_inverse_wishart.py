"""theory.inverse_wishart: inverse-Wishart trace moments and the exact variance behind U4.rls_rate's Catoni interval,
each against a construction that shares none of its code: the inverse chi-square moments at p = 1, numpy's matrix
inverse of simulated Wishart matrices, the claim's own closed-form mean, and a direct simulation of minimum-norm
least squares (numpy's pseudo-inverse, not the RLS rule)."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, strategies as st

from impl.rules.experiments import rls_msd_theory
from theory import inverse_wishart as iw


@pytest.mark.parametrize("n", [5, 6, 9, 30])
def test_at_one_dimension_the_moments_are_inverse_chi_square_moments(n):
    """p = 1: H = Q ~ chi^2_n, E[1/Q] = 1/(n - 2), E[1/Q^2] = 1/((n - 2)(n - 4)) (integrals of the chi-square
    density), and tr H^{-2} = (tr H^{-1})^2."""
    first, second, square = iw.trace_moments(n, 1)
    assert first == Fraction(1, n - 2)
    assert second == square == Fraction(1, (n - 2) * (n - 4))
    assert iw.trace_variance(n, 1) == Fraction(1, (n - 2) * (n - 4)) - Fraction(1, (n - 2) ** 2)


@given(st.integers(1, 40), st.integers(4, 60))
def test_the_variances_positive_form_is_the_second_moment_minus_the_squared_mean(p, m):
    first, _, square = iw.trace_moments(p + m, p)
    assert iw.trace_variance(p + m, p) == square - first**2 > 0


@pytest.mark.parametrize("n, p", [(14, 2), (15, 3), (17, 5)])
def test_the_moments_match_inverted_simulated_wishart_matrices(n, p):
    """H = X X^T from numpy draws, inverted by numpy: the sample means of tr H^{-2} and (tr H^{-1})^2 within 5 of
    their standard errors (n - p >= 9, so both have finite variances; fixed seed), each standard error under 1 % of
    the value, so a 5 % error in a formula is outside."""
    rng = np.random.default_rng(20251207 + 100 * n + p)
    reps = 400_000
    x = rng.standard_normal((reps, p, n))
    inv = np.linalg.inv(x @ x.transpose(0, 2, 1))
    tr1 = np.trace(inv, axis1=1, axis2=2)
    tr2 = np.einsum("rij,rji->r", inv, inv)
    first, second, square = (float(v) for v in iw.trace_moments(n, p))
    for sample, exact in ((tr1, first), (tr2, second), (tr1**2, square)):
        se = sample.std() / math.sqrt(reps)
        assert se < 0.01 * exact
        assert abs(sample.mean() - exact) <= 5 * se, (n, p, sample.mean(), exact, se)


@given(st.integers(1, 16), st.integers(1, 4), st.integers(1, 60), st.floats(0.0, 2.0))
def test_the_error_mean_is_the_claims_formula(d_k, d_v, t, sigma):
    """A second derivation of U4.rls_rate's closed form (``rls_msd_theory``), in both regimes."""
    if abs(t - d_k) < 2:
        with pytest.raises(ValueError, match="infinite"):
            iw.rls_error_mean(t, d_k, d_v, sigma)
        return
    assert math.isclose(iw.rls_error_mean(t, d_k, d_v, sigma), rls_msd_theory(t, d_k, d_v, sigma), rel_tol=1e-13)


@given(st.integers(1, 16), st.integers(1, 4), st.integers(1, 60), st.floats(0.0, 2.0))
def test_the_error_variance_is_the_conditional_decomposition(d_k, d_v, t, sigma):
    """Var X = sigma^4 d_k^2 d_v (2 E tr H^{-2} + d_v Var tr H^{-1}) (+ 2 d_v (d_k - t) below d_k), exact moments,
    against the factored form the claim evaluates; infinite (refused) for |t - d_k| <= 3."""
    if abs(t - d_k) <= 3:
        with pytest.raises(ValueError, match="infinite"):
            iw.rls_error_variance(t, d_k, d_v, sigma)
        return
    n, p = (t, d_k) if t > d_k else (d_k, t)
    _, second, _ = iw.trace_moments(n, p)
    expect = sigma**4 * d_k**2 * d_v * float(2 * second + d_v * iw.trace_variance(n, p)) + 2 * d_v * max(d_k - t, 0)
    assert math.isclose(iw.rls_error_variance(t, d_k, d_v, sigma), expect, rel_tol=1e-12, abs_tol=1e-300)


@pytest.mark.parametrize("t, d_k, d_v, sigma", [(14, 2, 2, 0.7), (16, 6, 1, 1.0), (1, 12, 3, 0.5), (2, 14, 2, 0.3)])
def test_the_error_variance_matches_minimum_norm_least_squares_simulated(t, d_k, d_v, sigma):
    """||S_t - W||^2 with S_t^T = K^+ V (numpy's pseudo-inverse: the minimum-norm least-squares solution, not the RLS
    rule) at 800,000 trials, |t - d_k| >= 10 (finite fourth moment). The sample variance's standard error comes from
    the sample fourth central moment; |s^2 - Var| <= 5 se (fixed seed), and se is asserted below 2 % of Var, so a
    10 % error in the formula is outside. Both regimes: the noise alone (t > d_k) and the unseen part of W plus the
    noise (t < d_k)."""
    rng = np.random.default_rng(20251207 + 1000 * t + d_k)
    chunks, per = 8, 100_000
    xs = []
    for _ in range(chunks):
        W = rng.standard_normal((per, d_v, d_k))
        K = rng.standard_normal((per, t, d_k)) / math.sqrt(d_k)
        V = K @ W.transpose(0, 2, 1) + sigma * rng.standard_normal((per, t, d_v))
        xs.append(((np.linalg.pinv(K) @ V - W.transpose(0, 2, 1)) ** 2).sum((1, 2)))
    x = np.concatenate(xs)
    c = x - x.mean()
    s2, m4 = (c**2).mean(), (c**4).mean()
    se = math.sqrt((m4 - s2**2) / x.size)
    exact = iw.rls_error_variance(t, d_k, d_v, sigma)
    assert x.size == chunks * per and se < 0.02 * exact
    assert abs(s2 - exact) <= 5 * se, (s2, exact, se)
    assert abs(x.mean() - iw.rls_error_mean(t, d_k, d_v, sigma)) <= 5 * math.sqrt(s2 / x.size)


@pytest.mark.parametrize("n, p", [(4, 1), (7, 4), (10, 7), (5, 0)])
def test_the_second_moments_are_refused_where_they_diverge(n, p):
    """E tr H^{-2} and Var tr H^{-1} need m = n - p > 3 (their denominators vanish at m = 3); p >= 1."""
    with pytest.raises(ValueError, match="n - p > 3"):
        iw.trace_moments(n, p)
    with pytest.raises(ValueError, match="n - p > 3"):
        iw.trace_variance(n, p)
    if p >= 1:
        assert iw.trace_variance(n + 1, p) > 0 and iw.trace_moments(n + 1, p)[1] > 0
