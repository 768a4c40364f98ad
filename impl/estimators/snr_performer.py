"""Monte Carlo for Performer random features (Choromanski et al. 2020, Lemma 2; docs/CLAIMS.md C9).

For SM(x, y) = exp(x^T y) and m random directions w ~ N(0, I):

    positive:      phi+(x) = m^{-1/2} exp(W x - ||x||^2/2),           Var = (1/m) e^{||x+y||^2} SM^2 (1 - e^{-||x+y||^2})
    trigonometric: phi(x) = m^{-1/2} e^{||x||^2/2} [sin W x, cos W x], Var = (1/(2m)) e^{||x+y||^2} SM^{-2} (1 - e^{-||x-y||^2})^2

``performer_estimates`` draws ``trials`` independent feature sets and returns the estimates phi(x)^T phi(y);
``performer_memory_noise`` draws a Gaussian key k per trial and returns (kappa_hat(k, q) - kappa(k, q))^2, whose mean is
the extra noise energy per interfering pair in a Performer memory, E_k Var_w kappa_hat (finite only for tau > 2).
"""

from __future__ import annotations

import math

import torch

from impl.numerics.device import generator
from impl.numerics.errors import InputError, require_positive_int

KINDS = ("positive", "trigonometric")


def _check(kind, m, trials):
    if kind not in KINDS:
        raise InputError("kind", f"must be one of {', '.join(KINDS)}, got {kind!r}")
    if isinstance(m, bool) or not isinstance(m, int) or m < 1:
        raise InputError("m", f"the number of random features must be an integer >= 1, got {m!r}")
    require_positive_int("trials", trials, 2)


def performer_estimates(x, y, m: int, kind: str, trials: int, seed: int, *, orthogonal: bool = False):
    """``trials`` independent m-feature estimates of exp(x^T y) (x, y 1-D float64 tensors)."""
    _check(kind, m, trials)
    gen = generator(seed)
    d = x.shape[-1]
    X = torch.stack([x, y])
    if not orthogonal:  # all trials at once: W [trials, m, d]
        W = torch.randn((trials, m, d), generator=gen, dtype=torch.float64)
    else:  # blocks of d orthogonal rows with chi_d norms (each row N(0, I) marginally), batched over trials
        nb = -(-m // d)
        q, r = torch.linalg.qr(torch.randn((trials, nb, d, d), generator=gen, dtype=torch.float64))
        q = q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1))[..., None, :]
        norms = torch.randn((trials, nb, d, d), generator=gen, dtype=torch.float64).norm(dim=-1)
        W = (q.transpose(-1, -2) * norms[..., None]).reshape(trials, nb * d, d)[:, :m]
    proj = X @ W.transpose(-1, -2)  # [trials, 2, m]
    if kind == "positive":
        return torch.exp(proj[:, 0] + proj[:, 1] - (x @ x + y @ y) / 2).mean(-1)
    return torch.exp((x @ x + y @ y) / 2) * torch.cos(proj[:, 0] - proj[:, 1]).mean(-1)


def performer_memory_noise(q, m: int, kind: str, tau: float, trials: int, seed: int):
    """Samples of (kappa_hat(k, q) - exp(k^T q / tau))^2 with k ~ N(0, I) and fresh features per trial; the kernel
    exp(k^T q/tau) is SM(k/sqrt(tau), q/sqrt(tau))."""
    _check(kind, m, trials)
    if not (isinstance(tau, (int, float)) and tau > 0):
        raise InputError("tau", f"the temperature must be > 0, got {tau!r}")
    if tau <= 2:
        raise InputError("tau", f"the Performer noise energy E_k Var is infinite for Gaussian keys unless tau > 2, got {tau}")
    gen = generator(seed)
    d = q.shape[-1]
    k = torch.randn((trials, d), generator=gen, dtype=torch.float64)
    W = torch.randn((trials, m, d), generator=gen, dtype=torch.float64)
    s = 1 / math.sqrt(tau)
    xk, yq = k * s, q * s
    pk = (W @ xk[:, :, None])[..., 0]  # [trials, m]
    pq = W @ yq  # [trials, m]
    nx, ny = (xk * xk).sum(-1), yq @ yq
    if kind == "positive":
        est = torch.exp(pk + pq - (nx[:, None] + ny) / 2).mean(-1)
    else:
        est = torch.exp((nx + ny) / 2) * torch.cos(pk - pq).mean(-1)
    exact = torch.exp((xk * yq).sum(-1))
    return (est - exact) ** 2


