"""Longhorn, chunked form: DeltaNet's WY/UT chunked form (impl/rules/deltanet/chunk.py) with b' = b / (1 + b ||k||^2)."""

from __future__ import annotations

from impl.rules.deltanet.chunk import delta_chunk_core
from impl.rules.inputs import check_chunk_size, check_scale, check_state
from impl.rules.longhorn.recurrent import check_longhorn, implicit_lr


def longhorn_chunk(q, k, v, beta, *, scale=1.0, initial_state=None, output_final_state=False, chunk_size=64):
    (B, H, T, d_k, d_v), beta = check_longhorn(q, k, v, beta)
    scale = check_scale(scale)
    C = check_chunk_size(chunk_size)
    S = check_state(initial_state, B, H, d_v, d_k, q)
    o, S = delta_chunk_core(scale * q, k, v, implicit_lr(beta, k), S, C)
    return o, (S if output_final_state else None)
