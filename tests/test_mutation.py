"""The mutation job's bookkeeping, without running mutmut: the sample's seed comes from the code and tests under
test (deterministic, new for every change to them), the kill rate's exact interval, and the history of previous runs
that a rerun carries over and the report prints."""

import json
import sys
import time
import types

import pytest
from scipy.stats import binom

from assocmem import evidence, mutation, report


@pytest.fixture
def evdir(tmp_path, monkeypatch):
    monkeypatch.setenv("ASSOCMEM_EVIDENCE", str(tmp_path / "evidence"))
    return tmp_path / "evidence"


def _tree(root, files):
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return sorted(files)


TREE = {"impl/a.py": "def f(x):\n    return x + 1\n", "theory/b.py": "Y = 2\n", "tests/test_a.py": "def test(): pass\n",
        "assocmem/claims/c.py": "Z = 3\n", "assocmem/mutation.py": "SAMPLE = 120\n", "README.md": "words\n"}


def test_the_seed_is_a_function_of_the_code_and_tests_and_changes_with_them(tmp_path):
    files = _tree(tmp_path, TREE)
    h0 = mutation.code_hash(tmp_path, files)
    assert h0 == mutation.code_hash(tmp_path, list(reversed(files)))  # deterministic, order of listing irrelevant
    assert mutation.sample_seed(h0) == int(h0[:16], 16)
    seeds = {mutation.sample_seed(h0)}
    for name, text in (("impl/a.py", "def f(x):\n    return x - 1\n"), ("tests/test_a.py", "def test(): assert 1\n"),
                       ("theory/b.py", "Y = 3\n"), ("assocmem/claims/c.py", "Z = 4\n")):
        _tree(tmp_path, {name: text})  # a change to the code under test or to the tests: a new sample
        seeds.add(mutation.sample_seed(mutation.code_hash(tmp_path, files)))
    assert len(seeds) == 5
    before = mutation.code_hash(tmp_path, files)
    _tree(tmp_path, {"README.md": "other words\n", "assocmem/mutation.py": "SAMPLE = 60\n"})
    assert mutation.code_hash(tmp_path, files) == before  # docs and the measuring instrument itself: same sample
    _tree(tmp_path, {"tests/test_new.py": "def test_b(): pass\n"})
    assert mutation.code_hash(tmp_path, files + ["tests/test_new.py"]) != before  # a new test file counts too


def test_the_seed_of_this_checkout_is_reproducible():
    if not (mutation.ROOT / ".git").exists():
        pytest.skip("not a git checkout (e.g. mutmut's copy of the tree): the job lists its files with git")
    files = mutation.tree_files()
    assert "tests/test_mutation.py" in files and "assocmem/mutation.py" in files
    a, b = mutation.code_hash(mutation.ROOT, files), mutation.code_hash(mutation.ROOT, files)
    assert a == b and 0 <= mutation.sample_seed(a) < 2**64


@pytest.mark.parametrize("n", [1, 7, 120, 231])
def test_kill_rate_interval_is_clopper_pearson(n):
    lo, hi = mutation.kill_rate_interval(n, n)  # all killed: closed form (alpha/2)^(1/n), upper end 1
    assert lo == pytest.approx(0.025 ** (1 / n), rel=1e-9) and hi == 1.0
    lo, hi = mutation.kill_rate_interval(0, n)
    assert lo == 0.0 and hi == pytest.approx(1 - 0.025 ** (1 / n), rel=1e-9)
    for k in range(1, n):  # by definition: P(X >= k | lo) = P(X <= k | hi) = alpha / 2
        lo, hi = mutation.kill_rate_interval(k, n)
        assert binom.sf(k - 1, n, lo) == pytest.approx(0.025, rel=1e-6)
        assert binom.cdf(k, n, hi) == pytest.approx(0.025, rel=1e-6)
    assert mutation.kill_rate_interval(0, 0) is None


