"""Kernel associative memories (paper §2.1.1; docs/CLAIMS.md C5, C8).

Memory (C5): S = sum_j v_j phi(k_j)^T, o = S phi(q) = sum_j v_j kappa(k_j, q). Probing pair i:
o = c v_i + r with c = kappa(k_i, k_i), r = sum_{j != i} v_j kappa(k_j, k_i) (C2 for kernels).
Every read here is done in log space: weights exp(log kappa - shift) with a common shift, then the shift is
carried as a log scale, so exp(x^T y / tau) never overflows (C7 trap 3). Softmax attention (C5) is the same
read with the shift replaced by the log of the softmax normaliser; C8: the SNR does not depend on that choice.

Their SNR interface (``impl.memories.memory``): ``KernelMemory`` (exp, relu, poly, rbf and linear kernels, every
convention in closed form, C6-C9, sampled plainly, analytically or by importance sampling: impl.estimators.snr_kernel)
and ``PerformerMemory`` (the exp kernel with temperature tau > 2 replaced by m Performer random features, C9;
conventions conditional and typical, SNR^{-1} defined as E||r||^2 / (E[c_hat^2] ||v_i||^2)). ``kernel_memory`` builds
either from a kernel name; ``SphereMemory`` (keys uniform on the unit sphere, kernel exp(b x^T y), C9).
"""

from __future__ import annotations

import math

import torch

from impl.estimators import kernel_moments as km
from impl.estimators import snr_kernel as sk
from impl.estimators import snr_performer as sp
from impl.estimators import catoni
from impl.estimators import performer_memory_moments as pmm
from impl.estimators.snr_sphere import sphere_log_m2, sphere_sample_relvar
from impl.estimators.stats import mean_interval, ratio_interval
from impl.memories.kernels import check_kernel_params, features, log_kernel
from impl.memories.memory import CONVENTIONS, SAMPLERS, Estimates, Memory, SNRResult, typical_probe
from impl.numerics.device import generator, resolve_device, resolve_dtype
from impl.numerics.errors import InputError, require_positive_int


def write_features(phi_K, V):
    """S = sum_j v_j phi(k_j)^T = V^T phi(K): phi_K [..., N, F], V [..., N, d_v] -> S [..., d_v, F] (C5)."""
    return V.transpose(-1, -2) @ phi_K


def read_features(S, phi_Q):
    """o = S phi(q) for each row of phi_Q [..., M, F] -> [..., M, d_v]."""
    return phi_Q @ S.transpose(-1, -2)


def feature_memory_read(feature_map: str, K, V, Q, **params):
    """Write with a finite feature map, then read: o = S phi(q)."""
    return read_features(write_features(features(feature_map, K, **params), V), features(feature_map, Q, **params))


def kernel_read_log(kernel: str, K, V, Q, **params):
    """o = sum_j v_j kappa(k_j, q) for every row q of Q, as (log_scale [..., M, 1], o / exp(log_scale)).
    The scale is max_j log|kappa(k_j, q)|, so no exponential overflows."""
    la, sg = log_kernel(kernel, Q, K, **params)  # [..., M, N]
    shift = la.amax(-1, keepdim=True).clamp_min(torch.finfo(la.dtype).min)
    return shift, (sg * torch.exp(la - shift)) @ V


def kernel_read(kernel: str, K, V, Q, **params):
    """o = sum_j v_j kappa(k_j, q) (may overflow for huge exponents; memories use ``kernel_read_log``)."""
    shift, o = kernel_read_log(kernel, K, V, Q, **params)
    return o * torch.exp(shift)


def softmax_read(K, V, Q, tau: float = 1.0):
    """Softmax attention as a memory: o = sum_j softmax_j(q^T k_j / tau) v_j (C5: normalised exp kernel)."""
    check_kernel_params("exp", tau=tau)
    return torch.softmax(Q @ K.transpose(-1, -2) / tau, dim=-1) @ V


def signal_noise_log(kernel: str, K, V, **params):
    """For every probe i = stored key k_i: (log c_i, r_i / c_i) with o_i = c_i v_i + r_i (C2/C5).
    r is the explicit sum over j != i. K [..., N, d_k], V [..., N, d_v]."""
    if kernel == "exp":  # fast path: one GEMM, then in-place shift, exp and zeroed diagonal (3 passes over N^2)
        tau = check_kernel_params("exp", **params)["tau"]
        G = (K / tau) @ K.transpose(-1, -2)
        logc = torch.diagonal(G, dim1=-2, dim2=-1).clone()
        G.sub_(logc[..., :, None]).exp_()
        torch.diagonal(G, dim1=-2, dim2=-1).zero_()
        return logc, G @ V
    la, sg = log_kernel(kernel, K, K, **params)  # [..., N, N], row i = probe i
    n = K.shape[-2]
    eye = torch.eye(n, dtype=torch.bool, device=K.device)
    logc = torch.diagonal(la, dim1=-2, dim2=-1)
    w = torch.where(eye, torch.zeros_like(la), sg * torch.exp(la - logc[..., :, None]))
    return logc, w @ V


