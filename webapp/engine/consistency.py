"""Does the inbox agree with the workflows? (``shodaku check``)

After any crash the invariant must hold: for every instance, the open ``human_task`` rows
are exactly the workflow's READY user tasks, ``next_timer_at`` is its earliest waiting
timer, and a finished workflow has a finished instance. Any difference is reported.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from ..extensions import db
from ..models import HumanTask, ProcessInstance
from ..models.workflow import COMPLETED, OPEN
from . import run, store


@dataclass
class Mismatch:
    instance_id: int
    reference: str
    problem: str

    def __str__(self) -> str:
        return f"instance {self.instance_id} ({self.reference}): {self.problem}"


def check_instance(instance: ProcessInstance) -> list[Mismatch]:
    definition = instance.definition
    spec, subprocess_specs = store.specs_for(definition.sha256, definition.bpmn, definition.key,
                                             current_app.config["BPMN_MAX_BYTES"])
    workflow = store.loads(instance.state, spec, subprocess_specs)
    problems: list[str] = []
    ready = {t.guid: t.spec_id for t in run.ready_user_tasks(workflow)}
    open_rows = dict(db.session.execute(sa.select(HumanTask.task_guid, HumanTask.spec_id).where(
        HumanTask.instance_id == instance.id, HumanTask.status == OPEN)).all())
    for guid in ready.keys() - open_rows.keys():
        problems.append(f"workflow task {ready[guid]} ({guid}) is ready but not in the inbox")
    for guid in open_rows.keys() - ready.keys():
        problems.append(f"inbox task {open_rows[guid]} ({guid}) is open but not ready in the workflow")
    expected_timer = run.next_timer_at(workflow)
    if expected_timer != instance.next_timer_at:
        problems.append(f"next_timer_at is {instance.next_timer_at} but the workflow's next timer is {expected_timer}")
    if workflow.is_completed() != (instance.status == COMPLETED):
        problems.append(f"status is {instance.status} but the workflow is "
                        f"{'complete' if workflow.is_completed() else 'not complete'}")
    return [Mismatch(instance.id, instance.reference, p) for p in problems]


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
