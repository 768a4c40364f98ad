"""Retrieval SNR of the linear associative memory, derived step by step (paper Eq. 1, 4, 7; docs/CLAIMS.md C1-C4).

Memory (Eq. 1): S = sum_j v_j k_j^T. Probe the i-th pair with q = k_i (Eq. 4):

    S k_i = c v_i + r,   c = k_i^T k_i,   r = sum_{j != i} v_j (k_j^T k_i).

Retrieval SNR (C3): SNR^{-1} = E_others ||r||^2 / (c^2 ||v_i||^2). With k_j ~ N(0, I_{d_k}), v_j ~ N(0, I_{d_v})
independent, write kappa = ||k_i||^2 ~ chi^2_{d_k} and nu = ||v_i||^2 ~ chi^2_{d_v}. Then, per convention:

    conditional             (N-1) d_v / (kappa nu)
    probe-averaged          (N-1) d_v / ((d_k - 2)(d_v - 2))       (d_k, d_v > 2)
    ratio of expectations   (N-1) / (d_k + 2)
    typical                 (N-1) / d_k                           (kappa = d_k, nu = d_v)

and all tend to the paper's Eq. 7, SNR^{-1} ~ N / d_k. Every function returns SymPy expressions; ``derivation_*``
return the chain of ``(says, lhs, rhs)`` steps that ``assocmem check`` verifies.
"""

from __future__ import annotations

import sympy as sp

from theory.moments import chi2_moment, wick

N = sp.Symbol("N", positive=True, integer=True)
d_k = sp.Symbol("d_k", positive=True, integer=True)
d_v = sp.Symbol("d_v", positive=True, integer=True)
kappa = sp.Symbol("kappa", positive=True)  # ||k_i||^2
nu = sp.Symbol("nu", positive=True)  # ||v_i||^2

CONVENTIONS = ("conditional", "probe_averaged", "ratio_of_expectations", "typical")


def noise_energy_given_probe() -> sp.Expr:
    """E_others ||r||^2 = (N - 1) d_v kappa (each cross term has zero mean; each of the N-1 terms gives
    E||v_j||^2 E[(k_j^T k_i)^2] = d_v kappa)."""
    return (N - 1) * d_v * kappa


def snr_inv(convention: str) -> sp.Expr:
    """SNR^{-1} of the linear memory in ``convention`` (one of CONVENTIONS), as a SymPy expression."""
    forms = {
        "conditional": (N - 1) * d_v / (kappa * nu),
        "probe_averaged": (N - 1) * d_v / ((d_k - 2) * (d_v - 2)),
        "ratio_of_expectations": (N - 1) / (d_k + 2),
        "typical": (N - 1) / d_k,
    }
    if convention not in forms:
        raise ValueError(f"convention must be one of {CONVENTIONS}, got {convention!r}")
    return forms[convention]


def paper_asymptote() -> sp.Expr:
    """The paper's Eq. 7: SNR^{-1} ~ N / d_k."""
    return N / d_k


def finiteness_condition(convention: str) -> str:
    """Where the convention's moment exists (empty string if always)."""
    return {"probe_averaged": "d_k > 2 and d_v > 2 (E[1/chi^2_d] = 1/(d-2) needs d > 2)"}.get(convention, "")


def derivation_signal_noise(n: int = 3, dk: int = 2, dv: int = 2) -> list[tuple[str, sp.Expr, sp.Expr]]:
    """C2 with fully symbolic entries at a small size: S k_i - (c v_i + r) expands to zero for every i."""
    K = sp.Matrix(n, dk, lambda a, b: sp.Symbol(f"k{a}_{b}", real=True))
    V = sp.Matrix(n, dv, lambda a, b: sp.Symbol(f"v{a}_{b}", real=True))
    S = sum((V[j, :].T * K[j, :] for j in range(n)), sp.zeros(dv, dk))
    steps = [("Eq. 1: S = sum_j v_j k_j^T equals V^T K", S, V.T * K)]
    for i in range(n):
        ki, vi = K[i, :].T, V[i, :].T
        c = (ki.T * ki)[0, 0]
        r = sum((V[j, :].T * (K[j, :] * ki)[0, 0] for j in range(n) if j != i), sp.zeros(dv, 1))
        steps.append((f"Eq. 4 (N={n}, d_k={dk}, d_v={dv}, i={i}): S k_i = c v_i + r", (S * ki).expand(), (c * vi + r).expand()))
    return steps


