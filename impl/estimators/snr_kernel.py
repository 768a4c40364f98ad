"""Monte Carlo samplers of the retrieval SNR of kernel memories (paper §2.1.1; docs/CLAIMS.md C5-C9).

The memories are ``impl.memories.kernel.KernelMemory`` (exp, relu, poly, rbf, linear kernels) and
``PerformerMemory`` (the exp kernel replaced by m Performer features), estimated through the one driver
``impl.estimators.snr.estimate_snr``. This module holds the kernel memories' samplers:

    plain:      memories are written and read (N pairs, probe = a stored key); samples ||r||^2/(c^2 ||v_i||^2).
    analytic:   the expectation over the other pairs is the closed-form Gaussian moment (C6); only the probe is
                sampled (conditional and typical: nothing is sampled, the value is exact).
    importance: exp kernel only. Other keys are drawn from the exponentially tilted proposal N(2 k_i / tau, I)
                (the zero-variance proposal for E[kappa^2]); the noise energy is the sum over pairs of
                ||v_j||^2 kappa(k_j, k_i)^2 times the likelihood ratio (its cross terms have mean zero, C6); probes
                of the probe-averaged and ratio conventions are drawn with ||k_i||^2 from the tilted chi-square.
    auto:       plain where the exact relative variance of the plain estimator (and the skewness of its
                lognormal terms) says plain sampling resolves the value (``plain_reliability``); importance (exp)
                or analytic otherwise.

Each returns (stats.Estimate, note).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from impl.estimators import catoni
from impl.estimators import kernel_moments as km
from impl.estimators.sampling import batches
from impl.estimators.snr_performer import PERFORMER_KERNELS
from impl.estimators.stats import Estimate, mean_interval, ratio_interval
from impl.memories.kernels import log_kernel

KERNELS = km.ANALYTIC_KERNELS + PERFORMER_KERNELS
BUDGET = 2**23  # numbers per batch of trials


def _log_noise_over_signal(kernel, probe, logc, others_k, others_v, prm):
    """log ||r / c||^2 for probes probe [T, d_k] (log c [T]) against others [T, n, d]."""
    la, sg = log_kernel(kernel, others_k, probe[:, None, :], **_kprm(kernel, prm))  # [T, n, 1]
    la, sg = la[..., 0], sg[..., 0]
    shift = torch.maximum(la.amax(-1), logc)
    r = ((sg * torch.exp(la - shift[:, None]))[:, None, :] @ others_v)[:, 0, :]
    return torch.log((r * r).sum(-1)) + 2 * (shift - logc)


def _kprm(kernel, prm):
    return {k: prm[k] for k in {"exp": ("tau",), "poly": ("p",), "rbf": ("s",)}.get(kernel, ())}


def draw(shape, gen, device, dtype):
    return torch.randn(shape, generator=gen, dtype=torch.float64).to(device=device, dtype=dtype)


def _np(x):
    return x.detach().to("cpu", torch.float64).numpy()


def _logsumexp_ratio_samples(log_y, log_x):
    """Bring log-samples of a ratio's numerator and denominator to a common scale (no overflow)."""
    g = max(np.max(log_x), -np.inf)
    return np.exp(log_y - g), np.exp(log_x - g), g


def plain_reliability(kernel, convention, n_pairs, d_k, d_v, trials, kappa, prm):
    """(reliable, diagnostics) for plain sampling, from the exact relative variance of one sample
    (km.plain_relvar). reliable is True or False only when that relative variance was computed; None (*unknown*)
    when it is not known, which callers must not treat as reliable."""
    rel, term, skew = km.plain_relvar(kernel, convention, n_pairs, d_k, d_v, kappa=kappa, **prm)
    if math.isnan(rel):
        return None, {"plain_relvar": None, "plain_ess": None}
    ess = trials / (1 + rel) if math.isfinite(rel) else 0.0
    terms = trials if convention == "probe_averaged" else trials * (n_pairs - 1)  # skew of one sample / one term
    skew_mean = skew / math.sqrt(terms) if not math.isnan(skew) else math.nan
    reliable = math.isfinite(rel) and ess >= 100 and not (skew_mean > 0.5)
    diag = {"plain_relvar": rel, "plain_ess": ess, "plain_term_skew_of_mean": None if math.isnan(skew_mean) else skew_mean}
    return reliable, diag


