"""How numbers are printed in reports and CSVs: to the precision their intervals or tolerances support.

The aim is that a change in the last binary digits of a result (another BLAS code path, another CPU's vector
width) never changes a committed file. Rules, applied to every number the report writes:

* **measured, with an interval** [lo, hi] (hi > lo): the value and both ends are rounded to the decimal place of
  the second significant digit of the half-width (hi - lo)/2, the usual convention for a measurement and its
  uncertainty. A relative change of 1e-15 in the value then crosses a rounding boundary with probability about
  1e-13.
* **exact** (a formula evaluated in float64; an interval of zero width; the level 1 - alpha): 10 significant
  digits. Float64 round-off (about 1e-16 relative) crosses a boundary with probability about 1e-6 per number.
* **identity-check errors** are pure round-off. Not only their last digits but their size changes with the order
  of summation: regenerating the quick report with other CPU code paths (MKL_CBWR=COMPATIBLE,
  ATEN_CPU_CAPABILITY=default, numpy without AVX) changed such errors by factors up to 7, and an exact 0 into
  2e-16, so even their decade is not reproducible (it changed at 4 of 16 points). They are printed only as
  ``<=tolerance`` (the verdict); a failing one as its ratio to the tolerance (``3.2x tolerance``). The tolerance,
  itself derived from the data, gets 3 significant digits. Checks in exact arithmetic (tolerance 0: counts,
  signs) print their error as it is.
* **low-precision round-off ratios** (U2.lowprec_forms: the worst float32 or bfloat16 RMS error of a form as a
  multiple of its tolerance). An RMS over many elements moves less than a single float64 error, but still with
  the CPU's kernel path: DeltaNet in float32 gave 0.065 here and 0.078 with MKL_CBWR=COMPATIBLE; RLS gave 0.00184
  here and 0.00176 on a CPU with wider vector units. The claim itself states the ratio as the power of ten at or
  above it (``decade_above``: 0.1 means "at most a tenth of the tolerance"), a bound, which is what a float32
  measurement supports, and the same on every path tried (tests/test_lowprec_paths.py regenerates the rows under
  other code paths and compares bytes). A ratio within about 20 % below a power of ten could still cross it on
  some machine; the verdict (ratio <= 1, 1 being a power of ten) is the same as on the unrounded ratio.
* **anything else** (relative departures, diagnostics, figure data without an interval): 6 significant digits.

Verdicts are decided on the unrounded numbers; the rounding is for printing only. No scheme is stable at every
boundary: the quick-reference test moves the last digits of every number the quick report computes (except exact
short decimals such as a count over trials, 0.9375, which are the same on every machine) and checks that the
printed text does not change.
"""

from __future__ import annotations

import math

EXACT_DIGITS = 10
OTHER_DIGITS = 6
TOLERANCE_DIGITS = 3


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def significant(x: float, digits: int = OTHER_DIGITS) -> str:
    """``x`` to ``digits`` significant digits ('inf', '-inf', 'nan' spelled out; '—' for None)."""
    if x is None:
        return "—"
    if isinstance(x, bool) or isinstance(x, int):
        return str(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.{digits}g}"


def exact(x: float) -> str:
    return significant(x, EXACT_DIGITS)


def _place(lo: float, hi: float) -> int | None:
    """The decimal exponent to round to: that of the half-width's second significant digit."""
    half = (hi - lo) / 2
    if not (_finite(half) and half > 0):
        return None
    return math.floor(math.log10(half)) - 1


def at_place(x: float, place: int) -> str:
    """``x`` rounded to a multiple of 10**place, written without spurious digits."""
    if not _finite(x):
        return significant(x)
    if x == 0:
        return "0"
    if -12 <= place <= 0 and abs(x) < 1e9:
        text = f"{x:.{-place}f}"
        return "0" if float(text) == 0 else text
    digits = math.floor(math.log10(abs(x))) - place + 1
    if digits < 1:
        return "0"
    return f"{x:.{digits - 1}e}"


