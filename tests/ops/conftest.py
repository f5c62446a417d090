"""Real processes on PostgreSQL: gunicorn serving the app, ``shodaku worker`` processes.

These tests are about production behaviour under concurrency and faults, so they run on
PostgreSQL only (not parametrized over SQLite).
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timezone
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import _make_app, _restore
from tests.helpers import FakeClock

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def pg_url(request) -> str:
    url, snapshot = request.getfixturevalue("pg_database")
    _restore(url, snapshot)
    return url


@pytest.fixture
def app(pg_url, tmp_path):
    from webapp.extensions import db

    # Real processes use the real clock, so the test's own actions must too.
    app = _make_app(pg_url, tmp_path / "files", FakeClock(datetime.now(timezone.utc)))
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def server_env(db_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ, "DATABASE_URL": db_url, "SHODAKU_SECRET_KEY": "ops-test-secret",
        "SHODAKU_FILES_DIR": str(tmp_path / "files"), "SHODAKU_ARGON2_TIME_COST": "1",
        "SHODAKU_ARGON2_MEMORY_COST": "1024", "SHODAKU_SMTP_PORT": "1", **extra,
    }


def wait_healthy(base: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"server at {base} did not become healthy")


@contextmanager
def gunicorn(db_url: str, tmp_path: Path, *, workers: int = 2, threads: int = 4, **extra: str) -> Iterator[str]:
    port = free_port()
    env = server_env(db_url, tmp_path, SHODAKU_BIND=f"127.0.0.1:{port}", SHODAKU_WEB_WORKERS=str(workers),
                     SHODAKU_WEB_THREADS=str(threads), **extra)
    log = open(tmp_path / f"gunicorn-{port}.log", "w")
    process = subprocess.Popen([str(BIN / "gunicorn"), "-c", str(ROOT / "deploy/gunicorn.conf.py"), "webapp.wsgi:app"],
                               cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
