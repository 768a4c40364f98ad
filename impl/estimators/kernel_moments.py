"""Exact kernel moments for Gaussian keys, evaluated numerically in log space (the analytic mode of the estimators).

This is an independent numeric implementation of the closed forms that ``theory.kernels`` derives symbolically
(impl and theory never import each other; the claims module checks that the two agree). Notation: probe norm
kappa = ||k_i||^2, value norm nu = ||v_i||^2, keys k ~ N(0, I_{d_k}), values v ~ N(0, I_{d_v}).

    M2(kappa) = E_k[kappa(k, k_i)^2]:  linear kappa, relu kappa/2, poly (2p-1)!! kappa^p,
                exp exp(2 kappa/tau^2), rbf (s^2/(s^2+2))^{d_k/2} exp(-kappa/(s^2+2))
    signal c(kappa) = kappa(k_i, k_i):  linear kappa, relu kappa, poly kappa^p, exp exp(kappa/tau), rbf 1

SNR^{-1} per convention (docs/CLAIMS.md C3, C6, C7, C9): see ``log_snr_inv``. Moments that diverge raise InputError naming
the condition.
"""

from __future__ import annotations

import math

from scipy.special import gammaln

from impl.memories.memory import CONVENTIONS
from impl.numerics.errors import InputError

ANALYTIC_KERNELS = ("linear", "exp", "relu", "poly", "rbf")


def _log_dfact_odd(p: int) -> float:
    """log (2p-1)!! = log (2p)! - p log 2 - log p!."""
    return gammaln(2 * p + 1) - p * math.log(2) - gammaln(p + 1)


def exp_a(tau: float) -> float:
    """a = 2 (1/tau^2 - 1/tau)."""
    return 2 * (1 / tau**2 - 1 / tau)


def log_m2(kernel: str, kappa: float, d_k: int, *, tau=1.0, p=2, s=1.0) -> float:
    """log E_k[kappa(k, y)^2] for ||y||^2 = kappa."""
    if kernel == "linear":
        return math.log(kappa)
    if kernel == "relu":
        return math.log(kappa / 2)
    if kernel == "poly":
        return _log_dfact_odd(p) + p * math.log(kappa)
    if kernel == "exp":
        return 2 * kappa / tau**2
    if kernel == "rbf":
        return d_k / 2 * math.log(s**2 / (s**2 + 2)) - kappa / (s**2 + 2)
    raise InputError("kernel", f"no closed-form moments for {kernel!r}; analytic kernels: {', '.join(ANALYTIC_KERNELS)}")


def log_signal(kernel: str, kappa: float, *, tau=1.0, p=2, s=1.0) -> float:
    """log kappa(y, y) for ||y||^2 = kappa."""
    return {
        "linear": lambda: math.log(kappa),
        "relu": lambda: math.log(kappa),
        "poly": lambda: p * math.log(kappa),
        "exp": lambda: kappa / tau,
        "rbf": lambda: 0.0,
    }[kernel]()


def log_conditional(kernel: str, n_pairs: int, d_k: int, d_v: int, kappa: float, nu: float, **prm) -> float:
    """log of (N-1) (d_v/nu) M2(kappa) / c(kappa)^2 (C6, conditional)."""
    return (math.log(n_pairs - 1) + math.log(d_v / nu) + log_m2(kernel, kappa, d_k, **prm)
            - 2 * log_signal(kernel, kappa, **prm))


def _log_chi2_moment(d: int, t: float) -> float:
    """log E[Q^t], Q ~ chi^2_d (needs t > -d/2)."""
    return t * math.log(2) + gammaln(d / 2 + t) - gammaln(d / 2)


def divergence(kernel: str, convention: str, d_k: int, d_v: int, *, tau=1.0, p=2, s=1.0) -> str:
    """'' if the convention's moment is finite, else the violated condition in words."""
    if convention == "probe_averaged":
        if d_v <= 2:
            return f"d_v > 2 (E[1/||v_i||^2] = 1/(d_v - 2) diverges at d_v = {d_v})"
        if kernel in ("linear", "relu") and d_k <= 2:
            return f"d_k > 2 (E[1/||k_i||^2] diverges at d_k = {d_k})"
        if kernel == "poly" and d_k <= 2 * p:
            return f"d_k > 2p (E[||k_i||^(-2p)] diverges at d_k = {d_k}, p = {p})"
        if kernel == "exp" and 1 - 2 * exp_a(tau) <= 0:
            return (f"1 - 2a > 0 with a = 2(1/tau^2 - 1/tau), i.e. tau > 2 sqrt(2) - 2 = 0.828 "
                    f"(E[e^(a ||k_i||^2)] diverges at tau = {tau})")
    if convention == "ratio_of_expectations" and kernel == "exp" and tau <= 4:
        return f"tau > 4 (E[kappa(k_i,k_i)^2] = E[e^(2||k_i||^2/tau)] = (1 - 4/tau)^(-d_k/2) diverges at tau = {tau})"
    return ""


