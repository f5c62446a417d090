"""The incident-register handlers, called directly where the diagram cannot reach an edge case."""
from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from handlers import Context, HandlerError
from handlers.incidents import incident_actions, incident_close, incident_triage, parse_found_at
from handlers.notify import incident_inform
from tests.helpers import DEFAULT_NOW
from tests.processes.test_incident_response import close_incident, incident, report
from webapp import access, accounts, engine
from webapp.extensions import db
from webapp.models.incidents import Incident


def context(instance, data: dict[str, Any] | None = None, decision: Any = None) -> tuple[Context, list]:
    """A handler context like the engine's, recording notifications and audit events."""
    calls: list = []
    ctx = Context(session=db.session, instance=instance, actor_id=None, now=DEFAULT_NOW, data=data or {},
                  decision=decision, notify=lambda ids, event: calls.append(("notify", sorted(ids), event)),
                  audit=lambda action, detail: calls.append(("audit", action, detail)),
                  role_holders=lambda role: access.role_holders(role, instance.contract))
    return ctx, calls


# --- found_at -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "expected"), [
    ("2026-12-02T09:30", datetime(2026, 12, 2, 0, 30, tzinfo=timezone.utc)),          # Japan time
    ("2026-12-02T00:30+00:00", datetime(2026, 12, 2, 0, 30, tzinfo=timezone.utc)),    # an explicit offset wins
    ("2026-12-02T10:00", DEFAULT_NOW),                                                # now is not the future
])
def test_found_at_is_read_as_japan_time(value, expected):
    assert parse_found_at(value, DEFAULT_NOW) == expected


@pytest.mark.parametrize("value", ["2026-12-02T10:01", "2026-12-02T01:01+00:00", "2027-01-01", "soon", None])
def test_found_at_in_the_future_or_unreadable_is_refused(app, value):
    with pytest.raises(HandlerError):
        parse_found_at(value, DEFAULT_NOW)


# --- reopened_from on a report ------------------------------------------------------------------

def test_a_contractor_cannot_attach_a_report_to_a_closed_incident(world):
    closed = close_incident(world, report(world))
    with pytest.raises(engine.ProcessFailed) as refused:
        engine.start("incident_response", world.kai, {"kind": "leakage", "found_at": "2026-12-02T09:00",
                                                      "summary": "再発", "reopened_from": closed.reference},
                     world.users["ito"])
    db.session.rollback()
    with force_locale("en"):
        assert "Only the city can reopen" in str(refused.value)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Incident)) == 1


def test_a_city_role_that_does_not_report_incidents_cannot_reopen_through_the_report_either(world):
    """The report handler applies the reopen page's rule (webapp.incidents.check_reopenable), not a looser one."""
    closed = close_incident(world, report(world))
    # Contractor staff may file the report; being a department director does not make reopening theirs.
    both = accounts.create_user("kimura", "木村 部長", "Department-director-2026", org_code="D-KAIGO",
                                roles=["contractor_staff@contract:R8-KAI-0034", "city_director@dept:D-KAIGO"])
    db.session.commit()
    with pytest.raises(engine.ProcessFailed) as refused:
        engine.start("incident_response", world.kai, reopening_report(closed.reference, reopen_reason="再発"), both)
    db.session.rollback()
    with force_locale("en"):
        assert "Only the city can reopen" in str(refused.value)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Incident)) == 1


def reopening_report(reference: str, **extra: Any) -> dict[str, Any]:
    return {"kind": "leakage", "found_at": "2026-12-02T09:00", "summary": "再発", "reopened_from": reference, **extra}


def test_the_city_typing_a_reference_into_the_form_follows_the_reopen_rules(world):
    closed = close_incident(world, report(world))
    with pytest.raises(engine.ProcessFailed):  # no reason given
        engine.start("incident_response", world.kai, reopening_report(closed.reference), world.users["watanabe"])
    db.session.rollback()
    first = engine.start("incident_response", world.kai, reopening_report(closed.reference, reopen_reason="再発"),
                         world.users["watanabe"])
    db.session.commit()
    assert incident(first).reopened_from_id == closed.id
    with pytest.raises(engine.ProcessFailed) as refused:  # that reopening is still open
        engine.start("incident_response", world.kai, reopening_report(closed.reference, reopen_reason="再発"),
                     world.users["watanabe"])
    db.session.rollback()
    assert first.reference in str(refused.value)


