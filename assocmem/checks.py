"""Shared building blocks for claim checks: turn an interval or an error into a ``Result`` (``snr``: an estimator's
SNR^{-1} result, through ``statistical``)."""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any, Mapping

from assocmem.registry import Result
from impl.estimators.stats import Estimate, detectable

if TYPE_CHECKING:
    from impl.memories.memory import SNRResult


def statistical(claim_id: str, params: Mapping[str, Any], seed: int, theory: float, est: Estimate,
                note: str = "", **extra) -> Result:
    """Pass iff the exact ``theory`` lies in the level-(1-alpha) interval of ``est``. Records the relative
    discrepancy detectable with 99 % power at that interval (the check's power)."""
    alpha = 1 - est.level
    power_note = f"detects a {detectable(est.se, alpha, 0.99) / abs(theory):.2%} discrepancy with 99% power" if theory else ""
    return Result(
        claim=claim_id, params=dict(params), seed=seed, passed=bool(est.contains(theory)), theory=float(theory),
        estimate=est.value, lo=est.lo, hi=est.hi, level=est.level, n=est.n, se=est.se,
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


def snr(claim_id: str, params: Mapping[str, Any], seed: int, result: SNRResult, theory: float | None = None,
        note: str | None = None, *, reference: tuple[str, float] | None = None, holds: bool = True,
        **extra) -> Result:
    """An SNR^{-1} claim: ``statistical`` on the estimator's result (impl.memories.memory.SNRResult): pass iff
    ``theory`` (default the result's own exact value) lies in its interval; the note defaults to the result's.
    ``reference`` = (name, value): the exact value built a second way (SymPy against the estimator's closed form, say);
    the check also fails, and says so, unless it agrees with ``theory`` to 1e-9 relative. ``holds``: a further
    condition the claim states (the heavy-tail detector flagged plain sampling, say); False fails the check."""
    theory = result.exact if theory is None else theory
    note = result.note if note is None else note
    agree = reference is None or math.isclose(theory, reference[1], rel_tol=1e-9)
    if not agree:
        note = f"{reference[0]} value {reference[1]:.12g} disagrees with {theory:.12g}; " + note
    out = statistical(claim_id, params, seed, theory, result.interval(), note=note, **extra)
    return dataclasses.replace(out, passed=bool(out.passed and agree and holds))
