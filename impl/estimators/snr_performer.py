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
