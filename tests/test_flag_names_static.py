"""Every flag check in impl/ and theory/ names a flag a user can pass. A *flag checker* is a function whose first
parameter ``name`` reaches ``InputError`` as the flag of the one-line error (``require_positive_int``,
``check_scalar_per_token``, ...; found by walking the source, not listed by hand). Each call of one, ``check("name",
value, ...)``, names the variable it checks; each ``InputError("flag", ...)`` names a parameter or field of its
module, or a flag of the command line; and every error carries its message. Checked statically over the source (an
AST walk), so that every such call is covered, not only those a behavioural test happens to reach; a misspelt,
re-cased or dropped flag literal, or a dropped message, fails here. The few flags named otherwise are listed with the
reason.

(mutmut cannot select these tests for a mutant, since its copy holds every mutant's text side by side; the mutation
job instead applies each surviving mutant alone to a copy of the source and runs them there, see
``assocmem.mutation.STATIC_TESTS``.)"""

import argparse
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


def _sources():
    for path in sorted(ROOT.glob("impl/**/*.py")) + sorted(ROOT.glob("theory/**/*.py")):
        rel = path.relative_to(ROOT).as_posix()
        yield rel, ast.parse(path.read_text(), filename=rel)


def _callee(node: ast.Call) -> str:
    return getattr(node.func, "id", None) or getattr(node.func, "attr", None) or ""


def flag_checkers() -> set[str]:
    """The functions whose first parameter ``name`` becomes the flag of an ``InputError``: directly, or through
    another such function (a fixed point over the source)."""
    defs: dict[str, list] = {}
    for _, tree in _sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.args.args and node.args.args[0].arg == "name":
                defs.setdefault(node.name, []).append(node)

    def forwards(fn, checkers):
        return any(isinstance(c, ast.Call) and c.args and isinstance(c.args[0], ast.Name) and c.args[0].id == "name"
                   and _callee(c) in checkers for c in ast.walk(fn))

    checkers = {"InputError"}
    while True:
        grown = {"InputError"} | {f for f, nodes in defs.items() if any(forwards(n, checkers) for n in nodes)}
        if grown == checkers:
            return checkers - {"InputError"}
        checkers = grown


def _check_calls():
    """(file, line, flag, variable) for every call ``check(flag, variable, ...)`` of a flag checker: ``flag`` is the
    literal's value, or the source text of a first argument that is no string literal (a forwarded ``name`` is
    skipped: its caller is checked)."""
    checkers = flag_checkers()
    for rel, tree in _sources():
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and _callee(node) in checkers and len(node.args) >= 2
                    and isinstance(node.args[1], ast.Name)):
                continue
            first = node.args[0]
            if isinstance(first, ast.Name) and first.id == "name":
                continue
            flag = first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else ast.unparse(first)
            yield rel, node.lineno, flag, node.args[1].id


def test_the_walk_finds_the_flag_checkers():
    assert {"require_positive_int", "require_finite", "check_scalar_per_token", "check_gate",
            "check_scalar_gate"} <= flag_checkers()
    assert "check_qkv" not in flag_checkers()  # checks tensors by position, names them itself


def test_flag_checks_name_the_variable_they_check():
    calls = list(_check_calls())
    assert len(calls) >= 80  # the walk finds the checks (a broken walk would pass vacuously)
    assert {c[0] for c in calls if c[2] == "theta"}  # the rules' per-token checks are among them
    wrong = [(rel, line, lit, var) for rel, line, lit, var in calls
             if lit != var and (rel, lit, var) not in RENAMED]
    assert not wrong, "a flag check names another flag than the variable it checks: " + repr(wrong)
    used = {(rel, lit, var) for rel, _, lit, var in calls}
    assert set(RENAMED) <= used, "stale entries in RENAMED: " + repr(set(RENAMED) - used)


# flags named by an InputError that are neither a parameter or field of its module nor a command-line flag
OTHER_FLAGS = {
    ("impl/deltaformer/constructions.py", "i, j"): "swap_key's two slots, checked together",
    ("impl/estimators/recall_prediction.py", "s2"): "the S2 values, passed as s2_values",
    ("impl/memories/kernels.py", "feature_map"): "the name of a feature map, the option's name in the kernel memory",
    ("impl/rules/data.py", "keys"): "the key distribution of a rule experiment (its 'keys' setting)",
    ("impl/rules/data.py", "extras"): "the distribution of a rule's extra inputs (its 'extras' setting)",
    ("impl/tasks/dag.py", "query"): "the (s, t) query of a DAG task",
}


def _cli_dests() -> set[str]:
    from assocmem.cli import build_parser

    dests: set[str] = set()

    def walk(parser):
        for action in parser._actions:
            dests.add(action.dest)
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    walk(sub)

    walk(build_parser())
    return dests


def test_input_errors_name_a_flag_a_user_passes():
    dests = _cli_dests()
    assert {"n_pairs", "d_k", "trials", "kernel", "memory"} <= dests
    seen, wrong = 0, []
    for rel, tree in _sources():
        names = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.Lambda)):
                a = node.args
                names |= {x.arg for x in a.posonlyargs + a.args + a.kwonlyargs}
            elif isinstance(node, ast.ClassDef):
                names |= {s.target.id for s in node.body if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _callee(node) == "InputError" and node.args \
                    and isinstance(node.args[0], ast.Constant):
                seen += 1
                flag = node.args[0].value
                if not (isinstance(flag, str) and (flag in names or flag in dests or (rel, flag) in OTHER_FLAGS)):
                    wrong.append((rel, node.lineno, flag))
    assert seen >= 120  # the walk finds the errors
    assert not wrong, "an InputError names no flag a user can pass: " + repr(wrong)
    found = {(rel, n.args[0].value) for rel, tree in _sources() for n in ast.walk(tree)
             if isinstance(n, ast.Call) and _callee(n) == "InputError" and n.args and isinstance(n.args[0], ast.Constant)}
    assert set(OTHER_FLAGS) <= found, "stale entries in OTHER_FLAGS: " + repr(set(OTHER_FLAGS) - found)


def _named_loops():
    """(file, line, literal, variable) for every pair of a loop over literal (name, variable) pairs, e.g.
    ``for name, val in (("d_k", d_k), ("T", T)): require_positive_int(name, val)``: the name a check reports."""
    for rel, tree in _sources():
        for node in ast.walk(tree):
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


def _is_message(node) -> bool:
    return (isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.strip() != "") or \
        isinstance(node, ast.JoinedStr)


def test_every_error_says_what_is_allowed():
    """Every ``InputError(flag, message)`` and ``DivergentMoment(message)`` raised in impl/ and theory/ carries its
    message as a string literal or an f-string, the half of the one-line error that says what is allowed (a message
    dropped, or replaced by None, would print "flag: None" or fail to construct; only the paths a test happens to
    reach would show it)."""
    seen, wrong = 0, []
    for rel, tree in _sources():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            if _callee(node) == "InputError":
                seen += 1
                if len(node.args) != 2 or node.keywords or not _is_message(node.args[1]):
                    wrong.append((rel, node.lineno, ast.unparse(node)[:80]))
            elif _callee(node) == "DivergentMoment":
                seen += 1
                if len(node.args) != 1 or node.keywords or not _is_message(node.args[0]):
                    wrong.append((rel, node.lineno, ast.unparse(node)[:80]))
    assert seen >= 150
    assert not wrong, "an error raised without its message: " + repr(wrong)
