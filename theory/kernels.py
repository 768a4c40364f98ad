"""Retrieval SNR of kernel associative memories (paper §2.1.1; docs/CLAIMS.md C5-C10), derived step by step.

Kernel memory (C5): S = sum_j v_j phi(k_j)^T, o = S phi(q) = sum_j v_j kappa(k_j, q). Probing the i-th pair:

    o = c v_i + r,   c = kappa(k_i, k_i),   r = sum_{j != i} v_j kappa(k_j, k_i).

General kernel SNR (C6): with values zero-mean, isotropic (E v v^T = I) and independent of the keys, the cross
terms of ||r||^2 vanish and E_others ||r||^2 = (N - 1) d_v M2(k_i), M2(y) = E_k[kappa(k, y)^2], so

    conditional             (N-1) (d_v / nu) M2(k_i) / kappa(k_i, k_i)^2           nu = ||v_i||^2
    probe-averaged          (N-1) d_v E[1/nu] E_{k_i}[M2(k_i) / kappa(k_i, k_i)^2]
    ratio of expectations   (N-1) E[M2(k_i)] / E[kappa(k_i, k_i)^2]
    typical                 conditional at ||k_i||^2 = d_k, nu = d_v.

For the rotation-invariant kernels below (Gaussian keys k ~ N(0, I_{d_k})) M2 and the signal depend on the probe
only through kappa = ||k_i||^2 ~ chi^2_{d_k}. Every closed form in ``snr_inv`` is checked in ``derivation_*``
against the general formula, with M2 from Wick's theorem or the Gaussian moment-generating function and the
probe averages from chi-square moments (``theory.moments``).

Kernels (parameters: tau > 0 temperature, p >= 1 degree, s > 0 bandwidth):
    linear  x^T y                 exp  exp(x^T y / tau)         relu  max(0, x^T y)
    poly    (x^T y)^p             rbf  exp(-||x - y||^2 / (2 s^2))
"""

from __future__ import annotations

import sympy as sp

from theory.moments import DivergentMoment, chi2_moment, gaussian_mgf, gaussian_quadratic_mgf, wick
from theory.snr_linear import CONVENTIONS, N, d_k, d_v, kappa, nu

tau = sp.Symbol("tau", positive=True)
p = sp.Symbol("p", positive=True, integer=True)
s = sp.Symbol("s", positive=True)
a_sym = sp.Symbol("a", real=True)
z = sp.Symbol("z", real=True)

KERNELS = ("linear", "exp", "relu", "poly", "rbf")

__all__ = [
    "CONVENTIONS",
    "KERNELS",
    "exp_exponent",
    "second_moment",
    "signal",
    "general_snr_inv",
    "snr_inv",
    "finiteness_condition",
    "capacity",
]


def exp_exponent(t=tau) -> sp.Expr:
    """a(tau) = 2 (1/tau^2 - 1/tau): the exponential kernel's conditional SNR^{-1} is (N-1)(d_v/nu) e^{a kappa}."""
    return 2 * (1 / t**2 - 1 / t)


def second_moment(kernel: str) -> sp.Expr:
    """M2(kappa) = E_{k ~ N(0, I)}[kappa(k, y)^2] for ||y||^2 = kappa (closed form; see derivation_second_moments)."""
    forms = {
        "linear": kappa,
        "exp": sp.exp(2 * kappa / tau**2),
        "relu": kappa / 2,
        "poly": sp.factorial2(2 * p - 1) * kappa**p,
        "rbf": (s**2 / (s**2 + 2)) ** (d_k / 2) * sp.exp(-kappa / (s**2 + 2)),
    }
    _check_kernel(kernel)
    return forms[kernel]


def signal(kernel: str) -> sp.Expr:
    """c = kappa(y, y) for ||y||^2 = kappa."""
    forms = {"linear": kappa, "exp": sp.exp(kappa / tau), "relu": kappa, "poly": kappa**p, "rbf": sp.Integer(1)}
    _check_kernel(kernel)
    return forms[kernel]


