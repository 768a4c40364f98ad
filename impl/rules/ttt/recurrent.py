"""TTT-linear / Titans memory, recurrent form (the ground truth): an explicit loop over t.

    m_t = eta_t m_{t-1} - theta_t (S_{t-1} k_t - v_t) k_t^T        (momentum on the gradient of 1/2 ||S k - v||^2)
    S_t = (1 - alpha_t) S_{t-1} + m_t                               (weight decay, then the momentum step)
    o_t = S_t (scale q_t)

Titans (Behrouz et al. 2025, Eq. 13-14) with a linear memory; eta = alpha = 0 gives the delta rule with lr theta
(TTT-linear's online variant). The gradient is taken at S_{t-1} (before the decay), as in Titans.
Ranges: theta_t in [0, 2], eta_t in [0, 1], alpha_t in [0, 1], all [B, H, T]. State: the pair
(S [B, H, d_v, d_k], m [B, H, d_v, d_k]), default zeros. Conventions otherwise as impl/rules/deltanet/recurrent.py.
"""

from __future__ import annotations

import torch

from impl.numerics.errors import InputError
from impl.rules.inputs import (
    check_qkv,
    check_scalar_per_token,
    check_scale,
    check_state,
)


def check_ttt(q, k, v, theta, eta, alpha, initial_state):
    B, H, T, d_k, d_v = check_qkv(q, k, v)
    theta = check_scalar_per_token("theta", theta, q, low=0.0, high=2.0)
    eta = check_scalar_per_token("eta", eta, q, low=0.0, high=1.0)
    alpha = check_scalar_per_token("alpha", alpha, q, low=0.0, high=1.0)
    if initial_state is None:
        S = check_state(None, B, H, d_v, d_k, q)
        m = torch.zeros_like(S)
    else:
        if not isinstance(initial_state, (tuple, list)) or len(initial_state) != 2:
            raise InputError("initial_state", "must be a pair (S, m), each [B, H, d_v, d_k]")
        S = check_state(initial_state[0], B, H, d_v, d_k, q)
        m = check_state(initial_state[1], B, H, d_v, d_k, q)
    return (B, H, T, d_k, d_v), theta, eta, alpha, S, m


def ttt_recurrent(q, k, v, theta, eta, alpha, *, scale=1.0, initial_state=None, output_final_state=False):
    """Returns (o [B, H, T, d_v], (S_T, m_T) or None)."""
    _, theta, eta, alpha, S, m = check_ttt(q, k, v, theta, eta, alpha, initial_state)
    scale = check_scale(scale)
    outs = []
    for t in range(q.shape[2]):
        k_t, v_t = k[:, :, t, :, None], v[:, :, t, :, None]
        grad = (S @ k_t - v_t) @ k_t.transpose(-1, -2)
        m = eta[:, :, t, None, None] * m - theta[:, :, t, None, None] * grad
        S = (1.0 - alpha[:, :, t, None, None]) * S + m
        outs.append(S @ (scale * q[:, :, t, :, None]))
    o = torch.cat(outs, dim=-1).transpose(-1, -2)
    return o, ((S, m) if output_final_state else None)
