"""Calibration that can fail: the interval is rebuilt at 0.05 and 0.01 from each check's Result and the misses are
tested with an exact binomial test in both directions; caches and records that are damaged are recomputed with a
one-line notice."""

import math
import pickle

import numpy as np
import pytest

from assocmem import cache, calibration, regions, registry
from assocmem.registry import Result
from impl.estimators.stats import critical_value, mean_interval


def _runs(z, se=1.0, n=1000):
    return [{"seed": i, "estimate": float(zi) * se, "theory": 0.0, "se": se, "n": n, "passed": True}
            for i, zi in enumerate(z)]


def test_standard_error_is_recovered_from_the_interval():
    e = mean_interval([1.0, 2.0, 4.0, 8.0, 16.0], alpha=1e-6)
    r = Result(claim="C4.typical", params={}, seed=0, passed=True, theory=6.0, estimate=e.value, lo=e.lo, hi=e.hi,
               level=e.level, n=e.n)
    assert math.isclose(calibration.standard_error(r), e.se, rel_tol=1e-9)
    assert calibration.standard_error(Result(claim="x", params={}, seed=0, passed=True, estimate=1.0, lo=1.0, hi=1.0,
                                             level=1 - 1e-6, n=0)) is None  # nothing sampled
    asym = Result(claim="x", params={}, seed=0, passed=True, estimate=1.0, lo=0.0, hi=3.0, level=0.95, n=10)
    assert calibration.standard_error(asym) is None


def test_a_checks_standard_error_is_carried_not_rebuilt():
    """checks.statistical records the estimator's own standard error on the Result; calibration uses that one (the
    ratio interval's delta-method se here, which no symmetric-interval arithmetic is asked to recover)."""
    from assocmem import checks
    from impl.estimators.stats import ratio_interval

    e = ratio_interval([1.0, 2.5, 4.0, 7.5, 16.0], [1.0, 2.0, 2.0, 3.0, 5.0], alpha=1e-3)
    r = checks.statistical("x", {}, 0, 2.0, e)
    assert r.se == e.se
    assert calibration.standard_error(r) == e.se
    skewed = Result(claim="x", params={}, seed=0, passed=True, estimate=1.0, lo=0.0, hi=3.0, level=0.95, n=10, se=0.5)
    assert calibration.standard_error(skewed) == 0.5  # carried: used even where the interval is not symmetric


def test_coverage_row_accepts_a_calibrated_interval():
    z = np.random.default_rng(0).standard_t(999, size=4000)
    for alpha in (0.05, 0.01):
        row = calibration.coverage_row(_runs(z), alpha)
        assert row["verdict"] == "calibrated" and row["seeds"] == 4000
        assert row["misses"] == int(np.sum(np.abs(z) > critical_value(alpha, 999)))
        assert row["rate_lo"] <= alpha <= row["rate_hi"]


def test_coverage_row_flags_an_anti_conservative_interval():
    """A standard error 25 % too small (e.g. per-probe instead of per-trial means) misses ~ 5x too often at 0.01."""
    z = np.random.default_rng(1).standard_normal(1000) * 1.25
    for alpha in (0.05, 0.01):
        row = calibration.coverage_row(_runs(z), alpha)
        assert row["verdict"] == "anti-conservative" and row["p_value"] < calibration.TEST_LEVEL


def test_coverage_row_flags_lost_power():
    """An interval twice as wide as it should be: far too few misses at 0.05."""
    z = np.random.default_rng(2).standard_normal(1000) * 0.5
    assert calibration.coverage_row(_runs(z), 0.05)["verdict"] == "conservative (lost power)"


def test_coverage_row_needs_intervals():
    row = calibration.coverage_row([{"seed": 0, "estimate": 1.0, "theory": 1.0, "se": None, "n": 0, "passed": True}], 0.05)
    assert row["seeds"] == 0 and row["verdict"] == "no interval to test"


def test_exact_binomial_rows_reject_only_too_many_misses():
    """Clopper-Pearson runs: the interval is rebuilt from the hit count; fewer misses than alpha is expected (coverage
    >= 1 - alpha by construction), too many rejects; the theory p = 0.5 against hits drawn at p = 0.56 must fail."""
    rng = np.random.default_rng(3)
    ok = [{"seed": i, "estimate": h / 200, "theory": 0.5, "se": None, "n": 200, "hits": int(h), "passed": True}
          for i, h in enumerate(rng.binomial(200, 0.5, 1000))]
    for alpha in (0.05, 0.01):
        row = calibration.coverage_row(ok, alpha)
        assert row["seeds"] == 1000 and row["misses"] <= 1000 * alpha * 1.3 and row["verdict"] == "calibrated"
    bad = [dict(r, hits=int(h)) for r, h in zip(ok, rng.binomial(200, 0.56, 1000))]
    assert calibration.coverage_row(bad, 0.05)["verdict"] == "anti-conservative"