def _sample(seed, statuses):
    picked = [{"name": f"impl.rules.x.f__mutmut_{i}" if i % 2 else f"theory.y.g__mutmut_{i}",
               "module": "impl.rules.x" if i % 2 else "theory.y", "diff": f"-a{i}\n+b{i}"}
              for i in range(len(statuses))]
    sample = {"seed": seed, "population": 1000, "seen": len(statuses), "message_text_skipped": 0, "picked": picked,
              "by_module": {"impl.rules.x": 500, "theory.y": 500}}
    return sample, {p["name"]: s for p, s in zip(picked, statuses)}


def _run(job, code, statuses, *, seed_from="code", quick=False):
    """What run_mutation does after mutmut: results from the outcomes, the history carried from the record it
    replaces, the record written."""
    sample, outcomes = _sample(mutation.sample_seed(code), statuses)
    res = mutation.finish(sample, outcomes, seed_from=seed_from, code=code, quick=quick,
                          previous=evidence.load("mutation", quiet=True))
    evidence.write_record(job, res, evidence.JobOptions(quick=quick))
    return res


def test_history_is_carried_over_and_a_rerun_replaces_its_own_entry(evdir):
    job = evidence.get_job("mutation")
    legacy = json.loads((evidence.ROOT / "reports" / "evidence" / "mutation.json").read_text())
    evdir.mkdir(parents=True)
    (evdir / "mutation.json").write_text(json.dumps(legacy))
    a, b = "a" * 64, "b" * 64
    r1 = _run(job, a, ["killed"] * 9 + ["survived"])
    old = legacy["results"]  # the committed record: its history, then its own run, become r1's history
    assert r1["history"][:-1] == old.get("history", [])
    assert (r1["history"][-1]["seed"], r1["history"][-1]["killed"]) == (old["seed"], old["killed"])
    assert (r1["history"][-1]["note"] == mutation.LEGACY_NOTE) == ("seed_from" not in old)
    n_before = len(r1["history"])
    r2 = _run(job, b, ["killed"] * 3 + ["survived", "no tests"])
    assert len(r2["history"]) == n_before + 1
    assert r2["history"][:-1] == r1["history"]  # earlier entries preserved unchanged
    last = r2["history"][-1]
    assert (last["seed"], last["killed"], last["checked"], last["survivors"]) == (
        mutation.sample_seed(a), 9, 10, {"impl.rules": 1})
    _run(job, "f" * 64, ["killed"] * 4 + ["survived"], quick=True)  # a quick run keeps the history, is not added
    r3 = _run(job, b, ["killed"] * 5)  # the same sample again (same code): replaces the quick one, not repeated
    assert r3["history"] == r2["history"]
    assert mutation.sample_seed(b) not in [h["seed"] for h in r3["history"]]
    rows = mutation.history_rows(evidence.load("mutation")["results"])
    assert [r["seed"] for r in rows] == [mutation.sample_seed(b), mutation.sample_seed(a)] + [
        h["seed"] for h in reversed(r1["history"])]
    assert rows[0]["run"] == "latest" and rows[0]["killed"] == "5 of 5" and rows[1]["killed"] == "9 of 10"


def test_equivalent_and_unchecked_mutants_stay_out_of_the_score(evdir):
    job = evidence.get_job("mutation")
    res = _run(job, "c" * 64, ["killed", "killed", "survived", "not checked", "timeout"])
    assert (res["killed"], res["checked"], res["equivalent"]) == (3, 4, 0)
    assert res["score"] == pytest.approx(3 / 4) and res["ci95"] == list(mutation.kill_rate_interval(3, 4))


def test_report_and_mutation_md_show_the_latest_score_beside_the_previous(evdir, tmp_path):
    job = evidence.get_job("mutation")
    _run(job, "d" * 64, ["killed"] * 7 + ["survived"] * 3)
    res = _run(job, "e" * 64, ["killed"] * 19 + ["survived"])
    block = report._mutation_block([{"job": "mutation"}])
    text = report.templates().get_template("mutation.md.j2").render(mutation=block)
    table = [line for line in text.splitlines() if line.startswith("| latest") or line.startswith("| earlier")]
    assert len(table) == 2
    lo, hi = mutation.kill_rate_interval(19, 20)
    assert f"| {mutation.sample_seed('e' * 64)} | 20 | 19 of 20 | 95.0% | [{lo:.1%}, {hi:.1%}] |" in table[0]
    assert f"| {mutation.sample_seed('d' * 64)} | 10 | 7 of 10 | 70.0% |" in table[1]
    assert report._mutation_block([{"job": "calibration/C4.typical"}]) is None  # only where the report lists the job
    md = mutation.write_markdown(res, wall_s=None, cpu_s=None, workers=1, path=tmp_path / "MUTATION.md")
    assert (tmp_path / "MUTATION.md").read_text() == md
    assert [line for line in md.splitlines() if line.startswith("| latest") or line.startswith("| earlier")] == table
    assert f"[{lo:.1%}, {hi:.1%}]" in md.split("\n\n")[2]  # the headline states the interval


