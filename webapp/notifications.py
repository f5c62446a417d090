"""Which person hears about what, written to the outbox in the action's transaction.

Mail text lives in ``templates/email/<event>.txt`` (first line ``Subject: …``) and is
rendered in the recipient's language. Each person chooses per kind of event: at once, in
the daily digest (task events only: the digest lists their open and overdue tasks), or
not at all; nothing chosen means at once.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale, get_translations
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm.util import identity_key

from . import access, clock, outbox
from .extensions import db
from .models import HumanTask, ProcessInstance, User
from .models.preferences import DIGEST, IMMEDIATE, MODES, NotificationPreference

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    key: str
    label: object
    digestible: bool  # about a task, so the daily digest covers it


EVENTS: dict[str, Event] = {e.key: e for e in (
    Event("task_created", _l("A new task for me or my team"), True),
    Event("task_overdue", _l("A task of mine is overdue"), True),
    Event("task_escalated", _l("An overdue task is escalated to me"), True),
    Event("request_approved", _l("My request was approved"), False),
    Event("request_rejected", _l("My request was not approved"), False),
)}


def preferences(user: User) -> dict[str, str]:
    chosen = dict(db.session.execute(sa.select(NotificationPreference.event, NotificationPreference.mode)
                                     .where(NotificationPreference.user_id == user.id)).all())
    return {key: chosen.get(key, IMMEDIATE) for key in EVENTS}


def set_preferences(user: User, choices: dict[str, str]) -> None:
    """Store the person's choices; a digest is only offered for task events."""
    rows = {row.event: row for row in db.session.scalars(
        sa.select(NotificationPreference).where(NotificationPreference.user_id == user.id))}
    for key, mode in choices.items():
        event = EVENTS.get(key)
        if event is None or mode not in MODES or (mode == DIGEST and not event.digestible):
            raise ValueError(f"invalid preference {key}={mode}")
        row = rows.get(key)
        if row is None:
            db.session.add(NotificationPreference(user_id=user.id, event=key, mode=mode))
        else:
            row.mode = mode


def render(template: str, user: User, **context: object) -> tuple[str, str]:
    """Subject and body in the recipient's language.

    Rendered straight from the Jinja environment: mail needs no page context (the menu's
    task counts would cost a query per message).
    """
    with force_locale(user.locale or "ja"):
        return _render(template, user, **context)


def _render(template: str, user: User, gettext: Callable[..., str] | None = None, **context: object) -> tuple[str, str]:
    """:func:`render` in the locale already in force; ``gettext``: that locale's :func:`_gettext`."""
    text = current_app.jinja_env.get_template(f"email/{template}.txt").render(
        user=user, base_url=current_app.config["BASE_URL"], _=gettext or _gettext(), **context)
    first, _, body = text.lstrip().partition("\n")
    subject = first.removeprefix("Subject:").strip()
    return subject, body.strip() + "\n"


def _gettext() -> Callable[..., str]:
    """The templates' ``_`` for the locale in force. Flask-Babel's looks the catalogue up again
    on every call, two thirds of a mail's rendering; a batch in one language needs it once."""
    translations = get_translations()

    def gettext(string: str, **variables: object) -> str:
        text = translations.gettext(string)
        return text % variables if variables else text

    return gettext


def send(users: Iterable[User], event: str, key: str, instance: ProcessInstance | None, **context: object) -> int:
    """Queue ``event`` for every user who wants it now and has an address; ``key`` names the occurrence."""
    now = clock.now()
    users = [u for u in users if u.email and u.active]
    if instance is not None and any(u.id == instance.requester_id for u in users):
        # The requester is mailed by id and may have had their roles withdrawn since filing;
        # everyone else here was just read as a role holder or candidate of the request.
        if not access.still_sees(instance.requester_id, instance):
            users = [u for u in users if u.id != instance.requester_id]
    held = set(db.session.scalars(_held_query(), {"people": [u.id for u in users], "event": event})) \
        if users else set()
    messages = []
    wanted = [u for u in users if u.id not in held]
    for locale in sorted({u.locale or "ja" for u in wanted}):
        with force_locale(locale):  # switching language costs more than a message: once per language
            gettext = _gettext()
            for user in (u for u in wanted if (u.locale or "ja") == locale):
                subject, body = _render(event, user, gettext, instance=instance, **context)
                messages.append(outbox.Message(
                    dedupe_key=f"{event}:{key}:{user.id}", kind=event, to_address=user.email, subject=subject,
                    body=body, recipient_id=user.id, instance_id=instance.id if instance else None))
    outbox.enqueue(messages, now)
    return len(messages)


@cache
def _held_query() -> sa.Select:
    """Who chose the digest or nothing for ``event``; built once (every notification asks), on
    the table's columns (ids, no objects: nothing for the ORM to do)."""
    pref = NotificationPreference.__table__.c
    return sa.select(pref.user_id).where(pref.user_id.in_(sa.bindparam("people", expanding=True)),
                                         pref.event == sa.bindparam("event"), pref.mode != IMMEDIATE)


def task_created(task: HumanTask) -> None:
    """Everyone who may act on a new task hears of it."""
    send(access.candidates(task), "task_created", task.task_guid, task.instance, task=task)


def notifier(instance: ProcessInstance) -> Callable[..., None]:
    """The ``ctx.notify`` handlers use: ``notify([user ids], event, task=row)`` (extra names reach the template)."""
    occurrence = clock.now().isoformat()

    def notify(user_ids: list[int], event: str, **context: object) -> None:
        send(_users(user_ids), event, f"{instance.id}:{occurrence}", instance, **context)

    return notify


def _users(user_ids: Iterable[int]) -> list[User]:
    """The users, taken from the session where already loaded: a handler has usually just read
    the people it notifies (candidates, role holders), so most calls need no query."""
    found, missing = [], []
    for user_id in dict.fromkeys(user_ids):
        user = db.session.identity_map.get(identity_key(User, user_id))
        if user is None:
            missing.append(user_id)
        else:
            found.append(user)
    if missing:
        found += db.session.scalars(_users_query(), {"ids": missing}).all()
    return found


@cache
def _users_query() -> sa.Select:
    return sa.select(User).where(User.id.in_(sa.bindparam("ids", expanding=True)))
