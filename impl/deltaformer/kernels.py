"""The kernels of DeltaFormer and their conventions (which are normalised, over which index set).

Scores are s(x, y) = scale * x^T y. Three kernels:

* ``"softmax"``: the normalised exponential, kappa(x_t, k_j) = exp(s_tj) / sum_{i in I_t} exp(s_ti), computed in
  log space (logsumexp). The index set I_t is the causal prefix: j < t for kappa1 (the matrix B, strictly lower
  triangular), j <= t for kappa2 (the matrix A, lower triangular). Row t = 0 of B has an empty index set and is
  zero (u_0 = v_0). This is the paper's version (both kernels softmax).
* ``"exp"``: the unnormalised exponential exp(s_tj) (overflows for large scores: use only with small scores).
* ``"linear"``: the unnormalised dot product s_tj (with w = k, scale_w = 1, b-scaled values: DeltaNet, D2).

flash-linear-attention: the op ``fla.ops.deltaformer.deltaformer_attn(q, k, v, beta)`` computes
u_t = v_t - b_t sum_{j<t} softmax_j(q_t^T k_j / sqrt(d)) u_j, so its first argument plays w; the layer
``fla.layers.deltaformer.DeltaFormerAttention`` passes k there (k-k similarity: w = k, the default here), after RoPE on
q and k, with an unbounded b_t = x W_b + c, and reads o with causal softmax attention of q over (k, u).
"""

from __future__ import annotations

import torch

from impl.numerics.errors import InputError

KERNELS = ("softmax", "exp", "linear")


def check_kernel(name: str, parameter: str) -> str:
    if name not in KERNELS:
        raise InputError(parameter, f"must be one of {', '.join(KERNELS)}, got {name!r}")
    return name


def causal_kernel_matrix(x, y, kernel: str, scale: float, *, strict: bool):
    """M [..., T, T] with M_tj = kappa(x_t, y_j) on the causal set (j < t if ``strict`` else j <= t), 0 elsewhere;
    for ``"softmax"`` each row normalised over that set (log space)."""
    T = x.shape[-2]
    s = scale * (x @ y.transpose(-1, -2))
    mask = torch.ones(T, T, dtype=torch.bool, device=x.device).tril(-1 if strict else 0)
    if kernel == "linear":
        return s * mask
    if kernel == "exp":
        return torch.exp(s.masked_fill(~mask, float("-inf")))
    s = s.masked_fill(~mask, float("-inf"))
    lse = torch.logsumexp(s, dim=-1, keepdim=True)
    # Rows with an empty index set (row 0 when strict) have lse = -inf; their weights are defined to be 0.
    lse = torch.where(torch.isfinite(lse), lse, torch.zeros_like(lse))
    return torch.exp(s - lse)


def kernel_row(x_t, y_prefix, kernel: str, scale: float):
    """The weights kappa(x_t, y_j) for the rows y_j of ``y_prefix`` [..., n, d] (n >= 0): [..., n].
    Softmax normalises over exactly these n rows; with n = 0 it returns an empty tensor."""
    s = scale * (y_prefix @ x_t.unsqueeze(-1)).squeeze(-1)
    if kernel == "linear":
        return s
    if kernel == "exp":
        return torch.exp(s)
    if s.shape[-1] == 0:
        return s
    return torch.exp(s - torch.logsumexp(s, dim=-1, keepdim=True))
