"""Linear attention, chunked form: the parallel form inside each chunk of C tokens, the state passed between
chunks. For a chunk with incoming state S:

    O_c = scale (Q_c K_c^T . M) V_c + scale Q_c S^T,      S <- S + V_c^T K_c.

Any T and any C >= 1 (the tail is zero-padded, see impl/numerics/chunking.py). Conventions as ``recurrent.py``.
"""

from __future__ import annotations

import torch

from impl.numerics.chunking import from_chunks, to_chunks
from impl.rules.inputs import check_chunk_size, check_qkv, check_scale, check_state


def linear_attention_chunk(q, k, v, *, scale=1.0, initial_state=None, output_final_state=False, chunk_size=64):
    B, H, T, d_k, d_v = check_qkv(q, k, v)
    scale = check_scale(scale)
    C = check_chunk_size(chunk_size)
    S = check_state(initial_state, B, H, d_v, d_k, q)
    qc, kc, vc = to_chunks(scale * q, C), to_chunks(k, C), to_chunks(v, C)
    mask = torch.ones(C, C, dtype=torch.bool, device=q.device).tril()
    intra = (qc @ kc.transpose(-1, -2)).masked_fill(~mask, 0.0) @ vc  # all chunks at once
    outs = []
    for i in range(qc.shape[2]):
        outs.append(intra[:, :, i] + qc[:, :, i] @ S.transpose(-1, -2))
        S = S + vc[:, :, i].transpose(-1, -2) @ kc[:, :, i]
    o = from_chunks(torch.stack(outs, dim=2), T)
    return o, (S if output_final_state else None)
