"""Handler tests check refusal wording in English (the msgids); the app's default is Japanese."""
from __future__ import annotations

import pytest
from flask_babel import force_locale


@pytest.fixture(autouse=True)
def english_messages(request):
    if "app" not in request.fixturenames:
        yield
        return
    request.getfixturevalue("app")
    with force_locale("en"):
        yield
