"""Linear attention, recurrent form (the ground truth): an explicit loop over t.

    S_t = S_{t-1} + v_t k_t^T            S in R^{d_v x d_k}  (docs/CLAIMS.md orientation: S maps keys to values)
    o_t = S_t (scale * q_t)              read AFTER the write (token t sees itself, as in causal attention)

Conventions: q, k [B, H, T, d_k], v [B, H, T, d_v]; state [B, H, d_v, d_k]. ``scale`` multiplies q and defaults
to 1.0 (flash-linear-attention's ``fused_recurrent_linear_attn`` / ``naive_recurrent_linear_attn`` default to
d_k^-0.5 and store the state transposed, [B, H, d_k, d_v]: fla's h equals our S^T). No key normalisation and
no output normaliser (unnormalised linear attention, as in fla).
"""

from __future__ import annotations

import torch

from impl.rules.inputs import check_qkv, check_scale, check_state


def linear_attention_recurrent(q, k, v, *, scale=1.0, initial_state=None, output_final_state=False):
    """Returns (o [B, H, T, d_v], S_T [B, H, d_v, d_k] or None)."""
    B, H, T, d_k, d_v = check_qkv(q, k, v)
    scale = check_scale(scale)
    S = check_state(initial_state, B, H, d_v, d_k, q)
    outs = []
    for t in range(T):
        S = S + v[:, :, t, :, None] * k[:, :, t, None, :]  # + v_t k_t^T
        outs.append(S @ (scale * q[:, :, t, :, None]))  # o_t = S_t (scale q_t)
    o = torch.cat(outs, dim=-1).transpose(-1, -2)  # [B, H, T, d_v]
    return o, (S if output_final_state else None)
