"""Approved subcontractors as people who may handle a contract's assets (Art. 10).

Forms that ask who handles assets (``x-source: handlers``) offer, besides the contract's
staff, the subcontractors this register holds: approved, on this contract, and inside
their approved period today (Tokyo date, by the app's clock). Because validation turns
the options into the field's ``enum``, work by any other subcontractor (unregistered,
another contract's, expired or ended) cannot be recorded anywhere in the app.
"""
from __future__ import annotations

from functools import cache

import sqlalchemy as sa

from .. import clock
from ..engine.calendar import to_tokyo
from ..extensions import db
from ..formschema import FormContext, Options
from ..models.subcontractors import APPROVED, Subcontractor


def approved_subcontractors(ctx: FormContext) -> Options:
    """``("sub:<id>", "<company>（再委託先）")`` for each subcontractor covering today."""
    today = to_tokyo(clock.now()).date()
    rows = db.session.execute(_approved_query(), {"contract_id": ctx.contract.id, "today": today})
    return [(Subcontractor.handler_key_of(row.id), f"{row.company}（再委託先）") for row in rows]


@cache
def _approved_query() -> sa.Select:
    """Built once: the handlers of every copy or bring-in request are checked against it. The
    two columns an option shows, from the table: no objects for the session to build."""
    sub = Subcontractor.__table__.c
    return (sa.select(sub.id, sub.company)
            .where(sub.contract_id == sa.bindparam("contract_id"), sub.status == APPROVED,
                   sub.starts_on <= sa.bindparam("today"), sub.ends_on >= sa.bindparam("today"))
            .order_by(sub.id))
