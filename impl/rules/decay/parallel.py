"""Decaying linear attention, parallel (matrix) form (docs/CLAIMS.md U2):

    o_t = sum_{j <= t} v_j (k_j . G_tj)^T (scale q_t) + S_0 (G_t0 . scale q_t),
    G_tj = prod_{j < s <= t} a_s = exp(L_t - L_j),   G_t0 = exp(L_t),   L_t = sum_{s <= t} log a_s

For a scalar gate (RetNet, Mamba2) G is [T, T] and this is O = ((Q K^T) . G . M) V + diag(G_0) Q S_0^T: the gate is
never expanded over the key channels. For a per-channel gate (GLA) G_tj is a vector over the key channels; the
scores are then (Q . e^L)(K . e^-L)^T (the decay factorised through the block's cumulative log-gate), which is exact
and as accurate as forming G [T, T, d_k] while every e^{+-L} stays inside the dtype's range; where the log-gates
spread further than that (gates near 0 over many tokens) the block falls back to forming G explicitly, in log space,
masked above the diagonal before exponentiating. Gates as a in (0, 1] or, with ``log_gates``, as log a.
Conventions as ``recurrent.py``.
"""

from __future__ import annotations

import math

import torch

from impl.rules.inputs import check_gate, check_qkv, check_scalar_gate, check_scale, check_state


def safe_spread(dtype) -> float:
    """Largest log-gate spread |L| for which e^{+-L} and their products stay finite and normal in ``dtype``."""
    return math.log(torch.finfo(dtype).max) / 2 - 4


def scalar_decay_block(qs, k, v, logcum, S0):
    """One block, scalar gate: logcum [..., C] cumulative log-gates from the block start. Returns (o, S_end)."""
    C = qs.shape[-2]
    causal = torch.ones(C, C, dtype=torch.bool, device=qs.device).tril()
    G = torch.exp((logcum.unsqueeze(-1) - logcum.unsqueeze(-2)).masked_fill(~causal, float("-inf")))
    o = ((qs @ k.transpose(-1, -2)) * G) @ v + (qs * torch.exp(logcum).unsqueeze(-1)) @ S0.transpose(-1, -2)
    last = logcum[..., -1:]
    S_end = torch.exp(last).unsqueeze(-1) * S0 + v.transpose(-1, -2) @ (k * torch.exp(last - logcum).unsqueeze(-1))
    return o, S_end


def channel_scores(qs, k, logcum):
    """(Q K^T . G . M) for a per-channel gate, logcum [..., C, d_k]: factorised when the spread allows."""
    C = qs.shape[-2]
    causal = torch.ones(C, C, dtype=torch.bool, device=qs.device).tril()
    if logcum.numel() == 0 or float(-logcum.detach().min()) <= safe_spread(logcum.dtype):
        return ((qs * torch.exp(logcum)) @ (k * torch.exp(-logcum)).transpose(-1, -2)).masked_fill(~causal, 0.0)
    diff = (logcum.unsqueeze(-2) - logcum.unsqueeze(-3)).masked_fill(~causal.unsqueeze(-1), float("-inf"))
    return torch.einsum("...td,...tjd,...jd->...tj", qs, torch.exp(diff), k)


def decay_block(qs, k, v, logcum, S0):
    """One block with incoming state S0, per-channel gate: logcum [..., C, d_k]. Returns (o, S_end)."""
    o = channel_scores(qs, k, logcum) @ v + (qs * torch.exp(logcum)) @ S0.transpose(-1, -2)
    last = logcum[..., -1:, :]  # L_C
    S_end = S0 * torch.exp(last) + v.transpose(-1, -2) @ (k * torch.exp(last - logcum))
    return o, S_end


def decay_parallel(q, k, v, g, *, scale=1.0, initial_state=None, output_final_state=False, log_gates=False):
    B, H, T, d_k, d_v = check_qkv(q, k, v)
    scale = check_scale(scale)
    S0 = check_state(initial_state, B, H, d_v, d_k, q)
    if isinstance(g, torch.Tensor) and g.dim() == 3:
        o, S = scalar_decay_block(scale * q, k, v, torch.cumsum(check_scalar_gate("g", g, q, log_gates=log_gates), dim=2), S0)
    else:
        _, log_a = check_gate("g", g, q, log_gates=log_gates)
        o, S = decay_block(scale * q, k, v, torch.cumsum(log_a, dim=2), S0)
    return o, (S if output_final_state else None)