def test_an_interrupted_run_resumes_on_the_same_code_running_only_the_mutants_without_an_outcome(evdir, tmp_path,
                                                                                                   monkeypatch):
    """mutmut's steps stubbed: the first attempt is stopped after 2 of 5 mutants (its stats run done); running the job
    again on the same code reuses the scratch copy and sample, runs the 3 others only, scores all 5, sums the time of
    both attempts (the stopped one's from the record it keeps while running, as if its session ended before its
    cleanup) and removes the scratch; changed code would get another scratch (another hash)."""
    monkeypatch.setenv("ASSOCMEM_MUTATION_SCRATCH", str(tmp_path / "scratch"))
    monkeypatch.setattr(mutation, "PROGRESS_EVERY_S", 0.02)
    # mutmut itself is never called (its steps are stubbed below), so the test runs without the mutation extra
    monkeypatch.setitem(sys.modules, "mutmut", types.ModuleType("mutmut"))
    monkeypatch.setattr(mutation, "tree_files", lambda root=None: [])
    monkeypatch.setattr(mutation, "_copy_tree", lambda dst: None)
    monkeypatch.setattr(mutation, "write_markdown", lambda *a, **k: "")
    sample, _ = _sample(mutation.sample_seed(mutation.code_hash(tmp_path, [])), ["killed"] * 5)
    names = [p["name"] for p in sample["picked"]]
    state = {"outcomes": {}, "runs": [], "stop_after": 2}

    def in_scratch(scratch, code, env, log):
        if "_generate_and_sample" in code:
            (scratch / "sample.json.part").write_text(json.dumps(sample))
        else:
            (scratch / "outcomes.json").write_text(json.dumps(state["outcomes"]))

    real_run = mutation.subprocess.run

    def mutmut_run(cmd, cwd=None, **kw):
        if "mutmut" not in cmd:
            return real_run(cmd, cwd=cwd, **kw)
        todo = cmd[cmd.index("--max-children") + 2:]
        state["runs"].append(todo)
        if len(state["runs"]) == 1:  # the attempt records its time while it runs
            time.sleep(0.2)
            state["mid_run"] = json.loads((cwd / "progress.json").read_text())
        (cwd / "mutants").mkdir(exist_ok=True)
        (cwd / "mutants" / "mutmut-stats.json").write_text("{}")
        for n in todo[:state["stop_after"]]:
            state["outcomes"][n] = "killed" if n != names[3] else "survived"
        if state["stop_after"] < len(todo):
            raise OSError("interrupted")  # the session ended mid-run

    monkeypatch.setattr(mutation, "_in_scratch", in_scratch)
    monkeypatch.setattr(mutation.subprocess, "run", mutmut_run)
    with pytest.raises(RuntimeError, match="resumes it"):
        mutation.run_mutation(evidence.JobOptions())
    scratch = next((tmp_path / "scratch").iterdir())
    assert json.loads((scratch / "progress.json").read_text())["attempts"] == 1
    mid = state["mid_run"]
    assert mid["in_flight"] is True and mid["attempts"] == 1 and mid["wall_s"] >= 0.1
    # a session that ends mid-run never reaches the attempt's finally: its last periodic record is what remains
    (scratch / "progress.json").write_text(json.dumps(dict(mid, wall_s=1000.0)))
    state["stop_after"] = 99
    res = mutation.run_mutation(evidence.JobOptions())
    assert state["runs"] == [names, names[2:]]
    assert (res["checked"], res["killed"], res["attempts"]) == (5, 4, 2)
    assert res["wall_s"] >= 1000.0  # the stopped attempt's time is counted
    assert not scratch.exists()


