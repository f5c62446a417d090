"""Does the inbox agree with the workflows? (``shodaku check``)

After any crash the invariant must hold: for every instance, the open ``human_task`` rows
are exactly the workflow's READY user tasks, ``next_timer_at`` is its earliest waiting
timer (or the retry time of a failed timer step, see :func:`_timer_problem`), and a finished
workflow has a finished instance. Any difference is reported.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from ..extensions import db
from ..models import AuditEvent, HumanTask, ProcessInstance
from ..models.workflow import COMPLETED, OPEN
from . import run, store
from .actions import specs_of


@dataclass
class Mismatch:
    instance_id: int
    reference: str
    problem: str

    def __str__(self) -> str:
        return f"instance {self.instance_id} ({self.reference}): {self.problem}"


def check_instance(instance: ProcessInstance) -> list[Mismatch]:
    spec, subprocess_specs = specs_of(instance.definition)
    workflow = store.loads(instance.state, spec, subprocess_specs)
    problems: list[str] = []
    ready = {t.guid: t.spec_id for t in run.ready_user_tasks(workflow)}
    open_rows = dict(db.session.execute(sa.select(HumanTask.task_guid, HumanTask.spec_id).where(
        HumanTask.instance_id == instance.id, HumanTask.status == OPEN)).all())
    for guid in ready.keys() - open_rows.keys():
        problems.append(f"workflow task {ready[guid]} ({guid}) is ready but not in the inbox")
    for guid in open_rows.keys() - ready.keys():
        problems.append(f"inbox task {open_rows[guid]} ({guid}) is open but not ready in the workflow")
    timer_problem = _timer_problem(instance, run.next_timer_at(workflow))
    if timer_problem:
        problems.append(timer_problem)
    if workflow.is_completed() != (instance.status == COMPLETED):
        problems.append(f"status is {instance.status} but the workflow is "
                        f"{'complete' if workflow.is_completed() else 'not complete'}")
    return [Mismatch(instance.id, instance.reference, p) for p in problems]


def _timer_problem(instance: ProcessInstance, expected: datetime | None) -> str | None:
    """What is wrong with ``next_timer_at``, if anything.

    It must be the workflow's earliest unfired timer, with one exception: a timer step that
    failed is rolled back and postponed (``actions.postpone_failed_timer``), which sets only
    ``next_timer_at``, to the retry time, and records it in a ``timer_failed`` audit event.
    So a later value is accepted when that timer exists (the workflow still waits on it,
    unfired: it was rolled back) and the instance's latest ``timer_failed`` event names
    exactly this retry time; any save since would have reset the column to the workflow's
    timer. Nothing else is excused: no timer while one waits, or a later one with no
    recorded failure, is reported. The audit is read only for such a difference.
    """
    stored = instance.next_timer_at
    if stored == expected:
        return None
    if expected is not None and stored is not None and expected < stored:
        failure = db.session.scalar(
            sa.select(AuditEvent.detail).where(AuditEvent.instance_id == instance.id,
                                               AuditEvent.action == "timer_failed")
            .order_by(AuditEvent.seq.desc()).limit(1))
        if failure and failure.get("retry_at") and datetime.fromisoformat(failure["retry_at"]) == stored:
            return None
    return f"next_timer_at is {stored} but the workflow's next timer is {expected}"


def check_all(batch: int = 200) -> Iterator[Mismatch]:
    last = 0
    while True:
        rows = db.session.scalars(sa.select(ProcessInstance).where(ProcessInstance.id > last)
                                  .order_by(ProcessInstance.id).limit(batch)).all()
        if not rows:
            return
        for instance in rows:
            yield from check_instance(instance)
        last = rows[-1].id
        db.session.expunge_all()


__all__ = ["Mismatch", "check_all", "check_instance"]
