"""Longhorn, parallel form: DeltaNet's parallel form (impl/rules/deltanet/parallel.py) with b' = b / (1 + b ||k||^2)."""

from __future__ import annotations

from impl.rules.deltanet.parallel import delta_block
from impl.rules.inputs import check_scale, check_state
from impl.rules.longhorn.recurrent import check_longhorn, implicit_lr


def longhorn_parallel(q, k, v, beta, *, scale=1.0, initial_state=None, output_final_state=False):
    (B, H, T, d_k, d_v), beta = check_longhorn(q, k, v, beta)
    scale = check_scale(scale)
    S0 = check_state(initial_state, B, H, d_v, d_k, q)
    o, S = delta_block(scale * q, k, v, implicit_lr(beta, k), S0)
    return o, (S if output_final_state else None)
