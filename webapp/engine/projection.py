"""Keep ``human_task`` rows equal to the workflow's READY user tasks (DESIGN rule 3).

Called at the end of every action that ran the workflow, in the same transaction, so the
inbox and the workflow can never disagree after a commit.
"""
from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import date, datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from .. import dbutil
from ..extensions import db
from ..models import HumanTask, ProcessDefinition, ProcessInstance
from ..models.workflow import CANCELLED, DONE, OPEN
from . import calendar
from .run import ReadyTask


def sync_tasks(instance: ProcessInstance, definition: ProcessDefinition, open_rows: list[HumanTask],
               ready: list[ReadyTask], now: datetime, *, completed_guid: str | None = None,
               completed_by_id: int | None = None, outcome: str = "", submitted: dict[str, Any] | None = None,
               completed_unseen: ReadyTask | None = None, extra_closed: Collection[date] = (),
               on_new: Callable[[HumanTask], None] | None = None) -> list[HumanTask]:
    """Close rows no longer ready, open rows newly ready.

    ``open_rows``: the instance's open rows as the action read them before running the
    workflow (:func:`open_rows_of`, :func:`lock_open_rows`; none for a new instance).
    ``completed_unseen`` is a task completed in the same action that made it ready (the
    request form at start): it never had an open row, so its completed row is written here,
    keeping "who did which step" complete for the history and for ``separate_from``.
    """
    by_guid = {row.task_guid: row for row in open_rows}
    if completed_unseen is not None and completed_unseen.guid not in by_guid:
        db.session.add(_row(instance, completed_unseen, now, status=DONE, completed_at=now,
                            completed_by_id=completed_by_id, outcome=outcome, submitted=submitted))
    ready_guids = {t.guid for t in ready}
    done = {"completed_at": now, "status": DONE, "completed_by_id": completed_by_id, "outcome": outcome,
            "submitted": submitted}
    cancelled = {"completed_at": now, "status": CANCELLED}
    closing = [(row, done if guid == completed_guid else cancelled)
               for guid, row in by_guid.items() if guid not in ready_guids]
    # Plain UPDATEs of rows the action read, their values then kept on the objects with nothing
    # left to flush: the flush's bookkeeping would cost more than the statements.
    for values, statement in ((done, _close_done()), (cancelled, _close_cancelled())):
        params = [{"_id": row.id, **values} for row, chosen in closing if chosen is values]
        if params:
            connection = db.session.connection()
            written = connection.execute(statement, params[0] if len(params) == 1 else params).rowcount
            if (len(params) == 1 or connection.dialect.supports_sane_multi_rowcount) and written != len(params):
                # A row gone since the action read it: refused, as the flush would have refused it.
                raise StaleDataError(f"closing {len(params)} inbox rows of instance {instance.id} matched {written}")
    for row, values in closing:
        for key, value in values.items():
            set_committed_value(row, key, value)
    created = []
    start_task = definition.meta.get("start_task")
    for task in ready:
        if task.guid in by_guid:
            continue
        meta = definition.task_meta(task.spec_id)
        due = calendar.due_at(meta["due"], now, extra_closed) if meta.get("due") else None
        row = _row(instance, task, now, status=OPEN, due_at=due,
                   assignee_id=instance.requester_id if task.spec_id == start_task else None)
        db.session.add(row)
        created.append(row)
    if created or completed_unseen is not None:
        db.session.flush()  # the new rows' ids, for on_new
    if on_new is not None:
        for row in created:
            on_new(row)
    return created


def open_row(open_rows: list[HumanTask], spec_id: str) -> HumanTask | None:
    """The open row of step ``spec_id`` among an instance's ``open_rows`` (the newest, should a
    loop have made two)."""
    return max((row for row in open_rows if row.spec_id == spec_id), key=lambda row: row.id, default=None)


def open_rows_of(instance: ProcessInstance) -> list[HumanTask]:
    """The instance's open rows, read once by each action before the workflow runs: the checks,
    the handlers and the projection at the end all use them."""
    return list(db.session.scalars(_open_rows_query(), {"instance_id": instance.id}))


def lock_open_rows(instance: ProcessInstance) -> list[HumanTask]:
    """The instance's open rows, read again and locked (the caller holds the instance's lock,
    which every writer of its rows takes first, so they are current and nobody waits on them)."""
    return list(db.session.scalars(_locked_open_rows_query(), {"instance_id": instance.id}))


@cache
def _open_rows_query() -> sa.Select:
    """Built once (every action runs it): building a statement costs more than running it."""
    return sa.select(HumanTask).where(HumanTask.instance_id == sa.bindparam("instance_id"), HumanTask.status == OPEN)


@cache
def _close_done() -> sa.Update:
    """Built once: every completion closes its row with it."""
    return dbutil.update_by_id(HumanTask, ("completed_at", "status", "completed_by_id", "outcome", "submitted"))


@cache
def _close_cancelled() -> sa.Update:
    return dbutil.update_by_id(HumanTask, ("completed_at", "status"))


@cache
def _locked_open_rows_query() -> sa.Select:
    return _open_rows_query().with_for_update().execution_options(populate_existing=True)


def _row(instance: ProcessInstance, task: ReadyTask, now: datetime, **values: Any) -> HumanTask:
    return HumanTask(
        instance_id=instance.id, task_guid=task.guid, spec_id=task.spec_id, title=task.name, lane=task.lane,
        process_key=instance.process_key, contract_id=instance.contract_id,
        department_id=instance.contract.department_id, instance_reference=instance.reference,
        instance_title=instance.title, requester_id=instance.requester_id, created_at=now, **values)
