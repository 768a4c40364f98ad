"""Retrieval accuracy of nearest-value decoding predicted from the SNR (docs/CLAIMS.md C3, C10), derived step by step.

A memory whose read is linear in the values, o = sum_j w_j v_j (kernel memories, softmax attention, the delta rule;
the weights w depend on the keys only), read at the stored key k_i and divided by its own weight:

    x = o / w_i = v_i + e,   e = sum_{j != i} (w_j / w_i) v_j.

1. Given the keys, e is Gaussian with covariance S2 I (values N(0, I), independent), S2 = sum_{j != i} (w_j/w_i)^2,
   and the conditional SNR^{-1} (C3) is rho = E_V ||e||^2 / ||v_i||^2 = d_v S2 / nu, nu = ||v_i||^2.
2. Nearest-value decoding picks argmax_j cos(x, v_j). Split e along v_i: x = (sqrt(nu) + g) u_i + e_perp with
   g ~ N(0, S2), ||e_perp||^2 ~ S2 chi^2_{d_v-1}; the target's cotangent cot(x, v_i) = (delta + Z)/sqrt(W),
   delta = sqrt(nu/S2) = sqrt(d_v/rho), Z ~ N(0,1), W ~ chi^2_{d_v-1}: sqrt(d_v - 1) cot is noncentral t(d_v-1, delta).
3. cos = cot/sqrt(1 + cot^2) is increasing in cot, so comparing cosines is comparing cotangents.
4. Gaussian crosstalk approximation: each competitor's direction is uniform and independent of x; its
   sqrt(d_v - 1) cot is then central t(d_v - 1).
5. Order statistics: P(target beats N - 1 independent competitors) = int f_target(t) F_comp(t)^{N-1} dt, a
   one-dimensional integral; at delta = 0 the target is one of N exchangeable scores and the integral is 1/N.
6. The competitor's own weight: x contains (w_j/w_i) v_j, so competitor j's score has the extra variance
   (w_j/w_i)^2 ||v_j||^2 - (w_j/w_i)^2 ||v_j||^2/d_v; with E (w_j/w_i)^2 = S2/(N-1) its score's variance grows by
   lambda^2 = 1 + (d_v - 1) rho / ((N - 1)(1 + rho)), and F_comp(t) becomes F_t(t / lambda).
7. For Gaussian keys the conditional SNR^{-1} is known in closed form (C4, C7): delta^2 = kappa nu / (N - 1) (linear),
   nu e^{-a kappa} / (N - 1) (exp, a = 2(1/tau^2 - 1/tau)); the prediction averages P over the probe's (kappa, nu).

Every step below is decided by SymPy; the integrals themselves are evaluated numerically in
``impl.estimators.recall_prediction``.
"""

from __future__ import annotations

import sympy as sp

from theory.moments import wick
from theory.snr_linear import N, d_k, d_v, kappa, nu

S2 = sp.Symbol("S2", positive=True)  # key-conditional noise-to-signal sum_{j != i} (w_j / w_i)^2
rho = sp.Symbol("rho", positive=True)  # conditional SNR^{-1}
delta = sp.Symbol("delta", positive=True)
Zs, Ws = sp.Symbol("Z", real=True), sp.Symbol("W", positive=True)


def delta_of_rho() -> sp.Expr:
    """delta = sqrt(d_v / rho): the target's noncentrality from the conditional SNR^{-1}."""
    return sp.sqrt(d_v / rho)


def own_weight_scale_sq() -> sp.Expr:
    """lambda^2 = 1 + (d_v - 1) rho / ((N - 1)(1 + rho))."""
    return 1 + (d_v - 1) * rho / ((N - 1) * (1 + rho))


