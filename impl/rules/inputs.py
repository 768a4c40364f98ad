"""Shared input checks for the update rules of ``impl/rules/<family>/``: shapes, ranges, finiteness.

Every rule takes batched tensors q, k [B, H, T, d_k], v [B, H, T, d_v], optional per-token scalars
(learning rate ``beta`` [B, H, T], decay gate ``g`` [B, H, T]) and an optional state [B, H, d_v, d_k].
Bad input raises ``InputError`` naming the argument and the allowed range.
"""

from __future__ import annotations

import torch

from impl.numerics.errors import InputError
from impl.numerics.errors import require_finite as _require_finite_exact


def require_finite(name, x):
    """``impl.numerics.errors.require_finite`` with a fast path: a NaN or infinity anywhere makes the sum non-finite, so a
    finite sum proves every entry finite; a non-finite sum (a bad entry, or mere overflow of the sum) goes to the
    exact check, which decides."""
    if isinstance(x, torch.Tensor) and x.is_floating_point() and bool(torch.isfinite(x.sum())):
        return x
    return _require_finite_exact(name, x)


def check_qkv(q, k, v, *, names=("q", "k", "v")):
    """Check q, k [B, H, T, d_k] and v [B, H, T, d_v] agree; return (B, H, T, d_k, d_v)."""
    for name, x in zip(names, (q, k, v)):
        if not isinstance(x, torch.Tensor):
            raise InputError(name, f"must be a torch.Tensor, got {type(x).__name__}")
        if x.dim() != 4:
            raise InputError(name, f"must have shape [B, H, T, d], got {tuple(x.shape)}")
        if not x.is_floating_point():
            raise InputError(name, f"must be a floating-point tensor, got {x.dtype}")
        if x.shape[2] < 1 or x.shape[3] < 1:
            raise InputError(name, f"needs T >= 1 and d >= 1, got shape {tuple(x.shape)}")
        require_finite(name, x)
    if k.shape != q.shape:
        raise InputError(names[1], f"must have the shape of {names[0]} {tuple(q.shape)}, got {tuple(k.shape)}")
    if v.shape[:3] != q.shape[:3]:
        raise InputError(names[2], f"must agree with {names[0]} in [B, H, T] = {tuple(q.shape[:3])}, got {tuple(v.shape)}")
    if not (q.dtype == k.dtype == v.dtype) or not (q.device == k.device == v.device):
        raise InputError(names[2], "q, k, v must share one dtype and device")
    B, H, T, d_k = q.shape
    return B, H, T, d_k, v.shape[3]


def check_scalar_per_token(name, x, like, *, low, high, low_open=False, high_open=False):
    """Check a per-token scalar [B, H, T] (e.g. beta in [0, 2], gate in (0, 1]) against ``like`` [B, H, T, d]."""
    if not isinstance(x, torch.Tensor):
        raise InputError(name, f"must be a torch.Tensor of shape [B, H, T], got {type(x).__name__}")
    if tuple(x.shape) != tuple(like.shape[:3]):
        raise InputError(name, f"must have shape [B, H, T] = {tuple(like.shape[:3])}, got {tuple(x.shape)}")
    require_finite(name, x)
    lo_bad = (x <= low) if low_open else (x < low)
    hi_bad = (x >= high) if high_open else (x > high)
    if bool(lo_bad.any()) or bool(hi_bad.any()):
        lb, hb = ("(" if low_open else "["), (")" if high_open else "]")
        raise InputError(name, f"must lie in {lb}{low}, {high}{hb}; got values in [{float(x.min()):.4g}, {float(x.max()):.4g}]")
    return x.to(dtype=like.dtype, device=like.device)


def check_scale(scale):
    if isinstance(scale, bool) or not isinstance(scale, (int, float)):
        raise InputError("scale", f"must be a real number, got {scale!r}")
    if not (float(scale) == float(scale)) or abs(float(scale)) == float("inf"):
        raise InputError("scale", f"must be finite, got {scale!r}")
    return float(scale)


def check_state(initial_state, B, H, d_v, d_k, like):
    """Return the initial state [B, H, d_v, d_k] (zeros when None), checked."""
    if initial_state is None:
        return torch.zeros(B, H, d_v, d_k, dtype=like.dtype, device=like.device)
    if not isinstance(initial_state, torch.Tensor):
        raise InputError("initial_state", f"must be a torch.Tensor, got {type(initial_state).__name__}")
    if tuple(initial_state.shape) != (B, H, d_v, d_k):
        raise InputError("initial_state", f"must have shape [B, H, d_v, d_k] = {(B, H, d_v, d_k)}, got {tuple(initial_state.shape)}")
    require_finite("initial_state", initial_state)
    return initial_state.to(dtype=like.dtype, device=like.device)


def check_chunk_size(chunk_size):
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise InputError("chunk_size", f"must be an integer >= 1, got {chunk_size!r}")
    return chunk_size


def check_gate(name, g, like, *, log_gates=False):
    """A decay gate in (0, 1]: per token [B, H, T] (RetNet, Mamba2) or per key channel [B, H, T, d_k] (GLA).

    Returns the gate as [B, H, T, d_k] (a scalar gate broadcast over the key channels) and its log. With
    ``log_gates`` the tensor holds log a <= 0 (flash-linear-attention's convention), so gates too small for the
    dtype (a = exp(-110) is 0 in float32) are still accepted: the forms work from the log.
    """
    g = _gate_tensor(name, g, like, log_gates)
    if tuple(g.shape) == tuple(like.shape[:3]):
        g = g.unsqueeze(-1).expand(*like.shape[:3], like.shape[3])
    elif tuple(g.shape) != tuple(like.shape):
        raise InputError(name, f"must have shape [B, H, T] = {tuple(like.shape[:3])} or [B, H, T, d_k] = {tuple(like.shape)}, got {tuple(g.shape)}")
    g = g.to(dtype=like.dtype, device=like.device)
    return (torch.exp(g), g) if log_gates else (g, torch.log(g))


def check_scalar_gate(name, g, like, *, log_gates=False):
    """A per-token gate [B, H, T]: a in (0, 1], or log a <= 0 with ``log_gates``. Returns its log [B, H, T]."""
    g = _gate_tensor(name, g, like, log_gates)
    if tuple(g.shape) != tuple(like.shape[:3]):
        raise InputError(name, f"must have shape [B, H, T] = {tuple(like.shape[:3])}, got {tuple(g.shape)}")
    g = g.to(dtype=like.dtype, device=like.device)
    return g if log_gates else torch.log(g)


def _gate_tensor(name, g, like, log_gates):
    if not isinstance(g, torch.Tensor):
        raise InputError(name, f"must be a torch.Tensor of shape [B, H, T] or [B, H, T, d_k], got {type(g).__name__}")
    require_finite(name, g)
    if log_gates:
        if bool((g > 0).any()):
            raise InputError(name, f"log-gates must be <= 0 (a = exp(g) in (0, 1]); got a maximum of {float(g.max()):.4g}")
    elif bool((g <= 0).any()) or bool((g > 1).any()):
        raise InputError(name, f"must lie in (0, 1] (or pass log_gates=True with log a); got values in "
                               f"[{float(g.min()):.4g}, {float(g.max()):.4g}]")
    return g
