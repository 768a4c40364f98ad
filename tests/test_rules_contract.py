"""The update rules' calling contract: with output_final_state=False every form returns no state (and with True the
state it returns is the one the recurrent ground truth returns); the U4 stream helper reproduced by an explicit loop."""

import pytest
import torch

from impl.rules.registry import RULES


def _inputs(rule, T=5, dk=3, dv=2):
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn((1, 1, T, d), generator=g, dtype=torch.float64) for d in (dk, dk, dv))
    k = k / k.norm(dim=-1, keepdim=True)
    extras = []
    for e in rule.extras:
        shape = (1, 1, T, dk) if e.per_channel else (1, 1, T)
        extras.append(torch.full(shape, (e.low + min(e.high, 1.0)) / 2, dtype=torch.float64))
    return (q, k, v, *extras), dict(rule.kwargs)


@pytest.mark.parametrize("name", sorted(RULES))
def test_no_state_unless_asked(name):
    rule = RULES[name]
    args, kw = _inputs(rule)
    _, ref = rule.forms["recurrent"](*args, **kw, output_final_state=True)
    for form, fn in rule.forms.items():
        out = fn(*args, **kw, output_final_state=False)
        assert out[1] is None, (name, form)
        assert fn(*args, **kw)[1] is None, (name, form, "the default must be output_final_state=False")
        o, state = fn(*args, **kw, output_final_state=True)
        torch.testing.assert_close(o, out[0], rtol=0, atol=0)
        for a, b in zip(state if isinstance(state, tuple) else (state,), ref if isinstance(ref, tuple) else (ref,)):
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_delta_stream_time_average_by_explicit_loop():
    from impl.rules.experiments import delta_stream_time_average

    d_k, d_v, b, sigma, burn, window, trials, seed = 3, 2, 0.4, 0.5, 4, 6, 3, 17
    got = delta_stream_time_average(d_k=d_k, d_v=d_v, b=b, sigma=sigma, burn=burn, window=window, trials=trials, seed=seed)
    g = torch.Generator().manual_seed(seed)
    W = torch.randn((trials, d_v, d_k), generator=g, dtype=torch.float64)
    K = torch.randn((burn + window, trials, d_k), generator=g, dtype=torch.float64) / d_k**0.5
    N = sigma * torch.randn((burn + window, trials, d_v), generator=g, dtype=torch.float64)
    for t in range(trials):
        S, acc = torch.zeros((d_v, d_k), dtype=torch.float64), 0.0
        for s in range(burn + window):
            k, v = K[s, t], W[t] @ K[s, t] + N[s, t]
            S = S - b * torch.outer(S @ k - v, k)  # the delta rule
            if s >= burn:
                acc += float(((S - W[t]) ** 2).sum())
        assert abs(float(got[t]) - acc / window) <= 1e-12 * max(1.0, acc / window)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16], ids=str)
@pytest.mark.parametrize("name", sorted(RULES))
def test_every_form_computes_in_the_inputs_dtype(name, dtype):
    """Each form's output and final state come back in the dtype of its inputs, the half dtypes included (their
    solves run in float32 and are rounded back, impl/numerics/solves.py): a tensor created in the default dtype
    inside a form (a running maximum, a zero state) would promote the half-precision result to float32 silently.
    (The values are checked in float64 elsewhere; here they need only be finite.)"""
    rule = RULES[name]
    args, kw = _inputs(rule)
    low = tuple(a.to(dtype) for a in args)
    for form, fn in rule.forms.items():
        o, state = fn(*low, **kw, output_final_state=True)
        assert o.dtype == dtype, (name, form, o.dtype)
        for s in state if isinstance(state, tuple) else (state,):
            assert s.dtype == dtype, (name, form, "state", s.dtype)
        assert torch.isfinite(o.double()).all(), (name, form)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
@pytest.mark.parametrize("name", sorted(RULES))
def test_every_form_casts_an_initial_state_to_the_inputs_dtype(name, dtype):
    """An initial state handed over in float64 (say, a state carried from a float64 run) is cast to the inputs'
    dtype by every form: the output and the final state come back in the inputs' dtype, and the values agree with
    the same call given the state already cast (a form that kept the float64 state would promote the result to
    float64, or mix dtypes in a matmul and raise)."""
    rule = RULES[name]
    args, kw = _inputs(rule)
    _, state64 = rule.forms["recurrent"](*args, **kw, output_final_state=True)
    low = tuple(a.to(dtype) for a in args)
    cast = tuple(s.to(dtype) for s in state64) if isinstance(state64, tuple) else state64.to(dtype)
    for form, fn in rule.forms.items():
        o, state = fn(*low, **kw, initial_state=state64, output_final_state=True)
        o_ref, state_ref = fn(*low, **kw, initial_state=cast, output_final_state=True)
        assert o.dtype == dtype, (name, form, o.dtype)
        torch.testing.assert_close(o, o_ref, rtol=0, atol=0)
        for s, s_ref in zip(state if isinstance(state, tuple) else (state,),
                            state_ref if isinstance(state_ref, tuple) else (state_ref,)):
            assert s.dtype == dtype, (name, form, "state", s.dtype)
            torch.testing.assert_close(s, s_ref, rtol=0, atol=0)


@pytest.mark.parametrize("name", sorted(n for n in RULES if "chunk" in RULES[n].forms))
def test_every_chunk_form_defaults_to_chunks_of_64(name):
    """The default block size of every chunked form is 64, flash-linear-attention's (so a default run splits the
    sequence where theirs does): the default call equals the explicit chunk_size=64 call bit for bit, at a length
    (T = 130) where another size splits otherwise and so rounds otherwise (checked: 65 differs)."""
    rule = RULES[name]
    args, kw = _inputs(rule, T=130, dk=4, dv=3)
    fn = rule.forms["chunk"]
    o, s = fn(*args, **kw, output_final_state=True)
    o64, s64 = fn(*args, **kw, output_final_state=True, chunk_size=64)
    torch.testing.assert_close(o, o64, rtol=0, atol=0)
    for a, b in zip(s if isinstance(s, tuple) else (s,), s64 if isinstance(s64, tuple) else (s64,)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.equal(fn(*args, **kw, chunk_size=65)[0], o64)  # the comparison can see another split


def test_the_deltaformer_chunk_form_defaults_to_chunks_of_64():
    from impl.deltaformer.chunk import deltaformer_chunk

    g = torch.Generator().manual_seed(3)
    q, k, v = (torch.randn(1, 1, 130, 4, generator=g, dtype=torch.float64) for _ in range(3))
    beta = torch.rand(1, 1, 130, generator=g, dtype=torch.float64)
    o = deltaformer_chunk(q, k, v, beta)[0]
    torch.testing.assert_close(o, deltaformer_chunk(q, k, v, beta, chunk_size=64)[0], rtol=0, atol=0)
    assert not torch.equal(deltaformer_chunk(q, k, v, beta, chunk_size=65)[0], o)


@pytest.mark.parametrize("name", sorted(RULES))
def test_every_form_reads_with_scale_1_by_default(name):
    """Every form's default read scale is 1, as the signatures state: the default call equals scale=1.0 bit for bit,
    and scale=2.0 differs (so a changed default shows)."""
    rule = RULES[name]
    args, kw = _inputs(rule)
    for form, fn in rule.forms.items():
        o = fn(*args, **kw)[0]
        torch.testing.assert_close(o, fn(*args, **kw, scale=1.0)[0], rtol=0, atol=0)
        assert not torch.equal(fn(*args, **kw, scale=2.0)[0], o), (name, form)
