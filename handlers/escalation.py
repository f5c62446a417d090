"""Overdue approvals: remind the people in charge, then bring in their supervisor.

Both are drawn in the diagrams as non-interrupting timer boundary events leading here, so
process owners see and edit when and to whom a task escalates.
"""
from __future__ import annotations

from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value

from webapp import dbutil
from webapp.models import HumanTask, TaskCandidate

from . import Context, handler


@cache
def _set_level() -> sa.Update:
    """A plain statement on the table, not a flush of the loaded row: one column of one row to
    write (built once: a sweep runs it for every overdue task)."""
    return dbutil.update_by_id(HumanTask, ("escalation_level",))


@handler("remind")
def remind(ctx: Context, task: str) -> dict[str, Any]:
    """Tell everyone who may act on the overdue task ``task`` (a BPMN id) that it is overdue."""
    row = ctx.open_task(task)
    if row is None:
        return {"reminded": 0}
    people = ctx.task_candidates(row)
    ctx.notify([p.id for p in people], "task_overdue", task=row)
    ctx.audit("task_reminded", {"task": task, "title": row.title, "recipients": [p.display_name for p in people]})
    return {"reminded": len(people)}


@handler("escalate")
def escalate(ctx: Context, task: str, role: str, level: int) -> dict[str, Any]:
    """Add the holders of ``role`` as candidates of the overdue task; the original people keep it."""
    row = ctx.open_task(task)
    if row is None:
        return {"escalated": 0}
    people = ctx.role_holders(role)
    if people:  # rows to write, not objects anyone reads back: one statement; those already added stay as they were
        ctx.session.execute(dbutil.insert_new_rows(TaskCandidate.__table__, "human_task_id", "user_id"), [
            {"human_task_id": row.id, "user_id": person.id, "reason": "escalation", "added_at": ctx.now}
            for person in people])
    reached = max(row.escalation_level, int(level))
    ctx.session.execute(_set_level(), {"_id": row.id, "escalation_level": reached})
    set_committed_value(row, "escalation_level", reached)  # the loaded row says what the database now says
    ctx.notify([p.id for p in people], "task_escalated", task=row)
    ctx.audit("task_escalated", {"task": task, "title": row.title, "level": int(level), "role": role,
                                 "recipients": [p.display_name for p in people]})
    return {"escalated": len(people), "level": int(level)}
