"""Capacity of any memory: a researcher's own feature map, kernel or update rule measured against the theory
(docs/CAPACITY.md).

    from assocmem.capacity import measure
    res = measure("mypkg.maps:phi", kind="feature_map", d_k=64)     # -> CapacityResult
    res.capacity.estimate, res.capacity.lo, res.capacity.hi          # largest N with predicted recall >= 0.9
    res.user.row(64).snr["typical"], res.baselines["linear"].row(64).predicted

From the command line, ``assocmem capacity PATH --kind feature_map|kernel|memory --d-k D`` (table, ``--json``,
``--out DIR`` for the figure and the JSON); from pytest, the ``capacity`` fixture of this package's plugin.
``load`` (resolving and checking the user's code), ``run`` (the measurement), ``view`` (schema, table, figure).
"""

from __future__ import annotations

from assocmem.capacity.load import KINDS, load
from assocmem.capacity.run import SCHEMA, CapacityResult, Config, default_grid, default_measure_at, run
from impl.numerics.errors import InputError, require_positive_int


def config(path: str, kind: str = "feature_map", *, d_k: int, d_v: int | None = None, n_pairs=None, measure_at=None,
           trials: int | None = None, recall_trials: int = 1000, seed: int = 0, alpha: float = 1e-3,
           level: float = 0.9) -> Config:
    """A checked configuration (every size an integer in range; InputError naming the parameter otherwise).
    ``trials`` defaults to 2000 for a feature map or kernel (estimated once for every N) and to 200 for an update
    rule (simulated at every N, N^2 weights per trial)."""
    if trials is None:
        trials = 200 if kind == "memory" else 2000
    d_k = require_positive_int("d_k", d_k)
    d_v = require_positive_int("d_v", max(d_k, 3) if d_v is None else d_v, 3)
    grid = tuple(sorted(set(default_grid(d_k) if n_pairs is None else
                            (require_positive_int("n_pairs", n, 2) for n in n_pairs))))
    if not grid:
        raise InputError("n_pairs", "needs at least one N >= 2")
    at = default_measure_at(grid) if measure_at is None else tuple(sorted(set(measure_at)))
    for n in at:
        require_positive_int("measure_at", n, 2)
        if n not in grid:
            raise InputError("measure_at", f"every N measured must be one of the grid's (--n-pairs), got {n}")
    if not (isinstance(level, float) and 0 < level < 1):
        raise InputError("level", f"must be a number in (0, 1), got {level!r}")
    if not (isinstance(alpha, float) and 0 < alpha < 0.5):
        raise InputError("alpha", f"must be a number in (0, 0.5), got {alpha!r}")
    return Config(path, kind, d_k, d_v, grid, at, require_positive_int("trials", trials, 2),
                  require_positive_int("recall_trials", recall_trials, 1), seed, alpha, level)


def measure(path: str, kind: str = "feature_map", *, d_k: int, progress: bool = False, **kw) -> CapacityResult:
    """Load and check the memory at ``path`` (MODULE:ATTRIBUTE), then run the capacity measurement (``config``'s
    keywords: d_v, n_pairs, measure_at, trials, recall_trials, seed, alpha, level)."""
    cfg = config(path, kind, d_k=d_k, **kw)
    memory, features = load(path, kind, cfg.d_k, cfg.d_v)
    from assocmem.capacity.sizes import require_fits

    require_fits(cfg, features, kind == "memory")
    return run(memory, cfg, progress=progress)


__all__ = ["KINDS", "SCHEMA", "CapacityResult", "Config", "config", "load", "measure", "run"]
