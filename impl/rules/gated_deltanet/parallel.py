"""Gated DeltaNet, parallel (matrix) form (derived in theory/updates.py, docs/CLAIMS.md U2).

With G_tj = prod_{j < s <= t} a_s and G_t0 = prod_{s <= t} a_s, S_t = G_t0 S_0 + sum_{j <= t} G_tj u_j k_j^T where

    u_t = b_t (v_t - G_t0 S_0 k_t - sum_{j < t} G_tj (k_t^T k_j) u_j),
    i.e. (I + diag(b)(K K^T . G . M^-)) U = diag(b)(V - diag(G_0) K S_0^T),
    O = scale (Q K^T . G . M) U + scale diag(G_0) Q S_0^T,     S_T = G_T0 S_0 + U^T diag(G_T.) K.

G is built in log space and masked before exponentiating. With a = 1 this is DeltaNet's parallel form.
Conventions as ``recurrent.py``.
"""

from __future__ import annotations

import torch

from impl.numerics.solves import solve_unit_lower
from impl.rules.inputs import (
    check_qkv,
    check_scalar_gate,
    check_scalar_per_token,
    check_scale,
    check_state,
)


def gated_delta_block(qs, k, v, beta, logcum, S0):
    """One block with incoming state S0; logcum [..., C] cumulative log-gates from the block start (inclusive)."""
    C = k.shape[-2]
    strict = torch.ones(C, C, dtype=torch.bool, device=k.device).tril(-1)
    causal = torch.ones(C, C, dtype=torch.bool, device=k.device).tril()
    G = torch.exp((logcum.unsqueeze(-1) - logcum.unsqueeze(-2)).masked_fill(~causal, float("-inf")))  # G_tj
    g0 = torch.exp(logcum).unsqueeze(-1)  # G_t0
    A = (beta.unsqueeze(-1) * (k @ k.transpose(-1, -2)) * G).masked_fill(~strict, 0.0)
    eye = torch.eye(C, dtype=k.dtype, device=k.device)
    rhs = beta.unsqueeze(-1) * (v - g0 * (k @ S0.transpose(-1, -2)))
    U = solve_unit_lower(eye + A, rhs)
    o = ((qs @ k.transpose(-1, -2)) * G) @ U + g0 * (qs @ S0.transpose(-1, -2))
    last = logcum[..., -1:]
    S_end = torch.exp(last).unsqueeze(-1) * S0 + U.transpose(-1, -2) @ (torch.exp(last - logcum).unsqueeze(-1) * k)
    return o, S_end


def gated_delta_rule_parallel(q, k, v, beta, g, *, scale=1.0, initial_state=None, output_final_state=False, log_gates=False):
    B, H, T, d_k, d_v = check_qkv(q, k, v)
    beta = check_scalar_per_token("beta", beta, q, low=0.0, high=2.0)
    log_a = check_scalar_gate("g", g, q, log_gates=log_gates)
    scale = check_scale(scale)
    S0 = check_state(initial_state, B, H, d_v, d_k, q)
    o, S = gated_delta_block(scale * q, k, v, beta, torch.cumsum(log_a, dim=2), S0)
    return o, (S if output_final_state else None)