def catoni_ratio_estimate(y, x, log_scale, ratio_parts, value, alpha) -> tuple[Estimate, dict]:
    """E[Y] / E[X] from paired samples scaled by e^{-log_scale}, with the exact relative variances (rx, ry) and
    log E[X] (``kernel_moments.ratio_parts``) and the exact ratio ``value`` (so E[Y] = value E[X]): Catoni's
    interval for each mean at alpha / 2 (a union bound), then [Y_lo / X_hi, Y_hi / X_lo] (X_lo <= 0: no upper
    end). Valid at every level for any distributions with those variances."""
    from impl.estimators.stats import critical_value

    rx, ry, log_ex = ratio_parts
    ex = math.exp(log_ex - log_scale)
    vx, vy = rx * ex**2, ry * (value * ex) ** 2

    def at(a):
        ty, ylo, yhi = catoni.interval(y, vy, a / 2)
        tx, xlo, xhi = catoni.interval(x, vx, a / 2)
        return ty / tx, max(ylo, 0.0) / xhi, (yhi / xlo if xlo > 0 else math.inf)

    r, lo, hi = at(alpha)
    per_level = {f"{a:g}": list(at(a)[1:]) for a in catoni.CALIBRATION_LEVELS}
    half = (hi - lo) / 2 if math.isfinite(hi) else math.inf
    return Estimate(r, lo, hi, 1 - alpha, len(y), half / critical_value(alpha), None), per_level


def plain(kernel, conv, pk, pv, n_pairs, d_k, d_v, trials, gen, dev, dt, prm, alpha, exact=None):
    """Plain sampling (module doc). With ``exact`` moments the interval is Catoni's, valid at every level for any
    distribution with those variances: {"variance": v} (the exact variance of one sample, for a convention that is
    a mean) or {"ratio_parts": (rx, ry, log E[X]), "value": the exact ratio} (ratio of expectations). Otherwise a
    Student-t (mean) or delta-method (ratio) interval. Returns (Estimate, note, intervals per calibration level
    or None)."""
    exact = exact or {}
    logs_y, logs_x = [], []
    for t in batches(trials, n_pairs * (d_k + d_v), BUDGET):
        if pk is not None:  # fixed probe, fresh others
            ok = draw((t, n_pairs - 1, d_k), gen, dev, dt)
            ov = draw((t, n_pairs - 1, d_v), gen, dev, dt)
            probe = pk.expand(t, d_k)
            nu = (pv * pv).sum().expand(t)
        else:  # fresh probe and others each trial (probe = pair 0)
            kk = draw((t, n_pairs, d_k), gen, dev, dt)
            vv = draw((t, n_pairs, d_v), gen, dev, dt)
            probe, ok, ov = kk[:, 0], kk[:, 1:], vv[:, 1:]
            nu = (vv[:, 0] ** 2).sum(-1)
        logc = log_kernel(kernel, probe[:, None, :], probe[:, None, :], **_kprm(kernel, prm))[0][:, 0, 0]
        lr = _log_noise_over_signal(kernel, probe, logc, ok, ov, prm)  # log ||r||^2 / c^2
        logs_y.append(_np(lr + 2 * logc))
        logs_x.append(_np(2 * logc + torch.log(nu)))
    ly, lx = np.concatenate(logs_y), np.concatenate(logs_x)
    per_level = None
    if conv == "ratio_of_expectations":
        y, x, g = _logsumexp_ratio_samples(ly, lx)
        note = "plain: E||r||^2 / E[c^2 ||v_i||^2] from memories with fresh probes"
        if exact.get("ratio_parts") is not None and catoni.applicable(len(y), alpha / 2):
            e, per_level = catoni_ratio_estimate(y, x, g, exact["ratio_parts"], exact["value"], alpha)
            note += " (Catoni intervals for both means at the exact variances, union bound)"
        else:
            e = ratio_interval(y, x, alpha)
            note += " (delta-method interval)"
    else:
        samples = np.exp(ly - lx)
        note = ("plain: memories with a fixed probe and fresh other pairs" if pk is not None
                else "plain: memories with a fresh probe and other pairs per trial")
        if exact.get("variance") is not None and catoni.applicable(samples.size, alpha):
            e, per_level = catoni.as_estimate(samples, exact["variance"], alpha)
            note += "; Catoni interval at the exact variance of one sample"
        else:
            e = mean_interval(samples, alpha)
    return e, note, per_level


