"""A Gaussian-moment engine (SymPy only).

* Isserlis/Wick: E[x_{i1} ... x_{i2n}] for a zero-mean Gaussian vector = sum over perfect pairings of products
  of covariances; odd orders vanish. ``wick`` works on arbitrary symbolic linear forms a_i^T x.
* Chi-square moments: for Q ~ chi^2_d, E[Q^s] = 2^s Gamma(d/2 + s) / Gamma(d/2), finite iff s > -d/2.
  In particular E[Q] = d, E[Q^2] = d (d + 2), E[1/Q] = 1/(d - 2) (d > 2), E[1/Q^2] = 1/((d-2)(d-4)) (d > 4).
* Gaussian moment-generating functions: E[exp(t^T x)] = exp(t^T Sigma t / 2) for x ~ N(0, Sigma), and
  E[exp(a ||x||^2 + b^T x)] = (1 - 2a)^{-d/2} exp(||b||^2 / (2 (1 - 2a))) for x ~ N(0, I_d), finite iff a < 1/2.

``cross_checks()`` compares each against ``sympy.stats`` on small cases.
"""

from __future__ import annotations

from functools import reduce
from typing import Sequence

import sympy as sp


class DivergentMoment(ValueError):
    """A requested moment is infinite; the message states the finiteness condition."""


def pairings(items: Sequence):
    """All perfect matchings of ``items`` (a list of even length): (2n-1)!! of them."""
    items = list(items)
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for k in range(len(rest)):
        for tail in pairings(rest[:k] + rest[k + 1 :]):
            yield [(first, rest[k])] + tail


def wick(forms: Sequence[sp.Matrix], cov: sp.Matrix | None = None) -> sp.Expr:
    """E[prod_i (a_i^T x)] for x ~ N(0, cov) (cov = I if None), by Isserlis' theorem.

    ``forms`` are column vectors a_i. Each pairing (i, j) contributes a_i^T cov a_j.
    """
    forms = [sp.Matrix(a) for a in forms]
    if len(forms) % 2:
        return sp.Integer(0)
    d = forms[0].shape[0] if forms else 0
    cov = sp.eye(d) if cov is None else sp.Matrix(cov)
    total = sp.Integer(0)
    for p in pairings(list(range(len(forms)))):
        total += reduce(lambda acc, ij: acc * (forms[ij[0]].T * cov * forms[ij[1]])[0, 0], p, sp.Integer(1))
    return sp.expand(total)


def double_factorial_odd(p: int) -> int:
    """(2p - 1)!! = number of pairings of 2p items."""
    return int(sp.factorial2(2 * p - 1)) if p > 0 else 1


def chi2_moment(d, s) -> sp.Expr:
    """E[Q^s] for Q ~ chi^2_d: 2^s Gamma(d/2 + s) / Gamma(d/2), simplified. Raises DivergentMoment unless s > -d/2
    (checked when d and s are numbers; symbolic d gets the condition as an assumption the caller must honour)."""
    d = sp.sympify(d)
    s = sp.sympify(s)
    if d.is_number and s.is_number and not bool(s > -d / 2):
        raise DivergentMoment(f"E[Q^{s}] for Q ~ chi^2_{d} is infinite: needs s > -d/2, i.e. d > {-2 * s}")
    return sp.gammasimp(2**s * sp.gamma(d / 2 + s) / sp.gamma(d / 2))


def gaussian_mgf(t: sp.Matrix, cov: sp.Matrix | None = None) -> sp.Expr:
    """E[exp(t^T x)] = exp(t^T cov t / 2) for x ~ N(0, cov)."""
    t = sp.Matrix(t)
    cov = sp.eye(t.shape[0]) if cov is None else sp.Matrix(cov)
    return sp.exp((t.T * cov * t)[0, 0] / 2)


def gaussian_quadratic_mgf(a, b_sq, d) -> sp.Expr:
    """E[exp(a ||x||^2 + b^T x)] for x ~ N(0, I_d), with ||b||^2 = ``b_sq``:
    (1 - 2a)^{-d/2} exp(b_sq / (2 (1 - 2a))); finite iff a < 1/2."""
    a = sp.sympify(a)
    if a.is_number and not bool(a < sp.Rational(1, 2)):
        raise DivergentMoment(f"E[exp(a||x||^2 + b.x)] is infinite for a = {a}: needs a < 1/2")
    return (1 - 2 * a) ** (-sp.sympify(d) / 2) * sp.exp(sp.sympify(b_sq) / (2 * (1 - 2 * a)))


def cross_checks() -> list[tuple[str, sp.Expr, sp.Expr]]:
    """(what, engine value, sympy.stats value) on small cases; each pair must be equal."""
    from sympy.stats import E, ChiSquared, Normal

    out = []
    z = Normal("z", 0, 1)
    for p in (1, 2, 3):
        out.append((f"E[z^{2 * p}] = (2p-1)!! by Wick", wick([sp.Matrix([1])] * (2 * p)), E(z ** (2 * p))))
    sig = sp.Symbol("sigma", positive=True)
    zs = Normal("zs", 0, sig)
    out.append(("E[(sigma z)^4] by Wick", wick([sp.Matrix([sig])] * 4), E(zs**4)))
    for d in (3, 5, 6):
        q = ChiSquared("q", d)
        out.append((f"E[Q] chi^2_{d}", chi2_moment(d, 1), E(q)))
        out.append((f"E[Q^2] chi^2_{d}", chi2_moment(d, 2), E(q**2)))
        out.append((f"E[1/Q] chi^2_{d}", chi2_moment(d, -1), E(1 / q)))
    t = sp.Symbol("t", real=True)
    out.append(("Gaussian MGF E[exp(t z)]", gaussian_mgf(sp.Matrix([t])), sp.simplify(E(sp.exp(t * z)))))
    a = sp.Rational(1, 5)
    out.append(("E[exp(a z^2)], d = 1", gaussian_quadratic_mgf(a, 0, 1), sp.simplify(E(sp.exp(a * z**2)))))
    return out
