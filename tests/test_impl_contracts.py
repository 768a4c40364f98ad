"""Contracts of impl helpers: the parameter an InputError names, dtypes that keyword arguments promise, the accepted
ranges of token ids, and the Performer extra-noise closed form against its SymPy derivation (theory.kernels)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
import torch

from impl.numerics.errors import InputError


def test_swap_batch_names_n_when_too_few_slots():
    from impl.tasks.swap import swap_batch

    with pytest.raises(InputError) as err:
        swap_batch(1, 4, 2, np.random.default_rng(0))
    assert err.value.parameter == "n"


def test_sphere_snr_names_d_v():
    from impl.estimators.snr import estimate_snr
    from impl.memories.kernel import SphereMemory

    for bad in (0, 2.5):
        with pytest.raises(InputError) as err:
            estimate_snr(SphereMemory(1.0), 4, 3, bad, 10, 0)
        assert err.value.parameter == "d_v"


def test_predicted_recall_names_average():
    from impl.estimators.recall_prediction import predicted_recall_kernel

    with pytest.raises(InputError) as err:
        # a supplied curve (any P(delta) callable) skips tabulating the recall curve, which takes a minute
        predicted_recall_kernel("linear", 8, 4, 4, average="median", curve=lambda delta: np.ones_like(delta))
    assert err.value.parameter == "average"


def test_gaussian_pairs_keys_and_values_honour_dtype():
    from impl.estimators.sampling import gaussian_pairs

    K32, V32 = gaussian_pairs(2, 3, 4, 5, torch.Generator().manual_seed(7), dtype="float32")
    K64, V64 = gaussian_pairs(2, 3, 4, 5, torch.Generator().manual_seed(7))
    assert K32.dtype == V32.dtype == torch.float32
    assert K64.dtype == V64.dtype == torch.float64
    # house rule: drawn in float64 on the CPU, then cast, so one seed gives the same numbers
    assert torch.equal(K32, K64.to(torch.float32)) and torch.equal(V32, V64.to(torch.float32))


def test_swap_keys_all_in_requested_dtype():
    from impl.deltaformer.constructions import swap_key, swap_keys

    keys = swap_keys(4, 0, 1, 3, dtype=torch.float32)
    assert [k.dtype for k in keys] == [torch.float32] * 3
    for k, (a, b) in zip(keys, [(0, 1), (1, 3), (0, 3)]):
        assert torch.equal(k, swap_key(4, a, b, dtype=torch.float32))
    # the linear construction's additivity e_il = e_ij + e_jl (exact up to one rounding of 1/sqrt(2))
    assert torch.allclose(keys[0] + keys[1], keys[2], rtol=0, atol=4 * torch.finfo(torch.float32).eps)


def test_dag_decode_rejects_target_id_out_of_range():
    from impl.tasks.dag import decode

    n = 3
    assert decode([(0, n + 2, 2 * n), (1, n, 2 * n + 1)], n) == ([(0, 2)], [(1, 0)])
    for bad in [(0, 2 * n, 2 * n), (0, n - 1, 2 * n), (n, n, 2 * n), (0, n, 2 * n + 2)]:
        with pytest.raises(InputError) as err:
            decode([bad], n)
        assert err.value.parameter == "tokens"


def test_reachability_tokens_reject_query_node_out_of_range():
    from impl.deltaformer.constructions import reachability_tokens

    n = 3
    for query in [(n, 0), (0, n), (-1, 0), (0, -1)]:
        with pytest.raises(InputError) as err:
            reachability_tokens([(0, 1)], [query], n)
        assert err.value.parameter == "queries"
    for edge in [(n, 0), (0, n), (-1, 0), (0, -1)]:
        with pytest.raises(InputError) as err:
            reachability_tokens([edge], [(0, 1)], n)
        assert err.value.parameter == "edges"
    # the smallest and the largest valid ids are accepted, as edges and as queries, and land where they say
    for a, b in [(0, 0), (n - 1, n - 1), (0, n - 1), (n - 1, 0)]:
        q, k, w, v, beta = reachability_tokens([(a, b)], [(a, b)], n)
        assert k[0, 0, 0, b] == w[0, 0, 0, a] == v[0, 0, 0, a] == 1.0 and beta[0, 0, 0] == -1.0
        assert q[0, 0, 1, b] == 1.0 and float(q.abs().sum()) == 1.0


@pytest.mark.parametrize("kind", ["positive", "trigonometric"])
def test_performer_extra_noise_matches_derivation(kind):
    from impl.estimators.snr_performer import performer_extra_noise
    from theory.kernels import d_k, kappa, m_feat, performer_memory_extra_noise, tau

    expr = performer_memory_extra_noise(kind)
    for kap, d, t, m in [(3.0, 4, 5.0, 16), (8.0, 8, 3.0, 4), (1.5, 2, 10.0, 1)]:
        exact = float(expr.subs({kappa: sp.Float(kap, 30), d_k: d, tau: sp.Float(t, 30), m_feat: m}).evalf(30))
        got = performer_extra_noise(kind, kap, d, t, m)
        # a few exp/log evaluations, each relative error ~ eps times the exponent's size
        assert math.isclose(got, exact, rel_tol=1e-11), (kind, kap, d, t, m, got, exact)


def test_solu_ffn_glu_error_says_what_is_allowed():
    from impl.memories.ffn import FFNMemory

    with pytest.raises(InputError) as err:
        FFNMemory("solu", glu=True)
    assert err.value.parameter == "glu"
    # InputError's contract: one line naming the parameter and what is allowed (glu must be False for solu)
    msg = str(err.value)
    assert "\n" not in msg and "False" in msg


def test_solu_snr_names_n_pairs():
    from impl.estimators.snr import estimate_snr
    from impl.memories.solu import SoLUMemory

    for bad in (1, 2.0):
        with pytest.raises(InputError) as err:
            estimate_snr(SoLUMemory(), bad, 4, 4, 10, 0)
        assert err.value.parameter == "n_pairs"


@pytest.mark.parametrize("bad", ["float8", "int32", torch.int32, torch.complex64, torch.float8_e4m3fn])
def test_resolve_dtype_names_dtype_for_names_and_torch_dtypes_alike(bad):
    """Both branches (a name, a torch.dtype) refuse a dtype outside the four, naming the parameter dtype; the four
    are returned as the torch dtype of that name, from either spelling."""
    from impl.numerics.device import resolve_dtype

    with pytest.raises(InputError) as err:
        resolve_dtype(bad)
    assert err.value.parameter == "dtype"
    for name in ("float64", "float32", "bfloat16", "float16"):
        assert resolve_dtype(name) is getattr(torch, name) and resolve_dtype(getattr(torch, name)) is getattr(torch, name)


@pytest.mark.parametrize("position,name", [(0, "trials"), (1, "n_pairs"), (2, "d_k"), (3, "d_v")])
@pytest.mark.parametrize("bad", [0, -1, 2.5])
def test_gaussian_pairs_names_each_bad_size(position, name, bad):
    from impl.estimators.sampling import gaussian_pairs

    sizes = [2, 3, 4, 5]
    sizes[position] = bad
    with pytest.raises(InputError, match=rf"^{name}: must be an integer >= 1, got {bad}$") as err:
        gaussian_pairs(*sizes, torch.Generator().manual_seed(0))
    assert err.value.parameter == name


@pytest.mark.parametrize("argument", ["kernel", "kernel_w"])
def test_deltaformer_unknown_kernel_names_the_argument_and_the_choices(argument):
    from impl.deltaformer.kernels import KERNELS
    from impl.deltaformer.parallel import deltaformer_parallel

    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn((1, 1, 4, 3), generator=g, dtype=torch.float64) for _ in range(3))
    beta = torch.full((1, 1, 4), 0.5, dtype=torch.float64)
    with pytest.raises(InputError) as err:
        deltaformer_parallel(q, k, v, beta, **{argument: "cosine"})
    assert err.value.parameter == argument
    assert str(err.value) == f"{argument}: must be one of softmax, exp, linear, got 'cosine'"
    assert KERNELS == ("softmax", "exp", "linear")
