"""Kernel memories' building blocks against explicit formulas (small sizes, float64), and bad input naming its
parameter. These pin what the statistical claims cannot see: a temperature applied the wrong way round at tau = 1, a
feature map's degree silently defaulted, an output of the wrong shape."""

import math

import pytest
import torch

from impl.memories import kernels as mk
from impl.memories.kernel import softmax_read
from impl.numerics.errors import InputError


def _data(seed=0, n=5, d=3, dv=2):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn((n, d), generator=g, dtype=torch.float64), torch.randn((n, dv), generator=g, dtype=torch.float64),
            torch.randn((n, d), generator=g, dtype=torch.float64))


@pytest.mark.parametrize("tau", [0.5, 2.0])
def test_softmax_read_divides_by_the_temperature(tau):
    K, V, Q = _data()
    for i in range(Q.shape[0]):
        w = torch.exp(K @ Q[i] / tau)
        torch.testing.assert_close(softmax_read(K, V, Q, tau=tau)[i], (w / w.sum()) @ V, rtol=1e-12, atol=1e-12)


def test_kernel_equals_its_closed_form():
    K, _, Q = _data(1)
    torch.testing.assert_close(mk.kernel("exp", Q, K, tau=2.0), torch.exp(Q @ K.T / 2.0), rtol=1e-12, atol=0)
    torch.testing.assert_close(mk.kernel("poly", Q, K, p=3), (Q @ K.T) ** 3, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(mk.kernel("relu", Q, K), torch.relu(Q @ K.T), rtol=1e-12, atol=0)
    sq = ((Q[:, None, :] - K[None, :, :]) ** 2).sum(-1)
    torch.testing.assert_close(mk.kernel("rbf", Q, K, s=1.5), torch.exp(-sq / 4.5), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("p", [1, 2, 3])
def test_poly_features_use_the_requested_degree(p):
    K, _, Q = _data(2)
    phi_q, phi_k = mk.features("poly", Q, p=p), mk.features("poly", K, p=p)
    assert phi_q.shape == (Q.shape[0], Q.shape[1] ** p)
    torch.testing.assert_close(phi_q @ phi_k.T, (Q @ K.T) ** p, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", ["positive", "trigonometric"])
def test_performer_features_reproduce_their_definition(kind):
    K, _, Q = _data(3, n=4, d=3)
    W = mk.performer_omega(6, 3, torch.Generator().manual_seed(9))
    log_scale, base = mk.performer_log_features(Q, W, kind)
    if kind == "positive":
        phi = torch.exp(Q @ W.T - (Q * Q).sum(-1, keepdim=True) / 2) / math.sqrt(6)
        assert base.shape == (4, 6)
    else:
        phi = torch.exp((Q * Q).sum(-1, keepdim=True) / 2) * torch.cat([torch.sin(Q @ W.T), torch.cos(Q @ W.T)], -1) / math.sqrt(6)
        assert base.shape == (4, 12)
    torch.testing.assert_close(torch.exp(log_scale) * base, phi, rtol=1e-12, atol=1e-14)
    got = mk.performer_kernel(Q, K, W, kind)
    phi_k = (torch.exp(K @ W.T - (K * K).sum(-1, keepdim=True) / 2) / math.sqrt(6) if kind == "positive" else
             torch.exp((K * K).sum(-1, keepdim=True) / 2) * torch.cat([torch.sin(K @ W.T), torch.cos(K @ W.T)], -1) / math.sqrt(6))
    torch.testing.assert_close(got, phi @ phi_k.T, rtol=1e-12, atol=1e-14)


def test_bad_input_names_the_parameter():
    from impl.estimators.snr import estimate_snr
    from impl.memories.kernel import PerformerMemory

    def estimate_performer_snr(kind, n_pairs, d_k, d_v, trials, seed, *, tau, m):
        return estimate_snr(PerformerMemory(kind, tau=tau, m=m), n_pairs, d_k, d_v, trials, seed)

    X = torch.zeros((2, 3), dtype=torch.float64)
    cases = [
        (lambda: mk.features("nope", X), "feature_map"),
        (lambda: mk.performer_log_features(X, torch.zeros((2, 3), dtype=torch.float64), "cosine"), "kind"),
        (lambda: estimate_performer_snr("positive", 8, 4, 0, 10, 0, tau=8.0, m=2), "d_v"),
        (lambda: estimate_performer_snr("positive", 8, 0, 4, 10, 0, tau=8.0, m=2), "d_k"),
        (lambda: estimate_performer_snr("positive", 1, 4, 4, 10, 0, tau=8.0, m=2), "n_pairs"),
        (lambda: estimate_performer_snr("positive", 8, 4, 4, 10, 0, tau=float("nan"), m=2), "tau"),
    ]
    for call, name in cases:
        with pytest.raises(InputError) as err:
            call()
        assert err.value.parameter == name


@pytest.mark.parametrize("kind", ["positive", "trigonometric"])
@pytest.mark.parametrize("orthogonal", [False, True])
def test_performer_estimates_reproduce_their_draws(kind, orthogonal):
    """Each trial's estimate phi(x)^T phi(y) from its own m features, recomputed from the same generator draws:
    i.i.d. rows, or blocks of d orthogonal rows (rows of Q^T) with chi_d norms."""
    from impl.estimators.snr_performer import performer_estimates

    d, m, trials, seed = 3, 5, 4, 8
    x = torch.tensor([0.3, -0.2, 0.5], dtype=torch.float64)
    y = torch.tensor([0.1, 0.4, -0.3], dtype=torch.float64)
    got = performer_estimates(x, y, m, kind, trials, seed, orthogonal=orthogonal)
    g = torch.Generator().manual_seed(seed)
    if not orthogonal:
        W = torch.randn((trials, m, d), generator=g, dtype=torch.float64)
    else:
        nb = -(-m // d)
        q, r = torch.linalg.qr(torch.randn((trials, nb, d, d), generator=g, dtype=torch.float64))
        q = q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1))[..., None, :]
        norms = torch.randn((trials, nb, d, d), generator=g, dtype=torch.float64).norm(dim=-1)
        W = torch.stack([torch.cat([q[t, b].T * norms[t, b][:, None] for b in range(nb)])[:m] for t in range(trials)])
    for t in range(trials):
        want = mk.performer_kernel(x[None], y[None], W[t], kind)[0, 0]
        assert math.isclose(float(got[t]), float(want), rel_tol=1e-12), (t, float(got[t]), float(want))


def test_batched_memories_equal_their_unbatched_slices():
    """Memories carry leading batch dimensions (trials): every batched result equals the per-slice one."""
    from impl.memories.kernel import softmax_snr_samples, write_features

    g = torch.Generator().manual_seed(4)
    K = torch.randn((3, 6, 4), generator=g, dtype=torch.float64)
    V = torch.randn((3, 6, 2), generator=g, dtype=torch.float64)
    S, X = write_features(K, V), softmax_snr_samples(K, V, tau=2.0)
    assert S.shape == (3, 2, 4) and X.shape == (3, 6)
    for b in range(3):
        torch.testing.assert_close(S[b], V[b].T @ K[b], rtol=1e-13, atol=1e-13)
        torch.testing.assert_close(X[b], softmax_snr_samples(K[b], V[b], tau=2.0), rtol=1e-12, atol=0)


def test_decoding_accuracy_counts_every_probe_once():
    from impl.estimators.snr_linear import decoding_accuracy

    correct, total = decoding_accuracy(4, 64, 64, 5, 0)  # 4 nearly orthogonal keys in R^64: every probe decodes
    assert total == 5 * 4 and correct == total
    correct, total = decoding_accuracy(200, 4, 4, 3, 1)  # far beyond capacity: many errors
    assert total == 3 * 200 and 0 < correct < total


def test_dpfp_against_its_definition_by_hand_and_by_loop():
    """DPFP (Schlag et al. 2021, nu = 1) against values worked by hand and a scalar loop over its definition, for both
    the feature map and C5's elementwise kernel: x = (1, -2) gives r = [1, 0, 0, 2] and DPFP(x) = [0, 0, 0, 2]
    (r_3 r_0); y = (3, -1): r = [3, 0, 0, 1], DPFP(y) = [0, 0, 0, 3]; kappa(x, y) = 6."""
    from assocmem.claims.kernels import dpfp_kernel_elementwise

    x, y = torch.tensor([[1.0, -2.0]], dtype=torch.float64), torch.tensor([[3.0, -1.0]], dtype=torch.float64)
    assert mk.dpfp_features(x).tolist() == [[0.0, 0.0, 0.0, 2.0]]
    assert mk.dpfp_features(y).tolist() == [[0.0, 0.0, 0.0, 3.0]]
    assert dpfp_kernel_elementwise(x, y).item() == 6.0
    # x = (2, 3, -1): r = [2, 3, 0, 0, 0, 1], DPFP(x) = [6, 0, 0, 0, 0, 2] (r_0 r_1 and r_5 r_0)
    assert mk.dpfp_features(torch.tensor([2.0, 3.0, -1.0])).tolist() == [6.0, 0.0, 0.0, 0.0, 0.0, 2.0]

    def loop(u):  # scalar loop over the definition
        d = len(u)
        r = [max(a, 0.0) for a in u] + [max(-a, 0.0) for a in u]
        return [r[i] * r[(i + 1) % (2 * d)] for i in range(2 * d)]

    g = torch.Generator().manual_seed(4)
    X, Y = torch.randn((6, 5), generator=g, dtype=torch.float64), torch.randn((4, 5), generator=g, dtype=torch.float64)
    want_f = torch.tensor([loop(row.tolist()) for row in X], dtype=torch.float64)
    assert torch.allclose(mk.dpfp_features(X), want_f, rtol=1e-15, atol=0)
    want_k = torch.tensor([[sum(a * b for a, b in zip(loop(p.tolist()), loop(q.tolist()))) for q in Y] for p in X],
                          dtype=torch.float64)
    assert torch.allclose(dpfp_kernel_elementwise(X, Y), want_k, rtol=1e-13, atol=1e-15)
    assert torch.allclose(mk.kernel("dpfp", X, Y), want_k, rtol=1e-13, atol=1e-15)


def test_poly_features_refuse_a_tensor_power_too_large_to_hold():
    """d^p > 2^22 entries per key is refused, naming p and pointing to the kernel form; 2^22 itself is allowed."""
    X = torch.zeros((1, 4), dtype=torch.float64)
    with pytest.raises(InputError, match=r"^p: the tensor-power feature map has d\^p = 16777216 entries; use the "
                                            r"kernel form$"):
        mk.poly_features(X, 12)
    assert mk.poly_features(torch.ones((1, 2), dtype=torch.float64), 22).shape == (1, 2**22)
    with pytest.raises(InputError, match=r"^p: must be an integer >= 1, got 0$"):
        mk.poly_features(X, 0)


@pytest.mark.parametrize("p", [1, 3])
def test_the_feature_memory_passes_the_degree_to_both_feature_maps(p):
    """S phi(q) with S = sum_j v_j phi(k_j)^T, at a degree other than the default 2, equals the brute-force
    sum_j v_j (k_j^T q)^p: the degree reaches the keys' features and the queries' alike (a degree dropped on one side
    makes the shapes or the values disagree)."""
    from impl.memories.kernel import feature_memory_read

    K, V, Q = _data(3)
    expect = ((Q @ K.T) ** p) @ V
    torch.testing.assert_close(feature_memory_read("poly", K, V, Q, p=p), expect, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kernel,params,kappa", [
    ("exp", {"tau": 3.0}, lambda x, y: torch.exp(x @ y / 3.0)),  # the one-GEMM fast path
    ("poly", {"p": 2}, lambda x, y: (x @ y) ** 2),  # the general log-kernel path
])
def test_signal_noise_log_of_a_batch_equals_the_explicit_sums(kernel, params, kappa):
    """signal_noise_log over K [2, 3, N, d] (the documented [..., N, d_k]): for every slice and probe i, log c_i =
    log kappa(k_i, k_i) and r_i / c_i = sum_{j != i} kappa(k_j, k_i) v_j / c_i, by an explicit double loop."""
    from impl.memories.kernel import signal_noise_log

    g = torch.Generator().manual_seed(7)
    K = torch.randn((2, 3, 5, 4), generator=g, dtype=torch.float64)
    V = torch.randn((2, 3, 5, 2), generator=g, dtype=torch.float64)
    logc, r = signal_noise_log(kernel, K, V, **params)
    assert logc.shape == (2, 3, 5) and r.shape == (2, 3, 5, 2)
    for a in range(2):
        for b in range(3):
            for i in range(5):
                c = kappa(K[a, b, i], K[a, b, i])
                noise = sum(kappa(K[a, b, j], K[a, b, i]) * V[a, b, j] for j in range(5) if j != i)
                assert float(logc[a, b, i]) == pytest.approx(math.log(float(c)), rel=1e-12, abs=1e-12)
                torch.testing.assert_close(r[a, b, i], noise / c, rtol=1e-11, atol=1e-12)


def test_check_kernel_params_returns_what_each_kernel_uses():
    """Each kernel's parameters with their documented defaults (exp tau = 1, poly p = 2, rbf s = 1; none for the
    others), a given value passed through, and a bad one refused by its name."""
    assert mk.check_kernel_params("exp") == {"tau": 1.0} and mk.check_kernel_params("exp", tau=3) == {"tau": 3.0}
    assert mk.check_kernel_params("poly") == {"p": 2} and mk.check_kernel_params("poly", p=3) == {"p": 3}
    assert mk.check_kernel_params("rbf") == {"s": 1.0} and mk.check_kernel_params("rbf", s=0.5) == {"s": 0.5}
    for name in set(mk.KERNELS) - {"exp", "poly", "rbf"}:
        assert mk.check_kernel_params(name) == {}, name
    for kernel, bad, flag in (("exp", {"tau": 0.0}, "tau"), ("poly", {"p": 0}, "p"), ("rbf", {"s": -1.0}, "s")):
        with pytest.raises(InputError) as e:
            mk.check_kernel_params(kernel, **bad)
        assert e.value.parameter == flag


def test_measured_recall_of_the_exp_memory_uses_its_temperature():
    """recall_measured.measure_recall("exp", tau=...) reads with that temperature: the same draws (same seed) at a
    sharp tau = 0.1 (the own key's weight e^{(||k||^2 - k.k_j)/tau} dominates) recall far more than at tau = 64
    (nearly linear weights: N = 32 pairs in d = 8 interfere)."""
    from impl.estimators.recall_measured import measure_recall

    sharp = measure_recall("exp", 32, 8, 8, 200, 4, tau=0.1)
    flat = measure_recall("exp", 32, 8, 8, 200, 4, tau=64.0)
    assert sharp["trials"] == flat["trials"] == 200
    assert sharp["hits"] / 200 > flat["hits"] / 200 + 0.3, (sharp["hits"], flat["hits"])
