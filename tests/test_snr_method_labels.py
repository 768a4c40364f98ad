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
