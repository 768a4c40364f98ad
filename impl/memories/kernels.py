"""Kernels and feature maps for kernel associative memories (paper §2.1.1; docs/CLAIMS.md C5, C8, C9).

A kernel memory stores S = sum_j v_j phi(k_j)^T and reads o = S phi(q) = sum_j v_j kappa(k_j, q) (C5). Kernels
are evaluated in *log-magnitude / sign* form, ``log_kernel(kernel, X, Y) -> (log|kappa|, sign)``, so that the
exponential kernel exp(x^T y / tau) never overflows: a memory read divides every weight by a common scale
(the softmax normaliser's trick, C8) before exponentiating.

Kernels (all pairs of rows of X [..., n, d] and Y [..., m, d] -> [..., n, m]):
    linear   x^T y                       exp      exp(x^T y / tau)              relu   max(0, x^T y)
    poly     (x^T y)^p                   rbf      exp(-||x - y||^2 / (2 s^2))
    elu1     (elu(x)+1)^T (elu(y)+1)     taylor   1 + x^T y + (x^T y)^2 / 2     dpfp   DPFP(x)^T DPFP(y)

Feature maps phi with phi(x)^T phi(y) = kappa(x, y) exactly (or, for Performer, in expectation):
    linear, elu1 (Katharopoulos et al. 2020), taylor ([1, x, vec(x x^T)/sqrt 2]; "Based", Arora et al. 2024),
    poly (vec of the p-fold tensor power; small d only), dpfp (Schlag et al. 2021, deterministic
    parameter-free projection with nu = 1), performer positive / trigonometric (Choromanski et al. 2020,
    Lemma 2, m features, i.i.d. or block-orthogonal).
"""

from __future__ import annotations

import math

import torch

from impl.numerics.errors import InputError, require_positive_int

KERNELS = ("linear", "exp", "relu", "poly", "rbf", "elu1", "taylor", "dpfp")
FEATURE_MAPS = ("linear", "elu1", "taylor", "poly", "dpfp", "performer_positive", "performer_trig")

_NEG_INF = float("-inf")


def check_kernel_params(kernel: str, *, tau=None, p=None, s=None) -> dict:
    """Validate a kernel name and its parameter; return the parameters the kernel uses (InputError otherwise)."""
    if kernel not in KERNELS:
        raise InputError("kernel", f"must be one of {', '.join(KERNELS)}, got {kernel!r}")
    out = {}
    if kernel == "exp":
        tau = 1.0 if tau is None else tau
        if not isinstance(tau, (int, float)) or isinstance(tau, bool) or not math.isfinite(tau) or tau <= 0:
            raise InputError("tau", f"the temperature must be a finite number > 0, got {tau!r}")
        out["tau"] = float(tau)
    if kernel == "poly":
        p = 2 if p is None else p
        out["p"] = require_positive_int("p", p)
    if kernel == "rbf":
        s = 1.0 if s is None else s
        if not isinstance(s, (int, float)) or isinstance(s, bool) or not math.isfinite(s) or s <= 0:
            raise InputError("s", f"the RBF bandwidth must be a finite number > 0, got {s!r}")
        out["s"] = float(s)
    return out


def _dots(X, Y):
    return X @ Y.transpose(-1, -2)


def _log_sign_of(values):
    """(log|x|, sign x) with log 0 = -inf."""
    return torch.log(values.abs()), torch.sign(values)


def log_kernel(kernel: str, X, Y, *, tau=None, p=None, s=None):
    """(log|kappa(x, y)|, sign kappa(x, y)) for all rows x of X [..., n, d] and y of Y [..., m, d] -> [..., n, m].

    Never overflows: exp and rbf are returned by their exponent; polynomial by p log|x^T y|.
    """
    prm = check_kernel_params(kernel, tau=tau, p=p, s=s)
    if kernel == "exp":
        g = _dots(X, Y) / prm["tau"]
        return g, torch.ones_like(g)
    if kernel == "rbf":
        sq = (X * X).sum(-1)[..., :, None] + (Y * Y).sum(-1)[..., None, :] - 2 * _dots(X, Y)
        g = -sq.clamp_min(0) / (2 * prm["s"] ** 2)
        return g, torch.ones_like(g)
    if kernel == "linear":
        return _log_sign_of(_dots(X, Y))
    if kernel == "relu":
        return _log_sign_of(torch.relu(_dots(X, Y)))
    if kernel == "poly":
        la, sg = _log_sign_of(_dots(X, Y))
        return prm["p"] * la, sg ** prm["p"]
    if kernel == "taylor":
        g = _dots(X, Y)
        return _log_sign_of(1 + g + g * g / 2)  # > 0 always: 1 + t + t^2/2 = ((t+1)^2 + 1)/2
    phi = {"elu1": elu1_features, "dpfp": dpfp_features}[kernel]
    return _log_sign_of(_dots(phi(X), phi(Y)))


def kernel(kernel_name: str, X, Y, **params):
    """kappa(x, y) itself (may overflow for exp at large x^T y / tau: use ``log_kernel`` for memories)."""
    la, sg = log_kernel(kernel_name, X, Y, **params)
    return sg * torch.exp(la)


