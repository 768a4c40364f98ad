"""Kernel/FFN claims (C5-C12) beyond the generic templates of tests/test_claims.py (which already run every
derivation, Hypothesis draws of every ``run`` and every mutant at its power points): the report's quick-grid point
of each claim passes, every figure's quick points compute finite rows, and the C7 trap is visible in the numbers."""

import math

import pytest

from assocmem import registry

MINE = ("C5.", "C6.", "C7.", "C8.", "C9.", "C10.", "C11.", "C12.")
RUNNABLE = [c.id for c in registry.claims() if c.id.startswith(MINE) and c.run is not None]
FIGS = [f.id for f in registry.figures() if f.id.startswith(("kernels_", "ffn_"))]


@pytest.mark.parametrize("claim_id", RUNNABLE)
def test_quick_grid_point_passes(claim_id):
    claim = registry.get(claim_id)
    for params in claim.report_grid(quick=True)[:1]:
        res = claim.run(params, registry.point_seed(claim.id, params, 0))
        assert res.passed, res


@pytest.mark.parametrize("figure_id", FIGS)
def test_figure_quick_points_compute_and_draw(figure_id):
    fig = registry.get_figure(figure_id)
    rows = [row for p in fig.quick_points for row in fig.compute(p, 1)]
    assert rows
    for r in rows:
        for key in ("estimate", "lo", "hi", "theory"):
            v = r.get(key)
            assert v is None or not math.isnan(v), (figure_id, r)
    import matplotlib.pyplot as plt

    plt.close(fig.draw(rows))


def test_typical_and_probe_averaged_capacity_disagree_measured():
    """C7 trap: at tau = 2, d_k = 24 the measured typical capacity exceeds the probe-averaged one many times over."""
    fig = registry.get_figure("kernels_capacity_conventions")
    typ = fig.compute(dict(kernel="exp2", convention="typical", d_k=24, trials=100), 1)[0]
    avg = fig.compute(dict(kernel="exp2", convention="probe_averaged", d_k=24, trials=100), 2)[0]
    assert typ["lo"] > 10 * avg["hi"]
    assert typ["lo"] <= typ["theory"] <= typ["hi"] and avg["lo"] <= avg["theory"] <= avg["hi"]


@pytest.mark.parametrize("claim_id", ["C7.typical", "C9.poly.conditional", "C9.sphere.snr", "C11.solu.typical",
                                      "C12.heads_snr.exp"])
def test_an_snr_check_fails_when_its_two_exact_values_disagree(claim_id, monkeypatch):
    """Every SNR claim that builds its exact value twice (SymPy beside the memory's closed form) goes through
    checks.snr with that reference: a closed form off by 1e-6 relative (inside every interval here, so the interval
    alone cannot tell) fails the check, and the note names the disagreement. The same point passes unperturbed."""
    from impl.memories import kernel, solu

    claim = registry.get(claim_id)
    params = claim.report_grid(quick=True)[0]
    seed = registry.point_seed(claim.id, params, 0)
    assert claim.run(params, seed).passed
    for cls in (kernel.KernelMemory, kernel.SphereMemory):
        real = cls.exact
        monkeypatch.setattr(cls, "exact", lambda self, *a, _f=real, **k: _f(self, *a, **k) * (1 + 1e-6))
    if claim_id.startswith("C11.solu"):  # its reference is the SymPy form: perturb the numeric mirror it checks
        real_theory = solu.theory
        monkeypatch.setattr(solu, "theory", lambda *a, **k: real_theory(*a, **k) * (1 + 1e-6))
    res = claim.run(params, seed)
    assert not res.passed and "disagrees with" in res.note, res
    assert res.lo <= res.theory <= res.hi  # the interval alone would have passed it


def test_the_heavy_tail_check_fails_when_the_detector_does_not_flag(monkeypatch):
    """C7.heavy_tail states that the detector flags plain sampling: with the detector silenced (auto then samples
    plainly) the check fails, and its note says so."""
    from impl.estimators import snr_kernel

    claim = registry.get("C7.heavy_tail.typical")
    params = claim.report_grid(quick=True)[0]
    seed = registry.point_seed(claim.id, params, 0)
    assert claim.run(params, seed).passed
    real = snr_kernel.plain_reliability
    monkeypatch.setattr(snr_kernel, "plain_reliability", lambda *a, **k: (True, real(*a, **k)[1]))
    res = claim.run(params, seed)
    assert not res.passed and "did NOT flag" in res.note, res
