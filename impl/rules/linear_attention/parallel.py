"""Linear attention, parallel (matrix) form (docs/CLAIMS.md U2):

    O = scale (Q K^T . M) V + scale Q S_0^T,        M_ij = 1[j <= i] (causal, inclusive),
    S_T = S_0 + V^T K.

Same conventions as ``recurrent.py`` (state [B, H, d_v, d_k], explicit ``scale`` default 1.0).
"""

from __future__ import annotations

import torch

from impl.rules.inputs import check_qkv, check_scale, check_state


def linear_attention_parallel(q, k, v, *, scale=1.0, initial_state=None, output_final_state=False):
    B, H, T, d_k, d_v = check_qkv(q, k, v)
    scale = check_scale(scale)
    S0 = check_state(initial_state, B, H, d_v, d_k, q)
    qs = scale * q
    mask = torch.ones(T, T, dtype=torch.bool, device=q.device).tril()
    scores = (qs @ k.transpose(-1, -2)).masked_fill(~mask, 0.0)
    o = scores @ v + qs @ S0.transpose(-1, -2)
    S = S0 + v.transpose(-1, -2) @ k if output_final_state else None
    return o, S
