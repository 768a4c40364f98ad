"""TTT-Linear and Titans with a LayerNorm memory (impl/rules/ttt/layernorm.py, the conformance ground truths for the
peers' ``ttt`` / ``titans``) against a second construction written here from the module's equations: NumPy loops
with the LayerNorm loss gradient in closed form (no autograd), so that neither the gradient, the mini-batch
semantics, the momentum, the decay nor the readout is shared with the code under test."""

import numpy as np
import pytest
import torch

from impl.numerics.errors import InputError
from impl.rules.ttt.layernorm import titans_ln_recurrent, ttt_linear_ln_recurrent

U = 2.0**-53


def _ln(z, w, b, eps):
    mu = z.mean(-1, keepdims=True)
    sd = np.sqrt(((z - mu) ** 2).mean(-1, keepdims=True) + eps)
    return w * (z - mu) / sd + b, (z - mu) / sd, sd


def _grads(W, b_in, k, v, w, b, eps):
    """l = 1/2 ||LN(k W + b_in) - (v - k)||^2; the LayerNorm backward by hand: with xhat = (z - mu)/sd and
    g = dl/dxhat = w (LN(z) - (v - k)), dl/dz = (g - mean(g) - xhat mean(g xhat)) / sd; dl/dW = k^T dl/dz."""
    z = k @ W + b_in
    y, xhat, sd = _ln(z, w, b, eps)
    g = w * (y - (v - k))
    dz = (g - g.mean(-1, keepdims=True) - xhat * (g * xhat).mean(-1, keepdims=True)) / sd
    return np.outer(k, dz), dz


def _ttt_loop(q, k, v, eta, w, b, scale, eps, C, init=None):
    T, d = k.shape
    W0, b0 = (np.zeros((d, d)), np.zeros(d)) if init is None else init
    out = []
    for start in range(0, T, C):
        G, g = np.zeros((d, d)), np.zeros(d)
        for t in range(start, min(start + C, T)):
            gW, gb = _grads(W0, b0, k[t], v[t], w, b, eps)
            G, g = G + gW, g + gb
            z = scale * q[t] @ (W0 - eta[t] * G) + (b0 - eta[t] * g)
            out.append(z + _ln(z, w, b, eps)[0])
        W0, b0 = W0 - eta[t] * G, b0 - eta[t] * g
    return np.array(out), W0, b0


def _titans_loop(q, k, v, theta, alpha, eta, w, b, eps, C, init=None):
    T, d = k.shape
    W = np.zeros((d, d)) if init is None else init  # the momentum starts at 0 either way
    m, W_nabla, out = np.zeros((d, d)), W, []
    for t in range(T):
        gW, _ = _grads(W_nabla, np.zeros(d), k[t], v[t], w, b, eps)
        m = eta[t] * m - theta[t] * 2 * gW  # the gradient of L = ||LN(k W) - (v - k)||^2 = 2 l
        W = (1 - alpha[t]) * W + m
        z = q[t] @ W
        out.append(z + _ln(z, w, b, eps)[0])
        if (t + 1) % C == 0:
            W_nabla = W
    return np.array(out), W


def _inputs(seed, T=7, d=4, H=1):
    rng = np.random.default_rng(seed)
    q, k, v = (rng.standard_normal((1, H, T, d)) for _ in range(3))
    w, b = 1 + 0.3 * rng.standard_normal((H, d)), 0.2 * rng.standard_normal((H, d))
    gates = rng.uniform(0.05, 0.9, size=(3, 1, H, T))
    return q, k, v, w, b, gates


def _tol(*arrays):
    # float64 round-off of a few hundred dependent operations per output: 2^-53 times a generous operation count,
    # relative to the largest magnitude involved; an error in any term of the equations is O(1) relative
    return 4096 * U * max(1.0, *(float(np.abs(a).max()) for a in arrays))


