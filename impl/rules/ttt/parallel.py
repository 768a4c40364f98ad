"""TTT / Titans, parallel form: the recurrence is affine in the stacked state X = [S, m] (d_v x 2 d_k),

    X_t = X_{t-1} M_t + theta_t v_t [k_t^T, k_t^T],
    M_t = [[(1 - alpha_t) I - theta_t k_t k_t^T,  -theta_t k_t k_t^T],
           [eta_t I,                               eta_t I          ]],

so all states follow from an inclusive parallel prefix scan (Hillis-Steele, ceil(log2 T) rounds) of the affine
maps X -> X M_t + B_t under composition (M, B) then (M', B') = (M M', B M' + B'). O(T log T d_k^3): a parallel
form for checking, not for speed. Conventions as ``recurrent.py``.
"""

from __future__ import annotations

import torch

from impl.rules.inputs import check_scale
from impl.rules.ttt.recurrent import check_ttt


def affine_maps(k, v, theta, eta, alpha):
    """Per-token (M_t [..., T, 2d, 2d], B_t [..., T, d_v, 2d])."""
    d = k.shape[-1]
    eye = torch.eye(d, dtype=k.dtype, device=k.device)
    kk = k.unsqueeze(-1) * k.unsqueeze(-2)
    th, et, al = theta[..., None, None], eta[..., None, None], alpha[..., None, None]
    top = torch.cat([(1 - al) * eye - th * kk, -th * kk], dim=-1)
    bottom = torch.cat([et * eye.expand_as(kk), et * eye.expand_as(kk)], dim=-1)
    M = torch.cat([top, bottom], dim=-2)
    w = th * (v.unsqueeze(-1) * k.unsqueeze(-2))
    return M, torch.cat([w, w], dim=-1)


def prefix_scan(M, Bm):
    """Inclusive scan over axis -3 of affine maps; returns the composed maps from the start to each t."""
    T = M.shape[-3]
    off = 1
    while off < T:
        M_prev, B_prev = M[..., :-off, :, :], Bm[..., :-off, :, :]
        M_cur, B_cur = M[..., off:, :, :], Bm[..., off:, :, :]
        M = torch.cat([M[..., :off, :, :], M_prev @ M_cur], dim=-3)
        Bm = torch.cat([Bm[..., :off, :, :], B_prev @ M_cur + B_cur], dim=-3)
        off *= 2
    return M, Bm


def ttt_block(qs, k, v, theta, eta, alpha, X0):
    """All states of one block from X0 = [S, m]; returns (o, X_end)."""
    d = k.shape[-1]
    M, Bm = prefix_scan(*affine_maps(k, v, theta, eta, alpha))
    X = X0.unsqueeze(-3) @ M + Bm  # [..., T, d_v, 2d]
    o = (X[..., :d] @ qs.unsqueeze(-1)).squeeze(-1)
    return o, X[..., -1, :, :]


def ttt_parallel(q, k, v, theta, eta, alpha, *, scale=1.0, initial_state=None, output_final_state=False):
    _, theta, eta, alpha, S, m = check_ttt(q, k, v, theta, eta, alpha, initial_state)
    scale = check_scale(scale)
    d = k.shape[-1]
    o, X = ttt_block(scale * q, k, v, theta, eta, alpha, torch.cat([S, m], dim=-1))
    return o, ((X[..., :d], X[..., d:]) if output_final_state else None)
