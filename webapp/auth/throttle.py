"""Login throttling: after repeated failures for one user name, or from one address, wait.

Kept in the database so every web worker sees the same counts. Failures older than the
window are deleted as new ones arrive.
"""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from .. import clock
from ..extensions import db
from ..models.security import LoginFailure

WINDOW = timedelta(minutes=15)
MAX_PER_USERNAME = 5
MAX_PER_ADDRESS = 20


def blocked_for(username: str, address: str) -> timedelta | None:
    """How long until this user name / address may try again, or None if it may now."""
    now = clock.now()
    since = now - WINDOW
    for column, key, limit in ((LoginFailure.username, username.lower()[:80], MAX_PER_USERNAME),
                               (LoginFailure.address, address[:64], MAX_PER_ADDRESS)):
        times = db.session.scalars(sa.select(LoginFailure.at).where(column == key, LoginFailure.at > since)
                                   .order_by(LoginFailure.at.desc()).limit(limit)).all()
        if len(times) >= limit:
            return max(times[-1] + WINDOW - now, timedelta(seconds=1))
    return None


def record_failure(username: str, address: str) -> None:
    now = clock.now()
    db.session.execute(sa.delete(LoginFailure).where(LoginFailure.at < now - WINDOW))
    db.session.add(LoginFailure(username=username.lower()[:80], address=address[:64], at=now))


def clear(username: str) -> None:
    db.session.execute(sa.delete(LoginFailure).where(LoginFailure.username == username.lower()[:80]))