def test_every_statistical_claim_reports_an_interval_the_calibration_can_rebuild():
    """The calibration rebuilds intervals from (estimate, lo, hi, level, n), or from the hit count of a declared
    exact binomial interval: every statistical claim's Result must carry one, with n >= 2, at its calibration point
    (checked at a tiny sample size)."""
    for c in registry.claims():
        if c.kind != "statistical":
            continue
        point = calibration.calibration_point(c)
        if "trials" in point:
            point["trials"] = min(point["trials"], 200)
        res = c.run(point, 7)
        hits = calibration.exact_binomial_hits(res)
        if hits is not None:
            from impl.estimators.stats import binomial_interval

            b = binomial_interval(hits, res.n, 1 - res.level)
            # level = 1 - alpha carries one rounding: the rebuilt bounds agree to ~1e-11 relative
            assert math.isclose(b.lo, res.lo, rel_tol=1e-9) and math.isclose(b.hi, res.hi, rel_tol=1e-9), c.id
        else:
            assert calibration.standard_error(res) is not None, c.id
        assert res.n == point.get("trials", res.n), c.id


# ------------------------------------------------------------------------------------------------------- faults ---
@pytest.mark.parametrize("damage", [lambda b: b[:40], lambda b: b[:-3], lambda b: b[:64] + b"x" + b[65:],
                                    lambda b: b"", lambda b: b[:64] + b"\x00" * (len(b) - 64)])
def test_damaged_result_cache_entry_is_recomputed_with_one_notice(damage, capsys):
    k = "ab" + "0" * 62
    cache.store(k, {"value": 1.0})
    path = cache.cache_dir() / k[:2] / f"{k}.pkl"
    path.write_bytes(damage(path.read_bytes()))
    assert cache.load(k) is None and not path.exists()
    err = capsys.readouterr().err.strip().splitlines()
    if err:  # an empty file fails the checksum too; every damaged entry gives exactly one line
        assert len(err) == 1 and "recomputed" in err[0] and k in err[0]


def test_unpicklable_entry_with_a_valid_checksum_is_recomputed(capsys):
    import hashlib

    k = "cd" + "1" * 62
    payload = b"not a pickle"
    path = cache.cache_dir() / k[:2] / f"{k}.pkl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(hashlib.sha256(payload).hexdigest().encode() + payload)
    assert cache.load(k) is None and not path.exists()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unreadable" in err[0]


def test_cache_store_is_atomic_and_round_trips(tmp_path):
    k = "ef" + "2" * 62
    cache.store(k, [1, 2, 3])
    d = cache.cache_dir() / k[:2]
    assert [p.name for p in d.iterdir()] == [f"{k}.pkl"]  # no temporary file left behind
    assert cache.load(k) == [1, 2, 3]
    assert pickle.loads((d / f"{k}.pkl").read_bytes()[64:]) == [1, 2, 3]


