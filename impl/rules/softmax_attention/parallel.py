"""Softmax attention, parallel form: O = softmax(scale Q [K_0; K]^T + causal mask) [V_0; V] (log-sum-exp inside
``torch.softmax``). Conventions as ``recurrent.py``."""

from __future__ import annotations

import torch

from impl.rules.inputs import check_qkv, check_scale
from impl.rules.softmax_attention.recurrent import check_cache


def softmax_attention_parallel(q, k, v, *, scale=1.0, initial_state=None, output_final_state=False):
    B, H, T, d_k, d_v = check_qkv(q, k, v)
    scale = check_scale(scale)
    K0, V0 = check_cache(initial_state, q, v)
    K, V = torch.cat([K0, k], dim=2), torch.cat([V0, v], dim=2)
    T0 = K0.shape[2]
    allowed = torch.ones(T, T0 + T, dtype=torch.bool, device=q.device).tril(T0)
    scores = (scale * q @ K.transpose(-1, -2)).masked_fill(~allowed, float("-inf"))
    o = torch.softmax(scores, dim=-1) @ V
    return o, ((K, V) if output_final_state else None)
