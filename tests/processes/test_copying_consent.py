"""Every path through copying_consent.bpmn, driven through the engine verbs the views use."""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from tests.helpers import open_task
from tests.processes.flows import act, outbox, remind_then_escalate
from webapp import accounts, engine, worker
from webapp.extensions import db
from webapp import formschema
from webapp.formschema import FormInvalid
from webapp.models import Asset, CopyRecord, Decision, ProcessInstance


def request_data(world, **overrides):
    data = {
        "kind": "copy", "assets": world.asset_ids(world.zei, "A-001"),
        "purpose": "検証環境での課税計算の確認", "copies": 2, "medium": "暗号化USBメモリ", "location": "サーバ室キャビネット",
        "handlers": ["user:kobayashi"], "destruction_due": "2027-03-01",
    }
    data.update(overrides)
    return data


def start(world, **overrides) -> ProcessInstance:
    instance = engine.start("copying_consent", world.zei, request_data(world, **overrides), world.users["kobayashi"])
    db.session.commit()
    return instance


def test_a_request_waits_for_the_city_approver_with_a_deadline(world, clock):
    instance = start(world)
    task = open_task(instance.id)
    assert task.spec_id == "approve" and task.lane == "city_approver"
    assert instance.reference.startswith("CPY-2026-")
    assert instance.title.startswith("複写・複製：")
    # Filed Wednesday 2 December 2026 10:00 JST: due three business days later, Monday 7 December 17:15 JST.
    assert task.due_at.isoformat() == "2026-12-07T08:15:00+00:00"
    # The approvers of the department hear of it; the contractor does not.
    assert set(outbox("task_created")) == {"tanaka@demo.shodaku.example"}


def test_approving_a_copy_records_a_numbered_consent_and_registers_the_copy(world):
    instance = start(world)
    act(instance, "approve", world.users["tanaka"], decision="approve", conditions="作業後に消去すること")
    db.session.refresh(instance)
    assert instance.status == "completed" and instance.outcome == "approve"
    decision = db.session.scalar(sa.select(Decision).where(Decision.instance_id == instance.id))
    assert decision.number == "木情第2026-00001号"
    assert decision.decided_by_id == world.users["tanaka"].id and decision.request_version == 1
    assert decision.content["request"]["purpose"] == "検証環境での課税計算の確認"
    record = db.session.scalar(sa.select(CopyRecord).where(CopyRecord.instance_id == instance.id))
    assert record.copies == 2 and record.decision_number == decision.number
    assert record.asset_ids == world.asset_ids(world.zei, "A-001")
    assert record.destruction_due.isoformat() == "2027-03-01"
    assert outbox("request_approved") == ["kobayashi@demo.shodaku.example"]
    assert open_task(instance.id) is None


def test_approving_another_kind_of_exception_registers_no_copy(world):
    instance = start(world, kind="other_purpose", copies=None, medium=None, location=None, destruction_due=None)
    act(instance, "approve", world.users["tanaka"], decision="approve")
    db.session.refresh(instance)
    assert instance.outcome == "approve"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CopyRecord)) == 0


def test_rejecting_needs_a_reason_and_ends_the_request(world):
    instance = start(world)
    task = open_task(instance.id, "approve")
    with pytest.raises(FormInvalid) as refused:
        engine.complete(task.id, {"decision": "reject"}, world.users["tanaka"])
    db.session.rollback()
    assert "comment" in refused.value.errors
    act(instance, "approve", world.users["tanaka"], decision="reject", comment="目的が契約の範囲外です。")
    db.session.refresh(instance)
    assert instance.status == "completed" and instance.outcome == "reject"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CopyRecord)) == 0
    assert outbox("request_rejected") == ["kobayashi@demo.shodaku.example"]


def test_send_back_returns_to_the_requester_and_resubmission_returns_to_the_approver(world):
    instance = start(world)
    act(instance, "approve", world.users["tanaka"], decision="send_back", comment="部数の根拠を書いてください。")
    back = open_task(instance.id)
    assert back.spec_id == "request" and back.assignee_id == world.users["kobayashi"].id
    engine.complete(back.id, request_data(world, copies=1, purpose="検証のため1部のみ複製"), world.users["kobayashi"])
    db.session.commit()
    db.session.refresh(instance)
    assert instance.request_version == 2 and instance.request_data["copies"] == 1
    again = open_task(instance.id)
    assert again.spec_id == "approve" and again.id != back.id
    act(instance, "approve", world.users["tanaka"], decision="approve")
    numbers = db.session.scalars(sa.select(Decision).where(Decision.instance_id == instance.id)
                                 .order_by(Decision.id)).all()
    assert [(d.outcome, d.request_version) for d in numbers] == [("send_back", 1), ("approve", 2)]
    assert numbers[1].content["request"]["copies"] == 1
    assert db.session.scalar(sa.select(CopyRecord.copies).where(CopyRecord.instance_id == instance.id)) == 1


