"""Creating users and granting roles (CLI, demo, admin)."""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from . import audit
from .auth.passwords import hash_password, policy_problems
from .extensions import db
from .models import Contract, Organization, RoleGrant, Substitute, User
from .models.identity import CONTRACT, DEPARTMENT, GLOBAL
from .roles import CONTRACTOR, ROLES


class AccountError(ValueError):
    pass


def parse_grant(spec: str) -> tuple[str, str, int | None, int | None]:
    """``ROLE``, ``ROLE@dept:CODE`` or ``ROLE@contract:NUMBER`` -> (role, scope, department_id, contract_id)."""
    role, _, target = spec.partition("@")
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}; known: {', '.join(sorted(ROLES))}")
    if not target:
        if ROLES[role].side == CONTRACTOR:
            raise AccountError(f"{role} is a contractor role: grant it for a contract (ROLE@contract:NUMBER)")
        return role, GLOBAL, None, None
    kind, _, ref = target.partition(":")
    if kind == "dept":
        org = db.session.scalar(sa.select(Organization).where(Organization.code == ref))
        if org is None:
            raise AccountError(f"no department with code {ref!r}")
        return role, DEPARTMENT, org.id, None
    if kind == "contract":
        contract = db.session.scalar(sa.select(Contract).where(Contract.number == ref))
        if contract is None:
            raise AccountError(f"no contract numbered {ref!r}")
        return role, CONTRACT, None, contract.id
    raise AccountError(f"bad role target {target!r}: use dept:CODE or contract:NUMBER")


def grant(user: User, role: str, scope: str, department_id: int | None = None, contract_id: int | None = None) -> RoleGrant:
    existing = db.session.scalar(sa.select(RoleGrant).where(
        RoleGrant.user_id == user.id, RoleGrant.role == role, RoleGrant.scope == scope,
        RoleGrant.department_id.is_(department_id) if department_id is None else RoleGrant.department_id == department_id,
        RoleGrant.contract_id.is_(contract_id) if contract_id is None else RoleGrant.contract_id == contract_id))
    if existing is not None:
        return existing
    row = RoleGrant(user_id=user.id, role=role, scope=scope, department_id=department_id, contract_id=contract_id)
    db.session.add(row)
    db.session.flush()
    audit.record("role_granted", actor_id=None, contract_id=contract_id,
                 detail={"user": user.username, "role": role, "scope": scope, "department_id": department_id})
    return row


def create_user(username: str, display_name: str, password: str, *, email: str = "", org_code: str | None = None,
                roles: tuple[str, ...] | list[str] = (), locale: str = "ja", check_policy: bool = True) -> User:
    username = username.strip()
    if not username or len(username) > 80 or not username.replace("_", "").replace("-", "").replace(".", "").isalnum():
        raise AccountError("a user name is 1-80 letters, digits, '.', '_' or '-'")
    if db.session.scalar(sa.select(User).where(User.username == username)) is not None:
        raise AccountError(f"user {username!r} already exists")
    if check_policy:
        problems = policy_problems(password, username)
        if problems:
            raise AccountError(" ".join(problems))
    org = None
    if org_code:
        org = db.session.scalar(sa.select(Organization).where(Organization.code == org_code))
        if org is None:
            raise AccountError(f"no organization with code {org_code!r}")
    grants = [parse_grant(spec) for spec in roles]  # all refusals before anything is written
    user = User(username=username, display_name=display_name, email=email, password_hash=hash_password(password),
                organization_id=org.id if org else None, locale=locale)
    db.session.add(user)
    db.session.flush()
    for role, scope, department_id, contract_id in grants:
        grant(user, role, scope, department_id, contract_id)
    audit.record("user_created", actor_id=None, detail={"user": username})
    return user


def add_substitute(absent: User, substitute: User, starts_on: date, ends_on: date) -> Substitute:
    """``substitute`` may act on ``absent``'s tasks and see what they see, for the period."""
    if absent.id == substitute.id:
        raise AccountError("a person cannot substitute for themselves")
    if ends_on < starts_on:
        raise AccountError("the period ends before it starts")
    row = Substitute(from_user_id=absent.id, to_user_id=substitute.id, starts_on=starts_on, ends_on=ends_on)
    db.session.add(row)
    db.session.flush()
    audit.record("substitute_added", actor_id=None, detail={
        "absent": absent.username, "substitute": substitute.username, "from": starts_on.isoformat(),
        "until": ends_on.isoformat()})
    return row