@pytest.mark.parametrize("mini_batch", [1, 3, 16])
def test_ttt_linear_ln_matches_the_equations(mini_batch):
    q, k, v, w, b, (eta, _, _) = _inputs(11 + mini_batch)
    t = lambda x: torch.from_numpy(x)  # noqa: E731
    o, (W, b_in) = ttt_linear_ln_recurrent(t(q), t(k), t(v), t(eta), t(w), t(b), scale=0.7, eps=1e-5,
                                            mini_batch=mini_batch, output_final_state=True)
    ref, W_ref, b_ref = _ttt_loop(q[0, 0], k[0, 0], v[0, 0], eta[0, 0], w[0], b[0], 0.7, 1e-5, mini_batch)
    tol = _tol(ref, W_ref)
    assert np.abs(o[0, 0].numpy() - ref).max() <= tol
    assert np.abs(W[0, 0].numpy() - W_ref).max() <= tol and np.abs(b_in[0, 0].numpy() - b_ref).max() <= tol


@pytest.mark.parametrize("mini_batch", [1, 2, 16])
def test_titans_ln_matches_the_equations(mini_batch):
    q, k, v, w, b, (theta, alpha, eta) = _inputs(29 + mini_batch)
    t = lambda x: torch.from_numpy(x)  # noqa: E731
    o, W = titans_ln_recurrent(t(q), t(k), t(v), t(theta), t(alpha), t(eta), t(w), t(b), eps=1e-5,
                               mini_batch=mini_batch, output_final_state=True)
    ref, W_ref = _titans_loop(q[0, 0], k[0, 0], v[0, 0], theta[0, 0], alpha[0, 0], eta[0, 0], w[0], b[0], 1e-5,
                              mini_batch)
    tol = _tol(ref, W_ref)
    assert np.abs(o[0, 0].numpy() - ref).max() <= tol and np.abs(W[0, 0].numpy() - W_ref).max() <= tol


def test_mini_batch_changes_the_result():
    # the semantics differ between mini-batch sizes (gradients at the block's start state): a test that passes for
    # every size above must not be blind to the size
    q, k, v, w, b, (eta, _, _) = _inputs(5)
    a = _ttt_loop(q[0, 0], k[0, 0], v[0, 0], eta[0, 0], w[0], b[0], 1.0, 1e-5, 1)[0]
    c = _ttt_loop(q[0, 0], k[0, 0], v[0, 0], eta[0, 0], w[0], b[0], 1.0, 1e-5, 4)[0]
    assert np.abs(a - c).max() > 1e-3


def test_closed_form_gradient_agrees_with_finite_differences():
    # the hand-written LayerNorm backward above is itself checked against central differences of the loss
    rng = np.random.default_rng(3)
    d, eps = 4, 1e-5
    W, b_in, k, v = rng.standard_normal((d, d)), rng.standard_normal(d), rng.standard_normal(d), rng.standard_normal(d)
    w, b = 1 + 0.3 * rng.standard_normal(d), 0.2 * rng.standard_normal(d)
    loss = lambda W_, b_: 0.5 * ((_ln(k @ W_ + b_, w, b, eps)[0] - (v - k)) ** 2).sum()  # noqa: E731
    gW, gb = _grads(W, b_in, k, v, w, b, eps)
    h = 1e-6
    for i in range(d):
        e = np.zeros(d)
        e[i] = h
        assert abs((loss(W, b_in + e) - loss(W, b_in - e)) / (2 * h) - gb[i]) < 1e-7
        for j in range(d):
            E = np.zeros((d, d))
            E[i, j] = h
            assert abs((loss(W + E, b_in) - loss(W - E, b_in)) / (2 * h) - gW[i, j]) < 1e-7


@pytest.mark.parametrize("bad", [
    dict(eps=0.0), dict(mini_batch=0), dict(w_shape=(1, 3)), dict(d_v=3), dict(eta=-0.1)])
def test_bad_input_names_the_parameter(bad):
    q, k, v, w, b, (eta, _, _) = _inputs(1)
    t = lambda x: torch.from_numpy(np.ascontiguousarray(x))  # noqa: E731
    if "w_shape" in bad:
        w = np.ones(bad["w_shape"])
    if "d_v" in bad:
        v = v[..., : bad["d_v"]]
    if "eta" in bad:
        eta = eta.copy()
        eta[0, 0, 2] = bad["eta"]
    kw = {kk: bad[kk] for kk in ("eps", "mini_batch") if kk in bad}
    with pytest.raises(InputError) as e:
        ttt_linear_ln_recurrent(t(q), t(k), t(v), t(eta), t(w), t(b), **kw)
    expected = {"eps": "eps", "mini_batch": "mini_batch", "w_shape": "w", "d_v": "v", "eta": "eta"}[next(iter(bad))]
    assert e.value.parameter == expected


