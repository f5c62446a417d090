"""The app as the tests make it: config, a driven clock, a CSRF-aware test client, throwaway databases.

Mirrors ``tests/conftest.py`` and ``tests/helpers.py`` (never imported from there): the same
``create_app(config, clock_source=...)``, the same Alembic ``upgrade(revision="heads")``.
"""
from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psycopg
from flask.testing import FlaskClient

from webapp.engine.calendar import TOKYO

# Wednesday 2 December 2026, 10:00 in Tokyo: the tests' DEFAULT_NOW, a plain business day.
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=TOKYO).astimezone(timezone.utc)
PASSWORD = "bench-password-2026"
_CSRF = re.compile(r'name="((?:[\w-]+-)?csrf_token)" (?:type="hidden" )?value="([^"]+)"')


class FakeClock:
    """The app's clock: set or advance it instead of sleeping."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, moment: datetime) -> datetime:
        self.now = moment.astimezone(timezone.utc)
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now = self.now + timedelta(**delta)
        return self.now


def base_config(uri: str, files_dir: Path) -> dict[str, Any]:
    """Exactly the tests' configuration (cheap argon2, no SMTP listening on port 1)."""
    return {
        "TESTING": True,
        "SECRET_KEY": "bench-secret",
        "SQLALCHEMY_DATABASE_URI": uri,
        "FILES_DIR": str(files_dir),
        "ARGON2_TIME_COST": 1,
        "ARGON2_MEMORY_COST": 1024,
        "SERVER_NAME": None,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": 1,
        "SMTP_TIMEOUT_S": 2,
        "RAISE_UNHANDLED": True,
    }


def make_app(uri: str, files_dir: Path, clock: FakeClock):
    from webapp import create_app

    app = create_app(base_config(uri, files_dir), clock_source=clock)
    app.test_client_class = Client
    return app


def migrate(app) -> None:
    """Alembic to every head. Its logging config prints each revision: kept out of the bench's output."""
    import contextlib
    import io

    from flask_migrate import upgrade

    with contextlib.redirect_stderr(io.StringIO()):
        upgrade(directory=str(Path(app.root_path) / "migrations"), revision="heads")


class Client(FlaskClient):
    """A browser stand-in: each request in its own app context (own ``g`` and session), as in production."""

    def open(self, *args: Any, **kwargs: Any):
        context = self.application.app_context()
        context.push()
        try:
            return super().open(*args, **kwargs)
        finally:
            context.pop()

    def csrf_fields(self, page: str) -> dict[str, str]:
        fields = dict(_CSRF.findall(self.get(page).get_data(as_text=True)))
        if not fields:
            raise RuntimeError(f"no CSRF token on {page}")
        return fields

    def login(self, username: str, password: str = PASSWORD) -> None:
        token = self.csrf_fields("/auth/login")["csrf_token"]
        response = self.post("/auth/login", data={"username": username, "password": password, "csrf_token": token})
        if response.status_code != 302:
            raise RuntimeError(f"login of {username} failed: {response.status_code}")


# --- throwaway PostgreSQL databases ------------------------------------------------------------

def pg_admin_url(url: str) -> str:
    """``postgresql://user@host:port[/db]`` -> the same server's ``postgres`` database."""
    base = url.split("?", 1)[0]
    rest = base.split("://", 1)[1]
    if "/" in rest:
        base = base.rsplit("/", 1)[0]
    return base + "/postgres"


def pg_create(url: str, prefix: str = "shodaku_bench") -> str:
    admin = pg_admin_url(url)
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin.rsplit("/", 1)[0] + "/" + name


def pg_drop(db_url: str) -> None:
    admin = pg_admin_url(db_url)
    name = db_url.rsplit("/", 1)[1]
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def pg_reachable(url: str) -> str | None:
    try:
        with psycopg.connect(pg_admin_url(url), connect_timeout=3, autocommit=True):
            return None
    except psycopg.Error as err:
        return str(err).strip().splitlines()[0]


def pg_version(url: str) -> str | None:
    try:
        with psycopg.connect(pg_admin_url(url), connect_timeout=3, autocommit=True) as conn:
            return conn.execute("SHOW server_version").fetchone()[0]
    except psycopg.Error:
        return None
