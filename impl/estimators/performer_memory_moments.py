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

finite iff I - 2Q is positive definite (coordinate by coordinate a p-dimensional Gaussian integral). The probe
enters only through ||y||^2 = kappa/tau in the exponent, so each moment's expansion is computed once per (kind, d,
tau, m) and summed for each probe (every term is positive: math.fsum). The variances subtract numbers whose ratio is
bounded away from 1 at the claim's points (the relative variance of one sample is at least about 2/d_v), so double
precision keeps about 14 digits of them.
"""

from __future__ import annotations

import itertools
import math
from functools import lru_cache

import numpy as np

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


def _pattern_terms(kind, keys, block, signs, d, tau):
    """One term (factor a on key ``keys[a]``, None: the signal; feature ``block[a]``; sign ``signs[a]``) as
    (log A, B): its expectation is exp(log A + B ||y||^2), or None where it is infinite (I - 2Q not positive
    definite, or a trigonometric key with tau <= its factor count)."""
    p = max(block) + 1
    Q = np.zeros((p, p))
    c = np.zeros(p, dtype=complex)
    log_a, lin = 0.0, 0.0  # lin: the coefficient of ||y||^2 outside the quadratic form
    coef = [1 if kind == "positive" else s for s in signs]
    for j in sorted({k for k in keys if k is not None}):
        members = [a for a, k in enumerate(keys) if k == j]
        n = len(members)
        e = np.zeros(p)
        for a in members:
            e[block[a]] += coef[a]
        if kind == "positive":
            log_a += d / 2 * math.log(tau / (tau + n))
            Q += np.outer(e, e) / (2 * (tau + n))
        else:
            if tau <= n:
                return None
            log_a += d / 2 * math.log(tau / (tau - n))
            Q -= np.outer(e, e) / (2 * (tau - n))
    for a, k in enumerate(keys):
        if kind == "positive":
            c[block[a]] += 1 if k is not None else 2
            lin += -0.5 if k is not None else -1.0
        else:
            if k is None:
                raise ValueError("the trigonometric signal is exact: no feature term for it")
            c[block[a]] += -1j * signs[a]
            lin += 0.5
    M = np.eye(p) - 2 * Q
    if np.linalg.eigvalsh(M).min() <= 0:
        return None
    quad = c @ np.linalg.solve(M, c)  # c^T M^{-1} c: real (c real, or purely imaginary)
    return log_a - d / 2 * math.log(np.linalg.det(M)), lin + quad.real / 2


@lru_cache(maxsize=256)
def _expansion(kind: str, keys: tuple, m: int, d: int, tau: float) -> tuple | None:
    """The moment as sum_i w_i exp(log A_i + B_i ||y||^2) over the coincidence patterns (and signs): ((w, log A,
    B), ...), or None where it is infinite. Independent of the probe, so computed once per (kind, d, tau, m)."""
    F = len(keys)
    sign_sets = [(1,) * F] if kind == "positive" else list(itertools.product((1, -1), repeat=F))
    weight = 1.0 if kind == "positive" else 0.5**F
    out = []
    for block in set_partitions(F):
        count = _falling(m, max(block) + 1)
        if count == 0:
            continue
        for signs in sign_sets:
            t = _pattern_terms(kind, keys, block, signs, d, tau)
            if t is None:
                return None
            out.append((count * weight / m**F, *t))
    return tuple(out)


def product_moment(kind: str, keys: tuple, m: int, d: int, tau: float, kappa: float) -> float:
    """E of the product of len(keys) m-feature estimates sharing one feature draw: factor a is kappa_hat(k, q) for
    the key labelled keys[a] (equal labels: the same key), or c_hat(q) for None (module doc); inf where infinite."""
    terms = _expansion(kind, tuple(keys), int(m), int(d), float(tau))
    if terms is None:
        return math.inf
    yy = kappa / tau
    return math.fsum(w * math.exp(la + b * yy) for w, la, b in terms)


def sample_moments(kind: str, kappa: float, nu: float, n_pairs: int, d: int, d_v: int, tau: float, m: int) -> dict:
    """Exact E and Var of one trial's Y = ||r||^2 and X = nu c_hat^2 (module doc), and E Y / E X (the claim's
    value). Var X = 0 for trigonometric features (c_hat exact). Infinite moments come back as inf."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    n = n_pairs - 1
    w2 = product_moment(kind, (0, 0), m, d, tau, kappa)
    w4 = product_moment(kind, (0, 0, 0, 0), m, d, tau, kappa)
    w22 = product_moment(kind, (0, 0, 1, 1), m, d, tau, kappa)
    ey = d_v * n * w2
    var_y = d_v * (d_v + 2) * (n * w4 + n * (n - 1) * w22) - ey**2
    if kind == "positive":
        c2 = product_moment(kind, (None, None), m, d, tau, kappa)
        c4 = product_moment(kind, (None,) * 4, m, d, tau, kappa)
        ex, var_x = nu * c2, nu**2 * (c4 - c2**2)
    else:
        ex, var_x = nu * math.exp(2 * kappa / tau), 0.0
    return {"mean_y": ey, "var_y": var_y, "mean_x": ex, "var_x": var_x, "ratio": ey / ex, "w2": w2, "w4": w4,
            "w22": w22}


def finite(values: dict) -> bool:
    return all(math.isfinite(v) for v in values.values())
