"""Reopening a closed incident (webapp.incidents.reopen): a new instance, the old record untouched."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from tests.helpers import open_task
from tests.processes.flows import act
from tests.processes.test_incident_response import close_incident, incident, report
from webapp import access, accounts, engine, incidents
from webapp.extensions import db
from webapp.formschema import FormInvalid
from webapp.models import AuditEvent, ProcessInstance
from webapp.models.incidents import Incident

REASON = "送信先から別ファイルも受領していたとの連絡があった"


def english(error: Exception) -> str:
    with force_locale("en"):
        return str(error)


def reopened_events(instance_id: int) -> list[dict]:
    return [e.detail for e in db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.instance_id == instance_id, AuditEvent.action == "incident_reopened"))]


@pytest.fixture
def closed(world) -> ProcessInstance:
    return close_incident(world, report(world, people_affected=12, assets=world.asset_ids(world.kai, "B-001")))


def test_reopening_starts_a_new_incident_with_the_original_report(world, closed):
    before = incident(closed)
    closure_number = before.closure_decision_number
    new = incidents.reopen(closed, world.users["watanabe"], f"  {REASON} ")
    db.session.commit()
    assert new.id != closed.id and new.status == "running" and new.contract_id == closed.contract_id
    assert new.requester_id == world.users["watanabe"].id
    assert new.request_data["summary"] == closed.request_data["summary"]
    assert new.request_data["people_affected"] == 12
    assert (new.request_data["reopened_from"], new.request_data["reopen_reason"]) == (closed.reference, REASON)
    row = incident(new)
    assert row.reopened_from_id == closed.id and row.closed_at is None and row.people_affected == 12
    assert open_task(new.id).spec_id == "triage"
    # The old incident and its numbered closure stay exactly as decided.
    db.session.refresh(closed)
    old = incident(closed)
    assert closed.status == "completed" and old.closure_decision_number == closure_number and old.closed_at
    assert reopened_events(closed.id) == [{"reason": REASON, "reopened_as": new.reference, "new_instance": new.id}]
    assert reopened_events(new.id) == [{"reason": REASON, "reopened_from": closed.reference,
                                        "original_instance": closed.id}]


def test_the_reopened_incident_runs_the_whole_flow_again(world, closed):
    new = incidents.reopen(closed, world.users["takahashi"], REASON)
    db.session.commit()
    close_incident(world, new, severity="medium")
    assert incident(new).closed_at is not None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Incident)) == 2


def test_reopen_never_commits(world, closed):
    incidents.reopen(closed, world.users["watanabe"], REASON)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ProcessInstance)
                             .where(ProcessInstance.process_key == "incident_response")) == 1
    assert reopened_events(closed.id) == []


@pytest.mark.parametrize("reason", ["", "   ", None, "x" * 2001])
def test_a_reason_is_required(world, closed, reason):
    with pytest.raises(FormInvalid) as refused:
        incidents.reopen(closed, world.users["watanabe"], reason)
    db.session.rollback()
    assert "reason" in refused.value.errors


@pytest.mark.parametrize("username", ["ito", "kato"])  # the contractor; the auditor sees all but is not the city
def test_only_the_city_may_reopen(world, closed, username):
    with pytest.raises(engine.NotAllowed):
        incidents.reopen(closed, world.users[username], REASON)
    db.session.rollback()


def test_a_city_role_that_does_not_report_incidents_may_not_reopen(world, closed):
    """A department director sees the incident but is not among its reporters: no reopening."""
    director = accounts.create_user("kimura", "木村 部長", "Department-director-2026", org_code="D-KAIGO",
                                    roles=["city_director@dept:D-KAIGO"])
    db.session.commit()
    assert access.can_see_instance(director, closed)
    assert not incidents.can_reopen(closed, director)
    with pytest.raises(engine.NotAllowed) as refused:
        incidents.reopen(closed, director, REASON)
    db.session.rollback()
    assert "Only the city can reopen" in english(refused.value)
    assert reopened_events(closed.id) == []


def test_people_who_cannot_see_the_incident_get_not_found(world, closed):
    for username in ("tanaka", "kobayashi"):  # city and contractor of another contract
        with pytest.raises(engine.NotFound):
            incidents.reopen(closed, world.users[username], REASON)
        db.session.rollback()


def test_only_incidents_can_be_reopened(world):
    other = engine.start("copying_consent", world.zei, {
        "kind": "other_purpose", "assets": world.asset_ids(world.zei, "A-001"), "purpose": "検証",
        "handlers": ["user:kobayashi"]}, world.users["kobayashi"])
    act(other, "approve", world.users["tanaka"], decision="approve")
    with pytest.raises(engine.NotFound):
        incidents.reopen(other, world.users["tanaka"], REASON)
    with pytest.raises(engine.NotFound):
        incidents.reopen(None, world.users["tanaka"], REASON)
    db.session.rollback()


def test_an_open_incident_cannot_be_reopened(world):
    instance = report(world)
    with pytest.raises(engine.NotAllowed):
        incidents.reopen(instance, world.users["watanabe"], REASON)
    db.session.rollback()


def test_an_incident_is_reopened_only_once_while_the_reopening_is_open(world, closed):
    first = incidents.reopen(closed, world.users["watanabe"], REASON)
    db.session.commit()
    with pytest.raises(engine.NotAllowed) as refused:
        incidents.reopen(closed, world.users["watanabe"], REASON)
    db.session.rollback()
    assert first.reference in str(refused.value)
    # Once that one is closed too, the original may be reopened again.
    close_incident(world, first)
    again = incidents.reopen(closed, world.users["watanabe"], "三度目の確認")
    db.session.commit()
    assert incident(again).reopened_from_id == closed.id


def test_evidence_stays_with_the_original_incident(world):
    from webapp.models import Attachment

    photo = Attachment(sha256="0" * 64, filename="screen.png", size=10, content_type="image/png",
                       uploaded_by_id=world.users["ito"].id)
    db.session.add(photo)
    db.session.commit()
    closed = close_incident(world, report(world, evidence=[photo.id]))
    assert closed.request_data["evidence"] == [photo.id]
    new = incidents.reopen(closed, world.users["watanabe"], REASON)
    db.session.commit()
    assert "evidence" not in new.request_data
    db.session.refresh(photo)
    assert photo.instance_id == closed.id


def test_reopening_over_http_needs_a_reason_and_links_the_new_incident(client, world, closed):
    """The instance page offers reopening to the city; an empty reason is refused on the field."""
    client.login("watanabe")
    page = client.get(f"/records/{closed.id}").get_data(as_text=True)
    assert f"/records/{closed.id}/reopen" in page
    refused = client.submit(f"/records/{closed.id}/reopen", {"reason": "  "}, page=f"/records/{closed.id}")
    assert refused.status_code == 400 and 'class="error"' in refused.get_data(as_text=True)
    done = client.submit(f"/records/{closed.id}/reopen", {"reason": "追加の漏えいが判明したため"},
                         page=f"/records/{closed.id}")
    assert done.status_code == 302
    newest = db.session.scalar(sa.select(ProcessInstance).order_by(ProcessInstance.id.desc()).limit(1))
    assert newest.id != closed.id and newest.process_key == "incident_response"
    assert done.headers["Location"].endswith(f"/records/{newest.id}")
    client.logout()
    client.login("ito")  # the contractor sees the incident but may not reopen it
    assert f"/records/{closed.id}/reopen" not in client.get(f"/records/{closed.id}").get_data(as_text=True)
    assert client.submit(f"/records/{closed.id}/reopen", {"reason": "x"}, page=f"/records/{closed.id}").status_code == 403
