"""Every path through incident_response.bpmn (Art. 9, 19), driven through the engine verbs the views use.

The clock stands at Wednesday 2 December 2026, 10:00 JST (01:00 UTC). Incident deadlines
count wall-clock hours, so they fall on the hour after the step became ready, whatever the day.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from tests.helpers import DEFAULT_NOW, open_task
from tests.processes.flows import act, mail, recipients
from webapp import engine, worker
from webapp.extensions import db
from webapp.formschema import FormInvalid
from webapp.models import Decision, HumanTask, OutboxMessage, ProcessInstance, TaskCandidate
from webapp.models.incidents import Incident

HOUR = timedelta(hours=1)


# --- driving the flow (also used by tests/handlers and tests/webapp) -----------------------------

def report_data(**overrides: Any) -> dict[str, Any]:
    """The minimal report: what a person can type in under a minute."""
    data: dict[str, Any] = {"kind": "leakage", "found_at": "2026-12-02T09:30",
                            "summary": "受託者の作業用PCから介護保険被保険者台帳の一部がメール誤送信された"}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def report(world, username: str = "ito", contract=None, **overrides: Any) -> ProcessInstance:
    instance = engine.start("incident_response", contract or world.kai, report_data(**overrides),
                            world.users[username])
    db.session.commit()
    return instance


def actions(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"actions_taken": "誤送信先に削除を依頼し、削除済みの回答を受領した。"}
    data.update(overrides)
    return data


def closing(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"decision": "approve", "cause": "宛先の確認手順がなかった",
                            "impact": "被保険者12名の氏名・被保険者番号", "recurrence_prevention": "送信前の二者確認を義務化",
                            "damage": "no"}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def close_incident(world, instance: ProcessInstance, approver: str = "watanabe", contractor: str = "ito",
                   severity: str = "low") -> ProcessInstance:
    """Drive a reported incident to closure on the low/medium path."""
    act(instance, "triage", world.users[approver], severity=severity, instructions="誤送信先への削除依頼")
    act(instance, "action_report", world.users[contractor], **actions())
    act(instance, "closure", world.users[approver], **closing())
    db.session.refresh(instance)
    return instance


def incident(instance: ProcessInstance) -> Incident:
    return db.session.scalar(sa.select(Incident).where(Incident.instance_id == instance.id))


# --- reporting ----------------------------------------------------------------------------------

def test_a_minimal_report_is_registered_and_the_city_must_triage_within_two_hours(world):
    instance = report(world, "kobayashi", world.zei)
    assert instance.reference == "INC-2026-00001"
    assert instance.title.startswith("漏えい：受託者の作業用PC")
    row = incident(instance)
    assert (row.kind, row.contract_id, row.severity, row.people_affected, row.closed_at) == \
        ("leakage", world.zei.id, None, None, None)
    assert row.found_at.isoformat() == "2026-12-02T00:30:00+00:00"  # 09:30 in Tokyo
    assert row.reported_at == DEFAULT_NOW
    task = open_task(instance.id)
    assert (task.spec_id, task.lane) == ("triage", "city_approver")
    assert task.due_at == DEFAULT_NOW + 2 * HOUR
    db.session.refresh(instance)
    assert instance.next_timer_at == task.due_at
    # At once: the approvers get the task, the section chief and the reporter the incident notice.
    assert recipients("task_created") == [mail("tanaka")]
    assert recipients("incident_reported") == [mail("kobayashi"), mail("suzuki")]
    body = db.session.scalar(sa.select(OutboxMessage.body).where(OutboxMessage.kind == "incident_reported").limit(1))
    assert "INC-2026-00001" in body and "R8-ZEI-0012" in body and f"/records/{instance.id}" in body


def test_a_full_report_keeps_the_optional_details(world):
    assets = world.asset_ids(world.kai, "B-001", "B-002")
    instance = report(world, kind="loss", assets=assets, people_affected=340, containment="端末を遠隔ロック済み",
                      found_at="2026-12-01T23:10+09:00")
    row = incident(instance)
    assert (row.kind, row.asset_ids, row.people_affected, row.containment) == ("loss", assets, 340, "端末を遠隔ロック済み")
    assert row.found_at.isoformat() == "2026-12-01T14:10:00+00:00"
    assert instance.title.startswith("滅失：")


@pytest.mark.parametrize("username,contract", [("watanabe", "kai"), ("takahashi", "kai"), ("suzuki", "zei")])
def test_city_staff_can_report_too_and_the_contractor_is_still_asked_for_the_actions(world, username, contract):
    instance = report(world, username, getattr(world, contract))
    assert instance.requester_id == world.users[username].id
    approver = "watanabe" if contract == "kai" else "tanaka"
    act(instance, "triage", world.users[approver], severity="medium", instructions="原因を調査し報告すること")
    task = open_task(instance.id)
    assert (task.spec_id, task.lane) == ("action_report", "contractor_staff")
    contractors = {"kai": [mail("ito")], "zei": [mail("kobayashi"), mail("sato")]}[contract]
    assert [m for m in recipients("task_created") if m in contractors] == contractors


@pytest.mark.parametrize("username,contract", [("kobayashi", "kai"), ("kato", "kai"), ("nakamura", "zei")])
def test_people_without_a_reporting_role_on_the_contract_cannot_report(world, username, contract):
    with pytest.raises(engine.NotFound):
        engine.start("incident_response", getattr(world, contract), report_data(), world.users[username])
    db.session.rollback()


@pytest.mark.parametrize(("overrides", "field"), [
    ({"kind": None}, "kind"),
    ({"found_at": None}, "found_at"),
    ({"summary": None}, "summary"),
    ({"summary": ""}, "summary"),
    ({"summary": "x" * 401}, "summary"),
    ({"kind": "theft"}, "kind"),
    ({"found_at": "昨日の夕方"}, "found_at"),
    ({"found_at": "2026-12-32T10:00"}, "found_at"),
    ({"people_affected": -1}, "people_affected"),
    ({"people_affected": "many"}, "people_affected"),
])
def test_bad_reports_are_refused_field_by_field_and_nothing_is_saved(world, overrides, field):
    with pytest.raises(FormInvalid) as refused:
        engine.start("incident_response", world.kai, report_data(**overrides), world.users["ito"])
    db.session.rollback()
    assert field in refused.value.errors
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ProcessInstance)) == 0


def test_assets_of_another_contract_are_refused(world):
    with pytest.raises(FormInvalid) as refused:
        engine.start("incident_response", world.kai, report_data(assets=world.asset_ids(world.zei, "A-001")),
                     world.users["ito"])
    db.session.rollback()
    assert "assets" in refused.value.errors


def test_a_time_found_in_the_future_is_refused_and_nothing_is_saved(world):
    with pytest.raises(FormInvalid) as refused:
        engine.start("incident_response", world.kai, report_data(found_at="2026-12-02T10:01"), world.users["ito"])
    db.session.rollback()
    assert list(refused.value.errors) == ["found_at"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ProcessInstance)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Incident)) == 0


def test_an_incident_found_this_very_minute_can_be_reported(world):
    instance = report(world, found_at="2026-12-02T10:00")
    assert incident(instance).found_at == incident(instance).reported_at == DEFAULT_NOW


# --- triage and routing by severity -------------------------------------------------------------

@pytest.mark.parametrize("severity", ["low", "medium"])
def test_low_and_medium_severity_go_straight_to_the_contractor(world, clock, severity):
    instance = report(world)
    clock.advance(minutes=30)
    act(instance, "triage", world.users["watanabe"], severity=severity, instructions="削除依頼と影響調査")
    row = incident(instance)
    assert (row.severity, row.instructions, row.triaged_at) == (severity, "削除依頼と影響調査", clock.now)
    task = open_task(instance.id)
    assert (task.spec_id, task.lane) == ("action_report", "contractor_staff")
    assert task.due_at == clock.now + 24 * HOUR
    assert db.session.scalar(sa.select(sa.func.count()).select_from(HumanTask).where(
        HumanTask.instance_id == instance.id, HumanTask.spec_id == "policy_review")) == 0


@pytest.mark.parametrize("severity", ["high", "critical"])
def test_high_severity_goes_to_the_information_policy_division_before_the_contractor(world, clock, severity):
    instance = report(world)
    act(instance, "triage", world.users["watanabe"], severity=severity, instructions="直ちに送信先へ削除依頼")
    task = open_task(instance.id)
    assert (task.spec_id, task.lane) == ("policy_review", "security_officer")
    assert task.due_at == DEFAULT_NOW + 2 * HOUR
    assert mail("takahashi") in recipients("task_created")
    # The division's task is not the department's to complete.
    with pytest.raises(engine.NotAllowed):
        engine.complete(task.id, {"advice": "x"}, world.users["watanabe"])
    db.session.rollback()
    clock.advance(hours=1)
    act(instance, "policy_review", world.users["takahashi"], advice="個人情報保護委員会へ速報すること")
    assert incident(instance).policy_advice == "個人情報保護委員会へ速報すること"
    task = open_task(instance.id)
    assert task.spec_id == "action_report" and task.due_at == clock.now + 24 * HOUR


def test_triage_needs_a_severity_and_instructions(world):
    instance = report(world)
    task = open_task(instance.id, "triage")
    with pytest.raises(FormInvalid) as refused:
        engine.complete(task.id, {"severity": "urgent"}, world.users["watanabe"])
    db.session.rollback()
    assert set(refused.value.errors) == {"severity", "instructions"}
    assert incident(instance).severity is None


def test_the_contractor_cannot_triage_their_own_report(world):
    instance = report(world)
    with pytest.raises(engine.NotAllowed):
        engine.complete(open_task(instance.id, "triage").id, {"severity": "low", "instructions": "x"},
                        world.users["ito"])
    db.session.rollback()


# --- actions, asking for more, closure ---------------------------------------------------------

def test_low_severity_incident_is_closed_with_a_numbered_record_of_the_finding(world):
    instance = report(world)
    act(instance, "triage", world.users["watanabe"], severity="low", instructions="削除依頼")
    act(instance, "action_report", world.users["ito"],
             **actions(people_affected=12, containment="送信先で削除済み", assets=world.asset_ids(world.kai, "B-001"),
                       cause_analysis="宛先の選択誤り"))
    row = incident(instance)
    assert (row.people_affected, row.containment, row.asset_ids) == \
        (12, "送信先で削除済み", world.asset_ids(world.kai, "B-001"))
    assert row.actions_taken.startswith("誤送信先に削除を依頼")
    closure = open_task(instance.id)
    assert (closure.spec_id, closure.lane) == ("closure", "city_approver")
    act(instance, "closure", world.users["watanabe"], **closing())
    db.session.refresh(instance)
    assert (instance.status, instance.outcome, instance.next_timer_at) == ("completed", "closed", None)
    decision = db.session.scalar(sa.select(Decision).where(Decision.instance_id == instance.id))
    assert decision.number == "木情第2026-00001号" and decision.decided_by_id == world.users["watanabe"].id
    assert decision.content["decision"]["cause"] == "宛先の確認手順がなかった"
    row = incident(instance)
    assert (row.cause, row.impact, row.recurrence_prevention) == \
        ("宛先の確認手順がなかった", "被保険者12名の氏名・被保険者番号", "送信前の二者確認を義務化")
    assert (row.damage, row.damage_amount, row.claim_decision) == (False, None, None)
    assert (row.closed_at, row.closure_decision_number) == (DEFAULT_NOW, "木情第2026-00001号")
    assert recipients("incident_closed") == [mail("ito")]
    assert open_task(instance.id) is None


def test_the_city_asks_for_more_then_closes_with_a_damage_claim(world):
    instance = report(world)
    act(instance, "triage", world.users["watanabe"], severity="medium", instructions="原因を報告")
    first = act(instance, "action_report", world.users["ito"], **actions())
    task = open_task(instance.id, "closure")
    with pytest.raises(FormInvalid) as refused:  # asking for more needs a comment for the contractor
        engine.complete(task.id, {"decision": "send_back"}, world.users["watanabe"])
    db.session.rollback()
    assert "comment" in refused.value.errors
    act(instance, "closure", world.users["watanabe"], decision="send_back", comment="原因と再発防止策を報告してください")
    again = open_task(instance.id)
    assert (again.spec_id, again.lane) == ("action_report", "contractor_staff") and again.id != first.id
    act(instance, "action_report", world.users["ito"],
             **actions(actions_taken="全職員に送信前確認を周知した", cause_analysis="アドレス帳の自動補完",
                       prevention_proposal="自動補完の無効化"))
    assert incident(instance).actions_taken == "全職員に送信前確認を周知した"
    act(instance, "closure", world.users["watanabe"],
             **closing(damage="yes", damage_amount=1_500_000, claim_decision="claim"))
    numbers = db.session.scalars(sa.select(Decision).where(Decision.instance_id == instance.id)
                                 .order_by(Decision.id)).all()
    assert [d.outcome for d in numbers] == ["send_back", "approve"]
    row = incident(instance)
    assert (row.damage, row.damage_amount, row.claim_decision) == (True, 1_500_000, "claim")
    assert row.closure_decision_number == numbers[1].number == "木情第2026-00002号"


@pytest.mark.parametrize(("data", "fields"), [
    ({"decision": "approve"}, {"cause", "impact", "recurrence_prevention", "damage"}),
    (closing(cause=""), {"cause"}),
    (closing(damage="yes"), {"damage_amount", "claim_decision"}),
    (closing(damage="yes", damage_amount=-5, claim_decision="claim"), {"damage_amount"}),
    (closing(damage="maybe"), {"damage"}),
    ({"decision": "reject", "comment": "x"}, {"decision"}),
])
def test_closure_requires_the_finding_and_the_damage_assessment(world, data, fields):
    instance = report(world)
    act(instance, "triage", world.users["watanabe"], severity="low", instructions="削除依頼")
    act(instance, "action_report", world.users["ito"], **actions())
    with pytest.raises(FormInvalid) as refused:
        engine.complete(open_task(instance.id, "closure").id, data, world.users["watanabe"])
    db.session.rollback()
    assert set(refused.value.errors) == fields
    assert incident(instance).closed_at is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Decision)) == 0


def test_the_contractor_must_say_what_was_done(world):
    instance = report(world)
    act(instance, "triage", world.users["watanabe"], severity="low", instructions="削除依頼")
    with pytest.raises(FormInvalid) as refused:
        engine.complete(open_task(instance.id, "action_report").id, {"containment": "x"}, world.users["ito"])
    db.session.rollback()
    assert "actions_taken" in refused.value.errors


# --- deadlines in hours, reminders and escalation -----------------------------------------------

def fire_at(clock, moment) -> int:
    clock.set(moment)
    return worker.run_once()["timers"]


def candidates(task: HumanTask) -> list[int]:
    return list(db.session.scalars(sa.select(TaskCandidate.user_id).where(TaskCandidate.human_task_id == task.id)
                                   .order_by(TaskCandidate.user_id)))


def test_overdue_triage_reminds_then_escalates_to_the_section_chief_then_the_policy_division(world, clock):
    instance = report(world, "kobayashi", world.zei)
    task = open_task(instance.id, "triage")
    assert fire_at(clock, task.due_at - timedelta(minutes=1)) == 0
    assert recipients("task_overdue") == []
    # 12:00 JST, two hours after the report: the approvers are reminded.
    assert fire_at(clock, task.due_at + timedelta(seconds=1)) == 1
    assert recipients("task_overdue") == [mail("tanaka")]
    db.session.refresh(task)
    assert (task.status, task.escalation_level) == ("open", 0)
    db.session.refresh(instance)
    assert instance.next_timer_at == DEFAULT_NOW + 4 * HOUR
    # 14:00 JST: the section chief is added.
    assert fire_at(clock, instance.next_timer_at) == 1
    db.session.refresh(task)
    assert task.escalation_level == 1 and candidates(task) == [world.users["suzuki"].id]
    assert recipients("task_escalated") == [mail("suzuki")]
    # 16:00 JST: the information policy division is added too.
    db.session.refresh(instance)
    assert instance.next_timer_at == DEFAULT_NOW + 6 * HOUR
    assert fire_at(clock, instance.next_timer_at) == 1
    db.session.refresh(task)
    assert task.escalation_level == 2
    assert candidates(task) == sorted([world.users["suzuki"].id, world.users["takahashi"].id])
    assert recipients("task_escalated") == [mail("suzuki"), mail("takahashi")]
    # The division can now triage the department's incident; its own deadlines follow.
    act(instance, "triage", world.users["takahashi"], severity="high", instructions="直ちに遮断")
    assert open_task(instance.id).spec_id == "policy_review"
    assert worker.run_once()["timers"] == 0


def test_overdue_closure_reminds_then_escalates_over_three_days(world, clock):
    instance = report(world, "kobayashi", world.zei)
    act(instance, "triage", world.users["tanaka"], severity="low", instructions="削除依頼")
    act(instance, "action_report", world.users["kobayashi"], **actions())
    task = open_task(instance.id, "closure")
    assert task.due_at == DEFAULT_NOW + 24 * HOUR
    assert fire_at(clock, DEFAULT_NOW + 24 * HOUR) == 1
    assert recipients("task_overdue") == [mail("tanaka")]
    assert fire_at(clock, DEFAULT_NOW + 48 * HOUR) == 1
    assert fire_at(clock, DEFAULT_NOW + 72 * HOUR) == 1
    db.session.refresh(task)
    assert task.escalation_level == 2
    assert recipients("task_escalated") == [mail("suzuki"), mail("takahashi")]
    act(instance, "closure", world.users["suzuki"], **closing())
    db.session.refresh(instance)
    assert instance.status == "completed" and instance.next_timer_at is None


def test_an_overdue_action_report_and_policy_review_remind_their_own_people(world, clock):
    instance = report(world)
    act(instance, "triage", world.users["watanabe"], severity="critical", instructions="遮断")
    assert fire_at(clock, DEFAULT_NOW + 2 * HOUR) == 1
    assert recipients("task_overdue") == [mail("takahashi")]
    act(instance, "policy_review", world.users["takahashi"], advice="公表を検討")
    task = open_task(instance.id, "action_report")
    assert fire_at(clock, task.due_at) == 1
    assert recipients("task_overdue") == [mail("ito"), mail("takahashi")]
    db.session.refresh(task)
    assert task.status == "open"


# --- the demo sample ----------------------------------------------------------------------------

def test_the_demo_sample_is_a_high_incident_waiting_for_the_contractor_and_loads_once(world):
    from webapp.demo import DemoWorld
    from webapp.demo_flows import incident_response

    incident_response.load(DemoWorld())
    incident_response.load(DemoWorld())
    db.session.commit()
    instances = db.session.scalars(sa.select(ProcessInstance).where(
        ProcessInstance.process_key == "incident_response")).all()
    assert len(instances) == 1
    instance = instances[0]
    assert (instance.contract_id, instance.requester_id) == (world.kai.id, world.users["ito"].id)
    row = incident(instance)
    assert row.severity == "high" and row.policy_advice and row.found_at < DEFAULT_NOW
    assert open_task(instance.id).spec_id == "action_report"


# --- the drawing --------------------------------------------------------------------------------

def test_every_element_of_the_diagram_is_drawn_so_bpmn_js_can_show_it():
    from pathlib import Path

    from lxml import etree

    ns = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
          "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI"}
    root = etree.parse(str(Path(__file__).parents[2] / "processes" / "incident_response.bpmn")).getroot()
    semantic = {e.get("id") for e in root.xpath(
        "//bpmn:process/*[not(self::bpmn:extensionElements) and not(self::bpmn:laneSet)]"
        " | //bpmn:lane | //bpmn:participant", namespaces=ns)}
    drawn = set(root.xpath("//bpmndi:BPMNShape/@bpmnElement | //bpmndi:BPMNEdge/@bpmnElement", namespaces=ns))
    assert semantic == drawn
    lanes = root.xpath("//bpmn:lane/@name", namespaces=ns)
    assert lanes == ["contractor_staff", "city_approver", "security_officer"]
