"""A fresh regeneration of the quick report equals the committed quick reference, reports/quick/, byte for byte.

It runs `assocmem report --quick` from scratch (an empty result cache) and compares every file. One line may
differ, and only one: the environment table's "git revision" row names the commit under test, which is not the
commit that made the reference (the reference is committed after it is made). Nothing else is excluded: library
versions, device, seeds, numbers, figures and evidence states must match.

The library versions are part of the comparison's premise: with other versions than the reference's (see its
environment table: Python's minor version and each library's version; `requirements-lock.txt` installs them)
numbers may legitimately differ, so the test is skipped with the differing versions named instead of failing. To refresh the reference after changing claims or figures:
`assocmem report --quick --out reports/quick`, and commit it with the change.
"""

import filecmp
import re
from pathlib import Path

import pytest

from assocmem import report

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "reports" / "quick"
REVISION = re.compile(r"^\| git revision \| .* \|$", re.M)
VERSIONS = ("python", "numpy", "scipy", "sympy", "torch", "matplotlib", "jinja2")


def _files(path: Path) -> list[str]:
    return sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file())


def _version_mismatch() -> list[str]:
    text = (REFERENCE / "REPORT.md").read_text()
    env = report._environment(report.Options(quick=True))
    out = []
    for name in VERSIONS:
        m = re.search(rf"^\| {name} \| (.*) \|$", text, re.M)
        if m is None or m.group(1) != env[name]:
            out.append(f"{name} {env[name]} (reference: {m.group(1) if m else 'not recorded'})")
    return out


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    if not (REFERENCE / "REPORT.md").is_file():
        pytest.fail("reports/quick/REPORT.md is missing: make it with `assocmem report --quick --out reports/quick`")
    mismatch = _version_mismatch()
    if mismatch:
        pytest.skip("versions differ from the quick reference's, so its numbers may legitimately differ: "
                    + "; ".join(mismatch) + " (requirements-lock.txt installs the reference's libraries on CPython 3.11)")
    tmp = tmp_path_factory.mktemp("quick")
    mp = pytest.MonkeyPatch()
    mp.setenv("ASSOCMEM_CACHE", str(tmp / "cache"))  # from scratch: nothing cached
    try:
        report.write(report.Options(quick=True, progress=False), tmp / "quick")
    finally:
        mp.undo()
    return tmp


def test_quick_report_regenerates_byte_for_byte(regenerated):
    new = regenerated / "quick"
    files = _files(REFERENCE)
    assert _files(new) == files, "the set of files differs from reports/quick (regenerate and commit it)"
    _, mismatch, errors = filecmp.cmpfiles(REFERENCE, new, [f for f in files if f != "REPORT.md"], shallow=False)
    assert not errors and not mismatch, (
        f"{len(mismatch)} file(s) differ from reports/quick, e.g. {mismatch[:5]}; if the change is intended, regenerate "
        "with `assocmem report --quick --out reports/quick` and commit")
    have, want = (REVISION.sub("| git revision | (excluded) |", (p / "REPORT.md").read_text()) for p in (new, REFERENCE))
    assert len(REVISION.findall((new / "REPORT.md").read_text())) == 1  # exactly one line is excluded
    assert have == want, "REPORT.md differs from reports/quick/REPORT.md beyond its git revision line"


def test_last_digits_of_the_quick_results_do_not_change_what_is_printed(regenerated):
    """Every claim result and figure row of the quick report, with every number moved by a few ulps, prints the
    same text (tests/test_numbers.py has the perturbation); the results are the ones just computed, from the cache."""
    from tests.test_numbers import unstable_prints

    values = []
    for path in (regenerated / "cache").rglob("*.pkl"):
        value = _read(path)
        if value is not None:
            values.append(value)
    assert len(values) > 100  # the quick report's results were found
    bad = unstable_prints(values)
    assert not bad, bad[:5]


def _read(path: Path):
    import hashlib
    import pickle

    blob = path.read_bytes()
    if hashlib.sha256(blob[64:]).hexdigest().encode() != blob[:64]:
        return None
    return pickle.loads(blob[64:])