def test_a_judgement_corrected_after_the_run_shows_in_the_score_without_staling_the_record(evdir, monkeypatch):
    """The record's freshness is the sample's code state (impl/, theory/, tests/, assocmem/ without this job's own
    module), and the report judges the record's survivors under the current EQUIVALENT list."""
    job = evidence.get_job("mutation")
    assert evidence.module_fingerprints(job) == {mutation.CODE_STATE: mutation.code_hash(evidence.ROOT,
                                                                                        mutation.tree_files())}
    res = _run(job, "a1" * 32, ["killed"] * 8 + ["survived", "no tests"])
    assert (res["killed"], res["equivalent"], res["score"]) == (8, 0, pytest.approx(0.8))
    survivor = res["mutants"][8]
    assert survivor["outcome"] == "survived" and survivor["diff"] == "-a8\n+b8"
    monkeypatch.setattr(mutation, "EQUIVALENT", [*mutation.EQUIVALENT, (survivor["module"], "a8", "b8", "same thing")])
    again = mutation.rejudge(evidence.load("mutation")["results"])
    assert (again["killed"], again["equivalent"], again["score"]) == (8, 1, pytest.approx(8 / 9))
    assert again["mutants"][8]["status"] == "equivalent" and again["mutants"][8]["reason"] == "same thing"
    assert again["ci95"] == list(mutation.kill_rate_interval(8, 9))
    assert "8 of 9 non-equivalent mutants killed" in mutation.markdown_from_record(evidence.load("mutation")["results"])
    block = report._mutation_block([{"job": "mutation"}])
    assert block["history"][0]["killed"] == "8 of 9"
    monkeypatch.setattr(mutation, "EQUIVALENT", [])  # a judgement withdrawn: the mutant is a survivor again
    back = mutation.rejudge(again)
    assert (back["killed"], back["equivalent"]) == (8, 0)
    assert [r["status"] for r in back["mutants"][8:]] == ["survived", "no tests"]
    # the next run carries this one into its history as judged now (8 of 9), not as it was recorded (8 of 10)
    monkeypatch.setattr(mutation, "EQUIVALENT", [*mutation.EQUIVALENT, (survivor["module"], "a8", "b8", "same thing")])
    nxt = _run(job, "a2" * 32, ["killed"] * 10)
    carried = nxt["history"][-1]
    assert (carried["seed"], carried["killed"], carried["checked"], carried["equivalent"]) == (res["seed"], 8, 10, 1)
    assert carried["score"] == pytest.approx(8 / 9) and carried["ci95"] == list(mutation.kill_rate_interval(8, 9))


@pytest.mark.parametrize("old,new,device_only", [
    ("causal = torch.ones(C, C, dtype=torch.bool, device=q.device).tril()",
     "causal = torch.ones(C, C, dtype=torch.bool, ).tril()", True),
    ("rows = torch.arange(qs, qs + n, device=q.device) + T0", "rows = torch.arange(qs, qs + n, device=None) + T0", True),
    ("x = torch.zeros(n, device=dev, dtype=dt)", "x = torch.zeros(n, dtype=dt)", True),
    ("x = torch.zeros(n, device=dev, dtype=dt)", "x = torch.zeros(n, device=dev, dtype=None)", False),
    ("x = torch.zeros(n, device=dev, dtype=dt)", "x = torch.zeros(n + 1, dtype=dt)", False),
    ("x = torch.zeros(n, dtype=dt)", "x = torch.zeros(n, )", False),
])
def test_device_only_mutants_are_equivalent_on_a_cpu_only_run(old, new, device_only):
    diff = f"--- a.py\n+++ a.py\n@@ -1 +1 @@\n-    {old}\n+    {new}"
    assert mutation.device_only(diff) == device_only
    assert (mutation.equivalent_reason("impl.x", diff) == mutation.DEVICE_ONLY) == device_only
    assert mutation.equivalent_reason("impl.x", diff, cuda=True) == ""  # with a GPU the tests decide it