def general_snr_inv(m2: sp.Expr, c: sp.Expr) -> sp.Expr:
    """C6, conditional convention: (N-1) (d_v/nu) M2 / c^2."""
    return (N - 1) * (d_v / nu) * m2 / c**2


def snr_inv(kernel: str, convention: str) -> sp.Expr:
    """The exact SNR^{-1} of ``kernel`` in ``convention`` (closed forms; their derivation is ``derivation_conventions``)."""
    _check_kernel(kernel)
    if convention not in CONVENTIONS:
        raise ValueError(f"convention must be one of {CONVENTIONS}, got {convention!r}")
    a = exp_exponent()
    dvf = d_v / (d_v - 2)
    g = sp.gamma
    forms = {
        "linear": {
            "conditional": (N - 1) * (d_v / nu) / kappa,
            "probe_averaged": (N - 1) * dvf / (d_k - 2),
            "ratio_of_expectations": (N - 1) / (d_k + 2),
            "typical": (N - 1) / d_k,
        },
        "exp": {
            "conditional": (N - 1) * (d_v / nu) * sp.exp(a * kappa),
            "probe_averaged": (N - 1) * dvf * (1 - 2 * a) ** (-d_k / 2),
            "ratio_of_expectations": (N - 1) * (1 - 4 / tau) ** (d_k / 2) / (1 - 4 / tau**2) ** (d_k / 2),
            "typical": (N - 1) * sp.exp(a * d_k),
        },
        "relu": {
            "conditional": (N - 1) * (d_v / nu) / (2 * kappa),
            "probe_averaged": (N - 1) * dvf / (2 * (d_k - 2)),
            "ratio_of_expectations": (N - 1) / (2 * (d_k + 2)),
            "typical": (N - 1) / (2 * d_k),
        },
        "poly": {
            "conditional": (N - 1) * (d_v / nu) * sp.factorial2(2 * p - 1) / kappa**p,
            "probe_averaged": (N - 1) * dvf * sp.factorial2(2 * p - 1) * g(d_k / 2 - p) / (2**p * g(d_k / 2)),
            "ratio_of_expectations": (N - 1) * sp.factorial2(2 * p - 1) * g(d_k / 2 + p) / (2**p * g(d_k / 2 + 2 * p)),
            "typical": (N - 1) * sp.factorial2(2 * p - 1) / d_k**p,
        },
        "rbf": {
            "conditional": (N - 1) * (d_v / nu) * (s**2 / (s**2 + 2)) ** (d_k / 2) * sp.exp(-kappa / (s**2 + 2)),
            "probe_averaged": (N - 1) * dvf * (s**2 / (s**2 + 4)) ** (d_k / 2),
            "ratio_of_expectations": (N - 1) * (s**2 / (s**2 + 4)) ** (d_k / 2),
            "typical": (N - 1) * (s**2 / (s**2 + 2)) ** (d_k / 2) * sp.exp(-d_k / (s**2 + 2)),
        },
    }
    return forms[kernel][convention]


def finiteness_condition(kernel: str, convention: str) -> str:
    """Where the convention's moments exist, in words (empty string: always)."""
    _check_kernel(kernel)
    conds = []
    if convention == "probe_averaged":
        conds.append("d_v > 2 (E[1/chi^2_{d_v}] = 1/(d_v - 2))")
        if kernel in ("linear", "relu"):
            conds.append("d_k > 2 (E[1/chi^2_{d_k}])")
        if kernel == "poly":
            conds.append("d_k > 2p (E[chi^2_{d_k}^{-p}])")
        if kernel == "exp":
            conds.append("1 - 2a > 0 with a = 2(1/tau^2 - 1/tau), i.e. tau > 2 sqrt(2) - 2 (E[e^{a chi^2}])")
    if convention == "ratio_of_expectations" and kernel == "exp":
        conds.append("tau > 4 (E[kappa(k,k)^2] = E[e^{2||k||^2/tau}] = (1 - 4/tau)^{-d_k/2} finite; numerator needs tau > 2)")
    return "; ".join(conds)


def _check_kernel(kernel: str) -> None:
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")


