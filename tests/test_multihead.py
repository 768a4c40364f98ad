"""Multi-head memories (C12, measured): the h-head read against single-head memories, the head split, the paired
test, and the splitting results' direction. (Property draws, mutants, figure quick points: the generic templates.)"""

import math

import pytest
import torch

from impl.estimators import multihead as mh
from impl.estimators.snr import estimate_snr
from impl.memories.kernel import kernel_read, softmax_read
from impl.memories.multihead import MultiHeadLinearMemory
from impl.numerics.errors import InputError


def _data(t=4, n=12, d=8, dv=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn((t, n, d), generator=g, dtype=torch.float64), torch.randn((t, n, dv), generator=g, dtype=torch.float64))


def test_one_head_is_the_single_memory():
    K, V = _data()
    q = K[:, 3]
    assert torch.allclose(mh.multihead_read("linear", K, V, q, 1), kernel_read("linear", K, V, q[:, None])[:, 0], atol=1e-12)
    assert torch.allclose(mh.multihead_read("softmax_sqrt", K, V, q, 1), softmax_read(K, V, q[:, None], tau=math.sqrt(8))[:, 0],
                          atol=1e-12)
    assert torch.allclose(mh.multihead_read("softmax_2", K, V, q, 1), softmax_read(K, V, q[:, None], tau=2.0)[:, 0], atol=1e-12)


def test_each_head_reads_its_own_blocks():
    K, V = _data()
    q = K[:, 5]
    o = mh.multihead_read("softmax_sqrt", K, V, q, 4)
    for m in range(4):
        ks, vs = slice(2 * m, 2 * m + 2), slice(2 * m, 2 * m + 2)
        ref = softmax_read(K[..., ks], V[..., vs], q[:, None, ks], tau=math.sqrt(2))[:, 0]
        assert torch.allclose(o[:, vs], ref, atol=1e-12)
    lin = mh.multihead_read("linear", K, V, q, 2)
    assert torch.allclose(lin[:, :4], kernel_read("linear", K[..., :4], V[..., :4], q[:, None, :4])[:, 0], atol=1e-12)


def test_heads_must_divide_the_width():
    with pytest.raises(InputError, match="h"):
        estimate_snr(MultiHeadLinearMemory(3), 16, 32, 32, 10, 1)
    with pytest.raises(InputError, match="memory"):
        mh.multihead_recall(16, 32, 32, (1, 2), 5, 1, memories=("rnn",))


def test_paired_change_counts_and_exact_p_values():
    from assocmem.claims.multihead import paired_change

    h = torch.tensor([True] * 10 + [False] * 5 + [True] * 5)
    h2 = torch.tensor([False] * 10 + [False] * 5 + [True] * 5)
    ch = paired_change(h, h2)
    assert (ch["only_h"], ch["only_2h"]) == (10, 0)
    assert ch["p_decrease"] == pytest.approx(2.0**-10) and ch["p_increase"] == 1.0 and ch["decrease"] and not ch["increase"]
    assert ch["cost"] == pytest.approx(10 / 20)
    assert ch["cost_lo"] == pytest.approx((2 * 1e-3 ** (1 / 10) - 1) * 10 / 20)  # one-sided Clopper-Pearson, c = n = 10
    big = paired_change(torch.tensor([True] * 300 + [False] * 300), torch.tensor([False] * 600))
    assert 0.4 < big["cost_lo"] < big["cost"] == 0.5
    same = paired_change(h, h.clone())
    assert not same["decrease"] and not same["increase"] and same["p_decrease"] == 1.0 and same["cost_lo"] == 0.0


def test_per_head_theory_and_its_mutant():
    from assocmem.claims.multihead import per_head_theory

    assert per_head_theory("linear", 257, 32, 4) == pytest.approx(256 * 4 / 32)
    assert per_head_theory("exp", 257, 32, 4, "2") == pytest.approx(256 * math.exp(-32 / 8))
    assert per_head_theory("exp", 257, 32, 8, "sqrt") == pytest.approx(256 * math.exp(2 - 2 * 2))
    assert per_head_theory("exp", 257, 32, 1, "sqrt", unsplit=True) == per_head_theory("exp", 257, 32, 1, "sqrt")


