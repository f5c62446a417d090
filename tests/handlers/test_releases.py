"""The release-register handlers on their own: each refuses to record a step out of order.

The flow tests show the diagram calls them in the right order; these show what happens
when a diagram (edited in the designer, say) does not: no approval, no backup, the
developer migrating. Each refusal is a HandlerError, which rolls the whole action back.
"""
from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from handlers import REGISTRY, Context, HandlerError
from handlers.releases import lines, local_time
from tests.helpers import DEFAULT_NOW
from webapp import engine
from webapp.extensions import db
from webapp.models import HumanTask
from webapp.models.releases import ReleaseRecord

APPROVAL = SimpleNamespace(outcome="approve", number="木情第2026-09001号")
CONFIRMATION = SimpleNamespace(outcome="approve", number="木情第2026-09002号")
BACKUP = {"items": "DB全体", "medium": "LTOテープ T-0815", "location": "耐火金庫", "taken_at": "2026-12-12T19:30",
          "verification": "リストア確認", "verified": True}


def english(error: Exception) -> str:
    with force_locale("en"):
        return str(error)


@pytest.fixture
def instance(world):
    data = {"variant": "config", "change_title": "FW設定変更", "purpose": "更新", "config_description": "許可ルール追加",
            "affected_systems": "FW-ZEI-01\n\n  ZEI-AP-01  ", "window_start": "2026-12-15T21:00",
            "window_end": "2026-12-15T22:00", "rollback_plan": "戻す"}
    row = engine.start("production_migration", world.zei, data, world.users["kobayashi"])
    db.session.flush()
    return row


def call(name: str, instance, actor, decision=None, audit=None, **params):
    ctx = Context(session=db.session, instance=instance, actor_id=actor.id if actor else None, now=DEFAULT_NOW,
                  data={}, decision=decision, audit=(lambda action, detail: audit.append(action)) if audit is not None
                  else (lambda *a, **k: None))
    return REGISTRY[name](ctx, **params)


def record_for(instance) -> ReleaseRecord | None:
    return db.session.scalar(sa.select(ReleaseRecord).where(ReleaseRecord.instance_id == instance.id))


def test_local_times_are_japan_time_and_stored_as_utc():
    assert local_time("2026-12-12T20:00") == datetime(2026, 12, 12, 11, 0, tzinfo=timezone.utc)
    assert local_time("2026-12-12T20:00+00:00") == datetime(2026, 12, 12, 20, 0, tzinfo=timezone.utc)
    with pytest.raises(HandlerError):
        local_time("tonight")


def test_lines_drops_blank_lines_and_spaces():
    assert lines(" a \n\n b\r\n") == ["a", "b"]
    assert lines(None) == []


def test_every_release_handler_is_registered():
    assert {"open_release", "record_backup", "record_migration", "record_report", "close_release"} <= set(REGISTRY)


def test_a_release_is_registered_only_after_the_written_approval(world, instance):
    with pytest.raises(HandlerError) as refused:
        call("open_release", instance, world.users["tanaka"])
    assert "written approval" in english(refused.value)
    with pytest.raises(HandlerError):
        call("open_release", instance, world.users["tanaka"], decision=SimpleNamespace(outcome="reject", number="x"))
    assert record_for(instance) is None
    events: list[str] = []
    result = call("open_release", instance, world.users["tanaka"], decision=APPROVAL, audit=events)
    record = record_for(instance)
    assert result == {"release_id": record.id, "approval_number": APPROVAL.number}
    assert record.components == ["FW-ZEI-01", "ZEI-AP-01"] and record.status == "approved"
    assert record.window_end == datetime(2026, 12, 15, 13, 0, tzinfo=timezone.utc)
    assert events == ["release_registered"]


def test_nothing_is_recorded_for_a_request_the_city_never_approved(world, instance):
    with pytest.raises(HandlerError) as refused:
        call("record_backup", instance, world.users["sato"], **BACKUP)
    assert "not approved" in english(refused.value)


