"""Every path through device_connection.bpmn (Art. 12), driven through the engine verbs the views use.

Paths: city rejects · city sends back → resubmission · bring-in only → pre-use check →
register → withdrawal reported | validity ends (expiry timer) · connection → security
officer approves | rejects | sends back · serial mismatch at the pre-use check → 中止 ·
validity ends before the pre-use check (lapse) · overdue approvals remind then escalate.
"""
from __future__ import annotations

import io
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import current_app

from tests.helpers import open_task
from tests.processes.flows import act, decisions, open_steps, outbox, remind_then_escalate
from webapp import access, accounts, engine, storage, worker
from webapp.engine import run, store
from webapp.engine.calendar import TOKYO
from webapp.extensions import db
from webapp.formschema import FormInvalid
from webapp.models import (
    Attachment,
    AuditEvent,
    Decision,
    HumanTask,
    OutboxMessage,
    ProcessInstance,
)
from webapp.models.devices import EXPIRED, PERMITTED, WITHDRAWN, Device

SERIAL = "PF3K7Q2A"
CONNECTED = {"connection": "network", "segment": "lgwan", "connection_target": "サーバ室 保守用LANポート"}
# The end of the permission period (valid_until 2026-12-25) in Japan.
PERIOD_END = datetime(2026, 12, 25, 23, 59, 59, tzinfo=TOKYO)


def evidence(user, name: str = "ウイルス検査結果.pdf") -> int:
    attachment = storage.store(io.BytesIO(b"%PDF-1.4\n% scan report\n"), name, user, "evidence")
    db.session.flush()
    return attachment.id


