"""Every environment variable the suite reads, with its meaning and default (``assocmem --help`` and the README list
them; ``tests/test_environment.py`` checks this table against the reads in the code, so none is added silently),
and the up-front checks of the folders they name.
"""

from __future__ import annotations

from pathlib import Path

from impl.numerics.errors import InputError

# name -> (what it does, the default when unset)
VARIABLES = {
    "ASSOCMEM_CACHE": ("the result cache folder: report, evidence and calibration results, rendered figures, and "
                       "the Hypothesis data of `assocmem conform` (in its hypothesis/ subfolder)",
                       ".cache/results under the current folder"),
    "ASSOCMEM_EVIDENCE": ("the folder of evidence records (JOB.json) that `assocmem report` reads and `assocmem "
                          "evidence run` writes", "reports/evidence in the checkout"),
    "ASSOCMEM_REGRESSIONS": ("the regression table the nightly job and the nightly Hypothesis profile append their "
                             "failures to and CI replays (tests point it at a temporary file)",
                             "tests/regressions.json in the checkout"),
    "ASSOCMEM_MUTATION_SCRATCH": ("the folder under which `assocmem evidence run mutation` keeps each run's scratch "
                                  "copy until the run finishes (a stopped run resumes from it)",
                                  ".cache/mutation in the checkout"),
    "RAY_ADDRESS": ("with --backend ray: the address of a running Ray cluster to join", "start a local Ray instance"),
    "HYPOTHESIS_PROFILE": ("the tests' Hypothesis profile: default, ci or nightly (`assocmem test --profile` sets it)",
                           "ci when CI=true, otherwise default"),
    "CI": ("true selects the tests' deterministic ci Hypothesis profile (when HYPOTHESIS_PROFILE is unset)", "unset"),
    "MUTANT_UNDER_TEST": ("set by mutmut during `assocmem evidence run mutation`, never by users: the tests' "
                          "configuration keeps its value stats (recording which tests call which function) out of "
                          "the tests' subprocesses", "unset"),
}


def epilog() -> str:
    """The environment block of ``assocmem --help``."""
    return "environment variables:\n" + "\n".join(f"  {name}: {what} (default: {default})"
                                                  for name, (what, default) in VARIABLES.items())


def require_writable(path: Path, variable: str) -> None:
    """Refuse, before any work and without creating anything, a folder named by ``variable`` (or its default)
    that cannot be created or written."""
    from assocmem import inputs

    try:
        inputs.require_writable_dir(Path(path), variable)
    except InputError as e:
        raise InputError(variable, f"{str(e).removeprefix(variable + ': ')}; set {variable} to a writable folder") \
            from None


def require_cache() -> None:
    from assocmem import cache

    require_writable(cache.cache_dir(), "ASSOCMEM_CACHE")


def require_evidence() -> None:
    from assocmem import evidence

    require_writable(evidence.evidence_dir(), "ASSOCMEM_EVIDENCE")
