"""Decaying linear attention, chunked form: the parallel form of ``parallel.py`` inside each chunk (log-gates
accumulated from the chunk start), for all chunks at once, then the state decayed and passed between chunks:

    O_c += (Q_c . e^{L}) S^T,        S <- S diag(e^{L_C}) + V_c^T (K_c . e^{L_C - L})

(a scalar gate stays a scalar: G is [C, C], never [C, C, d_k]). Any T and any chunk size (padding: k = v = 0,
log a = 0). Gates as a or, with ``log_gates``, as log a. Conventions as ``recurrent.py``.
"""

from __future__ import annotations

import torch

from impl.numerics.chunking import from_chunks, to_chunks
from impl.rules.decay.parallel import channel_scores
from impl.rules.inputs import (
    check_chunk_size,
    check_gate,
    check_qkv,
    check_scalar_gate,
    check_scale,
    check_state,
)


def decay_chunk(q, k, v, g, *, scale=1.0, initial_state=None, output_final_state=False, chunk_size=64,
                log_gates=False):
    B, H, T, d_k, d_v = check_qkv(q, k, v)
    scalar = isinstance(g, torch.Tensor) and g.dim() == 3
    log_a = check_scalar_gate("g", g, q, log_gates=log_gates) if scalar else check_gate("g", g, q, log_gates=log_gates)[1]
    scale = check_scale(scale)
    C = check_chunk_size(chunk_size)
    S = check_state(initial_state, B, H, d_v, d_k, q)
    qc, kc, vc = to_chunks(scale * q, C), to_chunks(k, C), to_chunks(v, C)
    L = torch.cumsum(to_chunks(log_a, C), dim=3)  # [B, H, n, C] or [B, H, n, C, d_k]; padded log a = 0
    if scalar:
        causal = torch.ones(C, C, dtype=torch.bool, device=q.device).tril()
        G = torch.exp((L.unsqueeze(-1) - L.unsqueeze(-2)).masked_fill(~causal, float("-inf")))
        intra = ((qc @ kc.transpose(-1, -2)) * G) @ vc
        L = L.unsqueeze(-1)  # broadcast over the key channels below
        decay_all = torch.exp(L[:, :, :, -1])  # [B, H, n, 1]: the state's decay over a whole chunk
    else:
        intra = channel_scores(qc, kc, L) @ vc
        decay_all = torch.exp(L[:, :, :, -1]).unsqueeze(-2)  # [B, H, n, 1, d_k]
    q_dec = qc * torch.exp(L)
    k_to_end = kc * torch.exp(L[:, :, :, -1:] - L)
    outs = []
    for i in range(qc.shape[2]):
        outs.append(intra[:, :, i] + q_dec[:, :, i] @ S.transpose(-1, -2))
        S = S * decay_all[:, :, i].unsqueeze(-1) if scalar else S * decay_all[:, :, i]
        S = S + vc[:, :, i].transpose(-1, -2) @ k_to_end[:, :, i]
    o = from_chunks(torch.stack(outs, dim=2), T)
    return o, (S if output_final_state else None)
