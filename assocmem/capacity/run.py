"""One capacity run: a user's memory against the linear memory and softmax attention at the same sizes.

For each N of the grid: SNR^{-1} in every convention (C3) with its interval and its exact value where one is known
(``impl.estimators.snr.estimate_snr`` on the wrapped memory; the baselines' closed forms, C4 and C7), the recall
predicted by C10's Gaussian-crosstalk model with its interval, and at a few N the measured MQAR-style recall with
its Clopper-Pearson interval; then the capacity, the largest N whose predicted recall is at least ``level``
(``impl.estimators.capacity``).

Softmax attention is the exp kernel at tau = sqrt(d_k) (C5, C8: the normaliser does not change the SNR or the
nearest-value decoding).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from impl.estimators import capacity as cap
from impl.estimators import recall_measured
from impl.estimators.recall_prediction import predicted_recall_from_s2, predicted_recall_kernel
from impl.estimators.snr import estimate_snr
from impl.estimators.stats import Estimate, binomial_interval
from impl.memories.kernel import KernelMemory
from impl.memories.linear import LinearMemory
from impl.memories.memory import CONVENTIONS, SNRResult
from impl.memories.user import KernelSumMemory

SCHEMA = "assocmem.capacity/1"
PREDICTION_CONVENTION = "probe_averaged"  # the SNR^{-1} whose interval gives the prediction's (C10)


@dataclass(frozen=True)
class Config:
    path: str
    kind: str
    d_k: int
    d_v: int
    n_pairs: tuple[int, ...]
    measure_at: tuple[int, ...]
    trials: int = 2000
    recall_trials: int = 1000
    seed: int = 0
    alpha: float = 1e-3
    level: float = 0.9


def default_grid(d_k: int) -> tuple[int, ...]:
    """Eight N, d_k / 8 to 16 d_k by factors of 2 (at least 2)."""
    return tuple(sorted({max(2, round(d_k * 2.0**j)) for j in range(-3, 5)}))


def default_measure_at(grid) -> tuple[int, ...]:
    """Three N of the grid: its first, middle and last."""
    g = sorted(grid)
    return tuple(sorted({g[0], g[len(g) // 2], g[-1]}))


@dataclass(frozen=True)
class Row:
    """One N: SNR^{-1} per convention, the predicted recall (value, lo, hi) and the measured recall (or None)."""

    n_pairs: int
    snr: dict
    predicted: tuple[float, float, float]
    measured: Estimate | None = None


@dataclass(frozen=True)
class Curve:
    """One memory's rows over the grid and its capacity."""

    name: str
    label: str
    rows: tuple[Row, ...]
    capacity: cap.Capacity

    def row(self, n_pairs: int) -> Row:
        return next(r for r in self.rows if r.n_pairs == n_pairs)


@dataclass(frozen=True)
class CapacityResult:
    """What ``measure`` returns (and the pytest fixture ``capacity.measure``): the user's curve beside the
    baselines' (``baselines["linear"]``, ``baselines["softmax"]``); ``as_dict`` is the JSON schema."""

    config: Config
    user: Curve
    baselines: dict = field(default_factory=dict)

    @property
    def capacity(self) -> cap.Capacity:
        return self.user.capacity

    def as_dict(self) -> dict:
        from assocmem.capacity.view import as_dict

        return as_dict(self)


def _progress(total: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="capacity", disable=not enabled, dynamic_ncols=True, leave=False)


def _exact_rows(memory, grid, d_k, d_v, probe) -> list[dict]:
    """The baselines' SNR^{-1}: closed forms (the conditional one at the user's probe, where it has one)."""
    rows = []
    for n in grid:
        snr = {}
        for conv in CONVENTIONS:
            why = memory.divergence(conv, d_k, d_v)
            if why:
                snr[conv] = SNRResult(method="none", note=f"infinite: needs {why}")
                continue
            kappa, nu = probe.get(conv, (None, None))
            if conv == "conditional" and kappa is None:
                snr[conv] = SNRResult(method="none", note="no probe to compare at")
                continue
            if conv == "typical":
                kappa, nu = float(d_k), float(d_v)
            snr[conv] = SNRResult(exact=memory.exact(conv, n, d_k, d_v, kappa, nu), method="exact")
        rows.append(snr)
    return rows


