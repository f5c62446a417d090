"""The app's notion of now. Tests and the benchmark replace it instead of sleeping."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

from flask import current_app, has_app_context

EXTENSION = "shodaku.clock"


def _system() -> datetime:
    return datetime.now(timezone.utc)


def now() -> datetime:
    if has_app_context():
        return current_app.extensions.get(EXTENSION, _system)()
    return _system()


def init_app(app, source: Callable[[], datetime] | None = None) -> None:
    app.extensions[EXTENSION] = source or _system
