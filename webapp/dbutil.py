"""Small query helpers shared by several modules."""
from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from .extensions import db


def insert(table: Any) -> Any:
    """``INSERT`` with ``ON CONFLICT`` support for the database in use (PostgreSQL or SQLite)."""
    return (pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert)(table)


def like_pattern(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere, with ``%`` and ``_`` taken literally (escape ``\\``)."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
