"""The report writer: ``reports/REPORT.md`` with a claims ledger, one section per claim, SVG figures and the CSV
behind every table and figure, plus an environment block.

Byte-identical on a rerun with the same seeds and code: tasks are seeded per point (``registry.point_seed``),
results come back in task order whatever the backend, SVGs use a fixed hash salt and no date, and nothing in the
files depends on time. Nothing half-written is left in ``reports/``: everything is built in a temporary folder
beside it and moved into place only when complete (an interrupted run leaves the old report untouched).
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import platform
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from assocmem import cache, calibration, evidence, registry, sweep
from assocmem.registry import fmt

BASE_SEED = 20250525  # the paper's arXiv month; any fixed number would do


@dataclass
class Options:
    quick: bool = False
    device: str = "cpu"
    dtype: str = "float64"
    seed: int = BASE_SEED
    backend: str = "joblib"
    n_jobs: int = -1
    scheduler: str | None = None
    fresh: bool = False
    progress: bool | None = None
    only: tuple[str, ...] = ()  # claim-id prefixes (e.g. "C4", "U2.deltanet"); empty: every claim


def _csv_text(rows: list[dict]) -> str:
    keys: list[str] = []
    for r in rows:
        for k in r:
            if k not in keys:
                keys.append(k)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if r.get(k) is None else repr(r[k]) if isinstance(r.get(k), float) else r.get(k)) for k in keys})
    return buf.getvalue()


def _table(claim: registry.Claim, results: list[registry.Result]) -> str:
    if not results:
        return ""
    pkeys = list(results[0].params.keys())
    kind = claim.kind
    if kind == "statistical":
        cols = ["theory (exact)", "estimate", f"interval ({fmt(results[0].level, 7)})", "n", "pass"]
        vals = lambda r: [fmt(r.theory), fmt(r.estimate), f"[{fmt(r.lo)}, {fmt(r.hi)}]", str(r.n), "✓" if r.passed else "✗"]  # noqa: E731
    elif kind == "approximation":
        cols = ["approximation", "exact / measured", "rel. departure", "tolerance", "pass"]
        vals = lambda r: [fmt(r.theory), fmt(r.estimate) + (f" [{fmt(r.lo)}, {fmt(r.hi)}]" if r.lo is not None else ""),  # noqa: E731
                          fmt(r.error, 3), fmt(r.tolerance, 3), "✓" if r.passed else "✗"]
    elif kind == "identity":
        cols = ["error", "tolerance", "pass"]
        vals = lambda r: [fmt(r.error, 3), fmt(r.tolerance, 3), "✓" if r.passed else "✗"]  # noqa: E731
    else:
        cols = ["estimate", "interval", "pass"]
        vals = lambda r: [fmt(r.estimate), f"[{fmt(r.lo)}, {fmt(r.hi)}]" if r.lo is not None else "—", "✓" if r.passed else "✗"]  # noqa: E731
    cell = lambda x: str(x).replace("|", "\\|")  # noqa: E731
    vals_raw = vals
    vals = lambda r: [cell(x) for x in vals_raw(r)]  # noqa: E731
    head = "| " + " | ".join(pkeys + cols + ["note"]) + " |\n|" + "---|" * (len(pkeys) + len(cols) + 1) + "\n"
    body = "".join("| " + " | ".join([str(r.params.get(k)) for k in pkeys] + vals(r) + [cell(r.note)]) + " |\n"
                   for r in results)
    return head + body


def _short(text: str, limit: int = 140) -> str:
    return text if len(text) < limit else text[: limit - 3].rstrip() + "…"


def _latex(claim: registry.Claim) -> str:
    if claim.formula is None:
        return ""
    import sympy as sp

    try:
        return sp.latex(claim.formula())
    except Exception as e:  # noqa: BLE001 - the report says so instead of failing
        return rf"\text{{(formula unavailable: {type(e).__name__})}}"


def _calibration_rows(claims) -> list[dict]:
    """Per statistical claim shown and per calibration point of its record: one row per level (0.05, 0.01) with the
    observed misses, their exact 95 % interval, the exact binomial test's p-value and verdict, and the failures at
    the verdicts' own level (1e-6)."""
    rows = []
    for c in claims:
        if c.kind != "statistical" or not c.report_grid(True):
            continue
        st = evidence.status(f"calibration/{c.id}")
        fresh = st.state + (f" ({st.fingerprint})" if st.fingerprint else "")
        if st.record is None or "coverage" not in (st.record["results"].get("rows") or [{}])[0]:
            rows.append(dict(claim=c.id, point="—", seeds=0, alpha="—", misses="—", rate="—", p_value="—",
                             verdict="missing" if st.record is None else "record predates coverage rows",
                             verdict_failures="—", max_t="—", record=fresh, note=st.detail))
            continue
        for r in st.record["results"]["rows"]:
            point = " ".join(f"{k}={v}" for k, v in r["point"].items())
            for cov in r["coverage"]:
                rate = (f"{fmt(cov['rate'], 3)} [{fmt(cov['rate_lo'], 3)}, {fmt(cov['rate_hi'], 3)}]"
                        if cov["misses"] is not None else "—")
                rows.append(dict(claim=c.id, point=point, seeds=cov["seeds"], alpha=fmt(cov["alpha"]),
                                 misses=cov["misses"], rate=rate,
                                 p_value=fmt(cov["p_value"], 2) if cov["p_value"] is not None else "—",
                                 verdict=cov["verdict"], verdict_failures=f"{r['failures']} of {r['seeds']}",
                                 max_t=fmt(r.get("max_abs_t"), 3),
                                 record=fresh, note=r["note"]))
    return rows


