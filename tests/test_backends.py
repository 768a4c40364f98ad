"""Sweep backends: a real Dask LocalCluster and a real local Ray instance give exactly the serial results.

Run when the optional extras are installed (`pip install -e ".[dask,ray]"`, which .ci/run does); skipped otherwise.
"""

import pytest

from assocmem import registry, sweep


def _tasks():
    out = []
    for cid in ("C2.signal_noise", "C4.typical", "C4.ratio_of_expectations"):
        c = registry.get(cid)
        for p in c.report_grid(True):
            out.append(sweep.Task.make("claim", cid, p, registry.point_seed(cid, p, 1)))
    f = registry.get_figure("linear_snr")
    out += [sweep.Task.make("figure", f.id, p, 11) for p in f.quick_points[:2]]
    return out


@pytest.fixture(scope="module")
def serial():
    return sweep.run(_tasks(), backend="serial", read_cache=False)


def test_joblib_equals_serial(serial):
    assert sweep.run(_tasks(), backend="joblib", n_jobs=2, read_cache=False) == serial


def test_dask_local_cluster_equals_serial(serial):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        got = sweep.run(_tasks(), backend="dask", scheduler=cluster.scheduler_address, read_cache=False)
    assert got == serial


def test_ray_local_equals_serial(serial, monkeypatch):
    ray = pytest.importorskip("ray")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    try:
        got = sweep.run(_tasks(), backend="ray", read_cache=False)
    finally:
        ray.shutdown()
    assert got == serial


def test_unknown_backend_is_refused():
    from impl.numerics.errors import InputError

    with pytest.raises(InputError, match="backend"):
        sweep.run(_tasks()[:2], backend="spark")
