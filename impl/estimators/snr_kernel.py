"""Retrieval SNR of kernel associative memories by Monte Carlo (paper §2.1.1; docs/CLAIMS.md C5-C9).

CLI entry points (the lead's ``assocmem snr --memory kernel ...`` calls these):

    KERNELS = ("linear", "exp", "relu", "poly", "rbf", "performer_positive", "performer_trig")

    estimate_kernel_snr(kernel, n_pairs, d_k, d_v, trials, seed, *, tau=None, p=None, s=None, m=None,
                        device="cpu", dtype="float64", alpha=1e-6, mode="auto") -> dict
        mode: "auto" | "plain" | "analytic" | "importance"
        returns {convention: {"estimate", "lo", "hi", "level", "n", "se", "dof", "theory", "mode_used", "note", ...}}
        for convention in ("conditional", "probe_averaged", "ratio_of_expectations", "typical"); a convention whose
        moment diverges gets {"theory": None, "infinite": True, "mode_used": "none", "note": <condition>} and no
        estimate (asking for that convention alone raises InputError naming the condition).
        tau: exp temperature (default 1); p: polynomial degree (default 2); s: RBF bandwidth (default 1);
        m: number of random features, for kernel "performer_positive" / "performer_trig" only (the exp kernel with
           temperature tau > 2 replaced by m Performer features; conventions conditional and typical, SNR^{-1} defined
           as E||r||^2 / (E[c_hat^2] ||v_i||^2); see impl.estimators.snr_performer.estimate_performer_snr).

    (FFN memories: impl.memories.ffn.estimate_ffn_snr and impl.memories.ffn.ACTIVATIONS.)

The memories themselves (write, read, signal/noise split) are in ``impl.memories.kernel``.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from impl.estimators import kernel_moments as km
from impl.estimators.stats import mean_interval, ratio_interval
from impl.memories.ffn import ACTIVATIONS, estimate_ffn_snr  # noqa: F401  (re-exported for the CLI)
from impl.memories.kernels import check_kernel_params, log_kernel
from impl.numerics.device import generator, resolve_device, resolve_dtype
from impl.numerics.errors import InputError, require_positive_int

PERFORMER_KERNELS = ("performer_positive", "performer_trig")
KERNELS = km.ANALYTIC_KERNELS + PERFORMER_KERNELS
CONVENTIONS = km.CONVENTIONS
MODES = ("auto", "plain", "analytic", "importance")


def _check_common(kernel, n_pairs, d_k, d_v, trials, seed, tau, p, s, m, alpha, mode):
    if kernel not in km.ANALYTIC_KERNELS:
        raise InputError("kernel", f"must be one of {', '.join(KERNELS)}, got {kernel!r}")
    prm = check_kernel_params(kernel, tau=tau, p=p, s=s)
    n_pairs = require_positive_int("n_pairs", n_pairs, 2)
    d_k = require_positive_int("d_k", d_k)
    d_v = require_positive_int("d_v", d_v)
    trials = require_positive_int("trials", trials, 2)
    if m is not None:
        raise InputError("m", "random features apply to the Performer kernels only (impl.estimators.snr_performer.estimate_performer_snr)")
    if mode not in MODES:
        raise InputError("mode", f"must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "importance" and kernel != "exp":
        raise InputError("mode", f"importance sampling is implemented for the heavy-tailed exp kernel only, not {kernel!r}")
    if not (isinstance(alpha, float) and 0 < alpha < 0.5):
        raise InputError("alpha", f"must be a float in (0, 0.5), got {alpha!r}")
    full = {"tau": 1.0, "p": 2, "s": 1.0}
    full.update(prm)
    return full, n_pairs, d_k, d_v, trials


def _chunks(trials: int, per_trial: int, budget: int = 2**23):
    step = max(1, budget // max(per_trial, 1))
    for start in range(0, trials, step):
        yield min(step, trials - start)


def _log_noise_over_signal(kernel, probe, logc, others_k, others_v, prm):
    """log ||r / c||^2 for probes probe [T, d_k] (log c [T]) against others [T, n, d]."""
    la, sg = log_kernel(kernel, others_k, probe[:, None, :], **_kprm(kernel, prm))  # [T, n, 1]
    la, sg = la[..., 0], sg[..., 0]
    shift = torch.maximum(la.amax(-1), logc)
    r = ((sg * torch.exp(la - shift[:, None]))[:, None, :] @ others_v)[:, 0, :]
    return torch.log((r * r).sum(-1)) + 2 * (shift - logc)


def _kprm(kernel, prm):
    return {k: prm[k] for k in {"exp": ("tau",), "poly": ("p",), "rbf": ("s",)}.get(kernel, ())}


def _draw(shape, gen, device, dtype):
    return torch.randn(shape, generator=gen, dtype=torch.float64).to(device=device, dtype=dtype)


def _np(x):
    return x.detach().to("cpu", torch.float64).numpy()


def _logsumexp_ratio_samples(log_y, log_x):
    """Bring log-samples of a ratio's numerator and denominator to a common scale (no overflow)."""
    g = max(np.max(log_x), -np.inf)
    return np.exp(log_y - g), np.exp(log_x - g), g


