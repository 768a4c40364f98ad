"""The regression table (``tests/regressions.json``): every failure the nightly profile found, replayed by CI.

A row is ``open`` (found, not yet resolved: it fails here, so CI stays red until someone resolves it), ``passes``
(the claim now passes at that point and seed) or ``outside region`` (the claim's stated region excludes the point,
with the reason, and its strategy cannot draw it). See ``assocmem.nightly``.
"""

import json

import pytest
from hypothesis import given, settings

from assocmem import nightly, regions, registry

ROWS = nightly.load()


def _id(r):
    return f"{r['claim']}-seed{r['seed']}"


def test_table_is_well_formed():
    assert ROWS, "the table holds the failures found so far"
    for r in ROWS:
        assert set(r) == {"claim", "params", "seed", "found", "status", "why"}, r
        assert r["status"] in nightly.STATUSES and r["found"], r
        registry.get(r["claim"])
        if r["status"] != "open":
            assert r["why"], f"a resolved row says why: {r}"


@pytest.mark.parametrize("row", ROWS, ids=_id)
def test_regression_row_is_resolved(row):
    claim = registry.get(row["claim"])
    assert row["status"] != "open", f"open nightly failure, resolve it (fix or restate the region): {row}"
    if row["status"] == "outside region":
        why = regions.outside_region(claim.id, row["params"])
        assert why is not None, f"{row['claim']} is stated at {row['params']} again: the row must pass or be reopened"
        # and the strategy cannot draw it (it draws only inside the region)
        seen = []

        @settings(max_examples=30, database=None, derandomize=True, deadline=None)
        @given(claim.strategy())
        def inside(p):
            seen.append(p)
            assert regions.outside_region(claim.id, p) is None, p

        inside()
        assert seen
    else:
        res = claim.run(row["params"], row["seed"])
        assert res.passed, f"{row}: {res.note}"


def test_record_failure_adds_an_open_row_once(tmp_path, monkeypatch):
    table = tmp_path / "r.json"
    monkeypatch.setenv("ASSOCMEM_REGRESSIONS", str(table))
    assert nightly.load() == []
    p = {"n_pairs": 8, "d_k": 8, "d_v": 8, "trials": 1500}
    assert nightly.record_failure("C9.relu.typical", p, 3, "test") is True
    assert nightly.record_failure("C9.relu.typical", dict(p), 3, "test again") is False
    rows = nightly.load()
    assert len(rows) == 1 and rows[0]["status"] == "open" and rows[0]["params"] == p and rows[0]["seed"] == 3
    assert json.loads(table.read_text())["schema"] == nightly.SCHEMA


def test_an_open_row_fails_the_replay(tmp_path, monkeypatch):
    """The replay must not pass an open row: it is what keeps a found failure visible."""
    monkeypatch.setenv("ASSOCMEM_REGRESSIONS", str(tmp_path / "r.json"))
    nightly.record_failure("C9.relu.typical", {"n_pairs": 8, "d_k": 8, "d_v": 8, "trials": 1500}, 3, "test")
    with pytest.raises(AssertionError, match="open nightly failure"):
        test_regression_row_is_resolved(nightly.load()[0])


def test_nightly_draws_are_reproducible_and_differ_between_rounds():
    c = registry.get("C9.poly.typical")
    a, b, other = nightly.draws(c, 8, 11), nightly.draws(c, 8, 11), nightly.draws(c, 8, 12)
    assert a == b and a != other and len(a) == 8
    assert all(regions.outside_region(c.id, p) is None for p in a)