def request_data(**overrides):
    data = {
        "kind": "computer", "model": "ThinkPad X1 Carbon Gen 12", "serial": SERIAL, "owner": "房総データ株式会社",
        "purpose": "介護保険システムの障害調査のため、保守用PCをサーバ室で使用する。", "place": "市役所本庁舎 3階 サーバ室",
        "valid_from": "2026-12-03", "valid_until": "2026-12-25", "connection": "none", "segment": "none",
        "scan_date": "2026-12-01", "scan_result": "clean", "encrypted": True,
        "os_patch_level": "Windows 11 Pro 24H2（2026年11月の累積更新適用済み）", "no_unauthorised_software": True,
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def start(world, requester="ito", **overrides) -> ProcessInstance:
    user = world.users[requester] if isinstance(requester, str) else requester
    data = request_data(**overrides)
    if "evidence" not in overrides:
        data["evidence"] = [evidence(user)]
    instance = engine.start("device_connection", world.kai, data, user)
    db.session.commit()
    return instance


def confirm(instance, world, serial: str = SERIAL) -> HumanTask:
    return act(instance, "confirm_check", world.users["ito"], serial_confirmation=serial, checked_on="2026-12-03",
               check_done=True, check_notes="持込み当日に再検査")


def permitted(world, **overrides) -> ProcessInstance:
    """A request the city (and, if it connects, the information policy division) permitted."""
    instance = start(world, **overrides)
    act(instance, "approve", world.users["watanabe"], decision="approve")
    if open_task(instance.id, "security_review"):
        act(instance, "security_review", world.users["takahashi"], decision="approve", conditions="作業後は速やかに切断")
    return instance


def decided(instance) -> list[tuple[str, str, int]]:
    """(task title, outcome, request version) of each decision, to compare whole histories at once."""
    return [(d.task_title, d.outcome, d.request_version) for d in decisions(instance)]


def device_of(instance) -> Device | None:
    return db.session.scalar(sa.select(Device).where(Device.instance_id == instance.id))


def reached(instance) -> list[str]:
    """BPMN ids the instance has completed, in order (to name the end event a path ended at)."""
    db.session.refresh(instance)
    definition = instance.definition
    spec, subprocess_specs = store.specs_for(definition.sha256, definition.bpmn, definition.key,
                                             current_app.config["BPMN_MAX_BYTES"])
    return run.completed_steps(store.loads(instance.state, spec, subprocess_specs))


# --- filing ---------------------------------------------------------------------------------

def test_a_request_waits_for_the_city_approver_with_a_deadline(world):
    instance = start(world)
    task = open_task(instance.id)
    assert task.spec_id == "approve" and task.lane == "city_approver"
    assert instance.reference.startswith("DEV-2026-")
    assert instance.title == "PC：ThinkPad X1 Carbon Gen 12（PF3K7Q2A）"
    # Filed Wednesday 2 December 2026 10:00 JST: due Monday 7 December 17:15 JST.
    assert task.due_at.isoformat() == "2026-12-07T08:15:00+00:00"
    assert outbox("task_created") == ["watanabe@demo.shodaku.example"]
    files = db.session.scalars(sa.select(Attachment.filename).where(Attachment.instance_id == instance.id)).all()
    assert files == ["ウイルス検査結果.pdf"]


def test_a_contractor_cannot_file_on_another_contract(world):
    with pytest.raises(engine.NotFound):
        start(world, requester="kobayashi")
    db.session.rollback()


# --- bring-in only ----------------------------------------------------------------------------

def test_bring_in_only_needs_the_city_alone_then_check_register_and_withdrawal(world):
    instance = start(world)
    act(instance, "approve", world.users["watanabe"], decision="approve", conditions="サーバ室内でのみ使用すること")
    assert decided(instance) == [("市の持込み許可審査", "approve", 1)]
    # No connection: the information policy division is not asked; the contractor confirms the check.
    check = open_task(instance.id)
    assert check.spec_id == "confirm_check" and check.lane == "contractor_staff"
    assert check.assignee_id is None
    assert outbox("device_permitted") == ["ito@demo.shodaku.example"]
    assert device_of(instance) is None  # nothing is registered before the pre-use check
    db.session.refresh(instance)
    assert instance.next_timer_at == PERIOD_END  # the permission lapses unused at the end of its period

    # The serial is compared as read off the device: case and surrounding spaces do not matter.
    confirm(instance, world, serial="pf3k7q2a ")
    device = device_of(instance)
    number = db.session.scalar(sa.select(Decision.number).where(Decision.instance_id == instance.id))
    assert (device.status, device.serial, device.kind, device.connection, device.segment) == \
        (PERMITTED, SERIAL, "computer", "none", "none")
    assert device.city_decision_number == number and device.security_decision_number is None
    assert (device.valid_from.isoformat(), device.valid_until.isoformat()) == ("2026-12-03", "2026-12-25")
    assert device.checked_on.isoformat() == "2026-12-03" and device.checked_by_id == world.users["ito"].id
    assert device.contract_id == world.kai.id and device.place == "市役所本庁舎 3階 サーバ室"
    assert open_steps(instance) == ["report_withdrawal"]

    act(instance, "report_withdrawal", world.users["ito"], withdrawn_on="2026-12-10", disconnected=True)
    db.session.refresh(device)
    assert device.status == WITHDRAWN and device.withdrawn_on.isoformat() == "2026-12-10"
    assert device.ended_at is not None
    db.session.refresh(instance)
    assert instance.status == "completed" and instance.outcome == "withdrawn" and instance.next_timer_at is None
    assert reached(instance)[-1] == "end_withdrawn"
    assert open_steps(instance) == []


def test_a_storage_medium_needs_no_os_patch_level(world):
    instance = start(world, kind="storage_media", model="暗号化USBメモリ 32GB", serial="KZ-USB-0042",
                     os_patch_level=None)
    assert open_task(instance.id).spec_id == "approve"
    assert instance.title == "外部記録媒体：暗号化USBメモリ 32GB（KZ-USB-0042）"


# --- connection: the information policy division's written permission -----------------------------

def test_connecting_needs_the_security_officers_written_permission_too(world):
    instance = start(world, **CONNECTED)
    assert instance.title.endswith("・ネットワーク接続")
    act(instance, "approve", world.users["watanabe"], decision="approve")
    review = open_task(instance.id)
    assert review.spec_id == "security_review" and review.lane == "security_officer"
    # Approved Wednesday 2 December: due three business days later like the city's step.
    assert review.due_at.isoformat() == "2026-12-07T08:15:00+00:00"
    assert outbox("task_created")[-1] == "takahashi@demo.shodaku.example"
    assert outbox("device_permitted") == []  # not yet: the connection is not permitted

    act(instance, "security_review", world.users["takahashi"], decision="approve", conditions="作業後は直ちに切断")
    assert decided(instance) == [("市の持込み許可審査", "approve", 1), ("情報政策課の接続許可審査", "approve", 1)]
    assert outbox("device_permitted") == ["ito@demo.shodaku.example"]
    confirm(instance, world)
    device = device_of(instance)
    city, security = db.session.scalars(sa.select(Decision.number).where(Decision.instance_id == instance.id)
                                        .order_by(Decision.id)).all()
    assert (city, security) == ("木情第2026-00001号", "木情第2026-00002号")
    assert (device.city_decision_number, device.security_decision_number) == (city, security)
    assert (device.connection, device.segment, device.connection_target) == ("network", "lgwan", "サーバ室 保守用LANポート")
    assert device.status == PERMITTED


@pytest.mark.parametrize(("connection", "segment", "reviewed"), [
    ("none", "none", False),
    ("terminal", "internet", True),  # connecting at all needs it
    ("terminal", "mynumber", True),
    ("network", "lgwan", True),
])
def test_who_gives_permission_depends_on_the_connection(world, connection, segment, reviewed):
    target = {"connection_target": "介護保険課 業務端末 KZ-PC-118"} if connection != "none" else {}
    instance = start(world, connection=connection, segment=segment, **target)
    act(instance, "approve", world.users["watanabe"], decision="approve")
    assert open_steps(instance) == (["security_review"] if reviewed else ["confirm_check"])


def test_the_security_officer_rejecting_ends_the_request_without_a_device(world):
    instance = start(world, **CONNECTED)
    act(instance, "approve", world.users["watanabe"], decision="approve")
    task = open_task(instance.id, "security_review")
    with pytest.raises(FormInvalid) as refused:
        engine.complete(task.id, {"decision": "reject"}, world.users["takahashi"])
    db.session.rollback()
    assert "comment" in refused.value.errors
    act(instance, "security_review", world.users["takahashi"], decision="reject",
        comment="LGWAN接続系への私物・社用PCの直接接続は認められません。")
    db.session.refresh(instance)
    assert instance.status == "completed" and instance.outcome == "reject"
    assert reached(instance)[-1] == "end_security_rejected"
    assert outbox("request_rejected") == ["ito@demo.shodaku.example"]
    assert outbox("device_permitted") == [] and device_of(instance) is None
    assert open_steps(instance) == []


def test_the_security_officer_sending_back_returns_to_the_request(world):
    instance = start(world, **CONNECTED)
    act(instance, "approve", world.users["watanabe"], decision="approve")
    act(instance, "security_review", world.users["takahashi"], decision="send_back",
        comment="接続せずに作業できないか検討してください。")
    back = open_task(instance.id)
    assert back.spec_id == "request" and back.assignee_id == world.users["ito"].id
    # Resubmitted without any connection (old connection fields must not linger): the city decides
    # again on version 2, and no connection permission is asked for.
    files = instance.request_data["evidence"]
    engine.complete(back.id, request_data(evidence=files), world.users["ito"])
    db.session.commit()
    db.session.refresh(instance)
    assert instance.request_version == 2 and instance.request_data["connection"] == "none"
    assert "connection_target" not in instance.request_data
    assert open_steps(instance) == ["approve"]
    act(instance, "approve", world.users["watanabe"], decision="approve")
    assert open_steps(instance) == ["confirm_check"]
    assert decided(instance) == [("市の持込み許可審査", "approve", 1), ("情報政策課の接続許可審査", "send_back", 1),
                                   ("市の持込み許可審査", "approve", 2)]
    confirm(instance, world)
    device = device_of(instance)
    latest = db.session.scalar(sa.select(Decision.number).where(Decision.instance_id == instance.id)
                               .order_by(Decision.id.desc()).limit(1))
    assert device.city_decision_number == latest and device.security_decision_number is None
    assert (device.connection, device.segment, device.connection_target) == ("none", "none", "")


# --- the city's decision --------------------------------------------------------------------

def test_the_city_rejecting_needs_a_reason_and_ends_the_request(world):
    instance = start(world, **CONNECTED)
    task = open_task(instance.id, "approve")
    with pytest.raises(FormInvalid) as refused:
        engine.complete(task.id, {"decision": "reject"}, world.users["watanabe"])
    db.session.rollback()
    assert "comment" in refused.value.errors
    act(instance, "approve", world.users["watanabe"], decision="reject", comment="作業は庁内端末で行えます。")
    db.session.refresh(instance)
    assert instance.status == "completed" and instance.outcome == "reject"
    assert reached(instance)[-1] == "end_rejected"
    assert "security_review" not in reached(instance)  # a refused bring-in is never sent on for connection
    assert outbox("request_rejected") == ["ito@demo.shodaku.example"]
    assert device_of(instance) is None and open_steps(instance) == []


def test_the_city_sending_back_returns_to_the_requester_and_resubmission_returns_to_the_city(world):
    instance = start(world)
    act(instance, "approve", world.users["watanabe"], decision="send_back", comment="持込み期間を作業日に限定してください。")
    back = open_task(instance.id)
    assert back.spec_id == "request" and back.assignee_id == world.users["ito"].id
    engine.complete(back.id, request_data(valid_until="2026-12-04", evidence=instance.request_data["evidence"]),
                    world.users["ito"])
    db.session.commit()
    db.session.refresh(instance)
    assert instance.request_version == 2 and instance.request_data["valid_until"] == "2026-12-04"
    again = open_task(instance.id)
    assert again.spec_id == "approve" and again.id != back.id
    act(instance, "approve", world.users["watanabe"], decision="approve")
    assert [(o, v) for _, o, v in decided(instance)] == [("send_back", 1), ("approve", 2)]
    confirm(instance, world)
    assert device_of(instance).valid_until.isoformat() == "2026-12-04"
    db.session.refresh(instance)
    # The withdrawal report is due by the end of the corrected period.
    assert instance.next_timer_at == datetime(2026, 12, 4, 23, 59, 59, tzinfo=TOKYO)


# --- four eyes --------------------------------------------------------------------------------

def test_the_requester_may_not_grant_their_own_bring_in_permission(world):
    both = accounts.create_user("dual", "二役 太郎", "Two-roles-2026x",
                                roles=["contractor_staff@contract:R8-KAI-0034", "city_approver@contract:R8-KAI-0034"])
    db.session.commit()
    instance = start(world, requester=both)
    task = open_task(instance.id, "approve")
    with pytest.raises(engine.RuleViolation):
        engine.complete(task.id, {"decision": "approve"}, both)
    db.session.rollback()
    assert open_task(instance.id).id == task.id and decided(instance) == []


def test_the_requester_may_not_grant_their_own_connection_permission(world):
    both = accounts.create_user("dual", "二役 花子", "Two-roles-2026x",
                                roles=["contractor_staff@contract:R8-KAI-0034", "security_officer"])
    db.session.commit()
    instance = start(world, requester=both, **CONNECTED)
    act(instance, "approve", world.users["watanabe"], decision="approve")
    task = open_task(instance.id, "security_review")
    with pytest.raises(engine.RuleViolation):
        engine.complete(task.id, {"decision": "approve"}, both)
    db.session.rollback()
    assert open_task(instance.id).id == task.id and len(decided(instance)) == 1


# --- the pre-use check --------------------------------------------------------------------------

def test_a_serial_that_does_not_match_stops_the_request_and_registers_nothing(world):
    instance = permitted(world, **CONNECTED)
    confirm(instance, world, serial="PF3K7Q2B")
    db.session.refresh(instance)
    assert instance.status == "completed" and instance.next_timer_at is None
    assert instance.outcome == "stopped"  # not "approve": the end event says how it ended
    assert reached(instance)[-2:] == ["stop_request", "end_stopped"]
    assert device_of(instance) is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Device)) == 0
    stop = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.instance_id == instance.id,
                                                         AuditEvent.action == "device_request_stopped"))
    assert stop.detail == {"reason": "使用前確認で入力されたシリアル番号が許可された機器と一致しない",
                           "entered_serial": "PF3K7Q2B", "permitted_serial": SERIAL}
    assert outbox("device_stopped") == ["ito@demo.shodaku.example"]
    assert open_steps(instance) == []


