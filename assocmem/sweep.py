"""The sweep runner: every grid point is a pure, picklable task; run serially, on local cores (joblib), on a
Dask cluster or on Ray — always through joblib's backend interface (an existing engine; no home-made scheduler).

A task is ``Task(kind, id, params, seed, device, dtype)``; ``evaluate(task)`` looks the claim or figure up in the
registry by id (so only plain data crosses process boundaries) and returns a ``Result`` (claims) or a list of row
dicts (figures). Kind ``call`` runs any importable function ``id = "module:function"`` as
``function(params, seed, device=..., dtype=...)`` (evidence jobs use it for training runs and the like); its
cache key covers the function's module and ``extra_modules``. Every result is written to the cache
(``assocmem.cache``) as it finishes; ``read_cache=False`` (``--fresh``) only stops the run from *reading* it, so an
interrupted fresh run loses nothing a later run could reuse. Ctrl-C raises ``Interrupted``, which says how many of
the sweep's results are in the cache. Results come back in task order whatever the backend, so every backend gives
byte-identical reports.
"""

from __future__ import annotations

import functools
import os
import sys
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from assocmem import cache, registry

BACKENDS = ("serial", "joblib", "dask", "ray")


FINISHED: list[tuple[str, int]] = []  # (desc, number of tasks) of every sweep this process completed, in order


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a sweep: ``cached`` of its ``total`` results are in the cache (and a run that reads the cache
    reuses them); ``read_cache`` says whether this run read it (False under ``--fresh``)."""

    def __init__(self, desc: str, cached: int, total: int, read_cache: bool):
        super().__init__(f"{desc}: {cached} of {total} results cached")
        self.desc, self.cached, self.total, self.read_cache = desc, cached, total, read_cache


@dataclass(frozen=True)
class Task:
    kind: str  # "claim" | "mutant" | "derivation" | "figure" | "call"
    id: str
    params: tuple  # sorted (key, value) pairs: hashable and picklable
    seed: int
    device: str = "cpu"
    dtype: str = "float64"
    extra_modules: tuple = ()

    @staticmethod
    def make(kind: str, id: str, params: Mapping[str, Any], seed: int, device: str = "cpu", dtype: str = "float64"):
        return Task(kind, id, tuple(sorted(params.items())), seed, device, dtype)

    @staticmethod
    def call(fn, params: Mapping[str, Any], seed: int, *, device: str = "cpu", dtype: str = "float64",
             modules: tuple[str, ...] = ()):
        """A task that runs ``fn(params, seed, device=device, dtype=dtype)``; ``fn`` must be a module-level function."""
        return Task("call", f"{fn.__module__}:{fn.__qualname__}", tuple(sorted(params.items())), seed, device, dtype,
                    tuple(modules))

    def modules(self) -> tuple[str, ...]:
        if self.kind == "call":
            return tuple(self.extra_modules) + (self.id.split(":")[0],)
        if self.kind == "figure":
            f = registry.get_figure(self.id)
            return tuple(f.modules) + (f.compute.__module__,)
        c = registry.get(self.id)
        fn = {"claim": c.run, "mutant": c.mutant, "derivation": c.derivation}[self.kind]
        while isinstance(fn, functools.partial):  # a partial's __module__ is 'functools': fingerprint the function's
            fn = fn.func
        mod = getattr(fn, "__module__", "")
        if self.kind == "derivation":  # derivations call into theory/: any change there re-derives
            return tuple(c.modules) + (mod, "theory")
        return tuple(c.modules) + (mod,)


def evaluate(task: Task):
    params = dict(task.params)
    if task.kind == "call":
        import importlib

        mod, name = task.id.split(":")
        return getattr(importlib.import_module(mod), name)(params, task.seed, device=task.device, dtype=task.dtype)
    if task.kind == "derivation":
        return [(step.says, step.holds()) for step in registry.get(task.id).derivation()]
    if task.kind == "figure":
        return registry.get_figure(task.id).compute(params, task.seed, device=task.device, dtype=task.dtype)
    claim = registry.get(task.id)
    fn = claim.run if task.kind == "claim" else claim.mutant
    return fn(params, task.seed, device=task.device, dtype=task.dtype)


def _key(task: Task) -> str:
    return cache.key((task.kind, task.id, task.params, task.seed, task.device, task.dtype), task.modules())


@contextmanager
def _one_thread():
    """Run a task on one torch thread: its summation order, and so its last digits, then do not depend on how many
    cores the machine has or on the backend (joblib's workers get one thread each; the serial backend would get
    all of them). Parallelism comes from running tasks side by side."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _evaluate_store(task: Task, key: str, index: int = 0, root: str | None = None, parent: int | None = None):
    """Evaluate ``task`` (in a worker or here) and store the value under ``key`` in the cache at ``root``. Returns
    (index, value), so that results arriving in any order go back to their place. ``parent`` is the pid of the
    process that runs the sweep: in any other process (a worker) Ctrl-C is left to the parent (see
    ``_leave_ctrl_c_to_parent``)."""
    if parent is not None and os.getpid() != parent:
        _leave_ctrl_c_to_parent()
    with _one_thread():
        value = evaluate(task)
    cache.store(key, value, root)
    return index, value


