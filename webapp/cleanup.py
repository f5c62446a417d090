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


def remove_stale_uploads(now: datetime, limit: int = 500) -> set[str]:
    """Delete pending uploads older than a day (a form abandoned after a refusal); never commits.

    Returns the hashes of the deleted rows: once the caller has committed, it hands them to
    :func:`remove_unreferenced_files` (a file goes only after its row is gone for good).
    """
    stale = db.session.execute(sa.select(Attachment.id, Attachment.sha256).where(
        Attachment.instance_id.is_(None), Attachment.uploaded_at < now - PENDING_UPLOAD_LIFETIME).limit(limit)).all()
    if stale:
        db.session.execute(sa.delete(Attachment).where(Attachment.id.in_([row.id for row in stale])))
        logger.info("removed %s abandoned upload(s)", len(stale))
    return {row.sha256 for row in stale}


def remove_unreferenced_files(hashes: set[str]) -> int:
    """Unlink the files of ``hashes`` that no row names any more (storage is by sha256, so
    another upload of the same bytes keeps the file); returns how many went."""
    if not hashes:
        return 0
    referenced = set(db.session.scalars(
        sa.select(Attachment.sha256).where(Attachment.sha256.in_(hashes)).distinct()))
    unreferenced = hashes - referenced
    for sha in unreferenced:
        storage.path_for(sha).unlink(missing_ok=True)
    return len(unreferenced)
