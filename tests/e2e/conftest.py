"""Browser journeys: the app on a live server (temp SQLite, seeded like the unit tests) and
Debian's Chromium driven by Playwright. Never downloads a browser.

Without ``/usr/bin/chromium`` or the Playwright package, these tests skip with the reason
(under ``CI=true`` that is a failure).
"""
from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from tests.conftest import _make_app, _seed
from tests.helpers import DEFAULT_NOW, FakeClock

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]
IN_CI = os.environ.get("CI", "").lower() == "true"


def pytest_configure(config) -> None:
    # tests/conftest.py groups e2e tests with xdist's marker; register it so that running
    # these tests with ``-p no:xdist`` (which does not register it) works under --strict-markers.
    config.addinivalue_line("markers", "xdist_group(name): run tests of the group on one xdist worker")


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(reason)
    pytest.skip(reason)


class LiveServer:
    """The app served on 127.0.0.1 from a background thread; ``app`` is the same object."""

    def __init__(self, app: Any, clock: FakeClock):
        self.app = app
        self.clock = clock
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="live-server", daemon=True)

    def start(self) -> "LiveServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


@pytest.fixture
def live_server(tmp_path) -> Iterator[LiveServer]:
    """A fresh demo world per test: migrated, shipped flows deployed, demo people and contracts."""
    clock = FakeClock(DEFAULT_NOW)
    database = tmp_path / "e2e.sqlite3"
    app = _make_app(f"sqlite:///{database}", tmp_path / "files", clock)
    _seed(app)
    server = LiveServer(app, clock).start()
    yield server
    server.stop()
    from webapp.extensions import db

    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        _unavailable(f"{CHROMIUM} is not installed (make chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - dev dependency
        _unavailable("the playwright package is not installed (make setup)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser, live_server):
    """``new_page(username)``: a logged-in page in its own browser context (own cookies)."""
    contexts = []

    def open_as(username: str, password: str = "shodaku-demo-2026"):
        context = browser.new_context(locale="ja-JP", viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(20_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda err: errors.append(f"{username}: {err}"))
        page.goto(f"{live_server.url}/auth/login")
        page.fill("#username", username)
        page.fill("#password", password)
        page.click("main form button[type=submit]")
        page.wait_for_url(lambda url: "/auth/login" not in url)  # fails with a timeout if the login is refused
        page.wait_for_load_state("networkidle")
        return page

    errors: list[str] = []
    open_as.errors = errors
    yield open_as
    for context in contexts:
        context.close()
