"""Softmax attention, chunked form (flash-attention's blockwise online softmax): queries in blocks of C, keys in
blocks of C; per (query block, key block) the running maximum, numerator and denominator are rescaled and
updated. Any T, any C. Conventions as ``recurrent.py``."""

from __future__ import annotations

import torch

from impl.rules.inputs import check_chunk_size, check_qkv, check_scale
from impl.rules.softmax_attention.recurrent import check_cache


def softmax_attention_chunk(q, k, v, *, scale=1.0, initial_state=None, output_final_state=False, chunk_size=64):
    B, H, T, d_k, d_v = check_qkv(q, k, v)
    scale = check_scale(scale)
    C = check_chunk_size(chunk_size)
    K0, V0 = check_cache(initial_state, q, v)
    K, V = torch.cat([K0, k], dim=2), torch.cat([V0, v], dim=2)
    T0 = K0.shape[2]
    outs = []
    for qs in range(0, T, C):
        qb = scale * q[:, :, qs:qs + C]
        rows = torch.arange(qs, qs + qb.shape[2], device=q.device) + T0  # absolute positions of the queries
        m = torch.full((*qb.shape[:3], 1), float("-inf"), dtype=q.dtype, device=q.device)
        num = q.new_zeros(*qb.shape[:3], d_v)
        den = q.new_zeros(*qb.shape[:3], 1)
        for ks in range(0, T0 + qs + qb.shape[2], C):
            kb, vb = K[:, :, ks:ks + C], V[:, :, ks:ks + C]
            cols = torch.arange(ks, ks + kb.shape[2], device=q.device)
            s = (qb @ kb.transpose(-1, -2)).masked_fill(cols[None, :] > rows[:, None], float("-inf"))
            m_new = torch.maximum(m, s.amax(-1, keepdim=True))
            c = torch.exp(m - m_new)
            w = torch.exp(s - m_new)
            num = c * num + w @ vb
            den = c * den + w.sum(-1, keepdim=True)
            m = m_new
        outs.append(num / den)
    o = torch.cat(outs, dim=2)
    return o, ((K, V) if output_final_state else None)
