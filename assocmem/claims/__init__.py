"""Claim modules. Every module in this package is imported on first use of the registry; each one registers
its claims (and figures) with ``assocmem.registry.register``. To add claims, add a module here."""

import importlib
import pkgutil

for _mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if not _mod.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_mod.name}")
