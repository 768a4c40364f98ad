"""Edge cases of the update rules' helpers: the seeded input drawer (impl/rules/data.py), the softmax KV-cache check,
the RLS final-state shortcut against the closed-form least-squares statistics, the scalar gate's placement, and
the boundary of the RLS mean-square-deviation formula."""

import math

import pytest
import torch

from impl.numerics.errors import InputError
from impl.rules.data import KEY_MODES, draw_inputs, draw_keys
from impl.rules.experiments import rls_msd_theory
from impl.rules.inputs import check_scalar_gate, check_scalar_per_token
from impl.rules.registry import RULES
from impl.rules.rls.chunk import rls_final_state
from impl.rules.softmax_attention.recurrent import check_cache, softmax_attention_recurrent
from theory import updates as th

D = torch.float64
U = 2**-53


def test_repeated_keys_are_unit_and_period_two():
    B, H, T, d = 2, 3, 7, 5
    k = draw_keys((B, H, T, d), "repeated", torch.Generator().manual_seed(4))
    assert k.shape == (B, H, T, d) and k.dtype == D
    assert float((k.norm(dim=-1) - 1).abs().max()) <= 8 * d * U
    for t in range(T):
        assert torch.equal(k[:, :, t], k[:, :, t % 2])  # k_t = k_{t mod 2}: the same slot written again
    assert not torch.equal(k[:, :, 0], k[:, :, 1])  # two distinct directions (a.s.)


def test_unknown_key_mode_names_the_keys_parameter():
    assert "bogus" not in KEY_MODES
    with pytest.raises(InputError) as err:
        draw_keys((1, 1, 3, 2), "bogus", torch.Generator().manual_seed(0))
    assert err.value.parameter == "keys"


def test_cache_state_with_repeated_keys_depends_only_on_the_seed():
    params = dict(B=1, H=2, T=3, d_k=4, d_v=2, keys="repeated", state=True)
    torch.manual_seed(0)
    _, kw1 = draw_inputs(RULES["softmax"], params, 5)
    torch.manual_seed(1)  # the global generator must play no part
    _, kw2 = draw_inputs(RULES["softmax"], params, 5)
    (K1, V1), (K2, V2) = kw1["initial_state"], kw2["initial_state"]
    assert torch.equal(K1, K2) and torch.equal(V1, V2)
    assert float((K1.norm(dim=-1) - 1).abs().max()) <= 8 * 4 * U  # the cache's keys are unit keys


@pytest.mark.parametrize("bad", ["k_3d", "v_3d", "k_5d", "v_5d", "k_array", "k_list"])
def test_malformed_cache_raises_input_error(bad):
    g = torch.Generator().manual_seed(1)
    B, H, T, T0, d_k, d_v = 1, 2, 3, 2, 4, 3
    q, k = (torch.randn(B, H, T, d_k, generator=g, dtype=D) for _ in range(2))
    v = torch.randn(B, H, T, d_v, generator=g, dtype=D)
    K0, V0 = torch.randn(B, H, T0, d_k, generator=g, dtype=D), torch.randn(B, H, T0, d_v, generator=g, dtype=D)
    K0_ok, V0_ok = check_cache((K0, V0), q, v)  # the well-formed cache passes unchanged
    assert torch.equal(K0_ok, K0) and torch.equal(V0_ok, V0)
    cache = {
        "k_3d": (K0[..., 0], V0),
        "v_3d": (K0, V0[..., 0]),
        "k_5d": (K0.unsqueeze(-1), V0),
        "v_5d": (K0, V0.unsqueeze(-1)),
        "k_array": (K0.numpy(), V0),
        "k_list": (K0.tolist(), V0),
    }[bad]
    with pytest.raises(InputError) as err:
        check_cache(cache, q, v)
    assert err.value.parameter == "initial_state"
    with pytest.raises(InputError) as err:
        softmax_attention_recurrent(q, k, v, initial_state=cache)
    assert err.value.parameter == "initial_state"


