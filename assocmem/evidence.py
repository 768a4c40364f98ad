"""Expensive evidence as its own cached jobs: calibration over many seeds, mutation runs, trained-model grids.

Such evidence costs far more than the rest of the report, so it does not run inside ``assocmem report``. Each
kind is a registered ``Job``; ``assocmem evidence run JOB`` computes it (through the sweep runner and the result
cache, so an interrupted run resumes) and writes one JSON record, ``reports/evidence/<job id>.json``:

    {"job": id, "title": ..., "fingerprint": sha256 over the job's code, "modules": {module: sha256},
     "versions": {...}, "machine": ..., "git_revision": ..., "command": ..., "results": <the job's own data>}

The report reads the latest record of every job it shows, prints its fingerprint and says whether it is *fresh*
(the code it depends on is unchanged), *stale* (and which modules changed since), *missing* (and the command
that produces it) or *unreadable* (a corrupt, truncated or foreign file: its path and why). A record holds no
wall-clock time (the trained D4/D5 grids excepted: their ``timing`` field), so rerunning a job on unchanged code
rewrites it byte-identically. An unreadable record gets one notice on stderr per process (however often it is
read), is never used and never a crash; records are written to a temporary file and renamed into place.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from assocmem import cache

ROOT = Path(__file__).resolve().parent.parent
RECORD_VERSION = 1


def evidence_dir() -> Path:
    """``$ASSOCMEM_EVIDENCE`` or ``reports/evidence`` in the repository."""
    return Path(os.environ.get("ASSOCMEM_EVIDENCE", ROOT / "reports" / "evidence"))


@dataclass
class JobOptions:
    """How to run a job: the sweep backend (see ``assocmem.sweep``), the base seed, and ``fresh`` to ignore the
    result cache. ``quick`` asks a job for a reduced version (tests use it; records written with it say so)."""

    backend: str = "joblib"
    n_jobs: int = -1
    scheduler: str | None = None
    fresh: bool = False
    progress: bool | None = None
    seed: int = 20250525
    quick: bool = False

    def sweep_kwargs(self) -> dict:
        return dict(backend=self.backend, n_jobs=self.n_jobs, scheduler=self.scheduler, read_cache=not self.fresh,
                    progress=self.progress)


@dataclass(frozen=True)
class Job:
    """One kind of expensive evidence.

    ``run(options) -> dict`` computes the job's results (plain JSON data: numbers, strings, lists, dicts).
    ``modules`` lists the modules the results depend on (module names or packages, as for claims); the module
    that defines ``run`` is added. ``code_state``, where given, replaces that list: a function returning
    {what: fingerprint} for a job whose dependence is not a set of modules (the mutation job: the files its sample is
    drawn for). ``command`` is what a user types to refresh it; ``cost`` says roughly how long.
    """

    id: str
    title: str
    run: Callable[[JobOptions], dict]
    modules: tuple[str, ...] = ()
    cost: str = ""
    description: str = ""
    code_state: Callable[[], dict] | None = None

    @property
    def command(self) -> str:
        return f"assocmem evidence run {self.id}"

    def all_modules(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.modules) | {self.run.__module__} | set(cache.GLUE)))


_JOBS: dict[str, Job] = {}


def register_job(job: Job) -> Job:
    if job.id in _JOBS:
        raise ValueError(f"evidence job {job.id!r} registered twice")
    _JOBS[job.id] = job
    return job


def jobs() -> list[Job]:
    from assocmem import calibration, mutation, nightly, registry

    registry.claims()  # claim modules register their jobs on import
    calibration.register_jobs()
    mutation.register_jobs()
    nightly.register_jobs()
    return sorted(_JOBS.values(), key=lambda j: j.id)


def get_job(job_id: str) -> Job:
    known = {j.id: j for j in jobs()}
    if job_id not in known:
        from impl.numerics.errors import InputError

        raise InputError("JOB", f"unknown evidence job {job_id!r}; known: {', '.join(known) or 'none'}")
    return known[job_id]


def select(patterns) -> list[Job]:
    """Jobs whose id equals a pattern or starts with ``pattern + '/'`` or ``pattern + '.'`` (e.g. 'calibration')."""
    all_jobs = jobs()
    out = []
    for p in patterns:
        hit = [j for j in all_jobs if j.id == p or j.id.startswith(p + "/") or j.id.startswith(p + ".")]
        if not hit:
            from impl.numerics.errors import InputError

            raise InputError("JOB", f"no evidence job matches {p!r}{_closest(p, all_jobs)}; see `assocmem evidence list`")
        out += [j for j in hit if j not in out]
    return out


def _closest(pattern: str, all_jobs) -> str:
    """'; did you mean A or B' for the (at most three) job ids or id prefixes closest to a mistyped pattern."""
    import difflib

    names = sorted({j.id for j in all_jobs} | {j.id.split("/")[0] for j in all_jobs})
    near = difflib.get_close_matches(pattern, names, n=3, cutoff=0.5)
    return f"; did you mean {' or '.join(near)}" if near else ""


def module_fingerprints(job: Job) -> dict[str, str]:
    if job.code_state is not None:
        return dict(job.code_state())
    return {m: cache.module_fingerprint(m) for m in job.all_modules()}


def fingerprint(job: Job) -> str:
    """SHA-256 over the job id and the source of every module it depends on (not over library versions: those are
    recorded beside it and printed, but a record made with other versions of NumPy or torch is not stale)."""
    h = hashlib.sha256(job.id.encode())
    for m, fp in sorted(module_fingerprints(job).items()):
        h.update(f"{m}={fp};".encode())
    return h.hexdigest()


def record_path(job_id: str) -> Path:
    return evidence_dir() / f"{job_id.replace('/', os.sep)}.json"


def _git_revision() -> str:
    import subprocess

    try:
        return subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=ROOT).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _dump(obj) -> str:
    return json.dumps(obj, indent=1, sort_keys=True, allow_nan=False) + "\n"


def code_state(job: Job) -> dict:
    """The code a run starts from: the job's fingerprint, its per-module fingerprints and the git revision. Taken
    before the run, so that code edited while a long job runs makes its record stale instead of falsely fresh."""
    return {"fingerprint": fingerprint(job), "modules": module_fingerprints(job), "git_revision": _git_revision()}


def write_record(job: Job, results: dict, opts: JobOptions, state: dict | None = None) -> Path:
    """Write ``results`` as the job's record, atomically; ``state`` is ``code_state(job)`` taken when the run started
    (default: now)."""
    import numpy
    import scipy
    import sympy
    import torch

    state = state or code_state(job)
    rec = {
        "record_version": RECORD_VERSION, "job": job.id, "title": job.title, "fingerprint": state["fingerprint"],
        "modules": state["modules"], "command": job.command + (" --quick" if opts.quick else ""),
        "quick": opts.quick, "base_seed": opts.seed, "git_revision": state["git_revision"],
        "machine": f"{platform.system()} {platform.machine()}",
        "versions": {"python": platform.python_version(), "numpy": numpy.__version__, "scipy": scipy.__version__,
                     "sympy": sympy.__version__, "torch": torch.__version__},
        "results": results,
    }
    text = _dump(rec)
    path = record_path(job.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def run_job(job: Job, opts: JobOptions) -> Path:
    state = code_state(job)
    return write_record(job, job.run(opts), opts, state)


_NOTICED: set[tuple[str, str]] = set()  # (path, why) already reported by this process


def read(job_id: str) -> tuple[dict | None, str]:
    """(the job's latest record, "") or (None, why it is unreadable); (None, "") when there is no record."""
    path = record_path(job_id)
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None, ""
    except (OSError, UnicodeDecodeError) as e:
        return None, f"cannot be read: {e.strerror if isinstance(e, OSError) and e.strerror else e}"
    try:
        rec = json.loads(text)
    except ValueError as e:
        return None, f"not valid JSON, probably half-written: {e}"
    if not isinstance(rec, dict) or rec.get("job") != job_id or "results" not in rec or "fingerprint" not in rec:
        return None, "not a record of this job"
    return rec, ""


def load(job_id: str, *, quiet: bool = False) -> dict | None:
    """The job's latest record, or None when missing or unreadable. An unreadable record (corrupt, truncated or
    foreign) gives a one-line notice on stderr, once per process, and None (its status is 'unreadable';
    rerunning the job replaces it)."""
    rec, why = read(job_id)
    if why and not quiet:
        _notice(job_id, why)
    return rec


def _notice(job_id: str, why: str) -> None:
    path = record_path(job_id)
    if (str(path), why) in _NOTICED:
        return
    _NOTICED.add((str(path), why))
    print(f"assocmem: notice: evidence record {path} is unreadable ({why}); ignored — rerun "
          f"`assocmem evidence run {job_id}`", file=sys.stderr)


@dataclass(frozen=True)
class Status:
    job: str
    state: str  # "fresh" | "stale" | "missing" | "unreadable"
    fingerprint: str  # the record's (short), or "" when missing
    detail: str
    record: dict | None

    @property
    def line(self) -> str:
        return f"{self.job}: {self.state}" + (f" ({self.detail})" if self.detail else "")

    @property
    def absent(self) -> str:
        """Why there is no record to read, with the command that makes one (for a status without a record)."""
        if self.state == "unreadable":
            return f"the record of the evidence job {self.job} is unreadable: {self.detail}"
        return f"no record of the evidence job {self.job}: {self.detail}"


def status(job_id: str, *, quiet: bool = False) -> Status:
    job = get_job(job_id)
    rec, why = read(job_id)
    if why:
        if not quiet:
            _notice(job_id, why)
        return Status(job_id, "unreadable", "", f"{record_path(job_id)} is {why}; rerun `{job.command}`", None)
    if rec is None:
        return Status(job_id, "missing", "", f"run `{job.command}`", None)
    fp = rec["fingerprint"][:12]
    if rec["fingerprint"] == fingerprint(job):
        return Status(job_id, "fresh", fp, "quick version" if rec.get("quick") else "", rec)
    now = module_fingerprints(job)
    then = rec.get("modules", {})
    changed = sorted(m for m in set(now) | set(then) if now.get(m) != then.get(m))
    detail = "code changed since the record: " + (", ".join(changed) if changed else "job definition")
    return Status(job_id, "stale", fp, detail + f"; rerun `{job.command}`", rec)


def results(job_id: str) -> tuple[Any, Status]:
    """(the record's results or None, its status) — what a claim or report section built on evidence reads."""
    st = status(job_id)
    return (st.record["results"] if st.record else None), st
