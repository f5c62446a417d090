"""The daily digest: each person who chose it gets one mail a business day listing their
open and overdue tasks.

Run by the worker on every pass; claiming the day's run with an insert that only one
transaction can make ensures one digest per person per day, however many workers run.
Once a day is settled (closed, or claimed by this worker or another) the worker remembers it
and skips the day's further passes without a query.
"""
from __future__ import annotations

import logging
from datetime import datetime, time

import sqlalchemy as sa

from . import access, jobs, outbox
from .engine import calendar
from .engine.scripting import closed_days
from .extensions import db
from .models import HumanTask, User
from .models.preferences import DIGEST, NotificationPreference
from .models.workflow import OPEN
from .notifications import render

logger = logging.getLogger(__name__)
SEND_AT = time(8, 30)


def send_if_due(now: datetime) -> int:
    """Queue today's digests once the office day has begun; returns how many were queued."""
    local = calendar.to_tokyo(now)
    if local.time() < SEND_AT or jobs.is_settled("digest", local.date()):
        return 0
    if not calendar.is_business_day(local.date(), closed_days()):
        jobs.settle("digest", local.date())
        return 0
    if not jobs.claim_day("digest", local.date(), now):
        return 0
    users = db.session.scalars(sa.select(User).where(
        User.active.is_(True), User.id.in_(sa.select(NotificationPreference.user_id)
                                           .where(NotificationPreference.mode == DIGEST)))).all()
    messages = []
    for user in users:
        tasks = db.session.scalars(
            sa.select(HumanTask).where(HumanTask.status == OPEN, access.actionable_task_filter(user))
            .order_by(HumanTask.due_at.is_(None), HumanTask.due_at).limit(100)).all()
        if not tasks or not user.email:
            continue
        overdue = [t for t in tasks if t.due_at is not None and t.due_at < now]
        subject, body = render("digest", user, tasks=tasks, overdue=overdue, day=local.date())
        messages.append(outbox.Message(dedupe_key=f"digest:{local.date().isoformat()}:{user.id}", kind="digest",
                                       to_address=user.email, subject=subject, body=body, recipient_id=user.id))
    outbox.enqueue(messages, now)
    logger.info("daily digest for %s: %s message(s)", local.date(), len(messages))
    return len(messages)


__all__ = ["send_if_due"]
