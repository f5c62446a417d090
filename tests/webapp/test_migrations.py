"""Alembic migrations: from an empty database to the models, and back down, on both databases."""
from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from tests.conftest import PG_ADMIN_URL, _make_app
from tests.helpers import DEFAULT_NOW, FakeClock
from webapp.testing import pg_create, pg_drop


@pytest.fixture
def empty_database(backend, tmp_path, request):
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    request.getfixturevalue("pg_database")  # skips or fails as the other PostgreSQL tests do
    url = pg_create(PG_ADMIN_URL, "shodaku_migrate")
    yield url
    pg_drop(url)


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


def test_a_digest_day_claimed_before_job_run_stays_claimed(empty_database, tmp_path):
    """Upgrading moves the digest's day markers out of the document counters: a day already
    mailed is not mailed again, and the counters keep only counters."""
    import sqlalchemy as sa

    from webapp.extensions import db

    app = _make_app(empty_database, tmp_path / "files", FakeClock(DEFAULT_NOW))
    directory = str(Path(app.root_path) / "migrations")
    with app.app_context():
        upgrade(directory=directory, revision="path1instpath01")
        with db.engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO document_sequence (name, next_value) VALUES "
                                 "('job:digest:2026-11-25', 0), ('decision-2026', 8)"))
        upgrade(directory=directory)
        with db.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT name FROM job_run")).scalars().all() == ["digest:2026-11-25"]
            assert conn.execute(sa.text("SELECT name FROM document_sequence")).scalars().all() == ["decision-2026"]
        db.session.remove()
        db.engine.dispose()
