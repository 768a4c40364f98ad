"""Linear solves used by the parallel and chunked forms, dtype-generic.

Unit lower-triangular systems (the UT transform of the delta rule) are solved by forming the inverse with
recursive 2x2 block inversion,

    [[L11, 0], [L21, L22]]^{-1} = [[L11^{-1}, 0], [-L22^{-1} L21 L11^{-1}, L22^{-1}]],

down to blocks of 8 done by row-wise forward substitution, then one matmul. It is all batched matmuls
(torch.linalg.solve_triangular is 10-50x slower than this on the CPU for many small batched systems in float64),
autograd-friendly (no in-place writes), and as accurate as substitution for the well-conditioned unit triangular
matrices here (error checked against the recurrent forms in U2).
PyTorch has no bfloat16/float16 triangular or LU solve on the CPU; for those dtypes the solve runs in float32 and
the result is rounded back (flash-linear-attention likewise keeps the UT transform's inverse in float32).
"""

from __future__ import annotations

import torch

_HALF = (torch.bfloat16, torch.float16)


_LEAF = 8


def unit_lower_inverse(L: torch.Tensor) -> torch.Tensor:
    """L^{-1} for unit lower-triangular L [..., n, n] (only the strictly lower part of L is read)."""
    n = L.shape[-1]
    if n <= _LEAF:
        rows = []
        for i in range(n):  # row i of L^{-1}: e_i - sum_{j<i} L_ij (row j of L^{-1})
            e = torch.zeros(n, dtype=L.dtype, device=L.device)
            e[i] = 1.0
            row = e.expand(*L.shape[:-2], n)
            if i:
                prev = torch.stack(rows, dim=-2)  # [..., i, n]
                row = row - (L[..., i : i + 1, :i] @ prev).squeeze(-2)
            rows.append(row)
        return torch.stack(rows, dim=-2)
    h = n // 2
    if 2 * h == n:  # equal halves: invert both diagonal blocks in ONE batched recursion (fewer, larger ops)
        both = unit_lower_inverse(torch.stack([L[..., :h, :h], L[..., h:, h:]], dim=0))
        T11, T22 = both[0], both[1]
    else:
        T11 = unit_lower_inverse(L[..., :h, :h])
        T22 = unit_lower_inverse(L[..., h:, h:])
    T21 = -(T22 @ (L[..., h:, :h] @ T11))
    zeros = torch.zeros(*L.shape[:-2], h, n - h, dtype=L.dtype, device=L.device)
    return torch.cat([torch.cat([T11, zeros], dim=-1), torch.cat([T21, T22], dim=-1)], dim=-2)


def solve_unit_lower(L: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """X with L X = B for unit lower-triangular L (L's diagonal is not read)."""
    if L.dtype in _HALF:
        return (unit_lower_inverse(L.float()) @ B.float()).to(L.dtype)
    return unit_lower_inverse(L) @ B


def solve(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """X with A X = B (LU with partial pivoting)."""
    if A.dtype in _HALF:
        return torch.linalg.solve(A.float(), B.float()).to(A.dtype)
    return torch.linalg.solve(A, B)


def inv(A: torch.Tensor) -> torch.Tensor:
    if A.dtype in _HALF:
        return torch.linalg.inv(A.float()).to(A.dtype)
    return torch.linalg.inv(A)