# ----------------------------------------------------------------------------------------------------------------
# Derivations: chains of checkable steps (say, lhs, rhs)
# ----------------------------------------------------------------------------------------------------------------


def _vec(name: str, d: int) -> sp.Matrix:
    return sp.Matrix(d, 1, lambda i, _: sp.Symbol(f"{name}{i}", real=True))


def derivation_signal_noise(n: int = 3, dk: int = 2, dv: int = 2) -> list:
    """C5 at a small size with symbolic entries and an arbitrary symbolic kernel: o = c v_i + r exactly, and the
    feature-map form S phi(q) equals the kernel form sum_j v_j kappa(k_j, q) when kappa = phi^T phi."""
    f = sp.Function("kappa")
    K = [_vec(f"k{j}_", dk) for j in range(n)]
    V = [_vec(f"v{j}_", dv) for j in range(n)]
    steps = []
    for i in range(n):
        o = sum((V[j] * f(*K[j], *K[i]) for j in range(n)), sp.zeros(dv, 1))
        c = f(*K[i], *K[i])
        r = sum((V[j] * f(*K[j], *K[i]) for j in range(n) if j != i), sp.zeros(dv, 1))
        steps.append((f"C5 (N={n}, i={i}): sum_j v_j kappa(k_j, k_i) = c v_i + r", o, c * V[i] + r))
    # feature-map form with the Taylor map of dimension 1 + dk + dk^2
    phis = [taylor_features(k) for k in K]
    S = sum((V[j] * phis[j].T for j in range(n)), sp.zeros(dv, phis[0].shape[0]))
    q = _vec("q", dk)
    kern = lambda x, y: (taylor_features(x).T * taylor_features(y))[0, 0]  # noqa: E731
    steps.append(
        ("C5: S phi(q) = sum_j v_j phi(k_j)^T phi(q) (feature map = kernel memory)", (S * taylor_features(q)).expand(),
         sum((V[j] * kern(K[j], q) for j in range(n)), sp.zeros(dv, 1)).expand())
    )
    return steps


def derivation_noise_energy(dk: int = 2) -> list:
    """C6: E_others ||r||^2 = (N-1) d_v E[kappa(k, k_i)^2]. Cross terms j != l are E[v_j^T v_l] (...) = 0 for
    independent zero-mean values (Wick: odd moment); a diagonal term is E||v_j||^2 E[kappa^2] = d_v M2."""
    e_cross = sum(wick([sp.Matrix.eye(dk)[:, a]]) * wick([sp.Matrix.eye(dk)[:, a]]) for a in range(dk))
    e_diag = sum(wick([sp.Matrix.eye(dk)[:, a]] * 2) for a in range(dk))
    M2 = sp.Symbol("M2", positive=True)
    return [
        (f"Wick: E[v_j^T v_l] = sum_a E[v_ja] E[v_la] = 0 (d_v={dk})", e_cross, 0),
        (f"Wick: E||v_j||^2 = d_v (d_v={dk})", e_diag, dk),
        ("C6: (N-1) E||v_j||^2 M2 / (c^2 ||v_i||^2) is the general conditional form",
         (N - 1) * d_v * M2 / (sp.Symbol("c", positive=True) ** 2 * nu),
         general_snr_inv(M2, sp.Symbol("c", positive=True))),
    ]