def _plain_reliability(kernel, convention, n_pairs, d_k, d_v, trials, kappa, prm):
    """(reliable, diagnostics) for plain sampling, from the exact relative variance of one sample (exp kernel)."""
    rel, term, skew = km.plain_relvar(kernel, convention, n_pairs, d_k, d_v, kappa=kappa, **prm)
    if math.isnan(rel):
        return True, {"plain_relvar": None, "plain_ess": None}
    ess = trials / (1 + rel) if math.isfinite(rel) else 0.0
    skew_mean = skew / math.sqrt(trials * (n_pairs - 1)) if not math.isnan(skew) else math.nan
    reliable = math.isfinite(rel) and ess >= 100 and not (skew_mean > 0.5)
    diag = {"plain_relvar": rel, "plain_ess": ess, "plain_term_skew_of_mean": None if math.isnan(skew_mean) else skew_mean}
    return reliable, diag


def estimate_kernel_snr(kernel: str, n_pairs: int, d_k: int, d_v: int, trials: int, seed: int, *, tau=None, p=None,
                        s=None, m=None, device="cpu", dtype="float64", alpha: float = 1e-6, mode: str = "auto",
                        conventions=CONVENTIONS) -> dict:
    """Monte Carlo retrieval SNR^{-1} of a kernel memory in every convention, each against its exact value.

    plain:      memories are written and read (N pairs, probe = a stored key); samples ||r||^2/(c^2 ||v_i||^2).
    analytic:   the expectation over the other pairs is the closed-form Gaussian moment (C6); only the probe is
                sampled (conditional and typical: nothing is sampled, the value is exact).
    importance: exp kernel only. Other keys are drawn from the exponentially tilted proposal N(2 k_i / tau, I)
                (the zero-variance proposal for E[kappa^2]); the noise energy is the sum over pairs of
                ||v_j||^2 kappa(k_j, k_i)^2 times the likelihood ratio (its cross terms have mean zero, C6); probes
                of the probe-averaged and ratio conventions are drawn with ||k_i||^2 from the tilted chi-square.
    auto:       plain where the exact relative variance of the plain estimator (and the skewness of its
                lognormal terms) says plain sampling resolves the value; importance (exp) otherwise.
    Returns {convention: dict(estimate, lo, hi, level, n, theory, mode_used, note, ...)}.
    """
    if isinstance(kernel, str) and kernel.startswith("performer_"):
        return _performer(kernel, n_pairs, d_k, d_v, trials, seed, tau, m, alpha, mode, conventions)
    prm, n_pairs, d_k, d_v, trials = _check_common(kernel, n_pairs, d_k, d_v, trials, seed, tau, p, s, m, alpha, mode)
    dev, dt = resolve_device(device), resolve_dtype(dtype)
    for c in conventions:
        if c not in CONVENTIONS:
            raise InputError("convention", f"must be one of {', '.join(CONVENTIONS)}, got {c!r}")
        bad = km.divergence(kernel, c, d_k, d_v, **prm)
        if bad and len(conventions) == 1:
            km.log_snr_inv(kernel, c, n_pairs, d_k, d_v, **prm)  # raises InputError naming the condition
    gen = generator(seed)
    probe_k = _draw((d_k,), gen, dev, dt)
    probe_v = _draw((d_v,), gen, dev, dt)
    out = {}
    for conv in conventions:
        bad = km.divergence(kernel, conv, d_k, d_v, **prm)
        if bad:
            out[conv] = {"theory": None, "infinite": True, "mode_used": "none",
                         "note": f"infinite (not estimated): the moment needs {bad}"}
            continue
        cgen = generator((seed * 7919 + CONVENTIONS.index(conv) + 1) % (2**62))
        if conv in ("conditional", "typical"):
            pk, pv = probe_k, probe_v
            if conv == "typical":
                pk = pk * math.sqrt(d_k) / pk.norm()
                pv = pv * math.sqrt(d_v) / pv.norm()
            kappa, nu = float((pk.double() ** 2).sum()), float((pv.double() ** 2).sum())
            theory = math.exp(km.log_snr_inv(kernel, "conditional", n_pairs, d_k, d_v, kappa=kappa, nu=nu, **prm))
        else:
            kappa = nu = None
            theory = math.exp(km.log_snr_inv(kernel, conv, n_pairs, d_k, d_v, **prm))
        reliable, diag = _plain_reliability(kernel, conv, n_pairs, d_k, d_v, trials, kappa, prm)
        used = mode
        if mode == "auto":
            used = "plain" if reliable else ("importance" if kernel == "exp" else "analytic")
        if used == "plain":
            est, note = _plain(kernel, conv, pk if kappa is not None else None, pv if kappa is not None else None,
                               n_pairs, d_k, d_v, trials, cgen, dev, dt, prm, alpha)
            if not reliable:
                note += (f"; WARNING: plain sampling cannot resolve this value (exact relative variance of one sample "
                         f"{diag['plain_relvar']:.3g}, effective sample size {diag['plain_ess']:.3g}); use mode importance")
        elif used == "analytic":
            est, note = _analytic(kernel, conv, kappa, nu, n_pairs, d_k, d_v, trials, cgen, dev, dt, prm, alpha, theory)
        else:
            est, note = _importance(conv, pk if kappa is not None else None, pv if kappa is not None else None,
                                    n_pairs, d_k, d_v, trials, cgen, dev, dt, prm, alpha)
            if mode == "auto":
                note = "auto chose importance sampling: plain sampling cannot resolve this value " \
                       f"(exact relative variance of one plain sample {diag['plain_relvar']:.3g}); " + note
        row = {"estimate": est["value"], "lo": est["lo"], "hi": est["hi"], "level": est["level"], "n": est["n"],
               "se": est["se"], "dof": est.get("dof"), "theory": theory, "mode_used": used, "note": note, "plain_reliable": reliable}
        row.update(diag)
        if kappa is not None:
            row.update({"probe_kappa": kappa, "probe_nu": nu})
        out[conv] = row
    return out


