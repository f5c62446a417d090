"""The copy register (Art. 3(2)): consented copies, to be destroyed at contract end (Art. 5)."""
from __future__ import annotations

from datetime import date
from functools import cache
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from webapp.models import CopyRecord

from . import Context, handler
from ._guards import require_approval, require_contract_assets


@handler("register_copy")
def register_copy(ctx: Context, assets: list[int], copies: int, medium: str, location: str,
                  handlers: list[Any], destruction_due: str, purpose: str = "") -> dict[str, Any]:
    """Enter an approved copy in the register, linked to its written consent.

    Refuses to register without a decision record: the diagram must put this step after
    the city's approval, and the guardrail checks that it does.
    """
    require_approval(ctx, _l("A copy can only be registered after the city's written consent."))
    require_contract_assets(ctx, assets)
    record_id = ctx.session.execute(_insert(), dict(
        contract_id=ctx.instance.contract_id, instance_id=ctx.instance.id, decision_number=ctx.decision.number,
        asset_ids=list(assets), description=purpose, copies=int(copies), medium=medium, location=location,
        handlers=list(handlers), destruction_due=date.fromisoformat(destruction_due),
    )).scalar_one()
    ctx.audit("copy_registered", {"copy_record": record_id, "decision": ctx.decision.number})
    return {"copy_record_id": record_id}


@cache
def _insert() -> sa.Insert:
    """A row to write and its id: no object for the session to track (built once; the table's
    column, not the class's attribute, keeps the statement out of the ORM's machinery)."""
    return sa.insert(CopyRecord.__table__).returning(CopyRecord.__table__.c.id)
