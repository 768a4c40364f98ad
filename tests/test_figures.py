"""The report's figures as a reader gets them: every committed SVG renders in a real SVG renderer (rsvg-convert,
Debian package librsvg2-bin; Python's XML parser accepts files that browsers refuse), and the figure stabiliser
(``report.stable_svg``) changes only layout numbers, never the XML declaration or any other attribute."""

from __future__ import annotations

import io
import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from assocmem import report

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = sorted((ROOT / "reports" / "figures").glob("*.svg")) + sorted((ROOT / "reports" / "quick" / "figures").glob("*.svg"))
RSVG = shutil.which("rsvg-convert")
NO_RSVG = "rsvg-convert is not installed (Debian/Ubuntu: apt-get install librsvg2-bin; .ci/run tries this as root)"


def _render(svg: Path, png: Path, width: int | None = None) -> subprocess.CompletedProcess:
    cmd = [RSVG, str(svg), "-o", str(png)] + (["-w", str(width)] if width else [])
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def _png_size(png: Path) -> tuple[int, int]:
    head = png.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", head[16:24])


def test_there_are_committed_figures():
    assert len(COMMITTED) >= 2 * 17, [p.name for p in COMMITTED]


@pytest.mark.skipif(RSVG is None, reason=NO_RSVG)
@pytest.mark.parametrize("svg", COMMITTED, ids=lambda p: str(p.relative_to(ROOT)))
def test_committed_figure_renders(svg, tmp_path):
    """A renderer that browsers agree with draws the figure: exit 0 and a PNG of the figure's own size."""
    png = tmp_path / "f.png"
    out = _render(svg, png)
    assert out.returncode == 0, f"{svg.relative_to(ROOT)} does not render: {out.stderr.strip()}"
    w, h = _png_size(png)
    root = ET.parse(svg).getroot()
    pt = [float(root.get(k).removesuffix("pt")) for k in ("width", "height")]
    # rsvg renders at 96 dpi: 1 pt = 4/3 px
    assert abs(w - pt[0] * 4 / 3) <= 1 and abs(h - pt[1] * 4 / 3) <= 1, ((w, h), pt)


def _fresh_figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matplotlib.rcParams.update({"svg.hashsalt": "assocmem", "svg.fonttype": "none"})
    fig, ax = plt.subplots(figsize=(3.3, 2.1))
    xs = [1, 3, 10, 30]
    ax.errorbar(xs, [0.1234567, 0.2345678, 0.3456789, 0.4567891], yerr=[0.01, 0.02, 0.03, 0.04], fmt="o", ls="--",
                label="dashed with markers")
    ax.plot(xs, [1 / 3, 2 / 3, 1.0, 4 / 3], ls=":", marker="s", label="dotted")
    ax.set_xscale("log")
    ax.set_title("a fresh figure 1.5")
    ax.legend(fontsize=7)
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    return buf.getvalue()


