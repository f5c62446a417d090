"""Drafts: each process owner's work in progress on one flow, surviving reloads and logouts.

A draft is stored only after the bytes passed the safe XML reader and name the process
they are saved under; it is never handed to SpiffWorkflow until deployed. Never commits.
"""
from __future__ import annotations

import sqlalchemy as sa

from .. import clock
from ..extensions import db
from ..models import User
from ..models.designer import DesignDraft
from . import intake


def get(user: User, key: str) -> DesignDraft | None:
    return db.session.scalar(sa.select(DesignDraft).where(DesignDraft.user_id == user.id,
                                                          DesignDraft.process_key == key))


def for_user(user: User) -> dict[str, DesignDraft]:
    rows = db.session.scalars(sa.select(DesignDraft).where(DesignDraft.user_id == user.id)
                              .order_by(DesignDraft.process_key))
    return {d.process_key: d for d in rows}


def save(user: User, key: str, bpmn: bytes, base_version: int | None) -> DesignDraft:
    """Create or replace the user's draft of ``key``.

    :raise DesignRefused: unsafe or unreadable XML, or a diagram of another process
    """
    intake.require_process(bpmn, key)
    now = clock.now()
    draft = get(user, key)
    if draft is None:
        draft = DesignDraft(user_id=user.id, process_key=key, created_at=now, base_version=base_version)
        db.session.add(draft)
    elif base_version is not None:
        draft.base_version = base_version
    draft.bpmn = bpmn
    draft.updated_at = now
    db.session.flush()
    return draft


def discard(user: User, key: str) -> bool:
    draft = get(user, key)
    if draft is None:
        return False
    db.session.delete(draft)
    db.session.flush()
    return True

