"""Exact central moments of one Performer random-feature term, and the variances Catoni's interval needs for the
C9.performer.mean and C9.performer.variance checks (Choromanski et al. 2020, Lemma 2, taken to the fourth moment).

One feature's term, w ~ N(0, I_d), with xx = ||x||^2, yy = ||y||^2, xy = x^T y and SM = e^{xy}:

* positive:      T = exp(w^T (x + y) - (xx + yy)/2), lognormal with log-variance s = ||x + y||^2 = xx + yy + 2 xy:
                 E T = SM, mu_2 = SM^2 (e^s - 1), mu_4 = mu_2^2 (e^{4s} + 2 e^{3s} + 3 e^{2s} - 3)
                 (the lognormal's kurtosis);
* trigonometric: T = e^{(xx + yy)/2} cos(u), u = w^T (x - y) ~ N(0, z), z = ||x - y||^2 = xx + yy - 2 xy, with
                 E cos(j u) = e^{-j^2 z/2} and cos^2 = (1 + cos 2u)/2, cos^3 = (3 cos u + cos 3u)/4,
                 cos^4 = (3 + 4 cos 2u + cos 4u)/8, so the raw moments of cos(u) are closed forms and the central
                 ones follow (in 50-digit arithmetic, mpmath: at small z they are differences of numbers near 1).

An m-feature estimate is the mean of m terms. With i.i.d. features its variance is mu_2/m (Lemma 2) and its squared
error Y = (est - SM)^2 has E Y = mu_2/m and E Y^2 = E (est - SM)^4 = (mu_4 + 3 (m - 1) mu_2^2)/m^3, so

    Var Y = (mu_4 + (2m - 3) mu_2^2) / m^3.

With block-orthogonal features each row is still N(0, I) marginally (a uniform direction times a chi_d norm), so
the m terms are identically distributed but dependent; the variance of their mean is at most one term's, mu_2
(Var(mean) = sum_ij Cov / m^2 <= mu_2 by Cauchy-Schwarz): a bound, which is all Catoni's interval needs.

**In a memory (C9.performer.memory_noise).** One sample is Y = (kappa_hat(k, q) - e^{k^T q/tau})^2 with a fresh
Gaussian key k ~ N(0, I_d) and fresh i.i.d. features, x = k/sqrt(tau), y = q/sqrt(tau), ||q||^2 = kappa. Given k,
m^3 E[Y^2 | k] = mu_4 + 3 (m - 1) mu_2^2 and m E[Y | k] = mu_2, and both are finite sums of terms
c exp(a xx + b xy + g yy):

* positive, q_s = e^s:  mu_2 = e^{2xy} (q_s - 1),  mu_4 + 3 (m - 1) mu_2^2 = e^{4xy} (q_s - 1)^2 (q_s^4 + 2 q_s^3 +
  3 q_s^2 + 3m - 6);
* trigonometric, A = e^{xx + yy}:  mu_2 = A (1/2 + e^{-2z}/2 - e^{-z}),
  mu_4 = A^2 (3/8 - (5/2) e^{-2z} + 3 e^{-3z} - e^{-5z} + e^{-8z}/8)  (the products of the cos(j u) means).

Over the key, xx = ||k||^2/tau and xy = sqrt(kappa) u/tau with u = k^T q/||q|| ~ N(0, 1) and ||k||^2 = u^2 + r,
r ~ chi^2_{d-1} independent of u, so E_k exp(a xx + b xy) = (1 - 2a/tau)^{-d/2} exp(b^2 kappa / (2 tau^2 (1 - 2a/tau)))
(the Gaussian quadratic MGF, finite for a < tau/2: tau > 12 for the positive map's largest a = 6, tau > 4 for the
trigonometric map's a = 2). Hence Var Y = E_k E[Y^2 | k] - (E_k mu_2 / m)^2, exactly; E_k mu_2 / m is the claim's
formula (``theory.kernels.performer_memory_extra_noise``; a second derivation, tested).
"""

from __future__ import annotations

import mpmath
import numpy as np


def _central(kind: str, xx: float, yy: float, xy: float) -> tuple[mpmath.mpf, mpmath.mpf]:
    """(mu_2, mu_4) of one feature's term (module doc), at 50 digits (a local precision: mpmath's global one is
    left as it was)."""
    with mpmath.workdps(50):
        return _central_here(kind, xx, yy, xy)


def _central_here(kind, xx, yy, xy):
    xx, yy, xy = mpmath.mpf(xx), mpmath.mpf(yy), mpmath.mpf(xy)
    if kind == "positive":
        s = xx + yy + 2 * xy
        mu2 = mpmath.exp(2 * xy) * mpmath.expm1(s)
        return mu2, mu2**2 * (mpmath.exp(4 * s) + 2 * mpmath.exp(3 * s) + 3 * mpmath.exp(2 * s) - 3)
    if kind == "trigonometric":
        z = xx + yy - 2 * xy
        c1, c2, c3, c4 = (mpmath.exp(-j * j * z / 2) for j in (1, 2, 3, 4))
        e1, e2, e3, e4 = c1, (1 + c2) / 2, (3 * c1 + c3) / 4, (3 + 4 * c2 + c4) / 8
        mu2 = e2 - e1**2
        mu4 = e4 - 4 * e1 * e3 + 6 * e1**2 * e2 - 3 * e1**4
        amp = mpmath.exp(xx + yy)  # (e^{(xx + yy)/2})^2
        return amp * mu2, amp**2 * mu4
    raise ValueError(f"kind must be 'positive' or 'trigonometric', got {kind!r}")


