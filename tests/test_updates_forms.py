"""Topic tests for the update rules (docs/CLAIMS.md U1-U2): reductions between rules, edge cases of the chunked forms,
gradcheck, the rule registry and bad input. The registry-driven property tests live in tests/test_claims.py."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from impl.numerics.errors import InputError
from impl.rules.data import draw_inputs
from impl.rules.registry import RULES, get_rule

D = torch.float64


def _inputs(T=7, d_k=4, d_v=3, B=2, H=2, seed=0, unit=True):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(B, H, T, d_k, generator=g, dtype=D)
    k = torch.randn(B, H, T, d_k, generator=g, dtype=D)
    if unit:
        k = k / k.norm(dim=-1, keepdim=True)
    v = torch.randn(B, H, T, d_v, generator=g, dtype=D)
    S0 = torch.randn(B, H, d_v, d_k, generator=g, dtype=D)
    return q, k, v, S0, g


def _close(a, b, n):
    # n-term sums in float64: 8 n u relative to the magnitude (the same model as assocmem/claims/updates.py)
    tol = 8 * n * 2**-53 * max(1.0, float(b.abs().max()))
    assert float((a - b).abs().max()) <= tol


def test_gated_deltanet_with_unit_gates_is_deltanet():
    q, k, v, S0, g = _inputs()
    b = 2 * torch.rand(q.shape[:3], generator=g, dtype=D)
    for form in ("recurrent", "parallel", "chunk"):
        o1, s1 = RULES["gated_deltanet"].forms[form](q, k, v, b, torch.ones_like(b), initial_state=S0, output_final_state=True)
        o2, s2 = RULES["deltanet"].forms[form](q, k, v, b, initial_state=S0, output_final_state=True)
        _close(o1, o2, 20)
        _close(s1, s2, 20)


def test_decay_with_unit_gates_is_linear_attention():
    q, k, v, S0, _ = _inputs()
    o1, s1 = RULES["retnet"].forms["recurrent"](q, k, v, torch.ones(q.shape[:3], dtype=D), initial_state=S0, output_final_state=True)
    o2, s2 = RULES["linear"].forms["recurrent"](q, k, v, initial_state=S0, output_final_state=True)
    _close(o1, o2, 20)
    _close(s1, s2, 20)


def test_ttt_without_momentum_and_decay_is_the_delta_rule():
    q, k, v, S0, g = _inputs()
    theta = torch.rand(q.shape[:3], generator=g, dtype=D)
    zero = torch.zeros_like(theta)
    o1, (s1, _) = RULES["ttt"].forms["recurrent"](q, k, v, theta, zero, zero, initial_state=(S0, torch.zeros_like(S0)), output_final_state=True)
    o2, s2 = RULES["deltanet"].forms["recurrent"](q, k, v, theta, initial_state=S0, output_final_state=True)
    _close(o1, o2, 20)
    _close(s1, s2, 20)


def test_linear_attention_state_is_the_linear_memory():
    from impl.memories import linear as linear_memory

    q, k, v, _, _ = _inputs(B=1, H=3)
    _, S = RULES["linear"].forms["recurrent"](q, k, v, output_final_state=True)
    _close(S, linear_memory.write(k, v), 20)


def test_rls_state_is_the_ridge_solution():
    q, k, v, _, _ = _inputs(T=9, unit=False)
    lam = 0.7
    _, (S, P) = RULES["rls"].forms["recurrent"](q, k, v, lam=lam, output_final_state=True)
    R = k.transpose(-1, -2) @ k + lam * torch.eye(4, dtype=D)
    ridge = torch.linalg.solve(R, (v.transpose(-1, -2) @ k).transpose(-1, -2)).transpose(-1, -2)
    assert float((S - ridge).abs().max()) < 1e-12 * float(torch.linalg.cond(R).max())
    assert float((P - torch.linalg.inv(R)).abs().max()) < 1e-12 * float(torch.linalg.cond(R).max())


def test_softmax_parallel_matches_torch_sdpa():
    q, k, v, _, _ = _inputs(T=11)
    o, _ = RULES["softmax"].forms["parallel"](q, k, v, scale=0.5)
    ref = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True, scale=0.5)
    _close(o, ref, 30)


@pytest.mark.parametrize("rule", sorted(RULES))
@pytest.mark.parametrize("T,C", [(1, 1), (1, 5), (5, 1), (7, 3), (6, 6), (6, 7)])
def test_chunk_any_length_any_chunk(rule, T, C):
    r = RULES[rule]
    params = dict(B=1, H=2, T=T, d_k=3, d_v=2, keys="unit", extras="mid", state=True, scale=0.8)
    args, kw = draw_inputs(r, params, seed=T * 10 + C)
    o1, s1 = r.forms["recurrent"](*args, **kw, output_final_state=True)
    o2, s2 = r.forms["chunk"](*args, **kw, output_final_state=True, chunk_size=C)
    _close(o2, o1, T + 5)
    flat = lambda s: [s] if isinstance(s, torch.Tensor) else list(s)
    for a, b in zip(flat(s2), flat(s1)):
        _close(a, b, T + 5)


@pytest.mark.parametrize("rule", ["deltanet", "gated_deltanet", "gla", "rls", "ttt", "softmax"])
def test_gradcheck_chunk_form(rule):
    r = RULES[rule]
    params = dict(B=1, H=1, T=5, d_k=2, d_v=2, keys="unit", extras="mid", state=False, scale=1.0)
    args, kw = draw_inputs(r, params, seed=3)
    args = [a.requires_grad_(True) for a in args]
    f = lambda *a: r.forms["chunk"](*a, **kw, chunk_size=2)[0]
    assert torch.autograd.gradcheck(f, tuple(args), eps=1e-6, atol=1e-7)


# ------------------------------------------------------------------------------------ bad input ----------
def test_unknown_rule():
    with pytest.raises(InputError) as e:
        get_rule("hopfield")
    assert e.value.parameter == "rule"


@pytest.mark.parametrize("form", ["recurrent", "parallel", "chunk"])
def test_bad_inputs_name_the_argument(form):
    f = RULES["gated_deltanet"].forms[form]
    q, k, v, S0, g = _inputs()
    b = torch.full(q.shape[:3], 0.5, dtype=D)
    a = torch.full(q.shape[:3], 0.9, dtype=D)
    cases = [
        ((q, k[:, :, :3], v, b, a), {}, "k"),
        ((q, k, v[:, :1], b, a), {}, "v"),
        ((q, k, v, b * 5, a), {}, "beta"),
        ((q, k, v, -b, a), {}, "beta"),
        ((q, k, v, b, a * 0), {}, "g"),
        ((q, k, v, b, a + 1), {}, "g"),
        ((q, k, v, b[..., :2], a), {}, "beta"),
        ((q * float("nan"), k, v, b, a), {}, "q"),
        ((q, k, v * float("inf"), b, a), {}, "v"),
        ((q, k, v, b, a), {"initial_state": S0[..., :2]}, "initial_state"),
        ((q, k, v, b, a), {"initial_state": S0 * float("nan")}, "initial_state"),
        ((q, k, v, b, a), {"scale": float("nan")}, "scale"),
        ((q[0], k[0], v[0], b[0], a[0]), {}, "q"),
    ]
    if form == "chunk":
        cases += [((q, k, v, b, a), {"chunk_size": 0}, "chunk_size"), ((q, k, v, b, a), {"chunk_size": 2.5}, "chunk_size")]
    for args, kw, name in cases:
        with pytest.raises(InputError) as e:
            f(*args, **kw)
        assert e.value.parameter == name, (name, str(e.value))


def test_bad_inputs_other_rules():
    q, k, v, S0, _ = _inputs()
    with pytest.raises(InputError, match="lam"):
        RULES["rls"].forms["recurrent"](q, k, v, lam=0.0)
    with pytest.raises(InputError, match="eta"):
        ones = torch.ones(q.shape[:3], dtype=D)
        RULES["ttt"].forms["parallel"](q, k, v, ones, ones * 1.5, ones * 0)
    with pytest.raises(InputError, match="beta"):
        RULES["longhorn"].forms["chunk"](q, k, v, -torch.ones(q.shape[:3], dtype=D))
    with pytest.raises(InputError, match="g"):
        RULES["gla"].forms["parallel"](q, k, v, torch.full((*q.shape[:3], 2), 0.5, dtype=D))
    with pytest.raises(InputError, match="initial_state"):
        RULES["softmax"].forms["chunk"](q, k, v, initial_state=(k[:, :, :2], v[:, :, :3]))


# ------------------------------------------------------------- per-channel gates beyond the factorised range ----------


def _gla_loop(q, k, v, log_a, S0, scale):
    """S_t = S_{t-1} diag(a_t) + v_t k_t^T, o_t = S_t (scale q_t): one token at a time, in float64."""
    S, outs = S0.clone(), []
    for t in range(q.shape[2]):
        S = S * torch.exp(log_a[:, :, t, None, :]) + v[:, :, t, :, None] * k[:, :, t, None, :]
        outs.append(S @ (scale * q[:, :, t, :, None]))
    return torch.cat(outs, dim=-1).transpose(-1, -2), S


@pytest.mark.parametrize("dtype,per_token", [(torch.float64, -80.0), (torch.float32, -12.0)])
@pytest.mark.parametrize("form,chunk", [("parallel", None), ("chunk", 16), ("chunk", 7)])
def test_gla_gates_near_zero_take_the_explicit_decay_branch(dtype, per_token, form, chunk):
    """GLA with some key channels' gates near 0 (log a_t = per_token: their cumulative log-gate spreads past
    safe_spread(dtype) within a block, so the block forms the decay explicitly, in log space) and the other channels
    near 1 (their long-range terms stay), d_k = 3 != chunk sizes, against an explicit loop in float64."""
    from impl.rules.decay.parallel import safe_spread

    B, H, T, d_k, d_v = 1, 2, 24, 3, 2
    q, k, v, S0, g = _inputs(T=T, d_k=d_k, d_v=d_v, B=B, H=H, seed=5)
    log_a = torch.empty(B, H, T, d_k, dtype=D)
    log_a[..., 0] = per_token * (0.5 + torch.rand(B, H, T, generator=g, dtype=D))
    log_a[..., 1] = -0.05 * torch.rand(B, H, T, generator=g, dtype=D)
    log_a[..., 2] = per_token * torch.rand(B, H, T, generator=g, dtype=D) ** 4  # mixed: some tokens strong, some weak
    block = T if chunk is None else min(chunk, T)
    assert float(-log_a[:, :, :block, 0].sum(-1).max()) > safe_spread(dtype)  # the explicit branch is reached
    ref, S_ref = _gla_loop(q, k, v, log_a, S0, 0.7)
    kw = {} if chunk is None else {"chunk_size": chunk}
    o, S = RULES["gla"].forms[form](*(x.to(dtype) for x in (q, k, v, log_a)), scale=0.7, initial_state=S0.to(dtype),
                                    output_final_state=True, log_gates=True, **kw)
    assert o.dtype == dtype and torch.isfinite(o).all() and torch.isfinite(S).all()
    u = torch.finfo(dtype).eps
    for got, want in ((o, ref), (S, S_ref)):
        err = float((got.double() - want).abs().max())
        assert err <= 64 * T * u * max(1.0, float(want.abs().max())), (form, chunk, dtype, err)
