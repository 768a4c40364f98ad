"""Softmax attention, recurrent form (the ground truth): an explicit loop over t with an online softmax.

    o_t = argmin_o sum_{j <= t} kappa(q_t, k_j) ||o - v_j||^2 = sum_j kappa_tj v_j / sum_j kappa_tj,
    kappa(q, k) = exp(scale q^T k)                                  (Nadaraya-Watson, docs/CLAIMS.md U1)

The memory is the whole key-value cache (it grows with t). The loop keeps, per query, the running maximum m,
numerator n = sum exp(s_j - m) v_j and denominator z = sum exp(s_j - m) (flash-attention's online softmax), adding
one key at a time. State: the cache (K [B, H, T0, d_k], V [B, H, T0, d_v]) of earlier tokens, which every query
also sees; the final state is the cache including this call's tokens. ``scale`` explicit, default 1.0 (the usual
1/sqrt(d_k) must be passed).
"""

from __future__ import annotations

import torch

from impl.numerics.errors import InputError, require_finite
from impl.rules.inputs import check_qkv, check_scale


def check_cache(initial_state, q, v):
    B, H, _, d_k = q.shape
    d_v = v.shape[-1]
    if initial_state is None:
        return q.new_zeros(B, H, 0, d_k), v.new_zeros(B, H, 0, d_v)
    if not isinstance(initial_state, (tuple, list)) or len(initial_state) != 2:
        raise InputError("initial_state", "must be a pair (K [B, H, T0, d_k], V [B, H, T0, d_v])")
    K0, V0 = initial_state
    if not isinstance(K0, torch.Tensor) or not isinstance(V0, torch.Tensor) or K0.dim() != 4 or V0.dim() != 4 \
            or tuple(K0.shape[:2]) != (B, H) or K0.shape[3] != d_k or tuple(V0.shape[:3]) != tuple(K0.shape[:3]) or V0.shape[3] != d_v:
        raise InputError("initial_state", f"cache must be K [B, H, T0, {d_k}] and V [B, H, T0, {d_v}] with B, H = {B}, {H}")
    require_finite("initial_state", K0)
    require_finite("initial_state", V0)
    return K0.to(q), V0.to(v)


def softmax_attention_recurrent(q, k, v, *, scale=1.0, initial_state=None, output_final_state=False):
    """Returns (o [B, H, T, d_v], (K_cache, V_cache) or None)."""
    B, H, T, d_k, d_v = check_qkv(q, k, v)
    scale = check_scale(scale)
    K0, V0 = check_cache(initial_state, q, v)
    K, V = torch.cat([K0, k], dim=2), torch.cat([V0, v], dim=2)
    T0 = K0.shape[2]
    outs = []
    for t in range(T):
        qt = scale * q[:, :, t]  # [B, H, d_k]
        m = torch.full((B, H, 1), float("-inf"), dtype=q.dtype, device=q.device)
        num = q.new_zeros(B, H, d_v)
        den = q.new_zeros(B, H, 1)
        for j in range(T0 + t + 1):  # every key up to and including t
            s = (qt * K[:, :, j]).sum(-1, keepdim=True)
            m_new = torch.maximum(m, s)
            c = torch.exp(m - m_new)
            w = torch.exp(s - m_new)
            num = c * num + w * V[:, :, j]
            den = c * den + w
            m = m_new
        outs.append(num / den)
    o = torch.stack(outs, dim=2)
    return o, ((K, V) if output_final_state else None)