@pytest.mark.parametrize(("data", "field"), [
    ({"serial_confirmation": ""}, "serial_confirmation"),
    ({"serial_confirmation": "PF3K7Q2A！"}, "serial_confirmation"),  # not a serial at all: asked again
    ({"serial_confirmation": "-PF3K7Q2A"}, "serial_confirmation"),
    ({"check_done": False}, "check_done"),
    ({"checked_on": "3 December"}, "checked_on"),
])
def test_a_malformed_confirmation_is_refused_field_by_field_and_nothing_is_saved(world, data, field):
    instance = permitted(world)
    task = open_task(instance.id, "confirm_check")
    form = {"serial_confirmation": SERIAL, "checked_on": "2026-12-03", "check_done": True, **data}
    with pytest.raises(FormInvalid) as refused:
        engine.complete(task.id, form, world.users["ito"])
    db.session.rollback()
    assert field in refused.value.errors
    assert open_task(instance.id).id == task.id and device_of(instance) is None


def test_the_city_approver_cannot_confirm_the_contractors_check(world):
    instance = permitted(world)
    task = open_task(instance.id, "confirm_check")
    with pytest.raises(engine.NotAllowed):
        engine.complete(task.id, {"serial_confirmation": SERIAL, "checked_on": "2026-12-03", "check_done": True},
                        world.users["watanabe"])
    db.session.rollback()


