"""DeltaFormer, chunked form (paper Appendix D: chunk-wise computation with triangular matrix inversion).

Split the T positions into chunks of C (the last may be shorter; any T, any C >= 1). For chunk c = [s, e):

    (I + B_cc) U_c = V'_c - B_{c,<c} U_{<c}        one unit-lower-triangular solve per chunk
    O_c = A_{c,<c} U_{<c} + A_cc U_c

The rows s..e-1 of A and B against keys 0..e-1 are each one matmul ([C, d] x [d, e]), masked causally and, for the
softmax kernel, normalised by their logsumexp over the causal prefix (log space; an empty row, t = 0 of B, has
weight 0). Memory O(C T) per row block, never T x T. Kernel conventions as in ``impl.deltaformer.kernels``.
"""

from __future__ import annotations

import torch

from impl.deltaformer._inputs import check_inputs
from impl.numerics.errors import require_positive_int
from impl.numerics.solves import solve_unit_lower


def _row_block(x_c, k, s, e, kernel, scale, strict):
    """Rows s..e-1 of the causal kernel matrix against keys 0..e-1: one matmul, masked, normalised in log space."""
    rows = torch.arange(s, e, device=x_c.device)
    cols = torch.arange(0, e, device=x_c.device)
    allowed = (cols[None, :] < rows[:, None]) if strict else (cols[None, :] <= rows[:, None])
    sc = scale * (x_c @ k[:, :, :e].transpose(-1, -2))
    if kernel == "linear":
        return sc.masked_fill(~allowed, 0.0)
    sc = sc.masked_fill(~allowed, float("-inf"))
    if kernel == "softmax":
        lse = torch.logsumexp(sc, dim=-1, keepdim=True)
        sc = sc - torch.where(torch.isfinite(lse), lse, torch.zeros_like(lse))  # empty rows (t = 0, strict): weight 0
    return torch.exp(sc)


def deltaformer_chunk(q, k, v, beta, *, chunk_size=64, w=None, kernel="softmax", kernel_w=None, scale=None,
                      scale_w=None, beta_scales_v=False, return_u=False):
    """Same signature and result as ``deltaformer_recurrent``, plus ``chunk_size`` (any integer >= 1)."""
    w, kernel_w, scale, scale_w = check_inputs(q, k, v, beta, w, kernel, kernel_w, scale, scale_w)
    C = require_positive_int("chunk_size", chunk_size)
    T = q.shape[2]
    rhs_all = beta.unsqueeze(-1) * v if beta_scales_v else v
    # Without autograd the solved rows go into one buffer; with it they are concatenated (an in-place write into a
    # tensor that earlier products read would invalidate their saved inputs).
    grads = torch.is_grad_enabled() and any(x.requires_grad for x in (q, k, v, beta, w))
    buf = None if grads else rhs_all.new_empty(rhs_all.shape)
    U_prev, O_chunks = None, []
    for s in range(0, T, C):
        e = min(s + C, T)
        Bc = beta[:, :, s:e, None] * _row_block(w[:, :, s:e], k, s, e, kernel_w, scale_w, True)  # [.., C, e]
        Ac = _row_block(q[:, :, s:e], k, s, e, kernel, scale, False)
        rhs = rhs_all[:, :, s:e]
        if U_prev is not None:
            rhs = rhs - Bc[..., :s] @ U_prev
        U_c = solve_unit_lower(Bc[..., s:e], rhs)  # (I + B_cc)^{-1}: only the strictly lower part is read
        O_c = Ac[..., s:e] @ U_c
        if U_prev is not None:
            O_c = O_c + Ac[..., :s] @ U_prev
        O_chunks.append(O_c)
        if buf is not None:
            buf[:, :, s:e] = U_c
            U_prev = buf[:, :, :e]
        else:
            U_prev = U_c if U_prev is None else torch.cat([U_prev, U_c], dim=2)
    o = torch.cat(O_chunks, dim=2)
    return (o, U_prev) if return_u else o