def log_snr_inv(kernel: str, convention: str, n_pairs: int, d_k: int, d_v: int, *, kappa=None, nu=None,
                tau=1.0, p=2, s=1.0) -> float:
    """log SNR^{-1} in closed form. ``conditional`` needs the probe's kappa = ||k_i||^2 and nu = ||v_i||^2."""
    prm = dict(tau=tau, p=p, s=s)
    bad = divergence(kernel, convention, d_k, d_v, **prm)
    if bad:
        raise InputError("tau" if kernel == "exp" else ("p" if kernel == "poly" and "2p" in bad else "d_k" if "d_k" in bad else "d_v"),
                         f"the {convention} SNR of the {kernel} kernel is infinite here: needs {bad}")
    ln1 = math.log(n_pairs - 1)
    if convention == "conditional":
        return log_conditional(kernel, n_pairs, d_k, d_v, kappa, nu, **prm)
    if convention == "typical":
        return log_conditional(kernel, n_pairs, d_k, d_v, float(d_k), float(d_v), **prm)
    if convention == "probe_averaged":
        lv = math.log(d_v / (d_v - 2))
        if kernel in ("linear", "relu"):
            return ln1 + lv - math.log(d_k - 2) - (math.log(2) if kernel == "relu" else 0.0)
        if kernel == "poly":
            return ln1 + lv + _log_dfact_odd(p) + _log_chi2_moment(d_k, -p)
        if kernel == "exp":
            return ln1 + lv - d_k / 2 * math.log(1 - 2 * exp_a(tau))
        if kernel == "rbf":
            return ln1 + lv + d_k / 2 * math.log(s**2 / (s**2 + 4))
    if convention == "ratio_of_expectations":
        if kernel in ("linear", "relu"):
            return ln1 - math.log(d_k + 2) - (math.log(2) if kernel == "relu" else 0.0)
        if kernel == "poly":
            return ln1 + _log_dfact_odd(p) + _log_chi2_moment(d_k, p) - _log_chi2_moment(d_k, 2 * p)
        if kernel == "exp":
            return ln1 + d_k / 2 * (math.log(1 - 4 / tau) - math.log(1 - 4 / tau**2))
        if kernel == "rbf":
            return ln1 + d_k / 2 * math.log(s**2 / (s**2 + 4))
    raise InputError("convention", f"must be one of {', '.join(CONVENTIONS)}, got {convention!r}")


# ------------------------------------------------------------------------------------------------------------------
# How hard is plain Monte Carlo? (exponential kernel: lognormal interference weights)
# ------------------------------------------------------------------------------------------------------------------


def _log_mgf_chi2(d: int, b: float) -> float:
    """log E[e^{b Q}], Q ~ chi^2_d; +inf when b >= 1/2."""
    return math.inf if b >= 0.5 else -d / 2 * math.log(1 - 2 * b)


