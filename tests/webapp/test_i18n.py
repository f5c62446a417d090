"""Japanese first, English complete (DESIGN rule 11): every user-facing string is translated."""
from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
METHODS = [("webapp/**.py", "python"), ("handlers/**.py", "python"),
           ("webapp/templates/**.html", "jinja2"), ("webapp/templates/**.txt", "jinja2")]
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def strings_in_code() -> set[str]:
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(str(ROOT), METHODS, keywords=KEYWORDS):
        if isinstance(message, tuple):
            message = message[0]
        found.add(message)
    return found


def catalog(language: str) -> dict[str, str]:
    with open(ROOT / f"webapp/translations/{language}/LC_MESSAGES/messages.po", "rb") as handle:
        return {m.id: m.string for m in read_po(handle) if m.id}


def test_every_string_has_a_japanese_translation_with_the_same_placeholders():
    ja = catalog("ja")
    missing = sorted(s for s in strings_in_code() if not ja.get(s))
    assert missing == [], "run `make extract-messages` and translate: " + "; ".join(missing[:20])
    for msgid, msgstr in ja.items():
        assert sorted(PLACEHOLDER.findall(msgid)) == sorted(PLACEHOLDER.findall(msgstr)), msgid


def test_the_english_catalog_lists_every_string():
    assert strings_in_code() <= set(catalog("en"))


def test_pages_render_in_japanese_by_default_and_english_on_request(client):
    assert "ログイン" in client.get("/auth/login").get_data(as_text=True)
    client.submit("/auth/locale", {"locale": "en", "next": "/auth/login"}, page="/auth/login")
    html = client.get("/auth/login").get_data(as_text=True)
    assert "Log in" in html and "ログイン" not in html


def test_dates_and_times_read_as_babel_writes_them_in_tokyo_time_in_both_languages(app):
    """The listings' date labels are formatted by hand for speed; they must say exactly what
    Babel's patterns said: Tokyo time (a stored moment without an offset is UTC), across
    midnight and the year's turn, with and without leading zeros as each language writes them."""
    from datetime import date, datetime, timedelta, timezone

    from babel.dates import format_date, format_datetime
    from flask_babel import force_locale

    from webapp.i18n import date_label, datetime_label

    patterns = {"ja": ("yyyy年M月d日 H:mm", "M/d H:mm", "yyyy年M月d日"),
                "en": ("yyyy-MM-dd HH:mm", "MM-dd HH:mm", "yyyy-MM-dd")}
    moments = [datetime(2026, 12, 31, 14, 59), datetime(2026, 12, 31, 15, 0), datetime(2027, 1, 4, 0, 5),
               datetime(2026, 3, 9, 23, 30, tzinfo=timezone.utc),
               datetime(2026, 7, 1, 8, 7, tzinfo=timezone(timedelta(hours=-5)))]
    with app.test_request_context():
        for language, (medium, short, day) in patterns.items():
            with force_locale(language):
                for moment in moments:
                    aware = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
                    assert datetime_label(moment) == format_datetime(aware, medium, tzinfo="Asia/Tokyo", locale=language)
                    assert datetime_label(moment, "short") == format_datetime(aware, short, tzinfo="Asia/Tokyo",
                                                                              locale=language)
                    assert date_label(moment.date()) == format_date(moment.date(), day, locale=language)
                assert date_label("2027-01-04") == format_date(date(2027, 1, 4), day, locale=language)
                assert date_label("not a date") == "not a date" and datetime_label(None) == date_label(None) == ""
    with app.test_request_context(), force_locale("ja"):
        assert datetime_label(datetime(2026, 12, 31, 15, 0)) == "2027年1月1日 0:00"  # the turn of the year in Tokyo