def test_only_a_verified_backup_counts(world, instance):
    call("open_release", instance, world.users["tanaka"], decision=APPROVAL)
    with pytest.raises(HandlerError) as refused:
        call("record_backup", instance, world.users["sato"], **{**BACKUP, "verified": False})
    assert "Art. 15(3)" in english(refused.value)
    assert record_for(instance).status == "approved"


def test_a_migration_without_a_recorded_backup_is_refused(world, instance):
    """A diagram that skipped the backup step still cannot record a migration (Art. 15(3))."""
    call("open_release", instance, world.users["tanaka"], decision=APPROVAL)
    with pytest.raises(HandlerError) as refused:
        call("record_migration", instance, world.users["sato"], started_at="2026-12-15T21:00",
             finished_at="2026-12-15T21:30")
    assert "No backup has been recorded" in english(refused.value)
    assert record_for(instance).performed_by_id is None


def test_the_register_never_names_the_developer_as_the_person_who_migrated(world, instance):
    call("open_release", instance, world.users["tanaka"], decision=APPROVAL)
    call("record_backup", instance, world.users["kobayashi"], **BACKUP)
    times = {"started_at": "2026-12-15T21:00", "finished_at": "2026-12-15T21:30"}
    with pytest.raises(HandlerError) as refused:
        call("record_migration", instance, world.users["kobayashi"], **times)  # the requester
    assert "segregation of duties, Art. 15(2)" in english(refused.value)
    with pytest.raises(HandlerError):
        call("record_migration", instance, None, **times)  # no person: a timer path must not migrate
    # Someone else who refiled the request after a send-back prepared it too.
    refiled = HumanTask(instance_id=instance.id, task_guid="00000000-0000-0000-0000-000000000001", spec_id="request",
                        title="申請", lane="contractor_staff", process_key=instance.process_key,
                        contract_id=instance.contract_id, department_id=instance.contract.department_id,
                        instance_reference=instance.reference, instance_title=instance.title,
                        requester_id=instance.requester_id, status="completed",
                        completed_by_id=world.users["sato"].id)
    db.session.add(refiled)
    db.session.flush()
    with pytest.raises(HandlerError):
        call("record_migration", instance, world.users["sato"], **times)
    db.session.delete(refiled)
    db.session.flush()
    assert call("record_migration", instance, world.users["sato"], **times) == {"performed_by": world.users["sato"].id}
    record = record_for(instance)
    assert record.performed_by_id == world.users["sato"].id and record.status == "migrated"
    assert record.migration_finished_at == datetime(2026, 12, 15, 12, 30, tzinfo=timezone.utc)


def test_report_and_confirmation_follow_the_migration(world, instance):
    sato, tanaka = world.users["sato"], world.users["tanaka"]
    call("open_release", instance, tanaka, decision=APPROVAL)
    with pytest.raises(HandlerError) as refused:
        call("record_report", instance, sato, result="success", post_check="ok")
    assert "cannot be recorded now" in english(refused.value)
    call("record_backup", instance, sato, **BACKUP)
    call("record_migration", instance, sato, started_at="2026-12-15T21:00", finished_at="2026-12-15T21:30")
    with pytest.raises(HandlerError):
        call("close_release", instance, tanaka, decision=CONFIRMATION)  # no report yet
    with pytest.raises(HandlerError):
        call("record_report", instance, sato, result="partly", post_check="ok")
    call("record_report", instance, sato, result="rolled_back", post_check="復旧を確認")
    call("record_report", instance, sato, result="success", post_check="再報告")  # a corrected report replaces it
    with pytest.raises(HandlerError):
        call("close_release", instance, tanaka)  # no decision: not the city's confirmation
    closed = call("close_release", instance, tanaka, decision=CONFIRMATION)
    assert closed == {"confirmation_number": CONFIRMATION.number}
    record = record_for(instance)
    assert (record.status, record.result, record.post_check) == ("confirmed", "success", "再報告")
    assert record.confirmation_number == CONFIRMATION.number and record.confirmed_at == DEFAULT_NOW
