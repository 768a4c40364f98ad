"""Gated DeltaNet, chunked form (flash-linear-attention ``chunk_gated_delta_rule``): per chunk the UT transform
T_c = (I + diag(b)(K_c K_c^T . G . M^-))^{-1} diag(b), applied to [diag(G_0) K_c, V_c] for all chunks in one
batched triangular solve (W_c = T_c diag(G_0) K_c, U'_c = T_c V_c), then the state passed chunk by chunk:

    U = U'_c - W_c S^T,   O_c = scale (Q_c K_c^T . G . M) U + scale diag(G_0) Q_c S^T,
    S <- G_C0 S + U^T diag(G_C.) K_c,

(the S-free products for all chunks at once, leaving one stacked product and one state update per chunk),

with log-gates accumulated from each chunk's start. Any T, any chunk size (tail: k = v = 0, b = 0, a = 1).
Conventions as ``recurrent.py``.
"""

from __future__ import annotations

import torch

from impl.numerics.chunking import from_chunks, to_chunks
from impl.numerics.solves import solve_unit_lower
from impl.rules.inputs import (
    check_chunk_size,
    check_qkv,
    check_scalar_gate,
    check_scalar_per_token,
    check_scale,
    check_state,
)


def gated_delta_rule_chunk(q, k, v, beta, g, *, scale=1.0, initial_state=None, output_final_state=False, chunk_size=64,
                             log_gates=False):
    B, H, T, d_k, d_v = check_qkv(q, k, v)
    beta = check_scalar_per_token("beta", beta, q, low=0.0, high=2.0)
    log_a = check_scalar_gate("g", g, q, log_gates=log_gates)
    scale = check_scale(scale)
    C = check_chunk_size(chunk_size)
    S = check_state(initial_state, B, H, d_v, d_k, q)
    qc, kc, vc, bc = to_chunks(scale * q, C), to_chunks(k, C), to_chunks(v, C), to_chunks(beta, C)
    L = torch.cumsum(to_chunks(log_a, C), dim=3)  # [B, H, n, C]
    strict = torch.ones(C, C, dtype=torch.bool, device=q.device).tril(-1)
    causal = torch.ones(C, C, dtype=torch.bool, device=q.device).tril()
    G = torch.exp((L.unsqueeze(-1) - L.unsqueeze(-2)).masked_fill(~causal, float("-inf")))
    g0 = torch.exp(L).unsqueeze(-1)
    A = (bc.unsqueeze(-1) * (kc @ kc.transpose(-1, -2)) * G).masked_fill(~strict, 0.0)
    eye = torch.eye(C, dtype=q.dtype, device=q.device)
    WU = solve_unit_lower(eye + A, bc.unsqueeze(-1) * torch.cat([g0 * kc, vc], dim=-1))
    W, U0 = WU[..., :d_k], WU[..., d_k:]
    scores = (qc @ kc.transpose(-1, -2)) * G
    # O_c = scores (U'_c - W_c S^T) + diag(G_0) Q_c S^T = scores U'_c + (diag(G_0) Q_c - scores W_c) S^T: the S-free
    # parts for all chunks at once, then one stacked product [W_c; diag(G_0) Q_c - scores W_c] S^T per chunk.
    sWU = scores @ WU
    intra = sWU[..., d_k:]
    WQ = torch.cat([W, g0 * qc - sWU[..., :d_k]], dim=-2)  # [B, H, n, 2C, d_k]
    k_to_end = torch.exp(L[..., -1:] - L).unsqueeze(-1) * kc  # diag(G_C.) K_c
    decay_all = torch.exp(L[..., -1])  # G_C0 per chunk
    outs = []
    for i in range(qc.shape[2]):
        X = WQ[:, :, i] @ S.transpose(-1, -2)  # [2C, d_v]: W_c S^T and (diag(G_0) Q_c - scores W_c) S^T
        outs.append(intra[:, :, i] + X[..., C:, :])
        S = decay_all[:, :, i, None, None] * S + (U0[:, :, i] - X[..., :C, :]).transpose(-1, -2) @ k_to_end[:, :, i]
    o = from_chunks(torch.stack(outs, dim=2), T)
    return o, (S if output_final_state else None)
