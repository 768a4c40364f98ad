"""Shared building blocks for claim checks: turn an interval or an error into a ``Result``."""

from __future__ import annotations

from typing import Any, Mapping

from assocmem.registry import Result
from impl.estimators.stats import Estimate, detectable


def statistical(claim_id: str, params: Mapping[str, Any], seed: int, theory: float, est: Estimate,
                note: str = "", **extra) -> Result:
    """Pass iff the exact ``theory`` lies in the level-(1-alpha) interval of ``est``. Records the relative
    discrepancy detectable with 99 % power at that interval (the check's power)."""
    alpha = 1 - est.level
    power_note = f"detects a {detectable(est.se, alpha, 0.99) / abs(theory):.2%} discrepancy with 99% power" if theory else ""
    return Result(
        claim=claim_id, params=dict(params), seed=seed, passed=bool(est.contains(theory)), theory=float(theory),
        estimate=est.value, lo=est.lo, hi=est.hi, level=est.level, n=est.n,
        note="; ".join(x for x in (note, power_note) if x), extra=extra,
    )


def identity(claim_id: str, params: Mapping[str, Any], seed: int | None, error: float, tolerance: float,
             note: str = "", **extra) -> Result:
    """Pass iff the measured ``error`` is within the round-off-derived ``tolerance``."""
    ok = bool(error <= tolerance)
    return Result(claim=claim_id, params=dict(params), seed=seed, passed=ok, error=float(error),
                  tolerance=float(tolerance), note=note, extra=extra)


def approximation(claim_id: str, params: Mapping[str, Any], seed: int | None, exact: float, approx: float,
                  rel_tol: float, note: str = "", lo: float | None = None, hi: float | None = None, **extra) -> Result:
    """Pass iff |approx / exact - 1| <= rel_tol. ``exact`` may itself be a measurement (then give lo, hi)."""
    rel = abs(approx / exact - 1) if exact else float("inf")
    return Result(claim=claim_id, params=dict(params), seed=seed, passed=bool(rel <= rel_tol), theory=float(approx),
                  estimate=float(exact), lo=lo, hi=hi, error=rel, tolerance=rel_tol, note=note, extra=extra)