@pytest.mark.parametrize("mini_batch", [1, 3])
def test_both_rules_start_from_the_initial_state_they_are_given(mini_batch):
    """A given initial state (TTT: (W, b_in); Titans: W, with the momentum at 0) against the loops started from it,
    and different from the zero start (so a form that ignored the state fails)."""
    q, k, v, w, b, (g1, g2, g3) = _inputs(53 + mini_batch)
    rng = np.random.default_rng(7)
    W_init, b_init = 0.3 * rng.standard_normal((1, 1, 4, 4)), 0.2 * rng.standard_normal((1, 1, 4))
    t = lambda x: torch.from_numpy(x)  # noqa: E731
    o, (W, b_in) = ttt_linear_ln_recurrent(t(q), t(k), t(v), t(g1), t(w), t(b), scale=0.7, eps=1e-5,
                                            mini_batch=mini_batch, initial_state=(t(W_init), t(b_init)),
                                            output_final_state=True)
    ref, W_ref, b_ref = _ttt_loop(q[0, 0], k[0, 0], v[0, 0], g1[0, 0], w[0], b[0], 0.7, 1e-5, mini_batch,
                                  init=(W_init[0, 0], b_init[0, 0]))
    zero = _ttt_loop(q[0, 0], k[0, 0], v[0, 0], g1[0, 0], w[0], b[0], 0.7, 1e-5, mini_batch)[0]
    tol = _tol(ref, W_ref)
    assert np.abs(o[0, 0].numpy() - ref).max() <= tol and np.abs(ref - zero).max() > 1e3 * tol
    assert np.abs(W[0, 0].numpy() - W_ref).max() <= tol and np.abs(b_in[0, 0].numpy() - b_ref).max() <= tol
    o, W = titans_ln_recurrent(t(q), t(k), t(v), t(g1), t(g2), t(g3), t(w), t(b), eps=1e-5, mini_batch=mini_batch,
                               initial_state=t(W_init), output_final_state=True)
    ref, W_ref = _titans_loop(q[0, 0], k[0, 0], v[0, 0], g1[0, 0], g2[0, 0], g3[0, 0], w[0], b[0], 1e-5, mini_batch,
                              init=W_init[0, 0])
    zero = _titans_loop(q[0, 0], k[0, 0], v[0, 0], g1[0, 0], g2[0, 0], g3[0, 0], w[0], b[0], 1e-5, mini_batch)[0]
    tol = _tol(ref, W_ref)
    assert np.abs(o[0, 0].numpy() - ref).max() <= tol and np.abs(ref - zero).max() > 1e3 * tol
    assert np.abs(W[0, 0].numpy() - W_ref).max() <= tol


