"""DeltaNet, chunked form with the WY/UT representation (docs/CLAIMS.md U2; flash-linear-attention ``chunk_delta_rule``).

Inside a chunk of C tokens with incoming state S, the parallel form (``parallel.py``) reads
U = T_c (V_c - K_c S^T) with the UT transform T_c = (I + tril(diag(b) K_c K_c^T, -1))^{-1} diag(b). T_c depends on
the chunk's keys only, so for every chunk at once (one batched triangular solve) we precompute

    W_c = T_c K_c,   U'_c = T_c V_c        (WY representation: U = U'_c - W_c S^T)

and then pass the state through the chunks, two matmuls each (the S-free parts batched over all chunks first):

    U = U'_c - W_c S^T,   O_c = scale (Q_c K_c^T . M) U + scale Q_c S^T
                              = (Q_c K_c^T . M) U'_c + (Q_c - (Q_c K_c^T . M) W_c) S^T   (scale folded into Q),
    S <- S + U^T K_c.

Any T and any C >= 1 (tail padded with k = v = 0, b = 0: it writes nothing). Conventions as ``recurrent.py``.
"""

from __future__ import annotations

import torch

from impl.numerics.chunking import from_chunks, to_chunks
from impl.numerics.solves import solve_unit_lower
from impl.rules.inputs import (
    check_chunk_size,
    check_qkv,
    check_scalar_per_token,
    check_scale,
    check_state,
)


def delta_rule_chunk(q, k, v, beta, *, scale=1.0, initial_state=None, output_final_state=False, chunk_size=64):
    B, H, T, d_k, d_v = check_qkv(q, k, v)
    beta = check_scalar_per_token("beta", beta, q, low=0.0, high=2.0)
    scale = check_scale(scale)
    C = check_chunk_size(chunk_size)
    S = check_state(initial_state, B, H, d_v, d_k, q)
    o, S = delta_chunk_core(scale * q, k, v, beta, S, C)
    return o, (S if output_final_state else None)


GROUP = 16  # chunks precomputed together: keeps the batched intermediates cache-sized for long sequences


def delta_chunk_core(qs, k, v, beta, S, C):
    """The unchecked chunked computation (scaled queries ``qs``); returns (o, S_T). Shared with Longhorn.
    The S-free precomputation runs GROUP chunks at a time (same arithmetic, better cache use at large T)."""
    T, d_k = k.shape[2], k.shape[3]
    qc, kc, vc, bc = to_chunks(qs, C), to_chunks(k, C), to_chunks(v, C), to_chunks(beta, C)
    strict = torch.ones(C, C, dtype=torch.bool, device=k.device).tril(-1)
    causal = torch.ones(C, C, dtype=torch.bool, device=k.device).tril()
    eye = torch.eye(C, dtype=k.dtype, device=k.device)
    outs = []
    for g in range(0, qc.shape[2], GROUP):
        q_g, k_g, v_g, b_g = (x[:, :, g : g + GROUP] for x in (qc, kc, vc, bc))
        A = (b_g.unsqueeze(-1) * (k_g @ k_g.transpose(-1, -2))).masked_fill(~strict, 0.0)
        # T_c [K_c, V_c] for every chunk of the group (UT transform, one batched triangular solve)
        WU = solve_unit_lower(eye + A, b_g.unsqueeze(-1) * torch.cat([k_g, v_g], dim=-1))
        W, U0 = WU[..., :d_k], WU[..., d_k:]
        scores = (q_g @ k_g.transpose(-1, -2)).masked_fill(~causal, 0.0)
        # O_c = scores (U'_c - W_c S^T) + Q_c S^T = scores U'_c + (Q_c - scores W_c) S^T: what does not involve S
        # is done for the whole group at once, leaving one stacked product [W_c; Q_c - scores W_c] S^T per chunk.
        sWU = scores @ WU  # [scores W_c, scores U'_c] in one product
        intra = sWU[..., d_k:]
        WQ = torch.cat([W, q_g - sWU[..., :d_k]], dim=-2)  # [B, H, G, 2C, d_k]
        for i in range(q_g.shape[2]):
            X = WQ[:, :, i] @ S.transpose(-1, -2)  # [2C, d_v]: W_c S^T and (Q_c - scores W_c) S^T
            U = U0[:, :, i] - X[..., :C, :]
            outs.append(intra[:, :, i] + X[..., C:, :])
            S = S + U.transpose(-1, -2) @ k_g[:, :, i]
    return from_chunks(torch.stack(outs, dim=2), T), S
