"""What the task, instance and consent pages show, computed from rows (never from workflow JSON)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from . import formschema, roles
from .extensions import db
from .models import Attachment, AuditEvent, HumanTask, OutboxMessage, ProcessInstance, User
from .models.workflow import DONE, OPEN

ACTION_LABELS = {
    "request_submitted": _l("Request submitted"),
    "task_completed": _l("Step completed"),
    "request_closed": _l("Request closed"),
    "timers_fired": _l("Deadline reached"),
    "copy_registered": _l("Entered in the copy register"),
    "task_escalated": _l("Escalated"),
    "task_reminded": _l("Reminder sent"),
    "device_registered": _l("Device entered in the device register"),
    "device_request_stopped": _l("Stopped: the serial number did not match"),
    "device_permission_lapsed": _l("Permission lapsed unused"),
    "device_withdrawn": _l("Device removal reported"),
    "device_expired": _l("Permission period ended"),
    "release_registered": _l("Migration entered in the release register"),
    "release_backup_recorded": _l("Backup recorded"),
    "release_migrated": _l("Migration performed"),
    "release_reported": _l("Work report submitted"),
    "release_confirmed": _l("Completion confirmed"),
    "subcontract_equivalence_checked": _l("Security measures compared"),
    "subcontractor_registered": _l("Subcontractor entered in the register"),
    "incident_opened": _l("Incident entered in the incident register"),
    "incident_triaged": _l("Severity assessed"),
    "incident_closed": _l("Incident closed"),
    "incident_reopened": _l("Incident reopened"),
}
# How a request or decision ended, and where a register row stands: one wording per code,
# because the same code (withdrawn, expired) appears on the request page and in its register.
OUTCOME_LABELS = {
    "approve": _l("Approved"), "reject": _l("Rejected"), "send_back": _l("Sent back for correction"),
    "completed": _l("Completed"), "stopped": _l("Stopped"), "lapsed": _l("Lapsed unused"),
    "withdrawn": _l("Withdrawn"), "expired": _l("Permission period ended"), "closed": _l("Closed"),
    "permitted": _l("Permitted"), "approved": _l("Approved"), "ended": _l("Ended"), "backed_up": _l("Backed up"),
    "migrated": _l("Migrated"), "reported": _l("Reported"), "confirmed": _l("Completion confirmed"),
}


@dataclass
class Field:
    label: str
    value: str
    name: str


def fields(schema: dict[str, Any] | None, data: dict[str, Any], ctx: formschema.FormContext) -> list[Field]:
    """Submitted data as label/value pairs, in the form's order, with register labels."""
    if not schema:
        return [Field(k, str(v), k) for k, v in data.items()]
    resolved = formschema.resolve(schema, ctx)
    labels = formschema.field_labels(resolved)
    out = []
    for name, prop in resolved.get("properties", {}).items():
        if name not in data or prop.get("x-widget") == "attachments":
            continue
        out.append(Field(labels[name], formschema.display_value(prop, data[name]), name))
    return out


@dataclass
class Step:
    node_id: str
    name: str
    lane: str
    state: str  # done | current | waiting


def steps(instance: ProcessInstance) -> list[Step]:
    """The diagram's user and service steps in reading order, with where the request stands."""
    meta = instance.definition.meta
    rows = db.session.scalars(sa.select(HumanTask).where(HumanTask.instance_id == instance.id)).all()
    done = {r.spec_id for r in rows if r.status == DONE}
    current = {r.spec_id for r in rows if r.status == OPEN}
    out = []
    for node_id in meta.get("order", []):
        node = meta["nodes"].get(node_id, {})
        if node.get("type") not in ("userTask", "manualTask", "serviceTask"):
            continue
        state = "current" if node_id in current else "done" if node_id in done else "waiting"
        out.append(Step(node_id, node.get("name") or node_id, roles.label(node.get("lane", "")) if node.get("lane") else "",
                        state))
    return out


@dataclass
class HistoryEntry:
    at: Any
    actor: str
    action: str
    detail: str
    outcome: str


def history(instance: ProcessInstance) -> list[HistoryEntry]:
    events = db.session.execute(
        sa.select(AuditEvent, User.display_name).outerjoin(User, AuditEvent.actor_id == User.id)
        .where(AuditEvent.instance_id == instance.id).order_by(AuditEvent.seq)
    ).all()
    out = []
    for event, actor in events:
        detail = event.detail or {}
        text = detail.get("title") or ""
        if detail.get("decision_number"):
            text = f"{text} ({detail['decision_number']})"
        if detail.get("comment"):
            text = f"{text}: {detail['comment']}"
        if event.action == "task_escalated":
            text = str(_l("%(title)s — level %(level)s: %(people)s", title=text, level=detail.get("level"),
                          people="、".join(detail.get("recipients", []))))
        outcome = detail.get("outcome") or ""
        out.append(HistoryEntry(event.at, actor or str(_l("System")), str(ACTION_LABELS.get(event.action, event.action)),
                                text, str(OUTCOME_LABELS.get(outcome, outcome))))
    return out


def completed_tasks(instance: ProcessInstance) -> list[HumanTask]:
    return list(db.session.scalars(
        sa.select(HumanTask).where(HumanTask.instance_id == instance.id, HumanTask.status == DONE)
        .order_by(HumanTask.completed_at, HumanTask.id)))


def attachments(instance: ProcessInstance) -> list[Attachment]:
    return list(db.session.scalars(
        sa.select(Attachment).where(Attachment.instance_id == instance.id).order_by(Attachment.uploaded_at)))


@dataclass
class Notice:
    kind: str
    recipient: str
    queued_at: Any
    sent_at: Any
    attempts: int


NOTICE_LABELS = {
    "task_created": _l("New task"), "task_overdue": _l("Overdue reminder"), "task_escalated": _l("Escalation"),
    "request_approved": _l("Approval notice"), "request_rejected": _l("Refusal notice"), "digest": _l("Daily digest"),
    "device_permitted": _l("Permission notice"), "device_stopped": _l("Stop notice"),
    "device_lapsed": _l("Lapse notice"), "device_expired": _l("Expiry notice"),
    "release_approved": _l("Approval notice"), "release_confirmed": _l("Completion notice"),
    "subcontract_approved": _l("Approval notice"), "incident_reported": _l("Incident report"),
    "incident_closed": _l("Closure notice"),
}


def notices(instance: ProcessInstance) -> list[Notice]:
    """Who was notified of what about this request, and when the mail went out (or why not yet)."""
    rows = db.session.execute(
        sa.select(OutboxMessage, User.display_name).outerjoin(User, OutboxMessage.recipient_id == User.id)
        .where(OutboxMessage.instance_id == instance.id).order_by(OutboxMessage.id)).all()
    return [Notice(str(NOTICE_LABELS.get(m.kind, m.kind)), name or "—", m.created_at, m.sent_at, m.attempts)
            for m, name in rows]


def outcome_label(outcome: str) -> str:
    return str(OUTCOME_LABELS.get(outcome, outcome))
