"""Every route × every kind of person × own / other contract → the expected status.

Generated from the route table: a route without an entry here fails the test, so a new
route cannot ship without its authorization being decided. POSTs carry a valid CSRF token
(or a bearer token for the API) and deliberately incomplete data: an authorized person gets
400 (the form is refused), an unauthorized one 403 or 404, so nothing changes state.
"""
from __future__ import annotations

import io

import pytest
import sqlalchemy as sa

from tests.helpers import open_task
from webapp import engine
from webapp.auth import tokens
from webapp.extensions import db
from webapp.models import Attachment, Decision, HumanTask

PEOPLE = ["anonymous", "kobayashi", "ito", "tanaka", "watanabe", "kato", "nakamura", "yamamoto"]
LOGGED_IN = PEOPLE[1:]

# Who sees requests of contract R8-ZEI-0012 (kobayashi's): the contract's people, the
# department's approver, and the see-everything roles (auditor, administrator).
SEES_ZEI = {"kobayashi": 200, "ito": 404, "tanaka": 200, "watanabe": 404, "kato": 200, "nakamura": 404,
            "yamamoto": 200, "anonymous": 302}
ADMIN_ONLY = {**{p: 403 for p in LOGGED_IN}, "yamamoto": 200, "anonymous": 302}
OWNER_ONLY = {**{p: 403 for p in LOGGED_IN}, "nakamura": 200, "anonymous": 302}
EVERYONE_LOGGED_IN = {**{p: 200 for p in LOGGED_IN}, "anonymous": 302}


def _except(base: dict[str, int], **changes: int) -> dict[str, int]:
    return {**base, **changes}


