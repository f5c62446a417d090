"""The app as the tests make it, from :mod:`webapp.testing`: the same configuration, driven clock,
CSRF-aware client and throwaway databases; the same ``create_app(config, clock_source=...)`` and
Alembic ``upgrade(revision="heads")``.
"""
from __future__ import annotations

from pathlib import Path

import psycopg

from webapp.testing import DEFAULT_NOW, CsrfClient, FakeClock, base_config, pg_admin_url

NOW = DEFAULT_NOW  # the moment the generated world is seen from
PASSWORD = "bench-password-2026"


class Client(CsrfClient):
    """Leaves the caller's session alone after a request (expiring it would add reloads to the
    timings); a login that does not land is an error, not a figure."""

    password = PASSWORD

    def login(self, username: str, password: str | None = None, follow: bool = False):
        response = super().login(username, password, follow)
        if response.status_code != 302:
            raise RuntimeError(f"login of {username} failed: {response.status_code}")
        return response


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


def pg_version(url: str) -> str | None:
    try:
        with psycopg.connect(pg_admin_url(url), connect_timeout=3, autocommit=True) as conn:
            return conn.execute("SHOW server_version").fetchone()[0]
    except psycopg.Error:
        return None