def snr_samples(kernel: str, K, V, **params):
    """X_i = ||r_i||^2 / (c_i^2 ||v_i||^2) for every probe i (one sample of the conditional SNR^{-1})."""
    _, r_over_c = signal_noise_log(kernel, K, V, **params)
    return (r_over_c * r_over_c).sum(-1) / (V * V).sum(-1)


def softmax_snr_samples(K, V, tau: float = 1.0):
    """The same ratio computed from the softmax-normalised read (C8): signal p_ii v_i, noise sum_{j!=i} p_ij v_j."""
    P = torch.softmax(K @ K.transpose(-1, -2) / tau, dim=-1)
    n = K.shape[-2]
    eye = torch.eye(n, dtype=torch.bool, device=K.device)
    pii = torch.diagonal(P, dim1=-2, dim2=-1)
    noise = torch.where(eye, torch.zeros_like(P), P) @ V
    return (noise * noise).sum(-1) / (pii**2 * (V * V).sum(-1))


# ------------------------------------------------------------------------------------------------------------------
# Retrieval SNR (C6-C9)
# ------------------------------------------------------------------------------------------------------------------


class KernelMemory(Memory):
    """The memory o = sum_j v_j kappa(k_j, q) with Gaussian keys and values (C5), every convention in closed form
    (impl.estimators.kernel_moments, C6-C9). tau: exp temperature (default 1); p: poly degree (default 2); s: RBF
    bandwidth (default 1)."""

    kind = "kernel"
    samplers = SAMPLERS
    reports_mode = True

    def __init__(self, kernel: str, *, tau=None, p=None, s=None):
        if kernel not in km.ANALYTIC_KERNELS:
            raise InputError("kernel", f"must be one of {', '.join(sk.KERNELS)}, got {kernel!r}")
        self.name = kernel
        self.given = check_kernel_params(kernel, tau=tau, p=p, s=s)  # the parameters this kernel uses
        self.prm = {"tau": 1.0, "p": 2, "s": 1.0, **self.given}

    def parameters(self):
        return dict(self.given)

    def label(self):
        return f"{self.name} kernel"

    def title(self):
        return f"kernel memory, kernel {self.name}"

    def divergence(self, convention, d_k, d_v):
        return km.divergence(self.name, convention, d_k, d_v, **self.prm)

    def check(self, n_pairs, d_k, d_v, trials, conventions, sampler):
        if sampler == "importance" and self.name != "exp":
            raise InputError("mode", f"importance sampling is implemented for the heavy-tailed exp kernel only, not "
                                     f"{self.name!r}")

    def refuse(self, convention, n_pairs, d_k, d_v, reason):
        km.log_snr_inv(self.name, convention, n_pairs, d_k, d_v, **self.prm)  # raises, naming the condition

    def exact(self, convention, n_pairs, d_k, d_v, kappa=None, nu=None):
        if convention in ("conditional", "typical") and kappa is not None:
            convention = "conditional"  # at the probe as used
        return math.exp(km.log_snr_inv(self.name, convention, n_pairs, d_k, d_v, kappa=kappa, nu=nu, **self.prm))

    def _exact_moments(self, conv, n_pairs, d_k, d_v, theory, diag) -> dict | None:
        """The exact moments that make plain sampling's interval Catoni's (``snr_kernel.plain``): the variance of
        one sample, rel * exact^2 (mean conventions), or the ratio convention's parts; None where unknown."""
        if not theory or not math.isfinite(theory):
            return None
        if conv == "ratio_of_expectations":
            if self.name not in km.ANALYTIC_KERNELS:
                return None
            parts = km.ratio_parts(self.name, n_pairs, d_k, d_v, **self.prm)
            return {"ratio_parts": parts, "value": theory} if all(map(math.isfinite, parts)) else None
        rel = diag.get("plain_relvar")
        return {"variance": rel * theory**2} if rel is not None and math.isfinite(rel) and rel > 0 else None

    def sample(self, n_pairs, d_k, d_v, trials, seed, conventions, *, sampler, alpha, device, dtype, native):
        """One probe pair from the seed (conditional; rescaled for typical); each convention then draws from its own
        generator, seeded from the seed and the convention."""
        kernel, prm = self.name, self.prm
        dev, dt = resolve_device(device), resolve_dtype(dtype)
        gen = generator(seed)
        probe_k = sk.draw((d_k,), gen, dev, dt)
        probe_v = sk.draw((d_v,), gen, dev, dt)
        out = Estimates()
        for conv in conventions:
            cgen = generator((seed * 7919 + CONVENTIONS.index(conv) + 1) % (2**62))
            pk = pv = kappa = nu = None
            if conv in ("conditional", "typical"):
                pk, pv = (probe_k, probe_v) if conv == "conditional" else typical_probe(probe_k, probe_v)
                kappa, nu = float((pk.double() ** 2).sum()), float((pv.double() ** 2).sum())
            theory = self.exact(conv, n_pairs, d_k, d_v, kappa, nu)
            reliable, diag = sk.plain_reliability(kernel, conv, n_pairs, d_k, d_v, trials, kappa, prm)
            used = sampler
            if sampler == "auto":  # unknown reliability (None) is not reliable: the analytic mode needs no diagnostic
                used = "plain" if reliable is True else ("importance" if kernel == "exp" and reliable is False else "analytic")
            per_level = None
            if used == "plain":
                est, note, per_level = sk.plain(kernel, conv, pk, pv, n_pairs, d_k, d_v, trials, cgen, dev, dt, prm,
                                                alpha, exact=self._exact_moments(conv, n_pairs, d_k, d_v, theory, diag))
                if reliable is None:
                    note += "; NOTE: plain sampling's reliability is unknown here (no closed-form relative variance)"
                elif not reliable:
                    note += (f"; WARNING: plain sampling cannot resolve this value (exact relative variance of one "
                             f"sample {diag['plain_relvar']:.3g}, effective sample size {diag['plain_ess']:.3g}); use "
                             f"mode {'importance' if kernel == 'exp' else 'analytic'}")
            elif used == "analytic":
                est, note = sk.analytic(kernel, conv, kappa, nu, n_pairs, d_k, d_v, trials, cgen, dev, dt, prm, alpha,
                                        theory)
            else:
                est, note, per_level = sk.importance(conv, pk, pv, n_pairs, d_k, d_v, trials, cgen, dev, dt, prm,
                                                     alpha, exact=theory)
                if sampler == "auto":
                    note = "auto chose importance sampling: plain sampling cannot resolve this value " \
                           f"(exact relative variance of one plain sample {diag['plain_relvar']:.3g}); " + note
            details = {"se": est.se, "dof": est.dof, "plain_reliable": reliable, **diag}
            if per_level is not None:
                details.update({"interval": "catoni", "intervals": per_level})
            if kappa is not None:
                details.update({"probe_kappa": kappa, "probe_nu": nu})
            out[conv] = SNRResult.measured(est, theory, used, note, **details)
        return out


