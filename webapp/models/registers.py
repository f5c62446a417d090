"""Registers the flows write and later flows read (Art. 3, 5)."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, Optional

import sqlalchemy as sa
import sqlalchemy.orm as so

from ..extensions import db
from .types import UTCDateTime, utcnow


class CopyRecord(db.Model):
    """A consented copy of information assets, to be destroyed at contract end (Art. 3(2), Art. 5)."""

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    contract_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("contract.id"), index=True)
    instance_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("process_instance.id"), unique=True)
    decision_number: so.Mapped[str] = so.mapped_column(sa.String(40))
    asset_ids: so.Mapped[list[int]] = so.mapped_column(sa.JSON)
    description: so.Mapped[str] = so.mapped_column(sa.Text)
    copies: so.Mapped[int]
    medium: so.Mapped[str] = so.mapped_column(sa.String(200))
    location: so.Mapped[str] = so.mapped_column(sa.String(300))
    handlers: so.Mapped[list[Any]] = so.mapped_column(sa.JSON)
    destruction_due: so.Mapped[date] = so.mapped_column(sa.Date)
    destroyed_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    contract = so.relationship("Contract")
    instance = so.relationship("ProcessInstance")
