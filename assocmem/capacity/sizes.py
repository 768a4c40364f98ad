"""Whether a capacity run fits in memory, checked before it starts (``assocmem.inputs.require_memory``)."""

from __future__ import annotations

from assocmem import inputs
from impl.numerics.errors import InputError

RECALL_LIMIT = 2**26  # impl.estimators.recall_measured's limit on one baseline memory, N (d_k + d_v) numbers


def run_bytes(cfg, features: int, rule: bool) -> int:
    """One trial's memory at the largest N that is written: N keys, values, features and read-outs (and the N x N
    weights of an update rule at every N of the grid), float64, twice over for temporaries."""
    n_meas = max(cfg.measure_at)
    n_rule = max(cfg.n_pairs) if rule else 0
    per = n_meas * (cfg.d_k + 2 * cfg.d_v + features) + n_rule * (cfg.d_k + 2 * n_rule)
    return 2 * 8 * per


def require_fits(cfg, features: int, rule: bool) -> None:
    n_meas = max(cfg.measure_at)
    if n_meas * (cfg.d_k + cfg.d_v) > RECALL_LIMIT:
        raise InputError("--measure-at", f"a measured memory of N = {n_meas} pairs holds N (d_k + d_v) = "
                                         f"{n_meas * (cfg.d_k + cfg.d_v)} numbers, more than {RECALL_LIMIT}; "
                                         "measure at smaller N")
    flag = "--n-pairs" if rule else "--measure-at"
    inputs.require_memory(run_bytes(cfg, features, rule), flag,
                          f"one trial at N = {max(cfg.n_pairs) if rule else n_meas}, d_k = {cfg.d_k}, "
                          f"d_v = {cfg.d_v}" + (f", {features} features" if features else ""))
