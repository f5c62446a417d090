"""Designer views (to be built)."""
from __future__ import annotations

from . import bp  # noqa: F401
