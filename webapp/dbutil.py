"""Small query helpers shared by several modules."""
from __future__ import annotations

from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from .extensions import db


def dialect() -> str:
    """The database in use: ``"postgresql"`` or ``"sqlite"``."""
    return db.session.get_bind().dialect.name


def insert(table: Any) -> Any:
    """``INSERT`` with ``ON CONFLICT`` support for the database in use (PostgreSQL or SQLite)."""
    return _insert_for(dialect(), table)


def _insert_for(name: str, table: Any) -> Any:
    return (pg_insert if name == "postgresql" else sqlite_insert)(table)


def insert_new_rows(table: sa.Table, *unique: str) -> sa.Insert:
    """``INSERT`` of rows to write (many at once) where a row whose ``unique`` columns are
    taken is left as it is. Built once per table and database: hot paths queue mail and add
    candidates with it, and building the statement costs more than running it."""
    return _insert_new_rows(dialect(), table, unique)


@cache
def _insert_new_rows(name: str, table: sa.Table, unique: tuple[str, ...]) -> sa.Insert:
    return _insert_for(name, table).on_conflict_do_nothing(index_elements=list(unique))


def has_row_locks() -> bool:
    """Whether ``SELECT … FOR UPDATE`` locks anything: PostgreSQL yes; SQLite locks the whole
    database at a transaction's first write instead (and drops the clause)."""
    return dialect() == "postgresql"


def relock(obj: Any) -> None:
    """Read ``obj``'s row again under ``FOR UPDATE`` (PostgreSQL; SQLite drops the clause), its
    columns only. The objects it was loaded with (a request's version, contract and requester)
    stay as they are; reading the whole object again would let go of them, and the next use of
    each would read it once more."""
    db.session.refresh(obj, attribute_names=_columns(type(obj)), with_for_update=True)


@cache
def _columns(model: type) -> tuple[str, ...]:
    return tuple(attr.key for attr in sa.inspect(model).column_attrs)


def like_pattern(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere, with ``%`` and ``_`` taken literally (escape ``\\``)."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
