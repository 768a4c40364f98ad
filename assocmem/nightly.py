"""The nightly profile as a standing check: the ``nightly`` evidence job and the regression table it feeds.

``assocmem evidence run nightly`` draws ``DRAWS`` points from every statistical claim's Hypothesis strategy, in
``ROUNDS`` independent randomised rounds (Hypothesis seeded by the job's base seed and the round, so a round is
reproducible and each round draws afresh), runs each claim at each point with a random seed, and records per round
and claim every draw (seed and parameters), the failures and the time taken. Every failure also lands in the
regression table ``tests/regressions.json`` with status ``open``; the CI profile replays that table
(``tests/test_regressions.py``), so an open failure keeps CI red until it is resolved:

* ``passes``: the claim was fixed (a method valid there) and passes at that point and seed;
* ``outside region``: the claim's stated region (``assocmem.regions``) now excludes the point, with the reason, and its
  strategy cannot draw it.

The Hypothesis tests record their own failures the same way under the nightly profile (``record_failure``).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from assocmem import evidence, registry, sweep

ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / "tests" / "regressions.json"
SCHEMA = "assocmem.regressions/1"
DRAWS = 50  # per claim and round
ROUNDS = 3
STATUSES = ("open", "passes", "outside region")


def table_path() -> Path:
    """``$ASSOCMEM_REGRESSIONS`` (tests point it at a temporary file) or ``tests/regressions.json``."""
    return Path(os.environ.get("ASSOCMEM_REGRESSIONS", TABLE))


def load() -> list[dict]:
    p = table_path()
    if not p.exists():
        return []
    data = json.loads(p.read_text())
    if data.get("schema") != SCHEMA:
        raise ValueError(f"{p}: schema {data.get('schema')!r}, expected {SCHEMA}")
    return data["rows"]


def _write(rows: list[dict]) -> None:
    p = table_path()
    text = json.dumps({"schema": SCHEMA, "rows": rows}, indent=1, sort_keys=True) + "\n"
    tmp = p.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(p)


def record_failure(claim_id: str, params: dict, seed: int, found: str) -> bool:
    """Add a failing (claim, params, seed) to the table with status ``open``; False if it is already there."""
    rows = load()
    key = (claim_id, json.dumps(params, sort_keys=True), seed)
    if any((r["claim"], json.dumps(r["params"], sort_keys=True), r["seed"]) == key for r in rows):
        return False
    rows.append({"claim": claim_id, "params": dict(params), "seed": int(seed), "found": found, "status": "open",
                 "why": ""})
    _write(rows)
    return True


def draws(claim: registry.Claim, n: int, seed: int) -> list[dict]:
    """``n`` points from the claim's strategy, randomised by ``seed`` (reproducible for a given seed)."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed

    got: list[dict] = []

    @hseed(seed)
    @settings(max_examples=n, database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(claim.strategy())
    def draw(p):
        got.append(dict(p))

    draw()
    return got


def statistical_claims() -> list[registry.Claim]:
    return [c for c in registry.claims() if c.kind == "statistical" and c.strategy is not None]


def run_nightly(opts: evidence.JobOptions) -> dict:
    import random

    n = 2 if opts.quick else DRAWS
    rounds, timing = [], {}
    for k in range(ROUNDS):
        rng = random.Random(f"{opts.seed}/{k}")
        per_claim, total, failed = {}, 0, []
        t0 = time.perf_counter()
        for c in statistical_claims():
            points = draws(c, n, opts.seed * 10 + k)
            tasks = [sweep.Task.make("claim", c.id, p, rng.randrange(2**31)) for p in points]
            res = sweep.run(tasks, desc=f"nightly round {k + 1} {c.id}", **opts.sweep_kwargs())
            bad = [{"params": dict(r.params), "seed": r.seed} for r in res if not r.passed]
            keys = sorted({k for r in res for k in r.params})
            per_claim[c.id] = {"draws": len(res), "failures": bad, "keys": keys,
                               "points": [[r.seed] + [r.params.get(k) for k in keys] for r in res]}
            total += len(res)
            for b in bad:
                failed.append((c.id, b))
                if not opts.quick:
                    record_failure(c.id, b["params"], b["seed"], f"nightly evidence job, seed {opts.seed}, round {k + 1}")
        timing[f"round {k + 1}"] = round(time.perf_counter() - t0, 1)
        rounds.append({"round": k + 1, "draws": total, "failures": len(failed), "claims": per_claim})
    return {"rounds": rounds, "draws_per_claim": n, "claims": len(statistical_claims()), "timing_s": timing}


_registered = False


def register_jobs() -> None:
    global _registered
    if _registered:
        return
    _registered = True
    modules = tuple(sorted({m for c in statistical_claims() for m in sweep.Task.make("claim", c.id, {}, 0).modules()}
                           | {"assocmem.regions"}))
    evidence.register_job(evidence.Job(
        id="nightly", title="Nightly profile: every statistical claim at randomised strategy draws", run=run_nightly,
        modules=modules, cost=f"{ROUNDS} rounds x {DRAWS} draws x every statistical claim (about 15 min on 2 cores)",
        description="randomised strategy draws of every statistical claim; failures land in tests/regressions.json"))
