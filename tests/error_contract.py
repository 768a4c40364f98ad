"""The bad-input contract, checked on every ``InputError`` that any test raises (installed by ``conftest.py``).

The suite's contract for bad input: one line that names the parameter or flag and says what is allowed
(``impl/numerics/errors.py``). A test that provokes an error usually checks that one is raised, not what it names,
so a raise site that names nothing (``None``), or a name that exists nowhere (``"XXn_pairsXX"``, ``"N_PAIRS"``),
would pass it. Here every ``InputError`` built while a test runs is checked, whichever test raised it:

- the parameter is a non-empty string each of whose identifiers (``--n-pairs`` -> ``n_pairs``; ``adapter.scale``
  -> ``adapter``, ``scale``) is a name the user can see: an argument, variable or attribute name of the code
  (read from its syntax tree, so never from a string literal), or a command-line option, destination or
  metavariable of ``assocmem``'s parser (read from the parser itself);
- the message is a non-empty string of one line.

A violation raises ``TypeError`` at the raise site, which fails the test that provoked it (a test expecting
``InputError`` does not catch a ``TypeError``).
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIRS = ("impl", "theory", "assocmem", "benchmarks")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # an identifier


@functools.lru_cache(maxsize=None)
def code_names() -> frozenset:
    """Every argument, variable, attribute and keyword name in the code's syntax trees (no string literals)."""
    names: set[str] = set()
    for d in SOURCE_DIRS:
        for path in sorted((ROOT / d).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.arg):
                    names.add(node.arg)
                elif isinstance(node, ast.Name):
                    names.add(node.id)
                elif isinstance(node, ast.Attribute):
                    names.add(node.attr)
                elif isinstance(node, ast.keyword) and node.arg:
                    names.add(node.arg)
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