def _performer(kernel, n_pairs, d_k, d_v, trials, seed, tau, m, alpha, mode, conventions):
    from impl.estimators.snr_performer import estimate_performer_snr

    if kernel not in PERFORMER_KERNELS:
        raise InputError("kernel", f"must be one of {', '.join(KERNELS)}, got {kernel!r}")
    if m is None:
        raise InputError("m", f"kernel {kernel!r} needs the number of random features m >= 1")
    if mode not in ("auto", "plain"):
        raise InputError("mode", "Performer memories are estimated by plain sampling only")
    conv = tuple(c for c in conventions if c in ("conditional", "typical"))
    if not conv:
        raise InputError("convention", "Performer memories support the conditional and typical conventions")
    kind = "positive" if kernel == "performer_positive" else "trigonometric"
    res = estimate_performer_snr(kind, n_pairs, d_k, d_v, trials, seed, tau=2.0 if tau is None else tau, m=m, alpha=alpha,
                                 conventions=conv)
    for c in conventions:
        if c not in res:
            res[c] = {"theory": None, "mode_used": "none", "note": "not defined for Performer memories here"}
    return res


def _plain(kernel, conv, pk, pv, n_pairs, d_k, d_v, trials, gen, dev, dt, prm, alpha):
    logs_y, logs_x = [], []
    for t in _chunks(trials, n_pairs * (d_k + d_v)):
        if pk is not None:  # fixed probe, fresh others
            ok = _draw((t, n_pairs - 1, d_k), gen, dev, dt)
            ov = _draw((t, n_pairs - 1, d_v), gen, dev, dt)
            probe = pk.expand(t, d_k)
            nu = (pv * pv).sum().expand(t)
        else:  # fresh probe and others each trial (probe = pair 0)
            kk = _draw((t, n_pairs, d_k), gen, dev, dt)
            vv = _draw((t, n_pairs, d_v), gen, dev, dt)
            probe, ok, ov = kk[:, 0], kk[:, 1:], vv[:, 1:]
            nu = (vv[:, 0] ** 2).sum(-1)
        logc = log_kernel(kernel, probe[:, None, :], probe[:, None, :], **_kprm(kernel, prm))[0][:, 0, 0]
        lr = _log_noise_over_signal(kernel, probe, logc, ok, ov, prm)  # log ||r||^2 / c^2
        logs_y.append(_np(lr + 2 * logc))
        logs_x.append(_np(2 * logc + torch.log(nu)))
    ly, lx = np.concatenate(logs_y), np.concatenate(logs_x)
    if conv == "ratio_of_expectations":
        y, x, _ = _logsumexp_ratio_samples(ly, lx)
        e = ratio_interval(y, x, alpha)
        note = "plain: E||r||^2 / E[c^2 ||v_i||^2] from memories with fresh probes (delta-method interval)"
    else:
        e = mean_interval(np.exp(ly - lx), alpha)
        note = ("plain: memories with a fixed probe and fresh other pairs" if pk is not None
                else "plain: memories with a fresh probe and other pairs per trial")
    return e.as_dict(), note