def measured(value: float | None, lo: float | None, hi: float | None) -> tuple[str, str, str]:
    """(value, lo, hi) printed to the precision of the interval; exact digits when it has zero width."""
    if value is None:
        return "", "" if lo is None else exact(lo), "" if hi is None else exact(hi)
    place = _place(lo, hi) if (_finite(lo) and _finite(hi)) else None
    if place is None:
        return exact(value), "" if lo is None else exact(lo), "" if hi is None else exact(hi)
    return at_place(value, place), at_place(lo, place), at_place(hi, place)


def identity_error(error: float | None, tol: float | None) -> str:
    """An identity check's error, stated against its tolerance: '<=tolerance', or 'N.Nx tolerance' when it fails.
    A zero tolerance means exact arithmetic (counts, signs): the error is then printed as it is."""
    if error is None:
        return ""
    if not _finite(error):
        return significant(error)
    if tol == 0:
        return significant(error)
    if tol is None or not _finite(tol):
        return significant(error, 2)
    if error <= tol:
        return "<=tolerance"
    return f"{error / tol:.2g}x tolerance"


def decade_above(x: float) -> float:
    """The power of ten at or above ``x`` > 0 (as the float nearest to it: 0.1, 1, 10); 0 and non-finite values
    unchanged. Used for round-off ratios whose size depends on the CPU's kernel path (see the module docstring).
    Rounding up to a power of ten keeps the verdict ``x <= 1`` exactly, 1 being a power of ten."""
    if not _finite(x) or x <= 0:
        return x
    exponent = math.ceil(math.log10(x))  # then corrected where log10's own rounding crossed a power of ten
    while float(f"1e{exponent - 1}") >= x:
        exponent -= 1
    while float(f"1e{exponent}") < x:
        exponent += 1
    return float(f"1e{exponent}")


def tolerance(x: float | None) -> str:
    return "" if x is None else significant(x, TOLERANCE_DIGITS)


def other(x) -> str:
    """Any other value: floats to 6 significant digits (also inside dicts, lists and tuples), the rest as text."""
    if isinstance(x, float):
        return significant(x)
    if isinstance(x, dict):
        return "{" + ", ".join(f"{k!r}: {_nested(v)}" for k, v in x.items()) + "}"
    if isinstance(x, (list, tuple)):
        inner = ", ".join(_nested(v) for v in x)
        return f"[{inner}]" if isinstance(x, list) else f"({inner}{',' if len(x) == 1 else ''})"
    return "" if x is None else str(x)


def _nested(x) -> str:
    return other(x) if isinstance(x, (float, dict, list, tuple)) else repr(x)


def is_short_decimal(x, digits: int = 12) -> bool:
    """True when ``x`` is exactly a decimal of at most ``digits`` significant digits (0.9375, 0.8275): the result of
    exact arithmetic such as a count over trials, correctly rounded and so the same on every IEEE machine. A value
    carrying round-off almost never is; the perturbation tests leave such values alone."""
    return isinstance(x, float) and math.isfinite(x) and float(f"{x:.{digits}g}") == x


def interval_columns(row: dict) -> dict[str, tuple[str, str]]:
    """Columns of a figure's CSV row that form a measurement with an interval: ``estimate`` with ``lo``/``hi``,
    or ``X`` with ``X_lo``/``X_hi`` (also the abbreviation of ``X`` to its first three letters, e.g. ``acc_lo``)."""
    out = {}
    keys = set(row)
    if {"estimate", "lo", "hi"} <= keys:
        out["estimate"] = ("lo", "hi")
    for k in keys:
        for stem in (k, k[:3]):
            if k not in out and f"{stem}_lo" in keys and f"{stem}_hi" in keys and k not in (f"{stem}_lo", f"{stem}_hi"):
                out[k] = (f"{stem}_lo", f"{stem}_hi")
    return out


def figure_row(row: dict) -> dict[str, str]:
    """A figure's CSV row, every number printed by the rules above."""
    text = {k: other(v) for k, v in row.items()}
    for k, (lo, hi) in interval_columns(row).items():
        if all(isinstance(row[c], (int, float)) and not isinstance(row[c], bool) for c in (k, lo, hi)):
            text[k], text[lo], text[hi] = measured(float(row[k]), float(row[lo]), float(row[hi]))
    return text