def expectations(ids: dict[str, int]) -> dict[str, list[tuple[str, str, dict, dict[str, int]]]]:
    task, done, decision, attachment, zei = ids["task"], ids["done"], ids["decision"], ids["file"], ids["zei"]
    owner_post = _except(OWNER_ONLY, nakamura=400)
    return {
        "inbox.index": [("GET", "/", {}, EVERYONE_LOGGED_IN)],
        "inbox.task": [
            ("GET", f"/tasks/{task}", {}, SEES_ZEI),
            # Seeing is not acting: only the department's approver may decide (400: the empty form).
            ("POST", f"/tasks/{task}", {}, _except(SEES_ZEI, kobayashi=403, tanaka=400, kato=403, yamamoto=403)),
        ],
        "records.index": [("GET", "/records/", {}, EVERYONE_LOGGED_IN)],
        "records.contracts": [("GET", "/records/contracts", {}, EVERYONE_LOGGED_IN)],
        "records.register": [("GET", "/records/registers/devices", {}, EVERYONE_LOGGED_IN)],
        "records.instance": [("GET", f"/records/{done}", {}, SEES_ZEI)],
        "records.decision": [("GET", f"/records/{done}/decisions/{decision}", {}, SEES_ZEI)],
        "records.diagram": [("GET", f"/records/{done}/diagram.json", {}, SEES_ZEI)],
        "records.file": [("GET", f"/records/files/{attachment}", {}, SEES_ZEI)],
        "records.export_contract": [("POST", f"/records/contracts/{zei}/export.zip", {},
                                     _except(SEES_ZEI, kobayashi=403, tanaka=403))],
        # Only incidents can be reopened: a copying request is "not found" for everyone.
        "records.reopen": [("POST", f"/records/{done}/reopen", {"reason": "x"},
                            _except({p: 404 for p in PEOPLE}, anonymous=302))],
        "requests.new": [("GET", "/requests/new", {}, EVERYONE_LOGGED_IN)],
        "requests.file": [
            ("GET", f"/requests/new/copying_consent/{zei}", {}, _except({p: 404 for p in PEOPLE}, kobayashi=200,
                                                                         anonymous=302)),
            ("POST", f"/requests/new/copying_consent/{zei}", {}, _except({p: 404 for p in PEOPLE}, kobayashi=400,
                                                                          anonymous=302)),
        ],
        "admin.index": [("GET", "/admin/", {}, ADMIN_ONLY)],
        "admin.calendar": [("GET", "/admin/calendar", {}, ADMIN_ONLY),
                           ("POST", "/admin/calendar", {}, _except(ADMIN_ONLY, yamamoto=400))],
        "admin.delete_closed_day": [("POST", "/admin/calendar/999/delete", {}, _except(ADMIN_ONLY, yamamoto=404))],
        "designer.index": [("GET", "/designer/", {}, OWNER_ONLY)],
        "designer.flow": [("GET", "/designer/copying_consent/", {}, OWNER_ONLY)],
        "designer.edit": [("GET", "/designer/copying_consent/edit", {}, OWNER_ONLY)],
        "designer.compare": [("GET", "/designer/copying_consent/diff?from=1&to=1", {}, OWNER_ONLY)],
        "designer.download_version": [("GET", "/designer/copying_consent/v1.bpmn", {}, OWNER_ONLY)],
        "designer.download_draft": [("GET", "/designer/copying_consent/draft.bpmn", {},
                                     _except(OWNER_ONLY, nakamura=404))],
        "designer.validate": [("POST", "/designer/copying_consent/validate", {}, owner_post)],
        "designer.deploy": [("POST", "/designer/copying_consent/deploy", {}, owner_post)],
        "designer.save_draft": [("POST", "/designer/copying_consent/draft", {}, owner_post)],
        "designer.discard_draft": [("POST", "/designer/copying_consent/draft/discard", {},
                                    _except(OWNER_ONLY, nakamura=302))],
        "designer.upload": [("POST", "/designer/upload", {}, owner_post)],
        "designer.rollback": [("POST", "/designer/copying_consent/v99/rollback", {}, _except(OWNER_ONLY, nakamura=404))],
        "auth.login": [("GET", "/auth/login", {}, _except({p: 302 for p in PEOPLE}, anonymous=200)),
                       ("POST", "/auth/login", {"username": "tanaka", "password": "wrong-password-1"},
                        _except({p: 302 for p in PEOPLE}, anonymous=401))],
        "auth.logout": [("POST", "/auth/logout", {}, {p: 302 for p in PEOPLE})],
        "auth.set_locale": [("POST", "/auth/locale", {}, {p: 400 for p in PEOPLE})],
        "auth.settings": [("GET", "/auth/settings", {}, EVERYONE_LOGGED_IN),
                          ("POST", "/auth/settings", {"pref-locale": "xx"}, _except({p: 400 for p in PEOPLE},
                                                                                    anonymous=302))],
        "auth.change_password": [("POST", "/auth/settings/password", {}, _except({p: 400 for p in PEOPLE},
                                                                                 anonymous=302))],
        "auth.create_token": [("POST", "/auth/settings/tokens", {}, _except({p: 400 for p in PEOPLE},
                                                                            anonymous=302))],
        "auth.revoke_token": [("POST", "/auth/settings/tokens/999/revoke", {}, _except({p: 404 for p in PEOPLE},
                                                                                       anonymous=302))],
        "auth.notification_settings": [("POST", "/auth/settings/notifications", {"notify-task_created": "loud"},
                                        _except({p: 400 for p in PEOPLE}, anonymous=302))],
        "health.healthz": [("GET", "/healthz", {}, {p: 200 for p in PEOPLE})],
        # Public like /healthz, for monitoring; no worker has run in this world, so 503 for all.
        "health.worker": [("GET", "/healthz/worker", {}, {p: 503 for p in PEOPLE})],
        # The API: bearer tokens (anonymous = no token).
        "api.spec": [("GET", "/api/v1/openapi.json", {}, {p: 200 for p in PEOPLE})],
        "api.processes": [("GET", "/api/v1/processes", {}, _except({p: 200 for p in PEOPLE}, anonymous=401))],
        "api.tasks": [("GET", "/api/v1/tasks", {}, _except({p: 200 for p in PEOPLE}, anonymous=401))],
        "api.task": [("GET", f"/api/v1/tasks/{task}", {}, _except(SEES_ZEI, anonymous=401))],
        "api.instance": [("GET", f"/api/v1/instances/{done}", {}, _except(SEES_ZEI, anonymous=401))],
        "api.complete": [("POST", f"/api/v1/tasks/{task}/complete", {"data": {}},
                          _except(SEES_ZEI, anonymous=401, kobayashi=403, tanaka=400, kato=403, yamamoto=403))],
        "api.start_instance": [("POST", "/api/v1/instances",
                                {"process": "copying_consent", "contract_id": zei, "data": {}},
                                _except({p: 404 for p in PEOPLE}, anonymous=401, kobayashi=400))],
    }


