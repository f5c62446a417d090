"""Japanese first, English complete (DESIGN rule 11); times shown in Asia/Tokyo (rule 10)."""
from __future__ import annotations

from datetime import date, datetime

from flask import Flask, current_app, has_request_context, request, session
from flask_babel import format_date, format_datetime, get_locale
from flask_login import current_user

from . import formschema
from .extensions import babel


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if current_user and current_user.is_authenticated and current_user.locale in languages:
        return current_user.locale
    chosen = session.get("locale")
    if chosen in languages:
        return chosen
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def datetime_label(value: datetime | None, fmt: str = "medium") -> str:
    if value is None:
        return ""
    if str(get_locale()) == "ja":
        return format_datetime(value, "yyyy年M月d日 H:mm") if fmt == "medium" else format_datetime(value, "M/d H:mm")
    return format_datetime(value, "yyyy-MM-dd HH:mm") if fmt == "medium" else format_datetime(value, "MM-dd HH:mm")


def date_label(value: date | str | None) -> str:
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            return value
    if str(get_locale()) == "ja":
        return format_date(value, "yyyy年M月d日")
    return format_date(value, "yyyy-MM-dd")


def size_label(size: int) -> str:
    """A file size people read at a glance: bytes below 1 KB (a tiny file is not '0.0 KB'), then KB, then MB."""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale, default_timezone="Asia/Tokyo")
    app.jinja_env.filters["dt"] = datetime_label
    app.jinja_env.filters["d"] = date_label
    app.jinja_env.filters["size"] = size_label
    app.jinja_env.globals["current_locale"] = lambda: str(get_locale())
    app.jinja_env.globals["request_path"] = lambda: request.full_path.rstrip("?")
    app.jinja_env.globals["choices_of"] = formschema.choices
