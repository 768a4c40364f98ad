"""DeltaFormer, recurrent form (the ground truth): an explicit loop over t that mirrors the paper's equations.

    u_t = v_t - b_t sum_{j<t} kappa1(w_t, k_j) u_j            (paper §2.2.1 / Appendix D)
    o_t = sum_{j<=t} kappa2(q_t, k_j) u_j

With ``beta_scales_v=True`` the first line is D2's variant u_t = b_t v_t - b_t sum_{j<t} kappa1(w_t, k_j) u_j,
which with the linear kernel and w = k is DeltaNet's u_t = b_t (v_t - S_{t-1} k_t), S_t = sum_{j<=t} u_j k_j^T.

Kernel conventions (``impl.deltaformer.kernels``): "softmax" kernels are normalised over the causal prefix, j < t
for kappa1, j <= t for kappa2; at t = 0 the first sum is empty and u_0 = v_0 (or b_0 v_0).
Shapes: q, k, w [B, H, T, d_k], v [B, H, T, d_v], beta [B, H, T]; returns o [B, H, T, d_v] (and u with
``return_u=True``). Any device and dtype; autograd flows through (no in-place writes).
"""

from __future__ import annotations

import torch

from impl.deltaformer._inputs import check_inputs
from impl.deltaformer.kernels import kernel_row


def deltaformer_recurrent(q, k, v, beta, *, w=None, kernel="softmax", kernel_w=None, scale=None, scale_w=None,
                          beta_scales_v=False, return_u=False):
    w, kernel_w, scale, scale_w = check_inputs(q, k, v, beta, w, kernel, kernel_w, scale, scale_w)
    T = q.shape[2]
    us, outs = [], []
    for t in range(T):
        b_t = beta[:, :, t, None]
        v_t = b_t * v[:, :, t] if beta_scales_v else v[:, :, t]
        if t > 0:
            U_prev = torch.stack(us, dim=2)  # [B, H, t, d_v]
            weights = kernel_row(w[:, :, t], k[:, :, :t], kernel_w, scale_w)  # kappa1(w_t, k_j), j < t
            u_t = v_t - b_t * (weights.unsqueeze(-2) @ U_prev).squeeze(-2)
        else:
            u_t = v_t
        us.append(u_t)
        U = torch.stack(us, dim=2)  # [B, H, t+1, d_v]
        weights = kernel_row(q[:, :, t], k[:, :, : t + 1], kernel, scale)  # kappa2(q_t, k_j), j <= t
        outs.append((weights.unsqueeze(-2) @ U).squeeze(-2))
    o = torch.stack(outs, dim=2)
    return (o, torch.stack(us, dim=2)) if return_u else o