def test_a_permission_not_used_before_its_period_ends_lapses(world, clock):
    instance = permitted(world, **CONNECTED)
    check = open_task(instance.id, "confirm_check")
    clock.set(PERIOD_END - timedelta(seconds=1))
    assert worker.run_once()["timers"] == 0
    clock.set(PERIOD_END + timedelta(seconds=1))
    assert worker.run_once()["timers"] == 1
    db.session.refresh(check)
    db.session.refresh(instance)
    assert check.status == "cancelled" and instance.status == "completed" and instance.outcome == "lapsed"
    assert reached(instance)[-1] == "end_lapsed"
    assert device_of(instance) is None
    assert outbox("device_lapsed") == ["ito@demo.shodaku.example"]
    assert db.session.scalar(sa.select(AuditEvent.action).where(
        AuditEvent.instance_id == instance.id, AuditEvent.action == "device_permission_lapsed")) is not None


# --- after registration -----------------------------------------------------------------------------

def test_the_permission_expires_at_the_end_of_its_period_by_the_worker(world, clock):
    instance = permitted(world, **CONNECTED)
    confirm(instance, world)
    report = open_task(instance.id, "report_withdrawal")
    db.session.refresh(instance)
    assert instance.next_timer_at == PERIOD_END
    # The last day itself is still inside the period.
    clock.set(PERIOD_END - timedelta(minutes=1))
    assert worker.run_once()["timers"] == 0
    assert device_of(instance).status == PERMITTED
    clock.set(PERIOD_END + timedelta(seconds=1))
    assert worker.run_once()["timers"] == 1
    device = device_of(instance)
    db.session.refresh(device)
    db.session.refresh(report)
    db.session.refresh(instance)
    assert device.status == EXPIRED and device.ended_at is not None and device.withdrawn_on is None
    assert report.status == "cancelled"  # the interrupting timer took the report away
    assert instance.status == "completed" and instance.next_timer_at is None and instance.outcome == "expired"
    assert reached(instance)[-2:] == ["mark_expired", "end_expired"]
    assert outbox("device_expired") == ["ito@demo.shodaku.example"]
    mail = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.kind == "device_expired"))
    assert instance.reference in mail.subject and "2026-12-03 – 2026-12-25" in mail.body
    assert f"/records/{instance.id}" in mail.body
    assert worker.run_once()["timers"] == 0


