"""Calibration of the statistical checks, as evidence jobs (``assocmem evidence run calibration``).

One job per statistical claim, ``calibration/<claim id>``. The claim's check runs over ``SEEDS`` independent seeds at
its calibration point (its first quick-grid point, Monte Carlo trials capped at ``MAX_TRIALS``). One set of runs
serves every level: each check's interval is a symmetric Student-t interval, estimate +- t_{n-1}(1 - alpha/2) se
(``impl.estimators.stats``: mean and delta-method ratio intervals), so the record keeps per seed the estimate, the
exact value, the standard error (recovered from the interval, its level and n) and n, and the interval is rebuilt at
any level. Per level in ``LEVELS`` the number of misses (exact value outside the interval) is tested against the
declared rate alpha with an exact two-sided binomial test (``scipy.stats.binomtest``) at level ``TEST_LEVEL``:

* too many misses: the interval is anti-conservative (its normal approximation fails at this sample size);
* far too few misses: the interval is wider than it should be (lost power).

Checks of a proportion (hit rates) use the exact Clopper-Pearson interval instead and say so in their Result
(``extra["interval"] == "clopper-pearson"`` with the hit count in ``extra["hits"]``): the record keeps the hits and
the interval is rebuilt exactly at each level. That interval guarantees coverage >= 1 - alpha, so only too many
misses reject (a one-sided exact binomial test); fewer misses than alpha are expected and reported as such.

A row *passes* when the test does not reject. Where the capped point fails at either level and the claim's own
point uses more trials, the claim is calibrated again at its own point (the sample size its checks use). The
verdicts use alpha = 1e-6, which no affordable number of seeds can check directly; it rests on the interval
construction that these rows test in the bulk of the distribution (see the report's calibration section). The
record also keeps the verdict-level (1e-6) failures as before.
"""

from __future__ import annotations

import math

from assocmem import evidence, registry, sweep

SEEDS = 1000
SEEDS_QUICK = 20
MAX_TRIALS = 1000  # calibration points cap Monte Carlo trials (fewer trials: a harder test of the CLT)
LEVELS = (0.05, 0.01)
TEST_LEVEL = 1e-3  # per row; ~40 claims x 2 levels: about 0.08 rows expected to fail by chance in a full run


def calibration_point(claim: registry.Claim) -> dict:
    """Where a statistical claim's coverage is measured: its first quick-grid point, with ``trials`` capped at
    MAX_TRIALS (the interval's normal approximation is least accurate at small samples, so the cap makes the
    calibration stricter, and keeps many seeds per claim affordable)."""
    p = dict(claim.report_grid(True)[0])
    if isinstance(p.get("trials"), int) and p["trials"] > MAX_TRIALS:
        p["trials"] = MAX_TRIALS
    return p


def _seed(base: int, i: int) -> int:
    return base * 10_000 + i + 1


def standard_error(res: registry.Result) -> float | None:
    """The result's standard error (``Result.se``, which every SNR check carries); for a result without one, the
    standard error behind its symmetric t interval [lo, hi] at ``level`` from ``n`` samples (n - 1 degrees of
    freedom); None when the result carries no such interval (nothing sampled, or an asymmetric interval)."""
    from impl.estimators.stats import critical_value

    if None in (res.lo, res.hi, res.level, res.n, res.estimate) or not res.n or res.n < 2:
        return None
    if res.se is not None:
        return res.se
    half = (res.hi - res.lo) / 2
    centre = (res.hi + res.lo) / 2
    if not math.isfinite(half) or abs(centre - res.estimate) > 1e-9 * max(abs(res.estimate), half, 1e-300):
        return None
    return half / critical_value(1 - res.level, res.n - 1)


def exact_binomial_hits(res: registry.Result) -> int | None:
    """The hit count behind an exact Clopper-Pearson interval, when the Result declares one; else None."""
    if res.extra.get("interval") == "clopper-pearson" and res.n:
        return int(res.extra["hits"])
    return None


def _missed(r: dict, alpha: float) -> bool:
    from impl.estimators.stats import binomial_interval, critical_value

    if r.get("hits") is not None:
        b = binomial_interval(r["hits"], r["n"], alpha)
        return not b.lo <= r["theory"] <= b.hi
    return abs(r["estimate"] - r["theory"]) > critical_value(alpha, r["n"] - 1) * r["se"]


