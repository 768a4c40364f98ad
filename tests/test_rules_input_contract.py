"""The input contract of every update rule, on every one of its forms (recurrent, parallel, chunked): each per-token
input is refused outside its range, with an InputError naming it, and accepted at the ends of its range.

The ranges are written here from the rules' definitions (docstrings of impl/rules/*/recurrent.py and the paper's
update table), not read from the code: DeltaNet's and Gated DeltaNet's step b in [0, 2] (the transition I - b k k^T
of a unit key is non-expansive exactly there), decay gates a in (0, 1], Longhorn's beta >= 0 (unbounded: its
implicit step is always stable), TTT's theta in [0, 2], eta and alpha in [0, 1]. A form that accepted b = 3 while
the others refuse it (a changed bound in one form) fails here."""

import math

import pytest
import torch

from impl.numerics.errors import InputError
from impl.rules.data import draw_inputs
from impl.rules.registry import RULES

INF = math.inf
# rule -> extra -> (low, high, low_open)
SPEC = {
    "deltanet": {"beta": (0.0, 2.0, False)},
    "gated_deltanet": {"beta": (0.0, 2.0, False), "g": (0.0, 1.0, True)},
    "retnet": {"g": (0.0, 1.0, True)},
    "gla": {"g": (0.0, 1.0, True)},
    "longhorn": {"beta": (0.0, INF, False)},
    "ttt": {"theta": (0.0, 2.0, False), "eta": (0.0, 1.0, False), "alpha": (0.0, 1.0, False)},
}
PARAMS = {"B": 1, "H": 2, "T": 5, "d_k": 3, "d_v": 2}


def test_every_rule_with_per_token_inputs_is_specified_here():
    assert {name for name, rule in RULES.items() if rule.extras} == set(SPEC)
    for name, spec in SPEC.items():
        assert [e.name for e in RULES[name].extras] == list(spec)


def _call(rule, form, index, value):
    args, kwargs = draw_inputs(rule, dict(PARAMS, extras="mid"), seed=3)
    args = list(args)
    x = args[3 + index].clone()
    x[0, 1, 2] = value  # one token of one head
    args[3 + index] = x
    return rule.forms[form](*args, **kwargs)


CASES = [(name, form, i, extra) for name in SPEC for form in RULES[name].forms
         for i, extra in enumerate(SPEC[name])]


@pytest.mark.parametrize("name,form,index,extra", CASES, ids=[f"{c[0]}-{c[1]}-{c[3]}" for c in CASES])
def test_out_of_range_is_refused_and_the_ends_accepted(name, form, index, extra):
    rule = RULES[name]
    low, high, low_open = SPEC[name][extra]
    bad = [low - 0.5, float("nan"), float("inf")] + ([high + 0.5, 1.5 * high] if math.isfinite(high) else [])
    if low_open:
        bad.append(low)
    for value in bad:
        with pytest.raises(InputError) as e:
            _call(rule, form, index, value)
        assert e.value.parameter == extra, (value, str(e.value))
    good = ([] if low_open else [low]) + ([high] if math.isfinite(high) else [1e3])
    for value in good:
        o = _call(rule, form, index, value)[0]
        assert torch.isfinite(o).all()


STATE_CASES = [(name, form) for name, rule in RULES.items() for form in rule.forms]


@pytest.mark.parametrize("name,form", STATE_CASES, ids=[f"{c[0]}-{c[1]}" for c in STATE_CASES])
def test_a_malformed_initial_state_is_refused_naming_it(name, form):
    """Every form of every rule names ``initial_state`` when the state is not of the rule's kind (a string, a
    tensor of the wrong shape, a tuple of the wrong length): the state contract on every form, not only one."""
    rule = RULES[name]
    args, kwargs = draw_inputs(rule, dict(PARAMS, extras="mid"), seed=3)
    B, H, _, d_k = args[1].shape
    d_v = args[2].shape[-1]
    wrong_shape = torch.zeros(B, H, d_v + 1, d_k + 2, dtype=torch.float64)
    for bad in ("not a state", wrong_shape, (wrong_shape,) * 3):
        with pytest.raises(InputError) as e:
            rule.forms[form](*args, **dict(kwargs, initial_state=bad))
        assert e.value.parameter == "initial_state", (bad if isinstance(bad, str) else type(bad), str(e.value))


