"""Gap-free document numbers: request references and decision numbers.

The counter is bumped with one atomic ``UPDATE … RETURNING`` so two transactions can never
take the same number, on SQLite or PostgreSQL; the row stays locked until commit, so a
rolled-back action gives its number back.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from flask import current_app

from . import dbutil
from .engine.calendar import to_tokyo
from .extensions import db
from .models import DocumentSequence


def _next(series: str) -> int:
    session = db.session
    value = session.execute(_bump(), {"series": series}).scalar()
    if value is None:
        session.execute(dbutil.insert(DocumentSequence).values(name=series, next_value=1).on_conflict_do_nothing())
        value = session.execute(_bump(), {"series": series}).scalar_one()
    return value - 1


@cache
def _bump() -> sa.Update:
    """Built once: every request and decision takes a number. A statement on the table, not the
    mapped class: through the session, an UPDATE of a class runs the ORM's bulk-update
    machinery (matching objects in the session, none here), which cost 150 µs more than the
    statement itself (195 against 47 µs on SQLite)."""
    table = DocumentSequence.__table__
    return (sa.update(table).where(table.c.name == sa.bindparam("series"))
            .values(next_value=table.c.next_value + 1).returning(table.c.next_value))


# The rules below are pure (no database, no app) so that the bench's bulk generator numbers
# its requests exactly as the app does. Numbers restart each year, counted in Tokyo.

def request_series(prefix: str, at: datetime) -> str:
    """The counter a request reference with ``prefix`` made at ``at`` draws from."""
    return f"request-{prefix}-{to_tokyo(at).year}"


def decision_series(at: datetime) -> str:
    """The counter a decision number made at ``at`` draws from."""
    return f"decision-{to_tokyo(at).year}"


def format_reference(config: Mapping[str, Any], prefix: str, at: datetime, seq: int) -> str:
    """The ``seq``-th request reference of ``prefix`` in ``at``'s year, e.g. ``CPY-2026-00001``."""
    return config["REQUEST_NUMBER_FORMAT"].format(prefix=prefix, year=to_tokyo(at).year, seq=seq)


def format_decision_number(config: Mapping[str, Any], at: datetime, seq: int) -> str:
    """The ``seq``-th decision number of ``at``'s year, e.g. ``木情第2026-00001号``."""
    return config["DECISION_NUMBER_FORMAT"].format(year=to_tokyo(at).year, seq=seq)


def request_reference(prefix: str, at: datetime) -> str:
    return format_reference(current_app.config, prefix, at, _next(request_series(prefix, at)))


def decision_number(at: datetime) -> str:
    return format_decision_number(current_app.config, at, _next(decision_series(at)))
