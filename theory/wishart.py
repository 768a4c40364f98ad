"""Trace moments of a real Wishart matrix by Wick pairing, and the second moment of U4.linear_limit's statistic.

**Wishart trace moments.** H = X X^T with X a p x n matrix of i.i.d. N(0, 1) entries (H ~ W_p(n, I)). Writing
tr(H^k) = sum over rows i_1..i_k and columns a_1..a_k of prod_m X[i_m, a_m] X[i_{m+1}, a_m] (i_{k+1} = i_1), a
product of traces is a product of 2K Gaussian entries, and by Isserlis/Wick its expectation is a sum over the
(2K - 1)!! perfect pairings of the entries; a pairing forces the two entries of each pair to share their row and
their column, and contributes p^(number of row classes) n^(number of column classes). ``trace_moment`` enumerates
the pairings (``theory.moments.pairings``) and returns E[prod_j tr(H^{k_j})] as a polynomial in n and p. Known
values it reproduces (tested): E tr H = n p, E tr H^2 = n p (n + p + 1), E (tr H)^2 = n p (n p + 2), and at p = 1
(or n = 1) the chi-square moments E Q^k, Q ~ chi^2_n.

**U4.linear_limit's statistic.** On the stream v = W k + sigma n with k ~ N(0, I/d_k), W (d_v x d_k) and n i.i.d.
N(0, 1), linear attention's S_t = sum_{s <= t} v_s k_s^T gives

    X := t ||S_t / t - W / d_k||_F^2 = t ||W A + sigma N^T K / t||_F^2,   A = G / t - I / d_k,  G = K^T K,

with K the t x d_k matrix of keys and N the t x d_v matrix of noises. Given K, the d_v rows of the matrix in the norm
are i.i.d. N(0, Sigma_K), Sigma_K = A^2 + sigma^2 G / t^2, so X | K is t times a sum of d_v independent Gaussian
quadratic forms: E[X | K] = t d_v tr Sigma_K and Var[X | K] = 2 t^2 d_v tr Sigma_K^2. With G = H / d_k,
H ~ W_{d_k}(t, I), Sigma_K = f(H), f(x) = (x - t)^2 / (t d_k)^2 + sigma^2 x / (t^2 d_k), a polynomial in the
one matrix H, so

    E X   = t d_v E tr f(H),
    E X^2 = t^2 d_v (2 E tr f(H)^2 + d_v E (tr f(H))^2),

both in trace moments of H of degree at most 4. E X reproduces the claim's d_v (d_k + 1)/d_k + sigma^2 d_v (a
second derivation, tested); Var X = E X^2 - (E X)^2 is the exact variance of one trial that Catoni's interval
(``impl.estimators.catoni``) needs: X is a degree-6 Gaussian polynomial, skewed enough at t = 1 that a Student-t
interval at 2000 trials under-covers (the calibration's finding).
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

from theory.moments import pairings

n_sym = sp.Symbol("n", positive=True, integer=True)  # columns of X: Wishart degrees of freedom
p_sym = sp.Symbol("p", positive=True, integer=True)  # rows of X: the dimension of H
d_k, d_v, t_sym = sp.symbols("d_k d_v t", positive=True)
sigma = sp.Symbol("sigma", nonnegative=True)


def _classes(parent: dict, x):
    while parent.setdefault(x, x) != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


@lru_cache(maxsize=None)
def trace_moment(powers: tuple[int, ...]) -> sp.Expr:
    """E[prod_j tr(H^{k_j})] for H = X X^T, X p x n with i.i.d. N(0, 1) entries, as an expanded polynomial in n
    and p (``n_sym``, ``p_sym``); a power 0 is tr(I) = p."""
    if any(k < 0 for k in powers):
        raise ValueError(f"trace powers must be >= 0, got {powers}")
    entries = []  # (row index id, column index id) of each X entry in the product
    rows = cols = 0
    factor = sp.Integer(1)
    for k in powers:
        if k == 0:
            factor *= p_sym
            continue
        for m in range(k):
            entries += [(rows + m, cols + m), (rows + (m + 1) % k, cols + m)]
        rows, cols = rows + k, cols + k
    total = sp.Integer(0)
    for pairing in pairings(range(len(entries))):
        row_parent, col_parent = {}, {}
        for a, b in pairing:
            row_parent[_classes(row_parent, entries[a][0])] = _classes(row_parent, entries[b][0])
            col_parent[_classes(col_parent, entries[a][1])] = _classes(col_parent, entries[b][1])
        n_rows = len({_classes(row_parent, r) for r in range(rows)})
        n_cols = len({_classes(col_parent, c) for c in range(cols)})
        total += p_sym**n_rows * n_sym**n_cols
    return sp.expand(factor * total)


def _coefficients(poly: sp.Expr, x: sp.Symbol) -> dict[int, sp.Expr]:
    return {m[0]: c for m, c in sp.Poly(sp.expand(poly), x).terms()}


@lru_cache(maxsize=None)
def linear_limit_moments() -> tuple[sp.Expr, sp.Expr]:
    """(E X, E X^2) for X = t ||S_t / t - W / d_k||_F^2 (module docstring), in d_k, d_v, t, sigma."""
    x = sp.Symbol("x")
    f = (x - t_sym) ** 2 / (t_sym * d_k) ** 2 + sigma**2 * x / (t_sym**2 * d_k)
    at = {n_sym: t_sym, p_sym: d_k}
    tr = {j: trace_moment((j,)).subs(at) for j in range(5)}
    f1, f2 = _coefficients(f, x), _coefficients(f**2, x)
    e_tr_f = sum(c * tr[j] for j, c in f1.items())
    e_tr_f2 = sum(c * tr[j] for j, c in f2.items())
    e_tr_f_sq = sum(ci * cj * trace_moment(tuple(sorted((i, j)))).subs(at)
                    for i, ci in f1.items() for j, cj in f1.items())
    first = sp.factor(sp.expand(t_sym * d_v * e_tr_f))
    second = sp.expand(t_sym**2 * d_v * (2 * e_tr_f2 + d_v * e_tr_f_sq))
    return first, second


@lru_cache(maxsize=None)
def linear_limit_variance() -> sp.Expr:
    """Var X = E X^2 - (E X)^2, factored: 2 d_v P(d_k, d_v, t, sigma) / (d_k^3 t) with P a polynomial of positive
    coefficients (so evaluating it in floating point cancels nothing)."""
    first, second = linear_limit_moments()
    return sp.factor(sp.expand(second - first**2))


@lru_cache(maxsize=None)
def _variance_function():
    return sp.lambdify((d_k, d_v, t_sym, sigma), linear_limit_variance(), "math")


def derivation_steps() -> list[tuple[str, sp.Expr, sp.Expr]]:
    """The claim's mean by a second route (Wishart trace moments), beside the Isserlis derivation of one sample."""
    first, _ = linear_limit_moments()
    return [("t E||S_t/t - W/d_k||^2 = t d_v E tr f(H) with H ~ W_{d_k}(t, I) (Wick pairings of the Wishart trace "
             "moments) = d_v (d_k+1)/d_k + sigma^2 d_v", sp.expand(first),
             sp.expand(d_v * (d_k + 1) / d_k + sigma**2 * d_v))]


def linear_limit_variance_of_one_trial(dk: int, dv: int, t: int, sig: float) -> float:
    """Var X at a point: E X^2 - (E X)^2 of U4.linear_limit's per-trial statistic (exact, float64)."""
    return float(_variance_function()(dk, dv, t, sig))
