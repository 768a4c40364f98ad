"""Seeded data for memories: Gaussian key/value pairs and orthonormal keys.

House rule (docs/DESIGN.md, Numerics): reference data is drawn on the CPU in float64 from a seeded
``torch.Generator`` and only then cast and moved, so CPU and CUDA runs of one seed see the same numbers.
``native=True`` draws directly on the target device and dtype instead (faster; used by benchmarks, never by
checks that compare devices).
"""

from __future__ import annotations

import torch

from impl.numerics.device import resolve_device, resolve_dtype
from impl.numerics.errors import InputError, require_positive_int


def gaussian(shape, gen: torch.Generator, *, device="cpu", dtype="float64", native: bool = False) -> torch.Tensor:
    """i.i.d. N(0, 1) entries of ``shape``: drawn in float64 on the CPU, then moved (or natively, see module doc)."""
    device, dtype = resolve_device(device), resolve_dtype(dtype)
    if native:
        if gen.device != device:
            gen = torch.Generator(device=device).manual_seed(int(torch.randint(0, 2**62, (1,), generator=gen)))
        return torch.randn(shape, generator=gen, device=device, dtype=dtype)
    return torch.randn(shape, generator=gen, dtype=torch.float64).to(device=device, dtype=dtype)


def gaussian_pairs(batch: int, n_pairs: int, d_k: int, d_v: int, gen: torch.Generator, **kw):
    """Keys K [batch, N, d_k] and values V [batch, N, d_v], all entries i.i.d. N(0, 1) (CLAIMS default)."""
    batch = require_positive_int("trials", batch)
    n_pairs = require_positive_int("n_pairs", n_pairs)
    d_k = require_positive_int("d_k", d_k)
    d_v = require_positive_int("d_v", d_v)
    return gaussian((batch, n_pairs, d_k), gen, **kw), gaussian((batch, n_pairs, d_v), gen, **kw)


def orthonormal_keys(batch: int, n_pairs: int, d_k: int, gen: torch.Generator, *, device="cpu", dtype="float64"):
    """N <= d_k Haar-random orthonormal keys, K [batch, N, d_k] with K K^T = I_N (QR of a Gaussian, signs fixed).

    Raises InputError for N > d_k: no more than d_k vectors in R^{d_k} can be orthonormal.
    """
    batch = require_positive_int("trials", batch)
    n_pairs = require_positive_int("n_pairs", n_pairs)
    d_k = require_positive_int("d_k", d_k)
    if n_pairs > d_k:
        raise InputError("n_pairs", f"orthonormal keys need N <= d_k; got N = {n_pairs} > d_k = {d_k}")
    g = torch.randn((batch, d_k, n_pairs), generator=gen, dtype=torch.float64)
    q, r = torch.linalg.qr(g)  # q: [batch, d_k, N] with orthonormal columns
    q = q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1)).unsqueeze(-2)
    return q.transpose(-1, -2).contiguous().to(device=resolve_device(device), dtype=resolve_dtype(dtype))


def rational_orthonormal_keys(n_pairs: int, d_k: int, seed: int):
    """N <= d_k orthonormal keys with RATIONAL entries (exact arithmetic possible): the first N rows of the
    Cayley transform Q = (I - A)(I + A)^{-1} of a random integer skew-symmetric A (Q^T Q = I exactly).

    Returns (keys as a SymPy Matrix [N, d_k] of Rationals, the same rounded to float64 as a tensor).
    """
    import numpy as np
    import sympy as sp

    n_pairs = require_positive_int("n_pairs", n_pairs)
    d_k = require_positive_int("d_k", d_k)
    if n_pairs > d_k:
        raise InputError("n_pairs", f"orthonormal keys need N <= d_k; got N = {n_pairs} > d_k = {d_k}")
    rng = np.random.default_rng(seed)
    upper = np.triu(rng.integers(-3, 4, size=(d_k, d_k)), 1)
    A = sp.Matrix(upper - upper.T)
    eye = sp.eye(d_k)
    Q = (eye - A) * (eye + A).inv()  # I + A is invertible: A skew-symmetric has imaginary eigenvalues
    exact = Q[:n_pairs, :]
    as_float = torch.tensor([[float(x) for x in exact.row(i)] for i in range(n_pairs)], dtype=torch.float64)
    return exact, as_float


def batches(trials: int, per_trial: int, budget: int = 2**22):
    """Batch sizes that split ``trials`` so that one batch holds about ``budget`` numbers (``per_trial`` each)."""
    step = max(1, budget // max(per_trial, 1))
    for start in range(0, trials, step):
        yield min(step, trials - start)
