"""Rows as JSON the API returns."""
from __future__ import annotations

from typing import Any

from ..models import Decision, HumanTask, ProcessInstance


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def task(row: HumanTask) -> dict[str, Any]:
    return {
        "id": row.id, "title": row.title, "step": row.spec_id, "lane": row.lane, "status": row.status,
        "process": row.process_key, "instance_id": row.instance_id, "reference": row.instance_reference,
        "instance_title": row.instance_title, "contract_id": row.contract_id, "due_at": _iso(row.due_at),
        "created_at": _iso(row.created_at), "completed_at": _iso(row.completed_at),
        "completed_by": row.completed_by.username if row.completed_by else None, "outcome": row.outcome or None,
        "escalation_level": row.escalation_level,
    }


def instance(row: ProcessInstance) -> dict[str, Any]:
    return {
        "id": row.id, "reference": row.reference, "title": row.title, "process": row.process_key,
        "version": row.definition.version, "contract_id": row.contract_id, "contract_number": row.contract.number,
        "requester": row.requester.username, "status": row.status, "outcome": row.outcome or None,
        "request_version": row.request_version, "request": row.request_data, "created_at": _iso(row.created_at),
        "completed_at": _iso(row.completed_at),
    }


def decision(row: Decision) -> dict[str, Any]:
    return {
        "id": row.id, "number": row.number, "step": row.task_title, "outcome": row.outcome, "comment": row.comment,
        "decided_by": row.decided_by.username, "decided_at": _iso(row.decided_at),
        "request_version": row.request_version, "content_sha256": row.content_sha256,
    }