def derivation_second_moments(dk: int = 3) -> list:
    """M2(y) = E_k[kappa(k, y)^2] per kernel: Wick for linear and polynomial (at explicit d_k and p), the Gaussian
    MGF for exp and rbf, a half-normal integral for ReLU."""
    y = _vec("y", dk)
    ysq = (y.T * y)[0, 0]
    steps = [("linear, Wick: E[(k^T y)^2] = ||y||^2", wick([y, y]), ysq)]
    for pp in (2, 3):
        steps.append(
            (f"poly p={pp}, Wick: E[(k^T y)^{2 * pp}] = (2p-1)!! ||y||^{2 * pp}", wick([y] * (2 * pp)),
             sp.expand(second_moment("poly").subs({p: pp, kappa: ysq})))
        )
    steps.append(
        ("exp, Gaussian MGF: E[exp(2 k^T y / tau)] = exp(2 ||y||^2 / tau^2)", gaussian_mgf(2 * y / tau),
         second_moment("exp").subs(kappa, ysq))
    )
    # rbf: exp(-||k - y||^2 / s^2) = exp(-||k||^2/s^2 + 2 k^T y / s^2 - ||y||^2 / s^2)
    rbf = gaussian_quadratic_mgf(-1 / s**2, 4 * kappa / s**4, d_k) * sp.exp(-kappa / s**2)
    steps.append(("rbf, quadratic MGF with a = -1/s^2, b = 2y/s^2", rbf, second_moment("rbf")))
    sig = sp.Symbol("sigma", positive=True)
    half = sp.integrate(z**2 * sp.exp(-z**2 / (2 * sig**2)) / sp.sqrt(2 * sp.pi * sig**2), (z, 0, sp.oo))
    steps.append(("relu: E[max(0, Z)^2] = sigma^2 / 2 for Z = k^T y ~ N(0, sigma^2 = ||y||^2)", half, sig**2 / 2))
    return steps


def derivation_conventions(kernel: str) -> list:
    """Each closed form of ``snr_inv(kernel, .)`` from the general C6 formula and chi-square / MGF moments."""
    m2, c = second_moment(kernel), signal(kernel)
    cond = general_snr_inv(m2, c)
    steps = [(f"{kernel}: conditional = (N-1)(d_v/nu) M2/c^2", sp.simplify(cond), snr_inv(kernel, "conditional"))]
    ratio_in_kappa = sp.simplify(m2 / c**2)
    e_inv_nu = chi2_moment(d_v, -1)
    if kernel == "exp":
        a = exp_exponent()
        steps.append(("exp: M2/c^2 = exp(a kappa), a = 2(1/tau^2 - 1/tau)", sp.simplify(ratio_in_kappa - sp.exp(a * kappa)), 0))
        probe = gaussian_quadratic_mgf(a_sym, 0, d_k).subs(a_sym, a)
        num = gaussian_quadratic_mgf(2 / tau**2, 0, d_k)
        den = gaussian_quadratic_mgf(2 / tau, 0, d_k)
        steps.append(("exp: E[e^{a kappa}] = (1-2a)^{-d_k/2} (quadratic MGF, b = 0)", probe, (1 - 2 * a) ** (-d_k / 2)))
        pa = (N - 1) * d_v * e_inv_nu * probe
        ra = (N - 1) * num / den
    elif kernel == "rbf":
        probe = gaussian_quadratic_mgf(-1 / (s**2 + 2), 0, d_k) * (s**2 / (s**2 + 2)) ** (d_k / 2)
        pa = (N - 1) * d_v * e_inv_nu * probe
        ra = (N - 1) * probe
    elif kernel == "poly":
        pa = (N - 1) * d_v * e_inv_nu * sp.factorial2(2 * p - 1) * chi2_moment(d_k, -p)
        ra = (N - 1) * sp.factorial2(2 * p - 1) * chi2_moment(d_k, p) / chi2_moment(d_k, 2 * p)
    else:
        coef = sp.simplify(ratio_in_kappa * kappa)  # M2/c^2 = coef / kappa for linear and relu
        pa = (N - 1) * d_v * e_inv_nu * coef * chi2_moment(d_k, -1)
        ra = (N - 1) * coef * chi2_moment(d_k, 1) / chi2_moment(d_k, 2)
    steps.append((f"{kernel}: probe-averaged = (N-1) d_v E[1/nu] E[M2/c^2] (chi-square/MGF moments)", pa,
                  snr_inv(kernel, "probe_averaged")))
    steps.append((f"{kernel}: ratio of expectations = (N-1) E[M2] / E[c^2]", ra, snr_inv(kernel, "ratio_of_expectations")))
    steps.append((f"{kernel}: typical = conditional at kappa = d_k, nu = d_v", cond.subs({kappa: d_k, nu: d_v}),
                  snr_inv(kernel, "typical")))
    return steps


