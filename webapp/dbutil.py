"""Small query helpers shared by several modules."""
from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from .extensions import db


def insert(table: Any, dialect: str | None = None) -> Any:
    """``INSERT`` with ``ON CONFLICT`` support for ``dialect`` (default: the database in use)."""
    dialect = dialect or db.session.get_bind().dialect.name
    return (pg_insert if dialect == "postgresql" else sqlite_insert)(table)


def has_row_locks() -> bool:
    """Whether ``SELECT … FOR UPDATE`` locks anything: PostgreSQL yes; SQLite locks the whole
    database at a transaction's first write instead (and drops the clause)."""
    return db.session.get_bind().dialect.name == "postgresql"


def like_pattern(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere, with ``%`` and ``_`` taken literally (escape ``\\``)."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
