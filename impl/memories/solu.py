"""The constructed SoLU FFN memory (paper §2.1.2 and Appendix A, "SoLU"; docs/CLAIMS.md C11), and its retrieval SNR.

SoLU (Elhage et al. 2022) is x * softmax(x) over the hidden units. Written as a memory (C11), with one hidden unit
per stored pair, W_up = beta K and W_down = V^T:

    FFN(x) = W_down SoLU(W_up x) = sum_j v_j z_j e^{z_j} / Z,   z_j = beta k_j^T x,   Z = sum_l e^{z_l}.

Probing with a stored key x = k_i (kappa = ||k_i||^2, nu = ||v_i||^2): o = c v_i + r with c = z_i e^{z_i}/Z,
z_i = beta kappa, r = sum_{j != i} v_j z_j e^{z_j}/Z. The normaliser Z (the probe's own slot included) divides signal
and noise alike, so the per-sample ratio ||r||^2/(c^2 nu) equals that of the unnormalised slot kernel s(z) = z e^z
exactly, and C6 gives (theory.ffn.solu_snr_inv)

    SNR^{-1} = (N-1)(d_v/nu) E[Z^2 e^{2Z}] / (beta kappa e^{beta kappa})^2,   E[Z^2 e^{2Z}] = s2 (1 + 4 s2) e^{2 s2},
    s2 = beta^2 kappa.

Z is correlated with the noise (it holds the noise slots' e^{z_j}); energies averaged separately,
E||r||^2 / (E[c^2] nu) with the normalised r and c ("normalised energies"), therefore differ from the kernel value:
``SoLUMemory(energies="normalised")`` measures that departure.

    SoLUMemory(beta=None, energies="per_sample"): the SNR interface (impl.memories.memory), estimated by
    impl.estimators.snr.estimate_snr in CONVENTIONS = ("conditional", "typical", "probe_averaged",
    "ratio_of_expectations"), in that order.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from impl.estimators import catoni
from impl.estimators.sampling import batches
from impl.estimators.stats import mean_interval, ratio_interval
from impl.memories.memory import CONVENTIONS as ALL_CONVENTIONS
from impl.memories.memory import Estimates, Memory, SNRResult, typical_probe
from impl.numerics.device import generator, resolve_device, resolve_dtype
from impl.numerics.errors import InputError

FIXED_PROBE = ("conditional", "typical")
CONVENTIONS = FIXED_PROBE + tuple(c for c in ALL_CONVENTIONS if c not in FIXED_PROBE)  # estimated in this order
ENERGIES = ("per_sample", "normalised")


def solu(x, dim: int = -1):
    """SoLU(x) = x * softmax(x) over ``dim`` (the hidden units)."""
    return x * torch.softmax(x, dim=dim)


def solu_read(beta: float, probe, K_others, V_others):
    """Read the SoLU memory at its stored key ``probe`` [T, d_k] whose other pairs are K_others [T, n, d_k],
    V_others [T, n, d_v]: hidden units (own slot first) = SoLU(beta [k_i; K] k_i). Returns (c [T], r [T, d_v],
    log Z [T]) with o = c v_i + r (c the own slot's hidden activation, r the other slots' contribution)."""
    pre = beta * torch.cat([(probe * probe).sum(-1, keepdim=True), (K_others @ probe[..., None])[..., 0]], dim=-1)
    hidden = solu(pre)
    return hidden[..., 0], (hidden[..., 1:, None] * V_others).sum(-2), torch.logsumexp(pre, dim=-1)


def second_moment(var: float) -> float:
    """E[Z^2 e^{2Z}] for Z ~ N(0, var): var (1 + 4 var) e^{2 var} (theory.ffn.solu_second_moment)."""
    return var * (1 + 4 * var) * math.exp(2 * var)


def fourth_moment(var: float) -> float:
    """E[Z^4 e^{4Z}] for Z ~ N(0, var): e^{8 var} E Y^4 with Y ~ N(4 var, var) (the exponential tilt)
    = var^2 (3 + 96 var + 256 var^2) e^{8 var}."""
    return var * var * (3 + 96 * var + 256 * var * var) * math.exp(8 * var)


def _tilted_chi2(d: int, power: int, rate: float) -> float:
    """E[kappa^power e^{rate kappa}] for kappa ~ chi^2_d (an integer power): 2^power Gamma(d/2 + power)/Gamma(d/2)
    (1 - 2 rate)^{-(d/2 + power)}, the chi-square density's Gamma integral; needs d/2 + power > 0 and rate < 1/2."""
    log_scale = power * math.log(2) + math.lgamma(d / 2 + power) - math.lgamma(d / 2)
    return math.exp(log_scale - (d / 2 + power) * math.log1p(-2 * rate))


