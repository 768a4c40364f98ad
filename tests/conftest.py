"""Hypothesis profiles and the CUDA marker.

Profiles: ``default`` (local work), ``ci`` (deterministic: derandomised, no deadline, no database; chosen
automatically when CI=true), ``nightly`` (many examples). Choose with HYPOTHESIS_PROFILE or `assocmem test
--profile`. Randomness inside a check comes from generators seeded by a Hypothesis-drawn seed, so Hypothesis
sees (and can replay) all of it.
"""

import os

import error_contract
import pytest
from hypothesis import HealthCheck, settings

_common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("default", max_examples=10, **_common)
settings.register_profile("ci", max_examples=6, derandomize=True, database=None, print_blob=True, **_common)
settings.register_profile("nightly", max_examples=200, **_common)
_profile = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI", "").lower() == "true" else "default")
settings.load_profile(_profile)

# Under mutation testing (assocmem/mutation.py): mutmut's stats run, which records which tests call each function,
# marks itself with MUTANT_UNDER_TEST=stats, which subprocesses inherit; a test's subprocess started in another folder
# (e.g. `assocmem conform` from a caller's folder) then looks for mutmut's configuration there, fails, and fails the
# whole stats run. A subprocess's calls are never recorded anyway, so they run the original code: mutmut keeps the
# stats mode in its own process-local copy. (A mutant's run sets the variable to the mutant's name, which is kept, so
# a subprocess runs the mutant too.)
if os.environ.get("MUTANT_UNDER_TEST") == "stats":
    del os.environ["MUTANT_UNDER_TEST"]

# Every InputError a test raises must name a real parameter or flag and say what is allowed in one line (the
# bad-input contract; tests/error_contract.py), whichever test provoked it.
error_contract.install()


def pytest_report_header(config):
    import torch

    return f"hypothesis profile: {_profile}; torch {torch.__version__}; cuda available: {torch.cuda.is_available()}"


def pytest_collection_modifyitems(config, items):
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="no CUDA GPU on this machine")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _private_result_cache(tmp_path, monkeypatch):
    """Every test gets its own empty result cache: tests never read results another test (or a user's report run)
    cached, and under mutation testing, where every mutant of a file shares one source text and so one cache key,
    a mutant is never judged by a result cached under another."""
    monkeypatch.setenv("ASSOCMEM_CACHE", str(tmp_path / "result-cache"))
