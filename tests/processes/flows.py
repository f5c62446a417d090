"""Driving a flow in tests: act on a task, read the outbox and the decisions, let an approval run overdue.

Shared by the tests of every diagram (and by handler and web tests that drive a flow), so
each test module keeps only what is particular to its flow: its request data and its paths.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from tests.helpers import open_task
from webapp import engine, worker
from webapp.extensions import db
from webapp.models import Decision, HumanTask, OutboxMessage, ProcessInstance, TaskCandidate, User


def act(instance: ProcessInstance, spec_id: str, user: User, **data: Any) -> HumanTask:
    """Complete the instance's open ``spec_id`` task as ``user``, as the task page would, and commit."""
    task = open_task(instance.id, spec_id)
    assert task is not None, f"no open {spec_id} task; open: {open_steps(instance)}"
    done = engine.complete(task.id, data, user)
    db.session.commit()
    return done


def open_steps(instance: ProcessInstance) -> list[str]:
    """BPMN ids of the instance's open tasks, oldest first."""
    return list(db.session.scalars(sa.select(HumanTask.spec_id).where(
        HumanTask.instance_id == instance.id, HumanTask.status == "open").order_by(HumanTask.id)))


def outbox(kind: str) -> list[str]:
    """Addresses of the queued mails of ``kind``, in the order they were queued."""
    return list(db.session.scalars(sa.select(OutboxMessage.to_address).where(OutboxMessage.kind == kind)
                                   .order_by(OutboxMessage.id)))


def recipients(kind: str) -> list[str]:
    """Addresses of the queued mails of ``kind``, sorted (when the order of one step's mails does not matter)."""
    return sorted(outbox(kind))


def mail(username: str) -> str:
    """The demo world's address of ``username``."""
    return f"{username}@demo.shodaku.example"


def decisions(instance: ProcessInstance) -> list[Decision]:
    """The instance's written decisions in the order they were made."""
    return list(db.session.scalars(sa.select(Decision).where(Decision.instance_id == instance.id)
                                   .order_by(Decision.id)))


def remind_then_escalate(instance: ProcessInstance, task: HumanTask, clock: Any, *, reminded: Sequence[str],
                         escalates_at: str, escalated_to: Sequence[User]) -> None:
    """Let an open approval run overdue: its two timers, as drawn in every flow, by the worker.

    Nothing happens before the deadline; at it the people in charge (``reminded``) are
    reminded and keep the task; at ``escalates_at`` (ISO, UTC) ``escalated_to`` become
    candidates too and are told.
    """
    db.session.refresh(instance)
    assert instance.next_timer_at == task.due_at
    clock.set(task.due_at - timedelta(minutes=1))
    assert worker.run_once()["timers"] == 0
    assert outbox("task_overdue") == []
    clock.set(task.due_at + timedelta(minutes=1))
    assert worker.run_once()["timers"] == 1
    assert outbox("task_overdue") == list(reminded)
    db.session.refresh(task)
    assert task.escalation_level == 0 and task.status == "open"
    db.session.refresh(instance)
    assert instance.next_timer_at.isoformat() == escalates_at
    clock.set(instance.next_timer_at + timedelta(seconds=1))
    assert worker.run_once()["timers"] == 1
    db.session.refresh(task)
    assert task.escalation_level == 1 and task.status == "open"
    added = db.session.scalars(sa.select(TaskCandidate.user_id).where(TaskCandidate.human_task_id == task.id)).all()
    assert added == [person.id for person in escalated_to]
    assert outbox("task_escalated") == [person.email for person in escalated_to]