def sample_relvar(convention: str, n_pairs: int, d_k: int, d_v: int, beta: float, kappa: float | None = None) -> float | None:
    """Var X / (E X)^2 of one per-sample ratio X = ||r||^2 / (c^2 nu) (None where it is infinite or not defined).

    The normaliser cancels sample by sample, so X is the slot kernel's s(z) = z e^z ratio: given the probe, r =
    sum_j w_j v_j ~ N(0, (sum_j w_j^2) I_{d_v}) with w_j = s(Z_j), Z_j ~ N(0, s2) i.i.d., s2 = beta^2 kappa, so
    X = (sum_j w_j^2) chi^2_{d_v} / (c^2 nu) with m2 = E s(Z)^2 = ``second_moment``, m4 = E s(Z)^4 = ``fourth_moment``:

    * conditional / typical (probe fixed, n = N - 1): E X^2 / (E X)^2 = (m4 / (n m2^2) + (n - 1)/n)(1 + 2/d_v).
    * probe_averaged (kappa ~ chi^2_{d_k}, nu ~ chi^2_{d_v} drawn too, c = beta kappa e^{beta kappa}):
      E X = n d_v/(d_v - 2) E[m2/c^2] and E X^2 = (n E[m4/c^4] + n (n - 1) E[m2^2/c^4]) d_v (d_v + 2) /
      ((d_v - 2)(d_v - 4)), where m4/c^4 = e^{(8 beta^2 - 4 beta) kappa} (3/kappa^2 + 96 beta^2/kappa + 256 beta^4)
      and m2^2/c^4 = e^{(4 beta^2 - 4 beta) kappa} (1/kappa^2 + 8 beta^2/kappa + 16 beta^4): tilted chi-square
      integrals, finite iff d_k > 4, d_v > 4 and 8 beta^2 - 4 beta < 1/2.
    """
    n = n_pairs - 1
    if n < 1:
        return None
    if convention in FIXED_PROBE:
        s2 = beta * beta * kappa
        m2, m4 = second_moment(s2), fourth_moment(s2)
        return (m4 / (n * m2 * m2) + (n - 1) / n) * (1 + 2 / d_v) - 1
    if convention != "probe_averaged" or d_k <= 4 or d_v <= 4 or 8 * beta**2 - 4 * beta >= 0.5:
        return None
    b = beta * beta
    l1, l2, l0 = 8 * b - 4 * beta, 4 * b - 4 * beta, 2 * b - 2 * beta
    e_m4 = 3 * _tilted_chi2(d_k, -2, l1) + 96 * b * _tilted_chi2(d_k, -1, l1) + 256 * b * b * _tilted_chi2(d_k, 0, l1)
    e_m22 = _tilted_chi2(d_k, -2, l2) + 8 * b * _tilted_chi2(d_k, -1, l2) + 16 * b * b * _tilted_chi2(d_k, 0, l2)
    e_m2 = _tilted_chi2(d_k, -1, l0) + 4 * b * _tilted_chi2(d_k, 0, l0)
    first = n * d_v / (d_v - 2) * e_m2
    second = (n * e_m4 + n * (n - 1) * e_m22) * d_v * (d_v + 2) / ((d_v - 2) * (d_v - 4))
    return second / (first * first) - 1


