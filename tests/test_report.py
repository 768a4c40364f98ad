"""The report: byte-identical across reruns and backends, atomic (an interrupted run leaves the old report), and
cached results reused (corrupted cache entries recomputed, never used)."""

import filecmp
import os
from pathlib import Path

import pytest

from assocmem import cache, registry, report, sweep

ONLY = ("C1", "C2.signal_noise", "C4.typical")


def _opts(**kw):
    return report.Options(**{**dict(quick=True, backend="serial", progress=False, only=ONLY), **kw})


def _tree(path: Path):
    return sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())


def test_report_is_byte_identical_across_reruns_and_backends(tmp_path, monkeypatch):
    monkeypatch.setenv("ASSOCMEM_CACHE", str(tmp_path / "cache"))
    report.write(_opts(fresh=True), tmp_path / "a")
    report.write(_opts(backend="joblib", n_jobs=2, fresh=True), tmp_path / "b")
    report.write(_opts(), tmp_path / "c")  # from the cache
    files = _tree(tmp_path / "a")
    assert "REPORT.md" in files and any(f.startswith("figures/") for f in files)
    for other in ("b", "c"):
        assert _tree(tmp_path / other) == files
        match, mismatch, errors = filecmp.cmpfiles(tmp_path / "a", tmp_path / other, files, shallow=False)
        assert not mismatch and not errors, mismatch
    text = (tmp_path / "a" / "REPORT.md").read_text()
    assert "| C4.typical | [suite] |" in text and "NaN" not in text


def test_interrupted_report_leaves_old_report_untouched(tmp_path, monkeypatch):
    monkeypatch.setenv("ASSOCMEM_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "reports"
    report.write(_opts(), out)
    before = (out / "REPORT.md").read_bytes()

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(report, "_save_svg", boom)
    with pytest.raises(KeyboardInterrupt):
        report.write(_opts(seed=1), out)
    assert (out / "REPORT.md").read_bytes() == before
    assert not [p for p in out.iterdir() if p.name.startswith(".tmp")]


def test_corrupted_cache_entry_is_recomputed(tmp_path, monkeypatch):
    monkeypatch.setenv("ASSOCMEM_CACHE", str(tmp_path))
    claim = registry.get("C2.signal_noise")
    task = sweep.Task.make("claim", claim.id, claim.grid[0], 3)
    first = sweep.run([task], backend="serial")[0]
    entries = list(Path(tmp_path).rglob("*.pkl"))
    assert len(entries) == 1
    blob = entries[0].read_bytes()
    entries[0].write_bytes(blob[: len(blob) // 2])  # truncate: a partial write
    assert cache.load(entries[0].stem) is None and not entries[0].exists()
    again = sweep.run([task], backend="serial")[0]
    assert again == first


def test_cache_key_changes_with_code_fingerprint(monkeypatch):
    task = ("claim", "C4.typical", (), 0, "cpu", "float64")
    k1 = cache.key(task, ("impl.estimators.snr_linear",))
    monkeypatch.setattr(cache, "module_fingerprint", lambda name: "changed" if name == "impl.estimators.snr_linear" else os.sep)
    assert cache.key(task, ("impl.estimators.snr_linear",)) != k1


def test_a_change_in_one_module_recomputes_only_its_dependants(monkeypatch):
    """Changing impl.estimators.snr (the SNR driver) changes the cache keys of the C4 Monte Carlo claims, not of C1/C2 identities."""
    def keys():
        out = {}
        for cid in ("C1.linear_memory", "C2.signal_noise", "C4.typical", "C4.probe_averaged"):
            t = sweep.Task.make("claim", cid, registry.get(cid).grid[0], 0)
            out[cid] = cache.key((t.kind, t.id, t.params, t.seed, t.device, t.dtype), t.modules())
        return out

    before = keys()
    real = cache.module_fingerprint
    monkeypatch.setattr(cache, "module_fingerprint", lambda m: "edited" if m == "impl.estimators.snr" else real(m))
    after = keys()
    assert after["C1.linear_memory"] == before["C1.linear_memory"]
    assert after["C2.signal_noise"] == before["C2.signal_noise"]
    assert after["C4.typical"] != before["C4.typical"] and after["C4.probe_averaged"] != before["C4.probe_averaged"]


def test_the_modules_a_claim_lists_are_closed_under_their_imports():
    """The cache keys and evidence fingerprints of a claim or figure cover everything it runs: every impl or theory
    module that a listed impl or theory module imports, anywhere in its source (a listed package: in any of its
    files, all of which its fingerprint hashes), is listed too, or lies in a listed package, or is glue; read from
    the import statements themselves."""
    import ast
    import importlib.util

    ours = ("impl.", "theory.")

    def files(name):
        spec = importlib.util.find_spec(name)
        if spec.submodule_search_locations:  # a package: cache.module_fingerprint hashes every file under it
            return [p for base in spec.submodule_search_locations for p in sorted(Path(base).rglob("*.py"))]
        return [Path(spec.origin)]

    def imports(name):
        out = set()
        for f in files(name):
            for node in ast.walk(ast.parse(f.read_text())):
                if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith(ours):
                    for a in node.names:  # "from pkg import module" names a module; "from module import name" not
                        full = f"{node.module}.{a.name}"
                        out.add(full if importlib.util.find_spec(node.module).submodule_search_locations
                                and importlib.util.find_spec(full) else node.module)
                elif isinstance(node, ast.Import):
                    out |= {a.name for a in node.names}
        return {m for m in out if m.startswith(ours)}

    def closure(roots):
        seen, todo = set(), list(roots)
        while todo:
            m = todo.pop()
            if m not in seen:
                seen.add(m)
                todo += imports(m)
        return seen

    gaps = {}
    for item in list(registry.claims()) + list(registry.figures()):
        listed = set(item.modules) | set(cache.GLUE)
        missing = {m for m in closure(m for m in item.modules if m.startswith(ours))
                   if not any(m == x or m.startswith(x + ".") for x in listed)}
        if missing:
            gaps[item.id] = sorted(missing)
    assert not gaps, gaps


def test_steps_after_the_tasks_show_progress(tmp_path, monkeypatch, capsys):
    """After the task bar reaches 100 %, a second bar names the step running (records read, each figure drawn, the
    text assembled): while a figure is saved, the last thing on stderr names that figure."""
    monkeypatch.setenv("ASSOCMEM_CACHE", str(tmp_path / "cache"))
    real, seen = report._save_svg, []

    def save(fig, path):
        err = capsys.readouterr().err
        seen.append((path.stem, err.rsplit("\r", 1)[-1]))
        real(fig, path)

    monkeypatch.setattr(report, "_save_svg", save)
    report.write(_opts(progress=True, fresh=True), tmp_path / "r")
    assert seen and all(f"figure {stem}" in last and "report: writing" in last for stem, last in seen), seen
    err = capsys.readouterr().err
    final = err.rsplit("\r", 1)[-1]
    total = final.split(" steps")[0].rsplit(" ", 1)[-1]
    n, of = total.split("/")
    assert n == of and int(of) >= len(seen) + 3 and "REPORT.md" in final, final


def test_quiet_report_writes_no_progress(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ASSOCMEM_CACHE", str(tmp_path / "cache"))
    report.write(_opts(progress=False), tmp_path / "r")
    assert "report: writing" not in capsys.readouterr().err