def test_splitting_costs_recall_where_heads_are_loaded_and_never_helps():
    """At N = 256 with d = 32, one softmax head recalls nearly everything and eight heads far less; no split raised
    recall significantly."""
    from assocmem.claims.multihead import paired_change

    res = mh.multihead_recall(256, 32, 32, (1, 2, 4, 8), 300, 3, memories=("softmax_sqrt", "linear"))
    pairs = res["pairs"]["softmax_sqrt"]
    assert res["hits"]["softmax_sqrt"][1] / 300 > 0.95 and res["hits"]["softmax_sqrt"][8] / 300 < 0.3
    for m in ("softmax_sqrt", "linear"):
        for h in (1, 2, 4):
            assert not paired_change(res["pairs"][m][h], res["pairs"][m][2 * h])["increase"]
    assert bool(pairs[1].sum() >= pairs[8].sum())


def _per_head_probe_averaged_samples(n_pairs, d, d_v, h, trials, seed):
    """Brute force, sharing no code with the theory or the estimators: write N random pairs, read head m at the stored
    key's block (a fresh probe and pairs per trial), and sample ||r^(m)||^2 / (c_m^2 ||v_i^(m)||^2) with c_m the
    probe block's own ||k_i^(m)||^2 and r^(m) the other pairs' sum; heads are independent (disjoint blocks)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(trials // 500):
        K = rng.standard_normal((500, n_pairs, h, d // h))
        V = rng.standard_normal((500, n_pairs, h, d_v // h))
        dots = np.einsum("tnhk,thk->tnh", K, K[:, 0])  # k_j^(m) . k_i^(m); j = 0 is the probe
        r = np.einsum("tnh,tnhv->thv", dots[:, 1:], V[:, 1:])
        out.append(((r * r).sum(-1) / (dots[:, 0] ** 2 * (V[:, 0] ** 2).sum(-1))).ravel())
    return np.concatenate(out)


@pytest.mark.parametrize("n, d, dv, h", [(8, 32, 32, 4), (16, 24, 16, 2), (5, 40, 48, 4)])
def test_probe_averaged_per_head_value_by_brute_force(n, d, dv, h):
    """The probe-averaged per-head SNR^{-1} (N-1) h d_v/((d-2h)(d_v-2h)) (theory.ffn.multihead_linear_snr_inv) inside
    a t-interval at level 1 - 1e-6 (false-failure rate 1e-6 per point; d/h, d_v/h >= 8 so a sample's variance is
    finite) of the brute-force mean, and the typical value (N-1) h/d outside it: splitting does not multiply the
    probe-averaged value by h."""
    import numpy as np
    from scipy import stats as sst

    from theory import ffn as tf

    x = _per_head_probe_averaged_samples(n, d, dv, h, 40000, 7 + n)
    half = sst.t.ppf(1 - 0.5e-6, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size)
    want = float(tf.multihead_linear_snr_inv("probe_averaged").subs({tf.N: n, tf.d_k: d, tf.d_v: dv, tf.h: h}))
    assert abs(x.mean() - want) <= half
    typical = float(tf.multihead_linear_snr_inv("typical").subs({tf.N: n, tf.d_k: d, tf.h: h}))
    assert abs(x.mean() - typical) > half
    one_head = float(tf.multihead_linear_snr_inv("probe_averaged").subs({tf.N: n, tf.d_k: d, tf.d_v: dv, tf.h: 1}))
    assert want / one_head == pytest.approx(h * (d - 2) * (dv - 2) / ((d - 2 * h) * (dv - 2 * h)), rel=1e-12)
    assert want / one_head > h * (1 + 1e-3)
    assert np.isfinite(x).all()


@pytest.mark.parametrize("d, dv, h", [(32, 32, 16), (32, 64, 16), (16, 64, 16), (32, 8, 4), (24, 48, 8)])
def test_probe_averaged_per_head_diverges_once_a_block_has_two_coordinates_or_fewer(d, dv, h):
    """E[1/chi^2_k] = int x^{-1} chi2_k(x) dx diverges for k <= 2 (SymPy integral, independent of the closed form):
    the per-head probe-averaged value is infinite exactly when d/h <= 2 or d_v/h <= 2."""
    import sympy as sp

    from theory import ffn as tf

    x = sp.Symbol("x", positive=True)

    def inv_moment(k):
        return sp.integrate(x ** (sp.Rational(k, 2) - 2) * sp.exp(-x / 2) / (2 ** sp.Rational(k, 2) * sp.gamma(sp.Rational(k, 2))),
                            (x, 0, sp.oo))

    diverges = inv_moment(d // h) is sp.oo or inv_moment(dv // h) is sp.oo
    assert diverges == (d // h <= 2 or dv // h <= 2)
    got = tf.multihead_linear_snr_inv("probe_averaged").subs({tf.N: 9, tf.d_k: d, tf.d_v: dv, tf.h: h})
    assert (got is sp.oo) == diverges
    if not diverges:
        assert got == 8 * h * dv / sp.Integer((d - 2 * h) * (dv - 2 * h))