def ratio_variances(n_pairs: int, d_k: int, d_v: int, beta: float) -> tuple[float, float, float] | None:
    """(E Y, Var Y, Var X) of one ratio-of-expectations sample pair over a fresh probe (None for beta >= 1/8, where
    Var X is infinite): the unnormalised noise energy Y = ||r_u||^2 = (sum_j s(Z_j)^2) chi^2_{d_v} and signal energy
    X = c_u^2 nu, c_u = beta kappa e^{beta kappa}, with kappa ~ chi^2_{d_k}, nu ~ chi^2_{d_v} and s2 = beta^2 kappa:

        E Y = n d_v E[m2],  E Y^2 = d_v (d_v + 2) E[n m4 + n (n - 1) m2^2],
        E X = d_v beta^2 E[kappa^2 e^{2 beta kappa}],  E X^2 = d_v (d_v + 2) beta^4 E[kappa^4 e^{4 beta kappa}],

    with m2 = beta^2 kappa (1 + 4 s2) e^{2 s2}, m2^2 = beta^4 (kappa^2 + 8 beta^2 kappa^3 + 16 beta^4 kappa^4)
    e^{4 s2} and m4 = beta^4 (3 kappa^2 + 96 beta^2 kappa^3 + 256 beta^4 kappa^4) e^{8 s2}: tilted chi-square
    integrals (``_tilted_chi2``), finite iff 4 beta < 1/2."""
    if n_pairs < 2 or beta >= 0.125:
        return None
    n, b = n_pairs - 1, beta * beta

    def e(power, rate):
        return _tilted_chi2(d_k, power, rate)

    e_m2 = b * e(1, 2 * b) + 4 * b * b * e(2, 2 * b)
    e_m22 = b * b * (e(2, 4 * b) + 8 * b * e(3, 4 * b) + 16 * b * b * e(4, 4 * b))
    e_m4 = b * b * (3 * e(2, 8 * b) + 96 * b * e(3, 8 * b) + 256 * b * b * e(4, 8 * b))
    ey = n * d_v * e_m2
    ey2 = d_v * (d_v + 2) * (n * e_m4 + n * (n - 1) * e_m22)
    ex = d_v * b * e(2, 2 * beta)
    ex2 = d_v * (d_v + 2) * b * b * e(4, 4 * beta)
    return ey, ey2 - ey * ey, ex2 - ex * ex


def catoni_ratio(y, x, var_y: float, var_x: float, alpha: float):
    """E[Y] / E[X] from paired samples with the exact variances of one Y and one X: Catoni's interval for each mean
    at alpha / 2 (a union bound), then [max(Y_lo, 0) / X_hi, Y_hi / X_lo] (no upper end when X_lo <= 0); valid at
    every level for any distributions with those variances. Returns (Estimate, {level: [lo, hi]})."""
    from impl.estimators.stats import Estimate, critical_value

    def at(a):
        ty, ylo, yhi = catoni.interval(y, var_y, a / 2)
        tx, xlo, xhi = catoni.interval(x, var_x, a / 2)
        return ty / tx, max(ylo, 0.0) / xhi, (yhi / xlo if xlo > 0 else math.inf)

    r, lo, hi = at(alpha)
    per_level = {f"{a:g}": list(at(a)[1:]) for a in catoni.CALIBRATION_LEVELS}
    half = (hi - lo) / 2 if math.isfinite(hi) else math.inf
    return Estimate(r, lo, hi, 1 - alpha, len(y), half / critical_value(alpha), None), per_level


RATIO_ZERO = ("beta < 1/4 for a positive value: at 1/4 <= beta < 1/2 E[c_u^2] = beta^2 E[kappa^2 e^{2 beta kappa}] is "
              "infinite while E||r_u||^2 is finite, so SNR^{-1} = 0 (a degenerate limit)")
RATIO_UNDEFINED = ("beta < 1/2 (from beta = 1/2 on E||r_u||^2, which holds E[e^{2 beta^2 kappa}], is infinite as well as "
                   "E[c_u^2]: the ratio is undefined)")


def finiteness(convention: str, d_k: int, d_v: int, beta: float) -> str:
    """Empty when the convention's SNR^{-1} is finite and positive, else the condition it needs. Ratio of expectations:
    finite and positive for beta < 1/4, zero (degenerate) for 1/4 <= beta < 1/2, undefined (inf/inf) from 1/2."""
    if convention == "probe_averaged" and (d_k <= 2 or d_v <= 2 or 1 - 4 * beta**2 + 4 * beta <= 0):
        return "d_k > 2, d_v > 2 and 1 - 2b > 0 with b = 2 beta^2 - 2 beta"
    if convention == "ratio_of_expectations" and beta >= 0.5:
        return RATIO_UNDEFINED
    if convention == "ratio_of_expectations" and beta >= 0.25:
        return RATIO_ZERO
    return ""