def test_hand_judged_positional_device_mutants_are_equivalent_only_without_cuda():
    """A device passed positionally (``DEVICE_ONLY_POSITIONAL``) is judged like a ``device=`` keyword: equivalent on
    a CPU-only run, decided by the tests with a GPU, and only in the module it was judged in."""
    mod, old, new, _ = mutation.DEVICE_ONLY_POSITIONAL[0]
    diff = f"--- a.py\n+++ a.py\n@@ -1 +1 @@\n-            {old}\n+            {new}"
    assert not mutation.device_only(diff)  # the keyword rule does not see it
    assert mutation.equivalent_reason(mod, diff) == mutation.DEVICE_ONLY
    assert mutation.equivalent_reason(mod, diff, cuda=True) == ""
    assert mutation.equivalent_reason("impl.elsewhere", diff) == ""


def test_a_run_is_labelled_with_the_revision_its_copy_was_made_from():
    """Commits made while a run goes on must not relabel its sample: ``finish`` takes the revision recorded when the
    scratch copy was made (run_mutation's revision.txt); only without one does it read the checkout's revision."""
    sample, outcomes = _sample(7, ["killed", "survived"])
    res = mutation.finish(sample, outcomes, seed_from="code", code="c" * 64, quick=True, previous=None,
                          git_revision="0123456789ab")
    assert res["git_revision"] == "0123456789ab"
    assert mutation.history_rows(res)[0]["revision"] == "0123456789ab"
    now = mutation.finish(sample, outcomes, seed_from="code", code="c" * 64, quick=True, previous=None)
    assert now["git_revision"] == evidence._git_revision()


# mutmut's diff of one function (numbered from the function's first line), as it stands in a sample.json
THETA_DIFF = """--- impl/rules/ttt/layernorm.py
+++ impl/rules/ttt/layernorm.py
@@ -2,7 +2,7 @@
                         output_final_state=False):
     \"\"\"Returns (o [B, H, T, d], W_T or None); initial_state: W [B, H, d, d] or None (momentum starts at 0).\"\"\"
     B, H, T, d, w, b = _check(q, k, v, w, b, eps, mini_batch)
-    theta = check_scalar_per_token("theta", theta, q, low=0.0, high=float("inf"))
+    theta = check_scalar_per_token(None, theta, q, low=0.0, high=float("inf"))
     alpha = check_scalar_per_token("alpha", alpha, q, low=0.0, high=1.0)
     eta = check_scalar_per_token("eta", eta, q, low=0.0, high=1.0)
     W = q.new_zeros(B, H, d, d) if initial_state is None else initial_state.to(q)"""


def _pristine(path):
    """The source of ``path``; skipped inside mutmut's copy, whose source holds every mutant side by side (these
    tests check the harness in assocmem/, which mutmut does not mutate, against the checkout's own source)."""
    text = path.read_text()
    if "mutmut" in text:
        pytest.skip("mutmut's copy of the source: trampolined, not the checkout's")
    return text


def test_a_mutants_diff_is_applied_to_its_module_at_the_one_place_it_fits():
    path = mutation.module_file("impl.rules.ttt.layernorm", mutation.ROOT)
    assert path == mutation.ROOT / "impl" / "rules" / "ttt" / "layernorm.py"
    assert mutation.module_file("impl.rules", mutation.ROOT).name == "__init__.py"
    source = _pristine(path)
    patched = mutation.apply_diff(source, THETA_DIFF)
    before, after = source.splitlines(), patched.splitlines()
    assert len(before) == len(after)
    changed = [(a, b) for a, b in zip(before, after) if a != b]
    assert changed == [('    theta = check_scalar_per_token("theta", theta, q, low=0.0, high=float("inf"))',
                        '    theta = check_scalar_per_token(None, theta, q, low=0.0, high=float("inf"))')]
    assert mutation.apply_diff(source + "\n" + source, THETA_DIFF) is None  # two places: not placed
    assert mutation.apply_diff(source.replace('"alpha", alpha', '"a", alpha'), THETA_DIFF) is None  # no place


