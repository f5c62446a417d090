"""Logging in and out, sessions, language, passwords."""
from __future__ import annotations

import sqlalchemy as sa

from webapp.extensions import db
from webapp.models import AuditEvent, User


def test_wrong_password_is_refused_without_saying_which_part(client):
    for username, password in (("tanaka", "wrong-password-1"), ("nobody", "wrong-password-1")):
        response = client.login(username, password)
        assert response.status_code == 401
        html = response.get_data(as_text=True)
        assert "ユーザー名またはパスワード" in html or "user name or password" in html
    assert client.get("/").status_code == 302


def test_login_lands_on_the_inbox_and_records_it(client, world):
    response = client.login("tanaka")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert db.session.scalar(sa.select(AuditEvent.action).order_by(AuditEvent.seq.desc()).limit(1)) == "login"


def test_next_parameter_cannot_redirect_off_site(client):
    token = client.csrf_token("/auth/login")
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        response = client.post("/auth/login", data={"username": "tanaka", "password": "shodaku-demo-2026",
                                                    "next": target, "csrf_token": token})
        assert response.headers["Location"] == "/", target
        client.logout()
        token = client.csrf_token("/auth/login")


def test_session_is_renewed_on_login(client):
    """Whatever was in the anonymous session (fixation) does not survive logging in."""
    with client.session_transaction() as session:
        session["planted"] = "attacker"
    client.login("tanaka")
    with client.session_transaction() as session:
        assert "planted" not in session


def test_session_cookie_is_httponly_and_samesite(client):
    response = client.login("tanaka")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_logout_needs_a_post_with_csrf(client):
    client.login("tanaka")
    assert client.get("/auth/logout").status_code == 405
    assert client.post("/auth/logout").status_code == 400
    assert client.get("/").status_code == 200
    client.logout()
    assert client.get("/").status_code == 302


def test_language_switch_is_remembered_for_the_user(client, world):
    client.login("tanaka")
    assert "受信箱" in client.get("/").get_data(as_text=True)
    client.submit("/auth/locale", {"locale": "en", "next": "/"}, page="/")
    assert "Inbox" in client.get("/").get_data(as_text=True)
    assert db.session.get(User, world.users["tanaka"].id).locale == "en"
    refused = client.submit("/auth/locale", {"locale": "fr", "next": "/"}, page="/")
    assert refused.status_code == 400


def test_changing_the_password_ends_other_sessions(app, client, world):
    other = app.test_client()
    other.login("tanaka")
    client.login("tanaka")
    weak = client.submit("/auth/settings/password",
                         {"pw-current": "shodaku-demo-2026", "pw-new": "short", "pw-confirm": "short"})
    assert weak.status_code == 400
    changed = client.submit("/auth/settings/password", {"pw-current": "shodaku-demo-2026",
                                                        "pw-new": "Kisarazu-2027-new", "pw-confirm": "Kisarazu-2027-new"})
    assert changed.status_code == 302
    assert client.get("/").status_code == 200  # this session continues
    assert other.get("/").status_code == 302  # the other one is logged out
    client.logout()
    assert client.login("tanaka").status_code == 401
    assert client.login("tanaka", "Kisarazu-2027-new").status_code == 302


def test_passwords_are_stored_as_argon2id(world):
    assert world.users["tanaka"].password_hash.startswith("$argon2id$")


def test_security_headers(client):
    response = client.get("/auth/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_no_inline_scripts_in_pages(client):
    client.login("tanaka")
    for page in ("/", "/records/", "/requests/new", "/auth/settings"):
        html = client.get(page).get_data(as_text=True)
        for chunk in html.split("<script")[1:]:
            head = chunk.split(">", 1)[0]
            assert "src=" in head or 'type="application/json"' in head, page
        assert "onclick=" not in html and "javascript:" not in html
