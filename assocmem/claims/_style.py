"""House style for the report's figures: titles, interval bars, legends that name every series and what lines and
points mean, and log axes whose tick labels do not collide. (A module whose name starts with '_' registers no
claims.)

Readable at page width: a figure is at most ``MAX_WIDTH`` inches wide (a Markdown page is about 880 px; at that
width the smallest text, 7 pt, is about 9 px high), so several panels wrap into rows of at most ``MAX_COLS``
(``panels``); and every series differs from the others by more than colour: its own marker, and where lines of
several series share an axis, its own line style (``series``)."""

from __future__ import annotations

import math

MAX_WIDTH = 9.0
"""inches: 648 pt; at 880 px of page width a 7 pt label is 9.5 px high."""
MAX_COLS = 2
MIN_FONT = 7.0
"""points: no text in a figure is smaller."""
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "*", "h")
LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 3)), (0, (8, 2)))


def series(i: int, *, colour: str | None = None, line: bool = True) -> dict:
    """Matplotlib keywords for the ``i``-th series of a figure: colour C<i> (or ``colour``), marker and, with
    ``line``, line style, each its own, so that a series can be told from the others without colour."""
    kw = dict(color=colour or f"C{i % 10}", marker=MARKERS[i % len(MARKERS)])
    if line:
        kw["ls"] = LINESTYLES[i % len(LINESTYLES)]
    return kw


def panels(n: int, *, height: float = 3.3, width: float = MAX_WIDTH, cols: int = MAX_COLS, sharey: bool = False,
           sharex: bool = False, legend_slot: bool = False):
    """A figure of ``n`` panels in rows of at most ``cols``: (fig, the n axes, the spare axes). With
    ``legend_slot`` one more slot is kept for the legend when the last row has room (it comes back, blank, among
    the spare axes); unused slots are hidden."""
    cols = max(1, min(cols, n + (1 if legend_slot else 0)))
    rows = math.ceil((n + (1 if legend_slot and n % cols else 0)) / cols)
    fig, axes = plt().subplots(rows, cols, figsize=(width, height * rows), squeeze=False, sharey=sharey,
                               sharex=sharex)
    flat = list(axes.flat)
    for ax in flat[n:]:
        ax.set_axis_off()
    return fig, flat[:n], flat[n:]

SNR_INV = "SNR⁻¹"  # Unicode superscripts: mathtext would shrink "-1" to 0.7 of a 7 pt legend


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


def handle(**kw):
    """A legend entry drawn like a series (``series(i)``): its colour, marker and line style."""
    from matplotlib.lines import Line2D

    kw.setdefault("ms", 5)
    return Line2D([], [], **kw)


def shared_legend(fig, handles, labels, spare=(), *, ncol: int = 2, **kw):
    """One legend for several panels: in the first spare panel of ``panels`` when there is one, else centred below
    the panels, the figure growing by the legend's height (``finish`` keeps that strip free)."""
    kw.setdefault("fontsize", MIN_FONT + 0.5)
    kw.setdefault("frameon", False)
    if spare:
        return spare[0].legend(handles, labels, loc="center", **kw)
    rows = math.ceil(len(labels) / ncol) + (1 if kw.get("title") else 0)
    strip = 0.17 * rows + 0.1
    fig.set_figheight(fig.get_figheight() + strip)
    fig._assocmem_bottom = strip / fig.get_figheight()
    return fig.legend(handles, labels, loc="lower center", ncol=ncol, **kw)


def finish(fig, title: str | None = None):
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0, getattr(fig, "_assocmem_bottom", 0), 1, 1))
    return fig
