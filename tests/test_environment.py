"""Environment variables: the table in `assocmem.environment` is exactly what the code reads (so a new variable cannot
be added silently), `assocmem --help` and the README list each with its default, and a cache or evidence folder that
cannot be written is refused in one line before any work, with nothing created."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from assocmem import cli, environment

ROOT = Path(__file__).resolve().parent.parent
SCANNED = [*(p for d in ("assocmem", "impl", "theory", "benchmarks") for p in sorted((ROOT / d).rglob("*.py"))),
           ROOT / "tests" / "conftest.py"]  # the tests' configuration, which `assocmem test` runs under
READ = re.compile(r"""os\.environ\.get\(\s*["']([A-Z0-9_]+)["']|os\.environ\[\s*["']([A-Z0-9_]+)["']\s*\]|"""
                  r"""os\.getenv\(\s*["']([A-Z0-9_]+)["']""")
COPY = re.compile(r"dict\(os\.environ\b")  # a copy handed to a subprocess: not a read


def reads_in_code() -> dict[str, list[str]]:
    """Variable -> where it is read; fails on any access to the environment this scan cannot name."""
    found: dict[str, list[str]] = {}
    for path in SCANNED:
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if "environ" not in line and "getenv" not in line:
                continue
            names = [next(filter(None, m.groups())) for m in READ.finditer(line)]
            rest = COPY.sub("", READ.sub("", line))
            where = f"{path.relative_to(ROOT)}:{n}"
            assert not re.search(r"\benviron\b|\bgetenv\b", rest.split("#")[0]), (
                f"{where} reads the environment in a form this test cannot name: {line.strip()!r}")
            for name in names:
                found.setdefault(name, []).append(where)
    return found


def test_the_table_lists_exactly_the_variables_the_code_reads():
    found = reads_in_code()
    assert set(found) == set(environment.VARIABLES), (
        f"read but not documented: {sorted(set(found) - set(environment.VARIABLES))} ({found}); documented but "
        f"never read: {sorted(set(environment.VARIABLES) - set(found))}")


def test_the_scan_sees_each_form_of_read(tmp_path):
    for line, name in (('x = os.environ.get("A_B")', "A_B"), ("os.environ['C1']", "C1"), ('os.getenv("D")', "D")):
        assert [next(filter(None, m.groups())) for m in READ.finditer(line)] == [name]


def test_help_and_readme_list_every_variable_with_its_default():
    helptext = cli.build_parser().format_help()
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### Environment variables"):]
    section = section[:section.index("\n#", 1)]
    for name, (what, default) in environment.VARIABLES.items():
        assert f"{name}: {what} (default: {default})" in " ".join(helptext.split()), name
        row = next((r for r in section.splitlines() if r.startswith(f"| `{name}` |")), None)
        assert row is not None, f"README's environment table has no row for {name}"
        assert default.split()[0] in row, (name, row)


@pytest.mark.parametrize("variable,args", [
    ("ASSOCMEM_CACHE", ["report", "--only", "C4"]),
    ("ASSOCMEM_CACHE", ["evidence", "run", "recall", "--quick"]),
    ("ASSOCMEM_EVIDENCE", ["evidence", "run", "recall", "--quick"]),
])
def test_an_unwritable_folder_is_refused_in_one_line_before_work(tmp_path, variable, args):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    out = tmp_path / "out"
    extra = ["--out", str(out)] if args[0] == "report" else []
    other = "ASSOCMEM_EVIDENCE" if variable == "ASSOCMEM_CACHE" else "ASSOCMEM_CACHE"
    env = {**os.environ, variable: str(blocker / "inside"), other: str(tmp_path / "other"), "PYTHONPATH": str(ROOT)}
    before = sorted(p.name for p in tmp_path.iterdir())
    r = subprocess.run([sys.executable, "-m", "assocmem", *args, *extra], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and r.stderr.startswith(f"assocmem: error: {variable}: "), r.stderr
    assert f"set {variable} to a writable folder" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no output folder, no cache, no records


def test_proc_as_cache_is_refused_like_any_unwritable_folder(tmp_path):
    """The case from the field: /proc claims to be writable to some checks; creating the folder is the test."""
    r = subprocess.run([sys.executable, "-m", "assocmem", "report", "--only", "C4", "--out", str(tmp_path / "out")],
                       cwd=ROOT, env={**os.environ, "ASSOCMEM_CACHE": "/proc/x"}, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.startswith("assocmem: error: ASSOCMEM_CACHE: cannot "), r.stderr
    assert r.stderr.count("\n") == 1 and not (tmp_path / "out").exists()
