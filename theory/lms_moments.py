"""Exact second moments of the delta rule's (LMS) squared error on a Gaussian stream, and the exact variance of
U4.delta_neighbourhood's per-trial time average.

**The stream.** v_t = W k_t + sigma n_t, k_t ~ N(0, I/d_k), n_t ~ N(0, I_{d_v}), W with N(0, 1) entries, S_0 = 0. In the
error E_t = S_t - W (d_v x d_k) the delta rule reads

    E_{t+1} = E_t P + b sigma n k^T,    P = I - b k k^T,

and with M = E^T E its invariants are F = tr M = ||E||_F^2 and G = tr M^2.

**One step, given E** (write k = r u, r^2 ~ chi^2_{d_k}/d_k and u uniform on the sphere, independent;
m_j = E r^{2j} = d(d+2)...(d+2j-2)/d^j with d = d_k; E u^T M u = F/d, E u^T M^2 u = G/d,
E (u^T M u)^2 = (F^2 + 2G)/(d(d+2)); P^2 = I - a k k^T with a = 2b - b^2 r^2):

    E[F' | E] = rho F + c,                 rho = 1 - 2b/d + b^2 m_2/d,   c = b^2 sigma^2 d_v,
    E[F'^2 | E] = A_FF F^2 + A_FG G + A_F F + A_0,
    E[G' | E]   = B_FF F^2 + B_G G  + B_F F + B_0,

with h = (4 b^2 m_2 - 4 b^3 m_3 + b^4 m_4)/(d(d+2)) (from E a^2 r^4 (u^T M u)^2), e = 2b - b^2 m_2 (from E a r^2),
g = 1 - 2b m_2 + b^2 m_3 (from E (1 - b r^2)^2 r^2: the noise term n^T E P k),

    A_FF = 1 - 2e/d + h,   A_FG = 2h,   A_F = 4 b^2 sigma^2 g/d + 2 b^2 sigma^2 d_v (1 - (2b m_2 - b^2 m_3)/d),
    B_FF = h,   B_G = 1 - 2e/d + 2h,   B_F = 2 b^2 sigma^2 (g/d + 1 - (2b m_2 - b^2 m_3)/d) + 2 b^2 sigma^2 d_v g/d,
    A_0 = B_0 = b^4 sigma^4 d_v (d_v + 2) m_2.

The moments close on (E F^2, E G, E F), a linear recursion from E_0 = -W: E F_0 = d_v d_k, E F_0^2 = (d_v d_k)^2 +
2 d_v d_k, E G_0 = d_v d_k (d_v + d_k + 1) (Wishart). Its limit of E F is the claim's d_v d_k b sigma^2 / (2 - b
(d_k + 2)/d_k).

**The autocovariance.** E[F_{t+1} | E_t] depends on E_t only through F_t, so by the tower rule E[F_{t+j} | E_t] =
F_inf + rho^j (F_t - F_inf) and Cov(F_t, F_{t+j}) = rho^j Var F_t, exactly. The time average X = (1/w) sum over
t in (burn, burn + w] of F_t therefore has

    Var X = (1/w^2) sum_t Var F_t (1 + 2 sum_{j=1}^{burn + w - t} rho^j),

finite at every finite time (Gaussian inputs have every moment), whatever the fourth moment's recursion does in
the limit. This is the exact variance of one trial's sample that Catoni's interval (``impl.estimators.catoni``)
needs.
"""

from __future__ import annotations

import math

import numpy as np


def _radial_moments(d_k: int) -> tuple[float, float, float, float]:
    """m_j = E r^{2j} for r^2 = chi^2_{d_k} / d_k, j = 1..4."""
    d = d_k
    out, acc = [], 1.0
    for j in range(4):
        acc *= (d + 2 * j) / d
        out.append(acc)
    return tuple(out)


def one_step(b: float, d_k: int, d_v: int, sigma: float) -> dict:
    """The one-step coefficients of the module docstring: rho, c and A_*, B_*."""
    d = d_k
    m1, m2, m3, m4 = _radial_moments(d)
    s2 = sigma**2
    h = (4 * b**2 * m2 - 4 * b**3 * m3 + b**4 * m4) / (d * (d + 2))
    e = 2 * b * m1 - b**2 * m2
    g = m1 - 2 * b * m2 + b**2 * m3
    tr_term = m1 - (2 * b * m2 - b**2 * m3) / d  # E r^2 tr(M P^2) / F
    const = b**4 * s2**2 * d_v * (d_v + 2) * m2
    return {
        "rho": 1 - e / d, "c": b**2 * s2 * d_v,
        "A_FF": 1 - 2 * e / d + h, "A_FG": 2 * h, "A_F": 4 * b**2 * s2 * g / d + 2 * b**2 * s2 * d_v * tr_term,
        "A_0": const,
        "B_FF": h, "B_G": 1 - 2 * e / d + 2 * h, "B_F": 2 * b**2 * s2 * (g / d + tr_term) + 2 * b**2 * s2 * d_v * g / d,
        "B_0": const,
    }


def moments(b: float, d_k: int, d_v: int, sigma: float, steps: int) -> np.ndarray:
    """[steps + 1, 3]: (E F_t, E F_t^2, E G_t) for t = 0..steps, from E_0 = -W."""
    q = one_step(b, d_k, d_v, sigma)
    f0 = d_v * d_k
    z = np.array([f0, f0**2 + 2 * f0, f0 * (d_v + d_k + 1)], dtype=np.float64)
    step = np.array([[q["rho"], 0, 0], [q["A_F"], q["A_FF"], q["A_FG"]], [q["B_F"], q["B_FF"], q["B_G"]]])
    shift = np.array([q["c"], q["A_0"], q["B_0"]])
    out = np.empty((steps + 1, 3))
    out[0] = z
    for t in range(steps):
        z = step @ z + shift
        out[t + 1] = z
    return out


def time_average_mean_variance(b: float, d_k: int, d_v: int, sigma: float, burn: int, window: int) -> tuple[float, float]:
    """(E X, Var X) of X = (1/window) sum over t in (burn, burn + window] of F_t = ||E_t||_F^2: exact."""
    mom = moments(b, d_k, d_v, sigma, burn + window)[burn + 1:]
    mean_f, var_f = mom[:, 0], mom[:, 1] - mom[:, 0] ** 2
    rho = one_step(b, d_k, d_v, sigma)["rho"]
    later = np.arange(window - 1, -1, -1)  # how many later times each t has in the window
    # 1 + 2 sum_{j=1}^{L} rho^j = 1 + 2 rho (1 - rho^L) / (1 - rho)
    weight = 1 + 2 * rho * (1 - rho**later) / (1 - rho) if rho != 1 else 1 + 2.0 * later
    return float(mean_f.mean()), float((var_f * weight).sum() / window**2)


def limit_mean(b: float, d_k: int, d_v: int, sigma: float) -> float:
    """lim E F_t = c / (1 - rho) = d_v d_k b sigma^2 / (2 - b (d_k + 2)/d_k) (infinite when rho >= 1)."""
    q = one_step(b, d_k, d_v, sigma)
    return math.inf if q["rho"] >= 1 else q["c"] / (1 - q["rho"])
