"""``shodaku check``: a timer postponed after a failure is consistent; a wrong ``next_timer_at`` is not."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from tests.helpers import open_task, start_copying
from webapp import engine, worker
from webapp.extensions import db
from webapp.models import ProcessInstance


def problems_of(instance_id: int) -> list[str]:
    db.session.expire_all()
    return [m.problem for m in engine.check_all() if m.instance_id == instance_id]


def set_next_timer(instance_id: int, value) -> None:
    db.session.execute(sa.update(ProcessInstance).where(ProcessInstance.id == instance_id)
                       .values(next_timer_at=value))
    db.session.commit()


def fail_reminders(monkeypatch) -> None:
    import handlers
    from handlers import HandlerError

    def remind(ctx, **params):
        raise HandlerError("メールサーバの設定が壊れています")

    monkeypatch.setitem(handlers.REGISTRY, "remind", remind)


def test_a_timer_postponed_after_a_failed_step_is_consistent(world, clock, monkeypatch):
    instance = start_copying(world)
    fail_reminders(monkeypatch)
    clock.set(open_task(instance.id).due_at + timedelta(minutes=1))
    assert worker.run_once()["timer_failures"] == 1
    postponed = db.session.get(ProcessInstance, instance.id).next_timer_at
    assert postponed == clock.now + timedelta(minutes=15)
    assert problems_of(instance.id) == []


def test_a_next_timer_moved_other_than_by_a_recorded_failure_is_reported(world, clock, monkeypatch):
    instance = start_copying(world)
    waiting = db.session.get(ProcessInstance, instance.id).next_timer_at
    assert waiting is not None and problems_of(instance.id) == []
    set_next_timer(instance.id, None)  # lost while a timer waits
    assert [p for p in problems_of(instance.id) if "next_timer_at" in p]
    set_next_timer(instance.id, waiting + timedelta(minutes=15))  # later, with no failure recorded
    assert [p for p in problems_of(instance.id) if "next_timer_at" in p]
    # After a recorded failure, only the retry time it names is excused.
    fail_reminders(monkeypatch)
    set_next_timer(instance.id, waiting)
    clock.set(waiting + timedelta(minutes=1))
    assert worker.run_once()["timer_failures"] == 1
    assert problems_of(instance.id) == []
    set_next_timer(instance.id, clock.now + timedelta(hours=2))
    assert [p for p in problems_of(instance.id) if "next_timer_at" in p]
