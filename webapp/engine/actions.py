"""The engine's verbs in domain words: start, complete, and firing due timers (DESIGN rule 1).

Each verb is one transaction's worth of change (rule 2): workflow state, inbox rows,
decision, registers (through handlers), audit events and outbox rows are added to the
session and flushed; the caller commits once, or rolls back and nothing happened.
Concurrent completions: PostgreSQL takes ``FOR UPDATE`` on the task and the instance;
on both databases the instance's ``lock_version`` makes the slower writer fail with
:class:`ConcurrentUpdate`.
"""
from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError
from SpiffWorkflow.exceptions import SpiffWorkflowException

import handlers

from .. import access, audit, clock, dbutil, decisions, formschema, notifications, numbering, roles, storage
from ..extensions import db
from ..models import Contract, HumanTask, ProcessDefinition, ProcessInstance, User
from ..models.workflow import COMPLETED, OPEN, RUNNING
from . import run, sandbox, store
from .versions import attach_to, latest_version
from .errors import ConcurrentUpdate, NotAllowed, NotFound, ProcessFailed, RuleViolation, TaskAlreadyDone
from .projection import lock_open_rows, open_rows_of, sync_tasks
from .scripting import closed_days, diagram_functions, script_engine

logger = logging.getLogger(__name__)


def specs_of(definition: ProcessDefinition) -> tuple[Any, dict[str, Any]]:
    """The version's parsed specs (cached per sha256, DESIGN rule 5)."""
    return store.specs_for(definition.sha256, lambda: definition.bpmn, definition.key,
                           current_app.config["BPMN_MAX_BYTES"])


def form_for(definition: ProcessDefinition, spec_id: str) -> dict[str, Any] | None:
    name = definition.task_meta(spec_id).get("form")
    return definition.forms.get(name) if name else None


def _validated(schema: dict[str, Any] | None, raw: Mapping[str, Any], ctx: formschema.FormContext,
               from_html: bool) -> dict[str, Any]:
    if schema is None:
        return {}
    return formschema.validate(schema, raw, ctx, from_html=from_html)


def _title(definition: ProcessDefinition, data: Mapping[str, Any], now: datetime) -> str:
    expression = definition.meta.get("title")
    if expression:
        try:
            value = sandbox.evaluate(expression, data, diagram_functions(now))
            if value:
                return str(value)[:300]
        except (sandbox.SandboxError, NameError, TypeError, KeyError, IndexError, ValueError):
            logger.warning("title expression of %s v%s failed", definition.key, definition.version)
    return definition.name[:300]


def _run(action: Any) -> Any:
    """Turn a failure inside the diagram into :class:`ProcessFailed` with a readable message."""
    try:
        return action()
    except (SpiffWorkflowException, sandbox.SandboxError, handlers.HandlerError) as err:
        logger.warning("process step failed: %s", run.error_message(err))
        raise ProcessFailed(_l("A step of the process failed, so nothing was saved: %(detail)s",
                               detail=run.error_message(err))) from err


