"""The claims registry: one declarative entry per claim of ``docs/CLAIMS.md``.

Modelled on PyTorch's OpInfo: each claim is a ``Claim`` that names its provenance tag, paper reference,
statement, the symbolic derivation behind it (``derivation``), the numeric check at one parameter point
(``run``), a deliberately wrong formula that the same check must reject (``mutant``), a Hypothesis strategy for
its parameters (cheap tier, used by the property tests) and a fixed grid (expensive tier, used by the report).
Generic test templates in ``tests/`` and the report writer iterate over the registry; adding a claim means
adding one ``register(Claim(...))`` call in a module of ``assocmem/claims/`` (modules there are discovered).

Figures are registered the same way (``register_figure(Figure(...))``): a list of points, a pure ``compute``
per point returning CSV rows, and a ``draw`` that turns all rows into a matplotlib figure.
"""

from __future__ import annotations

import math
import re
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

TAGS = ("paper", "reconstructed", "suite")
KINDS = ("symbolic", "identity", "statistical", "approximation", "experiment")
VERDICTS = ("holds", "fails", "holds only in a regime", "inconclusive", "not run")


@dataclass(frozen=True)
class Step:
    """One checkable step of a derivation: ``lhs == rhs``, decided by SymPy.

    ``holds()`` is True when ``simplify(lhs - rhs)`` is zero (or ``lhs.equals(rhs)`` proves it).
    ``lhs`` and ``rhs`` may also be booleans/relations for steps that state a fact (e.g. a limit).
    """

    says: str
    lhs: Any
    rhs: Any

    def holds(self) -> bool:
        import sympy as sp

        lhs, rhs = sp.sympify(self.lhs), sp.sympify(self.rhs)
        if isinstance(lhs, sp.MatrixBase) or isinstance(rhs, sp.MatrixBase):
            if getattr(lhs, "shape", None) != getattr(rhs, "shape", None):
                return False
            return all(sp.simplify(a - b) == 0 for a, b in zip(lhs, rhs))
        if sp.simplify(lhs - rhs) == 0:
            return True
        return bool(lhs.equals(rhs))


def steps(chain) -> list[Step]:
    """``Step`` objects from a theory function's ``(says, lhs, rhs)`` tuples."""
    return [Step(*s) for s in chain]


def derived(fn, *args) -> Callable[[], list[Step]]:
    """A claim's ``derivation``: call the theory function ``fn(*args)`` and wrap its tuples as Steps."""
    return lambda: steps(fn(*args))


@dataclass(frozen=True)
class Result:
    """The outcome of one check of one claim at one parameter point.

    Statistical checks fill ``estimate``, ``lo``, ``hi`` (a calibrated interval at ``level`` = 1 - alpha),
    ``n`` (Monte Carlo sample size), ``se`` (the estimate's standard error, where the check has one; calibration
    uses it) and ``theory`` (the exact value the interval must contain).
    Identity checks fill ``error`` (measured, e.g. max abs difference) and ``tolerance`` (derived from round-off).
    Approximation checks fill ``theory`` (the approximate formula, e.g. the paper's N/d_k), ``estimate`` (the exact
    or measured value, with ``lo``/``hi`` when measured), ``error`` (relative departure) and ``tolerance``.
    Experiment checks set ``inconclusive`` when the experiment did not fit its own training distribution (neither
    pass nor fail), and ``not_run`` when the evidence they read does not exist yet (``note`` says how to make it).
    """

    claim: str
    params: Mapping[str, Any]
    seed: int | None
    passed: bool
    theory: float | None = None
    estimate: float | None = None
    lo: float | None = None
    hi: float | None = None
    level: float | None = None
    n: int | None = None
    error: float | None = None
    tolerance: float | None = None
    note: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)
    inconclusive: bool = False
    not_run: bool = False
    se: float | None = None

    def row(self) -> dict[str, Any]:
        """A flat dict for CSV: params first, then the numbers."""
        out: dict[str, Any] = {"claim": self.claim}
        out.update({f"param_{k}": v for k, v in self.params.items()})
        out["seed"] = self.seed
        for name in ("theory", "estimate", "lo", "hi", "level", "n", "error", "tolerance"):
            out[name] = getattr(self, name)
        out.update({f"x_{k}": v for k, v in self.extra.items()})
        out["passed"] = self.passed
        if self.inconclusive or self.not_run:
            out["outcome"] = "not run" if self.not_run else "inconclusive"
        out["note"] = self.note
        return out


