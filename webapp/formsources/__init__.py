"""Providers of form options (``x-source``), one module per register; all are imported here.

Each module registers providers with :func:`webapp.formschema.source`.
"""
import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")