def derivation_exp_temperature() -> list:
    """C7 consequences: the optimum tau = 2 (both conventions), the values there, tau = sqrt(d_k), and the
    disagreement between typical and probe-averaged growth rates of the capacity."""
    a = exp_exponent()
    crit = sp.solve(sp.diff(a, tau), tau)
    typ = snr_inv("exp", "typical")
    pa = snr_inv("exp", "probe_averaged")
    x = sp.Symbol("x", positive=True)
    return [
        ("da/dtau = 0 has the single positive root tau = 2", sp.Matrix(crit), sp.Matrix([2])),
        ("d^2a/dtau^2 > 0 there (a minimum): value 1/4", sp.diff(a, tau, 2).subs(tau, 2), sp.Rational(1, 4)),
        ("1 - 2a is maximal where a is minimal: d(1-2a)/dtau = -2 da/dtau", sp.diff(1 - 2 * a, tau), -2 * sp.diff(a, tau)),
        ("typical at tau = 2: (N-1) e^{-d_k/2}", typ.subs(tau, 2), (N - 1) * sp.exp(-d_k / 2)),
        ("probe-averaged at tau = 2: (N-1) d_v/(d_v-2) 2^{-d_k/2}", pa.subs(tau, 2), (N - 1) * d_v / (d_v - 2) * 2 ** (-d_k / 2)),
        ("typical at tau = sqrt(d_k): (N-1) e^{2 - 2 sqrt(d_k)}", sp.simplify(typ.subs(tau, sp.sqrt(d_k))),
         (N - 1) * sp.exp(2 - 2 * sp.sqrt(d_k))),
        ("growth rate of log capacity per d_k at tau = 2: typical 1/2",
         sp.limit(-sp.log(typ.subs(tau, 2) / (N - 1)) / d_k, d_k, sp.oo), sp.Rational(1, 2)),
        ("... probe-averaged log(2)/2 (the conventions disagree on the rate)",
         sp.limit(-sp.log(pa.subs(tau, 2) / (N - 1)) / d_k, d_k, sp.oo), sp.log(2) / 2),
        ("the two rates differ: sign(1/2 - log(2)/2) = 1", sp.sign(sp.Rational(1, 2) - sp.log(2) / 2), 1),
        ("probe-average finite iff 1 - 2a > 0: root of (1-2a) tau^2 = tau^2 + 4 tau - 4 at tau = 2 sqrt 2 - 2",
         sp.Matrix(sp.solve(sp.expand((1 - 2 * a) * x**2).subs(tau, x), x)), sp.Matrix([2 * sp.sqrt(2) - 2])),
    ]


def capacity(kernel: str, convention: str = "typical", target=None) -> sp.Expr:
    """C10: N_max such that SNR^{-1}(N_max) = target (a symbol ``rho`` if None): N_max = 1 + target / f, where
    SNR^{-1} = (N - 1) f in every convention here."""
    rho = sp.Symbol("rho", positive=True) if target is None else sp.sympify(target)
    f = sp.simplify(snr_inv(kernel, convention) / (N - 1))
    return 1 + rho / f


def derivation_capacity() -> list:
    """C10 capacities (typical convention): linear 1 + rho d_k, polynomial 1 + rho d_k^p/(2p-1)!!, exp at tau = 2
    1 + rho e^{d_k/2}; and each solves SNR^{-1}(N_max) = rho."""
    rho = sp.Symbol("rho", positive=True)
    steps = [
        ("linear: N_max = 1 + rho d_k", capacity("linear"), 1 + rho * d_k),
        ("poly: N_max = 1 + rho d_k^p / (2p-1)!!", capacity("poly"), 1 + rho * d_k**p / sp.factorial2(2 * p - 1)),
        ("exp, tau = 2: N_max = 1 + rho e^{d_k/2}", capacity("exp").subs(tau, 2), 1 + rho * sp.exp(d_k / 2)),
        ("exp, tau = 2, probe-averaged: N_max = 1 + rho (d_v-2)/d_v 2^{d_k/2}", sp.simplify(capacity("exp", "probe_averaged").subs(tau, 2)),
         1 + rho * (d_v - 2) / d_v * 2 ** (d_k / 2)),
    ]
    for k in KERNELS:
        steps.append((f"{k}: SNR^{{-1}}(N_max) = rho", snr_inv(k, "typical").subs(N, capacity(k)), rho))
    return steps


