"""Who may see and do what, by role *and* by contract (DESIGN rule 7).

Every query that returns tasks, instances, records or files filters through here. The
rules, in one place:

* a role is held globally, for a city department (covering that department's contracts),
  or for one contract;
* a task may be acted on by holders of its lane's role for the task's contract, plus the
  candidates the engine added (escalation targets, substitutes);
* a substitute, for the days of the substitution, acts on and sees what the absent person's
  contract and department roles and city-wide lane roles give (never their administrator,
  auditor or process owner roles);
* records of a contract are visible to anyone holding any role on it (filing a request gives
  nothing of its own: withdrawn roles take the person's requests with them); roles marked
  ``sees_all`` (auditor, administrator, information policy division) held globally see
  every contract. Anything else is answered with 404, never with a hint that it exists.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import sqlalchemy as sa
from flask import g, has_request_context

from . import clock
from .engine.calendar import to_tokyo
from .extensions import db
from .models import Contract, HumanTask, ProcessInstance, RoleGrant, Substitute, TaskCandidate, User
from .models.identity import CONTRACT, DEPARTMENT, GLOBAL
from .models.workflow import OPEN
from .roles import CITY, LANE_ROLES, ROLES


@dataclass
class Scope:
    """A user's grants, loaded once per request.

    ``global_roles``, ``department_roles`` and ``contract_roles`` are the user's own (what
    they may start, the menu). The ``acting_*`` fields and ``contracts``/``departments`` add
    what the people they substitute for today pass on: their contract and department roles
    and their city-wide lane roles, never a global role outside the lanes (administrator,
    auditor, process owner).
    """

    user_id: int
    global_roles: set[str] = field(default_factory=set)
    department_roles: dict[str, set[int]] = field(default_factory=dict)
    contract_roles: dict[str, set[int]] = field(default_factory=dict)
    acting_global: set[str] = field(default_factory=set)
    acting_departments: dict[str, set[int]] = field(default_factory=dict)
    acting_contracts: dict[str, set[int]] = field(default_factory=dict)
    # Contracts and departments whose records the user sees (own roles and principals').
    contracts: set[int] = field(default_factory=set)
    departments: set[int] = field(default_factory=set)
    substituting_for: set[int] = field(default_factory=set)
    # Open tasks the user (or a principal they substitute for) was added to personally.
    candidate_tasks: set[int] = field(default_factory=set)

    @property
    def sees_all(self) -> bool:
        """Global ``sees_all`` roles, and global *city* lane roles (a city-wide approver acts
        everywhere, and so does their substitute); a contractor role is never city-wide."""
        return any(r in ROLES and (ROLES[r].sees_all or (r in LANE_ROLES and ROLES[r].side == CITY))
                   for r in self.acting_global)

    def has_role(self, role: str, contract: Contract | None = None) -> bool:
        if role in self.global_roles:
            return True
        if contract is None:
            return bool(self.department_roles.get(role) or self.contract_roles.get(role))
        return contract.id in self.contract_roles.get(role, set()) or \
            contract.department_id in self.department_roles.get(role, set())

    def roles_on(self, contract: Contract) -> set[str]:
        roles = set(self.global_roles)
        roles |= {r for r, ids in self.contract_roles.items() if contract.id in ids}
        roles |= {r for r, ids in self.department_roles.items() if contract.department_id in ids}
        return roles


def scope_for(user: User) -> Scope:
    cached = g.get("_access_scope") if has_request_context() else None
    if cached is not None and cached.user_id == user.id:
        return cached
    scope = _load_scope(user.id)
    if has_request_context():
        g._access_scope = scope
    return scope


def _load_scope(user_id: int) -> Scope:
    """One query, however many people the user substitutes for: who they stand in for today,
    the grants of all of them, and the open tasks any of them was added to."""
    scope = Scope(user_id)
    today = to_tokyo(clock.now()).date()
    for kind, ref, role, grant_scope, department_id, contract_id in db.session.execute(
            _scope_query(), {"user_id": user_id, "today": today}):
        if kind == _PRINCIPAL:
            scope.substituting_for.add(ref)
        elif kind == _CANDIDATE:
            scope.candidate_tasks.add(ref)
        else:
            _add_grant(scope, ref == user_id, role, grant_scope, department_id, contract_id)
    return scope


def _add_grant(scope: Scope, own: bool, role: str, grant_scope: str, department_id: int | None,
               contract_id: int | None) -> None:
    """A grant of the user's own, or of a person they substitute for (who passes on less)."""
    if grant_scope == GLOBAL:
        if own:
            scope.global_roles.add(role)
        if own or role in LANE_ROLES:
            scope.acting_global.add(role)
    elif grant_scope == DEPARTMENT and department_id is not None:
        if own:
            scope.department_roles.setdefault(role, set()).add(department_id)
        scope.acting_departments.setdefault(role, set()).add(department_id)
        scope.departments.add(department_id)
    elif grant_scope == CONTRACT and contract_id is not None:
        if own:
            scope.contract_roles.setdefault(role, set()).add(contract_id)
        scope.acting_contracts.setdefault(role, set()).add(contract_id)
        scope.contracts.add(contract_id)


