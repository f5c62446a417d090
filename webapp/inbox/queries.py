"""Inbox queries: the listings read ``human_task`` only, through its indexes (DESIGN rule 3)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

import sqlalchemy as sa

from .. import access, clock
from ..engine.calendar import TOKYO, to_tokyo
from ..extensions import db
from ..dbutil import like_pattern
from ..ids import id_arg
from ..models import Decision, HumanTask, TaskCandidate, User
from ..models.workflow import CANCELLED, DONE, OPEN

# Plain column orders (NULLS LAST, not "due_at IS NULL" first) so the due-date index serves them.
SORTS = {
    "due": (HumanTask.due_at.asc().nulls_last(), HumanTask.id.asc()),
    "-due": (HumanTask.due_at.desc().nulls_last(), HumanTask.id.desc()),
    "age": (HumanTask.created_at.asc(), HumanTask.id.asc()),
    "-age": (HumanTask.created_at.desc(), HumanTask.id.desc()),
}


@dataclass
class InboxFilter:
    scope: str = "mine"  # mine (tasks I may act on) | all (tasks I may see)
    assigned: bool = False  # only tasks assigned to me or added to me personally (not my groups')
    status: str = "open"  # open | completed | all
    process: str = ""
    contract_id: int | None = None
    overdue: bool = False
    due_today: bool = False
    q: str = ""
    sort: str = "due"
    page: int = 1

    @property
    def unfiltered(self) -> bool:
        """Open tasks, nothing else narrowing them: the listing's total is then the open count."""
        return self.status == "open" and not (self.process or self.contract_id or self.overdue or self.due_today
                                              or self.q or self.assigned)

    @classmethod
    def from_args(cls, args, user: User) -> InboxFilter:
        """The filter asked for; "all" falls back to "mine" for someone who may not see all."""
        f = cls()
        wants_all = args.get("scope") == "all" and access.scope_for(user).sees_all
        f.scope = "all" if wants_all else "mine"
        f.status = args.get("status", "open") if args.get("status") in ("open", "completed", "all") else "open"
        f.process = (args.get("process") or "")[:80]
        f.contract_id = id_arg(args, "contract")
        f.overdue = args.get("overdue") == "1"
        f.assigned = args.get("assigned") == "1"
        f.due_today = args.get("due_today") == "1"
        f.q = (args.get("q") or "").strip()[:100]
        f.sort = args.get("sort") if args.get("sort") in SORTS else "due"
        f.page = max(1, min(args.get("page", 1, type=int) or 1, 10_000))
        return f


@dataclass
class InboxPage:
    tasks: list[HumanTask]
    total: int
    page: int
    pages: int
    counts: dict[str, int] = field(default_factory=dict)


def _today_end(now: datetime) -> datetime:
    local = to_tokyo(now).date()
    return datetime.combine(local + timedelta(days=1), time(0, 0), TOKYO)


def _base(user: User, f: InboxFilter) -> sa.Select:
    closed = f.status != "open"
    where = access.visible_task_filter(user, closed=closed) if f.scope == "all" else \
        access.actionable_task_filter(user, closed=closed)
    return sa.select(HumanTask).where(where)


def list_tasks(user: User, f: InboxFilter, per_page: int) -> InboxPage:
    now = clock.now()
    query = _base(user, f)
    if f.status == "open":
        query = query.where(HumanTask.status == OPEN)
    elif f.status == "completed":
        query = query.where(HumanTask.status.in_((DONE, CANCELLED)))
    if f.assigned:
        query = query.where(sa.or_(
            HumanTask.assignee_id == user.id,
            HumanTask.id.in_(sa.select(TaskCandidate.human_task_id).where(TaskCandidate.user_id == user.id))))
    if f.process:
        query = query.where(HumanTask.process_key == f.process)
    if f.contract_id:
        query = query.where(HumanTask.contract_id == f.contract_id)
    if f.overdue:
        query = query.where(HumanTask.status == OPEN, HumanTask.due_at < now)
    if f.due_today:
        query = query.where(HumanTask.status == OPEN, HumanTask.due_at >= now, HumanTask.due_at < _today_end(now))
    if f.q:
        pattern = like_pattern(f.q)
        query = query.where(sa.or_(HumanTask.title.ilike(pattern, escape="\\"),
                                   HumanTask.instance_title.ilike(pattern, escape="\\"),
                                   HumanTask.instance_reference.ilike(pattern, escape="\\")))
    summary = counts(user, f.scope, now)
    total = summary["open"] if f.unfiltered else \
        db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    pages = max(1, -(-total // per_page))
    page = min(f.page, pages)
    rows = db.session.scalars(query.order_by(*SORTS[f.sort]).limit(per_page).offset((page - 1) * per_page)).all()
    return InboxPage(list(rows), total, page, pages, summary)


def counts(user: User, scope: str, now: datetime) -> dict[str, int]:
    """Open, overdue and due-today tasks the person may act on (or see, for "all").

    Three counts over ranges of the due-date index rather than one pass with a FILTER per
    count: the overdue and due-today counts then read only their own stretch of the index,
    and the whole count reads the index without evaluating anything per row. For an
    administrator's 100,000 open tasks on SQLite: 4 ms instead of 16.
    """
    where = access.visible_task_filter(user) if scope == "all" else access.actionable_task_filter(user)

    def count(*narrower: sa.ColumnElement[bool]) -> sa.ScalarSelect[int]:
        return sa.select(sa.func.count()).select_from(HumanTask).where(HumanTask.status == OPEN, where, *narrower) \
            .scalar_subquery()

    row = db.session.execute(sa.select(
        count(), count(HumanTask.due_at < now), count(HumanTask.due_at >= now, HumanTask.due_at < _today_end(now)),
    )).one()
    return {"open": row[0], "overdue": row[1], "due_today": row[2]}


def sent_back_by(instance_id: int) -> Decision | None:
    """The request's newest decision, if it sent the request back (shown on the correction task)."""
    latest = db.session.scalar(sa.select(Decision).where(Decision.instance_id == instance_id)
                               .order_by(Decision.decided_at.desc(), Decision.id.desc()).limit(1))
    return latest if latest is not None and latest.outcome == "send_back" else None
