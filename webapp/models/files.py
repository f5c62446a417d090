"""Uploaded evidence, stored on disk by sha256 and described here."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

import sqlalchemy as sa
import sqlalchemy.orm as so

from ..extensions import db
from .types import UTCDateTime, utcnow


class Attachment(db.Model):
    """A file a person attached. ``instance_id`` is empty while it waits for its request.

    A pending upload (from a form that failed validation) belongs to its uploader only and
    is attached when the form is finally accepted.
    """

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    sha256: so.Mapped[str] = so.mapped_column(sa.String(64), index=True)
    filename: so.Mapped[str] = so.mapped_column(sa.String(255))
    size: so.Mapped[int]
    content_type: so.Mapped[str] = so.mapped_column(sa.String(120))
    field: so.Mapped[str] = so.mapped_column(sa.String(80), default="")
    instance_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("process_instance.id"), index=True)
    uploaded_by_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user.id"), index=True)
    uploaded_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
