"""Capacity of any memory with a read linear in the values: recall predicted from its SNR^{-1} by C10's
Gaussian-crosstalk model, recall measured on MQAR-style data, and the N at which the prediction falls below a level
(docs/CLAIMS.md C10).

Prediction (C10.recall, "conditional SNR averaged over the probe"): with rho the conditional SNR^{-1} at a probe,
delta^2 = d_v / rho and P(correct | delta) = int f_nct(t; d_v-1, delta) F_t(t / lambda; d_v-1)^{N-1} dt
(``impl.estimators.recall_prediction``), averaged over probes. For a kernel sum rho = (N - 1)(d_v / nu) g(k_i), so
the average runs over per-probe factors g (``KernelSumMemory.probe_factors``) and nu ~ chi^2_{d_v}; for an update
rule (C10.delta's convention) over the per-position ratios R_p = E[sum_{j != p} w_j^2] / E[w_p^2]. The prediction's
interval comes from the SNR^{-1} interval's ends: the factors scaled by lo / estimate and hi / estimate.

Measurement (``measure_recall``, as ``impl.estimators.recall_measured``): each trial writes N Gaussian pairs, reads
once at the key of a uniformly random stored position, decodes to the stored value of largest cosine; one query per
memory, so the hits are Bernoulli and the recall gets its exact Clopper-Pearson interval.

Capacity (``crossing``, ``interpolated``): the largest N whose predicted recall is at least ``level`` (predicted
recall falls with N), found by bisection over the integers where the prediction is a function of N (kernel sums;
exact below N = 100, within 1 % above), by interpolation in log N between grid points otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from impl.estimators.recall_prediction import predicted_recall_from_s2
from impl.estimators.sampling import batches
from impl.estimators.stats import Estimate, binomial_interval
from impl.numerics.device import generator

N_MAX = 2**30  # the largest capacity searched


def predicted_from_factors(factors, n_pairs: int, d_v: int, scale: float = 1.0) -> float:
    """C10's recall at N for a kernel sum: per-probe S2 = (N - 1) g scale, nu averaged over chi^2_{d_v}; a probe
    with no signal (g infinite: w(k_i, k_i) = 0) is recalled at chance, 1/N."""
    g = np.asarray(factors, dtype=float)
    finite = np.isfinite(g)
    if not finite.any():
        return 1 / n_pairs
    p = predicted_recall_from_s2(g[finite] * (n_pairs - 1) * scale, n_pairs, d_v)
    return float((p * finite.sum() + (1 / n_pairs) * (~finite).sum()) / g.size)


def measure_recall(read: Callable, n_pairs: int, d_k: int, d_v: int, trials: int, seed: int, alpha: float,
                   width: int = 0) -> Estimate:
    """Nearest-value recall of the memory whose ``read(K [t, N, d_k], V [t, N, d_v], Q [t, 1, d_k]) -> [t, 1, d_v]``
    writes the pairs and reads the query (module doc), with its Clopper-Pearson interval at level 1 - alpha
    (``width``: numbers per stored pair beyond key and value, e.g. its features, for the batch size)."""
    gen = generator(seed)
    hits = 0
    for t in batches(trials, n_pairs * (d_k + 2 * d_v + width), 2**22):
        K = torch.randn((t, n_pairs, d_k), generator=gen, dtype=torch.float64)
        V = torch.randn((t, n_pairs, d_v), generator=gen, dtype=torch.float64)
        pos = torch.randint(0, n_pairs, (t,), generator=gen)
        q = K[torch.arange(t), pos][:, None, :]
        o = read(K, V, q)[:, 0].double()
        cos = torch.nn.functional.normalize(V, dim=-1) @ o[:, :, None]
        hits += int((cos[..., 0].argmax(-1) == pos).sum())
    return binomial_interval(hits, trials, alpha)


@dataclass(frozen=True)
class Capacity:
    """The largest N with predicted recall >= level: ``estimate`` from the central prediction, ``lo`` from the
    prediction at the SNR^{-1} interval's upper end (worse), ``hi`` at its lower end; ``note`` says when a value
    is a bound (the crossing outside the range searched) or interpolated."""

    estimate: float | None
    lo: float | None
    hi: float | None
    level: float
    note: str = ""


def crossing(recall: Callable[[int], float], level: float, start: int, rel: float = 1e-2) -> tuple[float | None, str]:
    """The largest integer N >= 2 with recall(N) >= level, for recall non-increasing in N: doubling from ``start``
    up to N_MAX, then bisection until the bracket is narrower than max(1, ``rel`` N) (exact below 1/rel; above, the
    lower end of the bracket, within rel of the crossing). (None, why) when even N = 2 falls below."""
    if recall(2) < level:
        return None, "below the level already at N = 2"
    lo, hi = 2, max(start, 3)
    while recall(hi) >= level:
        lo, hi = hi, hi * 2
        if hi > N_MAX:
            return float(N_MAX), f"at least {N_MAX} (search limit)"
    while hi - lo > max(1, int(rel * lo)):
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if recall(mid) >= level else (lo, mid)
    return float(lo), ""


def interpolated(ns, recalls, level: float) -> tuple[float | None, str]:
    """The N where the recall, linear in log N between grid points, falls to ``level`` (the first crossing); a bound
    when it does not cross inside the grid."""
    ns, rs = list(ns), list(recalls)
    if rs[0] < level:
        return float(ns[0]), f"below the level already at the grid's first N = {ns[0]} (an upper bound)"
    for (n0, r0), (n1, r1) in zip(zip(ns, rs), zip(ns[1:], rs[1:])):
        if r1 < level:
            f = (r0 - level) / (r0 - r1)
            return float(math.exp(math.log(n0) + f * (math.log(n1) - math.log(n0)))), "interpolated in log N between grid points"
    return float(ns[-1]), f"above the level at the grid's last N = {ns[-1]} (a lower bound)"
