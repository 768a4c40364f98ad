"""impl.numerics.solves against torch.linalg (a separate LAPACK route) in float64, at sizes that reach every branch
of the recursive unit-lower inverse (the leaf n <= 8, equal halves, unequal halves, several levels), and in the half
dtypes, whose solves run in float32 and must come back in the input's dtype (PyTorch has no half-precision
triangular or LU solve on the CPU, so a result left in float32 would change the dtype of every form downstream)."""

import pytest
import torch

from impl.numerics import solves

HALF = [torch.float16, torch.bfloat16]


def _unit_lower(n, batch=(2, 3), seed=0, dtype=torch.float64):
    """A well-conditioned unit lower-triangular L (off-diagonal entries of size ~1/n) with junk on and above the
    diagonal, which the solver must not read."""
    g = torch.Generator().manual_seed(seed)
    M = torch.randn(*batch, n, n, generator=g, dtype=torch.float64)
    L = torch.tril(M / n, -1) + torch.triu(7.0 + M, 0)  # junk diagonal and upper part
    return L.to(dtype)


def _exact_unit(L):
    return torch.tril(L.double(), -1) + torch.eye(L.shape[-1], dtype=torch.float64)


@pytest.mark.parametrize("n", [1, 2, 5, 8, 9, 16, 17, 40])
def test_unit_lower_inverse_and_solve_match_lapack(n):
    L = _unit_lower(n, seed=n)
    B = torch.randn(2, 3, n, 4, generator=torch.Generator().manual_seed(100 + n), dtype=torch.float64)
    U = _exact_unit(L)
    ref_inv = torch.linalg.solve_triangular(U, torch.eye(n, dtype=torch.float64).expand(2, 3, n, n), upper=False)
    ref = torch.linalg.solve_triangular(U, B, upper=False)
    # forward error of a triangular solve with entries ~1/n: a few hundred units of round-off at these sizes
    torch.testing.assert_close(solves.unit_lower_inverse(L), ref_inv, rtol=0, atol=1e-13)
    torch.testing.assert_close(solves.solve_unit_lower(L, B), ref, rtol=0, atol=1e-13)


@pytest.mark.parametrize("dtype", HALF, ids=str)
def test_half_dtypes_are_solved_in_float32_and_returned_in_their_dtype(dtype):
    n = 12
    L = _unit_lower(n, seed=1, dtype=dtype)
    B = torch.randn(2, 3, n, 4, generator=torch.Generator().manual_seed(2), dtype=torch.float64).to(dtype)
    A = (torch.eye(n, dtype=torch.float64) * 3 + torch.randn(n, n, generator=torch.Generator().manual_seed(3),
                                                             dtype=torch.float64) / n).to(dtype)
    eps = torch.finfo(dtype).eps
    got = {"solve_unit_lower": solves.solve_unit_lower(L, B), "solve": solves.solve(A, B[0, 0]), "inv": solves.inv(A)}
    ref = {"solve_unit_lower": torch.linalg.solve_triangular(_exact_unit(L), B.double(), upper=False),
           "solve": torch.linalg.solve(A.double(), B[0, 0].double()), "inv": torch.linalg.inv(A.double())}
    for name, x in got.items():
        assert x.dtype == dtype, (name, x.dtype)
        # computed in float32 from the (exactly representable) half inputs, then rounded once: within one half ulp
        # of the float64 value plus float32 round-off, far below the half dtype's eps
        err = float((x.double() - ref[name]).abs().max() / ref[name].abs().max())
        assert err <= eps, (name, err)


@pytest.mark.parametrize("n", [3, 10])
def test_solve_and_inv_match_lapack_in_float64(n):
    g = torch.Generator().manual_seed(n)
    A = torch.eye(n, dtype=torch.float64) * 2 + torch.randn(n, n, generator=g, dtype=torch.float64) / n
    B = torch.randn(n, 2, generator=g, dtype=torch.float64)
    torch.testing.assert_close(A @ solves.solve(A, B), B, rtol=0, atol=1e-13)
    torch.testing.assert_close(A @ solves.inv(A), torch.eye(n, dtype=torch.float64), rtol=0, atol=1e-13)