def start(process_key: str, contract: Contract, raw: Mapping[str, Any], user: User, *,
          from_html: bool = False) -> ProcessInstance:
    """Start ``process_key`` on ``contract`` with the request form's data, as ``user``.

    :raise NotFound: no such process, or the user may not start it on this contract (404: no leak)
    :raise FormInvalid: field-level messages
    :raise ProcessFailed: a step of the diagram failed
    """
    definition = latest_version(process_key)
    if definition is None or not access.can_start(user, definition.meta.get("starters", []), contract):
        raise NotFound()
    now = clock.now()
    start_task = definition.meta["start_task"]
    form = form_for(definition, start_task)
    data = _validated(form, raw, formschema.FormContext(contract, user), from_html)
    instance = ProcessInstance(
        definition_id=definition.id, process_key=definition.key, contract_id=contract.id, requester_id=user.id,
        reference=numbering.request_reference(definition.meta.get("reference_prefix", "REQ"), now),
        title=_title(definition, data, now), status=RUNNING, state="{}", serializer_version=store.SERIALIZER_VERSION,
        request_version=1, request_data=data, created_at=now, updated_at=now,
    )
    instance.definition, instance.contract = definition, contract
    db.session.add(instance)
    db.session.flush()
    storage.bind(form or {}, data, instance, user)
    spec, subprocess_specs = specs_of(definition)
    closed = closed_days()
    engine = script_engine(instance=instance, actor_id=user.id, now=now, closed=closed,
                           notify=notifications.notifier(instance), open_rows=[])  # a new request has none
    workflow = run.new_workflow(spec, subprocess_specs, engine, {
        "requester": user.username, "contract_number": contract.number,
    })
    _run(lambda: run.advance(workflow))
    first = next((t for t in run.ready_user_tasks(workflow) if t.spec_id == start_task), None)
    if first is None:
        raise ProcessFailed(_l("The request step %(task)s did not become ready.", task=start_task))
    _run(lambda: run.complete_user_task(workflow, run.user_task(workflow, first.guid), data))
    audit.record("request_submitted", actor_id=user.id, instance_id=instance.id, contract_id=contract.id,
                 detail={"process": definition.key, "version": definition.version, "reference": instance.reference,
                         "request_version": 1})
    # The request form never had an inbox row (the instance is new): it is written as completed.
    _save(instance, definition, workflow, now, closed, [], completed_unseen=first, completed_by=user,
          submitted=data)
    logger.info("user %s started %s as instance %s on contract %s", user.id, definition.key, instance.id, contract.id)
    return instance


# Every use of a task reads its request, the request's contract and who filed it (the page names
# them; completing mails them): one query, not four. The request's version comes from the
# versions this process has read before (:func:`versions.attach_to`).
_WITH_REQUEST = (so.joinedload(HumanTask.instance).joinedload(ProcessInstance.contract),
                 so.joinedload(HumanTask.instance).joinedload(ProcessInstance.requester))


def load_task(task_id: int, user: User) -> HumanTask:
    """The task if the user may see it.

    :raise NotFound: no such task, or not visible to the user (404, no leak)
    """
    # The session may hold it already (the page loaded it before completing it).
    task = db.session.identity_map.get(so.Session.identity_key(HumanTask, task_id))
    if task is None:
        task = db.session.scalars(_task_query(), {"task_id": task_id}).unique().one_or_none()
    if task is None or not access.can_see_task(user, task):
        raise NotFound()
    attach_to(task.instance)
    return task


@cache
def _task_query() -> sa.Select:
    """Built once (every task page and action runs it): ``session.get`` with options builds its
    statement anew each time, which costs more than running it."""
    return sa.select(HumanTask).where(HumanTask.id == sa.bindparam("task_id")).options(*_WITH_REQUEST)


def check_may_complete(task: HumanTask, instance: ProcessInstance, user: User) -> None:
    """Everything but the form: open, candidate, four eyes, segregation of duties.

    :raise TaskAlreadyDone: 409, naming who completed it and when
    :raise NotAllowed: 403, the user sees the task but is not among those who act on it
    :raise RuleViolation: 403, a provision forbids this person acting (Art. 15.2, four eyes)
    """
    if task.status != OPEN:
        raise TaskAlreadyDone(task)
    if not access.can_act_on(user, task):
        raise NotAllowed(_l("You can see this step but it is not yours to complete: it belongs to %(role)s.",
                            role=roles.label(task.lane)))
    meta = instance.definition.task_meta(task.spec_id)
    if meta.get("not_requester") and instance.requester_id == user.id:
        raise RuleViolation(_l("You made this request, so another person must decide on it (four-eyes rule)."))
    other = meta.get("separate_from")
    if other:
        done_by_user = db.session.scalar(
            sa.select(HumanTask.title).where(
                HumanTask.instance_id == instance.id, HumanTask.spec_id == other,
                HumanTask.completed_by_id == user.id).limit(1))
        if done_by_user is not None:
            raise RuleViolation(_l("You completed “%(task)s” on this request, so a different person must do this "
                                   "step (segregation of duties, Art. 15(2)).", task=done_by_user))


