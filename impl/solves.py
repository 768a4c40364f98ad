"""Linear solves used by the parallel and chunked forms, dtype-generic.

PyTorch has no bfloat16/float16 triangular or LU solve on the CPU; for those dtypes the solve runs in float32 and
the result is rounded back (flash-linear-attention likewise keeps the UT transform's inverse in float32).
"""

from __future__ import annotations

import torch

_HALF = (torch.bfloat16, torch.float16)


def solve_unit_lower(L: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """X with L X = B for unit lower-triangular L (forward substitution; L's diagonal is not read)."""
    if L.dtype in _HALF:
        return torch.linalg.solve_triangular(L.float(), B.float(), upper=False, unitriangular=True).to(L.dtype)
    return torch.linalg.solve_triangular(L, B, upper=False, unitriangular=True)


def solve(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """X with A X = B (LU with partial pivoting)."""
    if A.dtype in _HALF:
        return torch.linalg.solve(A.float(), B.float()).to(A.dtype)
    return torch.linalg.solve(A, B)


def inv(A: torch.Tensor) -> torch.Tensor:
    if A.dtype in _HALF:
        return torch.linalg.inv(A.float()).to(A.dtype)
    return torch.linalg.inv(A)
