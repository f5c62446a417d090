"""Authorization by role *and* by contract on every route (DESIGN rule 7).

A request on contract R8-ZEI-0012 must be invisible (404, never 403) to people of
R8-KAI-0034; every state-changing form refuses a post without its CSRF token.
"""
from __future__ import annotations

import io
import re

import pytest
import sqlalchemy as sa

from tests.helpers import open_task
from webapp import engine
from webapp.auth import tokens
from webapp.extensions import db
from webapp.models import Attachment, Decision, ProcessInstance

PDF = b"%PDF-1.4\n%%EOF\n"


@pytest.fixture
def zei_case(app, client, world):
    """A ZEI copying request with an attachment, decided once (sent back), now awaiting correction."""
    client.login("kobayashi")
    form = {"kind": "copy", "assets": [str(world.asset_ids(world.zei, "A-001")[0])], "purpose": "検証",
            "copies": "1", "medium": "USB", "location": "金庫", "handlers": ["user:kobayashi"],
            "destruction_due": "2027-03-01", "evidence": (io.BytesIO(PDF), "a.pdf")}
    assert client.submit(f"/requests/new/copying_consent/{world.zei.id}", form).status_code == 302
    client.logout()
    instance_id = db.session.scalar(sa.text("SELECT max(id) FROM process_instance"))
    approve = open_task(instance_id, "approve")
    engine.complete(approve.id, {"decision": "send_back", "comment": "再確認"}, world.users["tanaka"])
    db.session.commit()
    return {
        "instance": instance_id,
        "task": open_task(instance_id, "request").id,
        "decision": db.session.scalar(sa.select(Decision.id)),
        "file": db.session.scalar(sa.select(Attachment.id)),
        "contract": world.zei.id,
        "reference": db.session.get(ProcessInstance, instance_id).reference,
    }


def urls(case):
    return {
        "instance": f"/records/{case['instance']}",
        "task": f"/tasks/{case['task']}",
        "decision": f"/records/{case['instance']}/decisions/{case['decision']}",
        "file": f"/records/files/{case['file']}",
        "new": f"/requests/new/copying_consent/{case['contract']}",
    }


@pytest.mark.parametrize("outsider", ["ito", "watanabe"])
def test_another_contracts_people_get_404_everywhere(client, zei_case, outsider):
    client.login(outsider)
    for name, url in urls(zei_case).items():
        response = client.get(url)
        assert response.status_code == 404, name
        response.close()
    assert client.submit(urls(zei_case)["task"], {"kind": "copy"}, page="/auth/settings").status_code == 404
    listing = client.get("/records/").get_data(as_text=True)
    assert "CPY-2026-" not in listing
    assert "CPY-2026-" not in client.get("/").get_data(as_text=True)
    assert "CPY-2026-" not in client.get("/?scope=all&status=all").get_data(as_text=True)


def test_people_of_the_contract_and_auditors_see_it(client, zei_case):
    for person in ("sato", "tanaka", "suzuki", "kato", "takahashi"):
        client.login(person)
        for name in ("instance", "task", "decision"):
            response = client.get(urls(zei_case)[name])
            assert response.status_code == 200, (person, name)
            assert zei_case["reference"] in response.get_data(as_text=True), (person, name)
        client.logout()


def test_seeing_is_not_acting(client, zei_case, world):
    """The auditor sees the correction task but may not complete it."""
    client.login("kato")
    page = client.get(urls(zei_case)["task"]).get_data(as_text=True)
    assert 'type="submit" class="primary"' not in page
    response = client.submit(urls(zei_case)["task"], {"kind": "copy"})
    assert response.status_code == 403


def test_api_hides_another_contract(client, zei_case, world):
    _row, token = tokens.create(world.users["ito"], "t")
    db.session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get(f"/api/v1/instances/{zei_case['instance']}", headers=headers).status_code == 404
    assert client.get(f"/api/v1/tasks/{zei_case['task']}", headers=headers).status_code == 404
    assert client.post(f"/api/v1/tasks/{zei_case['task']}/complete", json={"data": {}}, headers=headers).status_code == 404
    started = client.post("/api/v1/instances", headers=headers,
                          json={"process": "copying_consent", "contract_id": zei_case["contract"], "data": {}})
    assert started.status_code == 404 and started.json["error"] == "not_found"
    assert client.get("/api/v1/tasks", headers=headers).json["_meta"]["total"] == 0


def test_anonymous_visitors_are_sent_to_login(client, zei_case):
    for name, url in urls(zei_case).items():
        response = client.get(url)
        assert response.status_code == 302 and "/auth/login" in response.headers["Location"], name
    assert client.get("/api/v1/tasks").status_code == 401


def _post_routes(app):
    return sorted({(rule.rule, rule.endpoint) for rule in app.url_map.iter_rules()
                   if "POST" in rule.methods and not rule.endpoint.startswith("api.")})


