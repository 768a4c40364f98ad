"""The views of a capacity run: the JSON schema ``assocmem.capacity/1`` (``as_dict``), a table for people
(``text``) and a figure (``figure``: SNR^{-1} and recall against N, the user's memory beside the baselines).

Schema: {schema, quantity, parameters, memories: {user, linear, softmax: {label, capacity: {estimate, lo, hi, level,
note}, rows: [{n_pairs, snr: {convention: {estimate, lo, hi, level, n, exact, inside, method, note}},
predicted_recall: {estimate, lo, hi}, measured_recall: {estimate, lo, hi, level, trials, hits} | null}]}}}.
"""

from __future__ import annotations

from pathlib import Path

from assocmem import numbers
from assocmem.capacity.run import SCHEMA, CapacityResult, Curve
from assocmem.snr import QUANTITY, _entry, _wrap

TABLE_CONVENTION = "typical"


def _curve(c: Curve) -> dict:
    rows = []
    for r in c.rows:
        m = r.measured
        rows.append({"n_pairs": r.n_pairs,
                     "snr": {conv: _entry(x) for conv, x in r.snr.items()},
                     "predicted_recall": dict(zip(("estimate", "lo", "hi"), r.predicted)),
                     "measured_recall": None if m is None else {"estimate": m.value, "lo": m.lo, "hi": m.hi,
                                                                "level": m.level, "trials": m.n,
                                                                "hits": round(m.value * m.n)}})
    k = c.capacity
    return {"label": c.label, "capacity": {"estimate": k.estimate, "lo": k.lo, "hi": k.hi, "level": k.level,
                                           "note": k.note}, "rows": rows}


def as_dict(res: CapacityResult) -> dict:
    cfg = res.config
    params = {"path": cfg.path, "kind": cfg.kind, "d_k": cfg.d_k, "d_v": cfg.d_v, "n_pairs": list(cfg.n_pairs),
              "measure_at": list(cfg.measure_at), "trials": cfg.trials, "recall_trials": cfg.recall_trials,
              "seed": cfg.seed, "alpha": cfg.alpha, "interval_level": 1 - cfg.alpha, "recall_level": cfg.level}
    return {"schema": SCHEMA, "quantity": QUANTITY,
            "recall": "nearest stored value by cosine, one query per memory at a random stored position; predicted "
                      "by C10's Gaussian-crosstalk model from the conditional SNR^-1 averaged over the probe (update "
                      "rules: per query position); interval from the SNR^-1 interval's ends; measured with its "
                      "Clopper-Pearson interval",
            "parameters": params,
            "memories": {"user": _curve(res.user), **{k: _curve(v) for k, v in res.baselines.items()}}}


def _snr_cell(e: dict) -> str:
    if e["estimate"] is not None:
        est, lo, hi = numbers.measured(e["estimate"], e["lo"], e["hi"])
        return f"{est} [{lo}, {hi}]"
    if e["exact"] is not None:
        return numbers.significant(e["exact"])
    return "—"


def _recall_cell(e: dict | None, interval: bool = True) -> str:
    if e is None:
        return "·"
    if not interval or e["lo"] == e["hi"]:
        return f"{e['estimate']:.3f}"
    return f"{e['estimate']:.3f} [{e['lo']:.3f}, {e['hi']:.3f}]"


def _cap(k: dict) -> str:
    if k["estimate"] is None:
        return "none (" + k["note"] + ")"
    fmt = numbers.significant
    if k["lo"] == k["hi"] == k["estimate"]:
        return fmt(k["estimate"])
    hi = "∞)" if k["hi"] is None else fmt(k["hi"]) + "]"
    return f"{fmt(k['estimate'])} [{fmt(k['lo'])}, {hi}"


def text(res: dict, convention: str = TABLE_CONVENTION) -> str:
    """Two tables (SNR⁻¹ in one convention; recall predicted and measured) and the capacities, for people."""
    p = res["parameters"]
    mem = res["memories"]
    u, lin, sm = mem["user"], mem["linear"], mem["softmax"]
    lines = [f"capacity of {u['label']} (d_k = {p['d_k']}, d_v = {p['d_v']}) beside the linear memory and "
             f"{sm['label']}",
             f"SNR⁻¹ = E‖r‖² / (c² ‖v_i‖²) (larger is worse), {p['trials']} trials; recall from {p['recall_trials']} "
             f"memories per measured N; seed {p['seed']}; intervals at level {p['interval_level']:.10g} "
             f"(--alpha {p['alpha']:g})", ""]
    lines.append(f"SNR⁻¹, {convention} convention: estimate [interval] (exact where known)")
    lines.append(f"{'N':>8s}  {'user':38s} {'exact':>10s}  {'linear':>10s}  {'softmax':>10s}")
    for ru, rl, rs in zip(u["rows"], lin["rows"], sm["rows"]):
        e = ru["snr"][convention]
        lines.append(f"{ru['n_pairs']:>8d}  {_snr_cell({**e, 'exact': None}) if e['estimate'] is not None else '—':38s} "
                     f"{numbers.significant(e['exact']) if e['exact'] is not None else '—':>10s}  "
                     f"{_snr_cell(rl['snr'][convention]):>10s}  {_snr_cell(rs['snr'][convention]):>10s}")
    lines += ["", "recall: predicted [interval] from SNR⁻¹ (C10) · measured [Clopper-Pearson] (· not measured)"]
    lines.append(f"{'N':>8s}  {'user predicted':26s} {'user measured':26s} {'linear pred/meas':>18s}  "
                 f"{'softmax pred/meas':>18s}")
    for ru, rl, rs in zip(u["rows"], lin["rows"], sm["rows"]):
        def pm(r):
            return f"{r['predicted_recall']['estimate']:.3f}/" + (
                f"{r['measured_recall']['estimate']:.3f}" if r["measured_recall"] else "·")
        lines.append(f"{ru['n_pairs']:>8d}  {_recall_cell(ru['predicted_recall']):26s} "
                     f"{_recall_cell(ru['measured_recall']):26s} {pm(rl):>18s}  {pm(rs):>18s}")
    lines += ["", f"capacity, the largest N with predicted recall >= {p['recall_level']:g}:",
              f"  user     {_cap(u['capacity'])}", f"  linear   {_cap(lin['capacity'])}",
              f"  softmax  {_cap(sm['capacity'])}"]
    if u["capacity"]["note"]:
        lines += _wrap(f"note: {u['capacity']['note']}", "  ")
    return "\n".join(lines)


