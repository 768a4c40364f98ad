"""theory.wishart: Wishart trace moments by Wick pairing, and the exact variance behind U4.linear_limit's Catoni
interval, each against a construction that shares none of its code (chi-square moments, the literature's
closed forms, a rank-one eigen-decomposition at t = 1, and a direct simulation)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp

from theory import wishart as w

n, p = w.n_sym, w.p_sym


def _chi2_raw_moment(dof, k):
    """E Q^k for Q ~ chi^2_dof: dof (dof + 2) ... (dof + 2k - 2)."""
    return sp.prod([dof + 2 * i for i in range(k)])


@pytest.mark.parametrize("powers", [(1,), (2,), (3,), (4,), (1, 1), (1, 2), (2, 2), (1, 3), (1, 1, 1), (1, 1, 2)])
def test_trace_moments_at_one_row_or_one_column_are_chi_square_moments(powers):
    """At p = 1, H = Q ~ chi^2_n is a scalar, so prod tr(H^k_j) = Q^(sum k_j); at n = 1, H = x x^T and tr(H^k) =
    ||x||^(2k) with ||x||^2 ~ chi^2_p."""
    total = sum(powers)
    assert sp.expand(w.trace_moment(powers).subs(p, 1) - _chi2_raw_moment(n, total)) == 0
    assert sp.expand(w.trace_moment(powers).subs(n, 1) - _chi2_raw_moment(p, total)) == 0


def test_trace_moments_match_the_literatures_closed_forms():
    """E tr H = n p; E tr H^2 = n p (n + p + 1); E (tr H)^2 = n p (n p + 2) (tr H ~ chi^2_{np}); E tr H^3 =
    n p (n^2 + p^2 + 3 n p + 3 n + 3 p + 4) (Letac & Massam 2004, the third moment of W_p(n, I)); tr I = p."""
    assert sp.expand(w.trace_moment((1,)) - n * p) == 0
    assert sp.expand(w.trace_moment((2,)) - n * p * (n + p + 1)) == 0
    assert sp.expand(w.trace_moment((1, 1)) - n * p * (n * p + 2)) == 0
    assert sp.expand(w.trace_moment((3,)) - n * p * (n**2 + p**2 + 3 * n * p + 3 * n + 3 * p + 4)) == 0
    assert w.trace_moment((0,)) == p and sp.expand(w.trace_moment((0, 2)) - p * w.trace_moment((2,))) == 0
    with pytest.raises(ValueError, match="powers"):
        w.trace_moment((-1,))


def test_the_statistics_mean_by_wishart_moments_is_the_claims_formula():
    first, _ = w.linear_limit_moments()
    assert sp.simplify(first - (w.d_v * (w.d_k + 1) / w.d_k + w.sigma**2 * w.d_v)) == 0
    (says, lhs, rhs), = w.derivation_steps()
    assert sp.simplify(lhs - rhs) == 0 and "Wick" in says


def test_the_variance_at_one_step_matches_the_rank_one_eigen_decomposition():
    """At t = 1, G = k k^T with r = ||k||^2 = Q / d_k, Q ~ chi^2_{d_k}: Sigma_K = (G - I/d_k)^2 + sigma^2 G has the
    eigenvalue (r - 1/d_k)^2 + sigma^2 r along k and 1/d_k^2 on the d_k - 1 other directions; X | K is a sum of d_v
    Gaussian quadratic forms, E X^2 = d_v (2 E tr Sigma^2 + d_v E (tr Sigma)^2). Symbolic in d_k, d_v, sigma."""
    d, dv, s = w.d_k, w.d_v, w.sigma
    q = sp.Symbol("q", positive=True)
    lam = (q / d - 1 / d) ** 2 + s**2 * q / d
    tr1 = lam + (d - 1) / d**2
    tr2 = lam**2 + (d - 1) / d**4

    def expect(expr):  # E over Q ~ chi^2_d of a polynomial in q
        return sum(c * _chi2_raw_moment(d, m[0]) for m, c in sp.Poly(sp.expand(expr), q).terms())

    second = dv * (2 * expect(tr2) + dv * expect(tr1**2))
    mean = dv * expect(tr1)
    assert sp.simplify(w.linear_limit_variance().subs(w.t_sym, 1) - (second - mean**2)) == 0


@pytest.mark.parametrize("point", [(2, 3, 2, 0.3), (3, 2, 5, 0.7), (4, 1, 16, 0.0)])
def test_the_variance_matches_a_direct_simulation(point):
    """X = t ||S_t/t - W/d_k||^2 drawn directly (numpy, not the linear-attention kernel) at 1.6 million trials, for
    t > 1 (t = 1 is the exact test above; there the fourth moment is so large that a simulation would need ~10^8
    trials). The sample variance's standard error comes from the sample fourth central moment; the check is
    |s^2 - Var| <= 5 se (asymptotic, a false-failure rate near 6e-7 for a well-behaved fourth moment; a fixed seed
    makes it reproducible), and se is asserted below 2 % of Var, so a 10 % error in the formula is outside."""
    dk, dv, t, sig = point
    rng = np.random.default_rng(20250525 + dk * 100 + t)
    n_trials = 1_600_000
    xs = []
    for chunk in range(16):
        m = n_trials // 16
        W = rng.standard_normal((m, dv, dk))
        K = rng.standard_normal((m, t, dk)) / math.sqrt(dk)
        N = rng.standard_normal((m, t, dv))
        V = np.einsum("mvk,mtk->mtv", W, K) + sig * N
        S = np.einsum("mtv,mtk->mvk", V, K)
        xs.append(t * ((S / t - W / dk) ** 2).sum((1, 2)))
    x = np.concatenate(xs)
    c = x - x.mean()
    s2, m4 = (c**2).mean(), (c**4).mean()
    se = math.sqrt((m4 - s2**2) / n_trials)
    exact = w.linear_limit_variance_of_one_trial(dk, dv, t, sig)
    assert x.size == n_trials and se < 0.02 * exact  # the test can see a 10 % error
    assert abs(s2 - exact) <= 5 * se, (s2, exact, se)
    assert abs(x.mean() - (dv * (dk + 1) / dk + sig**2 * dv)) <= 5 * math.sqrt(s2 / n_trials)


def test_the_float_variance_is_the_exact_rational_value():
    """The factored form has positive coefficients: float evaluation agrees with exact rational arithmetic to a few
    ulps, at the strategy's corners."""
    for dk, dv, t, sig in [(2, 1, 1, 0), (8, 4, 64, 1), (2, 4, 1, sp.Rational(1, 2)), (5, 3, 17, sp.Rational(1, 3))]:
        exact = w.linear_limit_variance().subs({w.d_k: dk, w.d_v: dv, w.t_sym: t, w.sigma: sig})
        got = w.linear_limit_variance_of_one_trial(dk, dv, t, float(sig))
        assert exact.is_Rational and abs(got / float(exact) - 1) <= 32 * np.finfo(float).eps