def test_every_form_refuses_a_post_without_csrf(app, client, zei_case):
    client.login("tanaka")
    checked = 0
    for rule, endpoint in _post_routes(app):
        url = rule
        for arg, value in (("<int:task_id>", zei_case["task"]), ("<int:token_id>", 1),
                           ("<key>", "copying_consent"), ("<int:contract_id>", zei_case["contract"])):
            url = url.replace(arg, str(value))
        url = re.sub(r"<(?:int:)?\w+>", "1", url)
        response = client.post(url, data={"decision": "approve"})
        assert response.status_code == 400, (endpoint, response.status_code)
        assert "expired" in response.get_data(as_text=True) or "期限" in response.get_data(as_text=True)
        checked += 1
    assert checked >= 6
    assert open_task(zei_case["instance"], "request").id == zei_case["task"]


def test_withdrawn_roles_take_the_requesters_own_requests_with_them(client, zei_case, world):
    """Kobayashi filed the request; once his roles on the contract are withdrawn he sees none of
    it (page, task, decision, file, listings, API), while his colleague still does."""
    from webapp.models import RoleGrant

    kobayashi = world.users["kobayashi"]
    _row, token = tokens.create(kobayashi, "t")
    db.session.execute(sa.delete(RoleGrant).where(RoleGrant.user_id == kobayashi.id))
    db.session.commit()
    client.login("kobayashi")
    for name, url in urls(zei_case).items():
        response = client.get(url)
        assert response.status_code == 404, name
        response.close()
    assert zei_case["reference"] not in client.get("/records/?mine=1").get_data(as_text=True)
    assert zei_case["reference"] not in client.get("/?scope=all&status=all").get_data(as_text=True)
    client.logout()
    assert client.get(f"/api/v1/instances/{zei_case['instance']}",
                      headers={"Authorization": f"Bearer {token}"}).status_code == 404
    client.login("sato")
    assert zei_case["reference"] in client.get(urls(zei_case)["instance"]).get_data(as_text=True)


def test_a_requester_whose_roles_were_withdrawn_is_no_longer_mailed_about_the_request(zei_case, world):
    """The decision still goes out to those who may read it; not to someone who left the project."""
    from webapp.models import OutboxMessage, RoleGrant

    kobayashi = world.users["kobayashi"]
    engine.complete(zei_case["task"], db.session.get(ProcessInstance, zei_case["instance"]).request_data, kobayashi)
    db.session.commit()
    db.session.execute(sa.delete(RoleGrant).where(RoleGrant.user_id == kobayashi.id))
    db.session.commit()
    engine.complete(open_task(zei_case["instance"], "approve").id, {"decision": "reject", "comment": "不可"},
                    world.users["tanaka"])
    db.session.commit()
    kinds_to = db.session.execute(sa.select(OutboxMessage.kind, OutboxMessage.recipient_id)).all()
    assert ("request_rejected", kobayashi.id) not in kinds_to
    assert ("task_created", world.users["tanaka"].id) in kinds_to  # others' mail is untouched


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_persons_scope_is_read_from_their_candidacies_with_and_without_planner_statistics(app, world):
    """Every request reads the person's scope. Until the worker's first daily ANALYZE (a new or
    freshly migrated database) SQLite has no statistics; the scope query must still start from
    the person's few candidacies, not walk every open task (at 100,000 open tasks: 12 ms on each
    request), and with statistics it must not read everyone's candidacies either. The plan is
    what is checked: a timing here would only measure this machine."""
    from webapp.access import _scope_query

    def plan() -> str:
        db.session.commit()
        db.engine.dispose()  # new connections read the statistics afresh
        compiled = _scope_query().compile(db.engine)
        rows = db.session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}",
                                                       (1,) * len(compiled.positiontup))
        return " | ".join(row[-1] for row in rows)

    from_the_index = "SEARCH task_candidate USING COVERING INDEX ix_task_candidate_user_task (user_id=?)"
    db.session.execute(sa.text("DROP TABLE IF EXISTS sqlite_stat1"))
    without = plan()
    assert from_the_index in without and "ix_human_task_status_due" not in without, without
    # Statistics as ANALYZE leaves them at 100,000 open tasks, where escalations gathered 6,000
    # candidacies on a few people (167 each on average).
    db.session.execute(sa.text("ANALYZE"))
    db.session.execute(sa.text("DELETE FROM sqlite_stat1 WHERE tbl IN ('task_candidate', 'human_task')"))
    for table, index, stat in (("task_candidate", "ix_task_candidate_user_task", "6000 167 1"),
                               ("task_candidate", "sqlite_autoindex_task_candidate_1", "6000 2 1"),
                               ("human_task", "ix_human_task_status_due", "238277 119139 3")):
        db.session.execute(sa.text("INSERT INTO sqlite_stat1 VALUES (:table, :index, :stat)"),
                           {"table": table, "index": index, "stat": stat})
    with_statistics = plan()
    assert from_the_index in with_statistics, with_statistics