# Queries every request (or every mail) runs are built once, with parameters: building a
# SQLAlchemy statement costs several times more than running it, on every call.

_PRINCIPAL, _GRANT, _CANDIDATE = "p", "g", "t"


@cache
def _scope_query() -> sa.CompoundSelect:
    """Rows ``(kind, ref, role, scope, department_id, contract_id)``: a person the user stands
    in for today (``ref`` their id), a grant of the user or of such a person (``ref`` its
    holder), an open task either was added to (``ref`` the task).

    The candidate tasks are loaded as a list: an "id IN (subquery)" OR-ed with the lane
    conditions keeps PostgreSQL from using the indexes, and every inbox query would scan all
    tasks. Open tasks only, so the list stays short; listings of closed tasks use a subquery.
    """
    user_id, today = sa.bindparam("user_id", type_=sa.Integer), sa.bindparam("today", type_=sa.Date)
    # The tables' columns, not the classes' attributes: rows of ids, no objects, so nothing for
    # the ORM to do (every request runs this).
    sub, grant = Substitute.__table__.c, RoleGrant.__table__.c
    candidates, tasks = TaskCandidate.__table__, HumanTask.__table__
    standing_in = (sub.to_user_id == user_id, sub.starts_on <= today, sub.ends_on >= today)
    # The user and whoever they stand in for, as one IN (...): each lookup stays on its index.
    people = sa.union_all(sa.select(user_id), sa.select(sub.from_user_id).where(*standing_in))
    text, number = sa.cast(sa.null(), sa.String), sa.cast(sa.null(), sa.Integer)

    def kind(name: str) -> sa.ColumnElement[str]:
        return sa.literal_column(f"'{name}'", sa.String).label("kind")

    return sa.union_all(
        sa.select(kind(_PRINCIPAL), sub.from_user_id, text, text, number, number).where(*standing_in),
        sa.select(kind(_GRANT), grant.user_id, grant.role, grant.scope, grant.department_id,
                  grant.contract_id).where(grant.user_id.in_(people)),
        # From the person's candidacies (their index holds the task ids), each checked open
        # with EXISTS: joined to the open tasks, SQLite without planner statistics (a new or
        # freshly migrated database, until the worker's first daily ANALYZE) walked every open
        # task to find them, 12 ms on every request at 100,000 open tasks.
        sa.select(kind(_CANDIDATE), candidates.c.human_task_id, text, text, number, number)
        .where(candidates.c.user_id.in_(people),
               sa.select(tasks.c.id).where(tasks.c.id == candidates.c.human_task_id, tasks.c.status == OPEN).exists()),
    )


# --- contracts and instances -------------------------------------------------------------

def contract_filter(user: User, column: sa.ColumnElement = Contract.id) -> sa.ColumnElement[bool]:
    """A WHERE clause restricting ``column`` (a contract id) to contracts the user may see."""
    scope = scope_for(user)
    if scope.sees_all:
        return sa.true()
    clauses: list[sa.ColumnElement[bool]] = []
    if scope.contracts:
        clauses.append(column.in_(scope.contracts))
    if scope.departments:
        clauses.append(column.in_(sa.select(Contract.id).where(Contract.department_id.in_(scope.departments))))
    return sa.or_(*clauses) if clauses else sa.false()


def can_see_contract(user: User, contract: Contract) -> bool:
    """Roles on the contract, or (while substituting) the principal's: the rule of :func:`contract_filter`."""
    scope = scope_for(user)
    return scope.sees_all or contract.id in scope.contracts or contract.department_id in scope.departments


def can_see_instance(user: User, instance: ProcessInstance) -> bool:
    """Roles on the contract, or a candidate the engine added. Having filed the request is not
    enough: someone whose roles on the contract were withdrawn (left the project, moved on)
    no longer sees its requests, their own included."""
    if can_see_contract(user, instance.contract):
        return True
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(TaskCandidate).join(HumanTask)
        .where(HumanTask.instance_id == instance.id, TaskCandidate.user_id == user.id)
    ) > 0


# Global roles that see every contract (the rule of Scope.sees_all for a person's own roles).
_SEEING_GLOBAL = frozenset(r for r, role in ROLES.items() if role.sees_all or (r in LANE_ROLES and role.side == CITY))


def still_sees(user_id: int, instance: ProcessInstance) -> bool:
    """:func:`can_see_instance` for someone other than the request's current user, in one query
    and without touching that user's cached scope: mail uses it for the requester, whose roles
    may have been withdrawn since filing. A role on the contract or its department, a global
    role that sees everything, or a candidate on one of its tasks (substitution is left out:
    nobody is mailed as a substitute)."""
    return bool(db.session.scalar(_still_sees_query(), {
        "user_id": user_id, "contract_id": instance.contract_id,
        "department_id": instance.contract.department_id, "instance_id": instance.id}))


