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
