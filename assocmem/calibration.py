"""Calibration of the statistical checks, as evidence jobs (``assocmem evidence run calibration``).

One job per statistical claim, ``calibration/<claim id>``: the claim's check is repeated over many independent
seeds at its calibration point (its first quick-grid point, Monte Carlo trials capped at ``MAX_TRIALS``) and the
number of false failures is recorded beside the declared rate. Where the capped point shows false failures and the
claim's own point uses more trials, the claim is calibrated again at its own point (the sample size its tests
actually use). The report prints every row with the record's code fingerprint and freshness.
"""

from __future__ import annotations

from assocmem import evidence, registry, sweep

SEEDS = 200
SEEDS_QUICK = 20
MAX_TRIALS = 1000  # calibration points cap Monte Carlo trials (fewer trials: a harder test of the CLT)


def calibration_point(claim: registry.Claim) -> dict:
    """Where a statistical claim's false-failure rate is measured: its first quick-grid point, with ``trials``
    capped at MAX_TRIALS (the interval's normal approximation is least accurate at small samples, so the cap makes
    the calibration stricter, and keeps many seeds per claim affordable)."""
    p = dict(claim.report_grid(True)[0])
    if isinstance(p.get("trials"), int) and p["trials"] > MAX_TRIALS:
        p["trials"] = MAX_TRIALS
    return p


def _seed(base: int, i: int) -> int:
    return base * 1000 + i + 1


def _row(claim: registry.Claim, point: dict, results, note: str) -> dict:
    fails = sum(not r.passed for r in results)
    return {"point": point, "seeds": len(results), "declared": claim.alpha, "failures": fails,
            "failed_seeds": [r.seed for r in results if not r.passed], "note": note}


def run_calibration(claim_id: str, opts: evidence.JobOptions) -> dict:
    claim = registry.get(claim_id)
    n = SEEDS_QUICK if opts.quick else SEEDS
    own = dict(claim.report_grid(True)[0])
    capped = calibration_point(claim)

    def at(point):
        tasks = [sweep.Task.make("claim", claim.id, point, _seed(opts.seed, i)) for i in range(n)]
        return sweep.run(tasks, desc=f"calibration {claim.id}", **opts.sweep_kwargs())

    res = at(capped)
    rows = [_row(claim, capped, res, "trials capped" if capped != own else "")]
    if rows[0]["failures"] and capped != own:
        rows.append(_row(claim, own, at(own), "the claim's own sample size (the capped point above showed false failures)"))
    return {"rows": rows}


def _job(claim: registry.Claim) -> evidence.Job:
    from functools import partial

    task = sweep.Task.make("claim", claim.id, {}, 0)
    run = partial(run_calibration, claim.id)
    run.__module__ = __name__  # fingerprinted: this module, the claim's modules and the claim's own module
    return evidence.Job(id=f"calibration/{claim.id}", title=f"Calibration of {claim.id}", run=run,
                        modules=task.modules(), cost=f"{SEEDS} checks of the claim",
                        description="false-failure rate of the claim's interval over independent seeds")


_registered = False


def register_jobs() -> None:
    global _registered
    if _registered:
        return
    _registered = True
    for c in registry.claims():
        if c.kind == "statistical" and c.report_grid(True):
            evidence.register_job(_job(c))
