"""Result cache: a report regeneration reuses every result whose inputs are unchanged.

A task's key is the SHA-256 of: the task (kind, claim/figure id, parameters, seed, device, dtype), the source
code of every module it depends on (the claim's or figure's ``modules`` plus the module that defines it and the
glue it runs through), and the versions of Python, NumPy, SciPy, SymPy and PyTorch. Entries are pickles framed
with their own SHA-256; a truncated or corrupted entry fails the check, is deleted and recomputed, never used.
Writes go to a temporary file and are renamed into place, so an interrupted run leaves no partial entry.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import pickle
import platform
import sys
import tempfile
from functools import lru_cache
from pathlib import Path

GLUE = ("assocmem.registry", "assocmem.checks", "impl.estimators.stats", "impl.numerics.device", "impl.estimators.sampling", "impl.numerics.errors")


def cache_dir() -> Path:
    """``$ASSOCMEM_CACHE`` or ``.cache/results`` under the current directory."""
    return Path(os.environ.get("ASSOCMEM_CACHE", Path.cwd() / ".cache" / "results"))


ROOT = Path(__file__).resolve().parent.parent


@lru_cache(maxsize=None)
def module_fingerprint(name: str) -> str:
    """SHA-256 of a module's source file (or of every .py file of a package); ``path:DIR`` hashes every .py file
    under DIR of the repository (e.g. ``path:tests``, which is not an importable package)."""
    if name.startswith("path:"):
        h = hashlib.sha256()
        for p in sorted((ROOT / name[5:]).rglob("*.py")):
            h.update(p.relative_to(ROOT).as_posix().encode())
            h.update(p.read_bytes())
        return h.hexdigest()
    spec = importlib.util.find_spec(name)
    if spec is None:
        return f"missing:{name}"
    h = hashlib.sha256()
    if spec.submodule_search_locations:  # a package: hash all its files
        for base in spec.submodule_search_locations:
            for p in sorted(Path(base).rglob("*.py")):
                h.update(p.name.encode())
                h.update(p.read_bytes())
    elif spec.origin and os.path.exists(spec.origin):
        h.update(Path(spec.origin).read_bytes())
    return h.hexdigest()


@lru_cache(maxsize=1)
def versions() -> tuple:
    import numpy
    import scipy
    import sympy
    import torch

    return (platform.python_version(), numpy.__version__, scipy.__version__, sympy.__version__, torch.__version__)


def key(task: tuple, modules: tuple[str, ...]) -> str:
    h = hashlib.sha256()
    h.update(repr(task).encode())
    for m in sorted(set(modules) | set(GLUE)):
        h.update(m.encode())
        h.update(module_fingerprint(m).encode())
    h.update(repr(versions()).encode())
    return h.hexdigest()


def _discard(path: Path, why: str) -> None:
    print(f"assocmem: notice: cache entry {path} is {why}; recomputed", file=sys.stderr)
    path.unlink(missing_ok=True)


def exists(k: str, root: str | os.PathLike | None = None) -> bool:
    """Whether an entry for key ``k`` is stored (in ``root``, default ``cache_dir()``); ``load`` checks it."""
    return (Path(root if root is not None else cache_dir()) / k[:2] / f"{k}.pkl").is_file()


def load(k: str):
    """The cached value for key ``k``, or ``None``. A truncated or corrupted entry is deleted with a one-line notice
    on stderr (and so recomputed by the caller), never used."""
    path = cache_dir() / k[:2] / f"{k}.pkl"
    try:
        blob = path.read_bytes()
    except OSError:
        return None
    digest, payload = blob[:64], blob[64:]
    if hashlib.sha256(payload).hexdigest().encode() != digest:
        _discard(path, "truncated or corrupted (checksum mismatch)")
        return None
    try:
        return pickle.loads(payload)
    except Exception as e:  # noqa: BLE001 - an unreadable entry is recomputed, never used
        _discard(path, f"unreadable ({type(e).__name__})")
        return None


def store(k: str, value, root: str | os.PathLike | None = None) -> None:
    """Store ``value`` under key ``k`` in ``root`` (default: ``cache_dir()``; workers get the root from the process
    that owns the cache, since a reused worker process may have been started with another environment)."""
    path = Path(root if root is not None else cache_dir()) / k[:2] / f"{k}.pkl"
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = pickle.dumps(value, protocol=4)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(hashlib.sha256(payload).hexdigest().encode() + payload)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
