"""House style for the report's figures: titles, interval bars, legends that name every series and what lines and
points mean, and log axes whose tick labels do not collide. (A module whose name starts with '_' registers no
claims.)"""

from __future__ import annotations

SNR_INV = "SNR$^{-1}$"


def plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def errbar(ax, xs, rows, *, y="estimate", lo="lo", hi="hi", **kw):
    """Measured points with their interval bars (asymmetric; a bar never reaches below zero on a log axis)."""
    ys = [r[y] for r in rows]
    below = [max(r[y] - r[lo], 0) for r in rows]
    above = [max(r[hi] - r[y], 0) for r in rows]
    kw.setdefault("fmt", "o")
    kw.setdefault("ms", 4)
    kw.setdefault("capsize", 2)
    kw.setdefault("lw", 1)
    return ax.errorbar(xs, ys, yerr=[below, above], **kw)


def key_legend(ax, *, exact: bool = True, measured: str | None = "measured", extra=(), outside: bool = False,
               handles=None, labels=None, **kw):
    """A legend with the axis' own series (or ``handles``/``labels``) plus black entries saying what a line and a
    point mean; ``outside`` puts it to the right of the axes, clear of the data."""
    from matplotlib.lines import Line2D

    if handles is None:
        handles, labels = ax.get_legend_handles_labels()
    handles, labels = list(handles), list(labels)
    if outside:
        kw.update(loc="upper left", bbox_to_anchor=(1.02, 1), borderaxespad=0)
    if exact:
        handles.append(Line2D([], [], color="k", lw=1.2))
        labels.append("line: exact")
    if measured:
        handles.append(Line2D([], [], color="k", marker="o", ms=4, ls="none"))
        labels.append(f"point and bar: {measured}")
    for h, label in extra:
        handles.append(h)
        labels.append(label)
    kw.setdefault("fontsize", 7)
    return ax.legend(handles, labels, **kw)


def log_ticks(ax, axis: str, values) -> None:
    """A log axis labelled at ``values`` in plain numbers, with unlabelled minor ticks (no colliding labels)."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    a = ax.xaxis if axis == "x" else ax.yaxis
    a.set_major_locator(FixedLocator(sorted(set(values))))
    a.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    a.set_minor_formatter(NullFormatter())


def finish(fig, title: str | None = None):
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig
