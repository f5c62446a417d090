"""Driving the app in-process: shared by the test suite (``tests/``) and the benchmark (``bench/``).

Both need the same driven clock, configuration, CSRF-aware client and throwaway PostgreSQL
databases; here they live once, in the package, so neither imports the other. Nothing runs
on import, nothing imports pytest, and ``create_app`` never imports this module.
"""
from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from flask.testing import FlaskClient
from sqlalchemy.engine import make_url

from .engine.calendar import TOKYO
from .extensions import db

# Wednesday 2 December 2026, 10:00 in Tokyo: a plain business day inside both demo contracts.
DEFAULT_NOW = datetime(2026, 12, 2, 10, 0, tzinfo=TOKYO).astimezone(UTC)

# A CSRF field as our pages render it; prefixed forms name theirs ``<prefix>-csrf_token``.
CSRF_FIELD = re.compile(r'name="((?:[\w-]+-)?csrf_token)" (?:type="hidden" )?value="([^"]+)"')


def csrf_fields(html: str) -> dict[str, str]:
    """Every CSRF field on a page, by field name."""
    return dict(CSRF_FIELD.findall(html))


class FakeClock:
    """The app's clock (``create_app(clock_source=...)``): set or advance it instead of sleeping."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now = self.now + timedelta(**delta)
        return self.now

    def set(self, moment: datetime) -> datetime:
        """Move to ``moment``, kept in UTC like every time the app stores."""
        self.now = moment.astimezone(UTC)
        return self.now


def base_config(uri: str, files_dir: Path) -> dict[str, Any]:
    """Configuration for an app driven in-process: cheap argon2, nothing listening for mail."""
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": uri,
        "FILES_DIR": str(files_dir),
        "ARGON2_TIME_COST": 1,
        "ARGON2_MEMORY_COST": 1024,
        "SERVER_NAME": None,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": 1,  # nothing listens: whoever wants mail delivered starts their own SMTP server
        "SMTP_TIMEOUT_S": 2,
        "RAISE_UNHANDLED": True,
    }


class CsrfClient(FlaskClient):
    """A browser stand-in that fetches CSRF tokens from real pages before posting.

    Each request runs in its own app context (own ``g``, own database session), as in
    production; Flask would otherwise reuse the caller's app context for every request.
    """

    #: Expire the caller's session after each request, so it reads what the request wrote.
    #: Tests want that; the bench does not (the reloads would land in what it times).
    expire_after_request: bool = False
    #: The password :meth:`login` uses when none is given.
    password: str | None = None

    def open(self, *args: Any, **kwargs: Any):
        context = self.application.app_context()
        context.push()
        try:
            return super().open(*args, **kwargs)
        finally:
            context.pop()
            if self.expire_after_request:
                db.session.expire_all()

    def csrf_fields(self, page: str) -> dict[str, str]:
        """Every CSRF field on ``page``; a page without one is a broken page."""
        fields = csrf_fields(self.get(page).get_data(as_text=True))
        if not fields:
            raise AssertionError(f"no CSRF token on {page}")
        return fields

    def csrf_token(self, page: str = "/auth/login") -> str:
        return self.csrf_fields(page)["csrf_token"]

    def login(self, username: str, password: str | None = None, follow: bool = False):
        data = {"username": username, "password": password or self.password, "csrf_token": self.csrf_token()}
        return self.post("/auth/login", data=data, follow_redirects=follow)


# --- throwaway PostgreSQL databases ------------------------------------------------------------

def _url(url: str, database: str) -> str:
    """``url`` (a server, with or without a database) pointing at ``database``, as psycopg reads it."""
    return make_url(url).set(drivername="postgresql", database=database).render_as_string(hide_password=False)


def pg_admin_url(url: str) -> str:
    """The same server's ``postgres`` database: where databases are created and dropped."""
    return _url(url, "postgres")


def pg_reachable(url: str) -> str | None:
    """None if the server answers, else the first line of why not."""
    try:
        with psycopg.connect(pg_admin_url(url), connect_timeout=3, autocommit=True):
            return None
    except psycopg.Error as err:
        return str(err).strip().splitlines()[0]


def pg_create(url: str, prefix: str) -> str:
    """A new empty database ``<prefix>_<random>`` on ``url``'s server; returns its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_admin_url(url), autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return _url(url, name)


def pg_drop(url: str) -> None:
    """Drop the database ``url`` names, disconnecting whoever is still on it."""
    name = make_url(url).database
    with psycopg.connect(pg_admin_url(url), autocommit=True, connect_timeout=5) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