def plain_relvar(kernel: str, convention: str, n_pairs: int, d_k: int, d_v: int, *, kappa=None, tau=1.0, p=2, s=1.0):
    """Relative variance Var/mean^2 of ONE plain Monte Carlo sample of the estimator of ``convention`` (exact,
    from Gaussian and chi-square moments), and the skewness of a single interference term (lognormal for exp).
    Returns (relvar, term_relvar, skew): skew is that of one interference term w^2 (conditional, typical) or of
    one whole sample (probe-averaged, light kernels: ``probe_averaged_skewness``); inf where the variance is
    infinite, nan where it is not known (a kernel
    without closed-form moments: the caller must treat nan as *unknown*, never as reliable). The exponential kernel
    here; linear, relu, poly and rbf in ``_light_relvar``."""
    if kernel in ("linear", "relu", "poly", "rbf"):
        return _light_relvar(kernel, convention, n_pairs, d_k, d_v, kappa=kappa, p=p, s=s)
    if kernel != "exp":
        return math.nan, math.nan, math.nan
    n1 = n_pairs - 1
    lv = math.log1p(2 / d_v)  # E[chi2^2]/E[chi2]^2 for the noise's value part
    if convention in ("conditional", "typical"):
        k = float(d_k) if convention == "typical" else kappa
        sig2 = 4 * k / tau**2  # variance of log kappa(k_j, k_i)^2 = 2 k_j^T k_i / tau
        if sig2 > 700:  # beyond float64: the plain estimator is hopeless
            return math.inf, math.inf, math.inf
        term = math.expm1(sig2)
        rel = math.exp(lv) * (1 + term / n1) - 1
        skew = (math.exp(sig2) + 2) * math.sqrt(term) if sig2 < 700 else math.inf
        return rel, term, skew
    a = exp_a(tau)
    if convention == "probe_averaged":
        if d_v <= 4:
            return math.inf, math.nan, math.nan
        log_ex = math.log(n1) + math.log(d_v / (d_v - 2)) + _log_mgf_chi2(d_k, a)
        e2_1 = _log_mgf_chi2(d_k, 8 / tau**2 - 4 / tau) - math.log(n1)
        e2_2 = _log_mgf_chi2(d_k, 2 * a) + math.log((n_pairs - 2) / n1) if n_pairs > 2 else -math.inf
        lse = max(e2_1, e2_2)
        if math.isinf(lse):
            return math.inf, math.nan, math.nan
        log_e2 = (2 * math.log(n1) + math.log(d_v * (d_v + 2)) - math.log((d_v - 2) * (d_v - 4))
                  + lse + math.log(math.exp(e2_1 - lse) + math.exp(e2_2 - lse)))
        return math.expm1(min(log_e2 - 2 * log_ex, 700)), math.nan, math.nan
    if convention == "ratio_of_expectations":
        rx, ry, _ = ratio_parts("exp", n_pairs, d_k, d_v, tau=tau)
        return max(rx, ry), math.nan, math.nan
    raise InputError("convention", f"must be one of {', '.join(CONVENTIONS)}, got {convention!r}")


# ------------------------------------------------------------------------------------------------------------------
# The same for the light-tailed kernels (linear, relu, poly, rbf)
# ------------------------------------------------------------------------------------------------------------------
#
# One plain sample at a probe with ||k_i||^2 = kappa: r = sum_j v_j w_j, w_j = kappa(k_j, k_i), so given the w's,
# ||r||^2 = S chi^2_{d_v} with S = sum_j w_j^2, and E[S] = n1 m_2, E[S^2] = n1 m_4 + n1 (n1 - 1) m_2^2 with
# m_q(kappa) = E_k[w^q] (n1 = N - 1). Homogeneous kernels: w = kappa^{g/2} omega(Z), Z ~ N(0, 1), c = kappa^g, with
# A_k = E[omega^{2k}]: linear (g = 1) (2k-1)!!, relu (g = 1) (2k-1)!!/2, poly (g = p) (2kp-1)!!. RBF:
# m_q(kappa) = (s^2/(s^2+q))^{d_k/2} e^{-q kappa/(2(s^2+q))} (the noncentral chi-square's Laplace transform), c = 1.


def _log_a(kernel: str, k: int, p: int) -> tuple[float, int]:
    """(log A_k, degree g) of a homogeneous kernel (block comment above)."""
    if kernel == "poly":
        return _log_dfact_odd(k * p), p
    return _log_dfact_odd(k) - (math.log(2) if kernel == "relu" else 0.0), 1


def _rbf_log_mq(q: int, d_k: int, s: float) -> tuple[float, float]:
    """m_q(kappa) = exp(C - b kappa) for the RBF kernel: returns (C, b)."""
    return d_k / 2 * math.log(s**2 / (s**2 + q)), q / (2 * (s**2 + q))