PERFORMER_KERNELS = ("performer_positive", "performer_trig")


def performer_extra_noise(kind: str, kappa: float, d_k: int, tau: float, m: int) -> float:
    """E_k Var_w kappa_hat(k, q) for Gaussian keys, ||q||^2 = kappa, kernel exp(k^T q/tau) (theory.kernels
    .performer_memory_extra_noise, evaluated numerically; tau > 2)."""
    if kind == "positive":
        return (math.exp(-d_k / 2 * math.log(1 - 2 / tau) + kappa / tau + 8 * kappa / (tau**2 - 2 * tau))
                - math.exp(2 * kappa / tau**2)) / m
    t0 = math.exp(-d_k / 2 * math.log(1 - 2 / tau) + kappa / tau)
    t1 = math.exp(2 * kappa / tau**2)
    t2 = math.exp(-d_k / 2 * math.log(1 + 2 / tau) + 8 * kappa / (tau**2 * (1 + 2 / tau)) - kappa / tau)
    return (t0 - 2 * t1 + t2) / (2 * m)


def performer_signal_second_moment(kind: str, kappa: float, tau: float, m: int) -> float:
    """E_w[c_hat^2] for c_hat = phi(q)^T phi(q), x = y = q/sqrt(tau): SM^2 + Var (Lemma 2); the trigonometric
    estimate is exact at x = y (cos 0 = 1), so its variance is 0."""
    sm2 = math.exp(2 * kappa / tau)
    if kind == "positive":
        return sm2 + math.exp(4 * kappa / tau) * sm2 * -math.expm1(-4 * kappa / tau) / m
    return sm2


def estimate_performer_snr(kind: str, n_pairs: int, d_k: int, d_v: int, trials: int, seed: int, *, tau: float, m: int,
                           alpha: float = 1e-6, conventions=("conditional", "typical")) -> dict:
    """SNR^{-1} of a memory whose exp(k^T q/tau) kernel is replaced by m Performer features, defined (the signal is
    random too) as E_{others, features}||r||^2 / (E_features[c_hat^2] ||v_i||^2) at a fixed probe; exact value
    (N-1)(d_v/nu)[e^{2 kappa/tau^2} + E_k Var] / E[c_hat^2]. Plain sampling, delta-method interval; fresh features,
    other keys and values each trial."""
    from impl.estimators.stats import ratio_interval

    _check(kind, m, trials)
    n_pairs = require_positive_int("n_pairs", n_pairs, 2)
    d_k, d_v = require_positive_int("d_k", d_k), require_positive_int("d_v", d_v)
    if not (isinstance(tau, (int, float)) and math.isfinite(tau) and tau > 0):
        raise InputError("tau", f"the temperature must be a finite number > 0, got {tau!r}")
    if tau <= 2:
        raise InputError("tau", f"the Performer memory's noise energy is infinite for Gaussian keys unless tau > 2, got {tau}")
    gen = generator(seed)
    q0 = torch.randn(d_k, generator=gen, dtype=torch.float64)
    v0 = torch.randn(d_v, generator=gen, dtype=torch.float64)
    out = {}
    s = 1 / math.sqrt(tau)
    for conv in conventions:
        q, v = (q0, v0) if conv == "conditional" else (q0 * math.sqrt(d_k) / q0.norm(), v0 * math.sqrt(d_v) / v0.norm())
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
        e = ratio_interval(((r * r).sum(-1)).numpy(), (c * c * nu).numpy(), alpha)
        theory = ((n_pairs - 1) * d_v / nu * (math.exp(2 * kappa / tau**2) + performer_extra_noise(kind, kappa, d_k, tau, m))
                  / performer_signal_second_moment(kind, kappa, tau, m))
        out[conv] = {"estimate": e.value, "lo": e.lo, "hi": e.hi, "level": e.level, "n": e.n, "theory": theory,
                     "mode_used": "plain", "probe_kappa": kappa, "probe_nu": nu,
                     "note": f"plain: Performer {kind} features, m = {m}; E||r||^2 / (E[c_hat^2] ||v_i||^2) at a fixed probe"}
    return out
