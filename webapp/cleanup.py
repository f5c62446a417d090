"""Housekeeping the worker does: uploads nobody attached to a request are removed after a day."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa

from . import storage
from .extensions import db
from .models import Attachment

logger = logging.getLogger(__name__)
PENDING_UPLOAD_LIFETIME = timedelta(days=1)


def remove_stale_uploads(now: datetime, limit: int = 500) -> int:
    """Delete pending uploads older than a day (a form abandoned after a refusal).

    The file itself goes only when no other row names the same bytes (storage is by sha256).
    """
    stale = db.session.scalars(sa.select(Attachment).where(
        Attachment.instance_id.is_(None), Attachment.uploaded_at < now - PENDING_UPLOAD_LIFETIME).limit(limit)).all()
    for row in stale:
        db.session.delete(row)
    db.session.flush()
    for sha in {row.sha256 for row in stale}:
        if not db.session.scalar(sa.select(sa.func.count()).select_from(Attachment).where(Attachment.sha256 == sha)):
            path = storage.path_for(sha)
            path.unlink(missing_ok=True)
    if stale:
        logger.info("removed %s abandoned upload(s)", len(stale))
    return len(stale)
