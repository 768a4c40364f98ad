"""Strict JSON for everything the command line prints: no ``NaN`` or ``Infinity`` tokens (RFC 8259 has none, and
strict parsers reject them). A non-finite number becomes ``null`` and the object that holds it gets a note,
``"nonfinite": {"<key>": "inf" | "-inf" | "nan"}`` (``"<key>[i]"`` for an item of a list), so the value is not
silently lost.
"""

from __future__ import annotations

import json
import math
from numbers import Integral, Real


def _kind(x: float) -> str:
    return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def _nonfinite(x) -> bool:
    return isinstance(x, Real) and not isinstance(x, bool) and not math.isfinite(float(x))


def strict(obj, _note: dict | None = None, _where: str = ""):
    """A copy of ``obj`` (dicts, lists, tuples, numbers, strings, None) with every non-finite number replaced by
    None and named in the ``nonfinite`` note of the nearest enclosing dict."""
    if getattr(obj, "ndim", None) == 0 and hasattr(obj, "item"):  # numpy scalars, 0-d arrays and tensors
        obj = obj.item()
    if _nonfinite(obj):
        if _note is None:
            raise ValueError(f"a non-finite number ({obj}) outside any JSON object has nowhere to be noted")
        _note[_where] = _kind(float(obj))
        return None
    if isinstance(obj, dict):
        note: dict = {}
        out = {k: strict(v, note, str(k)) for k, v in obj.items()}
        if note:
            out["nonfinite"] = {**(out.get("nonfinite") or {}), **note}
        return out
    if isinstance(obj, (list, tuple)):
        return [strict(v, _note, f"{_where}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, Integral):
        return int(obj)  # numpy integers
    if isinstance(obj, Real):
        return float(obj)  # numpy floats
    return obj


def dumps(obj, **kw) -> str:
    """``json.dumps`` of ``strict(obj)`` that refuses (ValueError) anything non-finite left over."""
    return json.dumps(strict(obj), allow_nan=False, **kw)
