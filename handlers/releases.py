"""The release register (Art. 13, 15): each step of ``production_migration`` writes its evidence here.

The diagram calls these in order: ``open_release`` after the city's written approval,
``record_backup`` after the backup step, ``record_migration`` after the migration step,
``record_report`` after each work report, ``close_release`` after the city confirms.
Each refuses to run out of order, so a diagram edited to skip the approval or the backup
fails loudly instead of recording a migration the provisions forbid. The engine enforces
segregation of duties (``separate_from`` on the migration task); ``record_migration``
checks it again so the register can never name the developer as the person who migrated.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from webapp.engine.calendar import parse_local
from webapp.models import HumanTask
from webapp.models.releases import (
    APPROVED,
    BACKED_UP,
    CONFIG,
    CONFIRMED,
    MIGRATED,
    PROGRAM,
    REPORTED,
    ROLLED_BACK,
    SUCCESS,
    ReleaseRecord,
)

from . import Context, HandlerError, handler
from ._guards import register_row, require_approval


def local_time(value: Any) -> datetime:
    """A form's ``local-datetime`` (Japan time, no offset) as aware UTC, as the register stores it."""
    try:
        return parse_local(value)
    except ValueError as err:
        raise HandlerError(_l("%(value)s is not a date and time.", value=repr(value))) from err


def lines(text: str | None) -> list[str]:
    """A textarea of one entry per line as a list, blank lines dropped."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _release(ctx: Context) -> ReleaseRecord:
    return register_row(ctx, ReleaseRecord,
                        _l("This request has no entry in the release register: the city has not approved it."))


def _expect(record: ReleaseRecord, *statuses: str, step: Any) -> None:
    if record.status not in statuses:
        raise HandlerError(_l("%(step)s cannot be recorded now: the release is %(status)s, expected %(expected)s.",
                              step=step, status=record.status, expected=" / ".join(statuses)))


def _developers(ctx: Context) -> set[int]:
    """Who prepared the change: the requester and anyone who (re)filed the request form."""
    start_task = (ctx.instance.definition.meta or {}).get("start_task")
    filed = ctx.session.scalars(sa.select(HumanTask.completed_by_id).where(
        HumanTask.instance_id == ctx.instance.id, HumanTask.spec_id == start_task,
        HumanTask.completed_by_id.is_not(None)))
    return {ctx.instance.requester_id, *filed}


@handler("open_release")
def open_release(ctx: Context) -> dict[str, Any]:
    """Open the register entry from the approved request, citing the written approval's number.

    Reads the request as last validated (``instance.request_data``), not the task data, so
    fields of a variant abandoned on resubmission never reach the register.
    """
    require_approval(ctx, _l("A release can only be registered after the city's written approval."))
    request = ctx.instance.request_data
    variant = request.get("variant")
    if variant not in (PROGRAM, CONFIG):
        raise HandlerError(_l("Unknown kind of release: %(variant)s.", variant=repr(variant)))
    record = ReleaseRecord(
        contract_id=ctx.instance.contract_id, instance_id=ctx.instance.id, variant=variant,
        title=str(request.get("change_title", ""))[:200],
        components=lines(request.get("components" if variant == PROGRAM else "affected_systems")),
        window_start=local_time(request["window_start"]), window_end=local_time(request["window_end"]),
        status=APPROVED, approval_number=ctx.decision.number, approved_at=ctx.now, created_at=ctx.now,
        updated_at=ctx.now,
    )
    ctx.session.add(record)
    ctx.session.flush()
    ctx.audit("release_registered", {"release": record.id, "variant": variant, "decision": ctx.decision.number})
    return {"release_id": record.id, "approval_number": ctx.decision.number}


@handler("record_backup")
def record_backup(ctx: Context, items: str, medium: str, location: str, taken_at: str, verification: str,
                  verified: bool) -> dict[str, Any]:
    """Record the backup taken before the migration (Art. 15(3)); only a verified backup counts."""
    record = _release(ctx)
    _expect(record, APPROVED, step=_l("The backup"))
    if verified is not True:
        raise HandlerError(_l("The backup must be verified before the migration can proceed (Art. 15(3))."))
    record.backup_items, record.backup_medium, record.backup_location = items, medium, location
    record.backup_verification, record.backup_verified = verification, True
    record.backup_taken_at = local_time(taken_at)
    record.backup_recorded_by_id, record.backup_recorded_at = ctx.actor_id, ctx.now
    record.status, record.updated_at = BACKED_UP, ctx.now
    ctx.session.flush()
    ctx.audit("release_backup_recorded", {"release": record.id, "medium": medium, "location": location})
    return {"backup_recorded": True}


@handler("record_migration")
def record_migration(ctx: Context, started_at: str, finished_at: str) -> dict[str, Any]:
    """Record who migrated and when; refused without a recorded backup, or for the developer (Art. 15(2), (3))."""
    record = _release(ctx)
    if not record.backup_recorded:
        raise HandlerError(_l("No backup has been recorded for this release; record it before migrating "
                              "(Art. 15(3))."))
    _expect(record, BACKED_UP, step=_l("The migration"))
    if ctx.actor_id is None or ctx.actor_id in _developers(ctx):
        raise HandlerError(_l("You prepared this change, so a different person must migrate it to production "
                               "(segregation of duties, Art. 15(2))."))
    record.performed_by_id = ctx.actor_id
    record.migration_started_at, record.migration_finished_at = local_time(started_at), local_time(finished_at)
    record.status, record.updated_at = MIGRATED, ctx.now
    ctx.session.flush()
    ctx.audit("release_migrated", {"release": record.id, "performed_by": ctx.actor_id})
    return {"performed_by": ctx.actor_id}


@handler("record_report")
def record_report(ctx: Context, result: str, post_check: str) -> dict[str, Any]:
    """Record the work report's result; a corrected report (after a send-back) replaces the last one."""
    record = _release(ctx)
    _expect(record, MIGRATED, REPORTED, step=_l("The work report"))
    if result not in (SUCCESS, ROLLED_BACK):
        raise HandlerError(_l("Unknown result: %(result)s.", result=repr(result)))
    record.result, record.post_check, record.reported_at = result, post_check, ctx.now
    record.status, record.updated_at = REPORTED, ctx.now
    ctx.session.flush()
    ctx.audit("release_reported", {"release": record.id, "result": result})
    return {"result": result}


@handler("close_release")
def close_release(ctx: Context) -> dict[str, Any]:
    """Record the city's confirmation of completion with its decision number."""
    require_approval(ctx, _l("A release can only be closed by the city's confirmation."))
    record = _release(ctx)
    _expect(record, REPORTED, step=_l("The confirmation"))
    record.confirmation_number, record.confirmed_at = ctx.decision.number, ctx.now
    record.status, record.updated_at = CONFIRMED, ctx.now
    ctx.session.flush()
    ctx.audit("release_confirmed", {"release": record.id, "decision": ctx.decision.number})
    return {"confirmation_number": ctx.decision.number}
