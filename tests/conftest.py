"""Fixtures: every test that uses ``app`` runs on SQLite and on PostgreSQL.

Each test gets a database holding the demo world (departments, contractors, contracts,
users, assets) and the shipped flows, migrated by Alembic:

* SQLite: a template file made once per worker, copied per test;
* PostgreSQL: a throwaway database per worker (``shodaku_test_<worker>_<random>``), made
  once and restored per test from a snapshot; dropped at the end of the run.

PostgreSQL unreachable: its tests skip with the reason shown, except under ``CI=true``,
where that is a failure. ``SHODAKU_TEST_BACKENDS=sqlite`` runs SQLite only.
"""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask_babel import force_locale
from flask_migrate import upgrade

from tests.helpers import DEFAULT_NOW, Client, FakeClock
from webapp.testing import base_config, pg_create, pg_drop, pg_reachable

BACKENDS = [b for b in os.environ.get("SHODAKU_TEST_BACKENDS", "sqlite,postgresql").split(",") if b]
PG_ADMIN_URL = os.environ.get("SHODAKU_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _make_app(uri: str, files_dir: Path, clock: FakeClock, **overrides: Any):
    from webapp import create_app

    config = base_config(uri, files_dir)
    config.update(overrides)
    app = create_app(config, clock_source=clock)
    app.test_client_class = Client
    return app


def _seed(app) -> None:
    from webapp import demo, processes
    from webapp.extensions import db

    with app.app_context():
        upgrade(directory=str(Path(app.root_path) / "migrations"), revision="heads")
        # SHODAKU_TEST_PROCESSES=a,b seeds only those flows (for quick local runs while another is in the works).
        only = os.environ.get("SHODAKU_TEST_PROCESSES")
        processes.deploy_shipped(only=set(only.split(",")) if only else None)
        demo.load(with_requests=False)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


# --- SQLite -------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("sqlite-template")
    path = base / "template.sqlite3"
    _seed(_make_app(f"sqlite:///{path}", base / "files", FakeClock(DEFAULT_NOW)))
    return path


# --- PostgreSQL -----------------------------------------------------------------------------

@pytest.fixture(scope="session")
def pg_database(tmp_path_factory) -> Iterator[tuple[str, dict[str, list[dict[str, Any]]]]]:
    problem = pg_reachable(PG_ADMIN_URL)
    if problem is not None:
        if IN_CI:
            pytest.fail(f"PostgreSQL at {PG_ADMIN_URL} is unreachable under CI=true: {problem}")
        pytest.skip(f"PostgreSQL unreachable at {PG_ADMIN_URL}: {problem}")
    url = pg_create(PG_ADMIN_URL, f"shodaku_test_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}")
    base = tmp_path_factory.mktemp("pg-template")
    _seed(_make_app(url, base / "files", FakeClock(DEFAULT_NOW)))
    snapshot = _snapshot(url)
    yield url, snapshot
    pg_drop(url)


def _tables() -> list[sa.Table]:
    from webapp.extensions import db

    return list(db.metadata.sorted_tables)


def _snapshot(url: str) -> dict[str, list[dict[str, Any]]]:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        data = {t.name: [dict(r._mapping) for r in conn.execute(sa.select(t))] for t in _tables()}
    engine.dispose()
    return data


def _restore(url: str, snapshot: dict[str, list[dict[str, Any]]]) -> None:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    tables = _tables()
    with engine.begin() as conn:
        names = ", ".join(f'"{t.name}"' for t in tables)
        conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        for table in tables:
            rows = snapshot.get(table.name)
            if rows:
                conn.execute(table.insert(), rows)
            if "id" in table.c and isinstance(table.c.id.type, (sa.Integer, sa.BigInteger)) and table.c.id.autoincrement:
                conn.execute(sa.text(
                    f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', 'id'), "
                    f"COALESCE((SELECT max(id) FROM \"{table.name}\"), 0) + 1, false)"))
    engine.dispose()


# --- the app --------------------------------------------------------------------------------

@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(DEFAULT_NOW)


@pytest.fixture
def db_url(backend, request, tmp_path) -> str:
    if backend == "sqlite":
        path = tmp_path / "test.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url, snapshot = request.getfixturevalue("pg_database")
    _restore(url, snapshot)
    return url


@pytest.fixture
def app_config() -> dict[str, Any]:
    """Override per test module to change configuration."""
    return {}


@pytest.fixture
def app(db_url, tmp_path, clock, app_config):
    from webapp.extensions import db

    app = _make_app(db_url, tmp_path / "files", clock, **app_config)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app) -> Client:
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def english_messages(request):
    """English wording (the msgids) for tests that check messages; the app's default is Japanese.

    Outside an app context a lazy message renders its English msgid anyway; a test using
    ``app`` gets English asked for explicitly. Use it with ``pytest.mark.usefixtures``."""
    if "app" not in request.fixturenames:
        yield
        return
    request.getfixturevalue("app")
    with force_locale("en"):
        yield


@pytest.fixture
def world(app):
    """Names for the demo world's people and contracts."""
    from tests.helpers import World

    return World.load()


def pytest_collection_modifyitems(config, items):
    # Browser journeys share one Chromium per worker: keep them on one worker.
    for item in items:
        if item.get_closest_marker("e2e"):
            item.add_marker(pytest.mark.xdist_group("e2e"))

