"""The one retrieval-SNR estimator: any ``Memory`` (impl.memories.memory), any convention, any sampler it offers.

    estimate_snr(memory, n_pairs, d_k, d_v, trials, seed, *, conventions=None, sampler="auto", alpha=1e-6,
                 device="cpu", dtype="float64", native=False) -> Estimates {convention: SNRResult}

conventions=None asks for the memory's ``listed`` conventions (every convention, for most). One whose moment
diverges at these sizes comes back not estimated (its note names the condition), as does one the memory does not
define; when every named convention diverges, the memory refuses (InputError naming the condition). The memory draws
its own trials (``Memory.sample``), so each memory keeps its random-draw order. samplers: auto (the memory's choice),
plain (memories written and read), analytic (closed-form moments over the other pairs), importance (tilted
proposals), where the memory offers them.
"""

from __future__ import annotations

from impl.memories.memory import SAMPLERS, Estimates, Memory, SNRResult, check_convention
from impl.numerics.errors import InputError, require_positive_int


def estimate_snr(memory: Memory, n_pairs: int, d_k: int, d_v: int, trials: int, seed: int, *, conventions=None,
                 sampler: str = "auto", alpha: float = 1e-6, device="cpu", dtype="float64",
                 native: bool = False) -> Estimates:
    """Monte Carlo SNR^{-1} of ``memory`` in each requested convention, each beside its exact value (module doc)."""
    asked = tuple(memory.listed if conventions is None else conventions)
    for c in asked:
        check_convention(c)
    defined = tuple(c for c in asked if c in memory.conventions)
    if not defined:
        raise InputError("convention", f"the {memory.label()} memory defines {' and '.join(memory.conventions)} only")
    if sampler not in SAMPLERS:
        raise InputError("mode", f"must be one of {', '.join(SAMPLERS)}, got {sampler!r}")
    if sampler not in memory.samplers:
        raise InputError("mode", f"the {memory.label()} memory is estimated by {' or '.join(memory.samplers)} "
                                 f"sampling only, not {sampler!r}")
    if not (isinstance(alpha, float) and 0 < alpha < 0.5):
        raise InputError("alpha", f"must be a float in (0, 0.5), got {alpha!r}")
    n_pairs = require_positive_int("n_pairs", n_pairs, memory.min_pairs)
    d_k = require_positive_int("d_k", d_k)
    d_v = require_positive_int("d_v", d_v)
    trials = require_positive_int("trials", trials, 2)
    memory.check(n_pairs, d_k, d_v, trials, defined, sampler)
    reasons = {c: memory.divergence(c, d_k, d_v) for c in defined}
    finite = tuple(c for c in defined if not reasons[c])
    if conventions is not None and not finite:  # everything named diverges: say why instead of returning nothing
        memory.refuse(defined[0], n_pairs, d_k, d_v, reasons[defined[0]])
    got = memory.sample(n_pairs, d_k, d_v, trials, seed, finite, sampler=sampler, alpha=alpha, device=device,
                        dtype=dtype, native=native) if finite else Estimates()
    out = Estimates(extra=got.extra)
    for c in defined:
        out[c] = memory.infinite(c, reasons[c]) if reasons[c] else got[c]
    for c in asked:
        if c not in memory.conventions:
            out[c] = SNRResult(method="none", note=memory.undefined_note)
    return out
