"""Exact moments of one sample of the Performer memory's SNR (C9.performer.memory_snr): what Catoni's interval needs.

**The sample.** At a fixed probe q (||q||^2 = kappa, ||v_i||^2 = nu) one trial draws m features u_1 .. u_m ~ N(0, I_d),
N - 1 other keys k_j ~ N(0, I_d) and values v_j ~ N(0, I_{d_v}), and records

    Y = ||r||^2,  r = sum_j w_j v_j,  w_j = kappa_hat(k_j, q) = phi(x_j)^T phi(y)     (x = k/sqrt(tau), y = q/sqrt(tau)),
    X = nu c_hat^2,  c_hat = phi(y)^T phi(y);

the claim is E Y / E X. Given the features and keys r ~ N(0, S I_{d_v}) with S = sum_j w_j^2, so
E Y = d_v E S and E Y^2 = d_v (d_v + 2) E S^2, where E S = (N - 1) E w^2 and

    E S^2 = (N - 1) E w^4 + (N - 1)(N - 2) E[w_1^2 w_2^2]:

the other pairs *share* the features, so w_1 and w_2 are dependent and E[w_1^2 w_2^2] = E_u[(E_k[w^2 | u])^2], not
(E w^2)^2. For positive features X is random (E X^2 needs E c_hat^4); for trigonometric ones c_hat = e^{||y||^2}
exactly.

**Each moment as a sum of Gaussian integrals.** A product of F feature terms is expanded over the features' indices:
(1/m^F) sum over index tuples, grouped by which positions share a feature (the set partitions of the F positions;
a partition into p blocks occurs m (m - 1) ... (m - p + 1) times). One term, with the distinct features u_1 .. u_p:

* positive, with key:  exp(u^T (x + y) - (||x||^2 + ||y||^2)/2); without key (the signal): exp(2 u^T y - ||y||^2);
* trigonometric:       e^{(||x||^2 + ||y||^2)/2} cos(u^T (x - y)) = e^{(||x||^2 + ||y||^2)/2} (1/2) sum_{s = +-1}
  e^{i s u^T (x - y)} (one sign per factor, summed).

The keys integrate first: a key x ~ N(0, I/tau) carrying n factors with A = sum of their (signed) features gives
(tau/(tau + n))^{d/2} exp(||A||^2 / (2 (tau + n))) (positive) or (tau/(tau - n))^{d/2} exp(-||A||^2 / (2 (tau - n)))
(trigonometric, tau > n). What is left is exp(sum_lm Q_lm u_l^T u_m + sum_l c_l u_l^T y) times constants, with Q
real symmetric and c real (positive) or imaginary (trigonometric), and over i.i.d. N(0, I_d) features

    E exp(sum Q_lm u_l^T u_m + sum c_l u_l^T y) = det(I - 2Q)^{-d/2} exp(||y||^2 c^T (I - 2Q)^{-1} c / 2),

finite iff I - 2Q is positive definite (coordinate by coordinate a p-dimensional Gaussian integral). Everything is
evaluated in 40-digit arithmetic (mpmath): the variances are differences of nearby numbers.
"""

from __future__ import annotations

import itertools
import math

import mpmath

KINDS = ("positive", "trigonometric")


def set_partitions(n: int):
    """Every partition of positions 0 .. n-1 into blocks, as a tuple: position -> block index (first-seen order)."""
    def grow(prefix, blocks):
        if len(prefix) == n:
            yield tuple(prefix)
            return
        for b in range(blocks + 1):
            yield from grow(prefix + [b], max(blocks, b + 1))
    yield from grow([], 0)


def _falling(m: int, p: int) -> int:
    out = 1
    for i in range(p):
        out *= m - i
    return out