EXTRA_CASES = [(name, extra) for name, rule in RULES.items() for extra in rule.extras]


@pytest.mark.parametrize("mode", ["mid", "low", "high", "ends"])
@pytest.mark.parametrize("name,extra", EXTRA_CASES, ids=[f"{c[0]}-{c[1].name}" for c in EXTRA_CASES])
def test_extras_modes_place_the_inputs_where_the_module_docstring_says(name, extra, mode):
    """``extras`` in impl/rules/data.py: ``mid`` spreads over the range (open gates from 0.05), ``low`` / ``high``
    stay within 1 % of the lower / upper end (an open lower end as small as 1e-4, never 0), ``ends`` hits exactly
    the closed ends and never an open one. Checked on 2000 draws of each input, against the intent, so that a mode
    that silently fell through to another (e.g. ``low`` drawing the ends) fails."""
    from impl.rules.data import draw_extra

    lo, hi = extra.low, extra.high
    x = draw_extra(extra, (2000,), mode, torch.Generator().manual_seed(7))
    assert x.dtype == torch.float64 and x.shape == (2000,)
    assert torch.isfinite(x).all() and (x >= lo).all() and (x <= hi).all()
    if extra.low_open:
        assert (x > lo).all()
    width = hi - lo
    if mode == "mid":
        floor = 0.05 if extra.low_open else lo
        assert x.min() >= floor and x.min() < floor + 0.01 * width and x.max() > hi - 0.01 * width
    elif mode == "low":
        floor = 1e-4 if extra.low_open else lo
        assert (x >= floor).all() and (x <= floor + 0.01 * width).all()
        assert x.max() > floor + 0.009 * width  # spread over the 1 % band, not a point
    elif mode == "high":
        assert (x >= hi - 0.01 * width).all() and x.min() < hi - 0.009 * width
    else:
        ends = {hi} if extra.low_open else {lo, hi}
        assert set(x.unique().tolist()) == ends


@pytest.mark.parametrize("name,form,index,extra", CASES, ids=[f"{c[0]}-{c[1]}-{c[3]}" for c in CASES])
def test_a_malformed_per_token_input_is_refused_naming_it(name, form, index, extra):
    """A per-token input of the wrong shape (one token too many, or the head axis missing) or not a tensor is refused
    on every form with the error naming that input (the shape check is a separate branch from the range check)."""
    rule = RULES[name]
    args, kwargs = draw_inputs(rule, dict(PARAMS, extras="mid"), seed=3)
    good = args[3 + index]
    longer = torch.cat([good, good[:, :, :1]], dim=2)  # [B, H, T + 1, ...]: values inside the range
    for bad in (longer, good[:, 0], good.tolist()):
        call = list(args)
        call[3 + index] = bad
        with pytest.raises(InputError) as e:
            rule.forms[form](*call, **kwargs)
        assert e.value.parameter == extra, (type(bad), str(e.value))


@pytest.mark.parametrize("name,form", STATE_CASES, ids=[f"{c[0]}-{c[1]}" for c in STATE_CASES])
def test_malformed_queries_keys_values_are_refused_naming_them(name, form):
    """q, k, v on every form of every rule: not a tensor, not 4-D, integer, empty (T = 0 or d = 0), k not of q's
    shape, v not of q's [B, H, T], and a dtype that differs from q's: each refused with the error naming the
    tensor at fault (v for the shared-dtype rule, the last one checked)."""
    rule = RULES[name]
    args, kwargs = draw_inputs(rule, dict(PARAMS, extras="mid"), seed=3)
    q, k, v = args[:3]
    cases = []
    for i, x in enumerate("qkv"):
        t = args[i]
        cases += [(i, t.tolist(), x), (i, t[0], x), (i, t.round().to(torch.int64), x), (i, t[:, :, :0], x),
                  (i, t[..., :0], x)]
    cases += [(1, k[..., :2], "k"), (2, v[:, :, :3], "v"), (2, v.to(torch.float32), "v")]
    for i, bad, flag in cases:
        call = list(args)
        call[i] = bad
        with pytest.raises(InputError) as e:
            rule.forms[form](*call, **kwargs)
        assert e.value.parameter == flag, (i, type(bad), getattr(bad, "shape", None), str(e.value))


