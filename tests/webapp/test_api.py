"""JSON API v1: the same journey as the UI, with personal access tokens."""
from __future__ import annotations

import re

import sqlalchemy as sa

from tests.helpers import open_task, start_copying
from webapp.auth import tokens
from webapp.extensions import db
from webapp.models import ApiToken, AuditEvent, Decision


def bearer(world, username: str) -> dict[str, str]:
    _row, token = tokens.create(world.users[username], "test")
    db.session.commit()
    return {"Authorization": f"Bearer {token}"}


def test_journey_over_the_api(client, world):
    contractor, approver = bearer(world, "kobayashi"), bearer(world, "tanaka")
    processes = client.get("/api/v1/processes", headers=contractor).json["items"]
    copying = next(p for p in processes if p["key"] == "copying_consent")
    assert [c["number"] for c in copying["contracts"]] == ["R8-ZEI-0012"]
    assert copying["form"]["properties"]["kind"]["enum"] == ["other_purpose", "copy", "external_computer"]

    data = {"kind": "copy", "assets": world.asset_ids(world.zei, "A-001"), "purpose": "検証", "copies": 1,
            "medium": "USB", "location": "金庫", "handlers": ["user:kobayashi"], "destruction_due": "2027-03-01"}
    bad = client.post("/api/v1/instances", headers=contractor,
                      json={"process": "copying_consent", "contract_id": world.zei.id, "data": {**data, "copies": "many"}})
    assert bad.status_code == 400 and bad.json["error"] == "invalid_form" and "copies" in bad.json["fields"]
    started = client.post("/api/v1/instances", headers=contractor,
                          json={"process": "copying_consent", "contract_id": world.zei.id, "data": data})
    assert started.status_code == 201
    instance = started.json
    assert re.fullmatch(r"CPY-2026-\d{5}", instance["reference"]) and instance["status"] == "running"

    mine = client.get("/api/v1/tasks", headers=approver).json
    assert mine["_meta"]["total"] == 1
    task = mine["items"][0]
    detail = client.get(f"/api/v1/tasks/{task['id']}", headers=approver).json
    assert detail["can_complete"] is True and detail["form"]["required"] == ["decision"]
    assert client.get(f"/api/v1/tasks/{task['id']}", headers=contractor).json["can_complete"] is False

    sent_back = client.post(f"/api/v1/tasks/{task['id']}/complete", headers=approver,
                            json={"data": {"decision": "send_back", "comment": "部数を確認"}})
    assert sent_back.status_code == 200
    correction = client.get("/api/v1/tasks", headers=contractor).json["items"][0]
    assert correction["step"] == "request"
    assert client.post(f"/api/v1/tasks/{correction['id']}/complete", headers=contractor,
                       json={"data": {**data, "copies": 2}}).status_code == 200
    approval = client.get("/api/v1/tasks", headers=approver).json["items"][0]
    done = client.post(f"/api/v1/tasks/{approval['id']}/complete", headers=approver,
                       json={"data": {"decision": "approve"}})
    assert done.status_code == 200 and done.json["instance"]["status"] == "completed"
    finished = client.get(f"/api/v1/tasks/{approval['id']}", headers=approver).json
    assert finished["can_complete"] is False and finished["refusal"]  # says who completed it

    record = client.get(f"/api/v1/instances/{instance['id']}", headers=contractor).json
    assert [d["outcome"] for d in record["decisions"]] == ["send_back", "approve"]
    assert [d["request_version"] for d in record["decisions"]] == [1, 2]
    assert record["request"]["copies"] == 2
    assert any(step["state"] == "done" and step["id"] == "approve" for step in record["steps"])


def test_api_refuses_what_the_ui_refuses(client, world):
    contractor = bearer(world, "kobayashi")
    assert client.get("/api/v1/tasks").status_code == 401
    assert client.get("/api/v1/tasks", headers={"Authorization": "Bearer shk_wrong"}).json["error"] == "unauthorized"
    not_json = client.post("/api/v1/instances", headers=contractor, data="kind=copy")
    assert not_json.status_code == 400 and not_json.json["error"] == "bad_request"
    wrong_type = client.post("/api/v1/instances", headers=contractor,
                             json={"process": "copying_consent", "contract_id": "1", "data": {}})
    assert wrong_type.status_code == 404
    unknown = client.post("/api/v1/instances", headers=contractor,
                          json={"process": "nope", "contract_id": world.zei.id, "data": {}})
    assert unknown.status_code == 404
    assert client.get("/api/v1/tasks/999999", headers=contractor).status_code == 404


def test_session_cookies_do_not_authenticate_the_api(client, world):
    """The API takes tokens only, so a logged-in browser cannot be driven to it cross-site (no CSRF)."""
    client.login("kobayashi")
    assert client.get("/api/v1/tasks").status_code == 401


def test_tokens_are_stored_hashed_and_can_be_revoked(client, world):
    client.login("kobayashi")
    created = client.submit("/auth/settings/tokens", {"tok-name": "集計スクリプト"}, page="/auth/settings")
    token = re.search(r"shk_[A-Za-z0-9_-]{20,}", created.get_data(as_text=True)).group(0)
    row = db.session.scalar(sa.select(ApiToken).where(ApiToken.name == "集計スクリプト"))
    assert token not in (row.token_hash, row.prefix) and row.prefix == token[:10]
    assert client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert client.submit(f"/auth/settings/tokens/{row.id}/revoke", {}, page="/auth/settings").status_code == 302
    assert client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    # Someone else's token id is not revocable by this user.
    _other, _ = tokens.create(world.users["tanaka"], "x")
    db.session.commit()
    assert client.submit(f"/auth/settings/tokens/{_other.id}/revoke", {}, page="/auth/settings").status_code == 404


def test_token_use_is_recorded_and_a_failing_post_changes_nothing_else(client, world, clock):
    headers = bearer(world, "tanaka")
    token = db.session.scalar(sa.select(ApiToken).where(ApiToken.user_id == world.users["tanaka"].id))
    assert client.get("/api/v1/tasks", headers=headers).status_code == 200
    first_use = token.last_used_at
    assert first_use == clock.now
    task = open_task(start_copying(world).id)
    events = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
    clock.advance(hours=1)
    refused = client.post(f"/api/v1/tasks/{task.id}/complete", headers=headers, json={"data": {"decision": "maybe"}})
    assert refused.status_code == 400
    assert token.last_used_at == clock.now  # recorded, though the request itself was rolled back
    assert task.status == "open" and db.session.scalar(sa.select(Decision)) is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == events


def test_create_token_command_prints_a_working_token(client, runner):
    result = runner.invoke(args=["create-token", "tanaka"])
    assert result.exit_code == 0
    token = result.output.strip()
    assert client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_openapi_document_describes_every_endpoint(app, client):
    spec = client.get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.")
    documented = {("/api/v1" + path, method.upper()) for path, ops in spec["paths"].items() for method in ops}
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api.") and rule.endpoint != "api.spec":
            path = re.sub(r"<(?:int:)?(\w+)>", r"{\1}", rule.rule)
            routes |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert routes == documented
