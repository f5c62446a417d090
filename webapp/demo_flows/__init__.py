"""Sample requests for the demo, one module per flow, each with ``load(world)``.

:func:`webapp.demo.load_requests` calls every module's ``load`` (in name order) with a
:class:`webapp.demo.DemoWorld`; each must be idempotent (do nothing if its samples exist).
"""
import importlib
import io
import pkgutil
from types import ModuleType

from .. import storage
from ..extensions import db
from ..models import User


def sample_file(user: User, filename: str, content: str | bytes, field: str = "") -> int:
    """Store a small sample document as ``user``'s upload and return its id (forms name files by id)."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    attachment = storage.store(io.BytesIO(data), filename, user, field)
    db.session.flush()
    return attachment.id


def modules() -> list[ModuleType]:
    return [importlib.import_module(f"{__name__}.{m.name}") for m in sorted(pkgutil.iter_modules(__path__),
                                                                            key=lambda m: m.name)
            if not m.name.startswith("_")]
