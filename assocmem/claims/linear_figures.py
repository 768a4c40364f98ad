"""Figures for C3-C4: SNR^{-1} of the linear memory against the load N/d_k, and retrieval quality."""

from __future__ import annotations

import math

from assocmem.registry import Figure, register_figure
from impl.estimators.snr import estimate_snr
from impl.estimators.snr_linear import decoding_accuracy
from impl.estimators.stats import binomial_interval
from impl.memories.linear import LinearMemory

SHOWN = ("probe_averaged", "ratio_of_expectations", "typical")
COLORS = {"probe_averaged": "tab:red", "ratio_of_expectations": "tab:blue", "typical": "tab:green"}
LINES = {"probe_averaged": "-", "ratio_of_expectations": "-.", "typical": ":"}  # each convention: colour and line style
MODULES = ("impl.estimators.snr_linear", "impl.memories.linear", "impl.estimators.catoni", "impl.estimators.kernel_moments",
           "impl.estimators.snr_kernel", "impl.estimators.snr_performer", "impl.memories.kernels", "impl.memories.memory",
           "impl.estimators.snr", "theory.snr_linear", "theory.moments")  # closed under imports: tests/test_report.py
LINEAR = LinearMemory()


def _trials(n, d, budget=1.5e8, lo=60, hi=1500):
    return int(max(lo, min(hi, budget / (4 * n * d * d))))


def compute_snr(point, seed, *, device="cpu", dtype="float64"):
    n, d = point["n_pairs"], point["d_k"]
    trials = point.get("trials") or _trials(n, d)
    res = estimate_snr(LINEAR, n, d, d, trials, seed, device=device, dtype=dtype, alpha=1e-3, conventions=SHOWN)
    return [{"d_k": d, "d_v": d, "n_pairs": n, "load": n / d, "convention": c, "estimate": res[c].estimate,
             "lo": res[c].lo, "hi": res[c].hi, "level": res[c].level,
             "trials": trials, "theory": res[c].exact, "paper_N_over_dk": n / d} for c in SHOWN]


def draw_snr(rows):
    import numpy as np
    from matplotlib.lines import Line2D

    from assocmem.claims import _style

    fig, (ax, ax2), _ = _style.panels(2, height=4.6)
    dks = sorted({r["d_k"] for r in rows})
    markers = dict(zip(dks, "os^Dv"))
    level = rows[0]["level"]
    for c in SHOWN:
        for d in dks:
            rs = sorted((r for r in rows if r["convention"] == c and r["d_k"] == d), key=lambda r: r["load"])
            if not rs:
                continue
            x = np.array([r["load"] for r in rs])
            _style.errbar(ax, x, rs, fmt=markers[d], color=COLORS[c], lw=0.8)
            xs = np.geomspace(x.min(), x.max(), 50)
            ax.plot(xs, [LINEAR.exact(c, xx * d, d, d) for xx in xs], color=COLORS[c], ls=LINES[c], lw=1, alpha=0.7)
    xs = np.geomspace(min(r["load"] for r in rows), max(r["load"] for r in rows), 50)
    ax.plot(xs, xs, "k--", lw=1.2)
    ax.set(xscale="log", yscale="log", xlabel="load N/d_k (d_v = d_k)", ylabel="SNR$^{-1}$",
           title="Measured (points) against exact (lines)")
    handles = [Line2D([], [], color=COLORS[c], ls=LINES[c], lw=1.5) for c in SHOWN]
    labels = [f"{c.replace('_', ' ')}" for c in SHOWN]
    handles += [Line2D([], [], color="k", ls="--", lw=1.2)] + [Line2D([], [], color="gray", marker=markers[d], ls="none")
                                                            for d in dks]
    labels += ["paper Eq. 7: N/d_k"] + [f"measured, d_k = {d} ({level:.1%})" for d in dks]
    ax.legend(handles, labels, fontsize=7, loc="upper left")
    load = 4
    ds = np.array(dks)
    dd = np.geomspace(max(3, ds.min()), ds.max(), 60)
    for c in SHOWN:
        ax2.plot(dd, [LINEAR.exact(c, load * x, x, x) / load for x in dd], color=COLORS[c], ls=LINES[c],
                 label=f"{c.replace('_', ' ')}")
        rs = [r for r in rows if r["convention"] == c and abs(r["load"] - load) < 1e-9]
        scaled = [dict(estimate=r["estimate"] / load, lo=r["lo"] / load, hi=r["hi"] / load) for r in rs]
        _style.errbar(ax2, [r["d_k"] for r in rs], scaled, color=COLORS[c])
    ax2.axhline(1, color="k", ls="--", lw=1, label="paper: 1")
    ax2.set(xscale="log", xlabel="d_k = d_v", ylabel="SNR$^{-1}$ / (N/d_k)", title=f"Ratio to N/d_k at N = {load} d_k")
    _style.key_legend(ax2, measured=f"measured ({level:.1%} interval)")
    return _style.finish(fig, "Linear memory: SNR$^{-1}$ against the load, three conventions (C4)")


