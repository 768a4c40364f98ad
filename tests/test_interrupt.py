"""Ctrl-C loses no finished work: every result is written to the cache as it finishes, also under --fresh (which
only stops a run from reading the cache), and the interrupt line says exactly how many results a rerun reuses.

Counted three ways: a sweep whose task raises KeyboardInterrupt after k completions, `assocmem report --fresh`
interrupted in this process after k results, and a real SIGINT sent to `assocmem report --fresh --jobs 2` in a
subprocess once some results are on disk (the rerun must leave those cache entries as they are: reused, not
recomputed)."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assocmem import cache, cli, sweep

ROOT = Path(__file__).resolve().parent.parent
EVALUATED: list[int] = []
STOP_AT: list[int] = []  # the seed at which the task raises KeyboardInterrupt (empty: never)


@pytest.fixture(autouse=True)
def _no_earlier_sweeps(monkeypatch):
    """Each test is one command: no sweep of an earlier test counts as finished (the CLI runs one per process)."""
    monkeypatch.setattr(sweep, "FINISHED", [])


def counted(params, seed, *, device="cpu", dtype="float64"):
    """A sweep task that records its seed (in this process: the serial backend) and stops at ``STOP_AT``."""
    if STOP_AT and seed == STOP_AT[0]:
        raise KeyboardInterrupt
    EVALUATED.append(seed)
    return seed * params["scale"]


def _tasks(n):
    return [sweep.Task.call(counted, {"scale": 3}, seed) for seed in range(n)]


@pytest.mark.parametrize("read_cache", [False, True])
def test_interrupted_sweep_keeps_finished_results_and_a_rerun_reuses_exactly_them(monkeypatch, read_cache):
    n, k = 9, 4
    EVALUATED.clear()
    monkeypatch.setattr(sys.modules[__name__], "STOP_AT", [k])
    with pytest.raises(sweep.Interrupted) as info:
        sweep.run(_tasks(n), backend="serial", read_cache=read_cache, progress=False, desc="demo")
    e = info.value
    assert (e.cached, e.total, e.desc, e.read_cache) == (k, n, "demo", read_cache)
    assert isinstance(e, KeyboardInterrupt)  # callers that only know Ctrl-C still see one
    assert len(list(Path(cache.cache_dir()).rglob("*.pkl"))) == k
    STOP_AT.clear()
    EVALUATED.clear()
    assert sweep.run(_tasks(n), backend="serial", progress=False) == [3 * s for s in range(n)]
    assert EVALUATED == list(range(k, n))  # the k finished ones were read back, the rest computed


def test_fresh_recomputes_every_result_and_still_writes_each(monkeypatch):
    n = 5
    STOP_AT.clear()
    sweep.run(_tasks(n), backend="serial", progress=False)
    EVALUATED.clear()
    assert sweep.run(_tasks(n), backend="serial", read_cache=False, progress=False) == [3 * s for s in range(n)]
    assert EVALUATED == list(range(n))


def _report_args(tmp_path, *extra):
    return ["report", "--only", "C4.typical", "--quick", "--backend", "serial", "--quiet", "--out",
            str(tmp_path / "out"), *extra]


def test_report_fresh_interrupted_says_how_many_results_the_rerun_reuses(tmp_path, monkeypatch, capsys):
    real, calls, k = sweep.evaluate, [], 3

    def stop_after_k(task):
        if len(calls) == k:
            raise KeyboardInterrupt
        calls.append(task)
        return real(task)

    monkeypatch.setattr(sweep, "evaluate", stop_after_k)
    rc = cli.main(_report_args(tmp_path, "--fresh"))
    err = capsys.readouterr().err.strip()
    assert rc == 130
    m = re.fullmatch(r"assocmem: interrupted; (\d+) of (\d+) report results are cached; `(.+)` \(without --fresh\) "
                     r"reuses them; no report or record is half-written", err)
    assert m, err
    cached, total, rerun = int(m[1]), int(m[2]), m[3]
    assert cached == k < total
    assert rerun == "assocmem " + " ".join(_report_args(tmp_path))  # the same command without --fresh
    assert not (tmp_path / "out" / "REPORT.md").exists()

    calls.clear()
    monkeypatch.setattr(sweep, "evaluate", lambda task: calls.append(task) or real(task))
    assert cli.main(_report_args(tmp_path)) == 0
    assert len(calls) == total - cached  # exactly the unfinished ones were computed


def test_interrupt_outside_a_sweep_claims_nothing_was_cached(monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "cmd_claims", interrupted)
    assert cli.main(["claims"]) == 130
    err = capsys.readouterr().err
    assert "no result was cached" in err and "results are cached" not in err


def test_interrupt_after_a_finished_sweep_says_its_results_are_cached(tmp_path, monkeypatch, capsys):
    """Ctrl-C while the report is being written, after its sweep finished: every result is cached, and the rerun
    computes none."""
    import assocmem.report as report_module

    original = report_module._csv_text

    def stop_writing(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(report_module, "_csv_text", stop_writing)
    assert cli.main(_report_args(tmp_path, "--fresh")) == 130
    err = capsys.readouterr().err.strip()
    m = re.fullmatch(r"assocmem: interrupted; all (\d+) results of the finished report sweep are cached; `(.+)` "
                     r"\(without --fresh\) reuses them; no report or record is half-written", err)
    assert m, err
    monkeypatch.setattr(report_module, "_csv_text", original)
    calls = []
    real = sweep.evaluate
    monkeypatch.setattr(sweep, "evaluate", lambda task: calls.append(task) or real(task))
    assert cli.main(_report_args(tmp_path)) == 0
    assert calls == [] and int(m[1]) > 0


def _terminal_sigint():
    """In the child before exec: SIGINT at its default, as in a terminal. A process started in the background by a
    shell without job control (``cmd &`` in a script, as some CI runners do) inherits SIGINT *ignored*, and Python
    then keeps ignoring it, so Ctrl-C could not be tested from there."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_sigint_to_a_fresh_parallel_report_keeps_what_finished(tmp_path):
    """A real Ctrl-C (SIGINT to the process group of `assocmem report --fresh --jobs 2`) after some results are
    on disk: the line names as many cached results as there are entries, and the rerun reuses every one of them
    (their files are read, not rewritten) and finishes."""
    store = tmp_path / "cache"
    env = dict(os.environ, ASSOCMEM_CACHE=str(store), OMP_NUM_THREADS="1")
    args = ["report", "--only", "C4", "--quick", "--jobs", "2", "--quiet", "--out", str(tmp_path / "out")]
    proc = subprocess.Popen([sys.executable, "-m", "assocmem", *args, "--fresh"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=_terminal_sigint)
    while len(list(store.rglob("*.pkl"))) < 2 and proc.poll() is None:
        time.sleep(0.05)
    if proc.poll() is not None:
        pytest.fail(f"the report finished before it could be interrupted: {proc.communicate()}")
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole foreground group
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    m = re.search(r"interrupted; (\d+) of (\d+) report results are cached; `assocmem (.+)` \(without --fresh\)", err)
    assert m, err
    entries = {p: p.stat().st_ino for p in store.rglob("*.pkl")}
    assert int(m[1]) == len(entries) >= 2 and m[3] == " ".join(args)
    assert "Traceback" not in err
    done = subprocess.run([sys.executable, "-m", "assocmem", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert {p: p.stat().st_ino for p in entries} == entries  # every finished result was reused, none rewritten


def sigint_ignored(params, seed, *, device="cpu", dtype="float64"):
    """A sweep task that reports which process ran it and whether that process now ignores Ctrl-C."""
    return os.getpid(), signal.getsignal(signal.SIGINT) == signal.SIG_IGN


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_workers_leave_ctrl_c_to_the_sweeps_process_and_the_sweeps_process_keeps_it(n_jobs):
    """Ctrl-C reaches every process of the terminal's group. A joblib worker ignores it (the parent stops the
    workers; a worker that took the signal between tasks printed loky's traceback); the sweep's own process keeps
    it, also when joblib runs the tasks in that process (n_jobs=1)."""
    tasks = [sweep.Task.call(sigint_ignored, {}, seed) for seed in range(4)]
    # Python's own Ctrl-C handler, whatever this process inherited (a background job may inherit SIGINT ignored)
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        out = sweep.run(tasks, backend="joblib", n_jobs=n_jobs, read_cache=False, progress=False)
        after = signal.getsignal(signal.SIGINT)
    finally:
        signal.signal(signal.SIGINT, before)
    here = [ignored for pid, ignored in out if pid == os.getpid()]
    elsewhere = [ignored for pid, ignored in out if pid != os.getpid()]
    assert len(here) + len(elsewhere) == 4 and (elsewhere if n_jobs == 2 else here)
    assert not any(here) and all(elsewhere)
    assert after is signal.default_int_handler
