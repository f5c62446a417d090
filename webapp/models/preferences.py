"""Per-person notification preferences and the city's extra closed days."""
from __future__ import annotations

from datetime import date, datetime
from typing import Optional

import sqlalchemy as sa
import sqlalchemy.orm as so

from ..extensions import db
from .types import UTCDateTime, utcnow

IMMEDIATE = "immediate"
DIGEST = "digest"
NONE = "none"
MODES = (IMMEDIATE, DIGEST, NONE)


class NotificationPreference(db.Model):
    """How one person wants to hear of one kind of event; absent means immediately."""

    __table_args__ = (sa.UniqueConstraint("user_id", "event", name="uq_notification_preference_user_event"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"))
    event: so.Mapped[str] = so.mapped_column(sa.String(40))
    mode: so.Mapped[str] = so.mapped_column(sa.String(12))


class ClosedDay(db.Model):
    """A day the city's offices are closed beyond weekends, holidays and 29 Dec – 3 Jan."""

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    day: so.Mapped[date] = so.mapped_column(sa.Date, unique=True)
    reason: so.Mapped[str] = so.mapped_column(sa.String(200))
    created_by_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("user.id"))
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
