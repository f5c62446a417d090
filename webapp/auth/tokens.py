"""Personal access tokens for the JSON API: shown once, stored as sha256, revocable."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa

from .. import audit, clock
from ..extensions import db
from ..models import ApiToken, User

PREFIX = "shk_"
LAST_USED_PRECISION = timedelta(minutes=1)  # at most one write per token per minute


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(user: User, name: str) -> tuple[ApiToken, str]:
    """Returns the row and the token text (the only time it exists in clear)."""
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name.strip()[:80] or "token", token_hash=_digest(token),
                   prefix=token[:10], created_at=clock.now())
    db.session.add(row)
    db.session.flush()
    audit.record("api_token_created", actor_id=user.id, detail={"token_id": row.id, "name": row.name})
    return row, token


def authenticate(token: str) -> User | None:
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    row = db.session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == _digest(token),
                                                      ApiToken.revoked_at.is_(None)))
    if row is None or not row.user.active:
        return None
    now = clock.now()
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_PRECISION:
        _note_use(row.id, now)
    return row.user


def _note_use(token_id: int, now: datetime) -> None:
    """Record the use on a connection of its own, committed at once: the request's session
    commits only the request's own changes, once (GETs never), and rolls them back on failure;
    that a token was used stays true either way."""
    with db.engine.begin() as conn:
        conn.execute(sa.update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))


def revoke(user: User, token_id: int) -> bool:
    row = db.session.get(ApiToken, token_id)
    if row is None or row.user_id != user.id or row.revoked_at is not None:
        return False
    row.revoked_at = clock.now()
    audit.record("api_token_revoked", actor_id=user.id, detail={"token_id": row.id})
    return True


def for_user(user: User) -> list[ApiToken]:
    return list(db.session.scalars(sa.select(ApiToken).where(ApiToken.user_id == user.id)
                                   .order_by(ApiToken.created_at.desc())))
