"""Refusals several register handlers share (not a handler module: nothing here is registered).

Each handler re-checks what its register entry stands on, so a diagram edited to skip a
step still cannot write a record the provisions forbid. Callers pass their own message
where the refusal names what their register needed.
"""
from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any, TypeVar

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from webapp.models import Asset

from . import Context, HandlerError

Row = TypeVar("Row")


def require_approval(ctx: Context, message: Any) -> Any:
    """The decision just recorded, if it approves; otherwise refuse with ``message``."""
    if ctx.decision is None or ctx.decision.outcome != "approve":
        raise HandlerError(message)
    return ctx.decision


def require_contract_assets(ctx: Context, assets: Iterable[int]) -> None:
    """Refuse unless every asset id is in the register of the instance's own contract."""
    wanted = set(assets)
    known = set(ctx.session.scalars(_contract_assets(), {"contract_id": ctx.instance.contract_id, "ids": wanted}))
    if known != wanted:
        raise HandlerError(_l("The request names assets that are not in this contract's register."))


@cache
def _contract_assets() -> sa.Select:
    """Built once (every register entry checks its assets), on the table's columns: ids to
    compare, no objects, so nothing for the ORM to do."""
    asset = Asset.__table__.c
    return sa.select(asset.id).where(asset.contract_id == sa.bindparam("contract_id"),
                                     asset.id.in_(sa.bindparam("ids", expanding=True)))


def register_row(ctx: Context, model: type[Row], message: Any) -> Row:
    """The instance's own row of the register ``model``, or a refusal with ``message``."""
    row = ctx.session.scalar(sa.select(model).where(model.instance_id == ctx.instance.id))  # type: ignore[attr-defined]
    if row is None:
        raise HandlerError(message)
    return row
