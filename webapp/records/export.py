"""Evidence export for an audit (Art. 18): everything recorded for one contract, as a ZIP.

Contents: the contract, every request with its data, steps, decisions and history, the
attachments, every register row of the contract, the contract's audit events with their
chain links and the chain head at export time, and ``manifest.json`` listing the sha256
of every file so the package itself can be checked.
"""
from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from .. import clock, storage
from ..extensions import db
from ..models import (
    Attachment,
    AuditChain,
    AuditEvent,
    Contract,
    Decision,
    HumanTask,
    ProcessInstance,
    User,
)

_CORE_TABLES = {"process_instance", "human_task", "decision", "attachment", "audit_event", "role_grant",
                "task_candidate", "outbox_message"}


def _json(value: Any) -> bytes:
    def default(obj: Any) -> Any:
        if isinstance(obj, (datetime, date)):
            return obj.isoformat()
        if isinstance(obj, bytes):
            return None
        return str(obj)

    return json.dumps(value, ensure_ascii=False, indent=2, default=default).encode("utf-8")


def _row(obj: Any) -> dict[str, Any]:
    return {c.key: getattr(obj, c.key) for c in sa.inspect(obj).mapper.column_attrs}


def _registers(contract_id: int) -> dict[str, list[dict[str, Any]]]:
    """Every other table with a ``contract_id``: the flows' registers, whatever flows exist."""
    out: dict[str, list[dict[str, Any]]] = {}
    for mapper in db.Model.registry.mappers:
        table = mapper.local_table
        if table.name in _CORE_TABLES or "contract_id" not in table.c or table.name == "contract":
            continue
        rows = db.session.scalars(sa.select(mapper.class_).where(table.c.contract_id == contract_id)).all()
        out[table.name] = [_row(r) for r in rows]
    return out


def build(contract: Contract, exported_by: User) -> bytes:
    files: dict[str, bytes] = {}
    names = dict(db.session.execute(sa.select(User.id, User.username)).all())
    files["contract.json"] = _json({**_row(contract), "department": contract.department.name,
                                    "contractor": contract.contractor.name})
    instances = db.session.scalars(sa.select(ProcessInstance).where(ProcessInstance.contract_id == contract.id)
                                   .order_by(ProcessInstance.id)).all()
    for instance in instances:
        base = f"requests/{instance.reference}"
        record = {k: v for k, v in _row(instance).items() if k != "state"}
        record["requester"] = names.get(instance.requester_id)
        record["process_version"] = instance.definition.version
        record["steps"] = [{**_row(t), "completed_by": names.get(t.completed_by_id)} for t in db.session.scalars(
            sa.select(HumanTask).where(HumanTask.instance_id == instance.id).order_by(HumanTask.id))]
        record["decisions"] = [{**_row(d), "decided_by": names.get(d.decided_by_id)} for d in db.session.scalars(
            sa.select(Decision).where(Decision.instance_id == instance.id).order_by(Decision.id))]
        files[f"{base}/request.json"] = _json(record)
        for attachment in db.session.scalars(sa.select(Attachment).where(Attachment.instance_id == instance.id)):
            path = storage.path_for(attachment.sha256)
            if path.exists():
                files[f"{base}/attachments/{attachment.id}_{attachment.filename}"] = path.read_bytes()
    files["registers.json"] = _json(_registers(contract.id))
    events = db.session.scalars(
        sa.select(AuditEvent).where(sa.or_(AuditEvent.contract_id == contract.id, AuditEvent.instance_id.in_(
            sa.select(ProcessInstance.id).where(ProcessInstance.contract_id == contract.id))))
        .order_by(AuditEvent.seq)).all()
    head = db.session.get(AuditChain, 1)
    files["audit/events.json"] = _json([{**_row(e), "actor": names.get(e.actor_id)} for e in events])
    files["audit/chain_head.json"] = _json({
        "seq": head.seq if head else 0, "last_hash": head.last_hash if head else None,
        "note": "Each event's hash is sha256 over [prev_hash, seq, at, actor_id, action, instance_id, contract_id, "
                "detail] as compact sorted JSON; `shodaku verify-audit` checks the whole chain up to this head.",
    })
    manifest = {
        "contract": contract.number, "exported_at": clock.now().isoformat(), "exported_by": exported_by.username,
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())},
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted(files.items()):
            archive.writestr(name, data)
        archive.writestr("manifest.json", _json(manifest))
    return buffer.getvalue()
