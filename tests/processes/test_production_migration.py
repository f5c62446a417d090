"""Every path through production_migration.bpmn (Art. 13, 15), driven through the engine verbs the views use.

The demo world: kobayashi (contractor staff) is the developer and files the request; sato
(contractor staff and information manager) may migrate; tanaka approves for the city;
suzuki is the section chief escalations go to. "Today" is Wednesday 2 December 2026, 10:00 JST.
"""
from __future__ import annotations

import io
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from tests.helpers import open_task
from tests.processes.flows import act, decisions, open_steps, outbox, remind_then_escalate
from webapp import engine, storage, worker
from webapp.extensions import db
from webapp.formschema import FormInvalid
from webapp.models import Attachment, ProcessInstance
from webapp.models.releases import ReleaseRecord



def english(error: Exception) -> str:
    """The message as the English interface shows it (tests do not depend on the ja catalogue)."""
    with force_locale("en"):
        return str(error)


def upload(user, name: str = "test-results.pdf") -> int:
    row = storage.store(io.BytesIO(b"%PDF-1.4\n% evidence\n"), name, user)
    db.session.flush()
    return row.id


def program_request(world, **overrides):
    """A valid program-migration request by kobayashi; attachments not overridden are uploaded as his."""
    data = {
        "variant": "program", "change_title": "課税計算モジュール 税制改正対応",
        "purpose": "令和9年度の税制改正に対応する。",
        "schedule_summary": "12/12 20:00 停止、移行、確認、23:00 再開",
        "test_summary": "結合テスト86件合格",
        "components": "tax-calc-core 3.5.0\n\n tax-calc-batch 3.5.0 \n",
        "window_start": "2026-12-12T20:00", "window_end": "2026-12-12T23:00",
        "rollback_plan": "移行前バックアップから復元する",
    }
    for field, filename in (("schedule_files", "schedule.pdf"), ("test_results", "test-results.pdf")):
        if field not in overrides:
            data[field] = [upload(world.users["kobayashi"], filename)]
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def config_request(**overrides):
    data = {
        "variant": "config", "change_title": "ファイアウォール許可ルールの変更", "purpose": "連携サーバ更新のため",
        "config_description": "FW-ZEI-01 に許可ルールを追加する", "affected_systems": "FW-ZEI-01\nZEI-AP-01",
        "window_start": "2026-12-15T21:00", "window_end": "2026-12-15T22:00", "rollback_plan": "保存した設定に戻す",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def start(world, data=None, user="kobayashi") -> ProcessInstance:
    instance = engine.start("production_migration", world.zei, data or program_request(world), world.users[user])
    db.session.commit()
    return instance


def release(instance) -> ReleaseRecord | None:
    db.session.expire_all()
    return db.session.scalar(sa.select(ReleaseRecord).where(ReleaseRecord.instance_id == instance.id))


BACKUP = {"backup_items": "本番の課税計算モジュール一式（v3.4.2）と設定テーブル",
          "backup_medium": "LTOテープ（管理番号 T-0815）",
          "backup_location": "市役所本庁舎 サーバ室 耐火金庫", "backup_taken_at": "2026-12-12T19:30",
          "backup_verification": "ハッシュ値を照合し、検証環境へのリストアで起動を確認", "backup_verified": True}
MIGRATION = {"migration_started_at": "2026-12-12T20:05", "migration_finished_at": "2026-12-12T21:40",
             "migration_note": "手順書どおり"}


def report(world, **overrides):
    data = {"result": "success", "post_check": "課税計算100件を前年度結果と照合し差異なし", "report_summary": "予定どおり完了",
            "work_report": [upload(world.users["sato"], "work-report.pdf")]}
    data.update(overrides)
    return data


def approved(world, data=None) -> ProcessInstance:
    instance = start(world, data)
    act(instance, "approve", world.users["tanaka"], decision="approve", conditions="作業後速やかに報告すること")
    return instance


def migrated(world) -> ProcessInstance:
    instance = approved(world)
    act(instance, "backup", world.users["kobayashi"], **BACKUP)
    act(instance, "migrate", world.users["sato"], **MIGRATION)
    return instance




# --- filing and the city's approval ---------------------------------------------------------

def test_a_program_migration_waits_for_the_city_approver_with_its_evidence(world):
    instance = start(world)
    task = open_task(instance.id)
    assert task.spec_id == "approve" and task.lane == "city_approver"
    assert instance.reference.startswith("REL-2026-") and instance.title == "本番移行：課税計算モジュール 税制改正対応"
    assert task.due_at.isoformat() == "2026-12-07T08:15:00+00:00"  # Monday 7 December 17:15 JST
    files = db.session.scalars(sa.select(Attachment.field).where(Attachment.instance_id == instance.id)).all()
    assert sorted(files) == ["schedule_files", "test_results"]
    assert release(instance) is None  # nothing is registered before the written approval
    assert outbox("task_created") == ["tanaka@demo.shodaku.example"]


def test_approval_opens_the_register_and_asks_for_the_backup_first(world):
    instance = approved(world)
    approval = decisions(instance)[0]
    record = release(instance)
    assert record.status == "approved" and record.variant == "program"
    assert record.approval_number == approval.number == "木情第2026-00001号"
    assert record.components == ["tax-calc-core 3.5.0", "tax-calc-batch 3.5.0"]
    assert record.window_start == datetime(2026, 12, 12, 11, 0, tzinfo=timezone.utc)  # 20:00 JST
    assert record.window_end == datetime(2026, 12, 12, 14, 0, tzinfo=timezone.utc)
    assert record.performed_by_id is None and not record.backup_recorded
    # Only the backup is open: the migration step does not exist yet.
    assert open_steps(instance) == ["backup"]
    assert open_task(instance.id, "backup").lane == "contractor_staff"
    assert outbox("release_approved") == ["kobayashi@demo.shodaku.example"]
    assert set(outbox("task_created")) == {"tanaka@demo.shodaku.example", "kobayashi@demo.shodaku.example",
                                           "sato@demo.shodaku.example"}


def test_a_program_migration_backed_up_migrated_by_another_person_reported_and_confirmed(world):
    kobayashi, sato, tanaka = world.users["kobayashi"], world.users["sato"], world.users["tanaka"]
    instance = approved(world)
    act(instance, "backup", kobayashi, **BACKUP)
    record = release(instance)
    assert record.status == "backed_up" and record.backup_verified is True
    assert (record.backup_medium, record.backup_location) == (BACKUP["backup_medium"], BACKUP["backup_location"])
    assert record.backup_taken_at.isoformat() == "2026-12-12T10:30:00+00:00"
    assert record.backup_recorded_by_id == kobayashi.id
    assert open_steps(instance) == ["migrate"]

    act(instance, "migrate", sato, **MIGRATION)
    record = release(instance)
    assert record.status == "migrated" and record.performed_by_id == sato.id
    assert record.migration_started_at.isoformat() == "2026-12-12T11:05:00+00:00"
    assert open_steps(instance) == ["report"]

    act(instance, "report", sato, **report(world))
    record = release(instance)
    assert record.status == "reported" and record.result == "success"
    assert open_task(instance.id, "confirm").due_at is not None

    act(instance, "confirm", tanaka, decision="approve")
    db.session.refresh(instance)
    assert instance.status == "completed" and instance.outcome == "approve" and open_steps(instance) == []
    record = release(instance)
    numbers = [d.number for d in decisions(instance)]
    assert record.status == "confirmed" and record.confirmation_number == numbers[1] != record.approval_number
    assert record.approval_number == numbers[0]
    assert outbox("release_confirmed") == ["kobayashi@demo.shodaku.example"]


def test_a_configuration_change_needs_no_test_results_and_registers_the_affected_systems(world):
    instance = start(world, config_request())
    assert instance.title == "設定変更：ファイアウォール許可ルールの変更"
    act(instance, "approve", world.users["tanaka"], decision="approve")
    record = release(instance)
    assert record.variant == "config" and record.components == ["FW-ZEI-01", "ZEI-AP-01"]
    act(instance, "backup", world.users["sato"], **BACKUP)
    act(instance, "migrate", world.users["sato"], **MIGRATION)  # sato did not prepare it: allowed
    act(instance, "report", world.users["sato"], **report(world))
    act(instance, "confirm", world.users["tanaka"], decision="approve")
    record = release(instance)
    assert record.status == "confirmed" and record.performed_by_id == world.users["sato"].id


def test_rejecting_ends_the_request_without_a_register_entry(world):
    instance = start(world)
    with pytest.raises(FormInvalid) as refused:
        engine.complete(open_task(instance.id).id, {"decision": "reject"}, world.users["tanaka"])
    db.session.rollback()
    assert "comment" in refused.value.errors
    act(instance, "approve", world.users["tanaka"], decision="reject", comment="移行時期が繁忙期と重なります。")
    db.session.refresh(instance)
    assert instance.status == "completed" and instance.outcome == "reject" and open_steps(instance) == []
    assert release(instance) is None
    assert outbox("request_rejected") == ["kobayashi@demo.shodaku.example"]


def test_send_back_returns_to_the_developer_and_the_register_takes_the_corrected_request(world):
    kobayashi = world.users["kobayashi"]
    instance = start(world)
    act(instance, "approve", world.users["tanaka"], decision="send_back", comment="作業時間を短縮してください。")
    back = open_task(instance.id)
    assert back.spec_id == "request" and back.assignee_id == kobayashi.id
    corrected = program_request(world, window_start="2026-12-19T21:00", window_end="2026-12-19T22:30",
                                components="tax-calc-core 3.5.1")
    act(instance, "request", kobayashi, **corrected)
    db.session.refresh(instance)
    assert instance.request_version == 2 and open_steps(instance) == ["approve"]
    act(instance, "approve", world.users["tanaka"], decision="approve")
    assert [(d.outcome, d.request_version) for d in decisions(instance)] == [("send_back", 1), ("approve", 2)]
    record = release(instance)
    assert record.components == ["tax-calc-core 3.5.1"]
    assert record.window_start.isoformat() == "2026-12-19T12:00:00+00:00"
    assert record.approval_number == decisions(instance)[1].number


def test_switching_to_a_configuration_change_on_resubmission_leaves_no_program_fields_in_the_register(world):
    instance = start(world)
    act(instance, "approve", world.users["tanaka"], decision="send_back", comment="設定変更として申請してください。")
    act(instance, "request", world.users["kobayashi"], **config_request())
    act(instance, "approve", world.users["tanaka"], decision="approve")
    record = release(instance)
    assert record.variant == "config" and record.components == ["FW-ZEI-01", "ZEI-AP-01"]


# --- backup before migration (Art. 15(3)) -------------------------------------------------------

def test_the_migration_step_opens_only_after_a_verified_backup_is_recorded(world):
    instance = approved(world)
    unverified = {**BACKUP, "backup_verified": False}
    for data, field in ((unverified, "backup_verified"), ({**BACKUP, "backup_medium": ""}, "backup_medium"),
                        ({k: v for k, v in BACKUP.items() if k != "backup_location"}, "backup_location")):
        with pytest.raises(FormInvalid) as refused:
            engine.complete(open_task(instance.id, "backup").id, data, world.users["kobayashi"])
        db.session.rollback()
        assert field in refused.value.errors
    assert open_steps(instance) == ["backup"] and release(instance).status == "approved"
    act(instance, "backup", world.users["kobayashi"], **BACKUP)
    assert open_steps(instance) == ["migrate"]


# --- segregation of duties (Art. 15(2)) ---------------------------------------------------------

def test_the_developer_is_never_recorded_as_the_person_who_migrated(world):
    """Whatever layer refuses (engine rule or register handler), nothing is saved and sato can go on."""
    instance = approved(world)
    act(instance, "backup", world.users["kobayashi"], **BACKUP)
    task = open_task(instance.id, "migrate")
    with pytest.raises((engine.RuleViolation, engine.ProcessFailed)) as refused:
        engine.complete(task.id, MIGRATION, world.users["kobayashi"])
    db.session.rollback()
    assert "segregation of duties, Art. 15(2)" in english(refused.value)
    assert open_task(instance.id, "migrate").id == task.id
    assert release(instance).performed_by_id is None and release(instance).status == "backed_up"
    act(instance, "migrate", world.users["sato"], **MIGRATION)
    assert release(instance).performed_by_id == world.users["sato"].id


def test_the_engine_refuses_the_migration_to_the_developer_who_filed_the_request(world):
    instance = approved(world)
    act(instance, "backup", world.users["sato"], **BACKUP)
    with pytest.raises(engine.RuleViolation) as refused:
        engine.complete(open_task(instance.id, "migrate").id, MIGRATION, world.users["kobayashi"])
    db.session.rollback()
    assert "segregation of duties, Art. 15(2)" in english(refused.value)


def test_the_engine_refuses_the_migration_to_the_developer_who_refiled_the_request(world):
    instance = start(world)
    act(instance, "approve", world.users["tanaka"], decision="send_back", comment="テスト結果を追加してください。")
    act(instance, "request", world.users["kobayashi"], **program_request(world))
    act(instance, "approve", world.users["tanaka"], decision="approve")
    act(instance, "backup", world.users["sato"], **BACKUP)
    task = open_task(instance.id, "migrate")
    with pytest.raises(engine.RuleViolation) as refused:
        engine.complete(task.id, MIGRATION, world.users["kobayashi"])
    db.session.rollback()
    assert "segregation of duties, Art. 15(2)" in english(refused.value)
    assert open_task(instance.id, "migrate").id == task.id and release(instance).performed_by_id is None


def test_the_migration_times_must_be_in_order(world):
    instance = approved(world)
    act(instance, "backup", world.users["kobayashi"], **BACKUP)
    with pytest.raises(FormInvalid) as refused:
        engine.complete(open_task(instance.id, "migrate").id,
                        {**MIGRATION, "migration_finished_at": "2026-12-12T19:00"}, world.users["sato"])
    db.session.rollback()
    assert "migration_finished_at" in refused.value.errors
    assert release(instance).status == "backed_up"


# --- the work report and the city's confirmation ------------------------------------------------

def test_a_rolled_back_migration_needs_a_reason_and_is_confirmed_as_rolled_back(world):
    instance = migrated(world)
    with pytest.raises(FormInvalid) as refused:
        engine.complete(open_task(instance.id, "report").id, report(world, result="rolled_back"), world.users["sato"])
    db.session.rollback()
    assert "rollback_reason" in refused.value.errors
    act(instance, "report", world.users["sato"],
        **report(world, result="rolled_back", rollback_reason="移行後の照合で差異が出たため",
                 post_check="バックアップから復元し、旧版での稼働を確認"))
    assert release(instance).result == "rolled_back"
    act(instance, "confirm", world.users["tanaka"], decision="approve")
    record = release(instance)
    assert record.status == "confirmed" and record.result == "rolled_back"
    assert record.post_check == "バックアップから復元し、旧版での稼働を確認"


def test_the_city_sends_the_report_back_and_confirms_the_corrected_one(world):
    instance = migrated(world)
    act(instance, "report", world.users["sato"], **report(world, post_check="確認した"))
    with pytest.raises(FormInvalid) as refused:
        engine.complete(open_task(instance.id, "confirm").id, {"decision": "send_back"}, world.users["tanaka"])
    db.session.rollback()
    assert "comment" in refused.value.errors
    with pytest.raises(FormInvalid) as refused:  # the confirmation offers no "reject"
        engine.complete(open_task(instance.id, "confirm").id, {"decision": "reject", "comment": "x"},
                        world.users["tanaka"])
    db.session.rollback()
    assert "decision" in refused.value.errors
    act(instance, "confirm", world.users["tanaka"], decision="send_back", comment="確認した件数と方法を記載してください。")
    assert open_steps(instance) == ["report"] and release(instance).status == "reported"
    act(instance, "report", world.users["sato"], **report(world, post_check="課税計算100件を照合し差異なし"))
    assert release(instance).post_check == "課税計算100件を照合し差異なし"
    act(instance, "confirm", world.users["tanaka"], decision="approve")
    outcomes = [(d.task_title, d.outcome) for d in decisions(instance)]
    assert outcomes == [("市の承認審査", "approve"), ("市の完了確認", "send_back"), ("市の完了確認", "approve")]
    record = release(instance)
    assert record.status == "confirmed" and record.confirmation_number == decisions(instance)[2].number


# --- overdue city tasks -------------------------------------------------------------------------

def test_an_overdue_approval_reminds_then_escalates_to_the_section_chief(world, clock):
    instance = start(world)
    # Due Monday 7 December 17:15 JST; the section chief comes in two business days later.
    remind_then_escalate(instance, open_task(instance.id, "approve"), clock, reminded=["tanaka@demo.shodaku.example"],
                         escalates_at="2026-12-09T08:15:00+00:00", escalated_to=[world.users["suzuki"]])
    act(instance, "approve", world.users["suzuki"], decision="approve")
    assert release(instance).approval_number == decisions(instance)[0].number
    db.session.refresh(instance)
    assert instance.next_timer_at is None  # contractor steps carry no deadline
    assert worker.run_once()["timers"] == 0


def test_an_overdue_confirmation_reminds_then_escalates_to_the_section_chief(world, clock):
    instance = migrated(world)
    clock.advance(days=3)  # the report comes in on Saturday 5 December; the deadline counts business days
    act(instance, "report", world.users["sato"], **report(world))
    assert open_task(instance.id, "confirm").due_at.isoformat() == "2026-12-09T08:15:00+00:00"  # Wed 17:15 JST
    remind_then_escalate(instance, open_task(instance.id, "confirm"), clock, reminded=["tanaka@demo.shodaku.example"],
                         escalates_at="2026-12-11T08:15:00+00:00", escalated_to=[world.users["suzuki"]])  # Fri 17:15
    act(instance, "confirm", world.users["suzuki"], decision="approve")
    db.session.refresh(instance)
    assert instance.status == "completed" and release(instance).status == "confirmed"


# --- bad input ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("overrides", "field"), [
    ({"window_start": "2026-11-30T20:00", "window_end": "2026-11-30T23:00"}, "window_start"),  # in the past
    ({"window_end": "2026-12-12T19:00"}, "window_end"),  # ends before it starts
    ({"window_start": "12/12 20:00"}, "window_start"),
    ({"window_end": "2027-04-01T02:00"}, "window_end"),  # after the contract ends
    ({"test_results": None}, "test_results"),
    ({"test_results": []}, "test_results"),
    ({"schedule_files": []}, "schedule_files"),
    ({"test_summary": ""}, "test_summary"),
    ({"components": None}, "components"),
    ({"rollback_plan": ""}, "rollback_plan"),
    ({"variant": "hotfix"}, "variant"),
])
def test_bad_program_requests_are_refused_field_by_field_and_nothing_is_saved(world, overrides, field):
    data = program_request(world, **overrides)
    with pytest.raises(FormInvalid) as refused:
        engine.start("production_migration", world.zei, data, world.users["kobayashi"])
    db.session.rollback()
    assert field in refused.value.errors
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ProcessInstance)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ReleaseRecord)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Attachment)
                             .where(Attachment.instance_id.is_not(None))) == 0


def test_a_window_that_started_earlier_today_is_refused(world):
    data = program_request(world, window_start="2026-12-02T08:00", window_end="2026-12-02T09:00")
    with pytest.raises(FormInvalid) as refused:
        engine.start("production_migration", world.zei, data, world.users["kobayashi"])
    db.session.rollback()
    assert "window_start" in refused.value.errors


@pytest.mark.parametrize(("overrides", "field"), [
    ({"config_description": None}, "config_description"),
    ({"affected_systems": ""}, "affected_systems"),
    ({"window_start": "2026-12-01T21:00", "window_end": "2026-12-01T22:00"}, "window_start"),
])
def test_bad_configuration_changes_are_refused_field_by_field(world, overrides, field):
    with pytest.raises(FormInvalid) as refused:
        engine.start("production_migration", world.zei, config_request(**overrides), world.users["kobayashi"])
    db.session.rollback()
    assert field in refused.value.errors
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ProcessInstance)) == 0


def test_city_staff_cannot_file_a_migration(world):
    with pytest.raises(engine.NotFound):
        engine.start("production_migration", world.zei, config_request(), world.users["tanaka"])
    db.session.rollback()
