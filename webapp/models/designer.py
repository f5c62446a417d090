"""Designer drafts: a process owner's unsaved work on one flow, kept until deployed or discarded."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

import sqlalchemy as sa
import sqlalchemy.orm as so

from ..extensions import db
from .identity import User
from .types import UTCDateTime, utcnow


class DesignDraft(db.Model):
    """One draft per person and process key (issue 5).

    A draft is only ever BPMN that passed the safe XML reader; it is never parsed by the
    engine or run. ``base_version`` is the deployed version it was opened from (None for a
    new flow), so the designer can warn when someone deployed a newer version meanwhile.
    """

    __table_args__ = (sa.UniqueConstraint("user_id", "process_key", name="uq_design_draft_user_process"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"))
    process_key: so.Mapped[str] = so.mapped_column(sa.String(80), index=True)
    bpmn: so.Mapped[bytes] = so.mapped_column(sa.LargeBinary)
    base_version: so.Mapped[Optional[int]]
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    updated_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    user: so.Mapped[User] = so.relationship()
