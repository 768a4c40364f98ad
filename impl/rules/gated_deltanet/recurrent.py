"""Gated DeltaNet, recurrent form (the ground truth): an explicit loop over t.

    S_t = a_t S_{t-1} (I - b_t k_t k_t^T) + b_t v_t k_t^T
        = S' - b_t (S' k_t - v_t) k_t^T   with  S' = a_t S_{t-1}        ("forget before error")
    o_t = S_t (scale q_t)                                                (read after the update)

Gate placement (as flash-linear-attention ``fused_recurrent_gated_delta_rule``): the state is decayed FIRST and the
prediction error is computed against the decayed state. a_t in (0, 1] is a scalar per token [B, H, T] (fla passes
g = log a; here too with ``log_gates=True``); b_t in [0, 2]. State S [B, H, d_v, d_k] (fla's h = S^T); ``scale``
explicit, default 1.0; keys are not normalised here.
"""

from __future__ import annotations

import torch

from impl.rules.inputs import (
    check_qkv,
    check_scalar_gate,
    check_scalar_per_token,
    check_scale,
    check_state,
)


def gated_delta_rule_recurrent(q, k, v, beta, g, *, scale=1.0, initial_state=None, output_final_state=False, log_gates=False):
    """Returns (o [B, H, T, d_v], S_T or None)."""
    B, H, T, d_k, d_v = check_qkv(q, k, v)
    beta = check_scalar_per_token("beta", beta, q, low=0.0, high=2.0)
    log_a = check_scalar_gate("g", g, q, log_gates=log_gates)
    scale = check_scale(scale)
    S = check_state(initial_state, B, H, d_v, d_k, q)
    a = torch.exp(log_a)
    outs = []
    for t in range(T):
        k_t, v_t = k[:, :, t, :, None], v[:, :, t, :, None]
        S = a[:, :, t, None, None] * S  # forget ...
        S = S - beta[:, :, t, None, None] * (S @ k_t - v_t) @ k_t.transpose(-1, -2)  # ... before the error
        outs.append(S @ (scale * q[:, :, t, :, None]))
    o = torch.cat(outs, dim=-1).transpose(-1, -2)
    return o, (S if output_final_state else None)
