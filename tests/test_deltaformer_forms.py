"""DeltaFormer (docs/CLAIMS.md D1-D3): forms agree, identities hold, constructions are exact, bad input is refused."""

from __future__ import annotations

import math
import random

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from assocmem.registry import get
from impl.deltaformer import (
    deltaformer_chunk,
    deltaformer_parallel,
    deltaformer_recurrent,
)
from impl.deltaformer.constructions import (
    best_parity_accuracy_all_ones,
    constant_input_readout,
    parity_scalar,
    permutation_layer,
    permutation_truth,
    sign_changes,
    swap_key,
)
from impl.numerics.errors import InputError

SETTINGS = settings(max_examples=25, deadline=None)


def _check(claim_id, params, seed):
    r = get(claim_id).run(params, seed)
    assert r.passed, f"{claim_id} failed at {params}, seed {seed}: error {r.error} > tolerance {r.tolerance} {r.note}"


@SETTINGS
@given(params=get("D1.forms").strategy(), seed=st.integers(0, 2**31 - 1))
def test_forms_agree(params, seed):
    _check("D1.forms", params, seed)


@SETTINGS
@given(params=get("D1.neumann").strategy(), seed=st.integers(0, 2**31 - 1))
def test_neumann_series(params, seed):
    _check("D1.neumann", params, seed)


@SETTINGS
@given(params=get("D2.deltanet").strategy(), seed=st.integers(0, 2**31 - 1))
def test_reduction_to_deltanet(params, seed):
    _check("D2.deltanet", params, seed)


@SETTINGS
@given(params=get("D2.softmax").strategy(), seed=st.integers(0, 2**31 - 1))
def test_reduction_to_softmax_attention(params, seed):
    _check("D2.softmax", params, seed)


@settings(max_examples=30, deadline=None)
@given(bits=st.lists(st.integers(0, 1), min_size=1, max_size=10_000))
def test_parity_scalar_exact_any_string(bits):
    out = parity_scalar(bits)
    acc = 0
    for x, o in zip(bits, out):
        acc ^= x
        assert o == (-1.0 if acc else 1.0)


@SETTINGS
@given(params=get("D3.parity").strategy(), seed=st.integers(0, 2**31 - 1))
def test_parity_claim(params, seed):
    _check("D3.parity", params, seed)


@SETTINGS
@given(params=get("D3.permutation").strategy(), seed=st.integers(0, 2**31 - 1))
def test_permutation_claim(params, seed):
    _check("D3.permutation", params, seed)


@SETTINGS
@given(params=get("D3.no_parity_01").strategy(), seed=st.integers(0, 2**31 - 1))
def test_no_parity_with_eigenvalues_in_unit_interval(params, seed):
    _check("D3.no_parity_01", params, seed)


@pytest.mark.parametrize("claim_id", ["D1.forms", "D1.neumann", "D2.deltanet", "D2.softmax", "D3.parity",
                                      "D3.permutation", "D3.no_parity_01"])
def test_mutants_rejected(claim_id):
    claim = get(claim_id)
    for point in claim.power_grid:
        assert not claim.mutant(point, 7).passed, f"{claim_id}: mutant '{claim.mutant_says}' passed at {point}"


@pytest.mark.parametrize("claim_id", ["D1.neumann", "D2.deltanet", "D3.reflection", "D3.parity", "D3.no_parity_01"])
def test_derivations(claim_id):
    for step in get(claim_id).derivation():
        assert step.holds(), step.says


def test_permutation_every_pair_n8():
    n = 8
    for i in range(n):
        for j in range(n):
            if i != j:
                o, S = permutation_layer(n, [(i, j)])
                assert o.argmax(-1).tolist() == permutation_truth(n, [(i, j)])


