"""Shared argument checking for the DeltaFormer forms (one place, so all forms refuse the same inputs)."""

from __future__ import annotations

import math

import torch

from impl.deltaformer.kernels import check_kernel
from impl.numerics.errors import InputError, require_finite


def check_inputs(q, k, v, beta, w, kernel, kernel_w, scale, scale_w):
    """Validate and return (w, kernel_w, scale, scale_w) with defaults filled in.

    Shapes: q, k, w [B, H, T, d_k], v [B, H, T, d_v], beta [B, H, T]. ``w=None`` means w = k (the paper's
    default). ``kernel_w=None`` means the same kernel as ``kernel``; ``scale=None`` means d_k^-1/2 for the
    exponential kernels and 1 for the linear one; ``scale_w=None`` means ``scale``.
    """
    for name, x in (("q", q), ("k", k), ("v", v), ("beta", beta)):
        if not isinstance(x, torch.Tensor):
            raise InputError(name, f"must be a torch tensor, got {type(x).__name__}")
    if q.dim() != 4 or k.shape != q.shape or v.dim() != 4 or v.shape[:3] != q.shape[:3]:
        raise InputError("q", f"q, k must be [B, H, T, d_k] and v [B, H, T, d_v]; got {tuple(q.shape)}, "
                              f"{tuple(k.shape)}, {tuple(v.shape)}")
    if beta.shape != q.shape[:3]:
        raise InputError("beta", f"must be [B, H, T] = {tuple(q.shape[:3])}, got {tuple(beta.shape)}")
    if w is None:
        w = k
    elif not isinstance(w, torch.Tensor) or w.shape != k.shape:
        raise InputError("w", f"must be a tensor of the keys' shape {tuple(k.shape)}")
    for name, x in (("q", q), ("k", k), ("v", v), ("beta", beta), ("w", w)):
        if not x.requires_grad:
            require_finite(name, x)
    kernel = check_kernel(kernel, "kernel")
    kernel_w = check_kernel(kernel if kernel_w is None else kernel_w, "kernel_w")
    if scale is None:
        scale = 1.0 if kernel == "linear" else 1.0 / math.sqrt(q.shape[-1])
    if scale_w is None:
        scale_w = scale
    for name, s in (("scale", scale), ("scale_w", scale_w)):
        if not (isinstance(s, (int, float)) and math.isfinite(s)):
            raise InputError(name, f"must be a finite number, got {s!r}")
    return w, kernel_w, float(scale), float(scale_w)