def test_a_withdrawal_report_must_confirm_the_disconnection(world):
    instance = permitted(world)
    confirm(instance, world)
    task = open_task(instance.id, "report_withdrawal")
    with pytest.raises(FormInvalid) as refused:
        engine.complete(task.id, {"withdrawn_on": "2026-12-10", "disconnected": False}, world.users["ito"])
    db.session.rollback()
    assert "disconnected" in refused.value.errors
    assert device_of(instance).status == PERMITTED


# --- deadlines on the permission steps ------------------------------------------------------------------

@pytest.fixture
def kaigo_chief(world):
    chief = accounts.create_user("kimura", "木村 課長", "Section-chief-2026x", email="kimura@demo.shodaku.example",
                                 roles=["city_supervisor@dept:D-KAIGO"])
    db.session.commit()
    return chief


def test_an_overdue_bring_in_decision_reminds_then_escalates(world, clock, kaigo_chief):
    instance = start(world)
    task = open_task(instance.id, "approve")
    # Wednesday 9 December 17:15 JST: two business days after the deadline.
    remind_then_escalate(instance, task, clock, reminded=["watanabe@demo.shodaku.example"],
                         escalates_at="2026-12-09T08:15:00+00:00", escalated_to=[kaigo_chief])
    # The section chief can now decide; the flow goes on as if the approver had.
    act(instance, "approve", kaigo_chief, decision="approve")
    assert open_steps(instance) == ["confirm_check"]