GATE_CASES = [(name, form) for name in SPEC if "g" in SPEC[name] for form in RULES[name].forms]


@pytest.mark.parametrize("name,form", GATE_CASES, ids=[f"{c[0]}-{c[1]}" for c in GATE_CASES])
def test_log_gates_are_refused_above_zero_and_equal_the_gates_they_encode(name, form):
    """With ``log_gates=True`` a gate is given as log a <= 0: one positive entry is refused naming g, and log a gives
    the outputs of a itself (to round-off: the forms take log a either way)."""
    rule = RULES[name]
    args, kwargs = draw_inputs(rule, dict(PARAMS, extras="mid"), seed=3)
    i = 3 + list(SPEC[name]).index("g")
    logs = list(args)
    logs[i] = torch.log(args[i])
    o_log = rule.forms[form](*logs, **dict(kwargs, log_gates=True))[0]
    o = rule.forms[form](*args, **kwargs)[0]
    assert torch.allclose(o_log, o, rtol=1e-12, atol=1e-12)
    bad = logs[i].clone()
    bad[0, 1, 2] = 0.25
    logs[i] = bad
    with pytest.raises(InputError) as e:
        rule.forms[form](*logs, **dict(kwargs, log_gates=True))
    assert e.value.parameter == "g", str(e.value)


PAIR_CASES = [(name, form) for name, rule in RULES.items() if rule.state in ("pair", "cache") for form in rule.forms]


@pytest.mark.parametrize("name,form", PAIR_CASES, ids=[f"{c[0]}-{c[1]}" for c in PAIR_CASES])
def test_a_state_pair_with_one_bad_member_is_refused_naming_it(name, form):
    """The states that are pairs (TTT's (S, m), RLS's (S, P), softmax's cache (K, V)): a pair whose first member is
    right and whose second is of the wrong shape, or not a tensor, or non-finite, is refused naming initial_state on
    every form (each member is checked, not only the first)."""
    rule = RULES[name]
    args, kwargs = draw_inputs(rule, dict(PARAMS, extras="mid", state=True), seed=3)
    first, second = kwargs["initial_state"]
    rule.forms[form](*args, **kwargs)  # the pair as drawn is accepted
    for bad in (second[..., :1], "not a tensor", second * float("nan")):
        with pytest.raises(InputError) as e:
            rule.forms[form](*args, **dict(kwargs, initial_state=(first, bad)))
        assert e.value.parameter == "initial_state", (type(bad), str(e.value))


@pytest.mark.parametrize("name", [n for n, r in RULES.items() if r.extras])
def test_drawn_per_token_inputs_have_the_shape_their_rule_declares(name):
    """``draw_inputs`` gives a per-channel input [B, H, T, d_k] and a per-token one [B, H, T], as each Extra declares
    (a per-channel gate drawn per token would leave GLA's per-channel path untested everywhere that draws inputs)."""
    rule = RULES[name]
    args, _ = draw_inputs(rule, dict(PARAMS, extras="mid"), seed=3)
    B, H, T, d_k = args[0].shape
    for e, x in zip(rule.extras, args[3:]):
        assert tuple(x.shape) == ((B, H, T, d_k) if e.per_channel else (B, H, T)), (e.name, tuple(x.shape))
    if name == "gla":
        assert any(e.per_channel for e in rule.extras)
