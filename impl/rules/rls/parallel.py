"""Recursive least squares, parallel form: the batch ridge solution at every t at once.

    R_t = P_0^{-1} + sum_{j <= t} k_j k_j^T,   A_t = S_0 P_0^{-1} + sum_{j <= t} v_j k_j^T,
    S_t = A_t R_t^{-1},   o_t = A_t R_t^{-1} (scale q_t)       (one batched LU solve per t)

(cumulative sums of [T, d_k, d_k] outer products; with the default state R_0 = lam I, A_0 = 0). The chunked form
keeps the [C, d_k, d_k] part per chunk. Conventions as ``recurrent.py``.
"""

from __future__ import annotations

import torch

from impl.numerics.solves import inv, solve
from impl.rules.inputs import check_qkv, check_scale
from impl.rules.rls.recurrent import check_lam, check_rls_state


def rls_block(qs, k, v, R0, A0):
    """Incoming sufficient statistics (R0 [..., d_k, d_k], A0 [..., d_v, d_k]); returns (o, R_end, A_end)."""
    R = R0.unsqueeze(-3) + torch.cumsum(k.unsqueeze(-1) * k.unsqueeze(-2), dim=-3)  # [..., C, d_k, d_k]
    A = A0.unsqueeze(-3) + torch.cumsum(v.unsqueeze(-1) * k.unsqueeze(-2), dim=-3)  # [..., C, d_v, d_k]
    x = solve(R, qs.unsqueeze(-1))  # R_t^{-1} q_t (LU, not Cholesky: the same function of an
    # arbitrary, possibly non-symmetric P_0 as the recurrence, so gradients agree in every direction)
    o = (A @ x).squeeze(-1)
    return o, R[..., -1, :, :], A[..., -1, :, :]


def stats_from_state(S0, P0):
    R0 = inv(P0)
    return R0, S0 @ R0


def state_from_stats(R, A):
    P = inv(R)
    return A @ P, P


def rls_parallel(q, k, v, *, lam=1.0, scale=1.0, initial_state=None, output_final_state=False):
    B, H, T, d_k, d_v = check_qkv(q, k, v)
    lam, scale = check_lam(lam), check_scale(scale)
    S0, P0 = check_rls_state(initial_state, B, H, d_v, d_k, lam, q)
    R0, A0 = stats_from_state(S0, P0)
    o, R, A = rls_block(scale * q, k, v, R0, A0)
    return o, (state_from_stats(R, A) if output_final_state else None)
