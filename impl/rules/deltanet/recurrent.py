"""DeltaNet (the delta rule), recurrent form (the ground truth): an explicit loop over t.

    S_t = S_{t-1} (I - b_t k_t k_t^T) + b_t v_t k_t^T  =  S_{t-1} - b_t (S_{t-1} k_t - v_t) k_t^T
    o_t = S_t (scale * q_t)              read AFTER the update (as flash-linear-attention does)

i.e. one gradient step, learning rate b_t, on the per-token loss 1/2 ||S k_t - v_t||^2 (docs/CLAIMS.md U1).

Conventions:
- q, k [B, H, T, d_k], v [B, H, T, d_v], beta [B, H, T] with b in [0, 2]; state S [B, H, d_v, d_k]
  (docs/CLAIMS.md orientation: S maps keys to values, o = S q).
- flash-linear-attention (``fla.ops.delta_rule``, ``naive_recurrent_delta_rule``) stores the state transposed,
  h = S^T of shape [B, H, d_k, d_v], and by default scales q by d_k^-0.5; here ``scale`` is explicit and defaults
  to 1.0. fla's kernels usually L2-normalise q and k (``use_qk_l2norm_in_kernel``); we never normalise: pass
  unit keys if you want them (the eigenvalue facts of U3 assume ||k|| = 1).
- b outside [0, 2] is refused (InputError): for unit keys the transition's eigenvalue 1 - b along k then leaves
  [-1, 1] and the recurrence is not a contraction.
"""

from __future__ import annotations

import torch

from impl.rules.inputs import (
    check_qkv,
    check_scalar_per_token,
    check_scale,
    check_state,
)


def delta_rule_recurrent(q, k, v, beta, *, scale=1.0, initial_state=None, output_final_state=False):
    """Returns (o [B, H, T, d_v], S_T [B, H, d_v, d_k] or None)."""
    B, H, T, d_k, d_v = check_qkv(q, k, v)
    beta = check_scalar_per_token("beta", beta, q, low=0.0, high=2.0)
    scale = check_scale(scale)
    S = check_state(initial_state, B, H, d_v, d_k, q)
    outs = []
    for t in range(T):
        k_t = k[:, :, t, :, None]  # [B, H, d_k, 1]
        v_t = v[:, :, t, :, None]  # [B, H, d_v, 1]
        b_t = beta[:, :, t, None, None]
        error = S @ k_t - v_t  # S_{t-1} k_t - v_t
        S = S - b_t * error @ k_t.transpose(-1, -2)  # S_{t-1}(I - b k k^T) + b v k^T
        outs.append(S @ (scale * q[:, :, t, :, None]))
    o = torch.cat(outs, dim=-1).transpose(-1, -2)
    return o, (S if output_final_state else None)
