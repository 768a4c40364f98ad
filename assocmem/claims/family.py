"""SNR claim families: one call registers a memory's SNR^{-1} claim in each of its conventions (as one OpInfo entry
covers an operator), its mutants and its grids, from the memory's ``impl.memories.memory.Memory`` interface.

    snr_family(group, memory, *, conventions, statement, mutant, mutant_says, grid, power_grid, strategy, ...)

registers ``{group}.{convention}`` for each convention: a statistical claim whose run estimates SNR^{-1} with the one
driver (``impl.estimators.snr.estimate_snr``) and checks the memory's exact value against the interval with
``assocmem.checks.snr`` (so every family gets the same power statement and calibration); its mutant checks the
wrong formula ``mutant(convention, params, kappa, nu)`` with the same estimate. ``memory`` is a Memory, or a
callable building one from a grid point's parameters (a kernel whose temperature varies with the point).
``exact(convention, params, kappa, nu)``, where given, is the exact value built a second way (the SymPy form): the
check compares it with the interval and requires the memory's own closed form to agree with it. Any argument that
differs by convention (a statement's stated region, a grid moved to where the interval is calibrated) is given as
``by_convention(f)``, read as ``f(convention)``.
"""

from __future__ import annotations

from functools import partial
from typing import Callable

from assocmem import checks, regions
from assocmem.registry import Claim, Result, register
from impl.estimators.snr import estimate_snr
from impl.memories.memory import Memory

SIZES = ("n_pairs", "d_k", "d_v", "trials")


class by_convention:
    """A ``snr_family`` argument that differs by convention: ``f(convention)`` gives its value there."""

    def __init__(self, f: Callable[[str], object]):
        self.f = f


def _at(value, convention: str):
    return value.f(convention) if isinstance(value, by_convention) else value


def _probe(res) -> tuple:
    """The probe's ||k_i||^2 and ||v_i||^2 where the result is at one (None otherwise)."""
    d = res.details
    return d.get("kappa", d.get("probe_kappa")), d.get("nu", d.get("probe_nu"))


def check(claim_id: str, memory, convention: str, params, seed, *, exact=None, wrong=None, record=None,
          sampler="auto", device="cpu", dtype="float64", alpha: float = 1e-6) -> Result:
    """Monte Carlo SNR^{-1} of ``memory`` at ``params`` in ``convention`` against its exact value (or the mutant's).
    ``record(result)`` gives the memory-specific fields the check records (default: the convention)."""
    mem = memory if isinstance(memory, Memory) else memory(params)
    n, d_k, d_v, trials = (params[k] for k in SIZES)
    res = estimate_snr(mem, n, d_k, d_v, trials, seed, conventions=(convention,), sampler=sampler, alpha=alpha,
                       device=device, dtype=dtype)[convention]
    theory = reference = None
    if wrong is not None:
        theory = wrong(convention, params, *_probe(res))
    elif exact is not None:
        theory, reference = exact(convention, params, *_probe(res)), ("impl closed form", res.exact)
    extra = {"convention": convention} if record is None else record(res)
    return checks.snr(claim_id, params, seed, res, theory, reference=reference, **extra)


def snr_family(group: str, memory: Memory | Callable[[dict], Memory], *, conventions, title: str, statement,
               mutant: Callable, mutant_says: str, grid, power_grid, strategy, tag: str = "suite",
               ref: str = "", quick_grid=None, formula: Callable | None = None, modules: tuple[str, ...] = (),
               exact: Callable | None = None, record: Callable | None = None, sampler: str = "auto",
               region=None, heaviness=None, tail: str = ""):
    """Register the claims ``{group}.{convention}`` (module doc). ``statement`` and ``title`` may use
    ``{convention}``; ``grid``, ``power_grid`` and ``quick_grid`` are lists of points with n_pairs, d_k, d_v, trials
    (and the memory's own parameters); ``strategy()`` draws such points for the Hypothesis tier; ``formula(c)``
    gives the SymPy expression, where one exists; ``sampler`` is the estimator's (auto: the memory's choice).
    ``region``, ``heaviness`` and ``tail`` are declared for each claim (``assocmem.regions``).
    ``statement``, ``grid``, ``power_grid``, ``quick_grid``, ``strategy``, ``region``, ``heaviness`` and ``tail``
    may be ``by_convention``."""
    out = []
    own = (memory.__module__,) if isinstance(memory, Memory) else ()
    for c in conventions:
        cid = f"{group}.{c}"
        words = c.replace("_", " ")
        g = list(_at(grid, c))
        run = partial(check, cid, memory, c, exact=exact, record=record, sampler=sampler)
        out.append(register(Claim(
            id=cid, title=title.replace("{convention}", words), tag=tag, ref=ref, kind="statistical", convention=c,
            statement=_at(statement, c).replace("{convention}", words), formula=partial(formula, c) if formula else None,
            run=run, mutant=partial(run, wrong=mutant), mutant_says=mutant_says, strategy=_at(strategy, c), grid=g,
            quick_grid=list(_at(quick_grid, c) or g[:1]), power_grid=list(_at(power_grid, c)),
            modules=tuple(dict.fromkeys(tuple(modules) + ("impl.memories.memory", "impl.estimators.snr") + own)),
        )))
        if region is not None or heaviness is not None or tail:
            regions.declare(cid, region=_at(region, c), heaviness=_at(heaviness, c), tail=_at(tail, c))
    return out
