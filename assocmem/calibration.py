"""Calibration of the statistical checks over their strategies, as evidence jobs (``assocmem evidence run calibration``).

One job per statistical claim, ``calibration/<claim id>``. A claim is stated over the region its Hypothesis strategy
draws from, so it is calibrated over that region, not at one point (``corners``):

* the **worst corner**: the heaviest point the strategy draws (the claim's declared ``heaviness`` (``assocmem.regions``), e.g. the kernel
  memories' exact effective sample size of plain sampling; otherwise the smallest samples: fewest trials, fewest
  pairs, smallest key dimension), over ``WORST_SEEDS`` = 10,000 seeds, tested at alpha = 0.05, 0.01 and 1e-3;
* the **other corners**: the points with the fewest trials, fewest pairs and smallest key dimension, where they
  differ from the worst, over ``CORNER_SEEDS`` seeds each, at 0.05 and 0.01;
* **random draws**: ``DRAWS`` points drawn from the strategy at random, ``DRAW_SEEDS`` seeds each, pooled (each
  draw's miss probability is alpha if the interval is right there, so the pooled count is binomial too).

The strategy's points come from ``POOL`` derandomised Hypothesis draws (the same list every run). Each check's
interval is a symmetric Student-t interval, estimate +- t_{n-1}(1 - alpha/2) se (``impl.estimators.stats``: mean and
delta-method ratio intervals), so the record keeps per seed the estimate, the exact value, the standard error and n,
and the interval is rebuilt at any level. Per level the number of misses (exact value outside the interval) is
tested against alpha with an exact two-sided binomial test (``scipy.stats.binomtest``) at level ``TEST_LEVEL``:

* too many misses: the interval is anti-conservative there;
* far too few misses: the interval is wider than it should be (lost power).

Checks of a proportion (hit rates) use the exact Clopper-Pearson interval instead and say so in their Result
(``extra["interval"] == "clopper-pearson"`` with the hit count in ``extra["hits"]``): the record keeps the hits and
the interval is rebuilt exactly at each level. That interval guarantees coverage >= 1 - alpha, so only too many
misses reject (a one-sided exact binomial test). A check whose interval is valid by a finite-sample bound (e.g.
Catoni's with the exact variance) records its interval at each calibration level in ``extra["intervals"]``
(``level_key``) and is tested one-sided the same way.

The verdicts use alpha = 1e-6, which no affordable number of seeds can check directly; ``tail_argument`` states per
claim which argument carries it (exact intervals: by construction; otherwise the claim's declared ``tail`` or, honestly,
that none has been proven), and the 1e-3 row at the worst corner is the empirical check nearest that tail. The
record also keeps the verdict-level (1e-6) failures.
"""

from __future__ import annotations

import json
import math

from assocmem import evidence, regions, registry, sweep

WORST_SEEDS = 10_000  # the worst corner: also tests alpha = 1e-3 (10 misses expected)
CORNER_SEEDS = 1000  # each further corner
DRAWS, DRAW_SEEDS = 8, 250  # random strategy draws, pooled: 2000 seeds
SEEDS_QUICK = 20
POOL = 200  # strategy points drawn (derandomised) to find the corners and the random draws
LEVELS = (0.05, 0.01)
WORST_LEVELS = (0.05, 0.01, 1e-3)
TEST_LEVEL = 1e-3  # per row: a full run has ~44 claims x ~7 rows; about 0.3 rows expected to fail by chance
SEEDS = WORST_SEEDS  # the report's headline number of seeds


