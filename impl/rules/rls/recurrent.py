"""Recursive least squares, recurrent form (the ground truth): an explicit loop over t.

    S_t = argmin_S sum_{j <= t} ||S k_j - v_j||^2 + lam ||S||_F^2 = (sum_j v_j k_j^T)(sum_j k_j k_j^T + lam I)^{-1}

computed recursively with P_t = (sum_{j <= t} k_j k_j^T + lam I)^{-1} (Sherman-Morrison / Woodbury):

    P_t = P_{t-1} - P_{t-1} k_t k_t^T P_{t-1} / (1 + k_t^T P_{t-1} k_t)
    S_t = S_{t-1} + (v_t - S_{t-1} k_t) k_t^T P_t,          o_t = S_t (scale q_t).

State: the pair (S [B, H, d_v, d_k], P [B, H, d_k, d_k]); the default initial state is (0, I / lam), which makes
S_t the ridge solution above. ``lam > 0`` (InputError otherwise). MesaNet (von Oswald et al. 2025) adds decay
gates; not included here.
"""

from __future__ import annotations

import torch

from impl.numerics.errors import InputError, require_finite
from impl.rules.inputs import check_qkv, check_scale, check_state


def check_lam(lam):
    if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not (float(lam) > 0) or float(lam) == float("inf"):
        raise InputError("lam", f"must be a finite number > 0, got {lam!r}")
    return float(lam)


def check_rls_state(initial_state, B, H, d_v, d_k, lam, like):
    """(S_0, P_0); default (0, I / lam). P_0 must be symmetric positive definite [B, H, d_k, d_k]."""
    if initial_state is None:
        P = torch.eye(d_k, dtype=like.dtype, device=like.device).expand(B, H, d_k, d_k) / lam
        return check_state(None, B, H, d_v, d_k, like), P.clone()
    if not isinstance(initial_state, (tuple, list)) or len(initial_state) != 2:
        raise InputError("initial_state", "must be a pair (S [B, H, d_v, d_k], P [B, H, d_k, d_k])")
    S = check_state(initial_state[0], B, H, d_v, d_k, like)
    P = initial_state[1]
    if not isinstance(P, torch.Tensor) or tuple(P.shape) != (B, H, d_k, d_k):
        raise InputError("initial_state", f"P must be a tensor of shape {(B, H, d_k, d_k)}")
    require_finite("initial_state", P)
    return S, P.to(dtype=like.dtype, device=like.device)


def rls_recurrent(q, k, v, *, lam=1.0, scale=1.0, initial_state=None, output_final_state=False):
    """Returns (o [B, H, T, d_v], (S_T, P_T) or None)."""
    B, H, T, d_k, d_v = check_qkv(q, k, v)
    lam, scale = check_lam(lam), check_scale(scale)
    S, P = check_rls_state(initial_state, B, H, d_v, d_k, lam, q)
    outs = []
    for t in range(T):
        k_t, v_t = k[:, :, t, :, None], v[:, :, t, :, None]
        Pk, kP = P @ k_t, k_t.transpose(-1, -2) @ P  # P k and k^T P (P need not be symmetric)
        P = P - Pk @ kP / (1.0 + kP @ k_t)
        S = S + (v_t - S @ k_t) @ (k_t.transpose(-1, -2) @ P)  # (v - S k) k^T P_t
        outs.append(S @ (scale * q[:, :, t, :, None]))
    o = torch.cat(outs, dim=-1).transpose(-1, -2)
    return o, ((S, P) if output_final_state else None)