def _light_relvar(kernel, convention, n_pairs, d_k, d_v, *, kappa=None, p=2, s=1.0):
    n1 = n_pairs - 1
    lv = math.log1p(2 / d_v)  # E[(chi^2_{d_v})^2] / E[chi^2_{d_v}]^2
    homogeneous = kernel != "rbf"
    if convention in ("conditional", "typical"):
        k = float(d_k) if convention == "typical" else kappa
        if homogeneous:
            l2, l4, l6 = (_log_a(kernel, i, p)[0] for i in (1, 2, 3))  # kappa's powers cancel in the ratios
        else:
            l2, l4, l6 = (c - b * k for c, b in (_rbf_log_mq(q, d_k, s) for q in (2, 4, 6)))
        term = math.exp(l4 - 2 * l2) - 1  # Var(w^2) / E[w^2]^2
        rel = math.exp(lv) * (1 + term / n1) - 1
        m2, m4, m6 = math.exp(l2 - l2), math.exp(l4 - 2 * l2), math.exp(l6 - 3 * l2)  # standardised by m_2
        skew = (m6 - 3 * m2 * m4 + 2 * m2**3) / term**1.5  # skewness of one term w^2
        return rel, term, skew
    if convention not in ("probe_averaged", "ratio_of_expectations"):
        raise InputError("convention", f"must be one of {', '.join(CONVENTIONS)}, got {convention!r}")
    if homogeneous:
        (la1, g), (la2, _) = _log_a(kernel, 1, p), _log_a(kernel, 2, p)
        la11 = 2 * la1

        def e_kappa(power):  # log E[kappa^power] (inf where it diverges)
            return math.inf if power <= -d_k / 2 else _log_chi2_moment(d_k, power)
    else:
        (c2, b2), (c4, b4) = _rbf_log_mq(2, d_k, s), _rbf_log_mq(4, d_k, s)
    if convention == "probe_averaged":  # sample ||r||^2 / (c^2 nu), fresh probe
        if d_v <= 4:
            return math.inf, math.nan, math.nan  # E[1/nu^2] diverges
        lnu1, lnu2 = -math.log(d_v - 2), -math.log((d_v - 2) * (d_v - 4))  # E[1/nu], E[1/nu^2]
        if homogeneous:
            lm2, lm4, lm22 = la1 + e_kappa(-g), la2 + e_kappa(-2 * g), la11 + e_kappa(-2 * g)
        else:  # c = 1; E_kappa[e^{-b kappa}] = (1 + 2b)^{-d_k/2}
            lm2 = c2 - d_k / 2 * math.log1p(2 * b2)
            lm4 = c4 - d_k / 2 * math.log1p(2 * b4)
            lm22 = 2 * c2 - d_k / 2 * math.log1p(4 * b2)
        if math.isinf(lm4) or math.isinf(lm2):
            return math.inf, math.nan, math.nan
        log_e1 = math.log(n1 * d_v) + lnu1 + lm2
        e2 = n1 * math.exp(lm4 - 2 * lm2) + n1 * (n1 - 1) * math.exp(lm22 - 2 * lm2)
        log_e2 = math.log(d_v * (d_v + 2)) + lnu2 + 2 * lm2 + math.log(e2)
        return (math.expm1(min(log_e2 - 2 * log_e1, 700)), math.nan,
                probe_averaged_skewness(kernel, n_pairs, d_k, d_v, p=p, s=s))
    # ratio of expectations: the larger relative variance of Y = ||r||^2 and X = c^2 nu
    rx, ry, _ = ratio_parts(kernel, n_pairs, d_k, d_v, p=p, s=s)
    return max(rx, ry), math.nan, math.nan


def probe_averaged_skewness(kernel: str, n_pairs: int, d_k: int, d_v: int, *, p=2, s=1.0) -> float:
    """Skewness of ONE probe-averaged plain sample X = ||r||^2 / (c^2 nu) (fresh probe), exact; nan where its third
    moment diverges. Given the probe's kappa = ||k_i||^2, ||r||^2 = S chi^2_{d_v} with S = sum_j w_j^2 over the
    n1 = N - 1 other pairs, so E[X^m] = E_kappa[E[S^m | kappa] / c^{2m}] E[(chi^2_{d_v})^m] E[nu^{-m}], with
    E[S | .] = n1 m_2, E[S^2 | .] = n1 m_4 + n1 (n1 - 1) m_2^2 and
    E[S^3 | .] = n1 m_6 + 3 n1 (n1 - 1) m_4 m_2 + n1 (n1 - 1) (n1 - 2) m_2^3 (m_q = E[w^q | kappa]). Homogeneous
    kernels: m_2k = kappa^{g k} A_k and c = kappa^g, so kappa enters as E[kappa^{-g m}]; RBF: c = 1 and each product
    of m_q's is exp(C - b kappa), averaged as (1 + 2 b)^{-d_k/2}. Linear, relu, poly and rbf."""
    n1 = n_pairs - 1
    if d_v <= 6:
        return math.nan  # E[nu^-3] diverges
    chi = [1.0, d_v, d_v * (d_v + 2), d_v * (d_v + 2) * (d_v + 4)]
    inv_nu = [1.0, 1 / (d_v - 2), 1 / ((d_v - 2) * (d_v - 4)), 1 / ((d_v - 2) * (d_v - 4) * (d_v - 6))]
    if kernel == "rbf":
        (c2, b2), (c4, b4), (c6, b6) = (_rbf_log_mq(q, d_k, s) for q in (2, 4, 6))

        def avg(c, b):  # E_kappa[exp(c - b kappa)], kappa ~ chi^2_{d_k}
            return math.exp(c - d_k / 2 * math.log1p(2 * b))

        s_m = [1.0, n1 * avg(c2, b2), n1 * avg(c4, b4) + n1 * (n1 - 1) * avg(2 * c2, 2 * b2),
               n1 * avg(c6, b6) + 3 * n1 * (n1 - 1) * avg(c4 + c2, b4 + b2)
               + n1 * (n1 - 1) * (n1 - 2) * avg(3 * c2, 3 * b2)]
    else:
        g = _log_a(kernel, 1, p)[1]
        if 3 * g >= d_k / 2:
            return math.nan  # E[kappa^(-3g)] diverges
        a1, a2, a3 = (math.exp(_log_a(kernel, k, p)[0]) for k in (1, 2, 3))
        ek = [1.0] + [math.exp(_log_chi2_moment(d_k, -g * m)) for m in (1, 2, 3)]
        s_m = [1.0, n1 * a1 * ek[1], (n1 * a2 + n1 * (n1 - 1) * a1**2) * ek[2],
               (n1 * a3 + 3 * n1 * (n1 - 1) * a2 * a1 + n1 * (n1 - 1) * (n1 - 2) * a1**3) * ek[3]]
    e1, e2, e3 = (s_m[m] * chi[m] * inv_nu[m] for m in (1, 2, 3))
    var = e2 - e1**2
    return (e3 - 3 * e2 * e1 + 2 * e1**3) / var**1.5


