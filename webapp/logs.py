"""Logging: one line of JSON per record, with the request id and user id when there is a request.

Form contents, passwords and tokens are never logged: modules log ids, not payloads.
"""
from __future__ import annotations

import json
import logging
import sys
import uuid
from datetime import datetime, timezone

from flask import Flask, g, has_request_context, request


class RequestContextFilter(logging.Filter):
    """Stamps each record, when it is emitted, with the request it belongs to."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context():
            record.request_id = g.get("request_id")
            record.user_id = g.get("log_user_id")
            record.instance_id = g.get("log_instance_id")
            record.path = request.path
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in ("request_id", "user_id", "instance_id", "path"):
            if getattr(record, key, None) is not None:
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def init_app(app: Flask) -> None:
    # SpiffWorkflow logs every task state change at INFO: far too chatty for operations.
    logging.getLogger("spiff").setLevel(logging.WARNING)
    if not app.testing and not any(isinstance(h.formatter, JsonFormatter) for h in logging.getLogger().handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        handler.addFilter(RequestContextFilter())
        root = logging.getLogger()
        root.addHandler(handler)
        root.setLevel(logging.INFO)

    @app.before_request
    def _request_id() -> None:
        incoming = request.headers.get("X-Request-Id", "")
        g.request_id = incoming[:64] if incoming.isascii() and incoming.replace("-", "").isalnum() else uuid.uuid4().hex

    @app.after_request
    def _echo_request_id(response):
        response.headers["X-Request-Id"] = g.get("request_id", "")
        return response