@dataclass(frozen=True)
class Claim:
    """One claim, declaratively. See the module docstring.

    ``run(params, seed, *, device="cpu", dtype="float64") -> Result`` checks the claim at one point.
    ``mutant`` has the same signature and runs the same check against a deliberately wrong formula
    (described by ``mutant_says``); at the points of ``power_grid`` it must fail (the check has power).
    ``alpha`` is the declared false-failure rate of one statistical assertion.
    ``regime(results)`` describes, in words, where the claim holds when it holds at some grid points only.
    ``modules`` lists the theory/impl modules the numbers depend on (for result caching).
    ``evidence`` names an evidence job (``assocmem.evidence``) whose latest record the claim's ``run`` reads instead
    of computing (trained-model grids and the like): the report then calls ``run`` in its own process, uncached,
    and the claim's section says whether the record is fresh or stale.
    """

    id: str
    title: str
    tag: str
    ref: str
    statement: str
    kind: str
    convention: str = ""
    formula: Callable[[], Any] | None = None
    derivation: Callable[[], Sequence[Step]] | None = None
    run: Callable[..., Result] | None = None
    mutant: Callable[..., Result] | None = None
    mutant_says: str = ""
    strategy: Callable[[], Any] | None = None
    grid: Sequence[Mapping[str, Any]] = ()
    quick_grid: Sequence[Mapping[str, Any]] | None = None
    power_grid: Sequence[Mapping[str, Any]] = ()
    alpha: float = 1e-6
    regime: Callable[[Sequence[Result]], str] | None = None
    devices: tuple[str, ...] = ("cpu", "cuda")
    modules: tuple[str, ...] = ()
    notes: str = ""
    evidence: str = ""

    def __post_init__(self):
        if not re.fullmatch(r"[CUD]\d+[a-z]?(\.[a-z0-9_]+)*", self.id):
            raise ValueError(f"claim id {self.id!r} must look like 'C4.probe_averaged' (C, U or D, a number, parts)")
        if self.tag not in TAGS:
            raise ValueError(f"claim {self.id}: tag must be one of {TAGS}, got {self.tag!r}")
        if self.kind not in KINDS:
            raise ValueError(f"claim {self.id}: kind must be one of {KINDS}, got {self.kind!r}")
        if self.kind == "statistical" and (self.mutant is None or not self.power_grid):
            raise ValueError(f"claim {self.id}: a statistical claim needs a mutant and a power_grid (power is part of the test)")
        if self.kind != "symbolic" and self.run is None:
            raise ValueError(f"claim {self.id}: kind {self.kind!r} needs a run callable")
        if self.kind == "symbolic" and self.derivation is None:
            raise ValueError(f"claim {self.id}: a symbolic claim needs a derivation")
        if not 0 < self.alpha < 0.5:
            raise ValueError(f"claim {self.id}: alpha must be in (0, 0.5)")

    def report_grid(self, quick: bool = False) -> Sequence[Mapping[str, Any]]:
        """The report's points: ``grid``, or with ``quick`` the ``quick_grid`` (default: the first two points)."""
        if quick:
            return self.quick_grid if self.quick_grid is not None else tuple(self.grid)[:2]
        return self.grid

    @property
    def group(self) -> str:
        """The docs/CLAIMS.md item this entry belongs to: 'C4' for 'C4.probe_averaged'."""
        return self.id.split(".", 1)[0]

    @property
    def part(self) -> str:
        return {"C": "I", "U": "II", "D": "III"}[self.id[0]]


@dataclass(frozen=True)
class Figure:
    """A report figure: ``compute(point, seed, *, device, dtype) -> list[dict]`` per point (pure, picklable by
    reference), then ``draw(rows) -> matplotlib.figure.Figure`` over all rows. ``claims`` lists the claim ids
    (or groups such as 'C4') whose sections show it."""

    id: str
    title: str
    claims: tuple[str, ...]
    points: Sequence[Mapping[str, Any]]
    compute: Callable[..., list[dict]]
    draw: Callable[[list[dict]], Any]
    caption: str = ""
    quick_points: Sequence[Mapping[str, Any]] | None = None
    modules: tuple[str, ...] = ()


@dataclass(frozen=True)
class Section:
    """Extra Markdown for the report, shown at the top of a docs/CLAIMS.md item's section (``group``, e.g. 'U1').
    ``render(verdicts)`` gets {claim id: (verdict, regime)} for every claim and returns Markdown
    (e.g. the paper's update table with each rule's verdicts)."""

    id: str
    group: str
    title: str
    render: Callable[[Mapping[str, tuple[str, str]]], str]