def test_damaged_svg_cache_entry_is_redrawn(tmp_path, capsys):
    """The report's SVG cache lives in the result cache: a damaged SVG entry is redrawn, never copied."""
    from assocmem import report

    opts = report.Options(quick=True, backend="serial", progress=False, only=("C4.typical",))
    report.write(opts, tmp_path / "a")
    svgs = sorted((tmp_path / "a" / "figures").glob("*.svg"))
    if not svgs:
        pytest.skip("no figure for this claim")
    for p in cache.cache_dir().rglob("*.pkl"):
        blob = p.read_bytes()
        if b"<svg" in blob:
            p.write_bytes(blob[: len(blob) // 2])
    capsys.readouterr()
    report.write(opts, tmp_path / "b")
    assert "recomputed" in capsys.readouterr().err
    for p in svgs:
        assert (tmp_path / "b" / "figures" / p.name).read_bytes() == p.read_bytes()


# ----------------------------------------------------------------------------------- over the strategy ---
def test_worst_corner_is_the_heaviest_strategy_draw_and_every_point_is_in_the_region():
    c = registry.get("C9.poly.probe_averaged")
    pool = calibration.strategy_points(c)
    where = calibration.corners(c)
    assert len(pool) >= 20 and where["worst"] in pool
    assert regions.declared(c.id).heaviness(where["worst"]) == max(regions.declared(c.id).heaviness(p) for p in pool)
    # the poly kernel's heaviest point is p = 3 (the largest moment order) at the smallest effective sample size
    assert where["worst"]["p"] == 3 and where["rule"].startswith("heaviest")
    for p in [where["worst"], *where["others"], *where["draws"]]:
        assert regions.outside_region(c.id, p) is None, p
    assert len(where["draws"]) == calibration.DRAWS and len({str(sorted(d.items())) for d in where["draws"]}) == calibration.DRAWS
    assert calibration.strategy_points(c) == pool  # derandomised: the same corners every run


def test_default_worst_corner_has_the_smallest_samples():
    c = registry.get("U4.delta_neighbourhood")
    pool = calibration.strategy_points(c)
    w = calibration.corners(c)["worst"]
    assert w["trials"] == min(p["trials"] for p in pool)
    assert w["d_k"] == min(p["d_k"] for p in pool if p["trials"] == w["trials"])


def test_seed_streams_do_not_overlap():
    a = {calibration._seed(5 * 1000 + t, i) for t in (0, 1, 100) for i in range(calibration.WORST_SEEDS)}
    assert len(a) == 3 * calibration.WORST_SEEDS


def test_per_level_intervals_are_used_and_tested_one_sided():
    """A check valid by a finite-sample bound records its interval per level; the calibration reads those (not the
    se) and rejects only too many misses."""
    runs = [{"seed": i, "estimate": 1.0, "theory": 1.0, "se": None, "n": 100, "passed": True,
             "intervals": {calibration.level_key(a): [0.5, 1.5] for a in (0.05, 0.01, 0.001)}} for i in range(1000)]
    row = calibration.coverage_row(runs, 0.05)
    assert row["misses"] == 0 and row["verdict"] == "calibrated" and row["seeds"] == 1000  # fewer is fine
    for r in runs[:80]:
        r["intervals"] = {k: [1.1, 1.5] for k in r["intervals"]}
    bad = calibration.coverage_row(runs, 0.05)
    assert bad["misses"] == 80 and bad["verdict"] == "anti-conservative"


def test_tail_argument_names_the_interval_kind():
    c = registry.get("C11.relu")
    assert calibration.tail_argument(c, "clopper-pearson").startswith("exact")
    assert "Catoni" in calibration.tail_argument(c, "catoni")
    assert calibration.tail_argument(c, None).startswith("none proven")
    assert "Catoni" in calibration.tail_argument(registry.get("C9.rbf.typical"), None)  # the claim's own tail


def test_kernel_checks_record_catoni_intervals_at_every_calibration_level():
    c = registry.get("C9.relu.typical")
    res = c.run({"n_pairs": 8, "d_k": 8, "d_v": 8, "trials": 1500}, 3)
    assert res.extra["interval"] == "catoni"
    levels = res.extra["intervals"]
    assert set(levels) == {calibration.level_key(a) for a in calibration.WORST_LEVELS}
    widths = [levels[calibration.level_key(a)][1] - levels[calibration.level_key(a)][0] for a in (0.05, 0.01, 0.001)]
    assert widths[0] < widths[1] < widths[2] < res.hi - res.lo  # nested: a smaller alpha, a wider interval


@pytest.mark.parametrize("claim_id, point", [
    ("C12.heads_snr.exp", {"n_pairs": 64, "d": 32, "h": 2, "tau_rule": "2", "trials": 600}),  # importance, fixed probe
    ("C7.heavy_tail.typical", {"n_pairs": 64, "d_k": 16, "d_v": 16, "tau": 2.0, "trials": 400}),
    ("C7.heavy_tail.probe_averaged", {"n_pairs": 64, "d_k": 16, "d_v": 16, "tau": 1.5, "trials": 400}),  # tilted probe
    ("C9.sphere.snr", {"n_pairs": 8, "d_k": 3, "d_v": 4, "b": 8.0, "trials": 1500}),  # Bessel moments at b and 2b
    ("C9.relu.typical", {"n_pairs": 16, "d_k": 16, "d_v": 16, "trials": 1500}),  # plain sampling
    ("U4.linear_limit", {"d_k": 2, "d_v": 1, "t": 1, "sigma": 0.0, "trials": 2000}),  # Wishart variance
    ("U4.rls_rate", {"d_k": 1, "d_v": 1, "t": 5, "sigma": 0.5, "trials": 3000}),  # inverse-Wishart variance
    ("U4.rls_rate", {"d_k": 12, "d_v": 2, "t": 3, "sigma": 0.5, "trials": 3000}),  # ... below d_k
])
def test_a_check_with_catonis_interval_records_it_for_the_calibration(claim_id, point):
    """A check whose memory returns Catoni's interval (a bound, valid at every level) must hand it to the calibration
    with its per-level intervals: recorded as a t interval it would be tested two-sided and read as 'conservative'
    (C12.heads_snr.exp was, 261 misses of 10,000 at 0.05), and its far-tail argument would read 'none proven'."""
    c = registry.get(claim_id)
    run = calibration._runs([c.run(point, 7)])[0]
    assert run["kind"] == "catoni" and run["se"] is None
    assert set(run["intervals"]) == {calibration.level_key(a) for a in calibration.WORST_LEVELS}
    for lo, hi in run["intervals"].values():
        assert lo < run["estimate"] < hi
    assert calibration.tail_argument(c, run["kind"]).startswith("finite-sample bound")
