"""The float32/bfloat16 rows of U2.lowprec_forms print the same bytes under other CPU code paths.

Each variant regenerates the claim's full report grid (every rule, float32 and bfloat16) in a subprocess, so that the
environment variables that choose the kernel path take effect before torch loads: ATen's vector kernels without
AVX (``ATEN_CPU_CAPABILITY=default``), MKL's conditional numerical reproducibility branch for old CPUs
(``MKL_CBWR=COMPATIBLE``, which on this reference machine moves DeltaNet's float32 ratio from 0.065 to 0.078), and
one or two threads. The printed CSV rows (what REPORT.md and data/U2.lowprec_forms.csv show) must be identical.
The verdict must be too; the unrounded ratios are shown on failure, to tell a crossed decade from a changed
verdict.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CLAIM = "U2.lowprec_forms"
SCRIPT = f"""
import json, os, torch
torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
from assocmem import registry, report
c = registry.get({CLAIM!r})
rows, raw = [], []
for p in c.report_grid(False):
    r = c.run(p, registry.point_seed(c.id, p, report.Options().seed))
    rows.append(report.result_text(c, r))
    raw.append([p["rule"], p["dtype"], r.error, r.passed])
print(json.dumps({{"csv": report._csv_text(rows), "raw": raw}}))
"""
BASE = {"OMP_NUM_THREADS": "1"}
VARIANTS = {
    "ATEN_CPU_CAPABILITY=default": {"ATEN_CPU_CAPABILITY": "default", "OMP_NUM_THREADS": "1"},
    "MKL_CBWR=COMPATIBLE": {"MKL_CBWR": "COMPATIBLE", "OMP_NUM_THREADS": "1"},
    "2 threads": {"OMP_NUM_THREADS": "2"},
}
PATH_VARS = ("ATEN_CPU_CAPABILITY", "MKL_CBWR", "MKL_ENABLE_INSTRUCTIONS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _start(extra: dict) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in PATH_VARS}
    env.update(extra)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.Popen([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def runs():
    procs = {"base": _start(BASE)} | {name: _start(v) for name, v in VARIANTS.items()}  # two cores: run together
    return {name: _finish(p) for name, p in procs.items()}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_printed_rows_do_not_depend_on_the_code_path(runs, variant):
    base, other = runs["base"], runs[variant]
    moved = [(a[0], a[1], a[2], b[2]) for a, b in zip(base["raw"], other["raw"]) if a[2] != b[2]]
    assert [a[3] for a in base["raw"]] == [b[3] for b in other["raw"]], moved
    assert other["csv"] == base["csv"], f"printed rows changed under {variant}; unrounded ratios that moved: {moved}"


def test_the_rows_cover_every_rule_in_both_dtypes(runs):
    raw = runs["base"]["raw"]
    assert {d for _, d, _, _ in raw} == {"float32", "bfloat16"} and len(raw) >= 16
    assert all(isinstance(e, float) and e > 0 for _, _, e, _ in raw)
