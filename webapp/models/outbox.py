"""Messages written with the change that caused them and sent after commit (DESIGN rule 9)."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

import sqlalchemy as sa
import sqlalchemy.orm as so

from ..extensions import db
from .types import UTCDateTime, utcnow


class OutboxMessage(db.Model):
    __table_args__ = (sa.Index("ix_outbox_message_pending", "sent_at", "not_before"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    # Unique per causing event and recipient: writing the same event twice is a no-op.
    dedupe_key: so.Mapped[str] = so.mapped_column(sa.String(200), unique=True)
    kind: so.Mapped[str] = so.mapped_column(sa.String(40))
    recipient_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("user.id"), index=True)
    to_address: so.Mapped[str] = so.mapped_column(sa.String(254))
    subject: so.Mapped[str] = so.mapped_column(sa.String(300))
    body: so.Mapped[str] = so.mapped_column(sa.Text)
    instance_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("process_instance.id"))
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    not_before: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    attempts: so.Mapped[int] = so.mapped_column(default=0)
    sent_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)
    last_error: so.Mapped[str] = so.mapped_column(sa.Text, default="")


class JobRun(db.Model):
    """A scheduled run that must happen once however many workers race for it (the day's
    digest): the first insert of its name claims it, every later one finds it taken."""

    name: so.Mapped[str] = so.mapped_column(sa.String(80), primary_key=True)
    claimed_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)


class WorkerBeat(db.Model):
    """When each worker process last finished a turn: without turns, no reminder, escalation
    or mail goes out, and nobody would notice (``webapp.heartbeat``)."""

    worker: so.Mapped[str] = so.mapped_column(sa.String(120), primary_key=True)  # host:pid
    started_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    last_turn_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, index=True)