def test_an_overdue_connection_decision_escalates_within_the_policy_division(world, clock, kaigo_chief):
    """The division's written permission is never handed to a department chief (Art. 12(3))."""
    instance = start(world, **CONNECTED)
    act(instance, "approve", world.users["watanabe"], decision="approve")
    task = open_task(instance.id, "security_review")
    remind_then_escalate(instance, task, clock, reminded=["takahashi@demo.shodaku.example"],
                         escalates_at="2026-12-09T08:15:00+00:00", escalated_to=[world.users["morita"]])
    with pytest.raises(engine.NotAllowed):
        engine.complete(task.id, {"decision": "approve"}, kaigo_chief)
    db.session.rollback()
    act(instance, "security_review", world.users["morita"], decision="approve")
    assert open_steps(instance) == ["confirm_check"]


# --- bad requests ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("overrides", "field"), [
    ({"evidence": []}, "evidence"),
    ({"evidence": None}, "evidence"),
    ({"valid_from": "2026-12-10", "valid_until": "2026-12-09"}, "valid_until"),  # ends before it starts
    ({"valid_from": "2026-12-01"}, "valid_from"),  # before "today" (2 December 2026)
    ({"valid_until": "2028-04-01"}, "valid_until"),  # after the contract ends
    ({"valid_from": "12/3"}, "valid_from"),
    ({"serial": ""}, "serial"),
    ({"serial": "ＰＦ３"}, "serial"),  # full-width: the pre-use check could never match it reliably
    ({"scan_result": "detected"}, "scan_result"),
    ({"scan_date": None}, "scan_date"),
    ({"encrypted": False}, "encrypted"),
    ({"no_unauthorised_software": False}, "no_unauthorised_software"),
    ({"os_patch_level": None}, "os_patch_level"),  # a computer must say how it is patched
    ({"segment": "lgwan"}, "segment"),  # a sensitive segment but "no connection": contradictory
    ({"connection": "network"}, "segment"),  # connecting needs a segment
    ({"connection": "network", "segment": "lgwan"}, "connection_target"),
    ({"kind": "smartphone"}, "kind"),
    ({"purpose": "x" * 2001}, "purpose"),
])
def test_bad_requests_are_refused_field_by_field_and_nothing_is_saved(world, overrides, field):
    with pytest.raises(FormInvalid) as refused:
        start(world, **overrides)
    db.session.rollback()
    assert field in refused.value.errors
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ProcessInstance)) == 0