_CLAIMS: dict[str, Claim] = {}
_FIGURES: dict[str, Figure] = {}
_SECTIONS: dict[str, Section] = {}


def register(claim: Claim) -> Claim:
    if claim.id in _CLAIMS:
        raise ValueError(f"claim {claim.id!r} registered twice")
    _CLAIMS[claim.id] = claim
    return claim


def register_figure(figure: Figure) -> Figure:
    if figure.id in _FIGURES:
        raise ValueError(f"figure {figure.id!r} registered twice")
    _FIGURES[figure.id] = figure
    return figure


def register_section(section: Section) -> Section:
    if section.id in _SECTIONS:
        raise ValueError(f"section {section.id!r} registered twice")
    _SECTIONS[section.id] = section
    return section


def sections() -> list[Section]:
    _load()
    return list(_SECTIONS.values())


def _load() -> None:
    import assocmem.claims  # noqa: F401  (discovers and imports every claims module)


def _sort_key(claim_id: str) -> tuple:
    m = re.match(r"([CUD])(\d+)([a-z]?)", claim_id)
    return ("CUD".index(m.group(1)), int(m.group(2)), m.group(3))


def claims() -> list[Claim]:
    """Every registered claim, in docs/CLAIMS.md order (C1.., U1.., D1..; definition order within an item)."""
    _load()
    order = {cid: i for i, cid in enumerate(_CLAIMS)}
    return sorted(_CLAIMS.values(), key=lambda c: (_sort_key(c.id), order[c.id]))


def get(claim_id: str) -> Claim:
    _load()
    if claim_id not in _CLAIMS:
        from impl.numerics.errors import InputError

        raise InputError("claim", f"unknown claim {claim_id!r}; known: {', '.join(c.id for c in claims())}")
    return _CLAIMS[claim_id]


def figures() -> list[Figure]:
    _load()
    return list(_FIGURES.values())


def get_figure(figure_id: str) -> Figure:
    _load()
    return _FIGURES[figure_id]


def point_seed(key: str, params: Mapping[str, Any], base_seed: int) -> int:
    """A deterministic 32-bit seed for one grid point: stable across runs, machines and Python hash salts."""
    text = f"{key}|{sorted(params.items())!r}|{base_seed}"
    return zlib.crc32(text.encode()) & 0x7FFFFFFF


def verdict(claim: Claim, results: Sequence[Result]) -> tuple[str, str]:
    """(verdict, regime) over a claim's grid results: holds everywhere, fails everywhere, or holds in a regime.
    Results flagged ``not_run`` are left out (all of them: "not run", with the first one's note); results flagged
    ``inconclusive`` count neither way (all of them: "inconclusive"); a claim that holds at every conclusive point
    but has inconclusive ones holds only in that regime."""
    ran = [r for r in results if not r.not_run]
    if not ran:
        return "not run", (results[0].note if results else "")
    conclusive = [r for r in ran if not r.inconclusive]
    if not conclusive:
        return "inconclusive", f"no grid point was conclusive ({len(ran)} inconclusive)"
    passed = [r for r in conclusive if r.passed]
    unsure = len(ran) - len(conclusive)
    tail = f"; inconclusive at {unsure}/{len(ran)} grid points" if unsure else ""
    if len(passed) == len(ran):
        return "holds", "all grid points"
    if not passed:  # every conclusive point failed; the inconclusive ones are counted, never read as failures
        where = f"every conclusive grid point ({len(conclusive)}/{len(ran)})" if unsure else "every grid point"
        return "fails", f"fails at {where}" + tail
    regime = claim.regime(conclusive) if claim.regime else default_regime(conclusive)
    return "holds only in a regime", regime + tail


def default_regime(results: Sequence[Result]) -> str:
    """Name the passing points compactly: ``holds at 5/8 points: d_k=64 N=16; ...``."""
    ok = [r for r in results if r.passed]
    pts = "; ".join(" ".join(f"{k}={v}" for k, v in r.params.items()) for r in ok[:6])
    more = "" if len(ok) <= 6 else f"; ... ({len(ok) - 6} more)"
    return f"holds at {len(ok)}/{len(results)} grid points: {pts}{more}"


def fmt(x: float | None, digits: int = 4) -> str:
    """Format a number for a report: significant digits, never 'nan' without saying so."""
    if isinstance(x, float) and math.isnan(x):
        return "NaN (not computable)"
    if isinstance(x, float) and math.isinf(x):
        return "∞" if x > 0 else "-∞"
    from assocmem.numbers import significant

    return significant(x, digits)
