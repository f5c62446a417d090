"""Queries for the administrator's overview: where approvals are overdue, oldest first."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa

from ..extensions import db
from ..models import Contract, HumanTask, Organization
from ..models.workflow import OPEN


@dataclass
class OverdueGroup:
    label: str
    count: int
    oldest_due: datetime
    link_args: dict[str, Any]


def overdue_by_department(now: datetime) -> list[OverdueGroup]:
    rows = db.session.execute(
        sa.select(Organization.name, HumanTask.department_id, sa.func.count(), sa.func.min(HumanTask.due_at))
        .join(Organization, Organization.id == HumanTask.department_id)
        .where(HumanTask.status == OPEN, HumanTask.due_at < now)
        .group_by(Organization.name, HumanTask.department_id).order_by(sa.func.min(HumanTask.due_at))).all()
    return [OverdueGroup(name, count, _aware(oldest), {}) for name, _dept, count, oldest in rows]


def overdue_by_contract(now: datetime) -> list[OverdueGroup]:
    rows = db.session.execute(
        sa.select(Contract.number, Contract.title, HumanTask.contract_id, sa.func.count(), sa.func.min(HumanTask.due_at))
        .join(Contract, Contract.id == HumanTask.contract_id)
        .where(HumanTask.status == OPEN, HumanTask.due_at < now)
        .group_by(Contract.number, Contract.title, HumanTask.contract_id)
        .order_by(sa.func.min(HumanTask.due_at))).all()
    return [OverdueGroup(f"{number} {title}", count, _aware(oldest), {"contract": cid, "overdue": 1, "scope": "all"})
            for number, title, cid, count, oldest in rows]


def _aware(value: datetime | str) -> datetime:
    """Aggregates bypass the column type (SQLite even returns text): make them aware UTC."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
