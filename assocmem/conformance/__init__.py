"""Conformance: run another project's kernel against the suite's float64 oracles (docs/CLAIMS.md U2, D1).

The suite's recurrent forms are the ground truth of every update rule; this package turns them into a tool. Give it
someone else's function for a rule and a declarative ``Adapter`` for that function's conventions (layout, gates or
log-gates, scale, state orientation, normalisation, ...); Hypothesis then draws shapes and values (T = 1, T not a
multiple of the chunk, odd d, b at the ends of [0, 2], gates near 0 and 1, zero, repeated and tiny keys, initial
state on and off, several dtypes), compares the function with the float64 oracle within a tolerance derived from the
dtype's round-off, and reports the minimal failing case.

    from assocmem.conformance import check, assert_conforms, Adapter
    check("fla.ops.gated_delta_rule.naive:naive_chunk_gated_delta_rule", "gated_deltanet",
          Adapter(layout="bthd", gates="log", state="kv", chunk="any"))       # -> [Verdict per dtype]

From pytest (the ``conformance`` fixture of this package's pytest plugin), from the command line
(``assocmem conform MODULE:FUNCTION --rule RULE --adapter SPEC``), and over the installed peers
(``assocmem evidence run peers``, the report's Peers section; ``peers.py`` lists them).
"""

from assocmem.conformance.adapter import Adapter
from assocmem.conformance.rules import ConformanceRule
from assocmem.conformance.run import Verdict, assert_conforms, check, load_function

__all__ = ["Adapter", "ConformanceRule", "Verdict", "assert_conforms", "check", "load_function"]