def _baseline(name, cfg, probe, bar) -> Curve:
    d_k, d_v = cfg.d_k, cfg.d_v
    tau = math.sqrt(d_k)
    if name == "linear":
        memory, kernel, label, kw = LinearMemory(), "linear", "linear memory", {}
    else:
        memory, kernel, label, kw = KernelMemory("exp", tau=tau), "exp", f"softmax attention (tau = sqrt(d_k) = {tau:.3g})", {"tau": tau}

    def predicted(n):
        return predicted_recall_kernel(kernel, n, d_k, d_v, **kw)

    rows = []
    for n, snr in zip(cfg.n_pairs, _exact_rows(memory, cfg.n_pairs, d_k, d_v, probe)):
        p = predicted(n)
        measured = None
        if n in cfg.measure_at:
            got = recall_measured.measure_recall("linear" if name == "linear" else "softmax", n, d_k, d_v,
                                                 cfg.recall_trials, cfg.seed + 2, tau=tau if name != "linear" else None)
            measured = binomial_interval(got["hits"], got["trials"], cfg.alpha)
            bar.update(1)
        rows.append(Row(n, snr, (p, p, p), measured))
    n_cap, note = cap.crossing(predicted, cfg.level, cfg.n_pairs[0])
    bar.update(1)
    return Curve(name, label, tuple(rows), cap.Capacity(n_cap, n_cap, n_cap, cfg.level, note))


def _user(memory, cfg, bar) -> Curve:
    d_k, d_v = cfg.d_k, cfg.d_v
    snrs = []
    for n in cfg.n_pairs:
        snrs.append(estimate_snr(memory, n, d_k, d_v, cfg.trials, cfg.seed, conventions=CONVENTIONS,
                                 alpha=cfg.alpha))
        bar.update(1)
    if isinstance(memory, KernelSumMemory):
        g = memory.probe_factors(d_k, cfg.seed).numpy()
        r0 = snrs[0][PREDICTION_CONVENTION]
        if not r0.estimated:  # infinite for this map (a linear map of rank <= 2): the other averaged convention
            r0 = snrs[0]["ratio_of_expectations"]
        lo_f, hi_f = max(r0.lo, 0.0) / r0.estimate, r0.hi / r0.estimate  # SNR^-1 >= 0

        def predicted(n, f=1.0):
            return cap.predicted_from_factors(g, n, d_v, f)

        preds = [(predicted(n), predicted(n, hi_f), predicted(n, lo_f)) for n in cfg.n_pairs]
        caps = [cap.crossing(predicted, cfg.level, cfg.n_pairs[0])]
        start = int(caps[0][0] or cfg.n_pairs[0])  # the ends' searches start from the central capacity
        caps += [cap.crossing(lambda n, f=f: predicted(n, f), cfg.level, start) if f > 0 else
                 (None, "the SNR⁻¹ interval reaches 0, so the capacity's interval has no upper end")
                 for f in (hi_f, lo_f)]
        note = "; ".join(dict.fromkeys(c[1] for c in caps if c[1]))
    else:  # an update rule: per-position ratios at each N (C10.delta)
        preds = []
        for n, s in zip(cfg.n_pairs, snrs):
            num, den = memory.positions[n]
            ratios = (num / den).numpy()
            roe = s["ratio_of_expectations"]
            preds.append(tuple(predicted_recall_from_s2(ratios * f, n, d_v)
                               for f in (1.0, roe.hi / roe.estimate, max(roe.lo, 0.0) / roe.estimate)))
        caps = [cap.interpolated(cfg.n_pairs, [p[i] for p in preds], cfg.level) for i in range(3)]
        note = "; ".join(dict.fromkeys(c[1] for c in caps if c[1]))
    bar.update(1)
    rows = []
    for n, s, p in zip(cfg.n_pairs, snrs, preds):
        measured = None
        if n in cfg.measure_at:
            measured = cap.measure_recall(memory.read, n, d_k, d_v, cfg.recall_trials, cfg.seed + 2, cfg.alpha,
                                          getattr(memory, "width", n))
            bar.update(1)
        rows.append(Row(n, dict(s), tuple(float(x) for x in p), measured))
    return Curve("user", memory.label(), tuple(rows), cap.Capacity(caps[0][0], caps[1][0], caps[2][0], cfg.level, note))


def run(memory, cfg: Config, progress: bool = False) -> CapacityResult:
    """The user's ``memory`` (already loaded and checked) and both baselines over ``cfg``'s grid."""
    with _progress(len(cfg.n_pairs) + 3 * len(cfg.measure_at) + 3, progress) as bar:
        user = _user(memory, cfg, bar)
        first = user.rows[0].snr
        probe = {c: (first[c].details.get("probe_kappa"), first[c].details.get("probe_nu")) for c in ("conditional",)
                 if first[c].details.get("probe_kappa") is not None}
        baselines = {name: _baseline(name, cfg, probe, bar) for name in ("linear", "softmax")}
    return CapacityResult(cfg, user, baselines)