@pytest.fixture
def case(app, client, world):
    client.login("kobayashi")
    form = {"kind": "other_purpose", "assets": [str(world.asset_ids(world.zei, "A-003")[0])], "purpose": "参照",
            "handlers": ["user:kobayashi"], "evidence": (io.BytesIO(b"%PDF-1.4\n%%EOF\n"), "a.pdf")}
    assert client.submit(f"/requests/new/copying_consent/{world.zei.id}", form).status_code == 302
    client.logout()
    done = db.session.scalar(sa.text("SELECT max(id) FROM process_instance"))
    engine.complete(open_task(done).id, {"decision": "approve"}, world.users["tanaka"])
    pending = engine.start("copying_consent", world.zei, {
        "kind": "other_purpose", "assets": world.asset_ids(world.zei, "A-003"), "purpose": "参照2",
        "handlers": ["user:kobayashi"]}, world.users["kobayashi"])
    db.session.commit()
    return {"task": open_task(pending.id).id, "done": done, "zei": world.zei.id,
            "decision": db.session.scalar(sa.select(Decision.id)), "file": db.session.scalar(sa.select(Attachment.id))}


def _request(app, person: str, method: str, url: str, payload: dict, world) -> int:
    client = app.test_client()
    if url.startswith("/api/"):
        headers = {}
        if person != "anonymous":
            headers["Authorization"] = "Bearer " + tokens.create(world.users[person], "matrix")[1]
            db.session.commit()
        response = client.open(url, method=method, json=payload if method == "POST" else None, headers=headers)
    else:
        if person != "anonymous":
            client.login(person)
        if method == "POST":
            token = client.csrf_token("/auth/login" if person == "anonymous" else "/auth/settings")
            response = client.post(url, data={**payload, "csrf_token": token})
        else:
            response = client.get(url)
    response.close()
    return response.status_code


def test_every_route_has_a_rule(app, case):
    rules = expectations(case)
    routes = {rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint != "static"}
    assert routes - set(rules) == set(), "routes without an authorization rule in this matrix"
    assert set(rules) - routes == set(), "rules for routes that no longer exist"
    methods = {(rule.endpoint, m) for rule in app.url_map.iter_rules() if rule.endpoint != "static"
               for m in rule.methods - {"HEAD", "OPTIONS"}}
    covered = {(endpoint, method) for endpoint, entries in rules.items() for method, *_ in entries}
    assert methods - covered == set(), "methods without an authorization rule"


def test_the_matrix(app, case, world):
    failures = []
    for endpoint, entries in expectations(case).items():
        for method, url, payload, expected in entries:
            for person in PEOPLE:
                status = _request(app, person, method, url, payload, world)
                want = expected[person]
                if status != want:
                    failures.append(f"{method} {url} as {person}: {status}, expected {want} ({endpoint})")
    assert failures == []
    # And nothing changed: the pending task is still open, no new decision was made.
    assert db.session.scalar(sa.select(HumanTask.status).where(HumanTask.id == case["task"])) == "open"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Decision)) == 1