def theory(convention: str, n_pairs: int, d_k: int, d_v: int, beta: float, kappa: float | None = None,
           nu: float | None = None) -> float:
    """The exact SNR^{-1} of ``theory.ffn.solu_snr_inv`` as a float (numeric mirror; tests hold it to the SymPy form).
    Ratio of expectations at 1/4 <= beta < 1/2: 0.0 (the finite noise energy over an infinite signal energy)."""
    b = 2 * beta**2 - 2 * beta
    if convention in ("conditional", "typical"):
        if convention == "typical":
            kappa, nu = float(d_k), float(d_v)
        return (n_pairs - 1) * (d_v / nu) * (1 + 4 * beta**2 * kappa) / kappa * math.exp(b * kappa)
    bad = finiteness(convention, d_k, d_v, beta)
    if bad == RATIO_ZERO:
        return 0.0
    if bad == RATIO_UNDEFINED:
        raise InputError("beta", f"the {convention} SoLU SNR^-1 is undefined (infinite over infinite): needs {bad}")
    if bad:  # name the parameter that breaks the condition (the condition's text names beta in every case)
        flag = "d_k" if d_k <= 2 else "d_v" if d_v <= 2 else "beta"
        raise InputError(flag, f"the {convention} SoLU SNR^-1 is infinite: needs {bad}")
    if convention == "probe_averaged":
        w = 1 - 2 * b
        return (n_pairs - 1) * d_v / (d_v - 2) * (w ** (1 - d_k / 2) / (d_k - 2) + 4 * beta**2 * w ** (-d_k / 2))
    if convention == "ratio_of_expectations":
        t = 1 - 4 * beta**2
        return (n_pairs - 1) * (t ** (-d_k / 2 - 1) + 4 * beta**2 * (d_k + 2) * t ** (-d_k / 2 - 2)) / (
            (d_k + 2) * (1 - 4 * beta) ** (-d_k / 2 - 2))
    raise InputError("convention", f"must be one of {', '.join(CONVENTIONS)}, got {convention!r}")


