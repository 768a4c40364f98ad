"""Decaying linear attention, parallel (matrix) form (docs/CLAIMS.md U2):

    o_t = sum_{j <= t} v_j (k_j . G_tj)^T (scale q_t) + S_0 (G_t0 . scale q_t),
    G_tj = prod_{j < s <= t} a_s = exp(L_t - L_j),   G_t0 = exp(L_t),   L_t = sum_{s <= t} log a_s

(for a scalar gate this is O = ((Q K^T) . G . M) V + ...). The decay matrix is formed in log space, masked above the
diagonal before exponentiating (no overflow). A per-channel (GLA) gate makes G [T, T, d_k]: fine for the sizes the
suite checks; the chunked form keeps it to [C, C, d_k]. Conventions as ``recurrent.py``.
"""

from __future__ import annotations

import torch

from impl.rules.inputs import check_gate, check_qkv, check_scale, check_state


def decay_block(qs, k, v, logcum, S0):
    """One block with incoming state S0: returns (o, S_end). logcum [..., C, d_k] = cumulative log-gates
    from the block start (inclusive). qs is the scaled query. Used by parallel (one block) and chunk forms."""
    C = qs.shape[-2]
    diff = logcum.unsqueeze(-2) - logcum.unsqueeze(-3)  # [..., t, j, d_k] = L_t - L_j
    mask = torch.ones(C, C, dtype=torch.bool, device=qs.device).tril().unsqueeze(-1)
    G = torch.exp(diff.masked_fill(~mask, float("-inf")))
    scores = torch.einsum("...td,...tjd,...jd->...tj", qs, G, k)
    o = scores @ v + (qs * torch.exp(logcum)) @ S0.transpose(-1, -2)
    last = logcum[..., -1:, :]  # L_C
    S_end = S0 * torch.exp(last) + v.transpose(-1, -2) @ (k * torch.exp(last - logcum))
    return o, S_end


def decay_parallel(q, k, v, g, *, scale=1.0, initial_state=None, output_final_state=False):
    B, H, T, d_k, d_v = check_qkv(q, k, v)
    _, log_a = check_gate("g", g, q)
    scale = check_scale(scale)
    S0 = check_state(initial_state, B, H, d_v, d_k, q)
    o, S = decay_block(scale * q, k, v, torch.cumsum(log_a, dim=2), S0)
    return o, (S if output_final_state else None)
