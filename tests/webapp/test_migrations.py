"""Alembic migrations: from an empty database to the models, and back down, on both databases."""
from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from tests.conftest import PG_ADMIN_URL, _make_app
from tests.helpers import DEFAULT_NOW, FakeClock


@pytest.fixture
def empty_database(backend, tmp_path, request):
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    request.getfixturevalue("pg_database")  # skips or fails as the other PostgreSQL tests do
    name = f"shodaku_migrate_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def test_migrations_build_exactly_the_models_and_go_back_down(empty_database, tmp_path):
    from webapp.extensions import db

    app = _make_app(empty_database, tmp_path / "files", FakeClock(DEFAULT_NOW))
    directory = str(Path(app.root_path) / "migrations")
    with app.app_context():
        upgrade(directory=directory)
        with db.engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), db.metadata)
        assert differences == []
        downgrade(directory=directory, revision="base")
        with db.engine.connect() as conn:
            remaining = set(db.inspect(conn).get_table_names()) - {"alembic_version"}
        assert remaining == set()
        upgrade(directory=directory)
        db.session.remove()
        db.engine.dispose()
