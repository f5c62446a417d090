"""The instance diagram: the version's BPMN with the path taken (to be built)."""
from __future__ import annotations

from . import bp  # noqa: F401
