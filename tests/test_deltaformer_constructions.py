"""D3/D5 constructions beyond the registry templates: the pieces they are built from, on cases small enough to
check by hand (exact path counts on a diamond, the Gaussian form of the exponential kernel's cosine Gram, the
rational dilution law), and the inputs they refuse."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from assocmem.claims.deltaformer_constructions import increasing_path_count, one_pass_accuracy
from impl.deltaformer import constructions as con
from impl.numerics.errors import InputError
from impl.tasks.dag import one_pass_reachable


def test_reachability_counts_paths_on_a_diamond():
    # 0 -> 1 -> 3, 0 -> 2 -> 3, 3 -> 4: two paths 0 -> 4, in topological order
    edges = [(0, 1), (0, 2), (1, 3), (2, 3), (3, 4)]
    queries = [(0, 4), (1, 4), (4, 0), (2, 1)]
    for form in ("recurrent", "parallel", "chunk"):
        assert con.reachability_deltaformer(edges, queries, 5, form=form) == [2.0, 1.0, 0.0, 0.0]
    assert [increasing_path_count(edges, s, t) for s, t in queries] == [2, 1, 0, 0]
    # out of order: (3, 4) first, so no path to 4 has increasing positions; one pass misses it too
    late = [(3, 4)] + edges[:4]
    assert con.reachability_deltaformer(late, [(0, 4), (0, 3)], 5) == [0.0, 2.0]
    assert not one_pass_reachable(late, 0, 4) and one_pass_reachable(late, 0, 3)
    with pytest.raises(InputError, match="edges"):
        con.reachability_deltaformer([(0, 9)], [(0, 1)], 5)


def test_one_pass_reference_values():
    assert one_pass_accuracy(1) == 1.0 and one_pass_accuracy(2) == 0.75
    assert one_pass_accuracy(4) == 0.5 + 1 / 48 and one_pass_accuracy(8) == 0.5 + 0.5 / 40320


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 6), scale=st.floats(0.1, 3.0), seed=st.integers(0, 2**31 - 1))
def test_cosine_gram_of_exp_is_the_gaussian_kernel(n, scale, seed):
    g = torch.Generator().manual_seed(seed)
    keys = torch.randn(3, n, generator=g, dtype=torch.float64)
    G = con.feature_gram(keys, "exp", scale)
    d = G.diagonal().sqrt()
    torch.testing.assert_close(con.cosine_gram(keys, "exp", scale), G / (d[:, None] * d[None, :]), rtol=1e-12, atol=0)


def test_linear_keys_are_additive_and_exp_features_are_not():
    k01, k12, k02 = con.swap_keys(5, 0, 1, 2)
    assert torch.equal(k02, k01 + k12)
    assert abs(con.span_residual(k01, k12, k02, "linear", 1.0)) < 1e-15
    assert con.span_residual(k01, k12, k02, "exp", 1.0) > 0.3
    with pytest.raises(InputError, match="kernel"):
        con.kernel_value(k01, k02, "softmax", 1.0)


def test_dilution_law_is_exact_and_one_third_from_t3():
    law = con.normalised_constant_input(8, Fraction(2))
    assert [o for _, o in law] == [1, 0] + [Fraction(1, 3)] * 6
    law_half = con.normalised_constant_input(50, Fraction(1, 2))
    devs = [o - Fraction(2, 3) for _, o in law_half[1:]]
    assert all(a > b > 0 for a, b in zip(devs, devs[1:]))  # from t = 2 on: one sign, shrinking


def test_softmax_steps_are_b_over_z():
    g = torch.Generator().manual_seed(0)
    k = torch.randn(1, 1, 5, 3, generator=g, dtype=torch.float64)
    b = torch.rand(1, 1, 5, generator=g, dtype=torch.float64)
    steps = con.softmax_steps(k, k, b, 0.5)
    for t in range(5):
        z = sum(math.exp(0.5 * float(k[0, 0, t] @ k[0, 0, j])) for j in range(t))
        assert math.isclose(float(steps[0, 0, t]), float(b[0, 0, t]) / z if t else 0.0, rel_tol=1e-13)


def test_parity_exp_refuses_overflowing_scales():
    with pytest.raises(InputError, match="scale"):
        con.parity_exp([1, 0], scale=800.0)
    with pytest.raises(InputError, match="form"):
        con.parity_exp([1, 0], form="fast")
    assert con.parity_exp([1, 1, 0], scale=0.0, form="recurrent").tolist() == [-1.0, 1.0, 1.0]


@pytest.mark.parametrize("L,scale,dtype", [(1, 0.0, torch.float64), (7, 1.5, torch.float64), (40, -2.0, torch.float32)])
def test_parity_exp_tolerance_is_the_docstrings_bound(L, scale, dtype):
    """The bound as its derivation states it: 2 c (5 L^3 + 2 L^2 + 5 L + 2) u (1 + 2u) with c = e^s and u the unit
    round-off of the dtype (a larger constant would let a wrong construction pass; a smaller one is not the bound
    derived). And the construction meets it at these points."""
    from impl.deltaformer.constructions import parity_exp, parity_exp_tolerance

    u = torch.finfo(dtype).eps / 2
    c = math.exp(scale)
    want = 2 * c * (5 * L**3 + 2 * L**2 + 5 * L + 2) * u * (1 + 2 * u)
    assert parity_exp_tolerance(L, scale, dtype) == pytest.approx(want, rel=1e-14)
    bits = [(i * 7 + 3) % 2 for i in range(L)]
    signs = torch.tensor([(-1.0) ** sum(bits[: t + 1]) for t in range(L)], dtype=torch.float64)
    err = (parity_exp(bits, scale=scale, dtype=dtype).double() - c * signs).abs().max()
    assert float(err) <= parity_exp_tolerance(L, scale, dtype)


def test_reachability_counts_are_exact_beyond_float32s_integers():
    """The docstring's "exact integers in float64 below 2^53": 16 three-way diamonds in a row give 3^16 = 43,046,721
    paths, an odd count above 2^24 that float32 cannot hold, so a construction built in float32 (or any dtype
    other than the one asked for) misses it."""
    edges, node = [], 0
    for _ in range(16):
        mids = [node + 1, node + 2, node + 3]
        edges += [(node, m) for m in mids]
        edges += [(m, node + 4) for m in mids]
        node += 4
    assert 3 ** 16 > 2 ** 24 and float(torch.tensor(3.0 ** 16, dtype=torch.float32)) != 3 ** 16
    for form in ("recurrent", "parallel", "chunk"):
        assert con.reachability_deltaformer(edges, [(0, node), (4, node)], node + 1, form=form) == [3.0 ** 16, 3.0 ** 15]
    assert increasing_path_count(edges, 0, node) == 3 ** 16


@pytest.mark.parametrize("gram", ["feature_gram", "cosine_gram"])
@pytest.mark.parametrize("kernel", ["exp", "linear"])
def test_grams_are_computed_in_float64_whatever_the_keys_dtype(kernel, gram):
    """Keys given in float32, or as nested lists, are read into float64 first: the (cosine) Gram is the float64
    one of the same values (its entries feed a span residual whose cancellation float32 cannot carry)."""
    g = torch.Generator().manual_seed(5)
    keys = torch.randn(4, 3, generator=g, dtype=torch.float32)
    ref = getattr(con, gram)(keys.double(), kernel, 0.7)
    for given in (keys, keys.tolist()):
        got = getattr(con, gram)(given, kernel, 0.7)
        assert got.dtype == torch.float64
        torch.testing.assert_close(got, ref, rtol=0, atol=0)
