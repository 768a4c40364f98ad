"""DeltaFormer, matrix form (paper Appendix D):

    O = A (I + B)^{-1} V'      A_tj = kappa2(q_t, k_j) [j <= t],   B_tj = b_t kappa1(w_t, k_j) [j < t],
                                V' = V  (or diag(b) V with ``beta_scales_v``, D2's variant)

B is strictly lower triangular, so I + B is unit lower triangular: one triangular solve, no pivoting. B is
nilpotent (B^T = 0 for T tokens), hence exactly

    (I + B)^{-1} = sum_{n=0}^{T-1} (-B)^n      ("multi-hop": the n-th term sums over chains t -> j_1 -> ... -> j_n
                                                  of n strictly backward hops, each weighted by -b kappa1)

and U = (I + B)^{-1} V' depends on K, W, V and b only, not on the queries. Kernel conventions as in
``impl.deltaformer.kernels`` (softmax rows normalised over j < t for B, j <= t for A).
"""

from __future__ import annotations

import torch

from impl.deltaformer._inputs import check_inputs
from impl.deltaformer.kernels import causal_kernel_matrix


def kernel_matrices(q, k, v, beta, *, w=None, kernel="softmax", kernel_w=None, scale=None, scale_w=None):
    """(A, B) [B, H, T, T] as defined in the module docstring."""
    w, kernel_w, scale, scale_w = check_inputs(q, k, v, beta, w, kernel, kernel_w, scale, scale_w)
    A = causal_kernel_matrix(q, k, kernel, scale, strict=False)
    B = beta.unsqueeze(-1) * causal_kernel_matrix(w, k, kernel_w, scale_w, strict=True)
    return A, B


def deltaformer_parallel(q, k, v, beta, *, w=None, kernel="softmax", kernel_w=None, scale=None, scale_w=None,
                         beta_scales_v=False, return_u=False):
    """O = A (I + B)^{-1} V' by one unit-lower-triangular solve. Same signature and result as the recurrence."""
    A, B = kernel_matrices(q, k, v, beta, w=w, kernel=kernel, kernel_w=kernel_w, scale=scale, scale_w=scale_w)
    rhs = beta.unsqueeze(-1) * v if beta_scales_v else v
    eye = torch.eye(B.shape[-1], dtype=B.dtype, device=B.device)
    U = torch.linalg.solve_triangular(eye + B, rhs, upper=False, unitriangular=True)
    o = A @ U
    return (o, U) if return_u else o


def neumann_apply(B, V):
    """sum_{n=0}^{T-1} (-B)^n V for strictly lower triangular B [..., T, T]: equals (I + B)^{-1} V exactly
    (B^T = 0). Returns (the sum, the list of hop terms (-B)^n V for n = 0..T-1)."""
    term, terms = V, [V]
    for _ in range(1, B.shape[-1]):
        term = -(B @ term)
        terms.append(term)
    return torch.stack(terms).sum(0), terms