def term_moments(kind: str, xx: float, yy: float, xy: float) -> tuple[float, float]:
    """(mu_2, mu_4): the central second and fourth moments of one feature's term (module doc)."""
    mu2, mu4 = _central(kind, xx, yy, xy)
    return float(mu2), float(mu4)


def estimate_variance(kind: str, xx: float, yy: float, xy: float, m: int, orthogonal: bool = False) -> float:
    """Var of the m-feature estimate: mu_2/m (i.i.d. features, exact) or mu_2 (block-orthogonal: an upper bound)."""
    mu2, _ = _central(kind, xx, yy, xy)
    return float(mu2 if orthogonal else mu2 / m)


def squared_error_variance(kind: str, xx: float, yy: float, xy: float, m: int) -> float:
    """Var (est - SM)^2 for m i.i.d. features: (mu_4 + (2m - 3) mu_2^2)/m^3 (module doc)."""
    mu2, mu4 = _central(kind, xx, yy, xy)
    with mpmath.workdps(50):
        return float((mu4 + (2 * m - 3) * mu2**2) / mpmath.mpf(m) ** 3)


# ---------------------------------------------------------------------------------------------------------------
# In a memory: sums of exponentials in (xx, xy, yy), averaged over a Gaussian key (module doc)
# ---------------------------------------------------------------------------------------------------------------


def _times(f: dict, g: dict) -> dict:
    """The product of two sums of exponentials {(a, b, g): coefficient}."""
    out: dict = {}
    for (a1, b1, g1), c1 in f.items():
        for (a2, b2, g2), c2 in g.items():
            key = (a1 + a2, b1 + b2, g1 + g2)
            out[key] = out.get(key, 0) + c1 * c2
    return out


def _in_z(w_coeffs: dict, amp: int) -> dict:
    """A^amp sum_w c_w e^{-w z}, A = e^{xx + yy}, z = xx + yy - 2 xy, as {(a, b, g): c}."""
    from fractions import Fraction

    return {(amp - w, 2 * w, amp - w): Fraction(c) for w, c in w_coeffs.items()}


def _memory_terms(kind: str, m: int) -> tuple[dict, dict]:
    """(m E[Y | k], m^3 E[Y^2 | k]) as sums of exponentials in (xx, xy, yy) (module doc)."""
    from fractions import Fraction

    if kind == "positive":
        def q_power(j):  # e^{j s} = e^{j (xx + yy + 2 xy)}
            return (j, 2 * j, j)

        mu2 = {(0, 2, 0): -1, _add((0, 2, 0), q_power(1)): 1}
        poly = np.polymul(np.polymul([1, -1], [1, -1]), [1, 2, 3, 0, 3 * m - 6])  # highest power first
        deg = len(poly) - 1
        second = {_add((0, 4, 0), q_power(deg - i)): int(c) for i, c in enumerate(poly) if c}
        return mu2, second
    if kind == "trigonometric":
        half = Fraction(1, 2)
        mu2 = _in_z({0: half, 2: half, 1: -1}, 1)
        mu4 = _in_z({0: Fraction(3, 8), 2: Fraction(-5, 2), 3: 3, 5: -1, 8: Fraction(1, 8)}, 2)
        second = _times(mu2, mu2)
        second = {k: 3 * (m - 1) * c for k, c in second.items()}
        for k, c in mu4.items():
            second[k] = second.get(k, 0) + c
        return mu2, second
    raise ValueError(f"kind must be 'positive' or 'trigonometric', got {kind!r}")


def _add(u, v):
    return tuple(a + b for a, b in zip(u, v))


def _key_average(terms: dict, kappa: float, d: int, tau: float) -> mpmath.mpf:
    """E over k ~ N(0, I_d) of sum c exp(a xx + b xy + g yy), xx = ||k||^2/tau, xy = k^T q/tau, yy = kappa/tau."""
    total = mpmath.mpf(0)
    for (a, b, g), c in terms.items():
        one_minus = 1 - 2 * mpmath.mpf(a) / tau
        if one_minus <= 0:
            raise ValueError(f"E_k exp({a} ||k||^2/tau) diverges at tau = {tau}: needs tau > {2 * a}")
        total += (mpmath.mpf(c.numerator) / c.denominator if hasattr(c, "numerator") else mpmath.mpf(c)) \
            * one_minus ** (-mpmath.mpf(d) / 2) * mpmath.exp(mpmath.mpf(b) ** 2 * kappa / (2 * tau**2 * one_minus)
                                                             + g * mpmath.mpf(kappa) / tau)
    return total


def memory_noise_moments(kind: str, kappa: float, d: int, tau: float, m: int) -> tuple[float, float]:
    """(E Y, Var Y) for one sample Y = (kappa_hat(k, q) - e^{k^T q/tau})^2 of C9.performer.memory_noise (module doc),
    exact (50-digit sums)."""
    mu2, second = _memory_terms(kind, m)
    with mpmath.workdps(50):
        mean = _key_average(mu2, kappa, d, tau) / m
        return float(mean), float(_key_average(second, kappa, d, tau) / mpmath.mpf(m) ** 3 - mean**2)
