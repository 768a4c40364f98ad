"""Decaying linear attention, recurrent form (the ground truth): an explicit loop over t.

    S_t = S_{t-1} diag(a_t) + v_t k_t^T,     o_t = S_t (scale q_t)     (read after the write)

a_t in (0, 1]: a scalar per token [B, H, T] gives RetNet (a constant) and Mamba2 (data-dependent), S_t = a_t S_{t-1}
+ v_t k_t^T; a vector per key channel [B, H, T, d_k] gives GLA (with ``log_gates=True``, g holds log a <= 0). It is
one gradient step, lr 1, on -<S k_t, v_t> + 1/2 ||S diag(1 - a_t)^{1/2}||^2 (weight decay), see theory/updates.py.

Conventions: state S [B, H, d_v, d_k] (flash-linear-attention's h is S^T, [B, H, d_k, d_v]); gates are passed as
a by default (fla's ``chunk_gla`` / ``chunk_simple_gla`` take g = log a: pass ``log_gates=True``); ``scale`` explicit,
default 1.0.
"""

from __future__ import annotations

import torch

from impl.rules.inputs import check_gate, check_qkv, check_scale, check_state


def decay_recurrent(q, k, v, g, *, scale=1.0, initial_state=None, output_final_state=False, log_gates=False):
    """Returns (o [B, H, T, d_v], S_T or None). ``log_gates``: g holds log a <= 0."""
    B, H, T, d_k, d_v = check_qkv(q, k, v)
    a, _ = check_gate("g", g, q, log_gates=log_gates)
    scale = check_scale(scale)
    S = check_state(initial_state, B, H, d_v, d_k, q)
    outs = []
    for t in range(T):
        S = S * a[:, :, t, None, :] + v[:, :, t, :, None] * k[:, :, t, None, :]  # S diag(a_t) + v_t k_t^T
        outs.append(S @ (scale * q[:, :, t, :, None]))
    o = torch.cat(outs, dim=-1).transpose(-1, -2)
    return o, (S if output_final_state else None)
