"""Bulk writes below the ORM: SQLite ``executemany`` on the driver, PostgreSQL ``COPY``.

Values are converted exactly as the models' column types would store them (naive UTC for
``UTCDateTime``, JSON text, SQLite's ``YYYY-MM-DD HH:MM:SS.ffffff`` datetime strings), so
what the app reads back is what it would have written itself.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timezone
from typing import Any

import sqlalchemy as sa

from webapp.models.types import UTCDateTime


def _converter(column: sa.Column, sqlite: bool):
    kind = column.type
    if isinstance(kind, UTCDateTime):
        if sqlite:
            return lambda v: None if v is None else v.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
        return lambda v: None if v is None else v.astimezone(timezone.utc).replace(tzinfo=None)
    if isinstance(kind, sa.JSON):
        return lambda v: None if v is None else (v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))
    if isinstance(kind, sa.Boolean) and sqlite:
        return lambda v: None if v is None else int(bool(v))
    if isinstance(kind, sa.Date) and sqlite:
        return lambda v: None if v is None else (v.isoformat() if isinstance(v, date) else v)
    if isinstance(kind, sa.DateTime) and sqlite:
        return lambda v: None if v is None else v.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(v, datetime) else v
    return None


class Writer:
    """One raw DB-API connection for the whole generation, committed per :meth:`commit`."""

    def __init__(self, engine: sa.Engine):
        self.sqlite = engine.dialect.name == "sqlite"
        self.raw = engine.raw_connection()
        self.driver = self.raw.driver_connection
        if self.sqlite:
            cur = self.driver.cursor()
            # Bulk-load settings for this connection only; the app's own connections keep theirs.
            cur.execute("PRAGMA synchronous=OFF")
            cur.execute("PRAGMA cache_size=-262144")
            cur.close()
        self._convs: dict[tuple[str, tuple[str, ...]], list[Any]] = {}

    def insert(self, table: sa.Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        key = (table.name, tuple(columns))
        convs = self._convs.get(key)
        if convs is None:
            convs = self._convs[key] = [_converter(table.c[c], self.sqlite) for c in columns]
        pairs = [(i, f) for i, f in enumerate(convs) if f is not None]

        def converted(row: Sequence[Any]) -> Sequence[Any]:
            if not pairs:
                return row
            row = list(row)
            for i, f in pairs:
                row[i] = f(row[i])
            return row

        cols = ", ".join(f'"{c}"' for c in columns)
        count = 0
        if self.sqlite:
            sql = f'INSERT INTO "{table.name}" ({cols}) VALUES ({", ".join("?" * len(columns))})'
            cur = self.driver.cursor()
            batch: list[Sequence[Any]] = []
            for row in rows:
                batch.append(converted(row))
                if len(batch) >= 5000:
                    cur.executemany(sql, batch)
                    count += len(batch)
                    batch = []
            if batch:
                cur.executemany(sql, batch)
                count += len(batch)
            cur.close()
        else:
            with self.driver.cursor() as cur:
                with cur.copy(f'COPY "{table.name}" ({cols}) FROM STDIN') as copy:
                    for row in rows:
                        copy.write_row(converted(row))
                        count += 1
        return count

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        cur = self.driver.cursor()
        if not self.sqlite:
            sql = sql.replace("?", "%s")
        cur.execute(sql, params)
        rows = cur.fetchall() if cur.description else []
        cur.close()
        return rows

    def next_id(self, table: sa.Table) -> int:
        return (self.execute(f'SELECT MAX(id) FROM "{table.name}"')[0][0] or 0) + 1

    def commit(self) -> None:
        self.driver.commit()

    def close(self) -> None:
        self.raw.close()

    def fix_sequences(self, metadata: sa.MetaData) -> None:
        """PostgreSQL: move each serial past the ids we wrote explicitly."""
        if self.sqlite:
            return
        for table in metadata.sorted_tables:
            if "id" in table.c and isinstance(table.c.id.type, (sa.Integer, sa.BigInteger)) and table.c.id.autoincrement:
                seq = self.execute("SELECT pg_get_serial_sequence(?, 'id')", (f'"{table.name}"',))[0][0]
                if seq:
                    self.execute(f"SELECT setval('{seq}', COALESCE((SELECT MAX(id) FROM \"{table.name}\"), 0) + 1, false)")