def strategy_points(claim: registry.Claim, n: int = POOL) -> list[dict]:
    """Points the claim's Hypothesis strategy draws (derandomised: the same list every run), distinct; the quick
    grid's points where the claim has no strategy."""
    if claim.strategy is None:
        return [dict(p) for p in claim.report_grid(True)]
    from hypothesis import HealthCheck, Phase, given, settings

    got: list[dict] = []

    @settings(max_examples=n, derandomize=True, database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(claim.strategy())
    def draw(p):
        if p not in got:
            got.append(dict(p))

    draw()
    return got


def _default_heaviness(p: dict) -> tuple:
    """Smallest samples first: fewest trials, then fewest pairs, then the smallest key dimension."""
    return tuple(-float(p[k]) for k in ("trials", "n_pairs", "d_k", "d") if isinstance(p.get(k), (int, float)))


def corners(claim: registry.Claim) -> dict:
    """Where the claim is calibrated: ``worst`` (the heaviest point its strategy draws: ``regions.declared(id).heaviness``, else
    the smallest samples), ``others`` (the points with the fewest trials, fewest pairs and smallest key dimension,
    where those differ from the worst) and ``draws`` (DRAWS points at random from the strategy)."""
    import random

    pool = strategy_points(claim)
    own = regions.declared(claim.id).heaviness
    key = own or _default_heaviness
    worst = max(pool, key=key)
    others = []
    for k in ("trials", "n_pairs", "d_k"):
        cand = [p for p in pool if isinstance(p.get(k), (int, float))]
        if cand:
            p = min(cand, key=lambda q: (q[k], tuple(-x for x in _as_tuple(key(q)))))
            if p != worst and p not in others:
                others.append(p)
    rng = random.Random(claim.id)
    draws = rng.sample(pool, min(DRAWS, len(pool)))
    return {"worst": worst, "others": others, "draws": draws,
            "rule": "heaviest by the claim's own measure" if own else "smallest samples"}


def _as_tuple(v):
    return v if isinstance(v, tuple) else (v,)


def calibration_point(claim: registry.Claim) -> dict:
    """The claim's worst corner (``corners``)."""
    return dict(corners(claim)["worst"])


def _seed(base: int, i: int) -> int:
    """Seed i of the stream ``base`` (streams never overlap: i < 100,000)."""
    return base * 100_000 + i + 1


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

    if r.get("intervals") is not None:  # a check whose interval is not rebuilt from se records one per level
        lo, hi = r["intervals"][level_key(alpha)]
        return not lo <= r["theory"] <= hi
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

    usable = [r for r in runs if r["se"] is not None or r.get("hits") is not None or r.get("intervals") is not None]
    miss = sum(_missed(r, alpha) for r in usable)
    n = len(usable)
    if not n:
        return {"alpha": alpha, "seeds": 0, "misses": None, "p_value": None, "verdict": "no interval to test"}
    exact = all(r.get("hits") is not None or r.get("intervals") is not None for r in usable)
    p = binomtest(miss, n, alpha, alternative="greater" if exact else "two-sided").pvalue
    ci = binomial_interval(miss, n, alpha=0.05)
    if p >= TEST_LEVEL:
        verdict = "calibrated"
    else:
        verdict = "anti-conservative" if miss > n * alpha else "conservative (lost power)"
    return {"alpha": alpha, "seeds": n, "misses": miss, "rate": miss / n, "rate_lo": ci.lo, "rate_hi": ci.hi,
            "p_value": p, "verdict": verdict}


def level_key(alpha: float) -> str:
    """How a per-level interval is keyed in ``Result.extra["intervals"]``."""
    return f"{alpha:g}"


def _runs(results) -> list[dict]:
    out = []
    for r in results:
        hits = exact_binomial_hits(r)
        per_level = r.extra.get("intervals")
        se = None if hits is not None or per_level is not None else standard_error(r)
        out.append({"seed": r.seed, "estimate": r.estimate, "theory": r.theory, "se": se, "n": r.n,
                    "passed": bool(r.passed), "kind": r.extra.get("interval"),
                    **({"hits": hits} if hits is not None else {}),
                    **({"intervals": per_level} if per_level is not None else {})})
    return out


CHUNK = 500  # seeds per cached task: one task per seed made the cache's bookkeeping cost more than the checks


def run_chunk(params: dict, seed: int, *, device: str = "cpu", dtype: str = "float64") -> list[dict]:
    """Seeds ``start`` .. ``start + count - 1`` of the stream ``seed`` for one claim at one point (given as JSON):
    the per-seed rows the coverage is computed from (``_runs``)."""
    claim = registry.get(params["claim"])
    point = json.loads(params["point"])
    return _runs(claim.run(point, _seed(seed, i), device=device, dtype=dtype)
                 for i in range(params["start"], params["start"] + params["count"]))


def _point_rows(claim: registry.Claim, point: dict, runs: list[dict], note: str, levels=LEVELS) -> dict:
    fails = [r["seed"] for r in runs if not r["passed"]]
    t_max = max((abs(r["estimate"] - r["theory"]) / r["se"] for r in runs if r["se"]), default=None)
    return {"point": point, "seeds": len(runs), "declared": claim.alpha, "failures": len(fails), "failed_seeds": fails,
            "note": note, "coverage": [coverage_row(runs, a) for a in levels], "max_abs_t": t_max}


def row_passes(row: dict) -> bool:
    return all(c["verdict"] == "calibrated" for c in row["coverage"])


def _tail_by_interval() -> dict[str, str]:
    from impl.estimators.catoni import TAIL

    return {"clopper-pearson": "exact: a Clopper-Pearson interval has coverage >= 1 - alpha at every level by "
                               "construction",
            "catoni": TAIL}


def tail_argument(claim: registry.Claim, interval: str | None) -> str:
    """Which argument carries the declared level (1e-6) in the far tail, which no seed count reaches: the interval
    kind the check declares (``Result.extra["interval"]``), the claim's own ``tail``, or honestly none."""
    known = _tail_by_interval()
    if interval in known:
        return known[interval]
    return regions.declared(claim.id).tail or ("none proven: a Student-t interval, asymptotic (CLT); the 1e-3 row at the worst corner is "
                          "the empirical evidence, and no bound on the 1e-6 tail has been derived for this claim")


def run_calibration(claim_id: str, opts: evidence.JobOptions) -> dict:
    claim = registry.get(claim_id)
    where = corners(claim)
    quick = opts.quick

    modules = sweep.Task.make("claim", claim.id, {}, 0).modules() + ("assocmem.calibration",)

    def at(point, n, tag):
        text = json.dumps(point, sort_keys=True)
        tasks = [sweep.Task.call(run_chunk, {"claim": claim.id, "point": text, "start": s, "count": min(CHUNK, n - s)},
                                 opts.seed * 1000 + tag, modules=modules) for s in range(0, n, CHUNK)]
        return [r for chunk in sweep.run(tasks, desc=f"calibration {claim.id}", **opts.sweep_kwargs()) for r in chunk]

    worst_res = at(where["worst"], SEEDS_QUICK if quick else WORST_SEEDS, 0)
    rows = [_point_rows(claim, where["worst"], worst_res, f"worst corner ({where['rule']})", WORST_LEVELS)]
    for j, p in enumerate(where["others"]):
        rows.append(_point_rows(claim, p, at(p, SEEDS_QUICK if quick else CORNER_SEEDS, 1 + j), "corner"))
    pooled, points = [], []
    for j, p in enumerate(where["draws"]):
        pooled += at(p, 2 if quick else DRAW_SEEDS, 100 + j)
        points.append(p)
    rows.append(_point_rows(claim, {"random strategy draws": len(points)}, pooled,
                            f"{len(points)} random strategy draws x {2 if quick else DRAW_SEEDS} seeds, pooled"))
    kinds = {r["kind"] for r in worst_res}
    return {"rows": rows, "levels": list(WORST_LEVELS), "test_level": TEST_LEVEL, "draws": points,
            "tail": tail_argument(claim, kinds.pop() if len(kinds) == 1 else None),
            "design": {"worst_seeds": WORST_SEEDS, "corner_seeds": CORNER_SEEDS, "draws": DRAWS,
                       "draw_seeds": DRAW_SEEDS, "pool": POOL}}


def _job(claim: registry.Claim) -> evidence.Job:
    from functools import partial

    task = sweep.Task.make("claim", claim.id, {}, 0)
    run = partial(run_calibration, claim.id)
    run.__module__ = __name__  # fingerprinted: this module, the claim's modules and the claim's own module
    return evidence.Job(id=f"calibration/{claim.id}", title=f"Calibration of {claim.id}", run=run,
                        modules=task.modules() + ("assocmem.regions",), cost=f"{WORST_SEEDS + 3 * CORNER_SEEDS + DRAWS * DRAW_SEEDS} checks of the claim at most",
                        description="coverage of the claim's interval over its strategy: worst corner (0.05, 0.01, 1e-3), corners and random draws (0.05, 0.01)")


_registered = False


def register_jobs() -> None:
    global _registered
    if _registered:
        return
    _registered = True
    for c in registry.claims():
        if c.kind == "statistical" and c.report_grid(True):
            evidence.register_job(_job(c))
