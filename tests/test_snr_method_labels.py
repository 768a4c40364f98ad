"""Every memory's SNR result says how it was obtained: asked for the plain sampler, every measured convention of every
memory in the catalogue (linear, each FFN activation, each analytic and random-feature kernel) is labelled
``method == "plain"`` (the report and ``assocmem snr --json`` print this label beside the estimate; a result measured
otherwise, or mislabelled, would be read as another sampler's)."""

import pytest

from impl.estimators.snr import estimate_snr
from impl.estimators.snr_kernel import KERNELS
from impl.memories.ffn import ACTIVATIONS
from impl.memories.catalog import make

MEMORIES = [("linear", {})] + [("ffn", {"activation": a}) for a in ACTIVATIONS] + [
    ("kernel", {"kernel": k, "tau": 8.0 if k == "exp" or k.startswith("performer") else None, "m": 16 if k.startswith("performer") else None})
    for k in KERNELS]


@pytest.mark.parametrize("kind,params", MEMORIES, ids=[f"{k}-{'-'.join(str(v) for v in p.values() if v)}" or k
                                                       for k, p in MEMORIES])
def test_results_asked_of_the_plain_sampler_are_labelled_plain(kind, params):
    memory = make(kind, **params)
    assert "plain" in memory.samplers
    res = estimate_snr(memory, 4, 6, 6, 40, 0, sampler="plain")
    measured = [r for r in res.values() if r.estimate is not None]
    assert measured, "no convention was measured"
    assert {r.method for r in measured} == {"plain"}, {c: r.method for c, r in res.items()}


def test_native_draws_reach_every_measured_convention_of_the_linear_memory():
    """``native=True`` (benchmarks: draw in the requested dtype on the device) reaches every draw of the linear
    memory, the one memory whose sampler implements it (the others draw in float64 whatever it says): in float32
    the native stream is another one than the float64-then-rounded default, so every measured convention's estimate
    moves; in float64 on the CPU both streams are the same numbers, so nothing moves."""
    memory = make("linear")
    for conv in memory.listed:  # one convention at a time: each sampling path on its own generator stream
        runs = {(dt, nat): estimate_snr(memory, 4, 6, 6, 40, 0, conventions=(conv,), sampler="plain", dtype=dt,
                                        native=nat)[conv].estimate
                for dt in ("float32", "float64") for nat in (False, True)}
        assert runs[("float32", False)] is not None, conv
        assert runs[("float32", True)] != runs[("float32", False)], conv
        assert runs[("float64", True)] == runs[("float64", False)], conv


@pytest.mark.parametrize("native", [True, False])
def test_every_draw_of_the_linear_memory_is_native_when_asked(monkeypatch, native):
    """Each draw of the linear memory's trials (keys and values; all-probe and fixed-probe trials) receives the
    caller's ``native`` flag as given: a draw that dropped it, or passed another value, would mix the two streams.
    The fixed probe itself (k_i, v_i) is reference data, drawn in float64 on the CPU whatever is asked."""
    from impl.memories import linear

    seen = []
    real = linear.gaussian

    def spy(shape, gen, **kw):
        seen.append((kw.get("dtype"), kw.get("native", "missing")))
        return real(shape, gen, **kw)

    monkeypatch.setattr(linear, "gaussian", spy)
    estimate_snr(make("linear"), 4, 6, 6, 40, 0, sampler="plain", dtype="float32", native=native)
    trial_draws = [n for dt, n in seen if dt == "float32"]
    assert len(trial_draws) >= 6 and all(n is native for n in trial_draws), seen
    assert [n for dt, n in seen if dt != "float32"] == ["missing"] * 4, seen  # two fixed probes: k_i, v_i each


@pytest.mark.parametrize("d_k,d_v,warned", [(5, 4, True), (4, 5, True), (4, 4, True), (5, 5, False)])
def test_the_linear_memorys_uncalibrated_t_interval_says_so_exactly_where_the_variance_is_infinite(d_k, d_v, warned):
    """The probe-averaged ratio's variance is finite only for d_k > 4 and d_v > 4 (module doc); below either edge the
    t interval carries the warning, at d_k = d_v = 5 with too few trials for Catoni's bound it is a t interval
    without one."""
    r = estimate_snr(make("linear"), 4, d_k, d_v, 10, 0, conventions=("probe_averaged",),
                     sampler="plain")["probe_averaged"]
    assert r.dof == 9  # the t interval (Catoni's needs more than 2 log(2/alpha) trials)
    assert ("NOT calibrated" in r.note) is warned, r.note
