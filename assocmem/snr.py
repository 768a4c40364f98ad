"""``assocmem snr``: the retrieval SNR⁻¹ of one memory configuration by Monte Carlo, in every convention, beside
its exact value; one JSON schema for every memory (``SCHEMA``) and a table for people.

The quantity is always the inverse SNR, SNR⁻¹ = E_others ||r||² / (c² ||v_i||²) with S k_i = c v_i + r (paper
Eq. 4): larger is worse. Each convention (see docs/CLAIMS.md, C3) is one entry with the same fields whatever the
memory; a convention that was not estimated (its moment is infinite, or the memory does not define it) keeps the
fields, set to null, and its note says why.
"""

from __future__ import annotations

import textwrap
from dataclasses import asdict, dataclass

from assocmem import numbers
from impl.estimators.snr import estimate_snr
from impl.memories import catalog
from impl.memories.memory import Memory, SNRResult

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


def _entry(r: SNRResult) -> dict:
    """One convention's result in the schema (a view of ``impl.memories.memory.SNRResult``)."""
    return {"estimate": r.estimate, "lo": r.lo, "hi": r.hi, "level": r.level, "n": r.n, "exact": r.exact,
            "inside": r.inside, "method": r.method, "note": r.note, "details": dict(r.details)}


def memory(cfg: Config) -> Memory:
    """The memory the configuration names (impl.memories.catalog)."""
    return catalog.make(cfg.memory, kernel=cfg.kernel, tau=cfg.tau, p=cfg.p, s=cfg.s, m=cfg.m,
                        activation=cfg.activation)


def run(cfg: Config) -> dict:
    """The result in the common schema: {schema, quantity, memory, parameters, conventions, paper_asymptote,
    cos_proxy}: a view of ``impl.estimators.snr.estimate_snr`` and the memory's ``summary``."""
    mem = memory(cfg)
    res = estimate_snr(mem, cfg.n_pairs, cfg.d_k, cfg.d_v, cfg.trials, cfg.seed, conventions=cfg.conventions,
                       sampler=cfg.mode or "auto", alpha=cfg.alpha, device=cfg.device, dtype=cfg.dtype)
    params = {k: v for k, v in asdict(cfg).items() if k not in ("memory", "conventions")}
    params["level"] = 1 - cfg.alpha
    return {"schema": SCHEMA, "quantity": QUANTITY, "memory": cfg.memory, "parameters": params,
            "conventions": {c: _entry(r) for c, r in res.items()},
            **mem.summary(res, cfg.n_pairs, cfg.d_k, cfg.d_v)}


def _wrap(text: str, indent: str) -> list[str]:
    return textwrap.wrap(text, width=110, initial_indent=indent, subsequent_indent=indent + "  ") or [indent]


def text(res: dict) -> str:
    """A table for people: one row per convention, then the notes, wrapped."""
    p = res["parameters"]
    mem = memory(Config(memory=res["memory"], **{k: v for k, v in p.items() if k != "level"}))
    what = mem.title()
    kparams = ", ".join(f"{k} = {p[k]:g}" for k in ("tau", "p", "s", "m") if p.get(k) is not None)
    lines = [f"{what}{', ' + kparams if kparams else ''}: retrieval SNR⁻¹ = E‖r‖² / (c² ‖v_i‖²) (larger is worse), "
             "Monte Carlo against exact",
             f"N = {p['n_pairs']}, d_k = {p['d_k']}, d_v = {p['d_v']}, trials = {p['trials']}, seed = {p['seed']}, "
             f"{p['device']}/{p['dtype']}" + (f", mode {p['mode'] or 'auto'}" if mem.reports_mode else "")
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
