"""Every ``require_*("name", value, ...)`` check in impl/ and theory/ names the variable it checks: the flag a user
reads in the one-line error is the parameter they passed. Checked statically over the source (an AST walk), so that
every such call is covered, not only those a behavioural test happens to reach; a misspelt or changed flag literal
fails here. The few calls that check a value under another name do so on purpose and are listed with the reason."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# (file, literal, variable): the value is checked under the name of the parameter it came from
RENAMED = {
    ("impl/estimators/sampling.py", "trials", "batch"): "gaussian_pairs / orthonormal_keys call their batch size "
                                                        "'trials', the flag of every SNR command",
    ("impl/rules/rls/recurrent.py", "initial_state", "P"): "P is the second half of the initial_state pair",
    ("impl/rules/softmax_attention/recurrent.py", "initial_state", "K0"): "K0 is the first half of the cache pair",
    ("impl/rules/softmax_attention/recurrent.py", "initial_state", "V0"): "V0 is the second half of the cache pair",
}


def _require_calls():
    for path in sorted(ROOT.glob("impl/**/*.py")) + sorted(ROOT.glob("theory/**/*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text(), filename=rel)):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None) or ""
            if (name.startswith("require_") and len(node.args) >= 2 and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str) and isinstance(node.args[1], ast.Name)):
                yield rel, node.lineno, node.args[0].value, node.args[1].id


def test_require_checks_name_the_variable_they_check():
    calls = list(_require_calls())
    assert len(calls) >= 60  # the walk finds the checks (a broken walk would pass vacuously)
    wrong = [(rel, line, lit, var) for rel, line, lit, var in calls
             if lit != var and (rel, lit, var) not in RENAMED]
    assert not wrong, "a require_* check names another flag than the variable it checks: " + repr(wrong)
    used = {(rel, lit, var) for rel, _, lit, var in calls}
    assert set(RENAMED) <= used, "stale entries in RENAMED: " + repr(set(RENAMED) - used)


def _named_loops():
    """(file, line, literal, variable) for every pair of a loop over literal (name, variable) pairs, e.g.
    ``for name, val in (("d_k", d_k), ("T", T)): require_positive_int(name, val)``: the name a check reports."""
    for path in sorted(ROOT.glob("impl/**/*.py")) + sorted(ROOT.glob("theory/**/*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text(), filename=rel)):
            if not (isinstance(node, ast.For) and isinstance(node.target, ast.Tuple) and len(node.target.elts) == 2
                    and isinstance(node.iter, (ast.Tuple, ast.List))):
                continue
            for pair in node.iter.elts:
                if (isinstance(pair, ast.Tuple) and len(pair.elts) == 2 and isinstance(pair.elts[0], ast.Constant)
                        and isinstance(pair.elts[0].value, str) and isinstance(pair.elts[1], ast.Name)):
                    yield rel, pair.lineno, pair.elts[0].value, pair.elts[1].id


def test_loops_over_named_values_name_each_value_by_its_variable():
    """The loop form of the rule above: each (flag, value) pair of such a loop names the variable it carries, in the
    same case (a check of "TRIALS" for trials names no flag a user can pass)."""
    pairs = list(_named_loops())
    assert len(pairs) >= 15  # the walk finds them (a broken walk would pass vacuously)
    wrong = [p for p in pairs if p[2] != p[3]]
    assert not wrong, "a loop names a value by another name than its variable: " + repr(wrong)
