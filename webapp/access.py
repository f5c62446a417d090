"""Who may see and do what, by role *and* by contract (DESIGN rule 7).

Every query that returns tasks, instances, records or files filters through here. The
rules, in one place:

* a role is held globally, for a city department (covering that department's contracts),
  or for one contract;
* a task may be acted on by holders of its lane's role for the task's contract, plus the
  candidates the engine added (escalation targets, substitutes);
* records of a contract are visible to anyone holding any role on it; roles marked
  ``sees_all`` (auditor, administrator, information policy division) held globally see
  every contract. Anything else is answered with 404, never with a hint that it exists.
"""
from __future__ import annotations

from dataclasses import dataclass, field
import sqlalchemy as sa
from flask import g, has_request_context

from . import clock
from .engine.calendar import to_tokyo
from .extensions import db
from .models import Contract, HumanTask, ProcessInstance, RoleGrant, Substitute, TaskCandidate, User
from .models.identity import CONTRACT, DEPARTMENT, GLOBAL
from .roles import CITY, LANE_ROLES, ROLES


@dataclass
class Scope:
    """A user's grants, loaded once per request."""

    user_id: int
    global_roles: set[str] = field(default_factory=set)
    department_roles: dict[str, set[int]] = field(default_factory=dict)
    contract_roles: dict[str, set[int]] = field(default_factory=dict)
    # contract id -> department id, for every contract the user holds a role on
    contracts: set[int] = field(default_factory=set)
    departments: set[int] = field(default_factory=set)
    substituting_for: set[int] = field(default_factory=set)
    # Tasks the user (or a principal they substitute for) was added to personally.
    candidate_tasks: set[int] = field(default_factory=set)

    @property
    def sees_all(self) -> bool:
        """Global ``sees_all`` roles, and global *city* lane roles (a city-wide approver acts
        everywhere); a contractor role is never city-wide."""
        return any(r in ROLES and (ROLES[r].sees_all or (r in LANE_ROLES and ROLES[r].side == CITY))
                   for r in self.global_roles)

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
    scope = Scope(user_id)
    for grant in db.session.scalars(sa.select(RoleGrant).where(RoleGrant.user_id == user_id)):
        if grant.scope == GLOBAL:
            scope.global_roles.add(grant.role)
        elif grant.scope == DEPARTMENT and grant.department_id is not None:
            scope.department_roles.setdefault(grant.role, set()).add(grant.department_id)
            scope.departments.add(grant.department_id)
        elif grant.scope == CONTRACT and grant.contract_id is not None:
            scope.contract_roles.setdefault(grant.role, set()).add(grant.contract_id)
            scope.contracts.add(grant.contract_id)
    today = to_tokyo(clock.now()).date()
    scope.substituting_for = set(db.session.scalars(
        sa.select(Substitute.from_user_id).where(
            Substitute.to_user_id == user_id, Substitute.starts_on <= today, Substitute.ends_on >= today)
    ))
    # Loaded once as a list: an "id IN (subquery)" OR-ed with the lane conditions keeps
    # PostgreSQL from using the indexes, and every inbox query would scan all tasks.
    scope.candidate_tasks = set(db.session.scalars(
        sa.select(TaskCandidate.human_task_id).where(TaskCandidate.user_id.in_([user_id, *scope.substituting_for]))))
    return scope


def reset() -> None:
    """Forget the cached scope (after grants change within a request)."""
    if has_request_context():
        g.pop("_access_scope", None)


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


def _sees_contract(scope: Scope, contract: Contract) -> bool:
    return scope.sees_all or contract.id in scope.contracts or contract.department_id in scope.departments


def can_see_contract(user: User, contract: Contract) -> bool:
    """Roles on the contract, or (while substituting) the principal's."""
    scope = scope_for(user)
    return _sees_contract(scope, contract) or any(
        _sees_contract(_load_scope(principal), contract) for principal in scope.substituting_for)


def can_see_instance(user: User, instance: ProcessInstance) -> bool:
    if instance.requester_id == user.id:
        return True
    if can_see_contract(user, instance.contract):
        return True
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(TaskCandidate).join(HumanTask)
        .where(HumanTask.instance_id == instance.id, TaskCandidate.user_id == user.id)
    ) > 0


