"""pytest plugin (entry point ``pytest11: assocmem``): the ``conformance`` fixture, so another project checks its
kernel against the suite's float64 oracle in a few lines:

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