def why_not(task: HumanTask, user: User) -> Any | None:
    """The reason ``user`` may not complete ``task`` right now, or None if they may (for pages and the API)."""
    try:
        check_may_complete(task, task.instance, user)
    except (TaskAlreadyDone, NotAllowed, RuleViolation) as refusal:
        return refusal.message
    return None


def complete(task_id: int, raw: Mapping[str, Any], user: User, *, from_html: bool = False) -> HumanTask:
    """Complete a user task with the form's data, as ``user``; returns the completed task row.

    :raise NotFound, TaskAlreadyDone, NotAllowed, RuleViolation: see :func:`check_may_complete`
    :raise FormInvalid: field-level messages
    :raise ProcessFailed: a later step of the diagram failed; nothing is saved
    :raise ConcurrentUpdate: another action on the same request committed first (any flush may detect it)
    """
    try:
        return _complete(task_id, raw, user, from_html)
    except StaleDataError as err:
        raise ConcurrentUpdate(task_id) from err


def _complete(task_id: int, raw: Mapping[str, Any], user: User, from_html: bool) -> HumanTask:
    task = load_task(task_id, user)
    instance = task.instance
    # The request's open rows, read once before anything changes: the checks, the handlers and
    # the projection at the end all use them.
    if dbutil.has_row_locks():
        # Lock order instance -> task everywhere (the timer worker too), so no deadlock on PostgreSQL.
        # Read again once locked: the worker may have moved the request on (a reminder, an
        # escalation) since the page loaded it, and acting on that copy would fail as a conflict.
        dbutil.relock(instance)
        open_rows = lock_open_rows(instance)
        if task not in open_rows:
            dbutil.relock(task)  # done meanwhile: who did it, and when, for the refusal
    else:
        # SQLite locks the whole database at the first write instead of rows: reading the rows
        # again would lock nothing; the instance's lock_version makes a slower writer fail.
        open_rows = open_rows_of(instance)
    check_may_complete(task, instance, user)
    definition = instance.definition
    form = form_for(definition, task.spec_id)
    data = _validated(form, raw, formschema.FormContext(instance.contract, user, instance.id), from_html)
    storage.bind(form or {}, data, instance, user)
    now = clock.now()
    spec, subprocess_specs = specs_of(definition)
    meta = definition.task_meta(task.spec_id)
    closed = closed_days()
    workflow = store.loads(instance.state, spec, subprocess_specs)
    spiff_task = run.user_task(workflow, task.task_guid)
    if spiff_task is None:
        raise TaskAlreadyDone(task)
    decision = None
    if meta.get("decision"):
        # Numbering locks the year's counter row until commit, so every other decision in the
        # city waits for this one: it comes after all the reading and loading it does not need.
        decision = decisions.record(instance, task, data, user, now)
    workflow.script_engine = script_engine(instance=instance, actor_id=user.id, now=now, closed=closed,
                                           decision=decision, notify=notifications.notifier(instance),
                                           open_rows=open_rows)
    corrected: dict[str, Any] = {}
    if task.spec_id == definition.meta.get("start_task"):
        # The corrected request (it may be about something else now) is written with the state,
        # in _save's one UPDATE; the handlers meanwhile see it on the instance. Assigned as
        # pending changes, it would be flushed by the handlers' first query: two writes.
        corrected = {"request_version": instance.request_version + 1, "request_data": data,
                     "title": _title(definition, data, now)}
        for key, value in corrected.items():
            set_committed_value(instance, key, value)
    # A form answered again (the request after a send-back, any step a loop returns to) replaces
    # its earlier answers: a field left empty this time must not keep last time's value.
    replaces = list((form or {}).get("properties", {}))
    payload = dict(data)
    if decision is not None:
        payload["decision_number"] = decision.number
    _run(lambda: run.complete_user_task(workflow, spiff_task, payload, replaces))
    audit.record("task_completed", actor_id=user.id, instance_id=instance.id, contract_id=instance.contract_id,
                 detail={"task": task.spec_id, "title": task.title, "outcome": data.get("decision", ""),
                         "decision_number": decision.number if decision else None,
                         "comment": decision.comment if decision else None,
                         "request_version": instance.request_version})
    _save(instance, definition, workflow, now, closed, open_rows, completed_guid=task.task_guid, completed_by=user,
          outcome=str(data.get("decision", "")), submitted=data, decision=decision, also=corrected)
    logger.info("user %s completed task %s (%s) of instance %s", user.id, task.id, task.spec_id, instance.id)
    return task