def visible_contracts(user: User) -> list[Contract]:
    return list(db.session.scalars(sa.select(Contract).where(contract_filter(user)).order_by(Contract.number)))


# --- tasks --------------------------------------------------------------------------------

def actionable_task_filter(user: User) -> sa.ColumnElement[bool]:
    """Tasks the user may complete: lane role on the task's contract, or an added candidate."""
    scope = scope_for(user)
    clauses: list[sa.ColumnElement[bool]] = []
    if scope.global_roles:
        clauses.append(HumanTask.lane.in_(scope.global_roles))
    for role, ids in scope.contract_roles.items():
        clauses.append(sa.and_(HumanTask.lane == role, HumanTask.contract_id.in_(ids)))
    for role, ids in scope.department_roles.items():
        clauses.append(sa.and_(HumanTask.lane == role, HumanTask.department_id.in_(ids)))
    if scope.candidate_tasks:
        clauses.append(HumanTask.id.in_(sorted(scope.candidate_tasks)))
    if scope.substituting_for:
        clauses.append(_substitute_clause(scope))
    return sa.or_(*clauses) if clauses else sa.false()


def _substitute_clause(scope: Scope) -> sa.ColumnElement[bool]:
    """A substitute acts on the tasks their principals could act on."""
    clauses = []
    for principal in scope.substituting_for:
        p_scope = _load_scope(principal)
        for role, ids in p_scope.contract_roles.items():
            clauses.append(sa.and_(HumanTask.lane == role, HumanTask.contract_id.in_(ids)))
        for role, ids in p_scope.department_roles.items():
            clauses.append(sa.and_(HumanTask.lane == role, HumanTask.department_id.in_(ids)))
        if p_scope.global_roles:
            clauses.append(HumanTask.lane.in_(p_scope.global_roles))
    return sa.or_(*clauses) if clauses else sa.false()


def visible_task_filter(user: User) -> sa.ColumnElement[bool]:
    """Tasks the user may look at: actionable ones, plus every task of contracts they see."""
    return sa.or_(actionable_task_filter(user), contract_filter(user, HumanTask.contract_id))


def _lane_allows(scope: Scope, task: HumanTask) -> bool:
    return (task.lane in scope.global_roles or task.contract_id in scope.contract_roles.get(task.lane, ())
            or task.department_id in scope.department_roles.get(task.lane, ()))


def can_act_on(user: User, task: HumanTask) -> bool:
    """The same rule as :func:`actionable_task_filter`, for one loaded task, without a query."""
    scope = scope_for(user)
    if task.id in scope.candidate_tasks or _lane_allows(scope, task):
        return True
    return any(_lane_allows(_load_scope(principal), task) for principal in scope.substituting_for)


def can_see_task(user: User, task: HumanTask) -> bool:
    return can_act_on(user, task) or can_see_instance(user, task.instance)


def _holders(role: str, contract: Contract) -> sa.Select:
    return sa.select(RoleGrant.user_id).where(
        RoleGrant.role == role,
        sa.or_(
            RoleGrant.scope == GLOBAL,
            sa.and_(RoleGrant.scope == CONTRACT, RoleGrant.contract_id == contract.id),
            sa.and_(RoleGrant.scope == DEPARTMENT, RoleGrant.department_id == contract.department_id),
        ),
    )


def role_holders(role: str, contract: Contract) -> list[User]:
    """Active users holding ``role`` for ``contract``."""
    return list(db.session.scalars(
        sa.select(User).where(User.id.in_(_holders(role, contract)), User.active.is_(True)).order_by(User.id)))


def candidates(task: HumanTask) -> list[User]:
    """Everyone who may act on the task: for notifications and escalation."""
    holders = _holders(task.lane, db.session.get(Contract, task.contract_id))
    added = sa.select(TaskCandidate.user_id).where(TaskCandidate.human_task_id == task.id)
    return list(db.session.scalars(
        sa.select(User).where(sa.or_(User.id.in_(holders), User.id.in_(added)), User.active.is_(True))
        .order_by(User.id)
    ))


# --- starting requests ---------------------------------------------------------------------

def can_start(user: User, starters: list[str], contract: Contract) -> bool:
    scope = scope_for(user)
    return any(scope.has_role(role, contract) for role in starters)