def figure(res: dict, path) -> None:
    """Two panels, SNR⁻¹ (typical convention) and recall against N on log N, the user's memory beside the
    baselines; written to ``path`` (its suffix names the format, .svg or .png)."""
    from assocmem.claims import _style

    mem = res["memories"]
    fig, (a1, a2), _ = _style.panels(2, height=3.4)
    names = (("user", mem["user"]["label"]), ("linear", "linear memory"), ("softmax", mem["softmax"]["label"]))
    ns = [r["n_pairs"] for r in mem["user"]["rows"]]
    handles = []
    for i, (key, label) in enumerate(names):
        rows = mem[key]["rows"]
        kw = _style.series(i)
        snr = [r["snr"][TABLE_CONVENTION] for r in rows]
        if key == "user":
            pts = [{**e, "x": r["n_pairs"]} for r, e in zip(rows, snr) if e["estimate"] is not None]
            _style.errbar(a1, [q["x"] for q in pts], pts, color=kw["color"], fmt=kw["marker"], ms=4)
            exact = [(r["n_pairs"], e["exact"]) for r, e in zip(rows, snr) if e["exact"] is not None]
            if exact:
                a1.plot(*zip(*exact), color=kw["color"], ls=kw["ls"], lw=1)
        else:
            pts = [(r["n_pairs"], e["exact"]) for r, e in zip(rows, snr) if e["exact"] is not None]
            if pts:
                a1.plot(*zip(*pts), color=kw["color"], ls=kw["ls"], lw=1.2)
        pred = [r["predicted_recall"] for r in rows]
        a2.plot(ns, [q["estimate"] for q in pred], color=kw["color"], ls=kw["ls"], lw=1.2)
        if key == "user":
            a2.fill_between(ns, [q["lo"] for q in pred], [q["hi"] for q in pred], color=kw["color"], alpha=0.2, lw=0)
        meas = [{**r["measured_recall"], "x": r["n_pairs"]} for r in rows if r["measured_recall"]]
        if meas:
            _style.errbar(a2, [q["x"] for q in meas], meas, color=kw["color"], fmt=kw["marker"], ms=4)
        handles.append((_style.handle(**kw), label))
    level = res["parameters"]["recall_level"]
    a2.axhline(level, color="0.5", lw=0.8, ls=":")
    for ax in (a1, a2):
        ax.set_xscale("log")
        _style.log_ticks(ax, "x", ns)
        ax.set_xlabel("N (stored pairs)")
    a1.set_yscale("log")
    a1.set_ylabel(f"{_style.SNR_INV}, {TABLE_CONVENTION} convention (larger is worse)")
    a2.set_ylabel("recall (nearest stored value)")
    a2.set_ylim(0, 1.02)
    a1.set_title(f"{_style.SNR_INV}: user estimate and interval, exact lines", fontsize=9)
    a2.set_title(f"recall: C10 prediction, measured; level {level:g} dotted", fontsize=9)
    from matplotlib.lines import Line2D

    extra = [(Line2D([], [], color="k", lw=1.2), "line: exact or predicted"),
             (Line2D([], [], color="k", marker="o", ms=4, ls="none"), "point and bar: estimate or measured, interval")]
    _style.shared_legend(fig, [h for h, _ in handles] + [h for h, _ in extra], [l for _, l in handles] + [l for _, l in extra],
                         ncol=2)
    _style.finish(fig, f"Capacity of {mem['user']['label']} (d_k = {res['parameters']['d_k']})")
    if str(path).endswith(".svg"):  # stable text SVG, as the report writes its figures
        import matplotlib

        from assocmem.report import _save_svg

        with matplotlib.rc_context({"svg.hashsalt": "assocmem", "svg.fonttype": "none"}):
            _save_svg(fig, Path(path))
    else:
        fig.savefig(path)
        _style.plt().close(fig)