class PerformerMemory(Memory):
    """The exp(k^T q / tau) kernel memory with the kernel replaced by m Performer random features (positive or
    trigonometric; Choromanski et al. 2020), SNR^{-1} defined (the signal is random too) as
    E_{others, features}||r||^2 / (E_features[c_hat^2] ||v_i||^2) at a fixed probe; exact value
    (N-1)(d_v/nu)[e^{2 kappa/tau^2} + E_k Var] / E[c_hat^2] (impl.estimators.snr_performer). Plain sampling with
    fresh features, other keys and values each trial; Catoni's interval at the exact variances of one trial's noise
    energy and signal (``impl.estimators.performer_memory_moments``: the other pairs share the features), a
    delta-method interval where a fourth moment is infinite or there are too few trials."""

    kind = "kernel"
    conventions = ("conditional", "typical")
    reports_mode = True
    undefined_note = "not defined for Performer memories here"

    def __init__(self, feature: str, *, tau: float, m: int):
        if feature not in sp.KINDS:
            raise InputError("kind", f"must be one of {', '.join(sp.KINDS)}, got {feature!r}")
        if isinstance(m, bool) or not isinstance(m, int) or m < 1:
            raise InputError("m", f"the number of random features must be an integer >= 1, got {m!r}")
        if not (isinstance(tau, (int, float)) and math.isfinite(tau) and tau > 0):
            raise InputError("tau", f"the temperature must be a finite number > 0, got {tau!r}")
        if tau <= 2:
            raise InputError("tau", f"the Performer memory's noise energy is infinite for Gaussian keys unless tau > 2, "
                                    f"got {tau}")
        self.feature, self.tau, self.m = feature, tau, m
        self.name = "performer_positive" if feature == "positive" else "performer_trig"

    def parameters(self):
        return {"tau": self.tau, "m": self.m}

    def label(self):
        return f"Performer ({self.feature}) kernel"

    def title(self):
        return f"kernel memory, kernel {self.name}"

    def exact(self, convention, n_pairs, d_k, d_v, kappa=None, nu=None):
        tau, m = self.tau, self.m
        return ((n_pairs - 1) * d_v / nu * (math.exp(2 * kappa / tau**2) + sp.performer_extra_noise(self.feature, kappa, d_k, tau, m))
                / sp.performer_signal_second_moment(self.feature, kappa, tau, m))

    def sample(self, n_pairs, d_k, d_v, trials, seed, conventions, *, sampler, alpha, device, dtype, native):
        """The probe pair first, then per convention (in the order asked) the features, other keys and values."""
        kind, tau, m = self.feature, self.tau, self.m
        gen = generator(seed)
        q0 = torch.randn(d_k, generator=gen, dtype=torch.float64)
        v0 = torch.randn(d_v, generator=gen, dtype=torch.float64)
        out = Estimates()
        s = 1 / math.sqrt(tau)
        for conv in conventions:
            q, v = (q0, v0) if conv == "conditional" else typical_probe(q0, v0)
            kappa, nu = float(q @ q), float(v @ v)
            W = torch.randn((trials, m, d_k), generator=gen, dtype=torch.float64)
            K = torch.randn((trials, n_pairs - 1, d_k), generator=gen, dtype=torch.float64) * s
            V = torch.randn((trials, n_pairs - 1, d_v), generator=gen, dtype=torch.float64)
            y = q * s
            pk, pq = K @ W.transpose(-1, -2), W @ y  # [T, n, m], [T, m]
            if kind == "positive":
                fk = torch.exp(pk - (K * K).sum(-1, keepdim=True) / 2) / math.sqrt(m)
                fq = torch.exp(pq - (y @ y) / 2) / math.sqrt(m)
            else:
                fk = torch.cat([torch.sin(pk), torch.cos(pk)], -1) * torch.exp((K * K).sum(-1, keepdim=True) / 2) / math.sqrt(m)
                fq = torch.cat([torch.sin(pq), torch.cos(pq)], -1) * math.exp(float(y @ y) / 2) / math.sqrt(m)
            w = (fk @ fq[:, :, None])[..., 0]  # kappa_hat(k_j, q) [T, n]
            r = (w[:, None, :] @ V)[:, 0]
            c = (fq * fq).sum(-1)
            y, x = (r * r).sum(-1).numpy(), (c * c * nu).numpy()
            note = f"plain: Performer {kind} features, m = {m}; E||r||^2 / (E[c_hat^2] ||v_i||^2) at a fixed probe"
            details = {"probe_kappa": kappa, "probe_nu": nu}
            mom = pmm.sample_moments(kind, kappa, nu, n_pairs, d_k, d_v, tau, m) if n_pairs > 1 else None
            if mom is not None and pmm.finite(mom) and catoni.applicable(trials, alpha / 2):
                e, per_level = _performer_catoni(y, x, mom, alpha)
                note += ("; Catoni intervals at the exact variances of one trial's noise energy and signal, union "
                         "bound" if kind == "positive" else
                         "; Catoni interval at the exact variance of one trial's noise energy (the signal is exact)")
                details.update(interval="catoni", intervals=per_level)
            else:
                e = ratio_interval(y, x, alpha)
                note += "; delta-method interval" + ("" if mom is None or pmm.finite(mom) else
                                                     " (a fourth moment is infinite here)")
            out[conv] = SNRResult.measured(e, self.exact(conv, n_pairs, d_k, d_v, kappa, nu), "plain", note, **details)
        return out