def test_best_accuracy_bound_monotone():
    for lam in (0.0, 0.3, 0.9, 1.0):
        vals = constant_input_readout(lam, 0.2, -1.0, 101)
        assert sign_changes([v - 0.0 for v in vals]) <= 1
        assert best_parity_accuracy_all_ones(vals) <= (101 // 2 + 1) / 101
    assert best_parity_accuracy_all_ones(constant_input_readout(-1.0, 0.0, 1.0, 101)) == 1.0


def _small(T=7, d=3, dv=2, seed=0, requires_grad=False):
    g = torch.Generator().manual_seed(seed)
    xs = [torch.randn(1, 2, T, d, generator=g, dtype=torch.float64) for _ in range(3)]
    v = torch.randn(1, 2, T, dv, generator=g, dtype=torch.float64)
    beta = torch.rand(1, 2, T, generator=g, dtype=torch.float64)
    out = [*xs, v, beta]
    return [x.requires_grad_(requires_grad) for x in out]


@pytest.mark.parametrize("kernel", ["softmax", "linear"])
def test_autograd_gradients_agree(kernel):
    q, k, w, v, beta = _small(requires_grad=True)
    grads = []
    for f in (deltaformer_recurrent, deltaformer_parallel, lambda *a, **kw: deltaformer_chunk(*a, chunk_size=3, **kw)):
        out = f(q, k, v, beta, w=w, kernel=kernel)
        grads.append(torch.autograd.grad(out.square().sum(), (q, k, w, v, beta)))
    for other in grads[1:]:
        for a, b in zip(grads[0], other):
            assert torch.allclose(a, b, rtol=0, atol=1e-12 * (1 + float(a.abs().max())))


def test_gradcheck_parallel():
    q, k, w, v, beta = _small(T=5, d=2, dv=2, requires_grad=True)
    assert torch.autograd.gradcheck(lambda *a: deltaformer_parallel(*a, kernel="softmax"), (q, k, v, beta))


def test_awkward_lengths_chunk():
    for T in (1, 2, 5, 17):
        for C in (1, 3, 4, 64):
            q, k, w, v, beta = _small(T=T)
            ref = deltaformer_recurrent(q, k, v, beta)
            assert float((deltaformer_chunk(q, k, v, beta, chunk_size=C) - ref).abs().max()) < 1e-13


def test_bad_input():
    q, k, w, v, beta = _small()
    with pytest.raises(InputError, match="kernel"):
        deltaformer_parallel(q, k, v, beta, kernel="relu")
    with pytest.raises(InputError, match="kernel_w"):
        deltaformer_recurrent(q, k, v, beta, kernel_w="cosine")
    with pytest.raises(InputError, match="beta"):
        deltaformer_parallel(q, k, v, beta[..., :-1])
    with pytest.raises(InputError, match="w"):
        deltaformer_parallel(q, k, v, beta, w=w[..., :-1])
    with pytest.raises(InputError, match="chunk_size"):
        deltaformer_chunk(q, k, v, beta, chunk_size=0)
    with pytest.raises(InputError, match="v"):
        deltaformer_parallel(q, k, v.new_full(v.shape, math.nan), beta)
    with pytest.raises(InputError, match="scale"):
        deltaformer_parallel(q, k, v, beta, scale=math.inf)
    with pytest.raises(InputError, match="bits"):
        parity_scalar([0, 2])
    with pytest.raises(InputError, match=r"^i, j: the swapped slots must be two distinct integers in \[0, 3\], got \(1, 1\)$"):
        swap_key(4, 1, 1)
    with pytest.raises(InputError, match=r"^i, j: .* got \(0, 4\)$"):
        swap_key(4, 0, 4)
    with pytest.raises(InputError, match=r"^n: must be an integer >= 2, got 1$"):
        swap_key(1, 0, 0)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_forms_agree():
    for claim_id in ("D1.forms", "D2.softmax", "D2.deltanet"):
        claim = get(claim_id)
        for point in claim.report_grid(quick=True):
            for dtype in ("float64", "float32"):
                r = claim.run(point, 3, device="cuda", dtype=dtype)
                assert r.passed, (claim_id, point, dtype, r.error, r.tolerance)


BAD_SHAPES = {  # one tensor malformed, the others as _small makes them (B = 1, H = 2, T = 7, d_k = 3, d_v = 2)
    "q 3-D": lambda q, k, v, b: (q[0], k, v, b, "q"),
    "k another d_k": lambda q, k, v, b: (q, k[..., :-1], v, b, "q"),
    "k another T": lambda q, k, v, b: (q, k[:, :, :-1], v, b, "q"),
    "v 3-D": lambda q, k, v, b: (q, k, v[0], b, "q"),
    "v another T": lambda q, k, v, b: (q, k, v[:, :, :-1], b, "q"),
    "v another H": lambda q, k, v, b: (q, k, v[:, :1], b, "q"),
    "v not a tensor": lambda q, k, v, b: (q, k, v.tolist(), b, "v"),
    "beta another T": lambda q, k, v, b: (q, k, v, b[..., :-1], "beta"),
    "q NaN": lambda q, k, v, b: (q.new_full(q.shape, math.nan), k, v, b, "q"),
}


@pytest.mark.parametrize("form", ["parallel", "recurrent", "chunk"])
@pytest.mark.parametrize("case", BAD_SHAPES)
def test_every_form_refuses_each_malformed_input(form, case):
    """check_inputs' shape rule q, k [B, H, T, d_k], v [B, H, T, d_v], beta [B, H, T], each of its clauses on its
    own, on every form: an InputError naming the parameter (the shape rule names q and states all three shapes),
    never an error from deep inside a form or a silently broadcast result."""
    fn = {"parallel": deltaformer_parallel, "recurrent": deltaformer_recurrent, "chunk": deltaformer_chunk}[form]
    q, k, _, v, beta = _small()
    *args, flag = BAD_SHAPES[case](q, k, v, beta)
    with pytest.raises(InputError) as e:
        fn(*args)
    assert e.value.parameter == flag, str(e.value)
    fn(q, k, v, beta)  # the well-formed neighbour runs


@pytest.mark.parametrize("form", ["parallel", "recurrent", "chunk"])
@pytest.mark.parametrize("kernel", ["softmax", "exp", "linear"])
def test_the_documented_defaults(form, kernel):
    """check_inputs' defaults as its docstring states them: scale = d_k^{-1/2} for the exponential kernels and 1 for
    the linear one, scale_w = scale, w = k, kernel_w = kernel. Each default is compared with the call that spells it
    out (d_k = 3, so a wrong power or constant of d_k changes the output)."""
    fn = {"parallel": deltaformer_parallel, "recurrent": deltaformer_recurrent, "chunk": deltaformer_chunk}[form]
    q, k, w, v, beta = _small()
    s = 1.0 if kernel == "linear" else 1.0 / math.sqrt(3)
    spelled = fn(q, k, v, beta, w=k, kernel=kernel, kernel_w=kernel, scale=s, scale_w=s)
    torch.testing.assert_close(fn(q, k, v, beta, kernel=kernel), spelled, rtol=1e-13, atol=1e-13)
    other = 0.5 if kernel == "linear" else 0.7
    torch.testing.assert_close(fn(q, k, v, beta, kernel=kernel, scale=other),
                               fn(q, k, v, beta, w=k, kernel=kernel, kernel_w=kernel, scale=other, scale_w=other),
                               rtol=1e-13, atol=1e-13)
    assert not torch.allclose(fn(q, k, v, beta, kernel=kernel, scale=other), spelled)  # the scale matters here
