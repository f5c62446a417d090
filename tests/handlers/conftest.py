"""Handler tests check refusal wording in English (the msgids); the app's default is Japanese."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _english(english_messages):
    """Every handler test gets the shared english_messages fixture of tests/conftest.py."""
    yield
