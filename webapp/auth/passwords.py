"""Argon2id password hashing; parameters from config so tests can use cheap ones."""
from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import gettext as _

from .. import audit


def _hasher() -> PasswordHasher:
    return PasswordHasher(time_cost=current_app.config["ARGON2_TIME_COST"],
                          memory_cost=current_app.config["ARGON2_MEMORY_COST"])


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def dummy_verify(password: str) -> None:
    """Take as long as a real check when the user name is unknown (no user enumeration by timing)."""
    extension = current_app.extensions.setdefault("shodaku.dummy_hash", {})
    key = (current_app.config["ARGON2_TIME_COST"], current_app.config["ARGON2_MEMORY_COST"])
    if key not in extension:
        extension[key] = hash_password("unused-dummy-password")
    verify_password(extension[key], password)


def policy_problems(password: str, username: str = "") -> list[str]:
    """Messages for a password that does not meet the minimum policy (empty list: fine)."""
    problems = []
    minimum = current_app.config["PASSWORD_MIN_LENGTH"]
    if len(password) < minimum:
        problems.append(_("Use at least %(n)s characters.", n=minimum))
    if username and username.lower() in password.lower():
        problems.append(_("Do not include your user name."))
    if password.isdigit() or password.isalpha():
        problems.append(_("Mix letters with digits or symbols."))
    return problems


def change(user, current: str, new: str) -> dict[str, list[str]]:
    """Set a new password if ``current`` is right and ``new`` meets the policy; returns field
    messages (empty: changed). Bumps the session epoch so every other session of the user ends."""
    if not verify_password(user.password_hash, current):
        return {"current": [_("The current password is not correct.")]}
    problems = policy_problems(new, user.username)
    if problems:
        return {"new": problems}
    user.password_hash = hash_password(new)
    user.session_epoch += 1
    audit.record("password_changed", actor_id=user.id)
    return {}