def _performer_catoni(y, x, mom, alpha):
    """E Y / E X for the Performer memory (``performer_memory_moments``) by Catoni's intervals at the exact variances
    of one trial's Y = ||r||^2 and X = nu c_hat^2: with an exact signal (trigonometric features, Var X = 0) the
    interval for E Y divided by E X; otherwise each mean at alpha / 2 and the ratio of their ends (a union bound,
    ``snr_kernel.catoni_ratio_estimate``). Valid at every level."""
    from impl.estimators.stats import Estimate, critical_value

    if mom["var_x"] > 0:
        parts = (mom["var_x"] / mom["mean_x"] ** 2, mom["var_y"] / mom["mean_y"] ** 2, math.log(mom["mean_x"]))
        return sk.catoni_ratio_estimate(y, x, 0.0, parts, mom["ratio"], alpha)

    def at(a):
        t, lo, hi = catoni.interval(y, mom["var_y"], a)
        return t / mom["mean_x"], lo / mom["mean_x"], hi / mom["mean_x"]

    r, lo, hi = at(alpha)
    per_level = {f"{a:g}": list(at(a)[1:]) for a in catoni.CALIBRATION_LEVELS}
    return Estimate(r, lo, hi, 1 - alpha, len(y), (hi - lo) / 2 / critical_value(alpha), None), per_level


