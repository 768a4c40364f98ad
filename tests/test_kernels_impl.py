"""Kernel memories: bad input, log-space numerics, closed forms (impl vs SymPy), estimator modes."""

import math

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from impl.estimators import kernel_moments as km
from impl.estimators.snr_kernel import KERNELS
from impl.memories.memory import CONVENTIONS
from snr_helpers import ffn_snr, kernel_snr
from impl.memories.kernel import kernel_read, kernel_read_log, snr_samples, softmax_read
from impl.memories.kernels import log_kernel, performer_kernel, performer_omega
from impl.numerics.errors import InputError


@pytest.mark.parametrize("kw, name", [
    (dict(kernel="exp", tau=0.0), "tau"), (dict(kernel="exp", tau=-1.0), "tau"), (dict(kernel="exp", tau=float("inf")), "tau"),
    (dict(kernel="nope"), "kernel"), (dict(kernel="poly", p=0), "p"), (dict(kernel="rbf", s=0.0), "s"),
    (dict(kernel="linear", m=0), "m"), (dict(kernel="linear", mode="magic"), "mode"),
    (dict(kernel="relu", mode="importance"), "mode"), (dict(kernel="linear", n_pairs=1), "n_pairs"),
    (dict(kernel="linear", trials=1), "trials"), (dict(kernel="linear", d_k=0), "d_k"),
])
def test_bad_input_names_parameter(kw, name):
    args = dict(kernel="linear", n_pairs=8, d_k=4, d_v=4, trials=10, seed=0)
    args.update(kw)
    with pytest.raises(InputError) as err:
        kernel_snr(**args)
    assert err.value.parameter == name


@pytest.mark.parametrize("kernel, kw, conv, needle", [
    ("exp", dict(tau=0.5), "probe_averaged", "1 - 2a > 0"),
    ("exp", dict(tau=3.0), "ratio_of_expectations", "tau > 4"),
    ("poly", dict(p=3), "probe_averaged", "d_k > 2p"),
    ("linear", {}, "probe_averaged", "d_v > 2"),
])
def test_divergent_moment_raises_with_condition(kernel, kw, conv, needle):
    d_v = 2 if kernel == "linear" else 8
    with pytest.raises(InputError) as err:
        kernel_snr(kernel, 8, 6, d_v, 10, 0, conventions=(conv,), **kw)
    assert needle in str(err.value)


def test_divergent_convention_reported_not_nan_when_all_requested():
    res = kernel_snr("exp", 8, 6, 8, 10, 0, tau=2.0)
    assert res["ratio_of_expectations"].method == "none" and res["ratio_of_expectations"].estimate is None
    assert "tau > 4" in res["ratio_of_expectations"].note
    assert all(math.isfinite(res[c].estimate) for c in ("conditional", "probe_averaged", "typical"))


def test_log_space_never_overflows():
    g = torch.Generator().manual_seed(0)
    K = torch.randn(16, 512, generator=g, dtype=torch.float64) * 10  # x^T y / tau ~ 5e4: e^{5e4} overflows float64
    V = torch.randn(16, 4, generator=g, dtype=torch.float64)
    shift, o = kernel_read_log("exp", K, V, K, tau=1.0)
    assert torch.isfinite(shift).all() and torch.isfinite(o).all()
    x = snr_samples("exp", K, V, tau=1.0)
    assert torch.isfinite(x).all()
    for dtype in ("float64", "float32"):
        res = kernel_snr("exp", 64, 1024, 8, 20, 0, tau=1.0, dtype=dtype, conventions=("typical",))
        assert math.isfinite(res["typical"].estimate) and math.isfinite(res["typical"].exact)
    assert torch.isfinite(softmax_read(K, V, K)).all()