def _static_tree(root, lint_passes_clean=True):
    files = {"impl/m.py": 'def f(x):\n    check("x", x)\n    return x + 1\n', "theory/__init__.py": "",
             "assocmem/__init__.py": "", "pyproject.toml": "",
             "tests/test_lint.py": "from pathlib import Path\n\ndef test_flag():\n    assert 'check(\"x\", x)' in "
                                   "(Path(__file__).parent.parent / 'impl' / 'm.py').read_text()"
                                   + ("" if lint_passes_clean else " and False") + "\n"}
    _tree(root, files)


def _static_row(old, new, status="survived"):
    diff = f"--- impl/m.py\n+++ impl/m.py\n@@ -1,3 +1,3 @@\n def f(x):\n-    {old}\n+    {new}\n     return x + 1"
    if old.startswith("return"):
        diff = f"--- impl/m.py\n+++ impl/m.py\n@@ -2,2 +2,2 @@\n     check(\"x\", x)\n-    {old}\n+    {new}"
    return {"name": "impl.m.x_f__mutmut_1", "module": "impl.m", "status": status, "outcome": "survived",
            "reason": "", "diff": diff}


def test_the_static_pass_kills_the_survivors_a_lint_of_the_source_catches(tmp_path, monkeypatch):
    """Lints cannot be selected by mutmut; the static pass applies each non-equivalent survivor alone to a copy of
    the sampled tree and runs them: a failing lint kills it (and only it), the tree itself is left untouched."""
    monkeypatch.setattr(mutation, "STATIC_TESTS", ("tests/test_lint.py",))
    _static_tree(tmp_path)
    rows = [_static_row('check("x", x)', 'check("XXxXX", x)'), _static_row("return x + 1", "return x + 2"),
            _static_row('check("x", x)', "check(None, x)", status="equivalent"),
            _static_row('check("x", x)', 'check("X", x)', status="no tests")]
    mutation.static_pass(rows, tmp_path)
    assert [(r["status"], r["outcome"]) for r in rows] == [
        ("killed", mutation.STATIC_KILL), ("survived", "survived"), ("equivalent", "survived"),
        ("killed", mutation.STATIC_KILL)]
    assert (tmp_path / "impl" / "m.py").read_text() == 'def f(x):\n    check("x", x)\n    return x + 1\n'
    md = mutation.write_markdown(mutation.summarise(rows, seed=1, sample={"population": 4, "message_text_skipped": 0,
                                                                         "seen": 4, "by_module": {"impl.m": 4}})
                                 | {"history": []}, wall_s=None, cpu_s=None, workers=1, path=None)
    assert "## Killed by a static test" in md and md.count("XXxXX") == 1


def test_the_static_pass_changes_nothing_when_the_clean_tree_fails_its_lints(tmp_path, monkeypatch):
    monkeypatch.setattr(mutation, "STATIC_TESTS", ("tests/test_lint.py",))
    _static_tree(tmp_path, lint_passes_clean=False)
    rows = [_static_row('check("x", x)', 'check("XXxXX", x)')]
    mutation.static_pass(rows, tmp_path)
    assert rows[0]["status"] == "survived"


def test_the_static_pass_on_this_tree_kills_a_dropped_flag_name():
    """End to end on the checkout: the eighth sample's survivor check_scalar_per_token(None, theta, ...) fails the
    flag-name lint; a mutant the lint cannot see (a changed bound) survives it."""
    _pristine(mutation.module_file("impl.rules.ttt.layernorm", mutation.ROOT))
    rows = [{"name": "impl.rules.ttt.layernorm.x_titans_ln_recurrent__mutmut_20", "module": "impl.rules.ttt.layernorm",
             "status": "survived", "outcome": "survived", "reason": "", "diff": THETA_DIFF},
            {"name": "impl.rules.ttt.layernorm.x_titans_ln_recurrent__mutmut_0", "module": "impl.rules.ttt.layernorm",
             "status": "survived", "outcome": "survived", "reason": "",
             "diff": THETA_DIFF.replace('check_scalar_per_token(None, theta, q, low=0.0, high=float("inf"))',
                                        'check_scalar_per_token("theta", theta, q, low=1.0, high=float("inf"))')}]
    mutation.static_pass(rows, mutation.ROOT)
    assert [r["status"] for r in rows] == ["killed", "survived"]