# ----------------------------------------------------------------------------------------------------------------
# Feature maps: Taylor identity
# ----------------------------------------------------------------------------------------------------------------


def taylor_features(x: sp.Matrix) -> sp.Matrix:
    """The Taylor / "Based" map phi(x) = [1, x, vec(x x^T)/sqrt(2)]."""
    x = sp.Matrix(x)
    outer = x * x.T
    return sp.Matrix([1] + list(x) + [e / sp.sqrt(2) for e in outer])


def derivation_taylor(dk: int = 3) -> list:
    """phi(x)^T phi(y) = 1 + x^T y + (x^T y)^2 / 2 exactly (second-order Taylor polynomial of exp(x^T y))."""
    x, y = _vec("x", dk), _vec("y", dk)
    dot = (x.T * y)[0, 0]
    t = sp.Symbol("t")
    return [
        (f"Taylor map, d_k={dk}: phi(x)^T phi(y) = 1 + x^T y + (x^T y)^2/2",
         sp.expand((taylor_features(x).T * taylor_features(y))[0, 0]), sp.expand(1 + dot + dot**2 / 2)),
        ("that is the degree-2 Taylor polynomial of exp(t) at t = x^T y", sp.series(sp.exp(t), t, 0, 3).removeO(), 1 + t + t**2 / 2),
    ]


# ----------------------------------------------------------------------------------------------------------------
# Performer random features (Choromanski et al. 2020, Lemma 2)
# ----------------------------------------------------------------------------------------------------------------

m_feat = sp.Symbol("m", positive=True, integer=True)
xx, yy, xy = sp.symbols("xx yy xy", real=True)  # ||x||^2, ||y||^2, x^T y


def performer_variance(kind: str) -> sp.Expr:
    """Var of the m-feature estimate of SM = exp(x^T y), in terms of xx = ||x||^2, yy = ||y||^2, xy = x^T y.

    positive:      (1/m) e^{||x+y||^2} SM^2 (1 - e^{-||x+y||^2})
    trigonometric: (1/(2m)) e^{||x+y||^2} SM^{-2} (1 - e^{-||x-y||^2})^2
    """
    sm = sp.exp(xy)
    plus = xx + yy + 2 * xy
    minus = xx + yy - 2 * xy
    if kind == "positive":
        return sp.exp(plus) * sm**2 * (1 - sp.exp(-plus)) / m_feat
    if kind == "trigonometric":
        return sp.exp(plus) * sm**-2 * (1 - sp.exp(-minus)) ** 2 / (2 * m_feat)
    raise ValueError(f"kind must be 'positive' or 'trigonometric', got {kind!r}")


