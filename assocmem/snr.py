"""``assocmem snr``: the retrieval SNR⁻¹ of one memory configuration by Monte Carlo, in every convention, beside
its exact value; one JSON schema for every memory (``SCHEMA``) and a table for people.

The quantity is always the inverse SNR, SNR⁻¹ = E_others ||r||² / (c² ||v_i||²) with S k_i = c v_i + r (paper
Eq. 4): larger is worse. Each convention (see docs/CLAIMS.md, C3) is one entry with the same fields whatever the
memory; a convention that was not estimated (its moment is infinite, or the memory does not define it) keeps the
fields, set to null, and its note says why.
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import asdict, dataclass

from assocmem import numbers

SCHEMA = "assocmem.snr/1"
QUANTITY = "SNR^-1 = E_others ||r||^2 / (c^2 ||v_i||^2), S k_i = c v_i + r (paper Eq. 4); larger is worse"
FIELDS = ("estimate", "lo", "hi", "level", "n", "exact", "inside", "method", "note", "details")

# Kernel parameters: which kernels use each, and what it is (for required-flag messages).
KERNEL_PARAMS = {
    "tau": (("exp", "performer_positive", "performer_trig"), "the temperature, a finite number > 0 (> 2 for the "
            "Performer kernels; the exp kernel's SNR optimum is 2, softmax attention uses sqrt(d_k))"),
    "p": (("poly",), "the degree, an integer >= 1"),
    "s": (("rbf",), "the bandwidth, a finite number > 0"),
    "m": (("performer_positive", "performer_trig"), "the number of random features, an integer >= 1"),
}


@dataclass(frozen=True)
class Config:
    memory: str
    n_pairs: int
    d_k: int
    d_v: int
    trials: int
    seed: int
    alpha: float
    device: str
    dtype: str
    conventions: tuple[str, ...] | None = None  # None: every finite one
    kernel: str | None = None
    tau: float | None = None
    p: int | None = None
    s: float | None = None
    m: int | None = None
    mode: str | None = None
    activation: str | None = None


def _entry(estimate=None, lo=None, hi=None, level=None, n=None, exact=None, method="", note="", details=None) -> dict:
    inside = None if (exact is None or lo is None or hi is None) else bool(lo <= exact <= hi)
    return {"estimate": estimate, "lo": lo, "hi": hi, "level": level, "n": n, "exact": exact, "inside": inside,
            "method": method, "note": note, "details": details or {}}


def _linear(cfg: Config) -> tuple[dict, dict]:
    from impl.estimators.snr_linear import CONVENTIONS, estimate_linear_snr

    conventions = cfg.conventions or CONVENTIONS
    out = {}
    if cfg.conventions is None and (cfg.d_k <= 2 or cfg.d_v <= 2):
        conventions = tuple(c for c in conventions if c != "probe_averaged")
        out["probe_averaged"] = _entry(note="infinite for d_k <= 2 or d_v <= 2 (E[1/chi^2_d] needs d > 2): not estimated")
    res = estimate_linear_snr(cfg.n_pairs, cfg.d_k, cfg.d_v, cfg.trials, cfg.seed, device=cfg.device, dtype=cfg.dtype,
                              alpha=cfg.alpha, conventions=conventions)
    for conv in conventions:
        r = res[conv]
        e = r["estimate"]
        details = {k: r[k] for k in ("kappa", "nu") if k in r}
        out[conv] = _entry(e.value, e.lo, e.hi, e.level, e.n, r["theory"], "plain", r.get("note", ""), details)
    extra = {"paper_asymptote": {"formula": "N/d_k", "value": cfg.n_pairs / cfg.d_k}, "cos_proxy": None}
    if "cos" in res:
        c = res["cos"]["estimate"]
        typical = (cfg.n_pairs - 1) / cfg.d_k
        extra["cos_proxy"] = {"estimate": c.value, "lo": c.lo, "hi": c.hi, "level": c.level, "n": c.n,
                              "proxy": 1 / math.sqrt(1 + typical),
                              "note": "mean over probes of cos(o_i, v_i) against 1/sqrt(1 + SNR^-1), typical convention"}
    return out, extra


def _kernel(cfg: Config) -> dict:
    from impl.estimators.snr_kernel import CONVENTIONS, estimate_kernel_snr

    extra = {k: getattr(cfg, k) for k in ("tau", "p", "s", "m") if getattr(cfg, k) is not None}
    res = estimate_kernel_snr(cfg.kernel, cfg.n_pairs, cfg.d_k, cfg.d_v, cfg.trials, cfg.seed, device=cfg.device,
                              dtype=cfg.dtype, alpha=cfg.alpha, mode=cfg.mode or "auto",
                              conventions=cfg.conventions or CONVENTIONS, **extra)
    return {conv: _from_estimator(r) for conv, r in res.items()}


def _ffn(cfg: Config) -> dict:
    from impl.memories.ffn import FFN_CONVENTIONS, estimate_ffn_snr

    res = estimate_ffn_snr(cfg.activation, cfg.n_pairs, cfg.d_k, cfg.d_v, cfg.trials, cfg.seed, device=cfg.device,
                           dtype=cfg.dtype, alpha=cfg.alpha)
    return {conv: _from_estimator(res[conv]) for conv in (cfg.conventions or FFN_CONVENTIONS)}


def _from_estimator(r: dict) -> dict:
    """A kernel or FFN estimator's convention dict in the common schema (its other fields go to ``details``)."""
    est = r.get("estimate")
    if isinstance(est, dict):  # some estimators nest the interval
        r = {**r, **{k: est.get(k2) for k, k2 in (("lo", "lo"), ("hi", "hi"), ("level", "level"), ("n", "n"))}}
        est = est.get("value")
    known = {"estimate", "lo", "hi", "level", "n", "theory", "mode_used", "note", "infinite"}
    details = {k: v for k, v in r.items() if k not in known}
    return _entry(est, r.get("lo"), r.get("hi"), r.get("level"), r.get("n"), r.get("theory"),
                  r.get("mode_used", ""), r.get("note", ""), details)


