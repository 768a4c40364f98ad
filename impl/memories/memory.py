"""The interface every associative memory implements for its retrieval SNR (paper Eq. 4; docs/CLAIMS.md C3), and the
one result type its estimates come in.

Probing a memory with a stored key k_i reads o = c v_i + r (signal c v_i, crosstalk r); the quantity is always

    SNR^{-1} = E_others ||r||^2 / (c^2 ||v_i||^2)                                              (paper Eq. 4)

in one of four conventions (C3), written here once:

* ``conditional``            at one drawn probe (k_i, v_i), averaging over the other pairs only;
* ``probe_averaged``         the conditional value averaged over the probe;
* ``ratio_of_expectations``  E||r||^2 / E[c^2 ||v_i||^2], both averaged over everything;
* ``typical``                the conditional value at the probe rescaled to ||k_i||^2 = d_k, ||v_i||^2 = d_v
                             (``typical_probe``, the one place the rescaling is written).

A ``Memory`` says which conventions it defines, why one diverges at given sizes (``divergence``), its exact value
where one is known (``exact``), and draws its own Monte Carlo trials (``sample``: its batched signal and crosstalk for
drawn keys and values, in its own random-draw order). ``impl.estimators.snr.estimate_snr`` is the one driver: any
Memory, any convention, any sampler the memory offers; every estimate comes back as one frozen ``SNRResult``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from impl.estimators.stats import Estimate
from impl.numerics.errors import InputError

CONVENTIONS = ("conditional", "probe_averaged", "ratio_of_expectations", "typical")
SAMPLERS = ("auto", "plain", "analytic", "importance")


@dataclass(frozen=True)
class SNRResult:
    """One convention's SNR^{-1}: the estimate with its two-sided interval [lo, hi] at ``level`` from ``n`` samples
    (standard error ``se``), the ``exact`` value where one is known, how it was obtained (``method``: plain,
    analytic, importance; 'none' when nothing was estimated), a ``note`` for people and memory-specific ``details``
    (for instance the probe's ||k_i||^2 and ||v_i||^2). Fields are None when the convention was not estimated (its
    moment is infinite, or the memory does not define it); the note says why."""

    estimate: float | None = None
    lo: float | None = None
    hi: float | None = None
    level: float | None = None
    n: int | None = None
    se: float | None = None
    exact: float | None = None
    method: str = ""
    note: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)
    dof: int | None = None

    @classmethod
    def measured(cls, est: Estimate, exact: float | None, method: str, note: str = "", **details) -> "SNRResult":
        return cls(est.value, est.lo, est.hi, est.level, est.n, est.se, exact, method, note, details, est.dof)

    @property
    def estimated(self) -> bool:
        return self.estimate is not None

    @property
    def inside(self) -> bool | None:
        """Whether the exact value lies in the interval (None when either is missing)."""
        if self.exact is None or self.lo is None or self.hi is None:
            return None
        return bool(self.lo <= self.exact <= self.hi)

    def interval(self) -> Estimate:
        """The interval as a ``stats.Estimate`` (what ``assocmem.checks`` consume)."""
        return Estimate(self.estimate, self.lo, self.hi, self.level, self.n, self.se, self.dof)


class Estimates(dict):
    """{convention: SNRResult}, in the order asked for; ``extra`` holds measurements that are not an SNR^{-1}
    convention (the linear memory's mean cos(o_i, v_i), say)."""

    def __init__(self, *args, extra: Mapping[str, Any] | None = None, **kw):
        super().__init__(*args, **kw)
        self.extra = dict(extra or {})


def typical_probe(k, v):
    """The typical probe (C3): k and v rescaled to ||k||^2 = d_k, ||v||^2 = d_v (d the last axis' length)."""
    return k * math.sqrt(k.shape[-1]) / k.norm(), v * math.sqrt(v.shape[-1]) / v.norm()


class Memory:
    """Base class of the SNR interface. Subclasses set ``name`` (and ``conventions``, ``samplers`` where they differ)
    and implement ``exact`` and ``sample``; ``divergence``, ``check`` and ``summary`` have defaults."""

    name: str = ""
    kind: str = ""  # the family the CLI names: linear, kernel, ffn
    conventions: tuple[str, ...] = CONVENTIONS
    listed: tuple[str, ...] = CONVENTIONS  # what ``estimate_snr`` reports when no convention is named
    samplers: tuple[str, ...] = ("auto", "plain")
    reports_mode: bool = False  # whether the command line's table names the sampler mode
    min_pairs: int = 2
    undefined_note: str = "not defined for this memory"

    def parameters(self) -> dict:
        """The memory's own parameters (kernel temperature, activation, ...), for labels and records."""
        return {}

    def label(self) -> str:
        """A short name for messages ("exp kernel")."""
        return self.name

    def title(self) -> str:
        """The name for a table's heading ("kernel memory, kernel exp")."""
        return f"{self.label()} memory"

    def divergence(self, convention: str, d_k: int, d_v: int) -> str:
        """'' when the convention's SNR^{-1} is finite at these sizes, else the violated condition in words."""
        return ""

    def refuse(self, convention: str, n_pairs: int, d_k: int, d_v: int, reason: str):
        """Raise the InputError for a convention asked for alone (or with others as infinite) whose moment diverges."""
        raise InputError("convention", f"the {convention} SNR^-1 of the {self.label()} memory is infinite here: needs "
                                       f"{reason}")

    def infinite(self, convention: str, reason: str) -> SNRResult:
        """The result for a convention whose moment diverges (nothing estimated)."""
        return SNRResult(method="none", note=f"infinite (not estimated): the moment needs {reason}")

    def exact(self, convention: str, n_pairs: int, d_k: int, d_v: int, kappa=None, nu=None) -> float | None:
        """The exact SNR^{-1} (conditional: at a probe with ||k_i||^2 = kappa, ||v_i||^2 = nu; typical: at d_k and d_v,
        or at the rescaled probe's kappa and nu where a memory is given them, as the kernel memories are: they differ
        from d_k and d_v by round-off only); None if unknown."""
        return None

    def check(self, n_pairs: int, d_k: int, d_v: int, trials: int, conventions: tuple[str, ...], sampler: str):
        """Memory-specific input checks beyond the shared ones (raise InputError naming the parameter)."""

    def sample(self, n_pairs: int, d_k: int, d_v: int, trials: int, seed: int, conventions: tuple[str, ...], *,
               sampler: str, alpha: float, device, dtype, native: bool) -> Estimates:
        """Draw the trials (the memory's own random-draw order) and estimate every convention in ``conventions``
        (all finite and defined here)."""
        raise NotImplementedError

    def summary(self, results: Estimates, n_pairs: int, d_k: int, d_v: int) -> dict:
        """Quantities printed beside the conventions: the paper's asymptote and the cosine proxy, where they apply."""
        return {"paper_asymptote": None, "cos_proxy": None}


def check_convention(convention: str) -> str:
    if convention not in CONVENTIONS:
        raise InputError("convention", f"must be one of {', '.join(CONVENTIONS)}, got {convention!r}")
    return convention