def coverage_row(runs: list[dict], alpha: float) -> dict:
    """Misses of the level-(1 - alpha) interval rebuilt from each run, and the exact binomial test of their count
    (two-sided for t intervals; one-sided, too many misses only, for exact Clopper-Pearson intervals, whose coverage
    is at least 1 - alpha by construction)."""
    from scipy.stats import binomtest

    from impl.estimators.stats import binomial_interval

    usable = [r for r in runs if r["se"] is not None or r.get("hits") is not None]
    miss = sum(_missed(r, alpha) for r in usable)
    n = len(usable)
    if not n:
        return {"alpha": alpha, "seeds": 0, "misses": None, "p_value": None, "verdict": "no interval to test"}
    exact = all(r.get("hits") is not None for r in usable)
    p = binomtest(miss, n, alpha, alternative="greater" if exact else "two-sided").pvalue
    ci = binomial_interval(miss, n, alpha=0.05)
    if p >= TEST_LEVEL:
        verdict = "calibrated"
    else:
        verdict = "anti-conservative" if miss > n * alpha else "conservative (lost power)"
    return {"alpha": alpha, "seeds": n, "misses": miss, "rate": miss / n, "rate_lo": ci.lo, "rate_hi": ci.hi,
            "p_value": p, "verdict": verdict}


def _runs(results) -> list[dict]:
    out = []
    for r in results:
        hits = exact_binomial_hits(r)
        se = None if hits is not None else standard_error(r)
        out.append({"seed": r.seed, "estimate": r.estimate, "theory": r.theory, "se": se, "n": r.n,
                    "passed": bool(r.passed), **({"hits": hits} if hits is not None else {})})
    return out


def _point_rows(claim: registry.Claim, point: dict, results, note: str) -> dict:
    runs = _runs(results)
    fails = [r["seed"] for r in runs if not r["passed"]]
    t_max = max((abs(r["estimate"] - r["theory"]) / r["se"] for r in runs if r["se"]), default=None)
    return {"point": point, "seeds": len(runs), "declared": claim.alpha, "failures": len(fails), "failed_seeds": fails,
            "note": note, "coverage": [coverage_row(runs, a) for a in LEVELS], "max_abs_t": t_max}


def row_passes(row: dict) -> bool:
    return all(c["verdict"] == "calibrated" for c in row["coverage"])


def run_calibration(claim_id: str, opts: evidence.JobOptions) -> dict:
    claim = registry.get(claim_id)
    n = SEEDS_QUICK if opts.quick else SEEDS
    own = dict(claim.report_grid(True)[0])
    capped = calibration_point(claim)

    def at(point):
        tasks = [sweep.Task.make("claim", claim.id, point, _seed(opts.seed, i)) for i in range(n)]
        return sweep.run(tasks, desc=f"calibration {claim.id}", **opts.sweep_kwargs())

    rows = [_point_rows(claim, capped, at(capped), "trials capped" if capped != own else "")]
    if capped != own and (not row_passes(rows[0]) or rows[0]["failures"]):
        rows.append(_point_rows(claim, own, at(own), "the claim's own sample size (the capped point above failed)"))
    return {"rows": rows, "levels": list(LEVELS), "test_level": TEST_LEVEL}


def _job(claim: registry.Claim) -> evidence.Job:
    from functools import partial

    task = sweep.Task.make("claim", claim.id, {}, 0)
    run = partial(run_calibration, claim.id)
    run.__module__ = __name__  # fingerprinted: this module, the claim's modules and the claim's own module
    return evidence.Job(id=f"calibration/{claim.id}", title=f"Calibration of {claim.id}", run=run,
                        modules=task.modules(), cost=f"{SEEDS} checks of the claim",
                        description="coverage of the claim's interval at 0.05 and 0.01 over independent seeds")


_registered = False


def register_jobs() -> None:
    global _registered
    if _registered:
        return
    _registered = True
    for c in registry.claims():
        if c.kind == "statistical" and c.report_grid(True):
            evidence.register_job(_job(c))