def _pattern_value(kind, keys, block, signs, d, tau, yy):
    """E of one term: factor a on key ``keys[a]`` (None: the signal), feature ``block[a]``, sign ``signs[a]``."""
    p = max(block) + 1
    Q = mpmath.zeros(p, p)
    c = [mpmath.mpc(0)] * p
    log_const = mpmath.mpf(0)
    coef = [1 if kind == "positive" else s for s in signs]
    for j in {k for k in keys if k is not None}:
        members = [a for a, k in enumerate(keys) if k == j]
        n = len(members)
        e = [0] * p
        for a in members:
            e[block[a]] += coef[a]
        if kind == "positive":
            log_const += mpmath.mpf(d) / 2 * mpmath.log(tau / (tau + n))
            scale = 1 / (2 * (tau + n))
        else:
            if tau <= n:
                return mpmath.inf
            log_const += mpmath.mpf(d) / 2 * mpmath.log(tau / (tau - n))
            scale = -1 / (2 * (tau - n))
        for l1 in range(p):
            for l2 in range(p):
                Q[l1, l2] += scale * e[l1] * e[l2]
    for a, k in enumerate(keys):
        if kind == "positive":
            c[block[a]] += 1 if k is not None else 2
            log_const += -yy / 2 if k is not None else -yy
        else:
            if k is None:
                raise ValueError("the trigonometric signal is exact: no feature term for it")
            c[block[a]] += mpmath.mpc(0, -signs[a])
            log_const += yy / 2
    M = mpmath.eye(p) - 2 * Q
    # positive definite? (symmetric: Cholesky succeeds)
    try:
        mpmath.cholesky(M)
    except (ValueError, ZeroDivisionError):
        return mpmath.inf
    quad = 0
    Minv = M**-1
    for l1 in range(p):
        for l2 in range(p):
            quad += c[l1] * Minv[l1, l2] * c[l2]
    val = mpmath.det(M) ** (-mpmath.mpf(d) / 2) * mpmath.exp(log_const + yy * quad / 2)
    return mpmath.re(val)


def product_moment(kind: str, keys: tuple, m: int, d: int, tau: float, kappa: float) -> mpmath.mpf:
    """E of the product of len(keys) m-feature estimates sharing one feature draw: factor a is kappa_hat(k, q) for
    the key labelled keys[a] (equal labels: the same key), or c_hat(q) for None. Exact (module doc)."""
    F = len(keys)
    yy = mpmath.mpf(kappa) / tau
    total = mpmath.mpf(0)
    sign_sets = [(1,) * F] if kind == "positive" else list(itertools.product((1, -1), repeat=F))
    weight = mpmath.mpf(1) if kind == "positive" else mpmath.mpf(1) / 2**F
    for block in set_partitions(F):
        count = _falling(m, max(block) + 1)
        if count == 0:
            continue
        part = mpmath.mpf(0)
        for signs in sign_sets:
            v = _pattern_value(kind, keys, block, signs, d, mpmath.mpf(tau), yy)
            if v == mpmath.inf:
                return mpmath.inf
            part += v
        total += count * weight * part
    return total / mpmath.mpf(m) ** F


def sample_moments(kind: str, kappa: float, nu: float, n_pairs: int, d: int, d_v: int, tau: float, m: int) -> dict:
    """Exact E and Var of one trial's Y = ||r||^2 and X = nu c_hat^2 (module doc), and E Y / E X (the claim's
    value). Var X = 0 for trigonometric features (c_hat exact). Infinite moments come back as inf."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    n = n_pairs - 1
    with mpmath.workdps(40):
        w2 = product_moment(kind, (0, 0), m, d, tau, kappa)
        w4 = product_moment(kind, (0, 0, 0, 0), m, d, tau, kappa)
        w22 = product_moment(kind, (0, 0, 1, 1), m, d, tau, kappa)
        ey = d_v * n * w2
        es2 = n * w4 + n * (n - 1) * w22
        var_y = d_v * (d_v + 2) * es2 - ey**2
        if kind == "positive":
            c2 = product_moment(kind, (None, None), m, d, tau, kappa)
            c4 = product_moment(kind, (None,) * 4, m, d, tau, kappa)
            ex, var_x = nu * c2, nu**2 * (c4 - c2**2)
        else:
            ex, var_x = nu * mpmath.exp(2 * mpmath.mpf(kappa) / tau), mpmath.mpf(0)
        return {"mean_y": float(ey), "var_y": float(var_y), "mean_x": float(ex), "var_x": float(var_x),
                "ratio": float(ey / ex), "w2": float(w2), "w4": float(w4), "w22": float(w22)}


def finite(values: dict) -> bool:
    return all(math.isfinite(v) for v in values.values())
