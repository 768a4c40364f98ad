"""Monte Carlo for Performer random features (Choromanski et al. 2020, Lemma 2; CLAIMS C9).

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

from impl.device import generator
from impl.errors import InputError, require_positive_int

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


def sphere_log_m2(d_k: int, b: float) -> float:
    """log E[e^{2b x^T y}] - 2b for x uniform on S^{d-1}, ||y|| = 1: log[Gamma(d/2) b^{1-d/2} I_{d/2-1}(2b) e^{-2b}]
    (scipy.special.ive is the exponentially scaled Bessel function, so nothing overflows)."""
    from scipy.special import gammaln, ive

    nu_ = d_k / 2 - 1
    return gammaln(d_k / 2) - nu_ * math.log(b) + math.log(ive(nu_, 2 * b))


def estimate_sphere_snr(n_pairs: int, d_k: int, d_v: int, b: float, trials: int, seed: int, *, alpha: float = 1e-6) -> dict:
    """Plain Monte Carlo of the conditional SNR^{-1} for the kernel exp(b x^T y) with keys uniform on the unit sphere
    (Gaussian values), fixed probe, fresh other pairs. Returns estimate, interval and the exact Bessel value."""
    from impl.stats import mean_interval

    n_pairs = require_positive_int("n_pairs", n_pairs, 2)
    d_k, d_v = require_positive_int("d_k", d_k, 2), require_positive_int("d_v", d_v)
    trials = require_positive_int("trials", trials, 2)
    if not (isinstance(b, (int, float)) and math.isfinite(b) and b > 0):
        raise InputError("b", f"the inverse temperature must be a finite number > 0, got {b!r}")
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
    e = mean_interval(((r * r).sum(-1) / nu).numpy(), alpha)
    theory = (n_pairs - 1) * d_v / nu * math.exp(sphere_log_m2(d_k, b))
    return {"estimate": e.value, "lo": e.lo, "hi": e.hi, "level": e.level, "n": e.n, "theory": theory, "probe_nu": nu}