def test_evidence_of_another_person_is_refused(world):
    foreign = evidence(world.users["kobayashi"])
    db.session.commit()
    with pytest.raises(FormInvalid) as refused:
        start(world, evidence=[foreign])
    db.session.rollback()
    assert "evidence" in refused.value.errors
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ProcessInstance)) == 0


# --- demo samples ----------------------------------------------------------------------------------

def test_the_demo_samples_load_in_realistic_states_and_only_once(world):
    from webapp import demo
    from webapp.demo_flows import device_connection

    device_connection.load(demo.DemoWorld())
    db.session.commit()
    device_connection.load(demo.DemoWorld())
    db.session.commit()
    instances = db.session.scalars(sa.select(ProcessInstance).where(ProcessInstance.process_key == "device_connection")
                                   .order_by(ProcessInstance.id)).all()
    assert [open_steps(i) for i in instances] == [["approve"], ["security_review"], ["report_withdrawal"]]
    assert all(i.contract_id == world.kai.id and i.requester_id == world.users["ito"].id for i in instances)
    waiting = open_task(instances[1].id)
    assert world.users["takahashi"] in access.candidates(waiting)
    devices = db.session.scalars(sa.select(Device)).all()
    assert [(d.instance_id, d.status, d.connection) for d in devices] == [(instances[2].id, PERMITTED, "terminal")]
    assert devices[0].security_decision_number is not None


# --- over HTTP, as people do it in the browser ------------------------------------------------------

def html_form(**overrides):
    """The request as a browser posts it: text values, ticked boxes as "true", unticked ones absent."""
    form = {k: ("true" if v is True else v) for k, v in request_data(**CONNECTED).items() if v is not False}
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}


def test_the_whole_journey_over_http(client, world):
    kai = world.kai
    client.login("ito")
    url = f"/requests/new/device_connection/{kai.id}"
    refused = client.submit(url, html_form(encrypted=None))  # box left unticked, no evidence attached
    assert refused.status_code == 400
    html = refused.get_data(as_text=True)
    assert 'id="f-encrypted-err"' in html and 'id="f-evidence-err"' in html and 'id="f-serial-err"' not in html
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ProcessInstance)) == 0
    filed = client.submit(url, {**html_form(), "evidence": (io.BytesIO(b"%PDF-1.4\n%%EOF\n"), "検査結果.pdf")})
    assert filed.status_code == 302, filed.get_data(as_text=True)[:2000]
    instance = db.session.scalar(sa.select(ProcessInstance))
    assert instance.request_data["encrypted"] is True and len(instance.request_data["evidence"]) == 1
    client.logout()

    for user, spec_id in (("watanabe", "approve"), ("takahashi", "security_review")):
        client.login(user)
        task = open_task(instance.id, spec_id)
        assert task.title in client.get("/").get_data(as_text=True)
        assert client.submit(f"/tasks/{task.id}", {"decision": "approve"}).status_code == 302
        client.logout()

    client.login("ito")
    task = open_task(instance.id, "confirm_check")
    wrong = client.submit(f"/tasks/{task.id}", {"serial_confirmation": "ＰＦ３Ｋ７Ｑ２Ａ", "checked_on": "2026-12-03",
                                                "check_done": "true"})
    assert wrong.status_code == 400 and device_of(instance) is None  # typed full-width: asked again, not stopped
    done = client.submit(f"/tasks/{task.id}", {"serial_confirmation": SERIAL, "checked_on": "2026-12-03",
                                               "check_done": "true"})
    assert done.status_code == 302
    assert device_of(instance).status == PERMITTED
    page = client.get(f"/records/{instance.id}")
    assert page.status_code == 200 and "撤去（持ち出し）の報告" in page.get_data(as_text=True)