@cache
def _still_sees_query() -> sa.Select:
    user_id = sa.bindparam("user_id")
    grant, candidates, tasks = RoleGrant.__table__.c, TaskCandidate.__table__, HumanTask.__table__
    holder = sa.select(grant.id).where(
        grant.user_id == user_id,
        sa.or_(sa.and_(grant.scope == GLOBAL, grant.role.in_(sorted(_SEEING_GLOBAL))),
               sa.and_(grant.scope == CONTRACT, grant.contract_id == sa.bindparam("contract_id")),
               sa.and_(grant.scope == DEPARTMENT, grant.department_id == sa.bindparam("department_id"))))
    candidate = sa.select(candidates.c.id).join(tasks).where(
        candidates.c.user_id == user_id, tasks.c.instance_id == sa.bindparam("instance_id"))
    return sa.select(sa.or_(holder.exists(), candidate.exists()))


def visible_contracts(user: User) -> list[Contract]:
    return list(db.session.scalars(sa.select(Contract).where(contract_filter(user)).order_by(Contract.number)))


# --- tasks --------------------------------------------------------------------------------

def actionable_task_filter(user: User, *, closed: bool = False) -> sa.ColumnElement[bool]:
    """Tasks the user may act on: lane role on the task's contract, or an added candidate.

    ``closed``: the clause must also match done and cancelled tasks (the "completed" listing),
    which the open-only candidate list in the scope does not cover.
    """
    scope = scope_for(user)
    clauses: list[sa.ColumnElement[bool]] = []
    if scope.acting_global:
        clauses.append(HumanTask.lane.in_(scope.acting_global))
    for role, ids in scope.acting_contracts.items():
        clauses.append(sa.and_(HumanTask.lane == role, HumanTask.contract_id.in_(ids)))
    for role, ids in scope.acting_departments.items():
        clauses.append(sa.and_(HumanTask.lane == role, HumanTask.department_id.in_(ids)))
    if closed:
        clauses.append(HumanTask.id.in_(sa.select(TaskCandidate.human_task_id).where(
            TaskCandidate.user_id.in_([scope.user_id, *scope.substituting_for]))))
    elif scope.candidate_tasks:
        clauses.append(HumanTask.id.in_(sorted(scope.candidate_tasks)))
    return sa.or_(*clauses) if clauses else sa.false()


def visible_task_filter(user: User, *, closed: bool = False) -> sa.ColumnElement[bool]:
    """Tasks the user may look at: actionable ones, plus every task of contracts they see."""
    return sa.or_(actionable_task_filter(user, closed=closed), contract_filter(user, HumanTask.contract_id))


def can_act_on(user: User, task: HumanTask) -> bool:
    """The same rule as :func:`actionable_task_filter`, for one loaded open task, without a query."""
    scope = scope_for(user)
    return (task.id in scope.candidate_tasks or task.lane in scope.acting_global
            or task.contract_id in scope.acting_contracts.get(task.lane, ())
            or task.department_id in scope.acting_departments.get(task.lane, ()))


def can_see_task(user: User, task: HumanTask) -> bool:
    return can_act_on(user, task) or can_see_instance(user, task.instance)


def role_holders(role: str, contract: Contract) -> list[User]:
    """Active users holding ``role`` for ``contract``."""
    return list(db.session.scalars(_role_holders_query(), _holder_params(role, contract)))


def candidates(task: HumanTask) -> list[User]:
    """Everyone who may act on the task: for notifications and escalation."""
    contract = db.session.get(Contract, task.contract_id)
    return list(db.session.scalars(_candidates_query(), {**_holder_params(task.lane, contract), "task_id": task.id}))


def _holder_params(role: str, contract: Contract) -> dict[str, object]:
    return {"role": role, "contract_id": contract.id, "department_id": contract.department_id}


def _holders() -> sa.Select:
    """Ids of those holding ``:role`` globally, for ``:contract_id`` or for its ``:department_id``."""
    return sa.select(RoleGrant.user_id).where(
        RoleGrant.role == sa.bindparam("role"),
        sa.or_(
            RoleGrant.scope == GLOBAL,
            sa.and_(RoleGrant.scope == CONTRACT, RoleGrant.contract_id == sa.bindparam("contract_id")),
            sa.and_(RoleGrant.scope == DEPARTMENT, RoleGrant.department_id == sa.bindparam("department_id")),
        ),
    )


@cache
def _role_holders_query() -> sa.Select:
    return sa.select(User).where(User.id.in_(_holders()), User.active.is_(True)).order_by(User.id)


@cache
def _candidates_query() -> sa.Select:
    added = sa.select(TaskCandidate.user_id).where(TaskCandidate.human_task_id == sa.bindparam("task_id"))
    return (sa.select(User).where(sa.or_(User.id.in_(_holders()), User.id.in_(added)), User.active.is_(True))
            .order_by(User.id))


# --- starting requests ---------------------------------------------------------------------

def can_start(user: User, starters: list[str], contract: Contract) -> bool:
    scope = scope_for(user)
    return any(scope.has_role(role, contract) for role in starters)