def derivation_performer(dk: int = 2) -> list:
    """Unbiasedness and variance of both random-feature maps from the Gaussian MGF E[e^{w^T t}] = e^{||t||^2/2}
    (at imaginary t for the trigonometric map: E[cos(w^T t)] = Re E[e^{i w^T t}] = e^{-||t||^2/2}).
    One feature; m i.i.d. features divide the variance by m."""
    x, y = _vec("x", dk), _vec("y", dk)
    sub = {}
    nx, ny, dxy = (x.T * x)[0, 0], (y.T * y)[0, 0], (x.T * y)[0, 0]
    mgf = lambda t: gaussian_mgf(t)  # noqa: E731
    # positive: f = exp(w^T (x+y) - (||x||^2 + ||y||^2)/2)
    pos_mean = mgf(x + y) * sp.exp(-(nx + ny) / 2)
    pos_second = mgf(2 * (x + y)) * sp.exp(-(nx + ny))
    pos_var = pos_second - pos_mean**2
    # trigonometric: f = exp((||x||^2 + ||y||^2)/2) cos(w^T (x - y)); cos^2 u = (1 + cos 2u)/2
    ecos = lambda t: sp.re(sp.expand(mgf(sp.I * t)))  # noqa: E731
    trig_mean = sp.exp((nx + ny) / 2) * ecos(x - y)
    trig_second = sp.exp(nx + ny) * (1 + ecos(2 * (x - y))) / 2
    trig_var = trig_second - trig_mean**2
    sub = {xx: nx, yy: ny, xy: dxy, m_feat: 1}
    return [
        ("Gaussian MGF at imaginary argument: E[cos(w^T t)] = exp(-||t||^2/2)", ecos(x - y), sp.exp(-((x - y).T * (x - y))[0, 0] / 2)),
        ("positive features unbiased: E[phi+(x)^T phi+(y)] = exp(x^T y)", sp.simplify(pos_mean), sp.exp(dxy)),
        ("positive features: Var (m = 1) = e^{||x+y||^2} SM^2 (1 - e^{-||x+y||^2})", sp.expand(pos_var),
         sp.expand(performer_variance("positive").subs(sub))),
        ("trigonometric features unbiased: E[phi_trig(x)^T phi_trig(y)] = exp(x^T y)", sp.simplify(trig_mean), sp.exp(dxy)),
        ("trigonometric features: Var (m = 1) = (1/2) e^{||x+y||^2} SM^{-2} (1 - e^{-||x-y||^2})^2", sp.expand(trig_var),
         sp.expand(performer_variance("trigonometric").subs(sub))),
    ]


def performer_memory_extra_noise(kind: str) -> sp.Expr:
    """The extra noise energy per interfering pair that m random features add, averaged over a Gaussian key
    k ~ N(0, I) with the probe q fixed (||q||^2 = kappa) and the kernel exp(k^T q / tau), i.e. x = k/sqrt(tau),
    y = q/sqrt(tau):  E_k Var_w[kappa_hat(k, q)] (per unit E||v||^2). Finite iff tau > 2 (both maps)."""
    # positive: E_k[e^{(||k||^2 + 4 k^T q + ||q||^2)/tau}] - E_k[e^{2 k^T q/tau}]
    if kind == "positive":
        first = gaussian_quadratic_mgf(1 / tau, 16 * kappa / tau**2, d_k) * sp.exp(kappa / tau)
    elif kind == "trigonometric":
        # (1/2) E_k[e^{(||k||^2+||q||^2)/tau} (1 - e^{-||k-q||^2/tau})^2]: expand the square
        e = lambda aa, bsq, const: gaussian_quadratic_mgf(aa, bsq, d_k) * sp.exp(const)  # noqa: E731
        t0 = e(1 / tau, 0, kappa / tau)
        t1 = e(0, 4 * kappa / tau**2, 0)  # e^{(||k||^2+||q||^2 - ||k-q||^2)/tau} = e^{2 k^T q/tau}
        t2 = e(-1 / tau, 16 * kappa / tau**2, -kappa / tau)  # e^{(||k||^2+||q||^2 - 2||k-q||^2)/tau}
        return (t0 - 2 * t1 + t2) / (2 * m_feat)
    else:
        raise ValueError(f"kind must be 'positive' or 'trigonometric', got {kind!r}")
    second = sp.exp(2 * kappa / tau**2)
    return (first - second) / m_feat


def derivation_performer_memory() -> list:
    """C9 (Performer noise floor): E_k Var_w kappa_hat(k, q) expands by the quadratic MGF; the first term of the
    positive map, E[e^{(||k||^2 + 4k^Tq + ||q||^2)/tau}] = (1-2/tau)^{-d_k/2} e^{kappa/tau + 8 kappa/(tau^2 - 2 tau)},
    needs 1/tau < 1/2, i.e. tau > 2."""
    pos = performer_memory_extra_noise("positive")
    closed = ((1 - 2 / tau) ** (-d_k / 2) * sp.exp(kappa / tau + 8 * kappa / (tau**2 - 2 * tau)) - sp.exp(2 * kappa / tau**2)) / m_feat
    steps = [("positive: E_k Var = [(1-2/tau)^{-d/2} e^{kappa/tau + 8 kappa/(tau^2-2tau)} - e^{2kappa/tau^2}]/m", sp.simplify(pos - closed), 0)]
    try:
        gaussian_quadratic_mgf(sp.Rational(1, 2), 0, 3)
        diverges = False
    except DivergentMoment:
        diverges = True
    steps.append(("at tau = 2 the quadratic MGF with a = 1/tau = 1/2 diverges (engine raises DivergentMoment: 1 = yes)", sp.Integer(int(diverges)), 1))
    return steps


