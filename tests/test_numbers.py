"""Printing precision (assocmem.numbers): measured values to the precision of their intervals, exact values to 10
digits, identity errors only against their tolerance; and the last binary digits of a result never change the text."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assocmem import numbers, report
from assocmem.registry import Claim, Result

ULP = 2.0**-52


def nudge(x: float, k: int) -> float:
    """``x`` moved by ``k`` units in its last place (relative 2^-52 each)."""
    return x * (1 + k * ULP)


def test_measured_values_are_rounded_to_the_second_digit_of_the_half_width():
    assert numbers.measured(3.970878213366043, 3.58787132720892, 4.353885099523166) == ("3.97", "3.59", "4.35")
    assert numbers.measured(0.08554328631, 0.08525217174, 0.08583440087) == ("0.08554", "0.08525", "0.08583")
    assert numbers.measured(12345.678, 12000.1, 12700.9) == ("1.235e+04", "1.200e+04", "1.270e+04")
    # zero width (an analytic value) and no interval: exact digits
    assert numbers.measured(0.1234567890123, 0.1234567890123, 0.1234567890123)[0] == "0.123456789"
    assert numbers.measured(2.5, None, None) == ("2.5", "", "")


def test_exact_values_keep_ten_digits_and_name_non_finite_values():
    assert numbers.exact(1 / 3) == "0.3333333333"
    assert numbers.exact(float("inf")) == "inf" and numbers.significant(float("nan")) == "nan"
    assert numbers.significant(None) == "—"


def test_identity_errors_are_printed_against_their_tolerance_only():
    assert numbers.identity_error(7.77e-16, 2.29e-13) == "<=tolerance"
    assert numbers.identity_error(0.0, 2.29e-13) == "<=tolerance"
    assert numbers.identity_error(3.2e-12, 1e-12) == "3.2x tolerance"
    assert numbers.identity_error(2.0, 0.0) == "2"  # exact arithmetic (counts): printed as it is
    assert numbers.identity_error(None, 1.0) == ""


@given(value=st.floats(1e-6, 1e6), rel=st.floats(1e-4, 0.5))
def test_a_measured_value_always_lies_in_its_printed_interval_text(value, rel):
    lo, hi = value * (1 - rel), value * (1 + rel)
    v, a, b = numbers.measured(value, lo, hi)
    assert float(a) <= float(v) <= float(b)
    half = (hi - lo) / 2
    assert abs(float(v) - value) <= half / 10 * 0.5 + 1e-12 * value  # rounded at a tenth of the half-width or finer


def test_result_text_of_an_identity_claim_hides_round_off(monkeypatch):
    claim = Claim(id="C1.x", title="t", tag="suite", ref="r", statement="s", kind="identity",
                  run=lambda *a, **k: None)
    a = Result("C1.x", {"d_k": 4}, 1, True, error=7.771561172376096e-16, tolerance=2.293586459614297e-13)
    b = Result("C1.x", {"d_k": 4}, 1, True, error=8.881784197001252e-16, tolerance=2.2935864596142966e-13)
    assert report.result_text(claim, a) == report.result_text(claim, b)
    assert report.result_text(claim, a)["param_d_k"] == "4"


# ------------------------------------------------------------------------------------ perturbation checks ---
def perturbed(value, k: int):
    """Every float inside ``value`` (a Result, a list of figure rows, ...) moved by ``k`` ulps."""
    import dataclasses

    if isinstance(value, float):  # exact short decimals (counts over trials) carry no round-off: left alone
        return nudge(value, k) if math.isfinite(value) and not numbers.is_short_decimal(value) else value
    if isinstance(value, dict):
        return {key: perturbed(v, k) for key, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(perturbed(v, k) for v in value)
    if dataclasses.is_dataclass(value) and isinstance(value, Result):
        return dataclasses.replace(value, **{f.name: perturbed(getattr(value, f.name), k)
                                             for f in dataclasses.fields(value) if f.name not in ("params", "seed")})
    return value


def unstable_prints(values, ks=(-4, -1, 1, 4)) -> list[str]:
    """The printed texts among ``values`` (claim Results and figure row lists) that change when every number is
    moved by a few ulps. Empty: the printing rules hold for these values."""
    from assocmem import registry

    bad = []
    for v in values:
        if isinstance(v, Result):
            claim = registry.get(v.claim)
            base = report.result_text(claim, v)
            for k in ks:
                if report.result_text(claim, perturbed(v, k)) != base:
                    bad.append(f"{v.claim} {dict(v.params)}: {base} vs {report.result_text(claim, perturbed(v, k))}")
                    break
        elif isinstance(v, list) and v and all(isinstance(r, dict) for r in v):
            base = report.figure_rows(v)[0]
            for k in ks:
                if report.figure_rows(perturbed(v, k))[0] != base:
                    bad.append(f"figure rows starting {v[0]}")
                    break
    return bad


def test_nested_values_are_printed_with_six_digits():
    assert numbers.other({"a": {2: {"mean": 0.7499999999999993, "lo": 0.6840371666701309}}, "n": [1, 0.1 + 0.2]}) == \
        "{'a': {2: {'mean': 0.75, 'lo': 0.684037}}, 'n': [1, 0.3]}"
    assert numbers.is_short_decimal(331 / 400) and not numbers.is_short_decimal(0.1 + 0.2)


def test_perturbation_check_detects_a_value_on_a_rounding_boundary():
    near = [float("0.1234565")]  # a rounding boundary at 6 significant digits; values a few ulps either side
    for _ in range(3):
        near = [math.nextafter(near[0], 0)] + near + [math.nextafter(near[-1], 1)]
    candidates = [x for x in near if not numbers.is_short_decimal(x)]
    assert candidates and all(unstable_prints([[{"x": x, "estimate": 1.0, "lo": 0.5, "hi": 1.5}]]) for x in candidates)
    assert not unstable_prints([[{"x": 0.123456, "estimate": 1.0, "lo": 0.5, "hi": 1.5}]])


@pytest.mark.parametrize("k", [-3, 3])
def test_round_off_in_the_last_digits_does_not_change_typical_results(k):
    rows = [{"memory": "rls", "t": 11, "dist2": 11.43275619, "dist2_lo": 8.01213, "dist2_hi": 14.853381, "theory": 8.1}]
    assert report.figure_rows(rows)[0] == report.figure_rows(perturbed(rows, k))[0]


def _decade_above(x: float) -> int:
    """Brute force: the least integer k whose decimal 1e<k>, read as a float, is >= x."""
    k = -40
    while float(f"1e{k}") < x:
        k += 1
    return k


@given(st.floats(min_value=1e-30, max_value=1e30, allow_nan=False, allow_infinity=False))
def test_decade_above_is_the_power_of_ten_at_or_above_and_keeps_the_verdict(x):
    d = numbers.decade_above(x)
    assert d == float(f"1e{_decade_above(x)}") and d >= x
    assert (d <= 1.0) == (x <= 1.0)  # the verdict of a ratio to its tolerance does not change


def test_decade_above_edges():
    assert [numbers.decade_above(x) for x in (0.065146, 0.0562682, 0.078, 0.00183631, 0.00175579)] == \
        [0.1, 0.1, 0.1, 0.01, 0.01]
    assert numbers.decade_above(1.0) == 1.0 and numbers.decade_above(0.1) == 0.1
    assert numbers.decade_above(1.0000001) == 10.0
    assert numbers.decade_above(0.0) == 0.0 and numbers.decade_above(float("inf")) == float("inf")
    assert [numbers.other(numbers.decade_above(x)) for x in (0.05, 0.005, 3.0)] == ["0.1", "0.01", "10"]