class SoLUMemory(Memory):
    """The constructed SoLU FFN memory read through the normalised layer itself (module doc), every convention.

    conditional / typical: one probe (typical: rescaled to ||k||^2 = d_k, ||v||^2 = d_v), fresh other pairs per trial;
        samples ||r||^2/(c^2 nu) (Catoni's interval at the exact variance of one sample, ``sample_relvar``); with ``energies="normalised"`` the ratio E||r||^2 / (E[c^2] nu) of the
        separately averaged normalised energies instead (delta-method interval).
    probe_averaged: fresh probe and pairs per trial, samples ||r||^2/(c^2 nu) (Catoni's interval where one sample's
        variance is finite, d_k > 4 and d_v > 4; else the t interval).
    ratio_of_expectations: fresh probe per trial, E||r_u||^2 / E[c_u^2 nu] of the unnormalised energies r_u = Z r,
        c_u = Z c (delta-method interval).
    Plain sampling throughout: at beta = 1/sqrt(d_k) and d_k >= 16 the slot kernel z e^z is heavy-tailed (the relative
    variance of one term, E[Z^4 e^{4Z}]/E[Z^2 e^{2Z}]^2, is about 780 at s2 = 1) and the interval under-covers; the
    claims use beta = s/sqrt(d_k) with s <= 1/2. beta defaults to 1/sqrt(d_k).
    """

    name = "solu"
    kind = "ffn"
    conventions = listed = CONVENTIONS

    def __init__(self, *, beta=None, energies: str = "per_sample"):
        if beta is not None and (isinstance(beta, bool) or not isinstance(beta, (int, float)) or not math.isfinite(beta)
                                 or beta <= 0):
            raise InputError("beta", f"the key scale must be a finite number > 0, got {beta!r}")
        if energies not in ENERGIES:
            raise InputError("energies", f"must be one of {', '.join(ENERGIES)}, got {energies!r}")
        self.beta, self.energies = beta, energies

    def label(self):
        return "SoLU FFN"

    def _beta(self, d_k):
        return 1 / math.sqrt(d_k) if self.beta is None else float(self.beta)

    def check(self, n_pairs, d_k, d_v, trials, conventions, sampler):
        if self.energies == "normalised" and any(c not in FIXED_PROBE for c in conventions):
            raise InputError("energies", "normalised energies are measured at a fixed probe (conditional or typical) only")

    def divergence(self, convention, d_k, d_v):
        return finiteness(convention, d_k, d_v, self._beta(d_k))

    def infinite(self, convention, reason):
        if reason == RATIO_ZERO:  # a known limit, not a divergence: nothing to sample (the signal's mean is infinite)
            return SNRResult(exact=0.0, method="none", note=f"degenerate, SNR^-1 = 0 (not estimated): {reason}")
        if reason == RATIO_UNDEFINED:
            return SNRResult(method="none", note=f"undefined (not estimated): needs {reason}")
        return SNRResult(method="none", note=f"infinite (not estimated): needs {reason}")

    def refuse(self, convention, n_pairs, d_k, d_v, reason):
        theory(convention, n_pairs, d_k, d_v, self._beta(d_k))  # raises, naming the condition

    def exact(self, convention, n_pairs, d_k, d_v, kappa=None, nu=None):
        if convention in FIXED_PROBE and kappa is not None:
            convention = "conditional"  # at the probe as used
        return theory(convention, n_pairs, d_k, d_v, self._beta(d_k), kappa, nu)

    def sample(self, n_pairs, d_k, d_v, trials, seed, conventions, *, sampler, alpha, device, dtype, native):
        beta, energies = self._beta(d_k), self.energies
        dev, dt = resolve_device(device), resolve_dtype(dtype)
        gen = generator(seed)
        pk = torch.randn(d_k, generator=gen, dtype=torch.float64)
        pv = torch.randn(d_v, generator=gen, dtype=torch.float64)
        out = Estimates()
        for conv in conventions:
            fixed = conv in FIXED_PROBE
            k0, v0 = pk, pv
            if conv == "typical":
                k0, v0 = typical_probe(pk, pv)
            ys, xs = [], []
            for t in batches(trials, n_pairs * (d_k + d_v)):
                if fixed:
                    probe, pvs = k0.expand(t, d_k), v0.expand(t, d_v)
                else:
                    probe = torch.randn((t, d_k), generator=gen, dtype=torch.float64)
                    pvs = torch.randn((t, d_v), generator=gen, dtype=torch.float64)
                K = torch.randn((t, n_pairs - 1, d_k), generator=gen, dtype=torch.float64)
                V = torch.randn((t, n_pairs - 1, d_v), generator=gen, dtype=torch.float64)
                c, r, logz = solu_read(beta, probe.to(dev, dt), K.to(dev, dt), V.to(dev, dt))
                c, r, logz = c.double().cpu(), r.double().cpu(), logz.double().cpu()
                nu = (pvs * pvs).sum(-1)
                rr = (r * r).sum(-1)
                if conv == "ratio_of_expectations":  # unnormalised energies, on a common scale (no overflow)
                    ys.append(torch.log(rr) + 2 * logz)
                    xs.append(torch.log(c * c * nu) + 2 * logz)
                elif energies == "normalised":
                    ys.append(rr)
                    xs.append(c * c * nu)
                else:
                    ys.append(rr / (c * c * nu))
            y = torch.cat(ys).numpy()
            details = {"beta": beta}
            if conv == "ratio_of_expectations":
                x = torch.cat(xs).numpy()
                g = float(np.max(x))
                note = "plain: E||r_u||^2 / E[c_u^2 nu] over fresh probes, unnormalised energies"
                var = ratio_variances(n_pairs, d_k, d_v, beta)
                if var is not None and catoni.applicable(y.size, alpha / 2):  # both energies scaled by e^{-g}
                    e, per_level = catoni_ratio(np.exp(y - g), np.exp(x - g), var[1] * math.exp(-2 * g),
                                                var[2] * math.exp(-2 * g), alpha)
                    note += " (Catoni intervals for both means at their exact variances, union bound)"
                    details.update(interval="catoni", intervals=per_level)
                else:
                    e = ratio_interval(np.exp(y - g), np.exp(x - g), alpha)
                    note += " (delta-method interval)"
            elif energies == "normalised":
                e = ratio_interval(y, torch.cat(xs).numpy(), alpha)
                note = ("normalised energies E||r||^2 / (E[c^2] nu) of the SoLU layer's output, fixed probe "
                        "(delta-method interval)")
            else:
                e = None
                note = ("plain: the SoLU layer read at a fixed probe, fresh other pairs" if fixed
                        else "plain: fresh probe and other pairs per trial")
            kappa = nu0 = None
            if fixed:
                kappa, nu0 = float(k0 @ k0), float(v0 @ v0)
                details.update(probe_kappa=kappa, probe_nu=nu0)
            exact = self.exact(conv, n_pairs, d_k, d_v, kappa, nu0)
            if e is None:  # per-sample ratios: Catoni's interval where one sample's variance is known and finite
                relvar = sample_relvar(conv, n_pairs, d_k, d_v, beta, kappa) if exact else None
                if relvar is not None and catoni.applicable(y.size, alpha):
                    e, per_level = catoni.as_estimate(y, relvar * exact**2, alpha)
                    note += "; Catoni interval at the exact variance of one sample"
                    details.update(interval="catoni", intervals=per_level)
                else:
                    e = mean_interval(y, alpha)
            out[conv] = SNRResult.measured(e, exact, "plain", note + f" (beta = {beta:.4g})", **details)
        return out