def test_several_sequences_and_heads_are_each_the_single_head_loop():
    """B = 2 sequences of H = 3 heads (w, b per head, d = 4 != H): every (sequence, head) equals the NumPy loop run on
    it alone. With B = H = 1 (the tests above) a statistic reduced without its axis kept, or a per-head weight
    squeezed on the wrong axis, still broadcasts to the right values; here it cannot."""
    rng = np.random.default_rng(71)
    B, H, T, d, C = 2, 3, 5, 4, 2
    q, k, v = (rng.standard_normal((B, H, T, d)) for _ in range(3))
    w, b = 1 + 0.3 * rng.standard_normal((H, d)), 0.2 * rng.standard_normal((H, d))
    g1, g2, g3 = rng.uniform(0.05, 0.9, size=(3, B, H, T))
    t = lambda x: torch.from_numpy(x)  # noqa: E731
    o_ttt, (W_ttt, b_ttt) = ttt_linear_ln_recurrent(t(q), t(k), t(v), t(g1), t(w), t(b), scale=0.7, eps=1e-5,
                                                    mini_batch=C, output_final_state=True)
    o_tit, W_tit = titans_ln_recurrent(t(q), t(k), t(v), t(g1), t(g2), t(g3), t(w), t(b), eps=1e-5, mini_batch=C,
                                       output_final_state=True)
    assert o_ttt.shape == o_tit.shape == (B, H, T, d) and b_ttt.shape == (B, H, d)
    for i in range(B):
        for h in range(H):
            ref, W_ref, b_ref = _ttt_loop(q[i, h], k[i, h], v[i, h], g1[i, h], w[h], b[h], 0.7, 1e-5, C)
            tol = _tol(ref, W_ref)
            assert np.abs(o_ttt[i, h].numpy() - ref).max() <= tol, (i, h)
            assert np.abs(W_ttt[i, h].numpy() - W_ref).max() <= tol and np.abs(b_ttt[i, h].numpy() - b_ref).max() <= tol
            ref, W_ref = _titans_loop(q[i, h], k[i, h], v[i, h], g1[i, h], g2[i, h], g3[i, h], w[h], b[h], 1e-5, C)
            tol = _tol(ref, W_ref)
            assert np.abs(o_tit[i, h].numpy() - ref).max() <= tol and np.abs(W_tit[i, h].numpy() - W_ref).max() <= tol


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
def test_both_rules_compute_in_the_inputs_dtype_with_a_float64_initial_state(dtype):
    """Inputs in ``dtype``, the initial state in float64 (e.g. carried from a float64 run): both rules cast the state
    to the inputs' dtype (the registry's rules are held to the same in tests/test_rules_contract.py), so the output
    and the final state come back in ``dtype`` and equal the call given the state already cast."""
    q, k, v, w, b, (g1, g2, g3) = _inputs(59)
    rng = np.random.default_rng(8)
    W_init, b_init = 0.3 * rng.standard_normal((1, 1, 4, 4)), 0.2 * rng.standard_normal((1, 1, 4))
    lo = lambda x: torch.from_numpy(x).to(dtype)  # noqa: E731
    W64, b64 = torch.from_numpy(W_init), torch.from_numpy(b_init)
    ttt = lambda state: ttt_linear_ln_recurrent(lo(q), lo(k), lo(v), lo(g1), lo(w), lo(b), scale=0.7, eps=1e-5,  # noqa: E731
                                                mini_batch=3, initial_state=state, output_final_state=True)
    titans = lambda state: titans_ln_recurrent(lo(q), lo(k), lo(v), lo(g1), lo(g2), lo(g3), lo(w), lo(b), eps=1e-5,  # noqa: E731
                                               mini_batch=3, initial_state=state, output_final_state=True)
    (o, (W, b_in)), (o_ref, (W_ref, b_ref)) = ttt((W64, b64)), ttt((W64.to(dtype), b64.to(dtype)))
    for got, ref in ((o, o_ref), (W, W_ref), (b_in, b_ref)):
        assert got.dtype == dtype
        torch.testing.assert_close(got, ref, rtol=0, atol=0)
    (o, W), (o_ref, W_ref) = titans(W64), titans(W64.to(dtype))
    for got, ref in ((o, o_ref), (W, W_ref)):
        assert got.dtype == dtype
        torch.testing.assert_close(got, ref, rtol=0, atol=0)


def test_the_layernorm_rules_defaults_are_scale_1_eps_1e6_and_blocks_of_16():
    """The defaults the signatures state (TTT's: scale 1, LayerNorm eps 1e-6, mini-batches of 16 tokens): the default
    call equals the explicit one bit for bit, and each changed value changes the output (T = 40 spans three blocks,
    so another block size splits otherwise)."""
    q, k, v, w, b, gates = _inputs(3, T=40)
    t = torch.as_tensor
    g1, g2, g3 = (t(g) for g in gates)
    ttt = lambda **kw: ttt_linear_ln_recurrent(t(q), t(k), t(v), g1, t(w), t(b), **kw)[0]  # noqa: E731
    tit = lambda **kw: titans_ln_recurrent(t(q), t(k), t(v), g1, g2, g3, t(w), t(b), **kw)[0]  # noqa: E731
    for name, fn, stated, changed in (("ttt", ttt, dict(scale=1.0, eps=1e-6, mini_batch=16),
                                       dict(scale=1.5, eps=1e-3, mini_batch=15)),
                                      ("titans", tit, dict(eps=1e-6, mini_batch=16), dict(eps=1e-3, mini_batch=15))):
        default = fn()
        torch.testing.assert_close(default, fn(**stated), rtol=0, atol=0)
        for key, value in changed.items():
            assert not torch.equal(fn(**{**stated, key: value}), default), (name, key)
