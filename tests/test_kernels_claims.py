"""Registry-driven checks of the kernel claims (C5-C12): derivations, runs under Hypothesis, mutants rejected."""

import os

import pytest
from hypothesis import HealthCheck, given, settings

from assocmem import registry

CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
MINE = ("C5.", "C6.", "C7.", "C8.", "C9.", "C10.", "C11.", "C12.")


def _mine():
    return [c for c in registry.claims() if c.id.startswith(MINE)]


def _ids(kind=None, need=None):
    return [c.id for c in _mine() if (kind is None or c.kind == kind) and (need is None or getattr(c, need))]


@pytest.mark.parametrize("claim_id", _ids(need="derivation"))
def test_derivation_steps_hold(claim_id):
    claim = registry.get(claim_id)
    steps = list(claim.derivation())
    assert steps
    bad = [s.says for s in steps if not s.holds()]
    assert not bad, f"{claim_id}: steps that do not hold: {bad}"


@pytest.mark.parametrize("claim_id", _ids(need="run"))
def test_run_passes_under_hypothesis(claim_id):
    claim = registry.get(claim_id)
    if claim.strategy is None:
        pytest.skip("no strategy: covered by test_quick_grid_point_passes")

    @settings(max_examples=2 if CI else 6, deadline=None, derandomize=CI, database=None,
              suppress_health_check=list(HealthCheck))
    @given(params=claim.strategy())
    def check(params):
        seed = registry.point_seed(claim.id, params, 0)
        result = claim.run(params, seed)
        assert result.passed, result

    check()


@pytest.mark.parametrize("claim_id", _ids(need="mutant"))
def test_mutant_rejected_at_power_grid(claim_id):
    claim = registry.get(claim_id)
    assert claim.power_grid
    for params in claim.power_grid:
        for seed in (11, 12):
            result = claim.mutant(params, seed)
            assert not result.passed, f"{claim_id}: mutant ({claim.mutant_says}) accepted at {params}, seed {seed}: {result}"


@pytest.mark.parametrize("claim_id", _ids(need="run"))
def test_quick_grid_point_passes(claim_id):
    claim = registry.get(claim_id)
    for params in claim.report_grid(quick=True)[:1]:
        assert claim.run(params, registry.point_seed(claim.id, params, 0)).passed