register_figure(Figure(
    id="linear_snr", title="Linear-memory SNR^{-1} against N/d_k in three conventions", claims=("C4",),
    points=[{"n_pairs": int(m * d), "d_k": d} for d in (8, 32, 128) for m in (0.5, 1, 4, 16)],
    quick_points=[{"n_pairs": int(m * d), "d_k": d} for d in (8, 32) for m in (1, 4)],
    compute=compute_snr, draw=draw_snr, modules=MODULES,
    caption="Left: every convention's exact SNR^{-1} (lines) with Monte Carlo estimates (points, 99.9% intervals); the "
            "dashed line is the paper's N/d_k. Right: the ratio to N/d_k at N = 4 d_k: the probe-averaged convention "
            "stays far above 1 at small d (it diverges as d -> 2), the others approach 1 from below.",
))


def compute_retrieval(point, seed, *, device="cpu", dtype="float64"):
    n, d = point["n_pairs"], point["d_k"]
    trials = _trials(n, d, budget=5e7, lo=20, hi=400)
    res = estimate_snr(LINEAR, n, d, d, trials, seed, device=device, dtype=dtype, alpha=1e-3,
                       conventions=("ratio_of_expectations",))
    cos = res.extra["cos"]
    ok, tot = decoding_accuracy(n, d, d, max(2, trials // 4), seed + 1, device=device, dtype=dtype)
    acc = binomial_interval(ok, tot, alpha=1e-3)
    return [{"d_k": d, "n_pairs": n, "load": n / d, "cos": cos.value, "cos_lo": cos.lo, "cos_hi": cos.hi,
             "proxy": 1 / math.sqrt(1 + LINEAR.exact("typical", n, d, d)), "accuracy": acc.value,
             "acc_lo": acc.lo, "acc_hi": acc.hi, "decoded": tot}]


def draw_retrieval(rows):
    from assocmem.claims import _style

    fig, (ax, ax2), _ = _style.panels(2, height=4.6)
    for j, (d, col) in enumerate(zip(sorted({r["d_k"] for r in rows}), ("tab:purple", "tab:orange", "tab:cyan", "tab:olive"))):
        st = _style.series(j, colour=col)
        rs = sorted((r for r in rows if r["d_k"] == d), key=lambda r: r["load"])
        x = [r["load"] for r in rs]
        _style.errbar(ax, x, rs, y="cos", lo="cos_lo", hi="cos_hi", color=col, fmt=st["marker"],
                      label=f"measured, d_k = d_v = {d}")
        ax.plot(x, [r["proxy"] for r in rs], color=col, lw=1, ls="--", marker=st["marker"], mfc="white", ms=5,
                label=f"proxy, d_k = d_v = {d}")
        _style.errbar(ax2, x, rs, y="accuracy", lo="acc_lo", hi="acc_hi", fmt=st["marker"], ls=st["ls"], color=col,
                      label=f"d_k = d_v = {d}")
    ax.set(xscale="log", xlabel="load N/d_k", ylabel="mean cos(o_i, v_i) over probes",
           title="Cosine against the proxy 1/sqrt(1 + SNR$^{-1}$)")
    ax.legend(fontsize=7, title="filled, with 99.9% intervals: measured;\nopen, dashed: proxy (typical convention)",
              title_fontsize=7)
    ax2.set(xscale="log", xlabel="load N/d_k", ylabel="fraction of probes decoded correctly", ylim=(-0.02, 1.02),
            title="Decoding to the nearest stored value")
    ax2.legend(fontsize=7, title="99.9% Clopper-Pearson intervals", title_fontsize=7)
    return _style.finish(fig, "Retrieval quality of the linear memory (C3)")


register_figure(Figure(
    id="linear_retrieval", title="Retrieval quality of the linear memory", claims=("C3.cos_proxy",),
    points=[{"n_pairs": int(m * d), "d_k": d} for d in (16, 64, 256) for m in (0.25, 1, 4, 16)],
    quick_points=[{"n_pairs": int(m * d), "d_k": d} for d in (16, 64) for m in (1, 4)],
    compute=compute_retrieval, draw=draw_retrieval, modules=MODULES + ("impl.estimators.stats",),
    caption="Left: measured mean cosine between read-out and target (points) against the proxy 1/sqrt(1 + SNR^{-1}) "
            "(typical convention, dashed). Right: accuracy of decoding each read-out to the most similar stored value.",
))