def _evidence_summary(rows: list[dict]) -> dict:
    """The evidence block: calibration jobs summarised in one line, every other job listed."""
    cal = [r for r in rows if r["job"].startswith("calibration/")]
    counts = {}
    for r in cal:
        counts[r["state"]] = counts.get(r["state"], 0) + 1
    return dict(rows=[r for r in rows if not r["job"].startswith("calibration/")],
                calibration=", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "none shown")


def _git_revision() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True, check=True,
                             cwd=Path(__file__).resolve().parent).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "theory", "impl", "assocmem"], capture_output=True,
                               text=True, cwd=Path(__file__).resolve().parent.parent).stdout.strip()  # repo root
        return rev + (" (with uncommitted changes to theory/impl/assocmem)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"


def _environment(opts: Options) -> dict:
    import matplotlib
    import numpy
    import scipy
    import sympy
    import torch

    if opts.device.startswith("cuda"):
        dev = f"{opts.device} ({torch.cuda.get_device_name(torch.device(opts.device))})"
    else:
        dev = f"cpu ({platform.machine()})"
    return {
        "git revision": _git_revision(), "device": dev, "dtype": opts.dtype, "base seed": str(opts.seed),
        "grid": "quick" if opts.quick else "full", "python": platform.python_version(), "numpy": numpy.__version__,
        "scipy": scipy.__version__, "sympy": sympy.__version__, "torch": torch.__version__,
        "matplotlib": matplotlib.__version__,
        "seeds": "per grid point: crc32(claim id, parameters, base seed); listed in every CSV",
        "sample sizes": "per grid point: column n (Monte Carlo trials) in the tables and CSVs",
    }


def _save_svg(fig, path: Path) -> None:
    import matplotlib

    matplotlib.rcParams["svg.hashsalt"] = "assocmem"
    fig.savefig(path, format="svg", metadata={"Date": None, "Creator": None})
    import matplotlib.pyplot as plt

    plt.close(fig)


def build(opts: Options, out_dir: Path) -> dict:
    """Compute everything and write the report into ``out_dir`` (a fresh folder). Returns a summary."""
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams.update({"svg.hashsalt": "assocmem", "svg.fonttype": "none"})
    claims = [c for c in registry.claims() if not opts.only or any(c.id.startswith(p) for p in opts.only)]
    kept = {c.id for c in claims} | {c.group for c in claims}
    figures = [f for f in registry.figures() if any(x in kept for x in f.claims)]
    if not claims:
        from impl.numerics.errors import InputError

        raise InputError("--only", f"no claim id starts with any of {list(opts.only)}")
    run_kw = dict(backend=opts.backend, n_jobs=opts.n_jobs, scheduler=opts.scheduler, use_cache=not opts.fresh,
                  progress=opts.progress)
    mk = sweep.Task.make

    # 1. every task of the report, in a fixed order
    tasks: list[sweep.Task] = []
    for c in claims:
        if c.derivation is not None:
            tasks.append(sweep.Task("derivation", c.id, (), 0))
        for p in c.report_grid(opts.quick) if c.run and not c.evidence else ():
            tasks.append(mk("claim", c.id, p, registry.point_seed(c.id, p, opts.seed), opts.device, opts.dtype))
        for p in c.power_grid if c.mutant else ():
            s = registry.point_seed(c.id + "/power", p, opts.seed)
            tasks.append(mk("claim", c.id, p, s, opts.device, opts.dtype))
            tasks.append(mk("mutant", c.id, p, s, opts.device, opts.dtype))
    for f in figures:
        pts = f.quick_points if (opts.quick and f.quick_points is not None) else f.points
        tasks += [mk("figure", f.id, p, registry.point_seed(f.id, p, opts.seed), opts.device, opts.dtype) for p in pts]

    values = dict(zip(tasks, sweep.run(tasks, desc="report", **run_kw)))
    for c in claims:  # evidence-backed claims read their job's latest record, here, uncached
        if c.evidence and c.run:
            for p in c.report_grid(opts.quick):
                t_ = mk("claim", c.id, p, registry.point_seed(c.id, p, opts.seed), opts.device, opts.dtype)
                values[t_] = c.run(p, t_.seed, device=opts.device, dtype=opts.dtype)

    # 2. per-claim results
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "data").mkdir()
    (out_dir / "figures").mkdir()
    verdicts: dict[str, tuple[str, str]] = {}
    rendered: dict[str, dict] = {}
    for c in claims:
        steps = values.get(sweep.Task("derivation", c.id, (), 0), [])
        results = [values[mk("claim", c.id, p, registry.point_seed(c.id, p, opts.seed), opts.device, opts.dtype)]
                   for p in (c.report_grid(opts.quick) if c.run else ())]
        if c.run is None:
            verdict = ("holds", "symbolic, all steps") if steps and all(ok for _, ok in steps) else ("fails", "a derivation step fails")
        else:
            verdict = registry.verdict(c, results)
            if steps and not all(ok for _, ok in steps):
                verdict = ("fails", "a derivation step fails; " + verdict[1])
        power = ""
        if c.mutant is not None and c.power_grid:
            rejected = true_ok = 0
            for p in c.power_grid:
                s = registry.point_seed(c.id + "/power", p, opts.seed)
                true_ok += values[mk("claim", c.id, p, s, opts.device, opts.dtype)].passed
                rejected += not values[mk("mutant", c.id, p, s, opts.device, opts.dtype)].passed
            power = (f"the wrong formula “{c.mutant_says}” was rejected at {rejected}/{len(c.power_grid)} power points "
                     f"(the true formula passed at {true_ok}/{len(c.power_grid)} of them).")
        csv_name = f"{c.id}.csv"
        if results:
            (out_dir / "data" / csv_name).write_text(_csv_text([r.row() for r in results]))
        verdicts[c.id] = verdict
        rendered[c.id] = dict(
            id=c.id, anchor=c.id.replace(".", "-").lower(), title=c.title, tag=c.tag, ref=c.ref, kind=c.kind,
            convention=c.convention, statement=c.statement, formula=_latex(c), verdict=verdict[0], regime=verdict[1],
            steps=steps, steps_ok=sum(ok for _, ok in steps), table=_table(c, results), csv=csv_name, power=power,
            notes=c.notes, statement_short=_short(c.statement).replace("|", "\\|"),
        )

    # 3. figures
    fig_by_group: dict[str, list] = {}
    for f in figures:
        pts = f.quick_points if (opts.quick and f.quick_points is not None) else f.points
        rows = [row for p in pts for row in values[mk("figure", f.id, p, registry.point_seed(f.id, p, opts.seed), opts.device, opts.dtype)]]
        csv_text = _csv_text(rows)
        (out_dir / "data" / f"{f.id}.csv").write_text(csv_text)
        svg_path = out_dir / "figures" / f"{f.id}.svg"
        svg_key = cache.key(("svg", f.id, hashlib.sha256(csv_text.encode()).hexdigest(), matplotlib.__version__),
                            tuple(f.modules) + (f.draw.__module__, "assocmem.report"))
        svg = cache.load(svg_key) if not opts.fresh else None
        if svg is None:
            _save_svg(f.draw(rows), svg_path)
            cache.store(svg_key, svg_path.read_bytes())
        else:
            svg_path.write_bytes(svg)
        group = f.claims[0].split(".")[0]
        fig_by_group.setdefault(group, []).append(dict(id=f.id, title=f.title, caption=f.caption))

    # 4. evidence jobs: their latest records, with fingerprint and freshness
    cal_rows, ev_rows = _calibration_rows(claims), []
    shown = {f"calibration/{c.id}" for c in claims} | {c.evidence for c in claims if c.evidence}
    for job in evidence.jobs():
        if job.id in shown or (not opts.only and not job.id.startswith("calibration/")):
            st = evidence.status(job.id)
            ev_rows.append(dict(job=job.id, title=job.title, state=st.state, fingerprint=st.fingerprint or "—",
                                detail=st.detail, command=job.command,
                                revision=(st.record or {}).get("git_revision", "—")))
    (out_dir / "data" / "calibration.csv").write_text(_csv_text(cal_rows))

    # 5. assemble
    sections_by_group: dict[str, list] = {}
    for s in registry.sections():
        sections_by_group.setdefault(s.group, []).append(dict(title=s.title, body=s.render(verdicts)))
    parts = []
    for part, name in (("I", "I — Memory capacity"), ("II", "II — Memory update"), ("III", "III — DeltaFormer and expressiveness")):
        groups = []
        for c in claims:
            if c.part != part:
                continue
            if not groups or groups[-1]["id"] != c.group:
                groups.append(dict(id=c.group, claims=[], figures=fig_by_group.get(c.group, []),
                                   sections=sections_by_group.get(c.group, [])))
            groups[-1]["claims"].append(rendered[c.id])
        if groups:
            parts.append(dict(name=name, groups=groups))
    counts = {}
    for v, _ in verdicts.values():
        counts[v] = counts.get(v, 0) + 1
    summary = f"{len(claims)} claims: " + ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(loader=PackageLoader("assocmem", "templates"), undefined=StrictUndefined, keep_trailing_newline=True,
                      trim_blocks=True, lstrip_blocks=True)
    text = env.get_template("report.md.j2").render(
        quick=opts.quick, ledger=[rendered[c.id] for c in claims], parts=parts, summary=summary,
        calibration=dict(rows=cal_rows, max_trials=calibration.MAX_TRIALS, seeds=calibration.SEEDS,
                         test_level=calibration.TEST_LEVEL,
                         failing=sorted({r['claim'] for r in cal_rows if r['verdict'] != 'calibrated'})),
        evidence=_evidence_summary(ev_rows), env=_environment(opts))
    (out_dir / "REPORT.md").write_text(text)
    return {"claims": len(claims), "verdicts": counts, "summary": summary}


def write(opts: Options, reports_dir: str | os.PathLike = "reports") -> dict:
    """Build the report in a temporary folder inside ``reports_dir`` and move it into place only when complete."""
    reports_dir = Path(reports_dir)
    reports_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-report-", dir=reports_dir))
    try:
        summary = build(opts, tmp)
        for sub in ("figures", "data"):
            old = reports_dir / sub
            if old.exists():
                trash = Path(tempfile.mkdtemp(prefix=".tmp-old-", dir=reports_dir))
                os.replace(old, trash / sub)
            os.replace(tmp / sub, old)
        os.replace(tmp / "REPORT.md", reports_dir / "REPORT.md")
        return summary
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        for trash in reports_dir.glob(".tmp-old-*"):
            shutil.rmtree(trash, ignore_errors=True)
