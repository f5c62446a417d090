"""What the logs never contain, HSTS behind TLS, and hostile upload names."""
from __future__ import annotations

import io
import json
import logging

import pytest
import sqlalchemy as sa

from tests.helpers import open_task, start_copying
from webapp.auth import tokens
from webapp.extensions import db
from webapp.logs import JsonFormatter, RequestContextFilter
from webapp.models import Attachment


@pytest.fixture
def json_lines(caplog):
    caplog.set_level(logging.INFO)
    caplog.handler.addFilter(RequestContextFilter())
    formatter = JsonFormatter()

    def lines() -> str:
        return "\n".join(formatter.format(record) for record in caplog.records)

    return lines


def test_logs_carry_ids_but_no_passwords_tokens_or_form_contents(client, world, json_lines):
    client.login("tanaka", "wrong-password-77")
    client.login("kobayashi")
    created = client.submit("/auth/settings/tokens", {"tok-name": "ログ確認"}, page="/auth/settings")
    token = created.get_data(as_text=True).split("shk_")[1].split("<")[0]
    form = {"kind": "other_purpose", "assets": [str(world.asset_ids(world.zei, "A-003")[0])],
            "purpose": "極秘の目的文XYZ", "handlers": ["user:kobayashi"]}
    assert client.submit(f"/requests/new/copying_consent/{world.zei.id}", form).status_code == 302
    text = json_lines()
    for secret in ("wrong-password-77", "shodaku-demo-2026", token, "極秘の目的文XYZ"):
        assert secret not in text
    records = [json.loads(line) for line in text.splitlines()]
    started = [r for r in records if "started copying_consent" in r["msg"]]
    assert started and started[0]["request_id"] and started[0]["user_id"] == world.users["kobayashi"].id


def test_task_routes_name_the_instance_in_their_logs(client, world, json_lines):
    first, second = start_copying(world), start_copying(world)
    client.login("tanaka")
    page = f"/tasks/{open_task(first.id).id}"
    assert client.submit(page, {"decision": "approve"}, page=page).status_code == 302
    _row, token = tokens.create(world.users["tanaka"], "t")
    db.session.commit()
    answer = client.post(f"/api/v1/tasks/{open_task(second.id).id}/complete",
                         headers={"Authorization": f"Bearer {token}"}, json={"data": {"decision": "approve"}})
    assert answer.status_code == 200
    records = [json.loads(line) for line in json_lines().splitlines()]
    completed = [r for r in records if "completed task" in r["msg"]]
    assert [r.get("instance_id") for r in completed] == [first.id, second.id]


@pytest.fixture
def app_config():
    return {"SESSION_COOKIE_SECURE": True}


def test_hsts_and_secure_cookies_behind_tls(client):
    response = client.get("/auth/login")
    assert "max-age=" in response.headers["Strict-Transport-Security"]
    token = client.csrf_token("/auth/login")
    login = client.post("/auth/login", data={"username": "tanaka", "password": "shodaku-demo-2026",
                                             "csrf_token": token}, base_url="https://localhost")
    session_cookie = next(c for c in login.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "Secure" in session_cookie


def test_upload_names_cannot_climb_directories_and_downloads_are_attachments(client, world):
    client.login("kobayashi")
    form = {"kind": "other_purpose", "assets": [str(world.asset_ids(world.zei, "A-003")[0])], "purpose": "参照",
            "handlers": ["user:kobayashi"],
            "evidence": (io.BytesIO(b"%PDF-1.4\n%%EOF\n"), "../../../etc/passwd\x00.pdf")}
    assert client.submit(f"/requests/new/copying_consent/{world.zei.id}", form).status_code == 302
    stored = db.session.scalar(sa.select(Attachment))
    assert "/" not in stored.filename and ".." not in stored.filename and "\x00" not in stored.filename
    with client.get(f"/records/files/{stored.id}") as response:
        assert response.headers["Content-Disposition"].startswith("attachment")
        assert response.headers["Content-Type"] == "application/pdf"


def test_a_disguised_file_is_refused_by_its_content_not_its_name(client, world):
    client.login("kobayashi")
    html = b"<html><script>alert(1)</script></html>"
    form = {"kind": "other_purpose", "assets": [str(world.asset_ids(world.zei, "A-003")[0])], "purpose": "参照",
            "handlers": ["user:kobayashi"], "evidence": (io.BytesIO(b"\x00\x01" + html), "report.pdf")}
    response = client.submit(f"/requests/new/copying_consent/{world.zei.id}", form)
    assert response.status_code == 400 and "report.pdf" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Attachment)) == 0