def _numbers(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", text)]


def test_stabiliser_keeps_declaration_and_non_geometry_attributes():
    """On a figure drawn now (not the committed files): the first line is matplotlib's XML declaration byte for
    byte; every element and attribute survives; attributes outside the geometry list are unchanged (up to the
    renumbered ids), geometry numbers move by at most 0.0005 (rounding to 0.001)."""
    raw = _fresh_figure()
    stable = report.stable_svg(raw)
    assert raw.startswith('<?xml version="1.0"')
    assert stable.splitlines()[0] == raw.splitlines()[0]
    assert stable.split("<svg", 1)[0] == raw.split("<svg", 1)[0]  # declaration and doctype
    a, b = ET.fromstring(raw.encode()), ET.fromstring(stable.encode())
    pairs = list(zip(a.iter(), b.iter()))
    assert len(pairs) == len(list(a.iter())) == len(list(b.iter()))
    ids = {ea.get("id"): eb.get("id") for ea, eb in pairs if ea.get("id") is not None}
    rounded = 0
    for ea, eb in pairs:
        assert ea.tag == eb.tag and set(ea.attrib) == set(eb.attrib) and (ea.text or "") == (eb.text or "")
        for k, va in ea.attrib.items():
            vb = eb.get(k)
            if k in report.SVG_GEOMETRY:
                na, nb = _numbers(va), _numbers(vb)
                assert len(na) == len(nb) and all(abs(x - y) <= 0.0005 + 1e-12 for x, y in zip(na, nb)), (k, va, vb)
                rounded += va != vb
            else:
                for old, new in ids.items():
                    va = va.replace(old, new) if old and old != new else va
                assert va == vb, (ea.tag, k, ea.get(k), vb)
    assert rounded > 0  # the figure has unrounded layout numbers, so the check above saw rounding happen


def test_stabiliser_is_idempotent_and_deterministic():
    raw = _fresh_figure()
    once = report.stable_svg(raw)
    assert report.stable_svg(once) == once
    assert report.stable_svg(_fresh_figure()) == once


@pytest.mark.skipif(RSVG is None, reason=NO_RSVG)
def test_fresh_stabilised_figure_renders(tmp_path):
    svg, png = tmp_path / "f.svg", tmp_path / "f.png"
    svg.write_text(report.stable_svg(_fresh_figure()))
    out = _render(svg, png)
    assert out.returncode == 0, out.stderr


# ---- readable at page width: drawn from the committed quick data, and as committed --------------------------------

PAGE_PX = 880  # a Markdown page's width
MIN_PX = 9.0  # the smallest text a reader can read there
MIN_MARKER = 4.0  # points: a marker that tells a series apart must be big enough to see its shape


def _value(text: str):
    if text == "":
        return None
    if text in ("True", "False"):
        return text == "True"
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    try:
        return float(text)
    except ValueError:
        return text


def _quick_rows(figure_id: str) -> list[dict]:
    import csv

    with open(ROOT / "reports" / "quick" / "data" / f"{figure_id}.csv", newline="") as f:
        return [{k: _value(v) for k, v in r.items()} for r in csv.DictReader(f)]


def _figures():
    from assocmem import registry

    return registry.figures()


def _is_key_colour(colour) -> bool:
    """Black and greys: the entries that say what a line, a point or a band means, not a series."""
    from matplotlib.colors import to_rgb

    r, g, b = to_rgb(colour)
    return abs(r - g) < 1e-6 and abs(g - b) < 1e-6


def _legend_entries(fig):
    """Per legend: (text, colour, (marker, line style, filled)) of every entry drawn with lines, read from the
    legend's own drawing of the entry (an error-bar entry is a line, a marker and bars)."""
    from matplotlib.lines import Line2D
    from matplotlib.offsetbox import DrawingArea, HPacker, TextArea

    none = ("None", "none", "", " ")
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    for leg in legends:
        entries = []
        for box in leg.findobj(HPacker):
            kids = box.get_children()
            if len(kids) != 2 or not isinstance(kids[0], DrawingArea) or not isinstance(kids[1], TextArea):
                continue
            lines = [a for a in kids[0].get_children() if isinstance(a, Line2D)]
            if not lines:
                continue
            marked = [ln for ln in lines if str(ln.get_marker()) not in none + ("_", "|")]  # not the bars' caps
            styled = [ln for ln in lines if str(ln.get_linestyle()) not in none]
            marker = str(marked[0].get_marker()) if marked else ""
            ls = str(styled[0].get_linestyle()) if styled else ""
            filled = bool(marked) and marked[0].get_markerfacecolor() not in ("none", "white", (1.0, 1.0, 1.0, 1.0))
            if marked:
                assert marked[0].get_markersize() >= MIN_MARKER, (kids[1].get_text(), marked[0].get_markersize())
            entries.append((kids[1].get_text(), lines[0].get_color(), (marker, ls, filled)))
        yield leg, entries


@pytest.mark.parametrize("figure", _figures(), ids=lambda f: f.id)
def test_figure_is_readable_at_page_width(figure):
    """Drawn from the committed quick data: at most MAX_WIDTH inches wide, panels in rows of at most MAX_COLS, no
    text below MIN_FONT points, and no two legend entries of different colours that look alike without colour."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from assocmem.claims import _style

    fig = figure.draw(_quick_rows(figure.id))
    try:
        fig.canvas.draw()
        assert fig.get_figwidth() <= _style.MAX_WIDTH + 1e-9, fig.get_figwidth()
        rows: dict[float, int] = {}
        for ax in fig.axes:
            if ax.axison and ax.get_visible():
                y = round(ax.get_position().y0, 3)
                rows[y] = rows.get(y, 0) + 1
        assert max(rows.values()) <= _style.MAX_COLS, rows
        small = {t.get_text(): t.get_fontsize() for t in fig.findobj(matplotlib.text.Text)
                 if t.get_text().strip() and t.get_visible() and t.get_fontsize() < _style.MIN_FONT}
        assert not small, small
        for leg, entries in _legend_entries(fig):
            for i, (ta, ca, ka) in enumerate(entries):
                for tb, cb, kb in entries[i + 1:]:
                    if _is_key_colour(ca) or _is_key_colour(cb):
                        continue
                    same_colour = matplotlib.colors.same_color(ca, cb)
                    assert same_colour or ka != kb, f"{ta!r} and {tb!r} differ only in colour ({ka})"
    finally:
        plt.close(fig)


def test_figures_redraw_byte_identically(tmp_path):
    for fid in ("recall_vs_n", "D5.dag_accuracy", "kernels_multihead"):
        figure = next(f for f in _figures() if f.id == fid)
        texts = []
        for name in ("a", "b"):
            report._save_svg(figure.draw(_quick_rows(fid)), tmp_path / f"{name}.svg")
            texts.append((tmp_path / f"{name}.svg").read_bytes())
        assert texts[0] == texts[1], fid


@pytest.mark.parametrize("svg", COMMITTED, ids=lambda p: str(p.relative_to(ROOT)))
def test_committed_figure_text_is_readable_at_page_width(svg):
    """As committed: shown at most PAGE_PX wide (never enlarged), every text is at least MIN_PX pixels high."""
    root = ET.parse(svg).getroot()
    width_pt = float(root.get("width").removesuffix("pt"))
    px_per_unit = 4 / 3 * min(1.0, PAGE_PX / (width_pt * 4 / 3))  # viewBox units are points; 96 dpi
    sizes = [float(m) for m in re.findall(r"font-size: ([\d.]+)px", svg.read_text())]
    assert sizes, "no text found"
    assert min(sizes) * px_per_unit >= MIN_PX, (width_pt, min(sizes), round(min(sizes) * px_per_unit, 1))
