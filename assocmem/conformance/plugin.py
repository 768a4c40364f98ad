"""pytest plugin (entry point ``pytest11: assocmem``): the ``conformance`` fixture, so another project checks its
kernel against the suite's float64 oracle in a few lines, and the ``capacity`` fixture, so it can assert its
memory's capacity (``assocmem.capacity``):

    def test_my_map_stores_enough(capacity):
        res = capacity.measure("mypkg.maps:phi", kind="feature_map", d_k=64)
        assert res.capacity.lo >= 100      # largest N with predicted recall >= 0.9, lower end of its interval

    def test_my_gated_delta_rule(conformance):
        conformance.check("mypkg.ops:chunk_gated_delta_rule", rule="gated_deltanet",
                          adapter="layout=bthd,gates=log,state=kv,chunk=any")

``check`` fails the test with the minimal failing case of every dtype that differs and returns the verdicts
otherwise. Importing this plugin imports nothing heavy (the fixture imports torch and Hypothesis when used).
"""

from __future__ import annotations

import pytest


class Conformance:
    """What the fixture gives: ``check(function, rule=..., adapter=..., dtypes=..., max_examples=...)``."""

    def check(self, function, rule, adapter=None, *, dtypes=None, max_examples: int = 60):
        from assocmem.conformance import check

        verdicts = check(function, rule, adapter, dtypes=dtypes, max_examples=max_examples)
        bad = [v for v in verdicts if not v.ok]
        if bad:
            pytest.fail("\n".join(v.line() for v in bad), pytrace=False)
        return verdicts


@pytest.fixture
def conformance() -> Conformance:
    """Check a function against one of assocmem's float64 oracles (see ``assocmem.conformance``)."""
    return Conformance()


class Capacity:
    """What the ``capacity`` fixture gives: ``measure(path, kind=..., d_k=..., **config)`` -> CapacityResult
    (``assocmem.capacity.measure``); bad input fails the test with its one line."""

    def measure(self, path, kind: str = "feature_map", *, d_k: int, **kw):
        from assocmem.capacity import measure
        from impl.numerics.errors import InputError

        try:
            return measure(path, kind, d_k=d_k, **kw)
        except InputError as e:
            pytest.fail(f"capacity: {e}", pytrace=False)


@pytest.fixture
def capacity() -> Capacity:
    """Measure a memory's SNR^-1, recall and capacity beside the linear memory and softmax (``assocmem.capacity``)."""
    return Capacity()