def _leave_ctrl_c_to_parent() -> None:
    """Make this worker process ignore SIGINT. A terminal's Ctrl-C goes to the whole foreground process group, the
    workers included; the parent turns it into ``Interrupted`` and joblib then stops the workers. A worker that
    took the signal itself would print a KeyboardInterrupt traceback whenever it arrived outside a task (loky's
    worker loop, between tasks). Only a process's main thread may set a signal handler (a Dask worker runs tasks
    in threads): elsewhere this does nothing."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _backend_context(backend: str, scheduler: str | None):
    import joblib

    if backend == "dask":
        try:
            from dask.distributed import Client
        except ImportError:
            from impl.numerics.errors import InputError

            raise InputError("backend", "dask needs the optional extra: pip install 'assocmem[dask]'") from None
        client = Client(scheduler) if scheduler else Client(processes=True)
        return _ClientBackend(client)
    if backend == "ray":
        try:
            import ray
            from ray.util.joblib import register_ray
        except ImportError:
            from impl.numerics.errors import InputError

            raise InputError("backend", "ray needs the optional extra: pip install 'assocmem[ray]'") from None
        register_ray()
        if not ray.is_initialized():
            ray.init(address=os.environ.get("RAY_ADDRESS"), include_dashboard=False, log_to_driver=False)
        return joblib.parallel_backend("ray")
    return nullcontext()


class _ClientBackend:
    """Context manager: joblib's 'dask' backend bound to a distributed Client, closed on exit."""

    def __init__(self, client):
        self.client = client

    def __enter__(self):
        import joblib

        self._ctx = joblib.parallel_backend("dask")
        self._ctx.__enter__()
        return self

    def __exit__(self, *exc):
        self._ctx.__exit__(*exc)
        self.client.close()
        return False


def run(tasks: Sequence[Task], *, backend: str = "joblib", n_jobs: int = -1, scheduler: str | None = None,
        read_cache: bool = True, progress: bool | None = None, desc: str = "sweep") -> list:
    """Evaluate ``tasks`` and return their values in order. ``backend``: serial | joblib | dask | ray.
    ``read_cache=False`` recomputes every task (each result is still written to the cache as it finishes).
    Ctrl-C raises ``Interrupted`` with the number of this sweep's results now in the cache."""
    from tqdm.auto import tqdm

    if backend not in BACKENDS:
        from impl.numerics.errors import InputError

        raise InputError("backend", f"must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if progress is None:
        progress = sys.stderr.isatty()
    tasks = list(tasks)
    # Cached results are read here, in this process; only the misses go to the backend (a warm report starts
    # no worker at all).
    keys = [_key(t) for t in tasks]
    values = [cache.load(k) for k in keys] if read_cache else [None] * len(tasks)
    todo = [i for i, v in enumerate(values) if v is None]
    bar = _progress(tqdm, len(todo), desc, enabled=bool(progress and todo), cached=len(tasks) - len(todo))
    root = str(cache.cache_dir())  # decided here: a reused worker may carry another process's environment
    try:
        _compute(tasks, keys, todo, values, root, bar, backend=backend, n_jobs=n_jobs, scheduler=scheduler)
    except KeyboardInterrupt:
        bar.close()
        raise Interrupted(desc, sum(cache.exists(k, root) for k in keys), len(tasks), read_cache) from None
    bar.close()
    FINISHED.append((desc, len(tasks)))
    return values


def _compute(tasks, keys, todo, values, root, bar, *, backend, n_jobs, scheduler) -> None:
    """Evaluate the tasks at the indices ``todo`` into ``values`` (each stored in the cache at ``root``)."""
    if backend == "serial" or len(todo) <= 1:
        for i in todo:
            values[i] = _evaluate_store(tasks[i], keys[i], i, root)[1]  # here: Ctrl-C stays ours
            bar.update()
        return
    import joblib

    with _backend_context(backend, scheduler):
        # Results come back as they finish (the progress bar moves with the work, not with the slowest early task)
        # and go to their own index, so the order of the output never depends on the backend. Ray's joblib backend
        # cannot stream results back; it returns the whole list at the end.
        stream = "list" if backend == "ray" else "generator_unordered"
        par = joblib.Parallel(n_jobs=n_jobs if backend == "joblib" else -1, return_as=stream)
        for i, v in par(joblib.delayed(_evaluate_store)(tasks[i], keys[i], i, root, os.getpid()) for i in todo):
            values[i] = v
            bar.update()


def _progress(tqdm, total: int, desc: str, *, enabled: bool, cached: int):
    """A progress bar that shows counts only until a time estimate means something (a quarter of the tasks, and at
    least 10, done), then an estimate from the average time per task since the first one finished (the first
    waits for the workers to start and import, which no later task repeats)."""
    import time

    warmup = max(10, total // 4)
    head = f"{desc} ({cached} cached)" if cached else desc
    counts = "{desc}: {n_fmt}/{total_fmt} tasks [{elapsed}, time estimate after %d]" % warmup
    full = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} tasks [{elapsed}{postfix} left]"
    bar = tqdm(total=total, desc=head, disable=not enabled, bar_format=counts, dynamic_ncols=True)
    update, first = bar.update, []

    def step(n: int = 1):
        now = time.monotonic()
        if not first:
            first.append((now, bar.n + n))
        if bar.n + n >= warmup and bar.n + n > first[0][1]:
            per_task = (now - first[0][0]) / (bar.n + n - first[0][1])
            left = int(per_task * (total - bar.n - n))
            bar.bar_format = full
            bar.set_postfix_str(f"{left // 60}:{left % 60:02d}" if left < 3600 else f"{left // 3600}:{left // 60 % 60:02d}:{left % 60:02d}",
                                refresh=False)
        update(n)

    bar.update = step
    return bar