@pytest.mark.parametrize("T, C", [(7, 3), (6, 2), (5, 1)])
def test_rls_final_state_matches_least_squares_statistics_per_head(T, C):
    # R_T = P_0^{-1} + sum_t k_t k_t^T, A_T = S_0 P_0^{-1} + sum_t v_t k_t^T; S_T = A_T R_T^{-1}, P_T = R_T^{-1};
    # every head starts from its own (S_0, P_0), so a head reading another head's statistics shows.
    g = torch.Generator().manual_seed(7)
    B, H, d_k, d_v = 2, 2, 3, 2
    k = torch.randn(B, H, T, d_k, generator=g, dtype=D)
    v = torch.randn(B, H, T, d_v, generator=g, dtype=D)
    X = torch.randn(B, H, d_k, d_k, generator=g, dtype=D)
    P0 = torch.linalg.inv(X @ X.transpose(-1, -2) / d_k + torch.eye(d_k, dtype=D))
    S0 = torch.randn(B, H, d_v, d_k, generator=g, dtype=D)
    R = torch.linalg.inv(P0) + k.transpose(-1, -2) @ k
    A = S0 @ torch.linalg.inv(P0) + v.transpose(-1, -2) @ k
    P_ref = torch.linalg.inv(R)
    S_ref = A @ P_ref
    S, P = rls_final_state(k, v, initial_state=(S0, P0), chunk_size=C)
    assert S.shape == (B, H, d_v, d_k) and P.shape == (B, H, d_k, d_k)
    # inverses of well-conditioned d_k x d_k matrices: round-off ~ cond(R) * (T + d_k) * u
    cond = float(torch.linalg.cond(R).max())
    tol = 64 * cond * (T + d_k) * U
    assert float((P - P_ref).abs().max()) <= tol * float(P_ref.abs().max())
    assert float((S - S_ref).abs().max()) <= tol * max(1.0, float(S_ref.abs().max()))
    # and the chunked form's final state agrees
    _, (S_c, P_c) = RULES["rls"].forms["chunk"](k, k, v, initial_state=(S0, P0), output_final_state=True, chunk_size=C)
    assert float((S - S_c).abs().max()) <= tol * max(1.0, float(S_ref.abs().max()))
    assert float((P - P_c).abs().max()) <= tol * float(P_ref.abs().max())


@pytest.mark.parametrize("log_gates", [False, True])
def test_scalar_gate_is_placed_on_the_reference_tensors_device_and_dtype(log_gates):
    # the returned log-gate joins q's computation, so it must live where q lives; the meta device stands in for an
    # accelerator on a CPU-only machine (the gate itself is checked on the CPU, then moved)
    like = torch.empty(1, 2, 3, 4, dtype=torch.float32, device="meta")
    a = torch.full((1, 2, 3), 0.5, dtype=D)
    g = torch.log(a) if log_gates else a
    out = check_scalar_gate("g", g, like, log_gates=log_gates)
    assert out.device == like.device and out.dtype == like.dtype and tuple(out.shape) == (1, 2, 3)
    out_cpu = check_scalar_gate("g", g, torch.empty(1, 2, 3, 4, dtype=D), log_gates=log_gates)
    assert out_cpu.device.type == "cpu" and torch.allclose(out_cpu, torch.log(a), rtol=0, atol=4 * U)


def _sympy_rls(t, d_k, d_v, sigma):
    return float(th.rls_msd().subs({th.d_sym: d_k, th.dv_sym: d_v, th.sigma: sigma, th.t_sym: t}))


def test_rls_msd_is_finite_from_t_equal_d_k_plus_2():
    # the inverse-Wishart mean E[(K^T K)^{-1}] exists for t - d_k - 1 > 0, i.e. from t = d_k + 2 on
    d_k, d_v, sigma = 8, 4, 0.3
    assert rls_msd_theory(d_k + 1, d_k, d_v, sigma) == float("inf")
    t = d_k + 2
    expected = _sympy_rls(t, d_k, d_v, sigma)
    assert math.isfinite(expected)
    assert math.isclose(rls_msd_theory(t, d_k, d_v, sigma), expected, rel_tol=1e-12)
    assert math.isclose(rls_msd_theory(t, d_k, d_v, sigma), sigma**2 * d_v * d_k**2, rel_tol=1e-12)


def test_rls_msd_below_d_k_is_the_unseen_part_plus_the_fitted_noise():
    # t <= d_k - 2: d_v (d_k - t) + sigma^2 d_v t d_k / (d_k - t - 1), e.g. 76.08 at d_k = 12, t = 6, d_v = 6,
    # sigma^2 = 0.4638..; infinite only on the band d_k - 1 <= t <= d_k + 1 (by hand below, not from the code)
    d_k, d_v, sigma = 12, 4, 0.5
    for t, by_hand in ((1, 4 * 11 + 0.25 * 4 * 12 / 10), (6, 4 * 6 + 0.25 * 4 * 72 / 5), (10, 4 * 2 + 0.25 * 4 * 120)):
        assert math.isclose(rls_msd_theory(t, d_k, d_v, sigma), by_hand, rel_tol=1e-12)
        assert math.isclose(_sympy_rls(t, d_k, d_v, sigma), by_hand, rel_tol=1e-12)
    for t in (d_k - 1, d_k, d_k + 1):
        assert rls_msd_theory(t, d_k, d_v, sigma) == float("inf") == _sympy_rls(t, d_k, d_v, sigma)
    # without noise nothing diverges: the error is the unseen part d_v max(d_k - t, 0), also on the band
    assert [rls_msd_theory(t, d_k, d_v, 0.0) for t in (1, 11, 12, 13, 40)] == [44.0, 4.0, 0.0, 0.0, 0.0]