# ----------------------------------------------------------------------------------------------------------------
# Keys uniform on the sphere (unit norm), kernel exp(b x^T y)
# ----------------------------------------------------------------------------------------------------------------

b_inv = sp.Symbol("b", positive=True)


def sphere_mgf(d: int | sp.Expr = d_k, t=None) -> sp.Expr:
    """E[exp(t x^T y)] for x uniform on S^{d-1}, ||y|| = 1: Gamma(d/2) (t/2)^{1 - d/2} I_{d/2 - 1}(t)
    (the reciprocal of the von Mises-Fisher normaliser, up to the sphere's area)."""
    t = b_inv if t is None else t
    nu_ = sp.sympify(d) / 2 - 1
    return sp.gamma(nu_ + 1) * (t / 2) ** (-nu_) * sp.besseli(nu_, t)


def sphere_snr_inv(convention: str) -> sp.Expr:
    """Exponential kernel exp(b x^T y) with keys uniform on the unit sphere: kappa(k_i, k_i) = e^b for every probe,
    M2 = E[e^{2b x^T y}] = sphere_mgf(t = 2b); SNR^{-1} = (N-1) (d_v/nu) M2 e^{-2b} (conditional)."""
    m2 = sphere_mgf(d_k, 2 * b_inv)
    base = (N - 1) * m2 * sp.exp(-2 * b_inv)
    forms = {
        "conditional": base * d_v / nu,
        "probe_averaged": base * d_v / (d_v - 2),
        "ratio_of_expectations": base,
        "typical": base,
    }
    return forms[convention]


def derivation_sphere(dims=(3, 5), order: int = 4) -> list:
    """Derive the sphere moments: t = x^T y has density proportional to (1 - t^2)^{(d-3)/2} on [-1, 1]; its even
    moments are (1/2)_m / (d/2)_m; hence E[e^{b t}] = sum_m b^{2m}/(2m)! (1/2)_m/(d/2)_m = 0F1(; d/2; b^2/4), whose
    series equals Gamma(d/2)(b/2)^{1-d/2} I_{d/2-1}(b) term by term (checked to ``order``)."""
    t = sp.Symbol("t", real=True)
    steps = []
    for d in dims:
        dens = (1 - t**2) ** sp.Rational(d - 3, 2)
        norm = sp.integrate(dens, (t, -1, 1))
        for mm in (1, 2):
            mom = sp.integrate(t ** (2 * mm) * dens, (t, -1, 1)) / norm
            steps.append((f"sphere d={d}: E[t^{2 * mm}] = (1/2)_m/(d/2)_m", sp.simplify(mom),
                          sp.rf(sp.Rational(1, 2), mm) / sp.rf(sp.Rational(d, 2), mm)))
        series_moments = sum(b_inv ** (2 * mm) / sp.factorial(2 * mm) * sp.rf(sp.Rational(1, 2), mm) / sp.rf(sp.Rational(d, 2), mm)
                             for mm in range(order))
        bessel_series = sp.series(sphere_mgf(d, b_inv), b_inv, 0, 2 * order).removeO()
        steps.append((f"sphere d={d}: moment series = Bessel form Gamma(d/2)(b/2)^(1-d/2) I_(d/2-1)(b) to order b^{2 * order - 2}",
                      sp.expand(sp.simplify(bessel_series)), sp.expand(series_moments)))
    steps.append(("sphere d=3 closed form: E[e^{bt}] = sinh(b)/b", sp.simplify(sphere_mgf(3, b_inv).rewrite(sp.sinh)), sp.sinh(b_inv) / b_inv))
    return steps
