"""Longhorn-style implicit update, recurrent form (the ground truth): an explicit loop over t.

    S_t = argmin_S ||S - S_{t-1}||_F^2 + b_t ||S k_t - v_t||^2            (one proximal step)
        = S_{t-1} - b'_t (S_{t-1} k_t - v_t) k_t^T,   b'_t = b_t / (1 + b_t ||k_t||^2)     (Sherman-Morrison)
    o_t = S_t (scale q_t)

The objective here weights the data term by b_t, not b_t/2, so the closed form has b_t, not b_t/2 (theory/updates.py
proves it). b_t >= 0 without upper bound: b'_t ||k_t||^2 < 1 always, so the step never overshoots.
Note: the Longhorn paper (Liu et al. 2024) implements a diagonal approximation of this step per value channel;
the suite uses the exact rank-one closed form stated in docs/CLAIMS.md U1. Conventions as impl/rules/deltanet/recurrent.py.
"""

from __future__ import annotations

import torch

from impl.rules.inputs import (
    check_qkv,
    check_scalar_per_token,
    check_scale,
    check_state,
)


def implicit_lr(beta, k):
    """b' = b / (1 + b ||k||^2), the learning rate of the closed-form proximal step."""
    return beta / (1.0 + beta * (k * k).sum(-1))


def check_longhorn(q, k, v, beta):
    B, H, T, d_k, d_v = check_qkv(q, k, v)
    beta = check_scalar_per_token("beta", beta, q, low=0.0, high=float("inf"))
    return (B, H, T, d_k, d_v), beta


def longhorn_recurrent(q, k, v, beta, *, scale=1.0, initial_state=None, output_final_state=False):
    (B, H, T, d_k, d_v), beta = check_longhorn(q, k, v, beta)
    scale = check_scale(scale)
    S = check_state(initial_state, B, H, d_v, d_k, q)
    outs = []
    for t in range(T):
        k_t, v_t = k[:, :, t, :, None], v[:, :, t, :, None]
        b_t = beta[:, :, t, None, None]
        lr = b_t / (1.0 + b_t * (k_t.transpose(-1, -2) @ k_t))
        S = S - lr * (S @ k_t - v_t) @ k_t.transpose(-1, -2)
        outs.append(S @ (scale * q[:, :, t, :, None]))
    o = torch.cat(outs, dim=-1).transpose(-1, -2)
    return o, (S if output_final_state else None)
