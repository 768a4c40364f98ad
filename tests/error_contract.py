"""The bad-input contract, checked on every ``InputError`` that any test raises (installed by ``conftest.py``).

The suite's contract for bad input: one line that names the parameter or flag and says what is allowed
(``impl/numerics/errors.py``). A test that provokes an error usually checks that one is raised, not what it names,
so a raise site that names nothing (``None``), or a name that exists nowhere (``"XXn_pairsXX"``, ``"N_PAIRS"``),
would pass it. Here every ``InputError`` built while a test runs is checked, whichever test raised it:

- the parameter is a non-empty string each of whose identifiers (``--n-pairs`` -> ``n_pairs``; ``adapter.scale``
  -> ``adapter``, ``scale``) is a name the user can see: an argument, variable, global or attribute name of the
  code's loaded modules (read from their compiled code objects, so never from a string literal; cheap enough for
  every raise, also in mutation testing's copy, whose source files hold every mutant), or a command-line option,
  destination or metavariable of ``assocmem``'s parser (read from the parser itself);
- the message is a non-empty string of one line.

A violation raises ``TypeError`` at the raise site, which fails the test that provoked it (a test expecting
``InputError`` does not catch a ``TypeError``).
"""

from __future__ import annotations

import functools
import re
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIRS = ("impl", "theory", "assocmem", "benchmarks")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # an identifier


def _code_objects(obj, seen: set):
    """The code objects of a function, class or module member, nested ones included."""
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, (staticmethod, classmethod)):
        obj = obj.__func__
    if isinstance(obj, property):
        for f in (obj.fget, obj.fset, obj.fdel):
            if f is not None:
                yield from _code_objects(f, seen)
        return
    code = getattr(obj, "__code__", None)
    if isinstance(code, types.CodeType):
        stack = [code]
        while stack:
            c = stack.pop()
            yield c
            stack += [k for k in c.co_consts if isinstance(k, types.CodeType)]
        for inner in (getattr(obj, "__wrapped__", None),):
            if inner is not None:
                yield from _code_objects(inner, seen)
    elif isinstance(obj, type):
        for member in vars(obj).values():
            yield from _code_objects(member, seen)


def code_names() -> frozenset:
    """Every argument, local, global and attribute name of the code's modules (read from their compiled code
    objects, so never from a string literal) and their module-level names. Every module of impl/, theory/ and
    assocmem/ is imported first, so the answer does not depend on which tests ran before (a test file run alone, as
    mutation testing runs a mutant's tests, sees the same names as the whole suite)."""
    _import_all()
    return _names_of(tuple(sorted(n for n in sys.modules if n.split(".")[0] in SOURCE_DIRS)))


@functools.lru_cache(maxsize=1)
def _import_all() -> None:
    import importlib

    for top in ("impl", "theory", "assocmem"):
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            if name.endswith("__main__"):
                continue
            try:
                importlib.import_module(name)
            except ModuleNotFoundError as e:  # an optional extra that is not installed (e.g. a peer library)
                if (e.name or "").split(".")[0] in SOURCE_DIRS:
                    raise


@functools.lru_cache(maxsize=8)
def _names_of(modules: tuple) -> frozenset:
    names: set[str] = set()
    seen: set[int] = set()
    for name in modules:
        module = sys.modules.get(name)
        if module is None:
            continue
        for key, obj in list(vars(module).items()):
            names.add(key)
            if getattr(obj, "__module__", name) != name:
                continue  # imported from elsewhere: its own module contributes it
            for code in _code_objects(obj, seen):
                names.update(code.co_varnames, code.co_names, code.co_freevars, code.co_cellvars)
    return frozenset(names)


def _parser_names(parser) -> set[str]:
    import argparse

    out: set[str] = set()
    for action in parser._actions:  # argparse keeps no public list of a parser's actions
        out |= {s.lstrip("-").replace("-", "_") for s in action.option_strings}
        if action.dest and action.dest != argparse.SUPPRESS:
            out.add(action.dest)
        if isinstance(action.metavar, str):  # 'MODULE:FUNCTION' -> 'MODULE', 'FUNCTION'
            out |= {action.metavar, *identifiers(action.metavar)}
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                out |= _parser_names(sub)
    return out


@functools.lru_cache(maxsize=None)
def cli_names() -> frozenset:
    """Every option (dashes stripped, '-' -> '_'), destination and metavariable of the ``assocmem`` parser."""
    from assocmem.cli import build_parser

    return frozenset(_parser_names(build_parser()))


def identifiers(parameter: str) -> list[str]:
    """The identifiers a parameter string names: '--n-pairs/--d-k' -> ['n_pairs', 'd_k'], 'adapter.scale' ->
    ['adapter', 'scale']."""
    words = (w.lstrip("-").replace("-", "_") for w in re.findall(r"[A-Za-z0-9_-]+", parameter))
    return [w for w in words if _IDENT.fullmatch(w)]


# Names accepted although no code or CLI name spells them, each with its reason (keep this list short).
KNOWN_EXCEPTIONS = {
    "query": "impl/tasks/dag.py's shortest_hops(edges, s, t) names the (s, t) query of the DAG task; renaming it to "
             "'s, t' would stale the trained D4/D5 records, which depend on the whole impl.tasks package",
}


def problems(parameter, message) -> list[str]:
    """What is wrong with an ``InputError(parameter, message)`` under the contract (module doc); [] if nothing."""
    out = []
    if not isinstance(parameter, str) or not parameter.strip():
        out.append(f"the parameter must be a non-empty string, got {parameter!r}")
    else:
        idents = identifiers(parameter)
        unknown = [i for i in idents if i not in code_names() and i not in cli_names() and i not in KNOWN_EXCEPTIONS]
        if not idents or unknown:
            out.append(f"the parameter {parameter!r} names nothing in the code or the CLI ({unknown or 'no identifier'})")
    if not isinstance(message, str) or not message.strip():
        out.append(f"the message must be a non-empty string, got {message!r}")
    elif "\n" in message:
        out.append(f"the message must be one line, got {message!r}")
    return out


def install() -> None:
    """Check every ``InputError`` built from now on (idempotent)."""
    from impl.numerics.errors import InputError

    if getattr(InputError.__init__, "_contract_checked", False):
        return
    original = InputError.__init__

    def checked_init(self, parameter, message):
        found = problems(parameter, message)
        if found:
            raise TypeError("InputError breaks the bad-input contract (tests/error_contract.py): " + "; ".join(found))
        original(self, parameter, message)

    checked_init._contract_checked = True
    InputError.__init__ = checked_init