def derivation() -> list:
    """The chain of checkable steps behind ``impl.estimators.recall_prediction``."""
    w = sp.symbols("w_1 w_2 w_3", positive=True)  # N = 3, probe i = 1, d_v = 2 (entries of the values as a basis)
    e2 = [sp.Matrix([1, 0]), sp.Matrix([0, 1])]
    # E[e e^T] for e = sum_{j=2,3} (w_j/w_1) v_j with v_j ~ N(0, I_2): entry (a, b) = sum_j (w_j/w_1)^2 E[v_ja v_jb]
    cov = sp.Matrix(2, 2, lambda a, b: sum((w[j] / w[0]) ** 2 * wick([e2[a], e2[b]]) for j in (1, 2)))
    s2_small = (w[1] / w[0]) ** 2 + (w[2] / w[0]) ** 2
    g = sp.Symbol("g", real=True)
    cot = (sp.sqrt(nu) + g) / (sp.sqrt(S2) * sp.sqrt(Ws))
    T = sp.Symbol("T", real=True)
    u, Fs = sp.Symbol("u", positive=True), sp.Function("F")
    t = sp.Symbol("t", real=True)
    # own weight: competitor variance ratio true / isotropic, S2 = rho nu / d_v
    s2_of_rho = rho * nu / d_v
    var_true = s2_of_rho / (N - 1) * d_v + (nu + d_v * s2_of_rho * (N - 2) / (N - 1)) / d_v
    var_iso = (nu + d_v * s2_of_rho) / d_v
    a = sp.Symbol("a", real=True)
    from theory.kernels import snr_inv as kernel_snr_inv, tau

    return [
        ("given the keys, Cov(e) = S2 I with S2 = sum_{j != i} (w_j/w_i)^2 (Wick; N = 3, d_v = 2)", cov,
         s2_small * sp.eye(2)),
        ("conditional SNR^{-1}: E||e||^2 / nu = d_v S2 / nu =: rho, so delta^2 := nu / S2 = d_v / rho",
         nu / S2, (d_v / rho).subs(rho, d_v * S2 / nu)),
        ("target cotangent: (sqrt(nu) + sqrt(S2) Z) / (sqrt(S2) sqrt(W)) = (delta + Z)/sqrt(W), delta = sqrt(nu/S2)",
         cot.subs(g, sp.sqrt(S2) * Zs), (sp.sqrt(nu / S2) + Zs) / sp.sqrt(Ws)),
        ("cos = cot / sqrt(1 + cot^2) is increasing: d/dT = (1 + T^2)^{-3/2} > 0",
         sp.diff(T / sp.sqrt(1 + T**2), T), (1 + T**2) ** sp.Rational(-3, 2)),
        ("order statistics at delta = 0: int F'(t) F(t)^{N-1} dt = int_0^1 u^{N-1} du = 1/N (exchangeable scores)",
         sp.integrate(u ** (N - 1), (u, 0, 1)), 1 / N),
        ("... the substitution u = F(t): d/dt F(t)^N / N = F'(t) F(t)^{N-1}", sp.diff(Fs(t) ** N / N, t),
         sp.Derivative(Fs(t), t) * Fs(t) ** (N - 1)),
        ("own weight: var(competitor)/var(isotropic) = 1 + (d_v - 1) rho / ((N - 1)(1 + rho))",
         sp.simplify(var_true / var_iso), own_weight_scale_sq()),
        ("linear keys (C4): delta^2 = d_v / rho_cond = kappa nu / (N - 1)",
         d_v / kernel_snr_inv("linear", "conditional"), kappa * nu / (N - 1)),
        ("exp kernel (C7): delta^2 = d_v / rho_cond = nu e^{-a kappa} / (N - 1), a = 2(1/tau^2 - 1/tau)",
         sp.simplify(d_v / kernel_snr_inv("exp", "conditional")),
         (nu * sp.exp(-a * kappa) / (N - 1)).subs(a, 2 * (1 / tau**2 - 1 / tau))),
        ("typical probe (kappa = d_k, nu = d_v), linear: delta^2 = d_k d_v / (N - 1)",
         (kappa * nu / (N - 1)).subs({kappa: d_k, nu: d_v}), d_k * d_v / (N - 1)),
    ]
