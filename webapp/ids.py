"""Database ids arriving from outside (URLs, query strings, JSON, forms) are bounded here.

Primary keys are 32-bit on PostgreSQL; a larger number would reach the database and fail
there as a server error. Out-of-range ids are simply "not found".
"""
from __future__ import annotations

from typing import Any

from werkzeug.routing import IntegerConverter

MAX_ID = 2**31 - 1


def valid_id(value: Any) -> int | None:
    """``value`` as an id, or None if it is not an integer in 1..MAX_ID (booleans are not ids)."""
    if isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 1 <= number <= MAX_ID and str(number) == str(value).strip() else None


def id_arg(args: Any, name: str) -> int | None:
    """An id from a query string (``?contract=3``), or None."""
    raw = args.get(name)
    return valid_id(raw) if raw not in (None, "") else None


class BoundedIntConverter(IntegerConverter):
    """``<int:…>`` in every route, refusing numbers the database cannot hold (404 instead of 500)."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:  # noqa: A002 (werkzeug's name)
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)
