"""Administration verbs: they flush and audit, the view commits."""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from .. import audit, clock
from ..extensions import db
from ..models import User
from ..models.preferences import ClosedDay


class Refused(ValueError):
    """Input an administrator must correct; the message says how."""


def add_closed_day(raw_day: str, raw_reason: str, user: User) -> ClosedDay:
    try:
        day = date.fromisoformat(raw_day)
    except ValueError:
        raise Refused(_l("Enter a date (YYYY-MM-DD) and a reason.")) from None
    reason = raw_reason.strip()[:200]
    if not reason:
        raise Refused(_l("Enter a date (YYYY-MM-DD) and a reason."))
    if db.session.scalar(sa.select(ClosedDay).where(ClosedDay.day == day)) is not None:
        raise Refused(_l("That day is already closed."))
    row = ClosedDay(day=day, reason=reason, created_by_id=user.id, created_at=clock.now())
    db.session.add(row)
    audit.record("closed_day_added", actor_id=user.id, detail={"day": day.isoformat(), "reason": reason})
    return row


def remove_closed_day(row: ClosedDay, user: User) -> None:
    audit.record("closed_day_removed", actor_id=user.id, detail={"day": row.day.isoformat()})
    db.session.delete(row)
