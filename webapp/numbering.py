"""Gap-free document numbers: request references and decision numbers.

The counter is bumped with one atomic ``UPDATE … RETURNING`` so two transactions can never
take the same number, on SQLite or PostgreSQL; the row stays locked until commit, so a
rolled-back action gives its number back.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask import current_app

from . import dbutil
from .engine.calendar import to_tokyo
from .extensions import db
from .models import DocumentSequence


def _next(series: str) -> int:
    session = db.session
    value = session.execute(
        sa.update(DocumentSequence).where(DocumentSequence.name == series)
        .values(next_value=DocumentSequence.next_value + 1).returning(DocumentSequence.next_value)
    ).scalar()
    if value is None:
        session.execute(dbutil.insert(DocumentSequence).values(name=series, next_value=1).on_conflict_do_nothing())
        value = session.execute(
            sa.update(DocumentSequence).where(DocumentSequence.name == series)
            .values(next_value=DocumentSequence.next_value + 1).returning(DocumentSequence.next_value)
        ).scalar_one()
    return value - 1


def request_reference(prefix: str, at: datetime) -> str:
    year = to_tokyo(at).year
    seq = _next(f"request-{prefix}-{year}")
    return current_app.config["REQUEST_NUMBER_FORMAT"].format(prefix=prefix, year=year, seq=seq)


def decision_number(at: datetime) -> str:
    year = to_tokyo(at).year
    seq = _next(f"decision-{year}")
    return current_app.config["DECISION_NUMBER_FORMAT"].format(year=year, seq=seq)
