"""Queries for the administrator's overview: where approvals are overdue, oldest first."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from ..extensions import db
from ..models import Contract, HumanTask, Organization
from ..models.workflow import OPEN


@dataclass
class OverdueGroup:
    label: str
    count: int
    oldest_due: datetime  # aware UTC: min() keeps the column's type
    contract_id: int | None = None  # set for a contract's group: the page links to its overdue tasks


def overdue_by_department(now: datetime) -> list[OverdueGroup]:
    rows = db.session.execute(
        sa.select(Organization.name, sa.func.count(), sa.func.min(HumanTask.due_at))
        .join(Organization, Organization.id == HumanTask.department_id)
        .where(HumanTask.status == OPEN, HumanTask.due_at < now)
        .group_by(Organization.id, Organization.name).order_by(sa.func.min(HumanTask.due_at))).all()
    return [OverdueGroup(name, count, oldest) for name, count, oldest in rows]


def overdue_by_contract(now: datetime) -> list[OverdueGroup]:
    rows = db.session.execute(
        sa.select(Contract.number, Contract.title, HumanTask.contract_id, sa.func.count(), sa.func.min(HumanTask.due_at))
        .join(Contract, Contract.id == HumanTask.contract_id)
        .where(HumanTask.status == OPEN, HumanTask.due_at < now)
        .group_by(Contract.number, Contract.title, HumanTask.contract_id)
        .order_by(sa.func.min(HumanTask.due_at))).all()
    return [OverdueGroup(f"{number} {title}", count, oldest, cid) for number, title, cid, count, oldest in rows]