@pytest.mark.parametrize("d_k,t,d_v,sigma", [(12, 2, 3, 1.0), (10, 1, 2, 1.0), (16, 8, 2, 0.5), (4, 12, 2, 0.7)])
def test_rls_msd_matches_minimum_norm_least_squares_by_monte_carlo(d_k, t, d_v, sigma):
    """An independent construction: the minimum-norm least-squares fit by numpy's pseudo-inverse (not the RLS code)
    on fresh streams; its mean squared error must lie in a 1 - 1e-6 t interval around the closed form, and the two
    wrong forms (no unseen part; d_k - t in place of d_k - t - 1) must not."""
    import numpy as np

    from impl.estimators.stats import mean_interval

    rng, n = np.random.default_rng(20261206 + 100 * d_k + t), 40_000
    W = rng.standard_normal((n, d_v, d_k))
    K = rng.standard_normal((n, t, d_k)) / math.sqrt(d_k)
    V = K @ W.transpose(0, 2, 1) + sigma * rng.standard_normal((n, t, d_v))
    S = (np.linalg.pinv(K) @ V).transpose(0, 2, 1)
    est = mean_interval(((S - W) ** 2).sum((1, 2)), 1e-6)
    assert est.n == n and est.hi - est.lo < 0.05 * est.value
    assert est.lo <= rls_msd_theory(t, d_k, d_v, sigma) <= est.hi
    if t < d_k:
        no_unseen = sigma**2 * d_v * t * d_k / (d_k - t - 1)
        off_by_one = d_v * (d_k - t) + sigma**2 * d_v * t * d_k / (d_k - t)
        assert not est.lo <= no_unseen <= est.hi
        assert not est.lo <= off_by_one <= est.hi


@pytest.mark.parametrize("name", sorted(RULES))
def test_the_form_comparison_harness_runs_each_form_with_the_initial_state_it_was_given(name):
    """``checks._run`` (which compare_forms uses) against a direct call of each form: the same outputs, bit for bit,
    with the drawn initial state; and the state gets a non-zero gradient. compare_forms compares forms with each
    other, so a harness that dropped the state for every form would pass it."""
    from impl.rules import checks

    rule = RULES[name]
    params = {"B": 1, "H": 2, "T": 5, "d_k": 3, "d_v": 2, "state": True}
    args, kwargs = draw_inputs(rule, params, 4)
    assert kwargs["initial_state"] is not None
    for form_name, form in rule.forms.items():
        outs, _ = checks._run(form, args, kwargs, None, 0, False)
        direct = form(*args, **dict(kwargs, output_final_state=True))[0]
        assert torch.equal(outs[0], direct), form_name
        _, grads = checks._run(form, args, kwargs, None, 0, True)
        n_state = len(checks._flat(kwargs["initial_state"]))
        assert n_state >= 1 and all(float(g.abs().max()) > 0 for g in grads[-n_state:]), form_name


@pytest.mark.parametrize("memory", ["rls", "deltanet", "linear", "linear_normalised"])
def test_streams_run_in_the_dtype_asked_for(memory):
    """``experiments.stream`` and ``delta_stream_time_average`` in float32: every tensor cast (the result comes back in
    float32; a tensor left in float64 would promote it) and the values agree with the float64 run to float32
    accuracy (relative 1e-3 over these short, well-conditioned streams; RLS at lam = 1e-2)."""
    from impl.rules.experiments import delta_stream_time_average, stream

    kw = dict(d_k=3, d_v=2, T=12, trials=4, sigma=0.1, seed=2, lam=1e-2)
    lo, cps, W = stream(memory, dtype="float32", **kw)
    hi, cps64, _ = stream(memory, dtype="float64", **kw)
    assert lo.dtype == torch.float32 and W.dtype == torch.float32 and cps == cps64
    assert torch.allclose(lo.double(), hi, rtol=1e-3, atol=1e-5)
    avg = dict(d_k=3, d_v=2, b=0.3, sigma=0.1, burn=2, window=5, trials=4, seed=2)
    a32, a64 = delta_stream_time_average(dtype="float32", **avg), delta_stream_time_average(dtype="float64", **avg)
    assert a32.dtype == torch.float32 and torch.allclose(a32.double(), a64, rtol=1e-4)


