"""Decaying linear attention, chunked form: the parallel form of ``parallel.py`` inside each chunk (log-gates
accumulated from the chunk start), the state decayed and passed between chunks:

    S <- S diag(exp(L_C)) + sum_{j in chunk} v_j (k_j . exp(L_C - L_j))^T.

Any T and any chunk size (padding: k = v = 0, a = 1). Conventions as ``recurrent.py``.
"""

from __future__ import annotations

import torch

from impl.numerics.chunking import from_chunks, to_chunks
from impl.rules.decay.parallel import decay_block
from impl.rules.inputs import (
    check_chunk_size,
    check_gate,
    check_qkv,
    check_scale,
    check_state,
)


def decay_chunk(q, k, v, g, *, scale=1.0, initial_state=None, output_final_state=False, chunk_size=64):
    B, H, T, d_k, d_v = check_qkv(q, k, v)
    _, log_a = check_gate("g", g, q)
    scale = check_scale(scale)
    C = check_chunk_size(chunk_size)
    S = check_state(initial_state, B, H, d_v, d_k, q)
    qc, kc, vc = to_chunks(scale * q, C), to_chunks(k, C), to_chunks(v, C)
    logcum = torch.cumsum(to_chunks(log_a, C), dim=3)  # padded log a = 0
    outs = []
    for i in range(qc.shape[2]):
        o_i, S = decay_block(qc[:, :, i], kc[:, :, i], vc[:, :, i], logcum[:, :, i], S)
        outs.append(o_i)
    o = from_chunks(torch.stack(outs, dim=2), T)
    return o, (S if output_final_state else None)