def test_the_requester_may_not_approve_their_own_request(world):
    # A person holding both roles on the contract: four eyes must still hold.
    both = accounts.create_user("dual", "二役 太郎", "Two-roles-2026x",
                                roles=["contractor_staff@contract:R8-ZEI-0012", "city_approver@contract:R8-ZEI-0012"])
    db.session.commit()
    instance = engine.start("copying_consent", world.zei, request_data(world, handlers=["user:dual"]), both)
    db.session.commit()
    task = open_task(instance.id, "approve")
    with pytest.raises(engine.RuleViolation):
        engine.complete(task.id, {"decision": "approve"}, both)
    db.session.rollback()
    assert open_task(instance.id).id == task.id


@pytest.mark.parametrize(("overrides", "field"), [
    ({"copies": None}, "copies"),
    ({"medium": None}, "medium"),
    ({"destruction_due": "2026-11-30"}, "destruction_due"),  # before "today" (2 December 2026)
    ({"destruction_due": "2027-04-01"}, "destruction_due"),  # after the contract ends
    ({"destruction_due": "1 March"}, "destruction_due"),
    ({"destruction_due": "2027-13-01"}, "destruction_due"),
    ({"assets": []}, "assets"),
    ({"handlers": ["user:ito"]}, "handlers"),  # staff of another contract
    ({"kind": "steal"}, "kind"),
    ({"copies": 0}, "copies"),
    ({"purpose": "x" * 2001}, "purpose"),
    ({"kind": "external_computer", "computer": None}, "computer"),
])
def test_bad_requests_are_refused_field_by_field_and_nothing_is_saved(world, overrides, field):
    data = request_data(world, **overrides)
    data = {k: v for k, v in data.items() if v is not None}
    with pytest.raises(FormInvalid) as refused:
        engine.start("copying_consent", world.zei, data, world.users["kobayashi"])
    db.session.rollback()
    assert field in refused.value.errors
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ProcessInstance)) == 0


def test_a_destruction_date_after_the_contract_ends_is_refused(world):
    with pytest.raises(FormInvalid) as refused:
        engine.start("copying_consent", world.zei, request_data(world, destruction_due="2027-04-30"),
                     world.users["kobayashi"])
    db.session.rollback()
    assert "destruction_due" in refused.value.errors


def test_assets_of_another_contract_are_refused(world):
    foreign = world.asset_ids(world.kai, "B-001")
    with pytest.raises(FormInvalid) as refused:
        engine.start("copying_consent", world.zei, request_data(world, assets=foreign), world.users["kobayashi"])
    db.session.rollback()
    assert "assets" in refused.value.errors


def test_one_contracts_options_never_stay_in_the_form_another_contract_is_shown(world):
    """Resolving a form's registers for a contract writes into a copy, never into the deployed
    form that every later request of every contract starts from."""
    definition = engine.latest_version("copying_consent")
    schema = engine.form_for(definition, definition.meta["start_task"])
    deployed = json.dumps(schema, sort_keys=True, ensure_ascii=False)
    zei = formschema.resolve(schema, formschema.FormContext(world.zei, world.users["kobayashi"]))
    kai = formschema.resolve(schema, formschema.FormContext(world.kai, world.users["ito"]))
    assert json.dumps(schema, sort_keys=True, ensure_ascii=False) == deployed
    def assets_of(contract) -> set[int]:
        return set(db.session.scalars(sa.select(Asset.id).where(Asset.contract_id == contract.id)))

    assert set(zei["properties"]["assets"]["items"]["enum"]) == assets_of(world.zei)
    assert set(kai["properties"]["assets"]["items"]["enum"]) == assets_of(world.kai)
    assert not set(zei["properties"]["handlers"]["items"]["enum"]) & set(kai["properties"]["handlers"]["items"]["enum"])


def test_a_contractor_cannot_start_on_another_contract(world):
    with pytest.raises(engine.NotFound):
        engine.start("copying_consent", world.kai, request_data(world), world.users["kobayashi"])
    db.session.rollback()


def test_overdue_approval_reminds_then_escalates_to_the_section_chief(app, world, clock):
    instance = start(world)
    task = open_task(instance.id, "approve")
    # Reminded at the deadline; two business days later (Wednesday 9 December 17:15 JST) the section chief is added.
    remind_then_escalate(instance, task, clock, reminded=["tanaka@demo.shodaku.example"],
                         escalates_at="2026-12-09T08:15:00+00:00", escalated_to=[world.users["suzuki"]])
    # The section chief can now decide, and the original approver still could have.
    act(instance, "approve", world.users["suzuki"], decision="approve")
    db.session.refresh(instance)
    assert instance.status == "completed" and instance.next_timer_at is None
    # A second worker pass finds nothing to do.
    assert worker.run_once()["timers"] == 0