def test_compare_forms_reports_a_form_of_the_wrong_shape_as_an_infinite_error():
    """A form whose output or state has the wrong shape cannot be compared entry by entry: compare_forms reports it as
    infinitely wrong (err and rel_rms inf, magnitude 0) rather than raising or broadcasting, and a correct form beside
    it is still measured (err at round-off)."""
    from impl.rules.checks import compare_forms
    from impl.rules.registry import RULES

    rule = RULES["deltanet"]
    parallel = rule.forms["parallel"]

    def short(*a, **kw):
        o, S = parallel(*a, **kw)
        return o[..., :1], S

    params = {"B": 1, "H": 1, "T": 4, "d_k": 3, "d_v": 2, "state": True}
    rep = compare_forms(rule, params, 5, forms={"short": short, "parallel": parallel})
    bad = rep["short"]
    assert bad["value_err"] == math.inf and bad["value_rel_rms"] == math.inf and bad["value_mag"] == 0.0, bad
    assert rep["parallel"]["value_err"] < 1e-12 and rep["parallel"]["value_rel_rms"] < 1e-12


def test_compare_forms_entries_are_float64_statistics_of_the_outputs():
    """compare_forms' entries against the same statistics computed here in float64 from the tensors the forms
    return: bfloat16 inputs and reference (so a statistic accumulated in the tensors' own dtype, with 8 significant
    bits, would be off by ~1e-3), a form perturbed by a known amount, and outputs whose RMS exceeds 1 (so the
    reference's RMS is the denominator of rel_rms, not the floor 1)."""
    from impl.rules.checks import compare_forms
    from impl.rules.registry import RULES

    rule = RULES["linear"]
    params = {"B": 1, "H": 2, "T": 24, "d_k": 5, "d_v": 3, "state": True}
    seen = {}

    def shifted(*a, **kw):
        o, S = rule.forms["parallel"](*a, **kw)
        seen["out"] = [o + 0.25, S]
        return o + 0.25, S

    rep = compare_forms(rule, params, 11, dtype="bfloat16", grads=False, forms={"shifted": shifted})["shifted"]
    args, kwargs = draw_inputs(rule, params, 11, dtype="bfloat16")
    o_ref, S_ref = rule.forms["recurrent"](*args, **dict(kwargs, output_final_state=True))
    got = [x.double() for x in seen["out"]]
    ref = [x.double() for x in (o_ref, S_ref)]
    n = sum(x.numel() for x in ref)
    rms_diff = math.sqrt(sum(float(((a - r) ** 2).sum()) for a, r in zip(got, ref)) / n)
    rms_ref = math.sqrt(sum(float((r**2).sum()) for r in ref) / n)
    assert rms_ref > 2.0  # the reference's RMS, not the floor, is the denominator
    assert rep["value_err"] == max(float((a - r).abs().max()) for a, r in zip(got, ref))
    assert rep["value_mag"] == max(float(r.abs().max()) for r in ref)
    assert rep["value_rel_rms"] == pytest.approx(rms_diff / rms_ref, rel=1e-12)
    assert rep["value_finite"] is True


@pytest.mark.parametrize("low_open", [False, True])
@pytest.mark.parametrize("high_open", [False, True])
def test_a_per_token_scalar_is_checked_at_both_ends_open_or_closed(low_open, high_open):
    """check_scalar_per_token at its bounds, every combination of open and closed ends: a value at a closed end is
    accepted (and returned unchanged), at an open end refused naming the parameter, and just outside either end
    refused. The rules use only closed ends today ([0, 2], [0, 1], [0, inf)), so only this test reaches the open
    branches a caller may ask for."""
    like = torch.zeros((1, 2, 3, 4), dtype=torch.float64)
    low, high = 0.5, 2.0
    inside = torch.full((1, 2, 3), 1.0, dtype=torch.float64)
    for end, is_open in ((low, low_open), (high, high_open)):
        x = inside.clone()
        x[0, 1, 2] = end
        if is_open:
            with pytest.raises(InputError) as err:
                check_scalar_per_token("beta", x, like, low=low, high=high, low_open=low_open, high_open=high_open)
            assert err.value.parameter == "beta"
        else:
            got = check_scalar_per_token("beta", x, like, low=low, high=high, low_open=low_open, high_open=high_open)
            assert torch.equal(got, x)
    for outside in (math.nextafter(low, -math.inf), math.nextafter(high, math.inf)):
        x = inside.clone()
        x[0, 0, 0] = outside
        with pytest.raises(InputError) as err:
            check_scalar_per_token("beta", x, like, low=low, high=high, low_open=low_open, high_open=high_open)
        assert err.value.parameter == "beta"
