"""Small query helpers shared by several modules."""
from __future__ import annotations

from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

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
    columns only, and keep what it read on ``obj`` with nothing to flush. The objects it was
    loaded with (a request's version, contract and requester) stay as they are; reading the
    whole object again would let go of them, and the next use of each would read it once more.
    A plain SELECT of the table, not ``session.refresh``, which builds its query anew each time
    (0.3 ms of an approval on PostgreSQL)."""
    model = type(obj)
    row = db.session.connection().execute(_relock_query(model), {"_id": sa.inspect(obj).identity[0]}).one()
    for key, value in zip(_columns(model), row):
        set_committed_value(obj, key, value)


@cache
def _columns(model: type) -> tuple[str, ...]:
    return tuple(attr.key for attr in sa.inspect(model).column_attrs)


def _column(model: type, key: str) -> sa.Column:
    """The table column behind ``model``'s attribute ``key``: statements on the table, not the
    mapped class, stay out of the ORM's bulk machinery."""
    return sa.inspect(model).get_property(key).columns[0]


@cache
def _relock_query(model: type) -> sa.Select:
    return (sa.select(*(_column(model, key) for key in _columns(model)))
            .where(sa.inspect(model).primary_key[0] == sa.bindparam("_id")).with_for_update())


def like_pattern(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere, with ``%`` and ``_`` taken literally (escape ``\\``)."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def update_versioned(obj: Any, values: dict[str, Any], version: str = "lock_version") -> None:
    """Write ``values``, and whatever else of the persistent ``obj``'s columns is pending, to its
    row in one ``UPDATE … WHERE id = :id AND <version> = :read``, bumping ``version`` as the
    ORM's flush does; leave ``obj`` holding the new values, with none of them left to flush.

    :raise StaleDataError: the row's version is no longer the one ``obj`` was read with
        (another action on it committed first), exactly as the flush would raise it

    Why not the flush: for one row whose columns the caller knows, the unit of work's
    bookkeeping costs twice the statement (an approval's request and inbox rows: 0.5 ms).
    Not inside ``begin_nested()``: a savepoint's rollback expires only objects the session saw
    modified, and ``obj`` would keep the values its rolled-back UPDATE wrote.
    """
    state = sa.inspect(obj)
    if state.key is None:
        raise ValueError(f"{obj!r} has no row yet: add and flush it first")
    unmodified = state.unmodified
    row = {key: state.dict[key] for key in _columns(type(obj)) if key not in unmodified}
    row.update(values)
    read = getattr(obj, version)  # loads it if a rollback expired it
    row[version] = read + 1
    statement = _versioned_update(type(obj), tuple(sorted(row)), version)
    written = db.session.connection().execute(statement, {**row, "_id": state.identity[0], "_read": read}).rowcount
    if written != 1:
        raise StaleDataError(f"{type(obj).__name__} {state.identity[0]} was changed by another action "
                             f"(version {read} expected, {written} rows matched)")
    for key, value in row.items():
        set_committed_value(obj, key, value)


@cache
def _versioned_update(model: type, keys: tuple[str, ...], version: str) -> sa.Update:
    """Built once per set of columns (an action writes the same few every time)."""
    return update_by_id(model, keys).where(_column(model, version) == sa.bindparam("_read"))


def update_by_id(model: type, keys: tuple[str, ...]) -> sa.Update:
    """``UPDATE <table> SET <key> = :<key>, … WHERE <primary key> = :_id`` on the table, not the
    mapped class (whose statements go through the ORM's bulk machinery), each value bound with
    its column's type (UTC datetimes, JSON). Callers build it once and keep it
    (``functools.cache``)."""
    columns = [_column(model, key) for key in keys]
    return (sa.update(model.__table__).where(sa.inspect(model).primary_key[0] == sa.bindparam("_id"))
            .values({column: sa.bindparam(key, type_=column.type) for key, column in zip(keys, columns)}))