def _probe_norms(t, d_k, d_v, gen):
    kappa = torch.randn((t, d_k), generator=gen, dtype=torch.float64).pow(2).sum(-1)
    nu = torch.randn((t, d_v), generator=gen, dtype=torch.float64).pow(2).sum(-1)
    return kappa.numpy(), nu.numpy()


def analytic(kernel, conv, kappa, nu, n_pairs, d_k, d_v, trials, gen, dev, dt, prm, alpha, theory):
    if conv in ("conditional", "typical"):
        return (Estimate(theory, theory, theory, 1 - alpha, 0, 0.0, None),
                "analytic: exact closed-form Gaussian moments over the other pairs at this probe; nothing sampled")
    kap, nus = _probe_norms(trials, d_k, d_v, gen)
    lm2 = np.array([km.log_m2(kernel, float(k), d_k, **prm) for k in kap])
    lsig = np.array([km.log_signal(kernel, float(k), **prm) for k in kap])
    if conv == "probe_averaged":
        x = np.exp(math.log(n_pairs - 1) + np.log(d_v / nus) + lm2 - 2 * lsig)
        e = mean_interval(x, alpha)
    else:
        y, x, _ = _logsumexp_ratio_samples(math.log(n_pairs - 1) + math.log(d_v) + lm2, 2 * lsig + np.log(nus))
        e = ratio_interval(y, x, alpha)
    return e, "analytic: exact Gaussian moments over the other pairs, probes sampled"


def _is_noise(probe, logc, n_others, d_k, d_v, gen, dev, dt, tau):
    """log of sum_j ||v_j||^2 kappa(k_j, k_i)^2 L(k_j) / c^2 with k_j ~ N(2 k_i / tau, I) (likelihood ratio L)."""
    t = probe.shape[0]
    mu = 2 * probe / tau
    z = draw((t, n_others, d_k), gen, dev, dt)
    ok = z + mu[:, None, :]
    vn = draw((t, n_others, d_v), gen, dev, dt).pow(2).sum(-1)
    la = log_kernel("exp", ok, probe[:, None, :], tau=tau)[0][..., 0]
    log_lr = -(ok * mu[:, None, :]).sum(-1) + (mu * mu).sum(-1, keepdim=True) / 2
    return torch.logsumexp(torch.log(vn) + 2 * la + log_lr, dim=-1) - 2 * logc


def importance_relvar(n_pairs: int, d_v: int) -> float:
    """Exact relative variance of one importance sample at a fixed probe (conditional, typical): 2 / ((N - 1) d_v).

    With k_j ~ N(2 k_i/tau, I), kappa(k_j, k_i)^2 L(k_j) = e^{2 ||k_i||^2 / tau^2} for every k_j (the proposal is
    zero-variance for E[kappa^2]), so one sample is e^{2 kappa/tau^2} sum_j ||v_j||^2 / (c^2 ||v_i||^2): a constant
    times a chi-square with (N - 1) d_v degrees of freedom, whose relative variance is 2 / ((N - 1) d_v)."""
    return 2 / ((n_pairs - 1) * d_v)


def importance_probe_averaged_relvar(n_pairs: int, d_v: int) -> float:
    """Exact relative variance of one probe-averaged importance sample: (1 + 2/m)(d_v - 2)/(d_v - 4) - 1,
    m = (N - 1) d_v, finite for d_v > 4 (infinite at and below).

    The probe is drawn from N(0, I/(1 - 2a)), a = 2 (1/tau^2 - 1/tau) (``kernel_moments.exp_a``), with likelihood ratio
    (1 - 2a)^{-d_k/2} e^{-a kappa}; the other keys from the zero-variance proposal, which makes the noise energy
    e^{2 kappa/tau^2} C / c^2 = e^{a kappa} C with C = sum_j ||v_j||^2 ~ chi^2_m. So one sample is the constant
    (1 - 2a)^{-d_k/2} times C / nu, C and nu = ||v_i||^2 ~ chi^2_{d_v} independent: E[C^2] / (E C)^2 = 1 + 2/m and
    E[nu^{-2}] / E[nu^{-1}]^2 = (d_v - 2)/(d_v - 4)."""
    if d_v <= 4:
        return math.inf
    m = (n_pairs - 1) * d_v
    return (1 + 2 / m) * (d_v - 2) / (d_v - 4) - 1


