"""Guardrails: the controls the provisions demand, checked on a diagram's graph before deploy.

(To be built: policies kept as data in ``processes/policies/<process key>.json``.)
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .engine.parse import Problem


def check(meta: Mapping[str, Any]) -> list[Problem]:
    """Every guardrail problem of a described diagram (``engine.parse.describe`` output)."""
    return []
