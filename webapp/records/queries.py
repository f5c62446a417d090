"""Record listings, filtered by what the user may see (DESIGN rule 7)."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
import sqlalchemy.orm as so

from .. import access
from ..extensions import db
from ..dbutil import like_pattern
from ..ids import id_arg
from ..models import ProcessInstance, User


def page_arg(args) -> int:
    """The ``page`` query argument, 1 to 10,000 (anything else is the first page)."""
    return max(1, min(args.get("page", 1, type=int) or 1, 10_000))


@dataclass
class InstanceFilter:
    process: str = ""
    status: str = ""
    contract_id: int | None = None
    mine: bool = False
    q: str = ""
    page: int = 1

    @classmethod
    def from_args(cls, args) -> "InstanceFilter":
        return cls(
            process=(args.get("process") or "")[:80],
            status=args.get("status") if args.get("status") in ("running", "completed") else "",
            contract_id=id_arg(args, "contract"), mine=args.get("mine") == "1",
            q=(args.get("q") or "").strip()[:100], page=page_arg(args),
        )


def instances(user: User, f: InstanceFilter, per_page: int) -> tuple[list[ProcessInstance], int]:
    query = sa.select(ProcessInstance).where(access.contract_filter(user, ProcessInstance.contract_id))
    if f.process:
        query = query.where(ProcessInstance.process_key == f.process)
    if f.status:
        query = query.where(ProcessInstance.status == f.status)
    if f.contract_id:
        query = query.where(ProcessInstance.contract_id == f.contract_id)
    if f.mine:
        query = query.where(ProcessInstance.requester_id == user.id)
    if f.q:
        pattern = like_pattern(f.q)
        query = query.where(sa.or_(ProcessInstance.title.ilike(pattern, escape="\\"),
                                   ProcessInstance.reference.ilike(pattern, escape="\\")))
    total = db.session.scalar(query.with_only_columns(sa.func.count(), maintain_column_froms=True)) or 0
    rows = db.session.scalars(query.options(*_LISTED)
                              .order_by(ProcessInstance.created_at.desc(), ProcessInstance.id.desc())
                              .limit(per_page).offset((f.page - 1) * per_page)).all()
    return list(rows), total


# What a listed row shows, and the requesters in one query: not each request's workflow state
# (10-40 KB apiece), nor a query per row for who filed it.
_LISTED = (so.load_only(ProcessInstance.reference, ProcessInstance.title, ProcessInstance.process_key,
                        ProcessInstance.contract_id, ProcessInstance.requester_id, ProcessInstance.status,
                        ProcessInstance.created_at),
           so.selectinload(ProcessInstance.requester))

