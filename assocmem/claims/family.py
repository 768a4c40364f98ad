"""SNR claim families: one call registers a memory's SNR^{-1} claim in each of its conventions (as one OpInfo entry
covers an operator), its mutants and its grids, from the memory's ``impl.memories.memory.Memory`` interface.

    snr_family(group, memory, *, conventions, statement, mutant, mutant_says, grid, power_grid, strategy, ...)

registers ``{group}.{convention}`` for each convention: a statistical claim whose run estimates SNR^{-1} with the one
driver (``impl.estimators.snr.estimate_snr``) and checks the memory's exact value against the interval with
``assocmem.checks.snr`` (so every family gets the same power statement and calibration); its mutant checks the
wrong formula ``mutant(convention, params, kappa, nu)`` with the same estimate. ``memory`` is a Memory, or a
callable building one from a grid point's parameters (a kernel whose temperature varies with the point).
"""

from __future__ import annotations

from functools import partial
from typing import Callable

from assocmem import checks
from assocmem.registry import Claim, Result, register
from impl.estimators.snr import estimate_snr
from impl.memories.memory import Memory

SIZES = ("n_pairs", "d_k", "d_v", "trials")


def check(claim_id: str, memory, convention: str, params, seed, *, wrong=None, sampler="auto", device="cpu",
          dtype="float64", alpha: float = 1e-6) -> Result:
    """Monte Carlo SNR^{-1} of ``memory`` at ``params`` in ``convention`` against its exact value (or the mutant's)."""
    mem = memory if isinstance(memory, Memory) else memory(params)
    n, d_k, d_v, trials = (params[k] for k in SIZES)
    res = estimate_snr(mem, n, d_k, d_v, trials, seed, conventions=(convention,), sampler=sampler, alpha=alpha,
                       device=device, dtype=dtype)[convention]
    theory = None if wrong is None else wrong(convention, params, res.details.get("kappa"), res.details.get("nu"))
    return checks.snr(claim_id, params, seed, res, theory, convention=convention)


def snr_family(group: str, memory: Memory | Callable[[dict], Memory], *, conventions, title: str, statement: str,
               mutant: Callable, mutant_says: str, grid, power_grid, strategy: Callable, tag: str = "suite",
               ref: str = "", quick_grid=None, formula: Callable | None = None, modules: tuple[str, ...] = ()):
    """Register the claims ``{group}.{convention}`` (module doc). ``statement`` and ``title`` may use
    ``{convention}``; ``grid``, ``power_grid`` and ``quick_grid`` are lists of points with n_pairs, d_k, d_v, trials
    (and the memory's own parameters); ``strategy()`` draws such points for the Hypothesis tier; ``formula(c)``
    gives the SymPy expression, where one exists."""
    out = []
    for c in conventions:
        cid = f"{group}.{c}"
        words = c.replace("_", " ")
        out.append(register(Claim(
            id=cid, title=title.replace("{convention}", words), tag=tag, ref=ref, kind="statistical", convention=c,
            statement=statement.replace("{convention}", words), formula=partial(formula, c) if formula else None,
            run=partial(check, cid, memory, c), mutant=partial(check, cid, memory, c, wrong=mutant),
            mutant_says=mutant_says, strategy=strategy, grid=list(grid), quick_grid=list(quick_grid or grid[:1]),
            power_grid=list(power_grid),
            modules=tuple(modules) + ("impl.memories.memory", "impl.estimators.snr", memory.__module__),
        )))
    return out
