"""Configuration read from the environment when the app is created, never at import.

Every setting has a documented environment variable (``SHODAKU_`` prefix, plus the
conventional ``DATABASE_URL``); README.md lists them.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

DEFAULTS: dict[str, Any] = {
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    "MAX_CONTENT_LENGTH": 25 * 1024 * 1024,
    "UPLOAD_MAX_BYTES": 10 * 1024 * 1024,
    "UPLOAD_ALLOWED_TYPES": [
        "application/pdf", "image/png", "image/jpeg", "text/plain", "text/csv",
        "application/zip",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ],
    "BPMN_MAX_BYTES": 2 * 1024 * 1024,
    "MAX_FORM_MEMORY_SIZE": 3 * 1024 * 1024,  # a diagram posted as a form field (designer without script)
    "BABEL_DEFAULT_LOCALE": "ja",
    "BABEL_DEFAULT_TIMEZONE": "Asia/Tokyo",
    "LANGUAGES": ["ja", "en"],
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_SECURE": False,
    "REMEMBER_COOKIE_HTTPONLY": True,
    "WTF_CSRF_TIME_LIMIT": None,
    "INBOX_PAGE_SIZE": 50,
    "API_MAX_PER_PAGE": 100,
    "ARGON2_TIME_COST": 3,
    "ARGON2_MEMORY_COST": 65536,
    "PASSWORD_MIN_LENGTH": 10,
    "DECISION_NUMBER_FORMAT": "木情第{year}-{seq:05d}号",
    "REQUEST_NUMBER_FORMAT": "{prefix}-{year}-{seq:05d}",
    "SCRIPT_TIME_LIMIT_S": 1.0,
    # SQLite reads planner statistics only when a connection opens: pooled connections are
    # renewed after this many seconds, so the worker's nightly ANALYZE reaches every web process.
    "SQLITE_POOL_RECYCLE_S": 3600,
    "SMTP_HOST": "127.0.0.1",
    "SMTP_PORT": 25,
    "SMTP_USER": "",
    "SMTP_PASSWORD": "",
    "SMTP_SECURITY": "none",  # none | starttls | ssl
    "SMTP_TIMEOUT_S": 10,
    "MAIL_FROM": "shodaku@city.kisarazu.example",
    "BASE_URL": "http://127.0.0.1:5000",
    "PROCESSES_DIR": str(Path(__file__).resolve().parent.parent / "processes"),
    "EXTRA_CLOSED_DAYS": [],
    "TRUSTED_PROXIES": 0,  # reverse proxies in front (X-Forwarded-For/-Proto trusted from this many hops)
    # No worker turn finished for this long: reminders, escalations and mail have stopped
    # (GET /healthz/worker answers 503, the administrator's page says so). The daemon turns
    # every 5 s; a cron `shodaku worker --once` every few minutes stays well inside it.
    "WORKER_LATE_S": 600,
}

# Environment variable -> (config key, parser)
_ENV: dict[str, tuple[str, Any]] = {
    "DATABASE_URL": ("SQLALCHEMY_DATABASE_URI", str),
    "SHODAKU_SECRET_KEY": ("SECRET_KEY", str),
    "SHODAKU_FILES_DIR": ("FILES_DIR", str),
    "SHODAKU_UPLOAD_MAX_BYTES": ("UPLOAD_MAX_BYTES", int),
    "SHODAKU_SESSION_COOKIE_SECURE": ("SESSION_COOKIE_SECURE", lambda v: v.lower() in ("1", "true", "yes")),
    "SHODAKU_SMTP_HOST": ("SMTP_HOST", str),
    "SHODAKU_SMTP_PORT": ("SMTP_PORT", int),
    "SHODAKU_SMTP_USER": ("SMTP_USER", str),
    "SHODAKU_SMTP_PASSWORD": ("SMTP_PASSWORD", str),
    "SHODAKU_SMTP_SECURITY": ("SMTP_SECURITY", str),
    "SHODAKU_MAIL_FROM": ("MAIL_FROM", str),
    "SHODAKU_BASE_URL": ("BASE_URL", str),
    "SHODAKU_TRUSTED_PROXIES": ("TRUSTED_PROXIES", int),
    "SHODAKU_ARGON2_TIME_COST": ("ARGON2_TIME_COST", int),
    "SHODAKU_ARGON2_MEMORY_COST": ("ARGON2_MEMORY_COST", int),
    "SHODAKU_SQLITE_POOL_RECYCLE_S": ("SQLITE_POOL_RECYCLE_S", int),
    "SHODAKU_WORKER_LATE_S": ("WORKER_LATE_S", int),
}


def load(app, overrides: dict[str, Any] | None) -> None:
    """Fill ``app.config``: defaults, then environment, then explicit overrides (tests)."""
    app.config.update(DEFAULTS)
    instance = Path(app.instance_path)
    app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance / 'shodaku.sqlite3'}"
    app.config["FILES_DIR"] = str(instance / "files")
    for var, (key, parse) in _ENV.items():
        if var in os.environ and os.environ[var] != "":
            app.config[key] = parse(os.environ[var])
    if overrides:
        app.config.update(overrides)
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("postgres://"):
        uri = "postgresql+psycopg://" + uri[len("postgres://"):]
    elif uri.startswith("postgresql://"):
        uri = "postgresql+psycopg://" + uri[len("postgresql://"):]
    app.config["SQLALCHEMY_DATABASE_URI"] = uri
    if uri.startswith("sqlite"):
        options = dict(app.config["SQLALCHEMY_ENGINE_OPTIONS"])
        options.setdefault("pool_recycle", app.config["SQLITE_POOL_RECYCLE_S"])
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    if uri.startswith("postgresql"):
        # Fail fast when the database is unreachable (a clear 503) instead of hanging workers.
        options = dict(app.config["SQLALCHEMY_ENGINE_OPTIONS"])
        options.setdefault("connect_args", {"connect_timeout": 5})
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(instance)


def _instance_secret(instance: Path) -> str:
    """A development secret kept in the instance folder so sessions survive restarts.

    Production sets ``SHODAKU_SECRET_KEY``; this file is never committed.
    """
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key
