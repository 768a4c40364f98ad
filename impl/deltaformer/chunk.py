"""DeltaFormer, chunked form (paper Appendix D: chunk-wise computation with triangular matrix inversion).

Split the T positions into chunks of C (the last may be shorter; any T, any C >= 1). For chunk c = [s, e):

    (I + B_cc) U_c = V'_c - B_{c,<c} U_{<c}        one unit-lower-triangular solve per chunk
    O_c = A_{c,<=c} U_{<=c}

B_{c,.} and A_{c,.} are built block by block against key chunks; the softmax normaliser of each row is
accumulated over the key blocks in log space (an online logsumexp), so no T x T matrix is ever formed
(memory O(C T)). Kernel conventions as in ``impl.deltaformer.kernels``.
"""

from __future__ import annotations

import torch

from impl.deltaformer._inputs import check_inputs
from impl.numerics.errors import require_positive_int


def _row_block(x_c, k, s, e, kernel, scale, strict, C):
    """Rows s..e-1 of the causal kernel matrix against keys 0..e-1, assembled from key blocks of size C."""
    rows = torch.arange(s, e, device=x_c.device)
    blocks, lse = [], None
    for ks in range(0, e, C):
        ke = min(ks + C, e)
        cols = torch.arange(ks, ke, device=x_c.device)
        allowed = (cols[None, :] < rows[:, None]) if strict else (cols[None, :] <= rows[:, None])
        sc = scale * (x_c @ k[:, :, ks:ke].transpose(-1, -2))
        if kernel == "linear":
            blocks.append(sc * allowed)
            continue
        sc = sc.masked_fill(~allowed, float("-inf"))
        blocks.append(sc)
        if kernel == "softmax":
            blk = torch.logsumexp(sc, dim=-1, keepdim=True)
            lse = blk if lse is None else torch.logaddexp(lse, blk)
    if kernel == "linear":
        return torch.cat(blocks, dim=-1)
    logits = torch.cat(blocks, dim=-1)
    if kernel == "softmax":
        lse = torch.where(torch.isfinite(lse), lse, torch.zeros_like(lse))  # empty rows (t = 0, strict): weight 0
        logits = logits - lse
    return torch.exp(logits)


def deltaformer_chunk(q, k, v, beta, *, chunk_size=64, w=None, kernel="softmax", kernel_w=None, scale=None,
                      scale_w=None, beta_scales_v=False, return_u=False):
    """Same signature and result as ``deltaformer_recurrent``, plus ``chunk_size`` (any integer >= 1)."""
    w, kernel_w, scale, scale_w = check_inputs(q, k, v, beta, w, kernel, kernel_w, scale, scale_w)
    C = require_positive_int("chunk_size", chunk_size)
    T = q.shape[2]
    rhs_all = beta.unsqueeze(-1) * v if beta_scales_v else v
    U_chunks, O_chunks = [], []
    for s in range(0, T, C):
        e = min(s + C, T)
        Bc = beta[:, :, s:e, None] * _row_block(w[:, :, s:e], k, s, e, kernel_w, scale_w, True, C)  # [.., C, e]
        rhs = rhs_all[:, :, s:e]
        if s > 0:
            rhs = rhs - Bc[..., :s] @ torch.cat(U_chunks, dim=2)
        eye = torch.eye(e - s, dtype=Bc.dtype, device=Bc.device)
        U_chunks.append(torch.linalg.solve_triangular(eye + Bc[..., s:e], rhs, upper=False, unitriangular=True))
        Ac = _row_block(q[:, :, s:e], k, s, e, kernel, scale, False, C)
        O_chunks.append(Ac @ torch.cat(U_chunks, dim=2))
    o = torch.cat(O_chunks, dim=2)
    return (o, torch.cat(U_chunks, dim=2)) if return_u else o
