"""Written consent as a record (DESIGN rule 8): who, when, what, on which version, numbered."""
from __future__ import annotations

import hashlib
import json
from datetime import datetime
from functools import cache
from typing import Any

import sqlalchemy as sa

from . import numbering
from .extensions import db
from .models import Decision, HumanTask, ProcessInstance, User


def record(instance: ProcessInstance, task: HumanTask, data: dict[str, Any], user: User, at: datetime) -> Decision:
    """Number and store a decision on the request as it stands (its current version and content)."""
    content = {"request": instance.request_data, "decision": data}
    digest = hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()
    values = dict(
        number=numbering.decision_number(at), instance_id=instance.id, human_task_id=task.id, task_title=task.title,
        outcome=str(data.get("decision", "")), comment=str(data.get("comment", "") or ""), decided_by_id=user.id,
        decided_at=at, request_version=instance.request_version, content=content, content_sha256=digest,
    )
    # A row to write, not an object the session has to track and flush: the action and its
    # handlers read the decision's fields (number, outcome, content), never its id.
    db.session.execute(_insert(), values)
    return Decision(**values)


@cache
def _insert() -> sa.Insert:
    return sa.insert(Decision.__table__)


def for_instance(instance_id: int) -> list[Decision]:
    return list(db.session.scalars(
        sa.select(Decision).where(Decision.instance_id == instance_id).order_by(Decision.decided_at, Decision.id)))


def approval_on_version(instance: ProcessInstance, version: int, *, lane: str | None = None,
                        spec_id: str | None = None) -> Decision | None:
    """The newest approving decision on ``version`` of the request, of one lane or one task if given.

    A register entry cites the approvals it stands on; an approval of an earlier version
    (before a send-back and resubmission) does not cover what was finally filed.
    """
    query = sa.select(Decision).join(HumanTask, HumanTask.id == Decision.human_task_id).where(
        Decision.instance_id == instance.id, Decision.outcome == "approve", Decision.request_version == version)
    if lane is not None:
        query = query.where(HumanTask.lane == lane)
    if spec_id is not None:
        query = query.where(HumanTask.spec_id == spec_id)
    return db.session.scalar(query.order_by(Decision.decided_at.desc(), Decision.id.desc()).limit(1))


def last_outcome(instance: ProcessInstance) -> str | None:
    return db.session.scalar(
        sa.select(Decision.outcome).where(Decision.instance_id == instance.id)
        .order_by(Decision.decided_at.desc(), Decision.id.desc()).limit(1))