@pytest.mark.parametrize("which", ["unknown", "open", "other_contract"])
def test_reopened_from_must_name_a_closed_incident_of_the_same_contract(world, which):
    if which == "unknown":
        reference = "INC-2026-99999"
    elif which == "open":
        reference = report(world).reference
    else:
        reference = close_incident(world, report(world, "kobayashi", world.zei), approver="tanaka",
                                   contractor="kobayashi").reference
    with pytest.raises(engine.ProcessFailed) as refused:
        engine.start("incident_response", world.kai, {"kind": "loss", "found_at": "2026-12-02T09:00",
                                                      "summary": "再発", "reopened_from": reference},
                     world.users["watanabe"])
    db.session.rollback()
    assert reference in str(refused.value)


# --- the later steps ----------------------------------------------------------------------------

def test_steps_after_the_report_refuse_an_instance_missing_from_the_register(world):
    instance = report(world)
    db.session.delete(incident(instance))
    db.session.flush()
    ctx, _ = context(instance, {"severity": "high", "instructions": "x"})
    with pytest.raises(HandlerError):
        incident_triage(ctx)
    with pytest.raises(HandlerError):
        incident_actions(ctx)
    db.session.rollback()


def test_triage_refuses_an_unknown_severity(world):
    instance = report(world)
    ctx, _ = context(instance, {"severity": "apocalyptic"})
    with pytest.raises(HandlerError):
        incident_triage(ctx)


def test_an_action_report_without_new_details_keeps_the_earlier_ones(world):
    instance = report(world, people_affected=30, containment="遮断済み")
    ctx, _ = context(instance, {"actions_taken": "削除依頼", "people_affected": None, "containment": ""})
    incident_actions(ctx)
    row = incident(instance)
    assert (row.actions_taken, row.people_affected, row.containment) == ("削除依頼", 30, "遮断済み")


@pytest.mark.parametrize("decision", [None, SimpleNamespace(outcome="send_back", number="木情第2026-00009号",
                                                            content={"decision": {"decision": "send_back"}})])
def test_closing_needs_the_citys_approving_decision(world, decision):
    instance = report(world)
    ctx, calls = context(instance, decision=decision)
    with pytest.raises(HandlerError):
        incident_close(ctx)
    assert incident(instance).closed_at is None and calls == []


@pytest.mark.parametrize("finding", [
    {"decision": "approve", "cause": " ", "impact": "x", "recurrence_prevention": "x", "damage": "no"},
    {"decision": "approve", "cause": "x", "impact": "x", "recurrence_prevention": "x", "damage": "yes"},
])
def test_closing_refuses_an_incomplete_finding_even_past_the_form(world, finding):
    instance = report(world)
    decision = SimpleNamespace(outcome="approve", number="木情第2026-00009号", content={"decision": finding})
    ctx, _ = context(instance, decision=decision)
    with pytest.raises(HandlerError):
        incident_close(ctx)


def test_closing_ignores_a_damage_amount_when_there_was_no_damage(world):
    instance = report(world)
    finding = {"decision": "approve", "cause": "c", "impact": "i", "recurrence_prevention": "r", "damage": "no",
               "damage_amount": 100, "claim_decision": "claim"}
    ctx, calls = context(instance, data={"damage": "yes"},
                         decision=SimpleNamespace(outcome="approve", number="木情第2026-00009号",
                                                  content={"decision": finding}))
    assert incident_close(ctx) == {"incident_id": incident(instance).id, "decision": "木情第2026-00009号"}
    row = incident(instance)
    assert (row.damage, row.damage_amount, row.claim_decision, row.closed_at) == (False, None, None, DEFAULT_NOW)
    assert calls[0][:2] == ("audit", "incident_closed")


def test_inform_mails_the_reporter_and_role_holders_once_each(world):
    instance = report(world, "sato", world.zei)  # sato is both contractor staff and manager
    ctx, calls = context(instance)
    result = incident_inform(ctx, event="incident_closed", roles=["contractor_staff", "contractor_manager"])
    users = world.users
    assert calls == [("notify", sorted([users["sato"].id, users["kobayashi"].id]), "incident_closed")]
    assert result == {"event": "incident_closed", "recipients": 2}