def ratio_parts(kernel: str, n_pairs: int, d_k: int, d_v: int, *, tau=1.0, p=2, s=1.0) -> tuple[float, float, float]:
    """For the ratio-of-expectations convention E[Y] / E[X] (one plain sample: Y = ||r||^2, X = c^2 nu with a fresh
    probe): (relative variance of X, relative variance of Y, log E[X]), exact from Gaussian and chi-square moments;
    inf where a variance diverges. E[X] = d_v E[c^2]: c = kappa^g (homogeneous kernels, E[kappa^(2g)] a chi-square
    moment), e^{kappa/tau} (exp: the chi-square MGF) or 1 (rbf)."""
    n1 = n_pairs - 1
    lv = math.log1p(2 / d_v)
    if kernel == "exp":
        log_ex = math.log(d_v) + _log_mgf_chi2(d_k, 2 / tau)
        if tau <= 4:
            return math.inf, math.inf, log_ex
        rx = math.exp(lv + _log_mgf_chi2(d_k, 4 / tau) - 2 * _log_mgf_chi2(d_k, 2 / tau)) - 1 if tau > 8 else math.inf
        e2 = (n1 * math.exp(_log_mgf_chi2(d_k, 8 / tau**2)) + n1 * (n_pairs - 2) * math.exp(_log_mgf_chi2(d_k, 4 / tau**2)))
        ry = math.exp(lv) * e2 / (n1 * math.exp(_log_mgf_chi2(d_k, 2 / tau**2))) ** 2 - 1
        return rx, ry, log_ex
    if kernel != "rbf":
        (la1, g), (la2, _) = _log_a(kernel, 1, p), _log_a(kernel, 2, p)

        def e_kappa(power):  # log E[kappa^power]
            return _log_chi2_moment(d_k, power)

        rx = math.exp(lv + e_kappa(4 * g) - 2 * e_kappa(2 * g)) - 1
        log_ex = math.log(d_v) + e_kappa(2 * g)
        lm2, lm4, lm22 = la1 + e_kappa(g), la2 + e_kappa(2 * g), 2 * la1 + e_kappa(2 * g)
    else:
        (c2, b2), (c4, b4) = _rbf_log_mq(2, d_k, s), _rbf_log_mq(4, d_k, s)
        rx = math.expm1(lv)  # c = 1: X = nu
        log_ex = math.log(d_v)
        lm2 = c2 - d_k / 2 * math.log1p(2 * b2)
        lm4 = c4 - d_k / 2 * math.log1p(2 * b4)
        lm22 = 2 * c2 - d_k / 2 * math.log1p(4 * b2)
    ry = math.exp(lv) * (math.exp(lm4 - 2 * lm2) / n1 + (n1 - 1) / n1 * math.exp(lm22 - 2 * lm2)) - 1
    return rx, ry, log_ex
