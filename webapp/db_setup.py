"""Database connection settings per dialect.

SQLite: WAL (readers never block the writer), a generous busy timeout (writers queue
instead of failing), foreign keys on, and checkpoints left to the worker. PostgreSQL needs
nothing beyond the URL.
"""
from __future__ import annotations

import sqlalchemy as sa
from flask import Flask

from . import dbutil
from .extensions import db


# Pages the WAL may hold before the connection that commits copies them into the database
# itself, making its request wait. The worker checkpoints every turn instead (checkpoint_wal);
# this limit is the safety net for when it is not running. At SQLite's default of 1,000 pages,
# every 27th approval at 100,000 open tasks paid about 8 ms for a checkpoint (make bench).
WAL_AUTOCHECKPOINT_PAGES = 10_000


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
    cursor.close()


def checkpoint_wal() -> tuple[int, int] | None:
    """SQLite: copy what the WAL holds into the database, waiting for nobody (``PASSIVE``:
    frames a reader still needs stay for the next turn). The worker calls it every turn so
    that requests do not pay for checkpoints. Returns (frames in the WAL, frames copied);
    None on PostgreSQL."""
    if dbutil.dialect() != "sqlite":
        return None
    _busy, frames, copied = db.session.connection().exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()
    return frames, copied


def init_app(app: Flask) -> None:
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "sqlite":
            sa.event.listen(engine, "connect", _sqlite_pragmas)