def run(cfg: Config) -> dict:
    """The result in the common schema: {schema, quantity, memory, parameters, conventions, paper_asymptote,
    cos_proxy}."""
    extra = {"paper_asymptote": None, "cos_proxy": None}
    if cfg.memory == "linear":
        conv, extra = _linear(cfg)
    elif cfg.memory == "kernel":
        conv = _kernel(cfg)
    else:
        conv = _ffn(cfg)
    params = {k: v for k, v in asdict(cfg).items() if k not in ("memory", "conventions")}
    params["level"] = 1 - cfg.alpha
    return {"schema": SCHEMA, "quantity": QUANTITY, "memory": cfg.memory, "parameters": params,
            "conventions": conv, **extra}


def _wrap(text: str, indent: str) -> list[str]:
    return textwrap.wrap(text, width=110, initial_indent=indent, subsequent_indent=indent + "  ") or [indent]


def text(res: dict) -> str:
    """A table for people: one row per convention, then the notes, wrapped."""
    p = res["parameters"]
    what = {"linear": "linear memory", "kernel": f"kernel memory, kernel {p['kernel']}",
            "ffn": f"FFN memory, activation {p['activation']}"}[res["memory"]]
    kparams = ", ".join(f"{k} = {p[k]:g}" for k in ("tau", "p", "s", "m") if p.get(k) is not None)
    lines = [f"{what}{', ' + kparams if kparams else ''}: retrieval SNR⁻¹ = E‖r‖² / (c² ‖v_i‖²) (larger is worse), "
             "Monte Carlo against exact",
             f"N = {p['n_pairs']}, d_k = {p['d_k']}, d_v = {p['d_v']}, trials = {p['trials']}, seed = {p['seed']}, "
             f"{p['device']}/{p['dtype']}" + (f", mode {p['mode'] or 'auto'}" if res["memory"] == "kernel" else "")
             + f"; intervals at level {p['level']:.10g} (--alpha {p['alpha']:g})",
             "",
             f"{'convention':24s} {'SNR⁻¹ estimate':>15s}  {'interval':24s} {'exact':>11s}  inside",
             ]
    notes = []
    for conv, r in res["conventions"].items():
        if r["estimate"] is None:
            lines.append(f"{conv:24s} {'—':>15s}  {'—':24s} {numbers.significant(r['exact']):>11s}  —")
        else:
            est, lo, hi = numbers.measured(r["estimate"], r["lo"], r["hi"])
            inside = {True: "yes", False: "NO", None: "—"}[r["inside"]]
            lines.append(f"{conv:24s} {est:>15s}  {'[' + lo + ', ' + hi + ']':24s} "
                         f"{numbers.significant(r['exact']):>11s}  {inside}")
        if r["note"]:
            notes.append((conv, r["note"]))
    if res.get("paper_asymptote"):
        a = res["paper_asymptote"]
        lines.append(f"{'paper Eq. 7: ' + a['formula']:24s} {numbers.significant(a['value']):>15s}  "
                     "(the asymptote every convention tends to)")
    if res.get("cos_proxy"):
        c = res["cos_proxy"]
        est, lo, hi = numbers.measured(c["estimate"], c["lo"], c["hi"])
        lines.append(f"cos(o_i, v_i): {est} [{lo}, {hi}] against the proxy 1/sqrt(1 + SNR⁻¹ typical) = "
                     f"{numbers.significant(c['proxy'])} (C3)")
    if notes:
        lines += ["", "notes:"]
        for conv, note in notes:
            lines += _wrap(f"{conv}: {note}", "  ")
    return "\n".join(lines)