def derivation_noise_energy(dk: int = 3) -> list[tuple[str, sp.Expr, sp.Expr]]:
    """E_others ||r||^2 = (N-1) d_v kappa, from Wick's theorem on one interference term at explicit d_k."""
    k = sp.Matrix(dk, 1, lambda a, _: sp.Symbol(f"q{a}", real=True))
    kk = (k.T * k)[0, 0]
    # one term: E[(k_j^T k_i)^2] with k_j ~ N(0, I): Wick pairs the two copies of the form k_i.
    second = wick([k, k])
    # cross terms E[(k_j^T k_i)(k_l^T k_i)] for j != l vanish: each factor has zero mean (odd moment).
    first = wick([k])
    return [
        (f"Wick, d_k={dk}: E[(k_j^T k_i)^2] = ||k_i||^2", second, kk),
        ("Wick: E[k_j^T k_i] = 0, so cross terms j != l of ||r||^2 vanish", first, 0),
        ("E||v_j||^2 = d_v, summed over the N-1 other pairs", (N - 1) * d_v * kappa, noise_energy_given_probe()),
    ]


def derivation_conventions() -> list[tuple[str, sp.Expr, sp.Expr]]:
    """Each convention from the conditional one, by chi-square moments, and their limits (Eq. 7)."""
    cond = noise_energy_given_probe() / (kappa**2 * nu)
    e_inv_k = chi2_moment(d_k, -1)
    e_inv_v = chi2_moment(d_v, -1)
    probe_avg = (N - 1) * d_v * e_inv_k * e_inv_v
    ratio = (N - 1) * d_v * chi2_moment(d_k, 1) / (chi2_moment(d_k, 2) * chi2_moment(d_v, 1))
    typical = cond.subs({kappa: d_k, nu: d_v})
    lim = lambda e: sp.limit(sp.limit(e / paper_asymptote(), N, sp.oo), d_k, sp.oo)  # noqa: E731
    return [
        ("conditional: E||r||^2 / (c^2 ||v_i||^2) with c = kappa", sp.simplify(cond), snr_inv("conditional")),
        ("chi-square moment: E[1/kappa] = 1/(d_k - 2)", e_inv_k, 1 / (d_k - 2)),
        ("probe-averaged: (N-1) d_v E[1/kappa] E[1/nu] (independence)", sp.simplify(probe_avg), snr_inv("probe_averaged")),
        ("chi-square moments: E[kappa] = d_k, E[kappa^2] = d_k (d_k + 2)", chi2_moment(d_k, 2), d_k * (d_k + 2)),
        ("ratio of expectations: (N-1) d_v E[kappa] / (E[kappa^2] E[nu])", sp.simplify(ratio), snr_inv("ratio_of_expectations")),
        ("typical: conditional at kappa = d_k, nu = d_v", typical, snr_inv("typical")),
        ("Eq. 7 limit (N, d_k -> oo): conditional at typical probe / (N/d_k) -> 1", lim(snr_inv("typical")), 1),
        ("Eq. 7 limit: ratio of expectations / (N/d_k) -> 1", lim(snr_inv("ratio_of_expectations")), 1),
        (
            "Eq. 7 limit: probe-averaged / (N/d_k) -> 1 (also d_v -> oo)",
            sp.limit(lim(snr_inv("probe_averaged")), d_v, sp.oo),
            1,
        ),
    ]


def derivation_ordering() -> list[tuple[str, sp.Expr, sp.Expr]]:
    """C3 relation: probe-averaged >= typical >= ratio of expectations for d_k, d_v > 2 (Jensen), shown by
    writing each difference as a manifestly positive expression."""
    x, y = sp.symbols("x y", positive=True)  # x = d_k - 2 > 0, y = d_v - 2 > 0
    pa = snr_inv("probe_averaged").subs({d_k: x + 2, d_v: y + 2})
    ty = snr_inv("typical").subs({d_k: x + 2})
    re = snr_inv("ratio_of_expectations").subs({d_k: x + 2})
    return [
        (
            "probe-averaged - typical = 2 (N-1)(x + y + 2) / (x y (x + 2)) > 0 with x = d_k - 2, y = d_v - 2",
            sp.together(pa - ty),
            2 * (N - 1) * (x + y + 2) / (x * y * (x + 2)),
        ),
        ("typical - ratio of expectations = 2 (N-1) / (d_k (d_k + 2)) > 0 (d_k = x + 2)", sp.together(ty - re), 2 * (N - 1) / ((x + 2) * (x + 4))),
    ]