def importance(conv, pk, pv, n_pairs, d_k, d_v, trials, gen, dev, dt, prm, alpha, exact=None):
    """Importance sampling (module doc). Returns (Estimate, note, intervals per calibration level or None). At a
    fixed probe or averaged over probes (d_v > 4), with the ``exact`` value, the interval is Catoni's at the exact
    variance of one sample (``importance_relvar`` or ``importance_probe_averaged_relvar``, times exact^2), valid at
    every level; otherwise Student-t (mean) or delta-method (ratio of expectations)."""
    tau = prm["tau"]
    ys, xs = [], []
    for t in batches(trials, n_pairs * (d_k + d_v), BUDGET):
        if pk is not None:
            probe = pk.expand(t, d_k)
            logc = (probe * probe).sum(-1) / tau
            ln = _is_noise(probe, logc, n_pairs - 1, d_k, d_v, gen, dev, dt, tau)
            ys.append(_np(ln - torch.log((pv * pv).sum())))
            continue
        nu = draw((t, d_v), gen, dev, dt).pow(2).sum(-1)
        if conv == "probe_averaged":
            tilt = km.exp_a(tau)  # probe norm tilted by e^{a kappa}
            g = draw((t, d_k), gen, dev, dt) / math.sqrt(1 - 2 * tilt)
            kap = (g * g).sum(-1)
            log_l = -d_k / 2 * math.log(1 - 2 * tilt) - tilt * kap
            ln = _is_noise(g, kap / tau, n_pairs - 1, d_k, d_v, gen, dev, dt, tau)
            ys.append(_np(log_l + ln - torch.log(nu)))
        else:  # ratio: numerator probes tilted by e^{2 kappa / tau^2}, denominator by e^{2 kappa / tau}
            b1, b2 = 2 / tau**2, 2 / tau
            g1 = draw((t, d_k), gen, dev, dt) / math.sqrt(1 - 2 * b1)
            k1 = (g1 * g1).sum(-1)
            ln = _is_noise(g1, k1 / tau, n_pairs - 1, d_k, d_v, gen, dev, dt, tau)
            ys.append(_np(-d_k / 2 * math.log(1 - 2 * b1) - b1 * k1 + ln + 2 * k1 / tau))
            g2 = draw((t, d_k), gen, dev, dt) / math.sqrt(1 - 2 * b2)
            k2 = (g2 * g2).sum(-1)
            xs.append(_np(-d_k / 2 * math.log(1 - 2 * b2) - b2 * k2 + 2 * k2 / tau + torch.log(nu)))
    ly = np.concatenate(ys)
    note = ("importance: other keys from the tilted proposal N(2 k_i/tau, I) (zero-variance for E[kappa^2]); "
            "noise energy = sum_j ||v_j||^2 kappa_j^2 x likelihood ratio (cross terms have mean 0)")
    if conv == "ratio_of_expectations":
        y, x, _ = _logsumexp_ratio_samples(ly, np.concatenate(xs))
        return ratio_interval(y, x, alpha), note + "; probe norms from tilted chi-squares", None
    if conv == "probe_averaged":
        note += "; probe norms from the chi-square tilted by e^{a ||k_i||^2}"
    samples = np.exp(ly)
    relvar = math.nan if n_pairs < 2 else (importance_relvar(n_pairs, d_v) if pk is not None
                                           else importance_probe_averaged_relvar(n_pairs, d_v))
    if exact is not None and math.isfinite(exact) and math.isfinite(relvar) and catoni.applicable(samples.size, alpha):
        e, per_level = catoni.as_estimate(samples, relvar * exact**2, alpha)
        return e, note + "; Catoni interval at the exact variance of one sample", per_level
    return mean_interval(samples, alpha), note, None