class SphereMemory(Memory):
    """The kernel memory exp(b x^T y) with keys uniform on the unit sphere and Gaussian values (C9): the conditional
    convention (fixed probe, fresh other pairs, plain sampling), exact value (N-1)(d_v/nu) E[e^{2b x^T y}] e^{-2b}
    with the Bessel form of impl.estimators.snr_sphere; Catoni's interval at the exact variance of one sample
    (``snr_sphere.sphere_sample_relvar``), a mean interval when there are too few trials for it."""

    kind = "kernel"
    name = "sphere"
    conventions = listed = ("conditional",)

    def __init__(self, b: float):
        if not (isinstance(b, (int, float)) and math.isfinite(b) and b > 0):
            raise InputError("b", f"the inverse temperature must be a finite number > 0, got {b!r}")
        self.b = b

    def parameters(self):
        return {"b": self.b}

    def label(self):
        return "sphere exp kernel"

    def check(self, n_pairs, d_k, d_v, trials, conventions, sampler):
        require_positive_int("d_k", d_k, 2)

    def exact(self, convention, n_pairs, d_k, d_v, kappa=None, nu=None):
        return (n_pairs - 1) * d_v / nu * math.exp(sphere_log_m2(d_k, self.b))

    def sample(self, n_pairs, d_k, d_v, trials, seed, conventions, *, sampler, alpha, device, dtype, native):
        b = self.b
        gen = generator(seed)
        q = torch.randn(d_k, generator=gen, dtype=torch.float64)
        q = q / q.norm()
        v0 = torch.randn(d_v, generator=gen, dtype=torch.float64)
        nu = float(v0 @ v0)
        K = torch.randn((trials, n_pairs - 1, d_k), generator=gen, dtype=torch.float64)
        K = K / K.norm(dim=-1, keepdim=True)
        V = torch.randn((trials, n_pairs - 1, d_v), generator=gen, dtype=torch.float64)
        w = torch.exp(b * (K @ q) - b)  # kappa(k_j, q) / kappa(q, q)
        r = (w[:, None, :] @ V)[:, 0]
        x = ((r * r).sum(-1) / nu).numpy()
        exact = self.exact("conditional", n_pairs, d_k, d_v, 1.0, nu)
        note = "plain: keys uniform on the sphere, fixed probe"
        if n_pairs > 1 and catoni.applicable(x.size, alpha):  # one sample has an exact variance: Catoni's interval
            est, per_level = catoni.as_estimate(x, sphere_sample_relvar(n_pairs, d_k, d_v, b) * exact**2, alpha)
            return Estimates(conditional=SNRResult.measured(est, exact, "plain", note + "; Catoni interval at the exact "
                                                            "variance of one sample", probe_nu=nu, interval="catoni",
                                                            intervals=per_level))
        return Estimates(conditional=SNRResult.measured(mean_interval(x, alpha), exact, "plain", note, probe_nu=nu))


def kernel_memory(kernel: str, *, tau=None, p=None, s=None, m=None) -> Memory:
    """The SNR interface of a kernel memory by name (sk.KERNELS): a ``KernelMemory``, or a ``PerformerMemory`` for
    performer_positive / performer_trig (m random features; tau defaults to 2, which the memory then refuses)."""
    if isinstance(kernel, str) and kernel.startswith("performer_"):
        if kernel not in sk.PERFORMER_KERNELS:
            raise InputError("kernel", f"must be one of {', '.join(sk.KERNELS)}, got {kernel!r}")
        if m is None:
            raise InputError("m", f"kernel {kernel!r} needs the number of random features m >= 1")
        return PerformerMemory("positive" if kernel == "performer_positive" else "trigonometric",
                               tau=2.0 if tau is None else tau, m=m)
    if m is not None:
        raise InputError("m", "random features apply to the Performer kernels only")
    return KernelMemory(kernel, tau=tau, p=p, s=s)
