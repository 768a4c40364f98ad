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
