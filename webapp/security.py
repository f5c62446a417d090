"""Security headers and the session/user loader."""
from __future__ import annotations

from functools import cache

import sqlalchemy as sa
from flask import Flask, g, request
from flask_babel import lazy_gettext as _l
from werkzeug.middleware.proxy_fix import ProxyFix

from .extensions import db, login_manager
from .models import User

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'; "
       "form-action 'self'")


@login_manager.user_loader
def load_user(token: str) -> User | None:
    """Session ids are ``<user id>:<epoch>``; a password change bumps the epoch, ending other sessions."""
    user_id, _, epoch = token.partition(":")
    if not user_id.isdigit() or not epoch.isdigit():
        return None
    user = db.session.scalars(_user_query(), {"user_id": int(user_id)}).one_or_none()
    if user is None or not user.active or user.session_epoch != int(epoch):
        return None
    g.log_user_id = user.id
    return user


@cache
def _user_query() -> sa.Select:
    """Built once: every request loads its person (``session.get`` builds its statement anew)."""
    return sa.select(User).where(User.id == sa.bindparam("user_id"))


def init_app(app: Flask) -> None:
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies:
        # Behind nginx: the client address (login throttling, logs) and https come from its headers.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please log in to continue.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"

    @app.after_request
    def _headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if request.is_secure or app.config["SESSION_COOKIE_SECURE"]:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if request.endpoint and not request.endpoint.startswith("static"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response


def user_by_username(username: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.username == username))