# ---------------------------------------------------------------------------------------------------------------
# Feature maps
# ---------------------------------------------------------------------------------------------------------------


def linear_features(X):
    return X


def elu1_features(X):
    """phi(x) = elu(x) + 1 (Katharopoulos et al. 2020): positive features, a kernel with no closed SNR here."""
    return torch.nn.functional.elu(X) + 1


def taylor_features(X):
    """phi(x) = [1, x, vec(x x^T)/sqrt(2)]: phi(x)^T phi(y) = 1 + x^T y + (x^T y)^2/2 exactly (docs/CLAIMS.md C9)."""
    outer = (X[..., :, None] * X[..., None, :]).flatten(-2) / math.sqrt(2)
    return torch.cat([torch.ones_like(X[..., :1]), X, outer], dim=-1)


def poly_features(X, p: int):
    """vec of the p-fold tensor power x^{(x) p}: phi(x)^T phi(y) = (x^T y)^p. Dimension d^p (small d only)."""
    p = require_positive_int("p", p)
    if X.shape[-1] ** p > 2**22:
        raise InputError("p", f"the tensor-power feature map has d^p = {X.shape[-1] ** p} entries; use the kernel form")
    out = X
    for _ in range(p - 1):
        out = (out[..., :, None] * X[..., None, :]).flatten(-2)
    return out


def dpfp_features(X):
    """DPFP (Schlag et al. 2021) with nu = 1: r = [relu(x), relu(-x)] in R^{2d}, phi(x)_i = r_i r_{(i+1) mod 2d}."""
    r = torch.cat([torch.relu(X), torch.relu(-X)], dim=-1)
    return r * torch.roll(r, shifts=-1, dims=-1)


def performer_omega(m: int, d: int, gen: torch.Generator, *, orthogonal: bool = False, device="cpu", dtype=torch.float64):
    """m random directions w ~ N(0, I_d) as rows [m, d]. ``orthogonal``: blocks of d exactly orthogonal rows
    (Gram-Schmidt of a Gaussian block) rescaled to chi_d-distributed norms, so each row is still N(0, I_d)
    marginally (Choromanski et al. 2020, ORF)."""
    if isinstance(m, bool) or not isinstance(m, int) or m < 1:
        raise InputError("m", f"the number of random features must be an integer >= 1, got {m!r}")
    if not orthogonal:
        W = torch.randn((m, d), generator=gen, dtype=torch.float64)
    else:
        blocks = []
        for _ in range(-(-m // d)):
            q, r = torch.linalg.qr(torch.randn((d, d), generator=gen, dtype=torch.float64))
            q = q * torch.sign(torch.diagonal(r))[None, :]
            norms = torch.randn((d, d), generator=gen, dtype=torch.float64).norm(dim=1)
            blocks.append(q.T * norms[:, None])
        W = torch.cat(blocks)[:m]
    return W.to(device=device, dtype=dtype)


def performer_log_features(X, W, kind: str):
    """Performer maps for SM(x, y) = exp(x^T y) (Choromanski et al. 2020, Lemma 2), W [m, d]:

    positive:      phi+(x) = m^{-1/2} exp(W x - ||x||^2 / 2)                          (returned as its log)
    trigonometric: phi(x) = m^{-1/2} exp(||x||^2 / 2) [sin(W x), cos(W x)]           (returned as (log scale, trig part))
    Returns (log_scale [..., n, 1 or m], base [..., n, m or 2m]): phi = exp(log_scale) * base.
    """
    m = W.shape[0]
    sq = (X * X).sum(-1, keepdim=True)
    proj = X @ W.T
    if kind == "positive":
        return proj - sq / 2 - 0.5 * math.log(m), torch.ones_like(proj)
    if kind == "trigonometric":
        return sq / 2 - 0.5 * math.log(m), torch.cat([torch.sin(proj), torch.cos(proj)], dim=-1)
    raise InputError("kind", f"must be 'positive' or 'trigonometric', got {kind!r}")


def performer_kernel(X, Y, W, kind: str):
    """phi(x)^T phi(y) for the m-feature Performer map: an unbiased estimate of exp(x^T y)."""
    lx, bx = performer_log_features(X, W, kind)
    ly, by = performer_log_features(Y, W, kind)
    if kind == "positive":
        return torch.exp(lx[..., :, None, :] + ly[..., None, :, :]).sum(-1)
    return torch.exp(lx + ly.transpose(-1, -2)) * (bx @ by.transpose(-1, -2))


def features(name: str, X, **params):
    """phi(X) for the exact finite feature maps (linear, elu1, taylor, poly, dpfp)."""
    if name == "linear":
        return linear_features(X)
    if name == "elu1":
        return elu1_features(X)
    if name == "taylor":
        return taylor_features(X)
    if name == "poly":
        return poly_features(X, params.get("p", 2))
    if name == "dpfp":
        return dpfp_features(X)
    raise InputError("feature_map", f"must be one of linear, elu1, taylor, poly, dpfp, got {name!r}")
