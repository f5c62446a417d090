"""Sample requests for the demo, one module per flow, each with ``load(world)``.

:func:`webapp.demo.load_requests` calls every module's ``load`` (in name order) with a
:class:`webapp.demo.DemoWorld`; each must be idempotent (do nothing if its samples exist).
"""
import importlib
import pkgutil
from types import ModuleType


def modules() -> list[ModuleType]:
    return [importlib.import_module(f"{__name__}.{m.name}") for m in sorted(pkgutil.iter_modules(__path__),
                                                                            key=lambda m: m.name)
            if not m.name.startswith("_")]