def _outcome(instance: ProcessInstance, definition: ProcessDefinition, workflow: Any, decision: Any = None) -> str:
    """How the request ended: the end event's ``outcome`` property if the diagram states one
    (e.g. ``stopped``, ``expired``), else the last written decision (``decision`` if the
    closing action wrote one), else ``completed``."""
    end = run.reached_end(workflow)
    stated = definition.meta.get("nodes", {}).get(end or "", {}).get("properties", {}).get("outcome")
    last = decision.outcome if decision is not None else decisions.last_outcome(instance)
    return stated or last or "completed"


def due_instances(now: datetime, limit: int = 500) -> list[int]:
    """Ids of running instances with a timer due at ``now``, read through the indexed
    ``next_timer_at`` only (rule 4); earliest first."""
    return list(db.session.scalars(
        sa.select(ProcessInstance.id).where(ProcessInstance.next_timer_at <= now, ProcessInstance.status == RUNNING)
        .order_by(ProcessInstance.next_timer_at).limit(limit)))


def lock_due(instance_ids: list[int], now: datetime) -> list[ProcessInstance]:
    """Those of the instances still due at ``now``, locked ``FOR UPDATE SKIP LOCKED``
    (PostgreSQL) and read again, in one statement for a batch of the sweep: another worker,
    or a person acting on one, may have moved it on meanwhile; it is then left out."""
    return list(db.session.scalars(_due_instances_query(), {"ids": instance_ids, "now": now}))


def fire_timers_of(instance_id: int, now: datetime, closed: Collection[date] | None = None, *,
                   instance: ProcessInstance | None = None) -> int:
    """Fire one instance's due timers and run what follows; returns how many fired.

    ``closed``: the :func:`closed_days` of the sweep, read once for all its instances (read here if not given).
    ``instance``: the instance as :func:`lock_due` returned it; else it is locked here the same
    way, and if it is no longer due (see :func:`lock_due`) nothing happens.

    The caller commits, one instance or a batch at a time (the worker: :mod:`webapp.worker`).

    :raise ProcessFailed: a step after the timer failed; the caller rolls back and records it
    """
    if instance is None:
        instance = next(iter(lock_due([instance_id], now)), None)
        if instance is None:
            return 0
    definition = instance.definition
    spec, subprocess_specs = specs_of(definition)
    workflow = store.loads(instance.state, spec, subprocess_specs)
    closed = closed_days() if closed is None else closed
    # Read before the timers run: the reminder or escalation they lead to acts on one of them,
    # and the projection closes or keeps them at the end.
    open_rows = open_rows_of(instance)
    workflow.script_engine = script_engine(instance=instance, actor_id=None, now=now, closed=closed,
                                           notify=notifications.notifier(instance), open_rows=open_rows)
    try:
        fired = _run(lambda: run.fire_due_timers(workflow, now))
        if fired:
            audit.record("timers_fired", actor_id=None, instance_id=instance.id, contract_id=instance.contract_id,
                         detail={"count": fired})
        _save(instance, definition, workflow, now, closed, open_rows)
    except StaleDataError as err:
        raise ConcurrentUpdate() from err
    return fired


