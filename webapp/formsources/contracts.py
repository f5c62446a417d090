"""Options forms draw from the registers, always for one contract (``x-source``).

Because the options are the contract's own, a value from another contract is refused by
validation like any value outside an enum.
"""
from __future__ import annotations

from functools import cache

import sqlalchemy as sa
import sqlalchemy.orm as so

from ..extensions import db
from ..formschema import FormContext, Options, source
from ..models import Asset, RoleGrant, User
from ..models.identity import CONTRACT
from .subcontractors import approved_subcontractors

CONTRACTOR_ROLES = ("contractor_staff", "contractor_manager")


@source("assets")
def assets(ctx: FormContext) -> Options:
    rows = db.session.scalars(_assets_query(), {"contract_id": ctx.contract.id})
    return [(a.id, f"{a.code} {a.name}" + (f"（{a.classification}）" if a.classification else "")) for a in rows]


@source("handlers")
def handlers(ctx: FormContext) -> Options:
    """Staff registered on the contract, then approved subcontractors (Art. 10)."""
    staff = db.session.scalars(_staff_query(), {"contract_id": ctx.contract.id})
    options: Options = [(f"user:{u.username}", u.display_name + (f"（{u.organization.name}）" if u.organization else ""))
                        for u in staff]
    return options + approved_subcontractors(ctx)


# Built once: every request form that names assets or handlers reads them, to show and to validate.

@cache
def _assets_query() -> sa.Select:
    return sa.select(Asset).where(Asset.contract_id == sa.bindparam("contract_id")).order_by(Asset.code)


@cache
def _staff_query() -> sa.Select:
    return (sa.select(User).join(RoleGrant, RoleGrant.user_id == User.id)
            .where(RoleGrant.scope == CONTRACT, RoleGrant.contract_id == sa.bindparam("contract_id"),
                   RoleGrant.role.in_(CONTRACTOR_ROLES), User.active.is_(True))
            .distinct().order_by(User.id).options(so.joinedload(User.organization)))  # each names their company
