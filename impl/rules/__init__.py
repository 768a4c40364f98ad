"""Update rules (paper §2.2, docs/CLAIMS.md U1-U4): one folder per family with recurrent.py (the ground truth, an
explicit loop mirroring the equation), parallel.py and chunk.py; the registry of rules by name (registry.py), their
shared input checks (inputs.py), seeded inputs (data.py), form comparisons (checks.py) and experiments.

Their public face for other projects is ``assocmem.conformance``: it runs someone else's kernel for a rule against
these recurrent forms in float64 (``assocmem conform MODULE:FUNCTION --rule RULE --adapter SPEC``, or the pytest
fixture ``conformance``), and the report's Peers section does so for flash-linear-attention and transformers."""