@cache
def _due_instances_query() -> sa.Select:
    """Built once (the sweep runs it). The contract comes along (handlers read it); the version
    does not: a sweep's instances share a few versions, which the session then already holds,
    and joining would read each version again for every instance."""
    return (sa.select(ProcessInstance)
            .where(ProcessInstance.id.in_(sa.bindparam("ids", expanding=True)),
                   ProcessInstance.next_timer_at <= sa.bindparam("now"), ProcessInstance.status == RUNNING)
            .order_by(ProcessInstance.id)
            .options(so.joinedload(ProcessInstance.contract))
            .with_for_update(skip_locked=True, of=ProcessInstance).execution_options(populate_existing=True))


def fire_due_timers(now: datetime, *, limit: int = 500) -> int:
    """Fire every due instance's timers in the current transaction (tools and tests; the
    worker calls :func:`fire_timers_of` itself, a few instances per transaction). Returns
    instances advanced."""
    closed = closed_days()
    return sum(bool(fire_timers_of(instance.id, now, closed, instance=instance))
               for instance in lock_due(due_instances(now, limit), now))


def postpone_failed_timer(instance_id: int, now: datetime, error: Exception, retry_after_minutes: int = 15) -> None:
    """After a failed timer step (already rolled back): record it and retry later, not in a loop."""
    instance = db.session.get(ProcessInstance, instance_id)
    if instance is None:
        return
    instance.next_timer_at = now + timedelta(minutes=retry_after_minutes)
    audit.record("timer_failed", actor_id=None, instance_id=instance.id, contract_id=instance.contract_id,
                 detail={"error": str(error)[:500], "retry_at": instance.next_timer_at.isoformat()})
    logger.error("timer step of instance %s failed; retry at %s: %s", instance_id, instance.next_timer_at, error)


def _save(instance: ProcessInstance, definition: ProcessDefinition, workflow: Any, now: datetime,
          closed: Collection[date], open_rows: list[HumanTask], *,
          completed_guid: str | None = None, completed_by: User | None = None, outcome: str = "",
          submitted: dict[str, Any] | None = None, completed_unseen: run.ReadyTask | None = None,
          decision: Any = None, also: dict[str, Any] | None = None) -> None:
    """Write the workflow back, with ``also`` (more of the instance's columns); ``open_rows``: the
    instance's open inbox rows, read before it changed.

    The instance is written first, in one versioned UPDATE (:func:`dbutil.update_versioned`): an
    action that lost the race to another on the same request fails there, before its inbox rows."""
    values: dict[str, Any] = dict(also or {})
    if workflow.is_completed() and instance.status == RUNNING:
        values["outcome"] = _outcome(instance, definition, workflow, decision)
        values["status"] = COMPLETED
        values["completed_at"] = now
        audit.record("request_closed", actor_id=completed_by.id if completed_by else None, instance_id=instance.id,
                     contract_id=instance.contract_id, detail={"outcome": values["outcome"]})
    values.update(state=store.dumps(workflow), serializer_version=store.SERIALIZER_VERSION,
                  next_timer_at=run.next_timer_at(workflow),
                  path=run.completed_steps(workflow),  # the instance diagram reads it, never the state
                  updated_at=now)
    dbutil.update_versioned(instance, values)
    sync_tasks(instance, definition, open_rows, run.ready_user_tasks(workflow), now, completed_guid=completed_guid,
               completed_by_id=completed_by.id if completed_by else None, outcome=outcome, submitted=submitted,
               completed_unseen=completed_unseen, extra_closed=closed, on_new=notifications.task_created)
    db.session.flush()

