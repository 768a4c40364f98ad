"""Second moments of an inverse Wishart matrix's traces, and the exact variance of U4.rls_rate's per-trial error.

**Inverse Wishart trace moments.** For H ~ W_p(n, I) (H = X X^T, X a p x n matrix of i.i.d. N(0, 1) entries) and
m = n - p,

    E tr H^{-1}      = p / (m - 1)                                   (m > 1),
    E tr H^{-2}      = p (n - 1) / (m (m - 1) (m - 3))                (m > 3),
    E (tr H^{-1})^2  = ((m - 2) p^2 + 2 p) / (m (m - 1) (m - 3))      (m > 3),

the traces of von Rosen's second moments E[H^{-1} H^{-1}] = (tr I + (m - 1) I) / (m (m - 1) (m - 3)) and
E[tr(H^{-1}) H^{-1}] = ((m - 2) tr(I) I + 2 I) / (m (m - 1) (m - 3)) (D. von Rosen, "Moments for the inverted Wishart
distribution", Scand. J. Statist. 15, 1988; also Press, Applied Multivariate Analysis, 1982, sec. 5.2). At p = 1
they are the inverse chi-square moments E[1/Q] = 1/(n - 2) and E[1/Q^2] = 1/((n - 2)(n - 4)) (tested), and
subtracting the square of the mean leaves the positive form

    Var tr H^{-1} = 2 p (n - 1) / (m (m - 1)^2 (m - 3)).

**U4.rls_rate's error.** On the stream v = W k + sigma n, k ~ N(0, I/d_k), least squares over t pairs (lam -> 0, the
minimum-norm solution S_t) has, with K the t x d_k key matrix and E the t x d_v noise matrix:

- t >= d_k + 2 (overdetermined): (S_t - W)^T = sigma G^{-1} K^T E with G = K^T K, so given K the d_v columns of
  K^T E are i.i.d. N(0, G) and X := ||S_t - W||_F^2 = sigma^2 sum_r u_r^T G^{-1} u_r with u_r i.i.d. N(0, I):
  E[X | K] = sigma^2 d_v tr G^{-1}, Var[X | K] = 2 sigma^4 d_v tr G^{-2}. G = H / d_k with H ~ W_{d_k}(t, I).
- t <= d_k - 2 (underdetermined): (S_t - W)^T = -(I - P) W^T + sigma K^+ E with P the projection onto K's row
  space; the cross term vanishes ((I - P) K^+ = 0), ||(I - P) W^T||^2 ~ chi^2_{d_v (d_k - t)} whatever K is
  (W is isotropic and independent of K), and ||K^+ E||^2 = sum_r e_r^T (K K^T)^{-1} e_r with K K^T = H / d_k,
  H ~ W_t(d_k, I): the same quadratic form with (n, p) = (d_k, t), plus an independent chi-square.

So with (n, p) = (t, d_k) or (d_k, t), m = n - p = |t - d_k|,

    E X   = sigma^2 d_v d_k p / (m - 1)                                  [+ d_v (d_k - t)]
    Var X = 2 sigma^4 d_k^2 d_v p (n - 1) (m - 1 + d_v) / (m (m - 1)^2 (m - 3))   [+ 2 d_v (d_k - t)]

(Var X = E Var[X | K] + Var E[X | K] = sigma^4 d_k^2 d_v (2 E tr H^{-2} + d_v Var tr H^{-1})). The mean is the
claim's formula (``impl.rules.experiments.rls_msd_theory``; a second derivation, tested); the variance, finite for
|t - d_k| >= 4 (the claim checks |t - d_k| >= 10), is what Catoni's interval (``impl.estimators.catoni``) needs:
the error is heavily right-skewed near the band d_k - 1 <= t <= d_k + 1, where a Student-t interval under-covers.
"""

from __future__ import annotations

from fractions import Fraction


def trace_moments(n: int, p: int) -> tuple[Fraction, Fraction, Fraction]:
    """(E tr H^{-1}, E tr H^{-2}, E (tr H^{-1})^2) for H ~ W_p(n, I), exact; needs m = n - p > 3 (module doc)."""
    m = n - p
    if p < 1 or m <= 3:
        raise ValueError(f"needs p >= 1 and n - p > 3 for finite second moments; got n = {n}, p = {p}")
    den = m * (m - 1) * (m - 3)
    return Fraction(p, m - 1), Fraction(p * (n - 1), den), Fraction((m - 2) * p * p + 2 * p, den)


def trace_variance(n: int, p: int) -> Fraction:
    """Var tr H^{-1} = 2 p (n - 1) / (m (m - 1)^2 (m - 3)), m = n - p > 3 (module doc)."""
    m = n - p
    if p < 1 or m <= 3:
        raise ValueError(f"needs p >= 1 and n - p > 3 for a finite variance; got n = {n}, p = {p}")
    return Fraction(2 * p * (n - 1), m * (m - 1) ** 2 * (m - 3))


def _shape(t: int, d_k: int) -> tuple[int, int]:
    """(n, p) of the Wishart matrix whose inverse carries the fitted noise: (t, d_k) above d_k, (d_k, t) below."""
    return (t, d_k) if t > d_k else (d_k, t)


def rls_error_mean(t: int, d_k: int, d_v: int, sigma: float) -> float:
    """E ||S_t - W||_F^2 of least squares (module doc), |t - d_k| >= 2; the claim's formula by a second route."""
    n, p = _shape(t, d_k)
    if n - p < 2:
        raise ValueError(f"the mean is infinite for |t - d_k| < 2; got t = {t}, d_k = {d_k}")
    return sigma**2 * d_v * d_k * p / (n - p - 1) + d_v * max(d_k - t, 0)


def rls_error_variance(t: int, d_k: int, d_v: int, sigma: float) -> float:
    """Var ||S_t - W||_F^2 of one trial (module doc), |t - d_k| >= 4: positive terms only, so float evaluation cancels
    nothing."""
    n, p = _shape(t, d_k)
    m = n - p
    if m <= 3:
        raise ValueError(f"the variance is infinite for |t - d_k| <= 3; got t = {t}, d_k = {d_k}")
    noise = 2 * sigma**4 * d_k**2 * d_v * p * (n - 1) * (m - 1 + d_v) / (m * (m - 1) ** 2 * (m - 3))
    return noise + 2 * d_v * max(d_k - t, 0)
