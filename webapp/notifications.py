"""Which person hears about what, written to the outbox in the action's transaction.

Mail text lives in ``templates/email/<event>.txt`` (first line ``Subject: …``) and is
rendered in the recipient's language.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

import sqlalchemy as sa
from flask import current_app, render_template
from flask_babel import force_locale

from . import access, clock, outbox
from .extensions import db
from .models import HumanTask, ProcessInstance, User

logger = logging.getLogger(__name__)


def _render(template: str, user: User, **context: object) -> tuple[str, str]:
    with force_locale(user.locale or "ja"):
        text = render_template(f"email/{template}.txt", user=user, base_url=current_app.config["BASE_URL"], **context)
    first, _, body = text.lstrip().partition("\n")
    subject = first.removeprefix("Subject:").strip()
    return subject, body.strip() + "\n"


def send(users: Iterable[User], event: str, key: str, instance: ProcessInstance | None, **context: object) -> int:
    """Queue ``event`` for every user with an e-mail address; ``key`` names the occurrence."""
    now = clock.now()
    count = 0
    for user in users:
        if not user.email or not user.active:
            continue
        subject, body = _render(event, user, instance=instance, **context)
        outbox.enqueue(dedupe_key=f"{event}:{key}:{user.id}", kind=event, to_address=user.email, subject=subject,
                       body=body, recipient_id=user.id, instance_id=instance.id if instance else None, now=now)
        count += 1
    return count


def task_created(task: HumanTask) -> None:
    """Everyone who may act on a new task hears of it."""
    send(access.candidates(task), "task_created", task.task_guid, task.instance, task=task)


def notifier(instance: ProcessInstance) -> Callable[[list[int], str], None]:
    """The ``ctx.notify`` handlers use: ``notify([user ids], event)``."""
    occurrence = clock.now().isoformat()

    def notify(user_ids: list[int], event: str) -> None:
        users = db.session.scalars(sa.select(User).where(User.id.in_(user_ids))).all()
        send(users, event, f"{instance.id}:{occurrence}", instance)

    return notify