def _probe_norms(t, d_k, d_v, gen):
    kappa = torch.randn((t, d_k), generator=gen, dtype=torch.float64).pow(2).sum(-1)
    nu = torch.randn((t, d_v), generator=gen, dtype=torch.float64).pow(2).sum(-1)
    return kappa.numpy(), nu.numpy()


def _analytic(kernel, conv, kappa, nu, n_pairs, d_k, d_v, trials, gen, dev, dt, prm, alpha, theory):
    if conv in ("conditional", "typical"):
        return ({"value": theory, "lo": theory, "hi": theory, "level": 1 - alpha, "n": 0, "se": 0.0, "dof": None},
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
    return e.as_dict(), "analytic: exact Gaussian moments over the other pairs, probes sampled"


def _is_noise(probe, logc, n_others, d_k, d_v, gen, dev, dt, tau):
    """log of sum_j ||v_j||^2 kappa(k_j, k_i)^2 L(k_j) / c^2 with k_j ~ N(2 k_i / tau, I) (likelihood ratio L)."""
    t = probe.shape[0]
    mu = 2 * probe / tau
    z = _draw((t, n_others, d_k), gen, dev, dt)
    ok = z + mu[:, None, :]
    vn = _draw((t, n_others, d_v), gen, dev, dt).pow(2).sum(-1)
    la = log_kernel("exp", ok, probe[:, None, :], tau=tau)[0][..., 0]
    log_lr = -(ok * mu[:, None, :]).sum(-1) + (mu * mu).sum(-1, keepdim=True) / 2
    return torch.logsumexp(torch.log(vn) + 2 * la + log_lr, dim=-1) - 2 * logc


def _importance(conv, pk, pv, n_pairs, d_k, d_v, trials, gen, dev, dt, prm, alpha):
    tau = prm["tau"]
    ys, xs = [], []
    for t in _chunks(trials, n_pairs * (d_k + d_v)):
        if pk is not None:
            probe = pk.expand(t, d_k)
            logc = (probe * probe).sum(-1) / tau
            ln = _is_noise(probe, logc, n_pairs - 1, d_k, d_v, gen, dev, dt, tau)
            ys.append(_np(ln - torch.log((pv * pv).sum())))
            continue
        nu = _draw((t, d_v), gen, dev, dt).pow(2).sum(-1)
        if conv == "probe_averaged":
            tilt = km.exp_a(tau)  # probe norm tilted by e^{a kappa}
            g = _draw((t, d_k), gen, dev, dt) / math.sqrt(1 - 2 * tilt)
            kap = (g * g).sum(-1)
            log_l = -d_k / 2 * math.log(1 - 2 * tilt) - tilt * kap
            ln = _is_noise(g, kap / tau, n_pairs - 1, d_k, d_v, gen, dev, dt, tau)
            ys.append(_np(log_l + ln - torch.log(nu)))
        else:  # ratio: numerator probes tilted by e^{2 kappa / tau^2}, denominator by e^{2 kappa / tau}
            b1, b2 = 2 / tau**2, 2 / tau
            g1 = _draw((t, d_k), gen, dev, dt) / math.sqrt(1 - 2 * b1)
            k1 = (g1 * g1).sum(-1)
            ln = _is_noise(g1, k1 / tau, n_pairs - 1, d_k, d_v, gen, dev, dt, tau)
            ys.append(_np(-d_k / 2 * math.log(1 - 2 * b1) - b1 * k1 + ln + 2 * k1 / tau))
            g2 = _draw((t, d_k), gen, dev, dt) / math.sqrt(1 - 2 * b2)
            k2 = (g2 * g2).sum(-1)
            xs.append(_np(-d_k / 2 * math.log(1 - 2 * b2) - b2 * k2 + 2 * k2 / tau + torch.log(nu)))
    ly = np.concatenate(ys)
    note = ("importance: other keys from the tilted proposal N(2 k_i/tau, I) (zero-variance for E[kappa^2]); "
            "noise energy = sum_j ||v_j||^2 kappa_j^2 x likelihood ratio (cross terms have mean 0)")
    if conv == "ratio_of_expectations":
        y, x, _ = _logsumexp_ratio_samples(ly, np.concatenate(xs))
        return ratio_interval(y, x, alpha).as_dict(), note + "; probe norms from tilted chi-squares"
    if conv == "probe_averaged":
        note += "; probe norms from the chi-square tilted by e^{a ||k_i||^2}"
    return mean_interval(np.exp(ly), alpha).as_dict(), note
