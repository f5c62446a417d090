"""Pauses that let crash tests kill a process at a precise moment. Inert in production.

Active only when the environment sets ``SHODAKU_TEST_PAUSES`` (JSON ``{"point": seconds}``)
*and* the request carries ``X-Test-Pause: 1``; ``SHODAKU_TEST_PAUSE_MARKER`` names a file
written (with the process id) when a pause starts, so the test knows when to strike.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from flask import has_request_context, request


def pause(point: str) -> None:
    spec = os.environ.get("SHODAKU_TEST_PAUSES")
    if not spec or not has_request_context() or request.headers.get("X-Test-Pause") != "1":
        return
    seconds = float(json.loads(spec).get(point, 0))
    if seconds <= 0:
        return
    marker = os.environ.get("SHODAKU_TEST_PAUSE_MARKER")
    if marker:
        Path(marker).write_text(str(os.getpid()))
    time.sleep(seconds)