def test_exp_kernel_plain_matches_direct_read_small():
    g = torch.Generator().manual_seed(1)
    K = torch.randn(10, 3, generator=g, dtype=torch.float64)
    V = torch.randn(10, 2, generator=g, dtype=torch.float64)
    direct = torch.exp(K @ K.T / 2.0) @ V
    torch.testing.assert_close(kernel_read("exp", K, V, K, tau=2.0), direct, rtol=1e-13, atol=0)
    la, sg = log_kernel("poly", K, K, p=3)
    torch.testing.assert_close(sg * torch.exp(la), (K @ K.T) ** 3, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("conv", CONVENTIONS)
@pytest.mark.parametrize("kernel", km.ANALYTIC_KERNELS)
@settings(max_examples=8, deadline=None)
@given(n=st.integers(2, 5000), d_k=st.integers(9, 80), d_v=st.integers(5, 40),
       tau=st.sampled_from([0.9, 1.0, 2.0, 4.5, 9.0]), p=st.integers(1, 4), s=st.sampled_from([0.5, 1.0, 3.0]),
       kappa=st.floats(0.5, 200), nu=st.floats(0.5, 80))
def test_numeric_closed_forms_agree_with_sympy(kernel, conv, n, d_k, d_v, tau, p, s, kappa, nu):
    """Every (kernel, convention) branch of log_snr_inv, each at drawn sizes (a branch drawn by chance could go
    unreached), against the SymPy closed form; draws where the moment diverges are discarded, not passed."""
    from assocmem.claims.kernels import sympy_value

    assume(not km.divergence(kernel, conv, d_k, d_v, tau=tau, p=p, s=s))
    num = km.log_snr_inv(kernel, conv, n, d_k, d_v, kappa=kappa, nu=nu, tau=tau, p=p, s=s)
    ref = sympy_value(kernel, conv, dict(n_pairs=n, d_k=d_k, d_v=d_v, tau=tau, p=p, s=s), kappa, nu)
    assert math.isclose(num, math.log(ref), rel_tol=1e-9, abs_tol=1e-9)


def test_auto_mode_detects_heavy_tail_and_says_so():
    res = kernel_snr("exp", 256, 64, 16, 200, 3, tau=2.0, conventions=("typical", "probe_averaged"))
    for conv in ("typical", "probe_averaged"):
        r = res[conv]
        assert r.method == "importance" and not r.details["plain_reliable"]
        assert "cannot resolve" in r.note
        assert r.lo <= r.exact <= r.hi
    plain = kernel_snr("exp", 256, 64, 16, 200, 3, tau=2.0, mode="plain", conventions=("typical",))["typical"]
    assert "WARNING" in plain.note


def test_auto_mode_keeps_plain_where_reliable():
    r = kernel_snr("exp", 32, 8, 8, 500, 0, tau=8.0, conventions=("conditional",))["conditional"]
    assert r.method == "plain" and r.details["plain_reliable"]


def test_analytic_mode_is_exact_for_conditional():
    r = kernel_snr("relu", 32, 8, 8, 100, 0, mode="analytic", conventions=("conditional",))["conditional"]
    assert r.estimate == r.exact and r.n == 0 and "nothing sampled" in r.note


def test_performer_inputs():
    g = torch.Generator().manual_seed(0)
    for bad in (0, -2, 2.0, True):
        with pytest.raises(InputError, match=rf"^m: the number of random features must be an integer >= 1, got {bad!r}$"):
            performer_omega(bad, 3, g)
    for orthogonal in (False, True):  # the smallest m accepted: one feature
        assert performer_omega(1, 3, g, orthogonal=orthogonal).shape == (1, 3)
    W = performer_omega(7, 3, g, orthogonal=True)
    assert W.shape == (7, 3)
    x = torch.zeros(2, 3, dtype=torch.float64)
    torch.testing.assert_close(performer_kernel(x, x, W, "positive"), torch.ones(2, 2, dtype=torch.float64))


def test_performer_and_sphere_bad_input():
    from impl.estimators.snr_performer import (
        performer_estimates,
        performer_memory_noise,
    )
    from impl.memories.kernel import SphereMemory

    x = torch.zeros(3, dtype=torch.float64)
    with pytest.raises(InputError) as err:
        performer_estimates(x, x, 0, "positive", 10, 0)
    assert err.value.parameter == "m"
    with pytest.raises(InputError) as err:
        performer_estimates(x, x, 4, "cosine", 10, 0)
    assert err.value.parameter == "kind"
    with pytest.raises(InputError) as err:
        performer_memory_noise(x, 4, "positive", 2.0, 10, 0)  # E_k Var diverges at tau <= 2
    assert err.value.parameter == "tau" and "tau > 2" in str(err.value)
    with pytest.raises(InputError) as err:
        SphereMemory(0.0)
    assert err.value.parameter == "b"


@pytest.mark.parametrize("kw, name", [
    (dict(activation_name="tanh"), "activation"), (dict(experts=3), "experts"), (dict(beta=0.0), "beta"),
    (dict(beta=float("nan")), "beta"), (dict(routing="random"), "routing"), (dict(mode="importance"), "mode"),
    (dict(n_pairs=1), "n_pairs"),
])
def test_ffn_bad_input(kw, name):
    args = dict(activation_name="relu", n_pairs=16, d_k=4, d_v=4, trials=10, seed=0)
    args.update(kw)
    with pytest.raises(InputError) as err:
        ffn_snr(**args)
    assert err.value.parameter == name


def test_ffn_relu_equals_relu_kernel_memory():
    """C11: the constructed ReLU FFN is the ReLU kernel memory (positive homogeneity: beta cancels)."""
    from impl.memories.ffn import construct, ffn_forward

    g = torch.Generator().manual_seed(0)
    K = torch.randn(20, 5, generator=g, dtype=torch.float64)
    V = torch.randn(20, 3, generator=g, dtype=torch.float64)
    W_up, W_down = construct(K, V, 0.3)
    torch.testing.assert_close(ffn_forward(W_up, W_down, K, "relu") / 0.3, kernel_read("relu", K, V, K), rtol=1e-13, atol=1e-13)


def test_performer_kernel_needs_m_and_tau_above_2():
    with pytest.raises(InputError) as err:
        kernel_snr("performer_trig", 8, 4, 4, 10, 0, tau=16.0)
    assert err.value.parameter == "m"
    with pytest.raises(InputError) as err:
        kernel_snr("performer_positive", 8, 4, 4, 10, 0, tau=2.0, m=4)
    assert err.value.parameter == "tau" and "tau > 2" in str(err.value)
    with pytest.raises(InputError) as err:
        kernel_snr("performer_positive", 8, 4, 4, 10, 0, tau=8.0, m=0)
    assert err.value.parameter == "m"
    res = kernel_snr("performer_trig", 8, 4, 8, 200, 0, tau=16.0, m=4)
    assert res["conditional"].method == "plain" and res["probe_averaged"].estimate is None


_ACT_REF = {  # s(x) written out here, not taken from impl.memories.ffn
    "relu": lambda x: max(x, 0.0), "relu2": lambda x: max(x, 0.0) ** 2, "linear": lambda x: x,
    "gelu": lambda x: x * 0.5 * math.erfc(-x / math.sqrt(2)), "silu": lambda x: x / (1 + math.exp(-x)),
    "exp": math.exp,
}


def _solu_ref(pre):
    """SoLU over the hidden units: s_j = p_j e^{p_j} / sum_l e^{p_l}."""
    z = sum(math.exp(p) for p in pre)
    return [p * math.exp(p) / z for p in pre]


@pytest.mark.parametrize("name", [*sorted(_ACT_REF), "solu"])
@pytest.mark.parametrize("glu", [False, True])
def test_ffn_forward_by_explicit_sums(name, glu):
    """FFN(x)_a = sum_j W_down[a, j] s(u_j . x) (GLU: s(g_j . x) (u_j . x)), every hidden unit summed by a loop, over a
    batch of inputs; W_up, W_gate and W_down of three different shapes (so a transposed weight cannot fit)."""
    from impl.memories.ffn import ffn_forward

    g = torch.Generator().manual_seed(11)
    d_k, d_ff, d_v, M = 3, 5, 2, 4
    X = torch.randn((2, M, d_k), generator=g, dtype=torch.float64)
    W_up, W_gate = (torch.randn((d_ff, d_k), generator=g, dtype=torch.float64) for _ in range(2))
    W_down = torch.randn((d_v, d_ff), generator=g, dtype=torch.float64)
    out = ffn_forward(W_up, W_down, X, name, glu=glu, W_gate=W_gate if glu else None)
    assert out.shape == (2, M, d_v)
    for b in range(2):
        for m in range(M):
            x = X[b, m].tolist()
            dot = lambda w: sum(wi * xi for wi, xi in zip(w.tolist(), x))  # noqa: E731
            pre = [dot((W_gate if glu else W_up)[j]) for j in range(d_ff)]
            act = _solu_ref(pre) if name == "solu" else [_ACT_REF[name](p) for p in pre]
            h = [act[j] * dot(W_up[j]) if glu else act[j] for j in range(d_ff)]
            for a in range(d_v):
                ref = sum(float(W_down[a, j]) * h[j] for j in range(d_ff))
                assert abs(float(out[b, m, a]) - ref) <= 1e-12 * (1 + sum(abs(float(W_down[a, j]) * h[j]) for j in range(d_ff)))


@pytest.mark.parametrize("kernel", KERNELS)
def test_a_kernel_memory_is_named_and_titled_by_the_kernel_it_was_built_from(kernel):
    """Tables and records label a memory by ``name`` and ``title()``: for every kernel the memory built by name
    carries that name (a Performer memory built from positive features once reported itself as performer_trig)."""
    from impl.memories.kernel import kernel_memory

    prm = {"performer_positive": dict(tau=8.0, m=4), "performer_trig": dict(tau=8.0, m=4)}.get(kernel, {})
    mem = kernel_memory(kernel, **prm)
    assert mem.name == kernel
    assert mem.title() == f"kernel memory, kernel {kernel}"


DOCUMENTED_DEFAULTS = {"exp": {"tau": 1.0}, "poly": {"p": 2}, "rbf": {"s": 1.0}}  # KernelMemory's docstring
OTHER_VALUES = {"exp": {"tau": 12.0}, "poly": {"p": 3}, "rbf": {"s": 2.0}}


def _moment_calls(kernel):
    n, d_k, d_v, kappa, nu = 6, 10, 8, 9.0, 7.0
    return {
        "log_m2": lambda **kw: km.log_m2(kernel, kappa, d_k, **kw),
        "log_signal": lambda **kw: km.log_signal(kernel, kappa, **kw),
        "log_snr_inv.typical": lambda **kw: km.log_snr_inv(kernel, "typical", n, d_k, d_v, **kw),
        "log_snr_inv.conditional": lambda **kw: km.log_snr_inv(kernel, "conditional", n, d_k, d_v, kappa=kappa, nu=nu,
                                                               **kw),
        "plain_relvar.typical": lambda **kw: km.plain_relvar(kernel, "typical", n, d_k, d_v, **kw),
        "ratio_parts": lambda **kw: km.ratio_parts(kernel, n, d_k, d_v, **kw),
    }


def _same(a, b):
    return repr(a) == repr(b)  # bit for bit, inf and nan included


@pytest.mark.parametrize("kernel", sorted(DOCUMENTED_DEFAULTS))
def test_the_moments_defaults_are_the_documented_kernel_parameters(kernel):
    """Every exact-moment function of ``kernel_moments`` called without a kernel parameter gives its value at the
    documented default (exp tau = 1, poly p = 2, rbf s = 1: KernelMemory's docstring), bit for bit; and each call
    depends on that parameter somewhere (another value changes some output), so a changed default cannot hide."""
    calls = _moment_calls(kernel)
    for name, f in calls.items():
        assert _same(f(), f(**DOCUMENTED_DEFAULTS[kernel])), name
    assert any(not _same(f(), f(**OTHER_VALUES[kernel])) for f in calls.values())
    if kernel == "rbf":  # ratio_parts is finite for rbf at every s: it must move with s on its own
        assert not _same(calls["ratio_parts"](), calls["ratio_parts"](s=2.0))


@pytest.mark.parametrize("kernel", km.ANALYTIC_KERNELS)
def test_every_sampler_draws_and_computes_in_the_dtype_asked_for(kernel, monkeypatch):
    """``dtype="float32"``: every draw of snr_kernel's samplers (the kernel memories') is cast to float32 (the draws themselves are float64 on
    the CPU first, tests/test_sampler_draws.py) and the noise-over-signal ratio is computed on float32 tensors, for
    the plain sampler on every kernel and convention and for exp's importance sampler. A dtype dropped on the way
    (None: the float64 draw kept) would mix a float32 probe with float64 others, which promotes silently."""
    import impl.estimators.snr_kernel as sk

    seen_draws, seen_ratio = [], []
    draw, ratio = sk.draw, sk._log_noise_over_signal

    def spy_draw(shape, gen, device, dtype):
        out = draw(shape, gen, device, dtype)
        seen_draws.append(out.dtype)
        return out

    def spy_ratio(kernel_, probe, logc, others_k, others_v, prm):
        seen_ratio.append((probe.dtype, others_k.dtype, others_v.dtype))
        return ratio(kernel_, probe, logc, others_k, others_v, prm)

    monkeypatch.setattr(sk, "draw", spy_draw)
    monkeypatch.setattr(sk, "_log_noise_over_signal", spy_ratio)
    prm = {"exp": dict(tau=4.5), "poly": dict(p=2), "rbf": dict(s=1.0)}.get(kernel, {})
    kernel_snr(kernel, 16, 12, 8, 40, 3, mode="plain", dtype="float32", **prm)
    assert seen_draws and seen_ratio
    if kernel == "exp":
        kernel_snr(kernel, 16, 12, 8, 40, 3, mode="importance", dtype="float32", **prm)
    assert set(seen_draws) == {torch.float32}, set(seen_draws)
    assert set(seen_ratio) == {(torch.float32,) * 3}, set(seen_ratio)
