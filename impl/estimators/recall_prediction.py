"""Retrieval accuracy predicted from the SNR (docs/CLAIMS.md C10, "retrieval accuracy when decoding by nearest stored
value"; derivation in ``theory.recall``).

A memory whose read is linear in the values, o = sum_j w_j v_j (every kernel memory, softmax attention, the delta
rule), read at a stored key k_i and divided by its own weight, is x = v_i + e with e = sum_{j != i} (w_j/w_i) v_j.
Given the keys, e ~ N(0, S2 I_{d_v}) exactly (Gaussian values), S2 = sum_{j != i} (w_j/w_i)^2, and the conditional
SNR^{-1} is rho = d_v S2 / nu (nu = ||v_i||^2). Nearest-value decoding picks argmax_j cos(x, v_j). The Gaussian
crosstalk approximation takes e independent of the competitors' values; then, with delta = sqrt(d_v / rho),

    P(correct) = int f_{nct(d_v-1, delta)}(t) F_{t(d_v-1)}(t / lambda)^{N-1} dt                 (one dimension)

where sqrt(d_v-1) cot(x, v_i) is noncentral-t and each competitor's is central-t (cot = cos / sin, monotone in cos).
lambda = 1 is the isotropic model; the memory's competitor j also carries its own weight w_j/w_i in e, which widens
its score by lambda^2 = 1 + (d_v - 1) rho / ((N - 1)(1 + rho)) (the prediction used here; lambda = 1 is kept for
comparison). The prediction depends on (rho, N, d_v) only.

    win_probability(delta, n_pairs, d_v, lam=None)            the 1-D integral (scipy.integrate.quad), one delta
    win_probability_grid(deltas, n_pairs, d_v, own_weight=True) the same integral as a Gauss-Hermite x generalised
        Gauss-Laguerre product rule over (Z, W) (delta + Z)/sqrt(W), 48 x 40 nodes, vectorised (agrees with quad to
        1e-5 for d_v >= 8 up to N = 4096; for d_v < 8 it falls back to the quadrature, one delta at a time, slowly)
    RecallCurve(n_pairs, d_v, own_weight=True)(deltas)         a tabulated, interpolated P(delta) for many deltas
    predicted_recall_kernel(kernel, n_pairs, d_k, d_v, *, tau=None, average="probe") -> float
        linear or exp kernel, Gaussian keys: the conditional SNR^{-1} averaged over the probe's (kappa, nu)
        (average="probe", generalised Gauss-Laguerre quadrature over chi^2_{d_k} x chi^2_{d_v}) or at the typical probe
        (average="typical": kappa = d_k, nu = d_v).
    predicted_recall_from_s2(s2_values, n_pairs, d_v, *, nu_average=True) -> float
        mean of P over given S2 values (ratio-of-expectations noise-to-signal per probe, e.g. measured per query
        position for the delta rule, or per-draw key-conditional values), nu averaged over chi^2_{d_v}.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy import integrate, special, stats

from impl.numerics.errors import InputError, require_positive_int

_LOG_DELTA = np.linspace(math.log(1e-3), math.log(1e3), 301)


def own_weight_scale(rho, n_pairs: int, d_v: int):
    """lambda = sqrt(1 + (d_v - 1) rho / ((N - 1)(1 + rho))) (theory.recall.derivation, own-weight step)."""
    rho = np.asarray(rho, dtype=float)
    with np.errstate(divide="ignore"):
        frac = 1 / (1 + 1 / rho)  # rho / (1 + rho), also at rho = 0 and rho = inf
    return np.sqrt(1 + (d_v - 1) * frac / (n_pairs - 1))


def _check(n_pairs, d_v):
    n_pairs = require_positive_int("n_pairs", n_pairs, 2)
    d_v = require_positive_int("d_v", d_v, 2)
    return n_pairs, d_v


_QUANTILES = (1e-13, 1e-8, 1e-4, 0.01, 0.1, 0.5, 0.9, 0.99, 1 - 1e-4, 1 - 1e-8, 1 - 1e-13)


def win_probability(delta: float, n_pairs: int, d_v: int, lam: float | None = None) -> float:
    """P(correct) as the one-dimensional integral over the target's score t, by adaptive quadrature:
    int f_nct(t; d_v - 1, delta) exp((N - 1) log F_t(t / lam; d_v - 1)) dt over the nct's central 1 - 2e-13, in
    pieces between nct quantiles (the noncentral t of few degrees of freedom has tails too long for one adaptive
    pass). ``lam`` None: the own-weight scale at rho = d_v / delta^2."""
    n_pairs, d_v = _check(n_pairs, d_v)
    if not (math.isfinite(delta) and delta >= 0):
        raise InputError("delta", f"must be a finite number >= 0, got {delta!r}")
    if lam is None:
        lam = float(own_weight_scale(d_v / delta**2 if delta > 0 else np.inf, n_pairs, d_v))
    df = d_v - 1

    def f(t):
        return stats.nct.pdf(t, df, delta) * math.exp((n_pairs - 1) * stats.t.logcdf(t / lam, df))

    q = stats.nct.ppf(_QUANTILES, df, delta)
    return float(sum(integrate.quad(f, a, b, limit=200, epsabs=1e-13, epsrel=1e-11)[0] for a, b in zip(q[:-1], q[1:])))


_NODES: dict = {}
GRID_MIN_DV = 8  # below it the product rule is off by up to ~1e-3 (d_v = 3, N = 64); checked in tests/test_recall.py


def _nodes(d_v: int, nz: int = 48, nw: int = 40):
    """Probabilists' Gauss-Hermite nodes for Z ~ N(0, 1) and generalised Gauss-Laguerre nodes for W ~ chi^2_{d_v-1},
    weights normalised to 1."""
    key = (d_v, nz, nw)
    if key not in _NODES:
        z, wz = special.roots_hermitenorm(nz)
        x, wx = special.roots_genlaguerre(nw, (d_v - 1) / 2 - 1)
        _NODES[key] = (z, wz / wz.sum(), 2 * x, wx / wx.sum())
    return _NODES[key]


def win_probability_grid(deltas, n_pairs: int, d_v: int, own_weight: bool = True) -> np.ndarray:
    """P(correct) for every delta of ``deltas``: E over Z ~ N(0,1), W ~ chi^2_{d_v-1} of
    F_t(sqrt(d_v-1)(delta + Z)/sqrt(W) / lambda)^{N-1} by a product Gauss rule (the same integral as
    ``win_probability``, written over the two variables whose ratio is the noncentral t)."""
    n_pairs, d_v = _check(n_pairs, d_v)
    deltas = np.atleast_1d(np.asarray(deltas, dtype=float))
    if not np.all(np.isfinite(deltas)) or np.any(deltas < 0):
        raise InputError("delta", "every delta must be a finite number >= 0")
    if d_v < GRID_MIN_DV:  # the product rule loses accuracy for chi^2 with few degrees of freedom: quadrature instead
        return np.array([win_probability(float(d), n_pairs, d_v, None if own_weight else 1.0) for d in deltas])
    z, wz, w, ww = _nodes(d_v)
    rho = np.where(deltas > 0, d_v / np.maximum(deltas, 1e-150) ** 2, np.inf)
    lam = own_weight_scale(rho, n_pairs, d_v) if own_weight else np.ones_like(deltas)
    out = np.empty_like(deltas)
    for i in range(0, deltas.size, 64):
        dl, lm = deltas[i:i + 64, None, None], lam[i:i + 64, None, None]
        t = math.sqrt(d_v - 1) * (dl + z[None, :, None]) / np.sqrt(w[None, None, :]) / lm
        out[i:i + 64] = (np.exp((n_pairs - 1) * stats.t.logcdf(t, d_v - 1)) * wz[None, :, None] * ww[None, None, :]).sum((1, 2))
    return np.clip(out, 0.0, 1.0)


@functools.lru_cache(maxsize=64)
def recall_curve(n_pairs: int, d_v: int, own_weight: bool = True) -> "RecallCurve":
    """A cached ``RecallCurve``."""
    return RecallCurve(n_pairs, d_v, own_weight)


class RecallCurve:
    """P(delta) for one (N, d_v), tabulated on 301 log-spaced deltas in [1e-3, 1e3] and interpolated in log delta
    (below 1e-3: the tabulated end, P -> 1/N as delta -> 0 for lambda = 1; above 1e3: 1)."""

    def __init__(self, n_pairs: int, d_v: int, own_weight: bool = True):
        self.n_pairs, self.d_v = _check(n_pairs, d_v)
        self.own_weight = own_weight
        self.table = win_probability_grid(np.exp(_LOG_DELTA), n_pairs, d_v, own_weight)

    def __call__(self, deltas) -> np.ndarray:
        d = np.asarray(deltas, dtype=float)
        with np.errstate(divide="ignore"):
            ld = np.log(np.maximum(d, 1e-300))
        return np.interp(ld, _LOG_DELTA, self.table, left=self.table[0], right=1.0)


def _chi2_nodes(d: int, n: int = 40):
    x, w = special.roots_genlaguerre(n, d / 2 - 1)
    return 2 * x, w / w.sum()


def conditional_delta2(kernel: str, n_pairs: int, d_k: int, d_v: int, kappa, nu, tau: float | None = None):
    """delta^2 = d_v / rho with rho the kernel's conditional SNR^{-1} (C4, C7): linear kappa nu / (N - 1);
    exp nu e^{-a kappa} / (N - 1), a = 2(1/tau^2 - 1/tau)."""
    kappa, nu = np.asarray(kappa, dtype=float), np.asarray(nu, dtype=float)
    if kernel == "linear":
        return kappa * nu / (n_pairs - 1)
    if kernel == "exp":
        if tau is None or not (math.isfinite(tau) and tau > 0):
            raise InputError("tau", f"the exp kernel needs a temperature tau > 0, got {tau!r}")
        a = 2 * (1 / tau**2 - 1 / tau)
        return nu * np.exp(-a * kappa) / (n_pairs - 1)
    raise InputError("kernel", f"the closed-form recall prediction covers 'linear' and 'exp', got {kernel!r}")


def predicted_recall_kernel(kernel: str, n_pairs: int, d_k: int, d_v: int, *, tau: float | None = None,
                            average: str = "probe", own_weight: bool = True, curve: RecallCurve | None = None) -> float:
    """Recall predicted from the kernel memory's conditional SNR^{-1}: averaged over the probe (kappa ~ chi^2_{d_k},
    nu ~ chi^2_{d_v}; 40 x 40 generalised Gauss-Laguerre nodes) or at the typical probe."""
    n_pairs, d_v = _check(n_pairs, d_v)
    d_k = require_positive_int("d_k", d_k)
    curve = curve or recall_curve(n_pairs, d_v, own_weight)
    if average == "typical":
        return float(curve(np.sqrt(conditional_delta2(kernel, n_pairs, d_k, d_v, d_k, d_v, tau)))[()])
    if average != "probe":
        raise InputError("average", f"must be 'probe' or 'typical', got {average!r}")
    kap, wk = _chi2_nodes(d_k)
    nus, wn = _chi2_nodes(d_v)
    d2 = conditional_delta2(kernel, n_pairs, d_k, d_v, kap[:, None], nus[None, :], tau)
    return float((curve(np.sqrt(d2)) * wk[:, None] * wn[None, :]).sum())


def predicted_recall_from_s2(s2_values, n_pairs: int, d_v: int, *, own_weight: bool = True,
                             curve: RecallCurve | None = None) -> float:
    """Mean over the given noise-to-signal values S2 (one per probe) of P(delta^2 = nu / S2), nu ~ chi^2_{d_v}
    averaged by quadrature."""
    n_pairs, d_v = _check(n_pairs, d_v)
    s2 = np.asarray(s2_values, dtype=float).ravel()
    if s2.size == 0 or not np.all(np.isfinite(s2)) or np.any(s2 < 0):
        raise InputError("s2", "needs at least one finite S2 >= 0")
    curve = curve or recall_curve(n_pairs, d_v, own_weight)
    nus, wn = _chi2_nodes(d_v)
    with np.errstate(divide="ignore"):
        d = np.sqrt(nus[None, :] / s2[:, None])
    return float((curve(d) * wn[None, :]).sum(1).mean())


def predicted_recall_per_draw(s2_values, nu_values, n_pairs: int, d_v: int, *, curve: RecallCurve | None = None) -> float:
    """Mean of P(delta^2 = nu / S2) over paired per-draw values (the key-conditional diagnostic)."""
    curve = curve or recall_curve(n_pairs, d_v)
    s2, nu = np.asarray(s2_values, dtype=float), np.asarray(nu_values, dtype=float)
    with np.errstate(divide="ignore"):
        return float(curve(np.sqrt(nu / s2)).mean())
