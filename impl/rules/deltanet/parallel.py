"""DeltaNet, parallel (matrix) form (docs/CLAIMS.md U2).

Write S_t = S_0 + sum_{j <= t} u_j k_j^T. The recurrence S_t = S_{t-1} + b_t (v_t - S_{t-1} k_t) k_t^T gives
u_t = b_t (v_t - S_0 k_t - sum_{j < t} (k_t^T k_j) u_j), i.e. the unit lower-triangular system

    (I + diag(b) (K K^T . M^-)) U = diag(b) (V - K S_0^T),      M^- strictly lower triangular,

and then  O = scale (Q K^T . M) U + scale Q S_0^T,  S_T = S_0 + U^T K.  With S_0 = 0 this is the paper's
O = (Q K^T . M)(I + diag(b)(K K^T . M^-))^{-1} diag(b) V. The system is solved by forward substitution
(``impl.numerics.solves.solve_unit_lower``, unit diagonal), never by forming the inverse. Conventions as ``recurrent.py``.
"""

from __future__ import annotations

import torch

from impl.numerics.solves import solve_unit_lower
from impl.rules.inputs import (
    check_qkv,
    check_scalar_per_token,
    check_scale,
    check_state,
)


def delta_block(qs, k, v, beta, S0):
    """One block with incoming state S0 (all of [..., C, d] at once): returns (o, S_end)."""
    C = k.shape[-2]
    strict = torch.ones(C, C, dtype=torch.bool, device=k.device).tril(-1)
    A = (beta.unsqueeze(-1) * (k @ k.transpose(-1, -2))).masked_fill(~strict, 0.0)
    eye = torch.eye(C, dtype=k.dtype, device=k.device)
    rhs = beta.unsqueeze(-1) * (v - k @ S0.transpose(-1, -2))
    U = solve_unit_lower(eye + A, rhs)
    scores = (qs @ k.transpose(-1, -2)).masked_fill(~(strict | torch.eye(C, dtype=torch.bool, device=k.device)), 0.0)
    o = scores @ U + qs @ S0.transpose(-1, -2)
    return o, S0 + U.transpose(-1, -2) @ k


def delta_rule_parallel(q, k, v, beta, *, scale=1.0, initial_state=None, output_final_state=False):
    B, H, T, d_k, d_v = check_qkv(q, k, v)
    beta = check_scalar_per_token("beta", beta, q, low=0.0, high=2.0)
    scale = check_scale(scale)
    S0 = check_state(initial_state, B, H, d_v, d_k, q)
    o, S = delta_block(scale * q, k, v, beta, S0)
    return o, (S if output_final_state else None)
