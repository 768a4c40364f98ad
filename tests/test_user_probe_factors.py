"""The per-probe factors g(x) = m2(x) / w(x, x)^2 of the user memories (``probe_factors``, C10's probe-averaged recall
prediction) against a brute-force recomputation that shares no code with impl/: Python-float loops with
``math.fsum``, or exact ``fractions.Fraction`` arithmetic, from the docstrings' formulas alone.

    FeatureMapMemory, nonlinear phi     g(x) = (1/P) sum_j (phi(x) . phi(k_j))^2 / (phi(x) . phi(x))^2
    KernelFunctionMemory                g(x) = (1/P) sum_j k(x, k_j)^2 / k(x, x)^2
    FeatureMapMemory, linear phi = L^T x g(x) = x^T M^2 x / (x^T M x)^2,  M = L L^T  (exact, no pool)

over P pool keys shared by all probes. The probes and the pool are the documented stream: a CPU generator seeded
with seed + 1, the probes [probes, d_k] drawn first, then the pool [P, d_k], all N(0, 1) in float64. 83 probes =
32 + 32 + 19 cover two full 32-probe chunks and a ragged last one; the pool (200) is not a multiple of a chunk.

Tolerances are first-order round-off bounds in units of u = 2^-53 (float64's unit round-off), counted operation
by operation in each test's comment: a sum of n terms costs at most (n - 1) u relative when the terms are
positive (the maps and kernels here are built positive so that no sum cancels), a product or quotient u. Where
sums do cancel (the linear branch, Gaussian probes against a mixed-sign metric) the count is multiplied by the
probe's own condition number, computed in the test.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import torch

from impl.memories.user import FeatureMapMemory, KernelFunctionMemory

U = 2.0**-53  # unit round-off of float64 (eps / 2)
SEED, D_K, PROBES, POOL = 7, 6, 83, 200  # 83 = 32 + 32 + 19: two full chunks and a ragged one


def _stream(seed, probes, pool, d_k):
    """The documented draw: generator(seed + 1), probes first, then the pool; as lists of Python-float rows."""
    g = torch.Generator(device="cpu").manual_seed(seed + 1)
    X = torch.randn((probes, d_k), generator=g, dtype=torch.float64)
    K = torch.randn((pool, d_k), generator=g, dtype=torch.float64)
    return X.tolist(), K.tolist()


# A positive elementwise "random-feature" map: phi(x)_f = a_f (x_{i_f} x_{j_f})^2 + b_f with a_f, b_f > 0 and random
# index pairs (i_f = j_f gives x^4). Only elementwise IEEE operations, each correctly rounded and unfused, so the
# torch map handed to the memory and the Python-float twin below give bitwise the same features (asserted).
_rng = np.random.default_rng(20240611)
F = 10
_I, _J = _rng.integers(0, D_K, F).tolist(), _rng.integers(0, D_K, F).tolist()
_A, _B = _rng.uniform(0.5, 2.0, F).tolist(), _rng.uniform(0.25, 1.0, F).tolist()


def _phi_torch(x):
    p = x[..., _I] * x[..., _J]
    return torch.tensor(_A, dtype=torch.float64) * (p * p) + torch.tensor(_B, dtype=torch.float64)


def _phi_ref(row):
    out = []
    for f in range(F):
        p = row[_I[f]] * row[_J[f]]
        out.append(_A[f] * (p * p) + _B[f])
    return out


def test_nonlinear_feature_map_probe_factors_match_brute_force():
    """g at each of 83 probes against (1/P) sum_j (phi(x).phi(k_j))^2 / (phi(x).phi(x))^2 by Python loops.

    Round-off (all features positive, bitwise equal in both; F = 10 features, P = 200 pool keys):
      impl: w = fx @ pool_f^T, F products + F - 1 adds: F u; w * w: 2F + 1; mean over P: + (P - 1) + 1 (the
            division) -> m2: (2F + P + 1) u; c = sum fx^2: F u, c ** 2: (2F + 1) u; the quotient: u.
            Total (4F + P + 3) u.
      ref:  w = fsum of rounded products: 2u; w * w: 5u; fsum / P: 7u; c: 2u, c * c: 5u; quotient: u. Total 13u.
    rtol = (4F + P + 16) u = 256 u ~ 2.8e-14.
    """
    X, K = _stream(SEED, PROBES, POOL, D_K)
    fX, fK = [_phi_ref(r) for r in X], [_phi_ref(r) for r in K]
    assert _phi_torch(torch.tensor(X, dtype=torch.float64)).tolist() == fX  # the twin is bitwise the same map
    assert _phi_torch(torch.tensor(K, dtype=torch.float64)).tolist() == fK

    want = []
    for fx in fX:
        c = math.fsum(a * a for a in fx)
        w = [math.fsum(a * b for a, b in zip(fx, fk)) for fk in fK]
        m2 = math.fsum(v * v for v in w) / POOL
        want.append(m2 / (c * c))

    got = FeatureMapMemory("t:randfeat", _phi_torch, D_K).probe_factors(D_K, SEED, probes=PROBES, pool=POOL)
    assert got.dtype == torch.float64 and tuple(got.shape) == (PROBES,)
    rtol = (4 * F + POOL + 16) * U
    err = [abs(g - w) / w for g, w in zip(got.tolist(), want)]
    assert max(err) <= rtol, (max(err), rtol, int(np.argmax(err)))
    assert np.std(want) > 0.05 * np.mean(want)  # a per-probe quantity: a mix-up between probes would show


def _kernel_torch(x, y):
    """k(x, y) = (1 + sum_i (x_i y_i)^2)^2: positive, nonlinear, broadcasting over leading dimensions."""
    p = x * y
    s = (p * p).sum(-1) + 1.0
    return s * s


def _kernel_ref(x, y):
    s = math.fsum((a * b) * (a * b) for a, b in zip(x, y)) + 1.0
    return s * s


def test_kernel_function_probe_factors_match_brute_force():
    """The base class's ``probe_factors`` (weights on a shared pool, w(x, x) from ``pair``) for a user kernel, at each
    of 83 probes, against (1/P) sum_j k(x, k_j)^2 / k(x, x)^2 by Python loops.

    Round-off (all terms positive; d = 6, P = 200):
      impl: x_i y_i: u, squared: 3u, sum of d: (d + 2) u, + 1: (d + 3) u, squared: w with (2d + 7) u; w * w:
            (4d + 15) u; mean over P: + P -> m2 (4d + P + 15) u; c = k(x, x): (2d + 7) u, c * c: (4d + 15) u;
            quotient: u. Total (8d + P + 31) u.
      ref:  the same products (3u), fsum: 4u, + 1: 5u, squared: 11u; w^2: 23u, fsum / P: 25u; c^2: 23u;
            quotient: u. Total 49u.
    rtol = (8d + P + 80) u = 328 u ~ 3.6e-14.
    """
    X, K = _stream(SEED, PROBES, POOL, D_K)
    want = []
    for x in X:
        c = _kernel_ref(x, x)
        w = [_kernel_ref(x, k) for k in K]
        m2 = math.fsum(v * v for v in w) / POOL
        want.append(m2 / (c * c))

    got = KernelFunctionMemory("t:poly", _kernel_torch).probe_factors(D_K, SEED, probes=PROBES, pool=POOL)
    assert got.dtype == torch.float64 and tuple(got.shape) == (PROBES,)
    rtol = (8 * D_K + POOL + 80) * U
    err = [abs(g - w) / w for g, w in zip(got.tolist(), want)]
    assert max(err) <= rtol, (max(err), rtol, int(np.argmax(err)))
    assert np.std(want) > 0.05 * np.mean(want)


def test_linear_feature_map_probe_factors_are_the_metric_form_exactly():
    """phi(x) = L^T x with a random L [d = 6, F = 7]: g(x) = x^T M^2 x / (x^T M x)^2, M = L L^T, at each of 83
    probes, against the same ratio in exact rational arithmetic (|L^T x|^2 and |L L^T x|^2 as Fractions).

    Round-off, with A = |L| |L|^T and a = |x| A (the impl computes M = L L^T, xM = x M, then sums):
      |d M| <= F u A; |d(xM)| <= (d + F) u a; q = (xM) . x: relative (2d + F) u kq, kq = |x|^T A |x| / x^T M x;
      s = |xM|^2: relative 2(d + F) u ks + d u, ks = (|xM| . a) / |xM|^2; g = s / q^2 adds 2 (2d + F) u kq + 2u;
      the exact reference rounded once: u.
    rtol(x) = (2(d + F) ks + 2(2d + F) kq + d + 3) u, per probe (kq, ks >= 1 are its condition numbers).
    """
    d, f = D_K, 7
    g = torch.Generator(device="cpu").manual_seed(99)
    L = torch.randn((d, f), generator=g, dtype=torch.float64)
    Lr = L.tolist()
    X, _ = _stream(SEED, PROBES, 0, d)

    mem = FeatureMapMemory("t:linear", lambda x: x @ L, d)
    got = mem.probe_factors(D_K, SEED, probes=PROBES, pool=POOL).tolist()
    assert len(got) == PROBES

    Lf = [[Fraction(v) for v in row] for row in Lr]
    A = [[sum(abs(Lr[a][k]) * abs(Lr[b][k]) for k in range(f)) for b in range(d)] for a in range(d)]
    M = [[sum(Lr[a][k] * Lr[b][k] for k in range(f)) for b in range(d)] for a in range(d)]
    for i, x in enumerate(X):
        xf = [Fraction(v) for v in x]
        Ltx = [sum(Lf[a][k] * xf[a] for a in range(d)) for k in range(f)]  # L^T x
        Mx = [sum(Lf[a][k] * Ltx[k] for k in range(f)) for a in range(d)]  # L L^T x
        q = sum(v * v for v in Ltx)  # x^T M x
        s = sum(v * v for v in Mx)  # x^T M^2 x
        want = float(s / (q * q))

        ax = [sum(abs(x[b]) * A[b][a] for b in range(d)) for a in range(d)]  # a = |x| A
        xM = [sum(x[b] * M[b][a] for b in range(d)) for a in range(d)]
        kq = sum(abs(x[a]) * ax[a] for a in range(d)) / float(q)
        ks = sum(abs(xM[a]) * ax[a] for a in range(d)) / float(s)
        rtol = (2 * (d + f) * ks + 2 * (2 * d + f) * kq + d + 3) * U
        assert abs(got[i] - want) <= rtol * want, (i, got[i], want, rtol)
