"""The repository documents itself: its claims catalogue is generated from the registry and current, and no file
points to a path outside the repository."""

import re
import subprocess
from pathlib import Path

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
