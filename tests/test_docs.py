"""The repository documents itself: its claims catalogue is generated from the registry and current, and no file
points to a path outside the repository."""

import re
import subprocess
from pathlib import Path

import pytest

from assocmem import catalogue, registry

ROOT = Path(__file__).resolve().parent.parent


def tracked_files():
    out = subprocess.run(["git", "ls-files"], capture_output=True, text=True, cwd=ROOT)
    if out.returncode:  # not a git checkout (an sdist): every file there is the repository's
        return [p.relative_to(ROOT).as_posix() for p in ROOT.rglob("*") if p.is_file() and ".git" not in p.parts]
    return out.stdout.split()


def test_claims_catalogue_is_generated_from_the_registry_and_current():
    expected = catalogue.as_markdown()
    have = (ROOT / "docs" / "CLAIMS.md").read_text()
    assert have == expected, ("docs/CLAIMS.md is out of date with the registry; regenerate it with "
                              "`assocmem claims --format markdown > docs/CLAIMS.md`")


def test_catalogue_covers_every_claim_and_item():
    text = catalogue.as_markdown()
    for c in registry.claims():
        assert f"#### {c.id}\n" in text and f"[{c.tag}]" in text
        assert c.group in catalogue.GROUPS, f"{c.group} needs a title and summary in assocmem/catalogue.py GROUPS"


def test_no_file_refers_to_a_path_outside_the_repository():
    outside = re.compile(r"\.\./shared|/work/|ARCHITECTURE\.md|(?<![/\w])CLAIMS\.md")
    offenders = []
    for name in tracked_files():
        # generated reports take their text from the sources checked here; this file names the patterns
        if name.startswith("reports/") or name == "tests/test_docs.py":
            continue
        path = ROOT / name
        if path.suffix not in (".py", ".md", ".j2", ".toml", ".txt", ".cfg", ".json", "") or not path.is_file():
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        for i, line in enumerate(text.splitlines(), 1):
            if outside.search(line):
                offenders.append(f"{name}:{i}: {line.strip()[:100]}")
    assert not offenders, "\n".join(offenders)


def test_paths_named_in_the_readme_and_docs_exist():
    named = set()
    for doc in ("README.md", "docs/DESIGN.md"):
        named |= set(re.findall(r"`((?:docs|reports|assocmem|impl|theory|tests|benchmarks|\.ci)/[\w./-]*)`",
                                (ROOT / doc).read_text()))
    missing = [p for p in sorted(named) if "*" not in p and "<" not in p and not (ROOT / p).exists()
               and not p.startswith(("reports/scratch", "reports/evidence"))]
    assert not missing, missing


def test_the_readme_worked_examples_run(monkeypatch):
    """The README's two worked examples (a claim; a new memory and its claim family), executed as written: each
    registers its claims, each claim holds at its first grid point and its mutant is rejected at its power point."""
    from assocmem import registry

    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Adding a claim (worked example)"):text.index("## What the current report finds")]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 2
    registry.claims()  # discover the suite's claims first
    monkeypatch.setattr(registry, "_CLAIMS", dict(registry._CLAIMS))  # the examples' claims stay in this test
    before = set(registry._CLAIMS)
    for code in blocks:
        exec(compile(code, "README.md", "exec"), {"__name__": "readme_example"})
    added = [registry.get(cid) for cid in sorted(set(registry._CLAIMS) - before)]
    assert [c.id for c in added] == ["C4.my_ratio", "C9.affine.conditional", "C9.affine.typical"]
    for c in added:
        held = c.run(dict(c.grid[0]), 1)
        assert held.passed, (c.id, held)
        caught = c.mutant(dict(c.power_grid[0]), 1)
        assert not caught.passed, (c.id, caught)


def _capacity_example():
    """The README's capacity example: (the module's code, the command's arguments after `assocmem`, the printed
    table)."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Measuring your memory's capacity"):text.index("## Layout")]
    code = re.findall(r"```python\n(.*?)```", section, re.S)[0]
    command = re.findall(r"```bash\n(.*?)```", section, re.S)[0].strip()
    table = re.findall(r"```text\n(.*?)```", section, re.S)[0]
    prefix = "PYTHONPATH=. assocmem "
    assert command.startswith(prefix), command
    return code, command.removeprefix(prefix).split(), table


def _run_capacity_example(tmp_path, extra=()):
    import os
    import sys

    code, args, table = _capacity_example()
    (tmp_path / "mymaps.py").write_text(code)
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}", "OMP_NUM_THREADS": "1"}
    p = subprocess.run([sys.executable, "-m", "assocmem", *args, *extra], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    return p, table


def test_the_readme_capacity_example_runs(tmp_path):
    """The example's module and command as written (fewer trials and N): it runs from a folder outside the repository
    and writes its JSON and figure where --out says."""
    p, _ = _run_capacity_example(tmp_path, ["--trials", "100", "--recall-trials", "50", "--n-pairs", "8", "64",
                                            "--measure-at", "8"])
    assert "capacity, the largest N with predicted recall >= 0.9" in p.stdout
    assert (tmp_path / "capacity-rff" / "capacity.svg").is_file() and (tmp_path / "capacity-rff" / "capacity.json").is_file()


@pytest.mark.slow
def test_the_readme_capacity_example_prints_its_table(tmp_path):
    """The example exactly as written prints the table the README shows (seeded: the same numbers)."""
    p, table = _run_capacity_example(tmp_path)
    assert p.stdout == table
